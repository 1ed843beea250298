//! `pam_apitoken.so` through real libpam: `pamtester` under pam_wrapper, so the service
//! file comes from a temp directory and nothing under /etc/pam.d is touched. The stack is
//! the shipped `packaging/pam/sshd.example`, with `pam_matrix.so` standing in for
//! `pam_unix.so` as the password module.
//!
//! Every secret is typed twice: if the module wrongly let a refused secret fall through,
//! `pam_matrix` (whose database sometimes holds that very secret) would read the second
//! copy and accept it, and the test would fail.
//!
//! This file covers the shipped stack; `stacks` covers other stack shapes and the module
//! binary itself.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod stacks;

use std::os::unix::net::UnixListener;
use std::time::Duration;

use common::tokens::{forged_token, token_id};
use common::Daemon;
use harness::Outcome::*;
use harness::{Outcome, Pam, SERVICE};

#[test]
fn pam_valid_token_succeeds() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
    let line = daemon.wait_syslog(&[
        "event=auth.success",
        "via=pam",
        &format!("service={SERVICE}"),
    ]);
    assert!(
        line.contains("192.0.2.10") && line.contains(token_id(&token)),
        "{line}"
    );
    daemon.assert_syslog_free_of(&token[13..]);
}

#[test]
fn pam_token_of_other_user_fails_without_fallback() {
    let daemon = Daemon::start();
    let bobs = daemon.create_token("bob");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &bobs)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &bobs), AuthErr);
    assert_eq!(pam.auth("bob", Some("192.0.2.10"), &bobs), Success);
}

#[test]
fn pam_unknown_token_fails_without_fallback() {
    let daemon = Daemon::start();
    daemon.create_token("alice");
    let forged = forged_token("Zz9Zz9Zz");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &forged)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &forged), AuthErr);
}

#[test]
fn pam_token_with_bad_checksum_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let mut mangled = token.clone().into_bytes();
    mangled[20] = if mangled[20] == b'a' { b'b' } else { b'a' };
    let mangled = String::from_utf8(mangled).unwrap();
    // A mistyped token is token-shaped (SPEC section 8): the module refuses it itself
    // instead of handing it to the password modules, which here would accept it.
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &mangled)]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), &mangled),
        AuthErr,
        "a token with a bad checksum fell through to the password module"
    );
}

#[test]
fn pam_password_with_password_auth_on_falls_through_to_password_module() {
    let daemon = Daemon::start();
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), "correct horse"),
        Success
    );
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), "wrong horse"),
        AuthErr
    );
    assert_eq!(pam.auth("alice", None, "correct horse"), Success);
}

#[test]
fn pam_password_with_password_auth_off_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    daemon.cli_ok(&["settings", "set", "password-auth", "off"]);
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), "correct horse"),
        AuthErr
    );
    assert_eq!(pam.auth("alice", None, "correct horse"), AuthErr);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
}

#[test]
fn pam_rhost_against_allowed_networks_matches_table() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    daemon.cli_ok(&["allow-ip", "add", "192.0.2.0/24", "2001:db8::/32"]);
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    let table: [(Option<&str>, &str, Outcome); 9] = [
        (Some("192.0.2.10"), &token, Success),
        (Some("2001:db8::5"), &token, Success),
        (Some("198.51.100.7"), &token, AuthErr),
        (Some("host.example.com"), &token, AuthErr),
        (None, &token, Success),
        (Some("192.0.2.10"), "correct horse", Success),
        (Some("198.51.100.7"), "correct horse", AuthErr),
        (Some("host.example.com"), "correct horse", AuthErr),
        (None, "correct horse", Success),
    ];
    for (rhost, secret, expected) in table {
        let kind = if secret == token { "token" } else { "password" };
        assert_eq!(
            pam.auth("alice", rhost, secret),
            expected,
            "rhost {rhost:?} with {kind}"
        );
    }
}

#[test]
fn pam_revoked_token_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &token)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
    daemon.cli_ok(&["delete", token_id(&token)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), AuthErr);
}

#[test]
fn pam_locked_user_fails_even_with_valid_token() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    daemon.cli_ok(&["settings", "set", "lockout-threshold", "2"]);
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    // Forged tokens never count towards the owner (SPEC §13); wrong passwords checked by
    // the daemon (here through http.sock) do, and lock every front end.
    let forged = forged_token(token_id(&token));
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &forged), AuthErr);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &forged), AuthErr);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
    for guess in ["guess1", "guess2"] {
        let resp = common::http::unix_request(
            &daemon.http_sock(),
            "GET",
            "/auth",
            &[(
                "Authorization",
                &common::tokens::basic(b"alice", guess.as_bytes()),
            )],
            b"",
        );
        assert_eq!(resp.status, 401, "{guess}");
    }
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), AuthErr);
}

#[test]
fn pam_daemon_down_fails_fast_without_fallback() {
    let mut daemon = Daemon::start();
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    daemon.kill();
    let (outcome, took) = pam.run(
        "alice",
        Some("192.0.2.10"),
        "correct horse\ncorrect horse\n",
        1,
        &[],
    );
    assert_eq!(outcome, Unavail);
    assert!(took < Duration::from_secs(3), "refusing took {took:?}");
}

#[test]
fn pam_silent_daemon_fails_within_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("check.sock");
    // Bound but never accepted: the connection succeeds and no answer ever comes.
    let _listener = UnixListener::bind(&socket).unwrap();
    let pam = Pam::shipped(&socket, 700, &[("alice", "correct horse")]);
    let (outcome, took) = pam.run(
        "alice",
        Some("192.0.2.10"),
        "correct horse\ncorrect horse\n",
        1,
        &[],
    );
    assert_eq!(outcome, Unavail);
    assert!(
        took >= Duration::from_millis(700),
        "gave up early: {took:?}"
    );
    assert!(took < Duration::from_millis(700 + 1500), "took {took:?}");
}

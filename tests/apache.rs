//! `apitoken-external` behind a real Apache httpd with mod_authnz_external, configured with
//! the shipped `packaging/apache/apitoken.conf` (see `apache_harness`), and the helper's
//! own hardening: it lets nobody in unless the daemon said so.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

mod apache_harness;
mod common;

use apache_harness::{Apache, Options};
use common::Daemon;

#[test]
fn apache_valid_token_is_200() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    assert_eq!(apache.get("/index.html", None), 200);
    assert_eq!(apache.get("/api/", None), 401);
    assert_eq!(
        apache.get("/api/", Some(("alice", &token))),
        200,
        "{}",
        apache.error_log()
    );
    let line = daemon.wait_syslog(&["event=auth.success", "via=external", "service=apache"]);
    assert!(
        line.contains("127.0.0.1") && line.contains(&token[4..12]),
        "{line}"
    );
    daemon.assert_syslog_free_of(&token[13..]);
    assert!(
        !apache.error_log().contains(&token[13..]),
        "secret in Apache's error log"
    );
}

#[test]
fn apache_refused_credentials_are_401() {
    let daemon = Daemon::start();
    let alices = daemon.create_token("alice");
    let bobs = daemon.create_token("bob");
    let apache = Apache::start(&daemon.check_sock());
    let bogus = format!("{}x{}", &alices[..20], &alices[21..]);
    assert_eq!(apache.get("/api/", Some(("alice", &bobs))), 401);
    assert_eq!(apache.get("/api/", Some(("alice", &bogus))), 401);
    assert_eq!(apache.get("/api/", Some(("alice", "not a token"))), 401);
    assert_eq!(
        apache.get("/api/", Some(("alice", &alices))),
        200,
        "{}",
        apache.error_log()
    );
}

#[test]
fn apache_address_outside_allowed_networks_is_401() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    daemon.cli_ok(&["allow-ip", "add", "192.0.2.0/24"]);
    assert_eq!(apache.get("/api/", Some(("alice", &token))), 401);
    daemon.wait_syslog(&["event=auth.failure", "via=external", "reason=ip_denied"]);
    daemon.cli_ok(&["allow-ip", "add", "127.0.0.0/8"]);
    assert_eq!(
        apache.get("/api/", Some(("alice", &token))),
        200,
        "{}",
        apache.error_log()
    );
}

#[test]
fn apache_revoked_token_is_401() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    assert_eq!(
        apache.get("/api/", Some(("alice", &token))),
        200,
        "{}",
        apache.error_log()
    );
    daemon.cli_ok(&["delete", common::tokens::token_id(&token)]);
    assert_eq!(apache.get("/api/", Some(("alice", &token))), 401);
}

#[test]
fn apache_daemon_down_is_401_and_logged() {
    let mut daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    daemon.kill();
    assert_eq!(apache.get("/api/", Some(("alice", &token))), 401);
    let log = apache.error_log();
    assert!(log.contains("cannot ask apitokend"), "{log}");
    assert!(!log.contains(&token[13..]), "secret in Apache's error log");
}

// ---- SPEC §13 "Nothing runs that was not asked for": the helper exits 0 only for an
// ---- allow verdict from the daemon and refuses input it was not meant to get.

#[test]
fn nothing_runs_that_was_not_asked_for_helper_with_help_or_version_appended_lets_nobody_in() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    for appended in ["--help", "--version", "--no-such-flag"] {
        let apache = Apache::start_with(
            &daemon.check_sock(),
            &Options {
                helper_args: appended,
                ..Options::default()
            },
        );
        for credentials in [("alice", token.as_str()), ("alice", "anything"), ("", "")] {
            assert_eq!(
                apache.get("/api/", Some(credentials)),
                401,
                "DefineExternalAuth with {appended} let {credentials:?} in: {}",
                apache.error_log()
            );
        }
        let log = apache.error_log();
        assert!(
            log.contains("Usage") || log.contains("error"),
            "{appended}: {log}"
        );
        assert!(!log.contains(&token[13..]), "secret in Apache's error log");
    }
}

#[test]
fn nothing_runs_that_was_not_asked_for_helper_refuses_user_name_with_newline() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    // mod_auth_basic splits at the first colon, so the user name carries the token and
    // mod_authnz_external writes `alice\n<token>\nx\n` to the helper.
    let smuggled = format!("alice\n{token}");
    for user in [
        smuggled.clone(),
        format!("alice\r{token}"),
        format!("alice\t{token}"),
    ] {
        let resp = apache.request_raw("GET", "/api/", Some((user.as_bytes(), b"x")), b"");
        assert_eq!(resp.status, 401, "{user:?}: {resp:?}");
        assert!(
            !resp.text().contains("behind apitoken"),
            "the page was served"
        );
    }
    // The application never saw a user. Apache's access log keeps the name it was sent
    // (`%u`, as for any refused login, escaped so it cannot forge log lines), never as
    // the user of a served request: docs/security.md says so.
    let access = apache.access_log();
    assert!(
        access
            .lines()
            .all(|l| l.starts_with("127.0.0.1 ") && l.ends_with(" 401")),
        "a smuggled user got in, or forged a log line:\n{access}"
    );
    let error = apache.error_log();
    assert!(
        error.contains("control character in the user name")
            || error.contains("more than two lines"),
        "{error}"
    );
    daemon.assert_syslog_free_of(&token[13..]);
    assert!(
        daemon
            .syslog_lines()
            .iter()
            .all(|l| !l.contains("event=auth.success")),
        "the daemon allowed something: {:#?}",
        daemon.syslog_lines()
    );
}

#[test]
fn nothing_runs_that_was_not_asked_for_helper_exits_0_only_on_allow() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let sock = daemon.check_sock();
    let ip = "192.0.2.10";
    let raw = |input: &[u8], args: &[&str]| common::run::external_raw(&sock, ip, None, input, args);
    let two_lines = format!("alice\n{token}\n");
    assert_eq!(
        raw(two_lines.as_bytes(), &[]),
        Some(0),
        "the baseline is allowed"
    );
    let cases: Vec<(String, &[&str])> = vec![
        (two_lines.clone(), &["--help"]),
        (two_lines.clone(), &["-h"]),
        (two_lines.clone(), &["--version"]),
        (two_lines.clone(), &["-V"]),
        (two_lines.clone(), &["--frobnicate"]),
        (two_lines.clone(), &["extra"]),
        (format!("{two_lines}more\n"), &[]),
        (format!("{two_lines}\n"), &[]),
        (format!("alice\r\n{token}\n"), &[]),
        (format!("ali\u{1b}ce\n{token}\n"), &[]),
        (format!("alice\u{85}\n{token}\n"), &[]),
    ];
    for (input, args) in cases {
        let code = raw(input.as_bytes(), args);
        assert!(
            matches!(code, Some(c) if c != 0),
            "exit {code:?} for {input:?} {args:?}"
        );
    }
    for context in ["raed", "READ", "write,read"] {
        let mut cmd = common::run::external_command(&sock, ip, None);
        cmd.env("CONTEXT", context);
        let out = common::run::run_with_input(&mut cmd, two_lines.as_bytes());
        assert_eq!(
            out.status.code(),
            Some(50),
            "AuthExternalContext {context:?}"
        );
        assert!(
            common::stderr(&out).contains("AuthExternalContext"),
            "{context:?}"
        );
    }
    let mut help = std::process::Command::new(env!("CARGO_BIN_EXE_apitoken-external"));
    let out = common::run::run_with_input(help.arg("--help"), b"");
    assert_eq!(out.status.code(), Some(50), "--help exit code");
    assert!(out.stdout.is_empty(), "help went to stdout");
    assert!(
        common::stderr(&out).contains("--socket"),
        "no help on stderr"
    );
}

#[test]
fn apache_helper_reason_line_never_repeats_a_token_typed_as_user_name() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    assert_eq!(apache.get("/api/", Some((&token, &token))), 401);
    assert_eq!(apache.get("/api/", Some(("bob", &token))), 401);
    let log = apache.error_log();
    let ours: Vec<&str> = log
        .lines()
        .filter(|l| l.starts_with("apitoken-external:"))
        .collect();
    assert_eq!(ours.len(), 2, "one reason line per refusal:\n{log}");
    assert!(ours[0].contains("token-shaped, not shown"), "{log}");
    assert!(
        ours[1].contains("\"bob\" refused: reason=wrong_user"),
        "{log}"
    );
    assert!(
        ours.iter().all(|l| !l.contains(&token[13..])),
        "the helper logged the secret:\n{log}"
    );
}

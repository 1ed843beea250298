//! Stacks other than the shipped example: `use_first_pass`, two copies of the module, bad
//! arguments, the pam-auth-update profile as it lands in `common-auth`; then the module
//! binary itself and the time one authentication takes.

use std::path::Path;
use std::process::Command;

use crate::common::{stderr, Daemon};
use crate::harness::Outcome::*;
use crate::harness::{module_path, Outcome, Pam};

#[test]
fn pam_use_first_pass_takes_secret_from_earlier_module() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth required {lib}/pam_set_items.so\n\
         auth [success=done ignore=ignore default=die] {module} socket={socket} use_first_pass\n",
        &[],
    );
    // Nothing on stdin: a prompt would read end-of-file and fail.
    let with_token = [("PAM_AUTHTOK", token.as_str())];
    assert_eq!(pam.run("alice", None, "", 1, &with_token).0, Success);
    assert_eq!(pam.run("bob", None, "", 1, &with_token).0, AuthErr);
}

#[test]
fn pam_use_first_pass_without_earlier_secret_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth [success=done ignore=ignore default=die] {module} socket={socket} use_first_pass\n",
        &[],
    );
    assert_eq!(
        pam.run("alice", None, &format!("{token}\n"), 1, &[]).0,
        AuthErr
    );
}

#[test]
fn pam_prompted_secret_is_stored_for_next_module() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    // The first copy prompts and must leave PAM_AUTHTOK set; the second only reads it.
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth optional {module} socket={socket}\n\
         auth [success=done ignore=ignore default=die] {module} socket={socket} use_first_pass\n",
        &[],
    );
    assert_eq!(
        pam.run("alice", None, &format!("{token}\n"), 1, &[]).0,
        Success
    );
}

#[test]
fn pam_bad_module_argument_fails_closed() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth [success=done ignore=ignore default=die] {module} socket={socket} timeout_ms=soon\n",
        &[],
    );
    let (outcome, _) = pam.run("alice", None, &format!("{token}\n"), 1, &[]);
    assert!(
        matches!(outcome, Other(ref text) if text.contains("Error in service module")),
        "{outcome:?}"
    );
}

#[test]
fn pam_authenticate_cached_token_reports_time_per_call() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    // The first call verifies argon2 and fills the daemon's cache.
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
    let calls = 200;
    let input = format!("{token}\n").repeat(calls);
    let (outcome, took) = pam.run("alice", Some("192.0.2.10"), &input, calls, &[]);
    assert_eq!(outcome, Success);
    println!(
        "pam_authenticate with a cached token: {calls} calls in {took:?}, {:?} per call (one pamtester process)",
        took / calls as u32
    );
}

/// The `pam-auth-update` profile as it lands in `common-auth`: its `Auth-Initial` line
/// with `end` turned into the jump past `pam_deny` (what pam-auth-update writes), then
/// Debian's primary block with pam_matrix in place of pam_unix.
#[test]
fn pam_profile_in_common_auth_matches_table() {
    let mut daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let bobs = daemon.create_token("bob");
    let profile = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/pam/pam-configs/apitoken"),
    )
    .unwrap();
    let initial = profile
        .lines()
        .skip_while(|l| *l != "Auth-Initial:")
        .nth(1)
        .expect("profile has an Auth-Initial line")
        .trim();
    let ours = initial.replace("success=end", "success=2").replace(
        "pam_apitoken.so",
        "{module} socket={socket} timeout_ms=1000",
    );
    let stack = format!(
        "auth {ours}\n\
         auth [success=1 default=ignore] {{lib}}/pam_matrix.so passdb={{passdb}}\n\
         auth requisite {{security}}/pam_deny.so\n\
         auth required {{security}}/pam_permit.so\n"
    );
    let passwords = [("alice", "correct horse"), ("carol", bobs.as_str())];
    let pam = Pam::custom(&daemon.check_sock(), &stack, &passwords);
    let table: [(&str, &str, Outcome); 5] = [
        ("alice", &token, Success),
        ("alice", "correct horse", Success),
        ("alice", "wrong horse", AuthErr),
        ("carol", &bobs, AuthErr),
        ("bob", &bobs, Success),
    ];
    for (user, secret, expected) in table {
        assert_eq!(
            pam.auth(user, Some("192.0.2.10"), secret),
            expected,
            "{user}"
        );
    }
    daemon.kill();
    let (outcome, _) = pam.run("alice", None, "correct horse\ncorrect horse\n", 1, &[]);
    assert_eq!(outcome, Unavail);
}

/// The module must stay a good guest in sshd, sudo and login: it exports the PAM entry
/// points and links no thread creation, signal handling, syslog opening or tokio.
#[test]
fn pam_module_symbols_export_entry_points_and_avoid_threads() {
    let so = module_path();
    let nm = |args: &[&str]| {
        let out = Command::new("nm")
            .args(args)
            .arg(&so)
            .output()
            .expect("nm (binutils) is installed");
        assert!(out.status.success(), "nm failed: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let exported = nm(&["-D", "--defined-only"]);
    for entry in ["pam_sm_authenticate", "pam_sm_setcred"] {
        assert!(
            exported.lines().any(|l| l.ends_with(entry)),
            "{entry} not exported:\n{exported}"
        );
    }
    let imported = nm(&["-D", "--undefined-only"]);
    for banned in [
        "pthread_create",
        "sigaction",
        "signal",
        "openlog",
        "fork",
        "daemon",
    ] {
        assert!(
            !imported.lines().any(|l| l
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .split('@')
                .next()
                == Some(banned)),
            "the module imports {banned}"
        );
    }
    assert!(!nm(&["-C"]).contains("tokio"), "the module links tokio");
}

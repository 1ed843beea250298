//! Finding the daemon: `--socket`, `$APITOKEN_SOCKET`, and exit 69 with a useful message
//! when nothing answers.

use crate::common::{stderr, Daemon};
use crate::{assert_code, ids, json};
use std::path::Path;
use std::process::{Command, Output};

/// Runs the real binary with no `--socket` unless the arguments carry one.
fn apitoken(args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitoken"));
    cmd.args(args).env_remove("APITOKEN_SOCKET");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn assert_unreachable(out: &Output, socket: &Path) {
    assert_code(out, 69);
    let err = stderr(out);
    assert!(
        err.contains(&socket.display().to_string()),
        "socket not named: {err}"
    );
    assert!(
        err.contains("--socket") && err.contains("apitokend"),
        "no fix given: {err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn cli_missing_socket_exits_unreachable_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("nowhere").join("admin.sock");
    for sub in [
        &["list"][..],
        &["status"],
        &["create"],
        &["settings", "set", "password-auth", "off"],
    ] {
        let mut args = vec!["--socket", sock.to_str().unwrap()];
        args.extend_from_slice(sub);
        assert_unreachable(&apitoken(&args, &[]), &sock);
    }
}

#[test]
fn cli_env_socket_is_used_when_no_flag() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("env.sock");
    assert_unreachable(&apitoken(&["status"], &[("APITOKEN_SOCKET", &sock)]), &sock);
}

#[test]
fn cli_env_socket_reaches_running_daemon() {
    let d = Daemon::start();
    let out = apitoken(
        &["status", "--json"],
        &[("APITOKEN_SOCKET", &d.admin_sock())],
    );
    assert!(json(&out)["version"].is_string());
}

#[test]
fn cli_flag_wins_over_env_socket() {
    let d = Daemon::start();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong.sock");
    let out = apitoken(
        &["--socket", d.admin_sock().to_str().unwrap(), "status"],
        &[("APITOKEN_SOCKET", &wrong)],
    );
    assert_code(&out, 0);
}

#[test]
fn cli_killed_daemon_exits_unreachable() {
    let mut d = Daemon::start();
    let token = d.create_token("root");
    d.kill();
    assert_unreachable(&d.cli(&["list"]), &d.admin_sock());
    assert_unreachable(&d.cli_input(None, &["verify"], &token), &d.admin_sock());
    assert!(!stderr(&d.cli(&["create"])).contains(&token[13..]));
    d.restart();
    assert_eq!(
        ids(&json(&d.cli(&["list", "--json"]))).len(),
        1,
        "tokens survive a restart"
    );
}

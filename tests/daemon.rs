//! The daemon's life cycle through its real binary: configuration errors, socket files
//! and modes, stale sockets after a crash, SIGTERM, SIGHUP reload, and the check socket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

mod common;

use common::http::{unix_request, Response};
use common::Daemon;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// `GET /auth` on `http.sock`, with `Authorization: <value>` when given.
fn get_auth(sock: &Path, authorization: Option<&str>) -> Response {
    match authorization {
        Some(v) => unix_request(
            sock,
            "GET",
            "/auth",
            &[("Authorization", v.as_bytes())],
            b"",
        ),
        None => unix_request(sock, "GET", "/auth", &[], b""),
    }
}

/// The realm of a 401's challenge.
fn challenge(resp: &Response) -> String {
    resp.header("WWW-Authenticate")
        .unwrap_or_default()
        .to_string()
}

fn daemon_with(config: &str) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, config).unwrap();
    Command::new(env!("CARGO_BIN_EXE_apitokend"))
        .arg("--config")
        .arg(&path)
        .arg("--check-config")
        .output()
        .unwrap()
}

#[test]
fn config_unknown_or_bad_key_is_named_and_refused() {
    let cases = [
        ("[cache]\nttl = 5\n", "ttl"),
        ("colour = \"red\"\n", "colour"),
        ("[syslog]\nfacility = \"kern9\"\n", "syslog.facility"),
        ("[argon2]\niterations = 0\n", "argon2.iterations"),
        ("[password]\nbackend = \"ldap\"\n", "ldap"),
        ("[http]\nlisten = [\"localhost\"]\n", "http.listen"),
        ("state_dir = 5\n", "state_dir"),
    ];
    for (text, key) in cases {
        let out = daemon_with(text);
        assert_eq!(out.status.code(), Some(78), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(key),
            "error for {text:?} does not name {key}: {err}"
        );
    }
    let out = daemon_with("realm = \"x\"\n[cache]\nttl_seconds = 5\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn config_unreadable_file_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_apitokend"))
        .args(["--config", "/nonexistent/apitokend.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/apitokend.toml"));
}

#[test]
fn start_creates_sockets_and_database_with_modes() {
    let d = Daemon::start();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d.http_sock()), 0o666);
    assert_eq!(mode(&d.check_sock()), 0o666);
    assert_eq!(mode(&d.admin_sock()), 0o666);
    assert_eq!(mode(&d.runtime), 0o755);
    assert_eq!(mode(&d.state), 0o700);
    assert_eq!(mode(&d.db_path()), 0o600);
}

#[test]
fn restart_after_kill_replaces_stale_sockets_and_keeps_tokens() {
    let mut d = Daemon::start();
    let token = d.create_token("carol");
    d.kill();
    assert!(
        d.http_sock().exists(),
        "a killed daemon leaves its socket files"
    );
    d.restart();
    let resp = get_auth(&d.http_sock(), Some(&format!("Bearer {token}")));
    assert_eq!(resp.status, 200, "{resp:?}");
}

#[test]
fn second_daemon_on_same_sockets_is_refused() {
    let d = Daemon::start();
    let out = Command::new(env!("CARGO_BIN_EXE_apitokend"))
        .arg("--config")
        .arg(&d.config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("in use by a running apitokend"));
    // The first daemon still serves.
    assert_eq!(get_auth(&d.http_sock(), None).status, 401);
}

#[test]
fn sigterm_exits_zero() {
    let mut d = Daemon::start();
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(15)), Some(0));
}

#[test]
fn clean_exit_removes_its_socket_files_but_not_a_newer_daemons() {
    let mut d = Daemon::start();
    let web = d.runtime.join("web.sock");
    // The harness waits for http.sock and admin.sock; the web face's comes with them.
    assert!(
        common::eventually(Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(&web).is_ok()
        }),
        "web.sock not served"
    );
    let socks = [d.http_sock(), d.check_sock(), d.admin_sock(), web];
    d.signal("INT");
    assert_eq!(d.wait_exit(Duration::from_secs(15)), Some(0));
    for sock in &socks {
        assert!(!sock.exists(), "{} left behind", sock.display());
    }
    // A socket bound in its place by someone else stays.
    d.restart();
    let replaced = d.runtime.join("check.sock");
    std::fs::remove_file(&replaced).unwrap();
    let _other = std::os::unix::net::UnixListener::bind(&replaced).unwrap();
    d.signal("TERM");
    assert_eq!(d.wait_exit(Duration::from_secs(15)), Some(0));
    assert!(
        replaced.exists(),
        "the daemon removed a socket it did not bind"
    );
    assert!(!d.http_sock().exists() && !d.admin_sock().exists());
    assert!(!d.runtime.join("web.sock").exists(), "web.sock left behind");
}

#[test]
fn sighup_applies_realm_and_refuses_broken_file() {
    let d = Daemon::start();
    assert!(challenge(&get_auth(&d.http_sock(), None)).contains("realm=\"apitokend\""));
    std::fs::write(
        &d.config,
        format!(
            "realm = \"Build farm\"\n{}",
            common::base_config(d.dir.path())
        ),
    )
    .unwrap();
    d.signal("HUP");
    assert!(common::eventually(Duration::from_secs(5), || challenge(
        &get_auth(&d.http_sock(), None)
    )
    .contains("realm=\"Build farm\"")));
    std::fs::write(&d.config, "realm = \"Broken\"\nnot_a_key = 1\n").unwrap();
    d.signal("HUP");
    let line = d.wait_syslog(&["event=config.reload", "result=refused"]);
    assert!(line.contains("not_a_key"), "{line}");
    let resp = get_auth(&d.http_sock(), None);
    assert!(
        challenge(&resp).contains("realm=\"Build farm\""),
        "the running configuration must stay: {resp:?}"
    );
}

#[test]
fn health_and_metrics_answer() {
    let d = Daemon::start();
    let health = unix_request(&d.http_sock(), "GET", "/health", &[], b"");
    assert!(
        health.status == 200 && health.text().ends_with("ok\n"),
        "{health:?}"
    );
    get_auth(&d.http_sock(), Some("Bearer nope"));
    let metrics = unix_request(&d.http_sock(), "GET", "/metrics", &[], b"").text();
    assert!(
        metrics.contains("apitokend_requests_total{via=\"http\",result=\"unauthorized\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("apitokend_decision_seconds_bucket"),
        "{metrics}"
    );
}

#[test]
fn cli_status_reports_counts() {
    let d = Daemon::start();
    d.create_token("dave");
    let out = d.cli(&["status", "--json"]);
    let v = common::run::json(&out);
    assert_eq!(v["tokens"], 1);
    assert_eq!(v["users"], 1);
    assert!(v["version"].is_string());
}

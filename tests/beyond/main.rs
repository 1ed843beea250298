//! Scopes, path prefixes, per-token networks, rotation, fleet administration and the
//! schema migration, end to end: the real daemon behind a real nginx (configured from the
//! shipped snippet), real libpam through `pamtester` and the real `apitoken` command.
//!
//! nginx here only ever sees clients at 127.0.0.1; tests that need other client addresses
//! ask `http.sock` directly with the headers nginx would send (`X-Real-IP`,
//! `X-Original-Method`, `X-Original-URI`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;
#[allow(dead_code)]
#[path = "../pam/harness.rs"]
mod pam;

mod admin;
mod migration;
mod networks;
mod paths;
mod rotation;
mod scopes;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{stderr, stdout, Daemon};
use nginx_harness::{bearer, unix_request, Nginx, Response};
use serde_json::Value;

/// Tokens only: a wrong credential is refused without asking PAM.
pub const TOKENS_ONLY: &str = "[password]\nbackend = \"none\"\n";

/// A daemon (tokens only) with nginx in front of it.
pub fn start() -> (Daemon, Nginx) {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let nginx = Nginx::start(&daemon.http_sock());
    (daemon, nginx)
}

/// Runs `apitoken ARGS` as root and returns stdout; fails the test if it fails.
#[track_caller]
pub fn admin(daemon: &Daemon, args: &[&str]) -> String {
    let out = daemon.cli(args);
    assert!(
        out.status.success(),
        "apitoken {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// Stdout parsed as JSON.
#[track_caller]
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// `apitoken create --json ARGS` as root: (token, token object).
#[track_caller]
pub fn create(daemon: &Daemon, args: &[&str]) -> (String, Value) {
    let mut full = vec!["create", "--json"];
    full.extend_from_slice(args);
    let out = daemon.cli(&full);
    assert!(
        out.status.success(),
        "apitoken {full:?} failed: {}",
        stderr(&out)
    );
    let v = json(&out);
    (v["token"].as_str().unwrap().to_string(), v)
}

/// The public id of a token.
pub fn id(token: &str) -> &str {
    &token[4..12]
}

/// `apitoken show ID --json` as root.
pub fn show(daemon: &Daemon, token_id: &str) -> Value {
    json(&daemon.cli(&["show", token_id, "--json"]))
}

/// `METHOD path` through nginx with `Authorization: Bearer token`.
pub fn call(nginx: &Nginx, method: &str, path: &str, token: &str) -> Response {
    nginx.request(method, path, &[("Authorization", &bearer(token))], b"")
}

/// Asks the daemon's `http.sock` directly, with the headers nginx's `/_apitoken` location
/// sends: a client at `ip` asking for `METHOD uri` with `Authorization: Bearer token`.
pub fn ask_from(daemon: &Daemon, ip: &str, method: &str, uri: &str, token: &str) -> Response {
    unix_request(
        &daemon.http_sock(),
        "GET",
        "/auth",
        &[
            ("Authorization", &bearer(token)),
            ("X-Real-IP", ip.as_bytes()),
            ("X-Original-Method", method.as_bytes()),
            ("X-Original-URI", uri.as_bytes()),
        ],
        b"",
    )
}

/// Runs the Apache helper (`apitoken-external`) for a client at 192.0.2.40 asking for
/// `uri`; returns its exit code.
pub fn external(daemon: &Daemon, user: &str, secret: &str, uri: &str) -> i32 {
    let mut child = Command::new(env!("CARGO_BIN_EXE_apitoken-external"))
        .arg("--socket")
        .arg(daemon.check_sock())
        .env("IP", "192.0.2.40")
        .env("URI", uri)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let input = format!("{user}\n{secret}\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait().unwrap().code().unwrap()
}

/// Asserts the status of a response, naming the request.
#[track_caller]
pub fn assert_status(resp: &Response, want: u16, what: &str) {
    assert_eq!(resp.status, want, "{what}: {resp:?}");
}

/// Runs SQL through the `sqlite3` command on a database file and returns its output.
#[track_caller]
pub fn sqlite(db: &Path, sql: &str) -> String {
    let mut child = Command::new("sqlite3")
        .arg("-batch")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sqlite3 is installed (`bash tests/run.sh` installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(sql.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "sqlite3 failed on {sql:?}: {}",
        stderr(&out)
    );
    stdout(&out)
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

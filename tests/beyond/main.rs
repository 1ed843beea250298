//! Scopes, path prefixes, per-token networks, rotation, fleet administration and the
//! schema migration, end to end: the real daemon behind a real nginx (configured from the
//! shipped snippet), real libpam through `pamtester` and the real `apitoken` command.
//!
//! nginx here only ever sees clients at 127.0.0.1; tests that need other client addresses
//! ask `http.sock` directly with the headers nginx would send (`X-Real-IP`,
//! `X-Original-Method`, `X-Original-URI`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

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

use common::http::{auth_as_nginx, Response};
use common::tokens::bearer;
use common::Daemon;
use nginx_harness::Nginx;
use serde_json::Value;

pub use common::run::json;
pub use common::tokens::token_id as id;
pub use common::TOKENS_ONLY;
pub use nginx_harness::start_tokens_only;

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
    auth_as_nginx(&daemon.http_sock(), &bearer(token), ip, method, uri)
}

/// Runs the Apache helper (`apitoken-external`) for a client at 192.0.2.40 asking for
/// `uri`; returns its exit code.
pub fn external(daemon: &Daemon, user: &str, secret: &str, uri: &str) -> i32 {
    common::run::external(&daemon.check_sock(), "192.0.2.40", Some(uri), user, secret).unwrap()
}

/// Asserts the status of a response, naming the request.
#[track_caller]
pub fn assert_status(resp: &Response, want: u16, what: &str) {
    assert_eq!(resp.status, want, "{what}: {resp:?}");
}

pub use common::run::sqlite;

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

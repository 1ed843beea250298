//! The guarantees of SPEC §13, each proven by the attack it forbids, through the real
//! interfaces: concurrent requests on `http.sock`, `apitoken-external` on `check.sock`
//! run by a second Unix user (`useradd`, `runuser`), the real `apitoken` command, and a
//! password backend of real libpam (pam_wrapper's pam_matrix). Every test is named after
//! the guarantee it proves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;

mod bounded;
mod deny;
mod lockout;
mod revocation;
mod verify;
mod weapon;

use common::http::{auth_as_nginx, metric};
use common::tokens::basic;
use common::Daemon;
use std::path::Path;

/// `GET /auth` on `http.sock` with `authorization` (raw header value) from a client at
/// 192.0.2.7: the answer's status.
pub fn auth(sock: &Path, authorization: &[u8]) -> u16 {
    auth_as_nginx(sock, authorization, "192.0.2.7", "GET", "/api/x").status
}

/// Basic `user:secret` on `http.sock`.
pub fn auth_basic(daemon: &Daemon, user: &str, secret: &str) -> u16 {
    auth(
        &daemon.http_sock(),
        &basic(user.as_bytes(), secret.as_bytes()),
    )
}

/// Password checks the daemon ran so far.
pub fn password_checks(daemon: &Daemon) -> u64 {
    metric(&daemon.http_sock(), "apitokend_password_checks_total")
}

/// The `apitoken failures --json` entry of `user`, if any.
pub fn failure_entry(daemon: &Daemon, user: &str) -> Option<serde_json::Value> {
    let all = common::run::json(&daemon.cli(&["failures", "--json"]));
    all.as_array()
        .unwrap()
        .iter()
        .find(|e| e["user"] == user)
        .cloned()
}

/// Whether `user` is shown as locked by `apitoken failures`.
pub fn is_locked(daemon: &Daemon, user: &str) -> bool {
    failure_entry(daemon, user).is_some_and(|e| e["locked_until"].is_string())
}

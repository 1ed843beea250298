//! A fleet's database outage (SPEC §12), against a real PostgreSQL server that the tests
//! stop and start themselves (`pg_ctl`): cached tokens keep working for at most
//! `outage_grace_seconds` and nothing else is ever allowed, on every front end (http.sock
//! and nginx in front of it, real libpam through `pamtester`, `apitoken-external`); admin
//! commands are refused naming the database; audit records and last-used data made
//! meanwhile reach the database when it is back; a host killed during creates loses no
//! token it acknowledged.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;
#[allow(dead_code)]
#[path = "../pam/harness.rs"]
mod pam;

mod crash;
mod fronts;
mod hung;
mod kept;
mod load;

use common::http::auth_as_nginx;
use common::pg::PgServer;
use common::tokens::bearer;
use common::Daemon;
use std::time::{Duration, Instant};

/// A host on `db` of `server`, with `extra` (whole sections other than `[store]`) and
/// `grace` seconds of `outage_grace_seconds`.
pub fn host(server: &PgServer, db: &str, grace: u64, extra: &str) -> Daemon {
    let toml = format!(
        "{extra}\n{}outage_grace_seconds = {grace}\n",
        server.store_toml(&server.url(db))
    );
    Daemon::start_with(&toml, &[])
}

/// The status http.sock answers for `token` from `ip`, and how long it took.
pub fn check(host: &Daemon, token: &str, ip: &str) -> (u16, Duration) {
    let started = Instant::now();
    let r = auth_as_nginx(&host.http_sock(), &bearer(token), ip, "GET", "/");
    (r.status, started.elapsed())
}

/// The status alone.
pub fn status(host: &Daemon, token: &str) -> u16 {
    check(host, token, "127.0.0.1").0
}

/// Waits (at most 20 s) until `/health` says the database is unreachable (`false`) or up.
pub fn wait_store(host: &Daemon, up: bool) {
    let health = || common::http::unix_request(&host.http_sock(), "GET", "/health", &[], b"");
    let want = if up { 200 } else { 503 };
    assert!(
        common::eventually(Duration::from_secs(20), || health().status == want),
        "/health never answered {want}: {}",
        health().text()
    );
}

//! A fleet (SPEC §12) asked straight on its sockets: daemons as hosts on one
//! PostgreSQL server that the test starts itself. A host whose LISTEN connection was
//! killed still catches up, a single host's database moves in once, an outage keeps
//! cached tokens only. What one host changes reaching the others through nginx is
//! `tests/fleetwide/`.
#![warn(clippy::too_many_lines)]

mod common;

use common::http::auth_as_nginx;
use common::pg::PgServer;
use common::tokens::bearer;
use common::{stderr, Daemon};
use std::time::{Duration, Instant};

/// A PostgreSQL server and `n` daemons sharing one database on it.
fn fleet(n: usize) -> (Vec<Daemon>, PgServer) {
    let server = PgServer::start();
    let url = server.database("fleet");
    let toml = server.store_toml(&url);
    let hosts = (0..n).map(|_| Daemon::start_with(&toml, &[])).collect();
    (hosts, server)
}

fn status(host: &Daemon, token: &str) -> u16 {
    auth_as_nginx(&host.http_sock(), &bearer(token), "127.0.0.1", "GET", "/").status
}

/// How long until `host` stops allowing `token` (polling every 5 ms, at most `limit`).
fn until_refused(host: &Daemon, token: &str, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if status(host, token) != 200 {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    None
}

fn delete(host: &Daemon, token: &str) {
    host.cli_ok(&["delete", common::tokens::token_id(token)]);
}

#[test]
fn fleet_host_whose_listen_connection_was_killed_still_catches_up() {
    let (hosts, server) = fleet(2);
    let token = hosts[0].create_token("root");
    assert_eq!(status(&hosts[1], &token), 200);
    let listening = "FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND state = 'idle'";
    let count = || server.psql_in("fleet", &format!("SELECT count(*) {listening}"));
    assert!(
        common::eventually(Duration::from_secs(10), || count().trim() == "2"),
        "one LISTEN connection per host"
    );
    let killed = server.psql_in(
        "fleet",
        &format!("SELECT count(pg_terminate_backend(pid)) {listening}"),
    );
    assert_eq!(killed.trim(), "2");
    delete(&hosts[0], &token);
    let d = until_refused(&hosts[1], &token, Duration::from_secs(10));
    assert!(
        d.is_some(),
        "the host without its LISTEN connection never caught up"
    );
    eprintln!("caught up after the LISTEN connection was killed in {d:?}");
    let health = common::http::unix_request(&hosts[1].http_sock(), "GET", "/health", &[], b"");
    assert_eq!(health.status, 200);
    assert!(
        health.text().contains("store: postgres up"),
        "{}",
        health.text()
    );
    assert_eq!(
        common::http::metric(&hosts[1].http_sock(), "apitokend_store_up"),
        1
    );
}

/// The database comes back from a backup, or a replica that lagged behind is promoted:
/// the change log is behind where the hosts are, and the sequence numbers they applied
/// name new changes. A delete made then still reaches every host.
#[test]
fn fleet_delete_reaches_every_host_after_the_change_log_went_back() {
    let (hosts, server) = fleet(2);
    for _ in 0..5 {
        let other = hosts[0].create_token("root");
        assert_eq!(status(&hosts[1], &other), 200);
        delete(&hosts[0], &other);
        let gone = until_refused(&hosts[1], &other, Duration::from_secs(10));
        assert!(gone.is_some(), "a delete did not reach the other host");
    }
    let token = hosts[0].create_token("root");
    assert_eq!(status(&hosts[1], &token), 200, "cached on the other host");
    server.psql_in(
        "fleet",
        "DELETE FROM changes; ALTER SEQUENCE changes_seq_seq RESTART WITH 1",
    );
    delete(&hosts[0], &token);
    let d = until_refused(&hosts[1], &token, Duration::from_secs(10));
    assert!(
        d.is_some(),
        "a token deleted after the change log went back is still allowed on another host"
    );
    eprintln!("refused on the other host {d:?} after the delete");
    let again = hosts[1].create_token("root");
    assert_eq!(status(&hosts[0], &again), 200);
    delete(&hosts[1], &again);
    let d = until_refused(&hosts[0], &again, Duration::from_secs(10));
    assert!(
        d.is_some(),
        "the hosts do not follow the log from its new start"
    );
}

/// A newer version of the daemon on one host of the fleet (a rolling upgrade) stores a
/// setting this version does not know. The hosts of this version still apply deletes
/// and settings made anywhere, and one of them still starts.
#[test]
fn fleet_setting_unknown_to_this_version_stops_no_delete_and_no_start() {
    let (hosts, server) = fleet(2);
    let token = hosts[0].create_token("root");
    assert_eq!(status(&hosts[1], &token), 200);
    server.psql_in(
        "fleet",
        "INSERT INTO settings (key, value) VALUES ('a-setting-of-a-newer-version', 'on')",
    );
    let set = hosts[0].cli(&["settings", "set", "lockout-threshold", "7"]);
    assert!(set.status.success(), "{}", stderr(&set));
    delete(&hosts[0], &token);
    let d = until_refused(&hosts[1], &token, Duration::from_secs(10));
    assert!(
        d.is_some(),
        "a delete made after an unknown setting was stored never reached the other host"
    );
    let shown = hosts[1].cli(&["settings"]);
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        text.lines()
            .any(|l| l.contains("lockout-threshold") && l.contains('7')),
        "{text}"
    );
    let url = server.url("fleet");
    let toml = server.store_toml(&url);
    let third = Daemon::start_with(&toml, &[]);
    let made = third.create_token("root");
    assert_eq!(
        status(&hosts[0], &made),
        200,
        "a host of this version starts"
    );
    // A value this version cannot read: the settings in force stay, deletes still apply.
    server.psql_in(
        "fleet",
        "UPDATE settings SET value = 'many' WHERE key = 'lockout-threshold'",
    );
    let set = hosts[0].cli(&["settings", "set", "lockout-window", "10m"]);
    assert!(set.status.success(), "{}", stderr(&set));
    delete(&hosts[0], &made);
    let d = until_refused(&hosts[1], &made, Duration::from_secs(10));
    assert!(d.is_some(), "a setting that cannot be read stopped deletes");
}

#[test]
fn import_sqlite_twice_copies_once_and_the_tokens_work_in_the_fleet() {
    // A single host with its SQLite database, and a token on it.
    let mut single = Daemon::start();
    let token = single.create_token("root");
    single.kill();
    let db = single.db_path();
    let server = PgServer::start();
    let url = server.database("moved");
    let config = single.dir.path().join("fleet.toml");
    std::fs::write(
        &config,
        format!(
            "{}\n{}",
            common::base_config(single.dir.path()),
            server.store_toml(&url)
        ),
    )
    .unwrap();
    let import = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_apitokend"))
            .arg("--config")
            .arg(&config)
            .arg("--import-sqlite")
            .arg(&db)
            .output()
            .unwrap()
    };
    let first = import();
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        common::stdout(&first).starts_with("imported 1 tokens, 0 settings, 1 audit records"),
        "{}",
        common::stdout(&first)
    );
    let second = import();
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        common::stdout(&second).starts_with("imported 0 tokens, 0 settings, 0 audit records"),
        "{}",
        common::stdout(&second)
    );
    let rows = server.psql_in("moved", "SELECT count(*) FROM tokens");
    assert_eq!(rows.trim(), "1");
    // The moved token works on a fleet host.
    let toml = server.store_toml(&url);
    let host = Daemon::start_with(&toml, &[]);
    assert_eq!(status(&host, &token), 200);
}

#[test]
fn fleet_database_stop_keeps_cached_tokens_and_never_allows_uncached_ones() {
    let (hosts, server) = fleet(2);
    let cached = hosts[0].create_token("root");
    let uncached = hosts[0].create_token("root");
    assert_eq!(status(&hosts[1], &cached), 200);
    server.pause();
    for _ in 0..20 {
        assert_eq!(
            status(&hosts[1], &cached),
            200,
            "a cached token during the outage"
        );
        let s = status(&hosts[1], &uncached);
        assert_eq!(
            s, 500,
            "an uncached token cannot be decided during the outage"
        );
    }
    let health = || common::http::unix_request(&hosts[1].http_sock(), "GET", "/health", &[], b"");
    assert!(common::eventually(Duration::from_secs(10), || health()
        .status
        == 503));
    assert!(
        health().text().contains("store: postgres unreachable"),
        "{}",
        health().text()
    );
    server.resume();
    assert!(
        common::eventually(Duration::from_secs(15), || status(&hosts[1], &uncached)
            == 200),
        "the host works again once the database is back"
    );
}

//! A fleet (SPEC §12): three daemons as three hosts on one PostgreSQL server that the test
//! starts itself, each asked as nginx asks it. What one host changes takes effect on the
//! others: tokens, deletes (with the delay measured), settings, and after the LISTEN
//! connection was killed.

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
    let toml = format!(
        "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npassword_file = \"{}\"\n",
        server.password_file().display()
    );
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
    let id = common::tokens::token_id(token);
    let out = host.cli(&["delete", id]);
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn fleet_token_made_on_one_host_works_on_all_and_deletes_reach_all() {
    let (hosts, _server) = fleet(3);
    let token = hosts[0].create_token("root");
    for h in &hosts {
        assert_eq!(status(h, &token), 200);
    }
    let mut delays = Vec::new();
    for _ in 0..30 {
        let token = hosts[0].create_token("root");
        // Every host has it cached before the delete.
        for h in &hosts {
            assert_eq!(status(h, &token), 200);
        }
        delete(&hosts[0], &token);
        assert_ne!(status(&hosts[0], &token), 200, "the deleting host at once");
        for h in &hosts[1..] {
            let d = until_refused(h, &token, Duration::from_secs(10));
            delays.push(d.expect("a deleted token kept working on another host for 10 s"));
        }
    }
    delays.sort();
    let p = |q: f64| delays[((delays.len() as f64 - 1.0) * q) as usize];
    eprintln!(
        "fleet delete delay over {} observations: p50 {:?}, p99 {:?}, max {:?}",
        delays.len(),
        p(0.5),
        p(0.99),
        delays[delays.len() - 1]
    );
    assert!(p(0.5) < Duration::from_secs(1), "p50 {:?}", p(0.5));
}

#[test]
fn fleet_setting_on_one_host_applies_on_the_others() {
    let (hosts, _server) = fleet(2);
    let token = hosts[0].create_token("root");
    assert_eq!(status(&hosts[1], &token), 200);
    let out = hosts[0].cli(&["allow-ip", "add", "192.0.2.0/24"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let refused = until_refused(&hosts[1], &token, Duration::from_secs(5));
    assert!(
        refused.is_some(),
        "allowed-networks never reached the other host"
    );
    assert_eq!(status(&hosts[1], &token), 403);
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
            "{}\n[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npassword_file = \"{}\"\n",
            common::base_config(single.dir.path()),
            server.password_file().display()
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
    let toml = format!(
        "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npassword_file = \"{}\"\n",
        server.password_file().display()
    );
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

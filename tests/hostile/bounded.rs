//! Bounded state (SPEC §13): failures under names that exist nowhere, sent by someone
//! without any credential, leave nothing behind in the database once their window ends;
//! a locked user's record stays, and a restart loads only what still matters.

use super::common::http::auth_as_nginx;
use super::common::tokens::basic;
use super::common::{eventually, Daemon};
use super::Noise;
use std::time::Duration;

/// Rows in the failure table, read straight from the database file.
fn failure_rows(d: &Daemon) -> i64 {
    let db = rusqlite::Connection::open(d.db_path()).unwrap();
    db.query_row("SELECT COUNT(*) FROM failures", [], |r| r.get(0))
        .unwrap()
}

/// Bytes of the database and its write-ahead log.
fn db_bytes(d: &Daemon) -> u64 {
    let size = |suffix: &str| {
        let path = format!("{}{suffix}", d.db_path().display());
        std::fs::metadata(path).map_or(0, |m| m.len())
    };
    size("") + size("-wal")
}

/// `n` failed logins under fresh random names, each with a wrong password (the password
/// backend is off, so nothing is checked, and each counts for the claimed name).
/// Returns the most failure rows seen in the database while it ran.
fn flood(d: &Daemon, noise: &mut Noise, n: usize) -> i64 {
    let mut peak = 0;
    for i in 0..n {
        if i % 100 == 99 {
            peak = peak.max(failure_rows(d));
        }
        let name: String = noise
            .bytes(12)
            .iter()
            .map(|b| char::from(b'a' + b % 26))
            .collect();
        let auth = basic(format!("atk-rnd-{name}").as_bytes(), b"wrong");
        let r = auth_as_nginx(&d.http_sock(), &auth, "192.0.2.7", "GET", "/");
        assert_eq!(r.status, 401);
    }
    peak
}

#[test]
fn bounded_state_random_names_leave_no_failure_rows_after_window() {
    let d = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    d.cli_ok(&["settings", "set", "lockout-window", "3s"]);
    d.cli_ok(&["settings", "set", "lockout-duration", "1h"]);
    d.cli_ok(&["settings", "set", "lockout-threshold", "3"]);
    let locked = basic(b"atk-bounded-locked", b"wrong");
    for _ in 0..3 {
        auth_as_nginx(&d.http_sock(), &locked, "192.0.2.8", "GET", "/");
    }
    let mut noise = Noise(0x5eed_b0de);
    let mut sizes = Vec::new();
    for round in 0..2 {
        flood(&d, &mut noise, 1000);
        assert!(
            failure_rows(&d) > 1,
            "round {round}: the flood was not counted"
        );
        // The window is 2 s; expired rows go at the next 5-second housekeeping tick.
        let emptied = eventually(Duration::from_secs(20), || failure_rows(&d) == 1);
        assert!(
            emptied,
            "round {round}: {} failure rows left",
            failure_rows(&d)
        );
        sizes.push(db_bytes(&d));
        println!("round {round}: database and log {} bytes", sizes[round]);
    }
    assert!(
        sizes[0] < 2 * 1024 * 1024,
        "database and log {} bytes",
        sizes[0]
    );
    // Freed pages are reused: a second flood does not grow the file.
    assert!(sizes[1] <= sizes[0] + 64 * 1024, "{sizes:?}");
    let shown = d.cli_ok(&["failures", "--json"]);
    assert!(
        shown.contains("atk-bounded-locked") && !shown.contains("atk-rnd-"),
        "{shown}"
    );
    // A restart loads the locked user and none of the flood.
    let mut d = d;
    d.restart();
    let shown = d.cli_ok(&["failures", "--json"]);
    assert!(
        shown.contains("atk-bounded-locked") && !shown.contains("atk-rnd-"),
        "{shown}"
    );
}

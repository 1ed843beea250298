//! Crash durability through the real binaries. The daemon is killed with SIGKILL while
//! four threads create tokens with the real `apitoken create` as fast as it answers, a
//! fifth deletes tokens and a sixth changes a setting. After a restart on the stale socket
//! files, everything the command line acknowledged must be there: every acknowledged
//! token authenticates on `http.sock`, no acknowledged deletion comes back, the last
//! acknowledged setting is in force, and SQLite's `PRAGMA integrity_check` says `ok`.
//!
//! Also here: while the daemon is down every front end fails closed (nginx 500, the
//! Apache helper exit 50, the command line exit 69), and all of them recover on restart.
//!
//! This file holds the crash test; `load` its background writers; `down` holds the
//! daemon-down test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;

mod down;
mod load;

use common::http::unix_request;
use common::tokens::{bearer, token_id};
use common::{stdout, Daemon};
use load::{Ledger, Load};
use nginx_harness::Nginx;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Threads running `apitoken create` in a loop.
const CREATORS: usize = 4;
/// Kill-and-restart cycles.
const ROUNDS: usize = 3;
/// Acknowledged creations to wait for in each round before the kill.
const CREATES_PER_ROUND: usize = 40;
/// Tokens made before each round for the deleting thread to remove.
const VICTIMS_PER_ROUND: usize = 100;
/// The setting the settings thread changes; its values are 1000, 1001, ...
const SETTING: &str = "lockout-threshold";

/// `PRAGMA integrity_check` through the sqlite3 command line.
fn integrity_check(db: &Path) -> String {
    common::run::sqlite(db, "PRAGMA integrity_check;")
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn auth_status(daemon: &Daemon, token: &str) -> (u16, Option<String>) {
    let resp = unix_request(
        &daemon.http_sock(),
        "GET",
        "/auth",
        &[("Authorization", &bearer(token))],
        b"",
    );
    (
        resp.status,
        resp.header("x-auth-token-id").map(str::to_string),
    )
}

fn listed_ids(daemon: &Daemon) -> BTreeSet<String> {
    let list = daemon.cli_json(&["list", "--all", "--json"]);
    common::run::ids(&list).into_iter().collect()
}

fn listed_names(daemon: &Daemon) -> BTreeSet<String> {
    let list = common::run::json(&daemon.cli(&["list", "--all", "--json"]));
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn current_setting(daemon: &Daemon) -> u32 {
    let settings = common::run::json(&daemon.cli(&["settings", "--json"]));
    let value = &settings[SETTING];
    value
        .as_u64()
        .map(|v| v as u32)
        .or_else(|| value.as_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| panic!("{SETTING} not in {settings}"))
}

/// What a restarted daemon still knows of the acknowledged writes.
struct Findings {
    /// Acknowledged tokens that no longer authenticate.
    lost: Vec<String>,
    /// Acknowledged deletions whose token is listed again.
    resurrected: Vec<String>,
    /// The setting now, the last acknowledged value, and the value in flight at the kill.
    setting: (u32, Option<u32>, Option<u32>),
}

impl Findings {
    fn setting_ok(&self) -> bool {
        let (now, acked, in_flight) = self.setting;
        Some(now) == acked || Some(now) == in_flight
    }
}

fn check_after_restart(daemon: &Daemon, ledger: &Ledger) -> Findings {
    let lost = ledger
        .created
        .iter()
        .filter_map(|(name, token)| {
            let (status, id) = auth_status(daemon, token);
            (status != 200 || id.as_deref() != Some(token_id(token)))
                .then(|| format!("{name} ({}): {status}", token_id(token)))
        })
        .collect();
    let ids = listed_ids(daemon);
    let resurrected = ledger
        .deleted
        .iter()
        .filter(|id| ids.contains(*id))
        .cloned()
        .collect();
    let last_acked = ledger.settings.iter().rposition(|(_, ok)| *ok);
    let acked = last_acked.map(|i| ledger.settings[i].0);
    // The change in flight at the kill is the first unacknowledged one after the last
    // acknowledged one; it may have landed. Later attempts met a dead daemon.
    let in_flight = ledger.settings[last_acked.map_or(0, |i| i + 1)..]
        .first()
        .map(|(v, _)| *v);
    Findings {
        lost,
        resurrected,
        setting: (current_setting(daemon), acked, in_flight),
    }
}

/// The tokens of `victims` whose deletion the command line acknowledged.
fn acknowledged_deletions<'a>(
    victims: &'a [String],
    ledger: &'a Ledger,
) -> impl Iterator<Item = &'a String> {
    victims
        .iter()
        .filter(|t| ledger.deleted.iter().any(|id| id == token_id(t)))
}

/// One line of numbers per crash, for the record.
fn report(
    round: usize,
    ledger: &Ledger,
    found: &Findings,
    deleted_working: usize,
    wal: u64,
    integrity: &str,
    orphans: usize,
) {
    let acked_settings = ledger.settings.iter().filter(|(_, ok)| *ok).count();
    println!(
        "crash {round}/{ROUNDS}: tokens acknowledged {} (running total), lost {}; \
         unacknowledged creations {} of which present {orphans}; \
         deletions acknowledged {} (unacknowledged {}), resurrected {}, still authenticating {}; \
         settings changes acknowledged {acked_settings}, {SETTING} now {} (last acknowledged {:?}); \
         WAL at kill {wal} bytes; integrity_check {integrity}",
        ledger.created.len(),
        found.lost.len(),
        ledger.unacknowledged_names.len(),
        ledger.deleted.len(),
        ledger.delete_unknown.len(),
        found.resurrected.len(),
        deleted_working,
        found.setting.0,
        found.setting.1,
    );
}

/// Nothing acknowledged was lost, no deletion came back, the setting is one that was sent
/// and the database is intact.
fn assert_round(round: usize, found: &Findings, deleted_working: &[&str], integrity: &str) {
    assert!(
        found.lost.is_empty(),
        "acknowledged tokens that do not authenticate after crash {round}: {:#?}",
        found.lost
    );
    assert!(
        found.resurrected.is_empty() && deleted_working.is_empty(),
        "acknowledged deletions came back after crash {round}: listed {:?}, authenticating {deleted_working:?}",
        found.resurrected
    );
    assert!(
        found.setting_ok(),
        "{SETTING} after crash {round}: now {}, last acknowledged {:?}, in flight {:?}",
        found.setting.0,
        found.setting.1,
        found.setting.2
    );
    assert_eq!(integrity, "ok", "integrity_check after crash {round}");
}

/// One crash: victims to delete, the writers, SIGKILL mid-stream, a restart and the
/// checks. `deleted_tokens` gathers every acknowledged deletion across rounds. The first
/// settings value for the next round.
fn crash_round(
    daemon: &mut Daemon,
    ledger: &Arc<Mutex<Ledger>>,
    round: usize,
    next_setting: u32,
    deleted_tokens: &mut Vec<String>,
) -> u32 {
    let victims: Vec<String> = (0..VICTIMS_PER_ROUND)
        .map(|_| daemon.create_token("durvictim"))
        .collect();
    let victim_ids: Vec<String> = victims.iter().map(|t| token_id(t).to_string()).collect();
    let load = Load::start(
        daemon.admin_sock(),
        ledger.clone(),
        round,
        victim_ids,
        next_setting,
    );
    load.wait_busy();
    daemon.kill();
    let wal = file_len(&daemon.db_path().with_extension("db-wal"));
    let ledger = load.stop();
    daemon.restart();

    let ledger = ledger.lock().unwrap();
    let next_setting = ledger.settings.last().map_or(next_setting, |(v, _)| v + 1);
    let found = check_after_restart(daemon, &ledger);
    // Deleted tokens must also stop authenticating, not just vanish from the list.
    deleted_tokens.extend(acknowledged_deletions(&victims, &ledger).cloned());
    let deleted_working: Vec<&str> = deleted_tokens
        .iter()
        .filter(|t| auth_status(daemon, t).0 != 401)
        .map(|t| token_id(t))
        .collect();
    let integrity = integrity_check(&daemon.db_path());
    let names = listed_names(daemon);
    let orphans = ledger
        .unacknowledged_names
        .iter()
        .filter(|n| names.contains(*n))
        .count();
    report(
        round,
        &ledger,
        &found,
        deleted_working.len(),
        wal,
        &integrity,
        orphans,
    );
    assert_round(round, &found, &deleted_working, &integrity);
    next_setting
}

#[test]
fn daemon_sigkill_under_concurrent_writes_loses_nothing_acknowledged() {
    let mut daemon = Daemon::start();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut next_setting = 1000;
    let mut deleted_tokens: Vec<String> = Vec::new();
    for round in 1..=ROUNDS {
        next_setting = crash_round(
            &mut daemon,
            &ledger,
            round,
            next_setting,
            &mut deleted_tokens,
        );
    }
}

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
//! This file holds the crash test; `down` holds the daemon-down test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;

mod down;

use common::http::unix_request;
use common::tokens::{bearer, token_id};
use common::{stdout, Daemon};
use nginx_harness::Nginx;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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

/// Runs the real `apitoken` against `sock`, without the harness (threads share no daemon).
fn apitoken(sock: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_apitoken"))
        .arg("--socket")
        .arg(sock)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// What the command line acknowledged, and what it tried without an acknowledgement.
#[derive(Default)]
struct Ledger {
    /// (name, token) of every creation that exited 0 and printed a token.
    created: Vec<(String, String)>,
    /// Names of creations that did not (the daemon died under them).
    unacknowledged_names: Vec<String>,
    /// Ids whose `apitoken delete` exited 0.
    deleted: Vec<String>,
    /// Ids whose deletion was attempted without an acknowledgement: either outcome is fine.
    delete_unknown: Vec<String>,
    /// Every settings value tried, in order, with whether it was acknowledged.
    settings: Vec<(u32, bool)>,
}

/// The background writers of one round.
struct Load {
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    acked_creates: Arc<AtomicUsize>,
    acked_deletes: Arc<AtomicUsize>,
    acked_settings: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(
        sock: PathBuf,
        ledger: Arc<Mutex<Ledger>>,
        round: usize,
        victims: Vec<String>,
        next_setting: u32,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let (acked_creates, acked_deletes, acked_settings) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let mut threads = Vec::new();
        for t in 0..CREATORS {
            let (sock, stop, ledger, acked) = (
                sock.clone(),
                stop.clone(),
                ledger.clone(),
                acked_creates.clone(),
            );
            threads.push(std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Acquire) {
                    let name = format!("r{round}-t{t}-n{n}");
                    n += 1;
                    let user = format!("dur{t}");
                    let out = apitoken(&sock, &["create", "--user", &user, "--name", &name]);
                    let token = stdout(&out);
                    let mut ledger = ledger.lock().unwrap();
                    if out.status.success() && token.starts_with("atk_") {
                        ledger.created.push((name, token));
                        acked.fetch_add(1, Ordering::Release);
                    } else {
                        ledger.unacknowledged_names.push(name);
                    }
                }
            }));
        }
        {
            let (sock, stop, ledger, acked) = (
                sock.clone(),
                stop.clone(),
                ledger.clone(),
                acked_deletes.clone(),
            );
            threads.push(std::thread::spawn(move || {
                for id in victims {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let out = apitoken(&sock, &["delete", &id]);
                    let mut ledger = ledger.lock().unwrap();
                    if out.status.success() {
                        ledger.deleted.push(id);
                        acked.fetch_add(1, Ordering::Release);
                    } else {
                        ledger.delete_unknown.push(id);
                    }
                }
            }));
        }
        {
            let (stop, ledger, acked) = (stop.clone(), ledger.clone(), acked_settings.clone());
            threads.push(std::thread::spawn(move || {
                let mut value = next_setting;
                while !stop.load(Ordering::Acquire) {
                    let text = value.to_string();
                    let out = apitoken(&sock, &["settings", "set", SETTING, &text]);
                    let ok = out.status.success();
                    ledger.lock().unwrap().settings.push((value, ok));
                    if ok {
                        acked.fetch_add(1, Ordering::Release);
                    }
                    value += 1;
                }
            }));
        }
        Load {
            stop,
            ledger,
            acked_creates,
            acked_deletes,
            acked_settings,
            threads,
        }
    }

    /// Waits until every writer has had acknowledgements, so the kill lands mid-stream.
    fn wait_busy(&self) {
        let deadline = Instant::now() + Duration::from_secs(120);
        while self.acked_creates.load(Ordering::Acquire) < CREATES_PER_ROUND
            || self.acked_deletes.load(Ordering::Acquire) < 3
            || self.acked_settings.load(Ordering::Acquire) < 3
        {
            assert!(
                Instant::now() < deadline,
                "the writers made too little progress in 120 s"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn stop(self) -> Arc<Mutex<Ledger>> {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            t.join().unwrap();
        }
        self.ledger
    }
}

/// `PRAGMA integrity_check` through the sqlite3 command line.
fn integrity_check(db: &Path) -> String {
    let out = Command::new("sqlite3")
        .arg(db)
        .arg("PRAGMA integrity_check;")
        .output()
        .expect("cannot run sqlite3; `bash tests/run.sh` installs it");
    assert!(
        out.status.success(),
        "sqlite3 failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout(&out)
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
    let out = daemon.cli(&["list", "--all", "--json"]);
    assert!(out.status.success(), "list: {}", common::stderr(&out));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

fn listed_names(daemon: &Daemon) -> BTreeSet<String> {
    let out = daemon.cli(&["list", "--all", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn current_setting(daemon: &Daemon) -> u32 {
    let out = daemon.cli(&["settings", "--json"]);
    let settings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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

#[test]
fn daemon_sigkill_under_concurrent_writes_loses_nothing_acknowledged() {
    let mut daemon = Daemon::start();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let mut next_setting = 1000;
    let mut deleted_tokens: Vec<String> = Vec::new();
    for round in 1..=ROUNDS {
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
        next_setting = ledger.settings.last().map_or(next_setting, |(v, _)| v + 1);
        let found = check_after_restart(&daemon, &ledger);
        // Deleted tokens must also stop authenticating, not just vanish from the list.
        deleted_tokens.extend(
            victims
                .iter()
                .filter(|t| ledger.deleted.iter().any(|id| id == token_id(t)))
                .cloned(),
        );
        let deleted_working: Vec<&str> = deleted_tokens
            .iter()
            .filter(|t| auth_status(&daemon, t).0 != 401)
            .map(|t| token_id(t))
            .collect();
        let integrity = integrity_check(&daemon.db_path());
        let names = listed_names(&daemon);
        let orphans = ledger
            .unacknowledged_names
            .iter()
            .filter(|n| names.contains(*n))
            .count();
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
            deleted_working.len(),
            found.setting.0,
            found.setting.1,
        );
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
}

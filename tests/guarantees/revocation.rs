//! **Revocation is immediate** (SPEC §13): once `apitoken delete`/`rotate` has returned, no
//! request that arrives afterwards is allowed by the old state, whatever was in flight or
//! cached; and a cached success is never extended, whatever other requests arrive.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::auth;
use crate::common::tokens::{bearer, forged_token, token_id};
use crate::common::{ensure_group_member, Daemon, ADMIN_GROUP};

/// Requests `token` from `threads` threads until `stop`; every answer with the instant its
/// request was sent.
fn hammer(
    daemon: &Daemon,
    token: &str,
    threads: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<Vec<(Instant, u16)>>> {
    (0..threads)
        .map(|_| {
            let (sock, value, stop) = (daemon.http_sock(), bearer(token), stop.clone());
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let sent = Instant::now();
                    seen.push((sent, auth(&sock, &value)));
                }
                seen
            })
        })
        .collect()
}

/// One round: requests race `revoke` (run once the first of them are in flight); none
/// sent after it returned may be answered 200. Returns (answered 200 before, after).
fn race(daemon: &Daemon, token: &str, revoke: &[&str]) -> (usize, usize) {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = hammer(daemon, token, 6, &stop);
    std::thread::sleep(Duration::from_millis(5));
    daemon.cli_ok(revoke);
    let returned = Instant::now();
    // Fresh clients that start only now: they must not join a verification that began
    // before the command (the early clients are all waiting on it).
    let late = hammer(daemon, token, 3, &stop);
    // Long enough for verifications that began before the command to finish and try to
    // cache their result.
    std::thread::sleep(Duration::from_millis(400));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<(Instant, u16)> = threads
        .into_iter()
        .chain(late)
        .flat_map(|t| t.join().unwrap())
        .collect();
    let before = seen
        .iter()
        .filter(|(t, s)| *t < returned && *s == 200)
        .count();
    let late: Vec<_> = seen
        .iter()
        .filter(|(t, s)| *t > returned && *s == 200)
        .collect();
    assert!(
        late.is_empty(),
        "{} requests sent after `apitoken {revoke:?}` returned were allowed, the last {:?} after it",
        late.len(),
        late.iter().map(|(t, _)| t.duration_since(returned)).max()
    );
    (before, seen.len())
}

fn rounds(revoke: impl Fn(&Daemon, &str) -> Vec<String>) {
    let daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    let mut summary = Vec::new();
    for round in 0..12 {
        // Alternate slow legacy rows and current ones, used before the race or not. A
        // legacy row's first verification (argon2, three passes) is slow, which holds the
        // race window open.
        let token = if round % 2 == 0 {
            daemon.legacy_token("rev-owner", 3)
        } else {
            daemon.create_token("rev-owner")
        };
        if round % 4 == 3 {
            assert_eq!(auth(&daemon.http_sock(), &bearer(&token)), 200, "cached");
        }
        let args = revoke(&daemon, &token);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        summary.push(race(&daemon, &token, &args));
        assert_ne!(
            auth(&daemon.http_sock(), &bearer(&token)),
            200,
            "round {round}"
        );
    }
    println!("(allowed before the command returned, requests) per round: {summary:?}");
}

#[test]
fn revocation_is_immediate_delete_racing_requests() {
    rounds(|_, token| vec!["delete".into(), token_id(token).into()]);
}

#[test]
fn revocation_is_immediate_rotate_grace_0_racing_requests() {
    rounds(|_, token| {
        vec![
            "rotate".into(),
            token_id(token).into(),
            "--grace".into(),
            "0".into(),
        ]
    });
}

/// The owner of the token in the extension test; no other test uses this account.
const EXTENDED: &str = "atk-extended";

#[test]
fn revocation_is_immediate_cached_success_is_never_extended_by_a_flood() {
    ensure_group_member(ADMIN_GROUP, EXTENDED);
    let daemon = Daemon::start_with(
        "[password]\nbackend = \"none\"\n[cache]\nttl_seconds = 2\n",
        &[],
    );
    daemon.cli_ok(&["settings", "set", "admin-only-create", "on"]);
    daemon.cli_ok(&["settings", "set", "regular-users-use-tokens", "off"]);
    let token = daemon.create_token(EXTENDED);
    let sock = daemon.http_sock();
    assert_eq!(auth(&sock, &bearer(&token)), 200, "an admin's token");
    // Removed from the admin group behind the daemon's back (as an LDAP change would be).
    let removed = Command::new("gpasswd")
        .args(["-d", EXTENDED, ADMIN_GROUP])
        .output()
        .unwrap();
    assert!(removed.status.success(), "{removed:?}");
    let left = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let answers = Arc::new(Mutex::new(Vec::new()));
    let flood: Vec<_> = (0..6)
        .map(|_| {
            let (sock, id, stop) = (sock.clone(), token_id(&token).to_string(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    auth(&sock, &bearer(&forged_token(&id)));
                }
            })
        })
        .collect();
    // Within the cache lifetime (plus a second of slack) the change must have applied.
    let deadline = left + Duration::from_secs(3);
    let mut last = 200;
    while Instant::now() < deadline + Duration::from_secs(2) {
        last = auth(&sock, &bearer(&token));
        answers.lock().unwrap().push((left.elapsed(), last));
        if Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    stop.store(true, Ordering::Relaxed);
    for t in flood {
        t.join().unwrap();
    }
    let _ = Command::new("usermod")
        .args(["-a", "-G", ADMIN_GROUP, EXTENDED])
        .output();
    let answers = answers.lock().unwrap();
    let last_ok = answers
        .iter()
        .rev()
        .find(|(_, s)| *s == 200)
        .map(|(t, _)| *t);
    println!("owner left the admin group; last 200 after {last_ok:?} (ttl 2 s), then {last}");
    assert_eq!(
        last, 403,
        "3 s after the owner left the admin group (ttl 2 s), a flood kept the success alive"
    );
}

//! A host killed (SIGKILL) during a burst of creates loses no token it acknowledged: every
//! token the CLI printed works on another host afterwards.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use crate::common::pg::PgServer;
use crate::common::{eventually, Daemon};
use crate::{host, status};

const CREATORS: usize = 4;

/// Creates tokens on `h` until one create fails (the host is gone) or `stop`; the tokens
/// whose create was acknowledged.
fn create_until_gone(h: &Daemon, stop: &AtomicBool, acked: &Mutex<Vec<String>>) {
    while !stop.load(Ordering::Relaxed) {
        let out = h.cli(&["create", "--user", "root", "--name", "burst"]);
        if !out.status.success() {
            return;
        }
        let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
        acked.lock().unwrap().push(token);
    }
}

#[test]
fn outage_host_killed_during_creates_loses_no_acknowledged_token() {
    let server = PgServer::start();
    server.database("crash");
    let a = host(&server, "crash", 300, "");
    let b = host(&server, "crash", 300, "");
    let (stop, acked) = (AtomicBool::new(false), Mutex::new(Vec::new()));
    std::thread::scope(|s| {
        for _ in 0..CREATORS {
            s.spawn(|| create_until_gone(&a, &stop, &acked));
        }
        let enough = eventually(Duration::from_secs(60), || {
            acked.lock().unwrap().len() >= 30
        });
        let killed = std::process::Command::new("kill")
            .args(["-KILL", &a.pid().to_string()])
            .status()
            .unwrap();
        stop.store(true, Ordering::Relaxed);
        assert!(enough && killed.success(), "the burst did not get going");
    });
    let acked = acked.into_inner().unwrap();
    let lost: Vec<&String> = acked.iter().filter(|t| status(&b, t) != 200).collect();
    let stored = server.psql_in("crash", "SELECT count(*) FROM tokens WHERE name = 'burst'");
    eprintln!(
        "{} creates acknowledged before the kill, {} tokens stored, {} lost",
        acked.len(),
        stored.trim(),
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "{} acknowledged tokens do not work on the other host",
        lost.len()
    );
    assert!(stored.trim().parse::<usize>().unwrap() >= acked.len());
}

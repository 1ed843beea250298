//! A 30 s database stop under load through a real nginx: clients loop through nginx →
//! http.sock with tokens the host had verified before (cached) and tokens it never saw
//! (uncached). No cached request fails at any time, although the cache lifetime (10 s)
//! ends during the stop: the grace (120 s) keeps the records; no uncached request made
//! during the stop is answered 200, and each answer is quick.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::common::pg::PgServer;
use crate::common::tokens::{bearer, forged_token};
use crate::common::Daemon;
use crate::nginx_harness::Nginx;
use crate::{host, wait_store};

const CLIENTS: usize = 4;
const TOKENS: usize = 8;
const STOP: Duration = Duration::from_secs(30);

/// What a request presents.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// A token the host verified before the stop.
    Cached,
    /// A valid token the host never saw; presented only while the database is stopped
    /// (afterwards the first success would cache it).
    Uncached,
    /// A well-formed token of an id nobody holds (401 while the database answers).
    Stranger,
}

/// One request: what it presented, when it was sent and answered, the status (0: no
/// answer from nginx).
struct Sample {
    kind: Kind,
    sent: Instant,
    answered: Instant,
    status: u16,
}

/// The tokens of each kind, and the phase the test is in.
struct Load<'a> {
    nginx: &'a Nginx,
    cached: &'a [String],
    uncached: &'a [String],
    strangers: &'a [String],
    outage: &'a AtomicBool,
    stop: &'a AtomicBool,
}

fn ask(nginx: &Nginx, token: &str) -> u16 {
    let auth = bearer(token);
    nginx
        .try_request("GET", "/api/resource", &[("Authorization", &auth)], b"")
        .map_or(0, |r| r.status)
}

impl Load<'_> {
    fn client(&self, n: usize) -> Vec<Sample> {
        let mut out = Vec::new();
        let mut i = n;
        while !self.stop.load(Ordering::Relaxed) {
            i += 1;
            let kind = match i % 3 {
                0 => Kind::Cached,
                1 if self.outage.load(Ordering::Relaxed) => Kind::Uncached,
                _ => Kind::Stranger,
            };
            let pool = match kind {
                Kind::Cached => self.cached,
                Kind::Uncached => self.uncached,
                Kind::Stranger => self.strangers,
            };
            let sent = Instant::now();
            let status = ask(self.nginx, &pool[(i / 3) % pool.len()]);
            let answered = Instant::now();
            out.push(Sample {
                kind,
                sent,
                answered,
                status,
            });
            std::thread::sleep(Duration::from_millis(5));
        }
        out
    }
}

/// Runs the clients through a warm-up, the stop and a recovery; the samples and when
/// the stop began and ended.
fn run(
    load: &Load<'_>,
    server: &PgServer,
    h: &crate::common::Daemon,
) -> (Vec<Sample>, Instant, Instant) {
    let samples = Mutex::new(Vec::new());
    let (down, back) = std::thread::scope(|s| {
        for n in 0..CLIENTS {
            let samples = &samples;
            s.spawn(move || {
                let mine = load.client(n);
                samples.lock().unwrap().extend(mine);
            });
        }
        std::thread::sleep(Duration::from_secs(3));
        server.pause();
        let down = Instant::now();
        load.outage.store(true, Ordering::Relaxed);
        std::thread::sleep(STOP);
        load.outage.store(false, Ordering::Relaxed);
        let back = Instant::now();
        server.resume();
        wait_store(h, true);
        std::thread::sleep(Duration::from_secs(3));
        load.stop.store(true, Ordering::Relaxed);
        (down, back)
    });
    (samples.into_inner().unwrap(), down, back)
}

/// Tokens to be cached before the stop, tokens first used during it, and tokens the
/// database never held.
fn tokens(h: &Daemon) -> (Vec<String>, Vec<String>, Vec<String>) {
    let cached: Vec<String> = (0..TOKENS).map(|_| h.create_token("root")).collect();
    let uncached: Vec<String> = (0..TOKENS).map(|_| h.create_token("root")).collect();
    let strangers: Vec<String> = (0..TOKENS)
        .map(|i| forged_token(&format!("Zz{i:06}")))
        .collect();
    (cached, uncached, strangers)
}

#[test]
fn outage_30_s_database_stop_under_nginx_load_fails_no_cached_request() {
    let server = PgServer::start();
    server.database("load");
    let extra = "[password]\nbackend = \"none\"\n[cache]\nttl_seconds = 10\n";
    let h = host(&server, "load", 120, extra);
    let nginx = Nginx::start(&h.http_sock());
    let (cached, uncached, strangers) = tokens(&h);
    for t in &cached {
        assert_eq!(ask(&nginx, t), 200);
    }
    let (outage, stop) = (AtomicBool::new(false), AtomicBool::new(false));
    let load = Load {
        nginx: &nginx,
        cached: &cached,
        uncached: &uncached,
        strangers: &strangers,
        outage: &outage,
        stop: &stop,
    };
    let (samples, down, back) = run(&load, &server, &h);
    let during = |s: &&Sample| s.sent > down && s.answered < back;
    let of = |k: Kind| samples.iter().filter(move |s| s.kind == k);
    let failed: Vec<u16> = of(Kind::Cached)
        .filter(|s| s.status != 200)
        .map(|s| s.status)
        .collect();
    let undecided: Vec<&Sample> = of(Kind::Uncached)
        .chain(of(Kind::Stranger).filter(during))
        .collect();
    let slowest = samples
        .iter()
        .filter(during)
        .map(|s| s.answered - s.sent)
        .max()
        .unwrap();
    eprintln!(
        "{} requests, {} during the 30 s stop; cached: {} failed of {}; uncached and unknown \
         during the stop: {} ({} answered 200); slowest answer during the stop {slowest:?}",
        samples.len(),
        samples.iter().filter(during).count(),
        failed.len(),
        of(Kind::Cached).count(),
        undecided.len(),
        undecided.iter().filter(|s| s.status == 200).count()
    );
    assert!(failed.is_empty(), "cached requests failed with {failed:?}");
    assert!(
        undecided.len() >= 20,
        "too few uncached requests during the stop"
    );
    let statuses: std::collections::BTreeSet<u16> = undecided.iter().map(|s| s.status).collect();
    assert_eq!(statuses, [500].into(), "uncached tokens during the stop");
    assert!(of(Kind::Stranger).all(|s| s.status != 200));
    assert!(
        slowest < Duration::from_secs(2),
        "an answer during the stop took {slowest:?}"
    );
    let works = || ask(&nginx, &uncached[0]) == 200;
    assert!(crate::common::eventually(Duration::from_secs(10), works));
}

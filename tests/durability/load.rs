//! The background writers of the crash test: they drive the real `apitoken` against the
//! admin socket and record in a [`Ledger`] what was acknowledged and what was not.

use super::{stdout, CREATES_PER_ROUND, CREATORS, SETTING};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs the real `apitoken` against `sock`, without the harness (threads share no daemon).
fn apitoken(sock: &Path, args: &[&str]) -> Output {
    super::common::run::apitoken(sock, None, args, "")
}

/// What the command line acknowledged, and what it tried without an acknowledgement.
#[derive(Default)]
pub struct Ledger {
    /// (name, token) of every creation that exited 0 and printed a token.
    pub created: Vec<(String, String)>,
    /// Names of creations that did not (the daemon died under them).
    pub unacknowledged_names: Vec<String>,
    /// Ids whose `apitoken delete` exited 0.
    pub deleted: Vec<String>,
    /// Ids whose deletion was attempted without an acknowledgement: either outcome is fine.
    pub delete_unknown: Vec<String>,
    /// Every settings value tried, in order, with whether it was acknowledged.
    pub settings: Vec<(u32, bool)>,
}

/// The background writers of one round.
pub struct Load {
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    acked_creates: Arc<AtomicUsize>,
    acked_deletes: Arc<AtomicUsize>,
    acked_settings: Arc<AtomicUsize>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// Starts the writers of `round`: the creators, the deleter of `victims` and the
    /// settings changer, whose first value is `next_setting`.
    pub fn start(
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
            let writer = Writer {
                sock: sock.clone(),
                stop: stop.clone(),
                ledger: ledger.clone(),
                acked: acked_creates.clone(),
            };
            threads.push(std::thread::spawn(move || writer.create(round, t)));
        }
        let deleter = Writer {
            sock: sock.clone(),
            stop: stop.clone(),
            ledger: ledger.clone(),
            acked: acked_deletes.clone(),
        };
        threads.push(std::thread::spawn(move || deleter.delete(victims)));
        let setter = Writer {
            sock,
            stop: stop.clone(),
            ledger: ledger.clone(),
            acked: acked_settings.clone(),
        };
        threads.push(std::thread::spawn(move || {
            setter.change_setting(next_setting)
        }));
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
    pub fn wait_busy(&self) {
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

    /// Stops the writers and hands back what they recorded.
    pub fn stop(self) -> Arc<Mutex<Ledger>> {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            t.join().unwrap();
        }
        self.ledger
    }
}

/// One background writer: where it writes, when to stop, where it records what happened,
/// and its count of acknowledgements.
struct Writer {
    sock: PathBuf,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
    acked: Arc<AtomicUsize>,
}

impl Writer {
    /// Creates tokens of `dur{t}` named `r{round}-t{t}-n{n}` until told to stop.
    fn create(self, round: usize, t: usize) {
        let mut n = 0;
        while !self.stop.load(Ordering::Acquire) {
            let name = format!("r{round}-t{t}-n{n}");
            n += 1;
            let user = format!("dur{t}");
            let out = apitoken(&self.sock, &["create", "--user", &user, "--name", &name]);
            let token = stdout(&out);
            let mut ledger = self.ledger.lock().unwrap();
            if out.status.success() && token.starts_with("atk_") {
                ledger.created.push((name, token));
                self.acked.fetch_add(1, Ordering::Release);
            } else {
                ledger.unacknowledged_names.push(name);
            }
        }
    }

    /// Deletes `victims` one by one until they are gone or it is told to stop.
    fn delete(self, victims: Vec<String>) {
        for id in victims {
            if self.stop.load(Ordering::Acquire) {
                break;
            }
            let out = apitoken(&self.sock, &["delete", &id]);
            let mut ledger = self.ledger.lock().unwrap();
            if out.status.success() {
                ledger.deleted.push(id);
                self.acked.fetch_add(1, Ordering::Release);
            } else {
                ledger.delete_unknown.push(id);
            }
        }
    }

    /// Sets [`SETTING`] to `first`, `first + 1`, ... until told to stop.
    fn change_setting(self, first: u32) {
        let mut value = first;
        while !self.stop.load(Ordering::Acquire) {
            let text = value.to_string();
            let out = apitoken(&self.sock, &["settings", "set", SETTING, &text]);
            let ok = out.status.success();
            self.ledger.lock().unwrap().settings.push((value, ok));
            if ok {
                self.acked.fetch_add(1, Ordering::Release);
            }
            value += 1;
        }
    }
}

//! The fleet of a test: a PostgreSQL server, one database, and hosts that each run a
//! daemon on it behind an nginx of their own.

use std::time::{Duration, Instant};

use crate::common::pam::{env_refs, pam_matrix_backend};
use crate::common::pg::PgServer;
use crate::common::tokens::{basic, bearer};
use crate::common::{stderr, Daemon};
use crate::nginx_harness::Nginx;

/// The one account whose password pam_matrix knows on every host.
pub const PASSWORD: &str = "correct horse battery";

/// One host: its daemon and the nginx in front of it (stopped in this order).
pub struct Host {
    pub daemon: Daemon,
    pub nginx: Nginx,
}

/// Hosts sharing one database; dropped before the server they use.
pub struct Fleet {
    pub hosts: Vec<Host>,
    _server: PgServer,
    _pam: tempfile::TempDir,
}

impl Fleet {
    /// `n` hosts on a new database; `user`'s password is [`PASSWORD`] on each.
    pub fn start(n: usize, user: &str) -> Fleet {
        let server = PgServer::start();
        let url = server.database("fleet");
        let (pam_toml, env, pam) = pam_matrix_backend(&[(user, PASSWORD)]);
        let toml = format!("{pam_toml}\n{}", server.store_toml(&url));
        let hosts = (0..n)
            .map(|_| {
                let daemon = Daemon::start_with(&toml, &env_refs(&env));
                let nginx = Nginx::start(&daemon.http_sock());
                Host { daemon, nginx }
            })
            .collect();
        Fleet {
            hosts,
            _server: server,
            _pam: pam,
        }
    }
}

impl Host {
    /// The status nginx answers for the protected application with `authorization`.
    pub fn api(&self, authorization: &[u8]) -> u16 {
        self.nginx.api(Some(authorization)).status
    }

    /// With a Bearer token.
    pub fn token(&self, token: &str) -> u16 {
        self.api(&bearer(token))
    }

    /// With Basic `user:password`.
    pub fn password(&self, user: &str, password: &str) -> u16 {
        self.api(&basic(user.as_bytes(), password.as_bytes()))
    }

    /// Runs `apitoken ARGS` as root on this host; its stdout (the test fails on an error).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = self.daemon.cli(args);
        assert!(out.status.success(), "apitoken {args:?}: {}", stderr(&out));
        crate::common::stdout(&out)
    }
}

/// How long after now `f` first returns true, polling every 2 ms for at most `limit`.
pub fn time_until(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

/// The `q` quantile of sorted `v` (nearest rank below).
pub fn quantile(v: &[Duration], q: f64) -> Duration {
    v[((v.len() as f64 - 1.0) * q) as usize]
}

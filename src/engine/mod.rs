//! The decision core shared by every front end.
//!
//! - [`Engine::decide`] (in `judge`): given a credential, the claimed user, the client
//!   address, the front end and the service, it allows (user, method, token id) or denies
//!   (reason), applying every rule of SPEC §5, and emits exactly one `auth.*` event per
//!   decision. `apitoken verify` is judged by it too. It never writes the database on the
//!   hot path.
//! - The change operations (in `ops`): create, delete, delete-all, rotate, rename, prune,
//!   a setting, allowed networks, reset failures, upgrade a verifier. Each applies the
//!   rules of `policy` (who may, and what a change may carry), commits with its audit row
//!   in one transaction, logs it and invalidates what it changed, here only; front ends
//!   (`admin`, `web`) parse, call and render.
//!
//! The engine's state is private: front ends reach it through these operations and a
//! few read-only accessors.

mod account;
mod attempt;
mod change;
mod judge;
mod ops;
mod outbox;
mod policy;
mod reads;
mod remote;
mod sessions;
mod settings_ops;

use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tokio::sync::Semaphore;

use crate::audit::Syslog;
use crate::audit::{Event, Severity};
use crate::cache::Cache;
use crate::clock::{Clock, SystemClock};
use crate::config::{Config, ConfigError};
use crate::lastused::LastUsedBuffer;
use crate::lockout::Lockout;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::store::Store;
use crate::verify::Verifier;

pub use change::{Actor, OpError, Origin, Refusal};
pub use outbox::Outbox;
pub use policy::{valid_user_name, TokenRequest};
pub use reads::Counters;
pub use sessions::SessionCheck;
pub use settings_ops::NetworkChange;

/// Which front end asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Http,
    Pam,
    External,
    /// `apitoken verify` on the admin socket.
    Cli,
    /// A credential on a REST request of the web face: tokens need the `manage` scope.
    Web,
    /// The web face's login form: the password is checked even while `password-auth` is
    /// off (SPEC §11); `allowed-networks`, lockout and the backend still apply.
    WebLogin,
}

impl Via {
    /// The `via` of `auth.*` events.
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Http => "http",
            Via::Pam => "pam",
            Via::External => "external",
            Via::Cli => "cli",
            Via::Web | Via::WebLogin => "web",
        }
    }
}

/// Where the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddr {
    Ip(IpAddr),
    /// Not given or not an IP address: refused while `allowed-networks` is not empty.
    Unknown,
    /// A local console (PAM without `PAM_RHOST`): not subject to `allowed-networks`.
    Local,
}

impl ClientAddr {
    /// Whether `allowed-networks` lets this client in: a local console always, an unknown
    /// address only while the list is empty.
    fn allowed_by(self, s: &Settings) -> bool {
        match self {
            ClientAddr::Local => true,
            ClientAddr::Unknown => s.allowed_networks.is_empty(),
            ClientAddr::Ip(ip) => s.network_rule(ip).0,
        }
    }
}

/// How the secret arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Authorization: Bearer`: a token and nothing else.
    Bearer,
    /// A user name and a secret that may be a token or a password.
    UserSecret,
}

/// One question.
pub struct AuthRequest<'a> {
    pub kind: Kind,
    /// The claimed user (empty for Bearer).
    pub user: &'a str,
    pub secret: &'a [u8],
    pub addr: ClientAddr,
    pub via: Via,
    pub service: &'a str,
    /// The HTTP method asked for (from `X-Original-Method`); empty outside HTTP.
    pub method: &'a str,
    /// The URI asked for (from `X-Original-URI`); empty when unknown.
    pub uri: &'a str,
}

/// Why a credential was refused (the `reason` of `auth.failure`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    InvalidToken,
    Expired,
    WrongUser,
    BadPassword,
    PasswordDisabled,
    IpDenied,
    Locked,
    OwnerNotAllowed,
    /// A rotated-away token presented after its grace period.
    Rotated,
    /// The token's scopes or path prefixes do not cover the request.
    Scope,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidToken => "invalid_token",
            Reason::Expired => "expired",
            Reason::WrongUser => "wrong_user",
            Reason::BadPassword => "bad_password",
            Reason::PasswordDisabled => "password_disabled",
            Reason::IpDenied => "ip_denied",
            Reason::Locked => "locked",
            Reason::OwnerNotAllowed => "owner_not_allowed",
            Reason::Rotated => "rotated",
            Reason::Scope => "scope",
        }
    }
}

/// The engine's answer; each front end maps it in exactly one `match`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow {
        user: String,
        token_id: Option<String>,
    },
    /// Wrong credentials (HTTP 401).
    Unauthorized(Reason),
    /// Refused by policy (HTTP 403): address, password logins off, owner not allowed.
    Forbidden(Reason),
    /// The user is locked out (HTTP 403).
    Locked,
    /// Not a token and passwords are allowed: the PAM stack decides.
    Ignore,
    /// The engine could not decide (HTTP 500).
    Error,
}

/// Why the engine could not start.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Everything a decision needs, shared by all front ends and the admin socket.
pub struct Engine {
    store: Arc<dyn Store>,
    settings: RwLock<Arc<Settings>>,
    verifier: Verifier,
    lockout: Lockout,
    syslog: Syslog,
    metrics: Metrics,
    last_used: LastUsedBuffer,
    /// Audit records and failure rows waiting for the database to answer again.
    outbox: Arc<Outbox>,
    config: RwLock<Arc<Config>>,
    clock: Arc<dyn Clock>,
    password_slots: Semaphore,
    /// When each rotated-away token was last reported as reused.
    reuse_reported: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    started: Instant,
}

impl Engine {
    /// Builds the engine over an open store, on the system clock.
    pub fn new(config: Config, store: Arc<dyn Store>) -> Result<Engine, EngineError> {
        Engine::with_clock(config, store, Arc::new(SystemClock))
    }

    /// Builds the engine on `clock` (tests pass a manual one). Only failure rows that
    /// still matter (locks, open windows) are loaded.
    pub fn with_clock(
        config: Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
    ) -> Result<Engine, EngineError> {
        let settings = store.settings()?;
        let now = clock.now();
        let window = settings.lockout_window as i64;
        let lockout = Lockout::new(store.failures(now, window, crate::lockout::MAX_USERS)?);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cache = Cache::new(config.cache.ttl_seconds, config.cache.max_entries);
        Ok(Engine {
            verifier: Verifier::new(store.clone(), cache, clock.clone(), cores.div_ceil(2))?,
            syslog: Syslog::new(&config.syslog)?,
            settings: RwLock::new(Arc::new(settings)),
            lockout,
            metrics: Metrics::default(),
            last_used: LastUsedBuffer::default(),
            outbox: Arc::default(),
            password_slots: Semaphore::new(4),
            reuse_reported: Default::default(),
            started: Instant::now(),
            store,
            clock,
            config: RwLock::new(Arc::new(config)),
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The counters of `/metrics`.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The clock decisions and operations use.
    pub fn clock(&self) -> &dyn Clock {
        self.clock.as_ref()
    }

    /// When the engine started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Applies a re-read configuration file, or keeps the running one when it could not
    /// be read; either way logs a `config.reload` event naming what needs a restart
    /// (directories, listeners, cache size) or why the file was refused.
    pub fn reload(&self, loaded: Result<Config, ConfigError>) {
        let now = self.clock.now();
        let new = match loaded {
            Ok(new) => new,
            Err(e) => {
                eprintln!(
                    "apitokend: reload refused, the running configuration stays in force: {e}"
                );
                let event = Event::new("config.reload", now)
                    .with("result", "refused")
                    .with("error", e.to_string());
                self.syslog.emit(&event, Severity::Warning);
                return;
            }
        };
        let restart = restart_needed(&self.config(), &new);
        self.syslog.retarget(&new.syslog);
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
        // Admin membership (admin_group) may have changed: reload every record.
        self.verifier.clear();
        let mut event = Event::new("config.reload", now).with("result", "ok");
        if restart.is_empty() {
            eprintln!("apitokend: configuration reloaded");
        } else {
            event.push("restart_needed", restart.join(","));
            eprintln!(
                "apitokend: configuration reloaded; restart to apply: {}",
                restart.join(", ")
            );
        }
        self.syslog.emit(&event, Severity::Info);
    }

    /// Puts new settings in force (after the store committed them). Policy is applied on
    /// every request, so the cache stays.
    fn replace_settings(&self, s: Settings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
    }

    /// Background upkeep (every few seconds): writes pending last-used data and what the
    /// outbox holds, and drops failure records whose window ended, in memory and in the
    /// store. Blocking. While the database does not answer, last-used data and the
    /// outbox wait for a later tick.
    pub fn housekeep(&self) {
        let now = self.clock.now();
        let batch = self.last_used.take(now);
        if !batch.is_empty() {
            if let Err(e) = self.store.record_last_used(&batch) {
                if e.is_unavailable() {
                    self.last_used.put_back(batch);
                } else {
                    eprintln!("apitokend: cannot record last-used data: {e}");
                }
            }
        }
        if !self.outbox.is_empty() {
            match self.outbox.deliver(self.store.as_ref()) {
                Ok(n) => eprintln!(
                    "apitokend: delivered {n} records kept while the database did not answer"
                ),
                Err(e) if e.is_unavailable() => {}
                Err(e) => eprintln!("apitokend: cannot deliver kept records: {e}"),
            }
        }
        let s = self.settings();
        self.lockout.sweep(now, &s);
        if let Err(e) = self.store.expire_failures(now, s.lockout_window as i64) {
            if !e.is_unavailable() {
                eprintln!("apitokend: cannot drop old failure records: {e}");
            }
        }
    }
}

/// The keys whose change from `old` to `new` only takes effect after a restart.
fn restart_needed(old: &Config, new: &Config) -> Vec<&'static str> {
    let checks = [
        ("state_dir", old.state_dir != new.state_dir),
        ("runtime_dir", old.runtime_dir != new.runtime_dir),
        ("http.listen", old.http.listen != new.http.listen),
        (
            "http.socket_group",
            old.http.socket_group != new.http.socket_group,
        ),
        ("cache", old.cache != new.cache),
        ("socket_access", old.socket_access != new.socket_access),
    ];
    checks
        .into_iter()
        .filter_map(|(key, changed)| changed.then_some(key))
        .collect()
}

/// The client address as logged: the canonical IP, `unknown` or `local`.
fn shown_ip(addr: ClientAddr) -> String {
    match addr {
        ClientAddr::Ip(ip) => ip.to_canonical().to_string(),
        ClientAddr::Unknown => "unknown".into(),
        ClientAddr::Local => "local".into(),
    }
}

mod jobs;
pub use jobs::EXPIRY_WARNING_DAYS;

#[cfg(test)]
mod clock_tests;
#[cfg(test)]
mod tests;

//! The decision engine shared by every front end: given a credential, the claimed user,
//! the client address, the front end and the service, it allows (user, method, token id)
//! or denies (reason), applying every rule of SPEC §5, and emits exactly one `auth.*`
//! event per decision. It never touches the database on the hot path.

use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::time::Instant;
use tokio::sync::Semaphore;

use crate::audit::{Event, Severity, Syslog};
use crate::cache::{Cache, Verified};
use crate::config::{Config, PasswordBackend};
use crate::lastused::LastUsedBuffer;
use crate::lockout::Lockout;
use crate::metrics::Metrics;
use crate::scope::Access;
use crate::settings::Settings;
use crate::store::{FailureRow, Store};
use crate::token::Token;
use crate::verify::Verifier;

/// Which front end asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Http,
    Pam,
    External,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Http => "http",
            Via::Pam => "pam",
            Via::External => "external",
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
    /// The HTTP method asked for (from `X-Original-Method`); from the Apache helper, the
    /// access its configuration names (`read` or `write`); empty for PAM.
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

/// Everything a decision needs, shared by all front ends and the admin socket.
pub struct Engine {
    pub store: Arc<dyn Store>,
    settings: RwLock<Arc<Settings>>,
    pub cache: Cache,
    pub verifier: Verifier,
    pub lockout: Lockout,
    pub syslog: Syslog,
    pub metrics: Metrics,
    pub last_used: LastUsedBuffer,
    config: RwLock<Arc<Config>>,
    password_slots: Semaphore,
    /// When each rotated-away token was last reported as reused.
    reuse_reported: std::sync::Mutex<std::collections::HashMap<String, i64>>,
    pub started: Instant,
}

/// Adds what was asked for (`GET /path` from nginx, the URI from Apache), when known.
fn with_request(e: Event, req: &AuthRequest<'_>) -> Event {
    let text = format!("{} {}", req.method, req.uri);
    match text.trim() {
        "" => e,
        t => e.with("request", t),
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl Engine {
    /// Builds the engine over an open store.
    pub fn new(
        config: Config,
        store: Arc<dyn Store>,
    ) -> Result<Engine, crate::server::ServerError> {
        let settings = store.settings()?;
        let lockout = Lockout::new(store.failures(
            now(),
            settings.lockout_window as i64,
            crate::lockout::MAX_USERS,
        )?);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(Engine {
            verifier: Verifier::new(store.clone(), cores.div_ceil(2)),
            cache: Cache::new(
                std::time::Duration::from_secs(config.cache.ttl_seconds),
                config.cache.max_entries,
            )?,
            syslog: Syslog::new(&config.syslog)?,
            settings: RwLock::new(Arc::new(settings)),
            lockout,
            metrics: Metrics::default(),
            last_used: LastUsedBuffer::default(),
            password_slots: Semaphore::new(4),
            reuse_reported: Default::default(),
            started: Instant::now(),
            store,
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

    /// Applies a re-read configuration file. Returns the keys whose change only takes
    /// effect after a restart (directories, listeners, cache size).
    pub fn reload(&self, new: Config) -> Vec<&'static str> {
        let old = self.config();
        let mut restart = Vec::new();
        let checks = [
            ("state_dir", old.state_dir != new.state_dir),
            ("runtime_dir", old.runtime_dir != new.runtime_dir),
            ("http.listen", old.http.listen != new.http.listen),
            (
                "http.socket_group",
                old.http.socket_group != new.http.socket_group,
            ),
            ("cache", old.cache != new.cache),
        ];
        for (key, changed) in checks {
            if changed {
                restart.push(key);
            }
        }
        self.syslog.retarget(&new.syslog);
        *self.config.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
        // Admin membership and password rules may have changed: re-verify everything.
        self.cache.clear();
        restart
    }

    /// The settings in force.
    pub fn settings(&self) -> Arc<Settings> {
        self.settings
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Replaces the settings (after the store committed them) and empties the cache, so the
    /// change applies to the very next request.
    pub fn replace_settings(&self, s: Settings) {
        *self.settings.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(s);
        self.cache.clear();
    }

    /// Decides one request and emits its event.
    pub async fn decide(&self, req: &AuthRequest<'_>) -> Decision {
        let started = Instant::now();
        let now = now();
        let settings = self.settings();
        let config = self.config();
        let (decision, user) = self.judge(req, &settings, &config, now).await;
        self.account(req, &settings, &config, &decision, &user, now);
        let index = match decision {
            Decision::Allow { .. } => 0,
            Decision::Unauthorized(_) => 1,
            Decision::Forbidden(_) | Decision::Locked => 2,
            Decision::Ignore => 3,
            Decision::Error => 4,
        };
        self.metrics
            .observe(req.via.as_str(), index, started.elapsed());
        decision
    }

    async fn judge(
        &self,
        req: &AuthRequest<'_>,
        s: &Settings,
        config: &Config,
        now: i64,
    ) -> (Decision, String) {
        let claimed = req.user.to_string();
        let allowed = match req.addr {
            ClientAddr::Local => true,
            ClientAddr::Unknown => s.allowed_networks.is_empty(),
            ClientAddr::Ip(ip) => s.network_rule(ip).0,
        };
        if !allowed {
            return (Decision::Forbidden(Reason::IpDenied), claimed);
        }
        if !claimed.is_empty() && self.lockout.is_locked(&claimed, now) {
            return (Decision::Locked, claimed);
        }
        // Anything that starts like a token is judged as one: a mistyped or truncated
        // token fails here (before any lookup) instead of reaching password checks.
        let text = std::str::from_utf8(req.secret).unwrap_or("");
        if !text.starts_with(crate::token::PREFIX) {
            return (self.judge_password(req, s, config).await, claimed);
        }
        match Token::parse(text) {
            Ok(token) => self.judge_token(req, &token, s, config, now).await,
            Err(_) => (Self::wrong(s, Reason::InvalidToken), claimed),
        }
    }

    /// A wrong credential: 401 while passwords are allowed, 403 when they are off.
    fn wrong(s: &Settings, reason: Reason) -> Decision {
        if s.password_auth {
            Decision::Unauthorized(reason)
        } else {
            Decision::Forbidden(reason)
        }
    }

    async fn judge_token(
        &self,
        req: &AuthRequest<'_>,
        token: &Token,
        s: &Settings,
        config: &Config,
        now: i64,
    ) -> (Decision, String) {
        let claimed = req.user.to_string();
        let fp = self.cache.fingerprint(token);
        let entry: Arc<Verified> = match self.cache.get(&fp) {
            Some(e) => e,
            None => match self
                .verifier
                .verify(
                    &self.cache,
                    fp,
                    token,
                    &config.admin_group,
                    now,
                    &self.metrics,
                )
                .await
            {
                Ok(Some(e)) => e,
                Ok(None) => return (Self::wrong(s, Reason::InvalidToken), claimed),
                Err(e) => {
                    // Overload (too many verifications queued) or a database failure is
                    // not a wrong credential: answer 500 / AUTHINFO_UNAVAIL, count nothing.
                    // Overload is counted in /metrics; anything else is worth a line.
                    if !matches!(e, crate::verify::VerifyError::Busy) {
                        eprintln!("apitokend: cannot verify token {}: {e}", token.id());
                    }
                    return (Decision::Error, claimed);
                }
            },
        };
        if entry.expires_at.is_some_and(|t| t <= now) {
            return (Self::wrong(s, Reason::Expired), claimed);
        }
        if entry.revoke_at.is_some_and(|t| t <= now) {
            self.report_reuse(req, &entry, now);
            return (Self::wrong(s, Reason::Rotated), claimed);
        }
        if req.kind == Kind::UserSecret && claimed != entry.owner {
            return (Self::wrong(s, Reason::WrongUser), claimed);
        }
        if self.lockout.is_locked(&entry.owner, now) {
            return (Decision::Locked, entry.owner.clone());
        }
        if s.admin_only_create && !s.regular_users_use_tokens && !entry.owner_admin {
            return (
                Decision::Forbidden(Reason::OwnerNotAllowed),
                entry.owner.clone(),
            );
        }
        let ip = match req.addr {
            ClientAddr::Ip(ip) => Some(ip.to_canonical()),
            _ => None,
        };
        let r = &entry.restrictions;
        if req.addr != ClientAddr::Local && !r.allows_ip(ip) {
            return (Decision::Forbidden(Reason::IpDenied), entry.owner.clone());
        }
        let in_scope = match req.via {
            Via::Http => {
                r.scopes.allows(Access::of_http(req.method, req.uri)) && r.allows_path(req.uri)
            }
            Via::Pam => r.scopes.login,
            // Apache passes the URI, so path prefixes hold there too; it cannot pass the
            // method, so its snippet says `read` or `write` (AuthExternalContext).
            Via::External => {
                r.scopes.allows(Access::from_word(req.method)) && r.allows_path(req.uri)
            }
        };
        if !in_scope {
            return (Decision::Forbidden(Reason::Scope), entry.owner.clone());
        }
        self.last_used.touch(&entry.id, ip, now);
        (
            Decision::Allow {
                user: entry.owner.clone(),
                token_id: Some(entry.id.clone()),
            },
            entry.owner.clone(),
        )
    }

    /// A rotated-away token came back after its grace period: the sign of a leak. Logged
    /// and kept in the audit trail (written off the request path), once a minute per token.
    fn report_reuse(&self, req: &AuthRequest<'_>, entry: &Verified, now: i64) {
        {
            // At most one report per token and front end a minute: a leaked token replayed in a loop must
            // not grow the audit table without bound (every attempt is still an
            // `auth.failure reason=rotated` line).
            let mut reported = self
                .reuse_reported
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let key = format!("{}/{}", entry.id, req.via.as_str());
            if reported.get(&key).is_some_and(|&t| now - t < 60) {
                return;
            }
            if reported.len() >= 10_000 {
                reported.retain(|_, t| now - *t < 60);
            }
            reported.insert(key, now);
        }
        let ip = match req.addr {
            ClientAddr::Ip(ip) => ip.to_canonical().to_string(),
            ClientAddr::Unknown => "unknown".into(),
            ClientAddr::Local => "local".into(),
        };
        let event = Event::new("token.reuse", now)
            .with("user", entry.owner.as_str())
            .with("token_id", entry.id.as_str())
            .with("ip", ip)
            .with("via", req.via.as_str());
        self.syslog.emit(&event, Severity::Warning);
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            if let Err(e) = store.append_event(&event) {
                eprintln!("apitokend: cannot record token.reuse: {e}");
            }
        });
    }

    async fn judge_password(
        &self,
        req: &AuthRequest<'_>,
        s: &Settings,
        config: &Config,
    ) -> Decision {
        if !s.password_auth {
            return Decision::Forbidden(Reason::PasswordDisabled);
        }
        if req.kind == Kind::Bearer || req.user.is_empty() {
            return Decision::Unauthorized(Reason::InvalidToken);
        }
        if req.via == Via::Pam {
            return Decision::Ignore;
        }
        if config.password.backend == PasswordBackend::None {
            return Decision::Unauthorized(Reason::BadPassword);
        }
        let Ok(_permit) = self.password_slots.acquire().await else {
            return Decision::Error;
        };
        self.metrics.password_checks.fetch_add(1, Ordering::Relaxed);
        let service = config.password.pam_service.clone();
        let user = req.user.to_string();
        let secret = zeroize::Zeroizing::new(req.secret.to_vec());
        let rhost = match req.addr {
            ClientAddr::Ip(ip) => Some(ip.to_string()),
            _ => None,
        };
        let ok = tokio::task::spawn_blocking(move || {
            crate::password::authenticate(&service, &user, &secret, rhost.as_deref())
        })
        .await;
        match ok {
            Ok(true) => Decision::Allow {
                user: req.user.to_string(),
                token_id: None,
            },
            Ok(false) => Decision::Unauthorized(Reason::BadPassword),
            Err(_) => Decision::Error,
        }
    }

    /// Emits the decision's event, counts failures and persists lockout changes.
    fn account(
        &self,
        req: &AuthRequest<'_>,
        s: &Settings,
        config: &Config,
        d: &Decision,
        user: &str,
        now: i64,
    ) {
        // Only built when a line is written: the cached hot path logs nothing by default.
        let ip = || match req.addr {
            ClientAddr::Ip(ip) => ip.to_canonical().to_string(),
            ClientAddr::Unknown => "unknown".into(),
            ClientAddr::Local => "local".into(),
        };
        // A user name that looks like a token is probably one typed in the wrong field:
        // it is neither logged nor counted.
        let user = if user.starts_with(crate::token::PREFIX) {
            ""
        } else {
            user
        };
        let shown_user = if user.is_empty() { "-" } else { user };
        let reason = match d {
            Decision::Allow { token_id, .. } => {
                if config.syslog.log_success {
                    let method = if token_id.is_some() {
                        "token"
                    } else {
                        "password"
                    };
                    let e = Event::new("auth.success", now)
                        .with("user", shown_user)
                        .with("method", method)
                        .with("token_id", token_id.clone().unwrap_or_else(|| "-".into()))
                        .with("ip", ip())
                        .with("via", req.via.as_str())
                        .with("service", req.service);
                    self.syslog.emit(&with_request(e, req), Severity::Info);
                }
                if let Some(row) = self.lockout.record_success(user) {
                    self.persist_failure(row, None);
                }
                return;
            }
            Decision::Ignore | Decision::Error => return,
            Decision::Unauthorized(r) | Decision::Forbidden(r) => *r,
            Decision::Locked => Reason::Locked,
        };
        let e = Event::new("auth.failure", now)
            .with("user", shown_user)
            .with("ip", ip())
            .with("via", req.via.as_str())
            .with("reason", reason.as_str());
        self.syslog.emit(&with_request(e, req), Severity::Notice);
        let counts = matches!(
            reason,
            Reason::InvalidToken | Reason::Expired | Reason::WrongUser | Reason::BadPassword
        );
        if !counts || user.is_empty() {
            return;
        }
        if let Some(change) = self.lockout.record_failure(user, now, s) {
            let event = change.locked_now.then(|| {
                Event::new("user.lockout", now)
                    .with("user", user)
                    .with("failures", change.row.count.to_string())
            });
            if let Some(e) = &event {
                self.syslog.emit(e, Severity::Warning);
            }
            self.persist_failure(change.row, event);
        }
    }

    fn persist_failure(&self, row: FailureRow, event: Option<Event>) {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || {
            // The in-memory state already applies; a write error here loses only
            // persistence across a restart, so it is logged, not propagated.
            if let Err(e) = store.save_failure(&row, event.as_ref()) {
                eprintln!(
                    "apitokend: cannot persist failure count for {}: {e}",
                    row.user
                );
            }
        });
    }
}

#[cfg(test)]
mod tests;

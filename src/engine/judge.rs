//! The one decision: every front end, and `apitoken verify`, asks [`Engine::decide`].
//! Each rule of SPEC §5 is written here once.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use super::account::{Judged, LockNews};
use super::attempt::Begun;
use super::{AuthRequest, ClientAddr, Decision, Engine, Kind, Reason, Via};
use crate::audit::{Event, Severity};
use crate::cache::Record;
use crate::config::{Config, PasswordBackend};
use crate::scope::Access;
use crate::settings::Settings;
use crate::store::TokenState;
use crate::token::Token;

/// A wrong credential: 401 while passwords are allowed, 403 when they are off.
fn wrong(s: &Settings, reason: Reason) -> Decision {
    if s.password_auth {
        Decision::Unauthorized(reason)
    } else {
        Decision::Forbidden(reason)
    }
}

impl Engine {
    /// Decides one request and emits its event.
    pub async fn decide(&self, req: &AuthRequest<'_>) -> Decision {
        let started = Instant::now();
        let now = self.clock.now();
        let settings = self.settings();
        let config = self.config();
        let judged = self.judge(req, &settings, &config, now).await;
        self.account(req, &config, &judged, now);
        let index = match judged.decision {
            Decision::Allow { .. } => 0,
            Decision::Unauthorized(_) => 1,
            Decision::Forbidden(_) | Decision::Locked => 2,
            Decision::Ignore => 3,
            Decision::Error => 4,
        };
        self.metrics
            .observe(req.via.as_str(), index, started.elapsed());
        judged.decision
    }

    async fn judge(
        &self,
        req: &AuthRequest<'_>,
        s: &Arc<Settings>,
        config: &Config,
        now: i64,
    ) -> Judged {
        if !req.addr.allowed_by(s) {
            return Judged::of(Decision::Forbidden(Reason::IpDenied), req.user);
        }
        // Anything that starts like a token is judged as one: a mistyped or truncated
        // token fails here (before any lookup) instead of reaching password checks.
        let text = std::str::from_utf8(req.secret).unwrap_or("");
        if !text.starts_with(crate::token::PREFIX) {
            return self.judge_password(req, s, config, now).await;
        }
        match Token::parse(text) {
            Ok(token) => self.judge_token(req, &token, s, config, now).await,
            Err(_) => Judged::of(wrong(s, Reason::InvalidToken), req.user),
        }
    }

    async fn judge_token(
        &self,
        req: &AuthRequest<'_>,
        token: &Token,
        s: &Settings,
        config: &Config,
        now: i64,
    ) -> Judged {
        let verified = match self
            .verifier
            .verify(
                token,
                &config.admin_group,
                config.store.outage_grace_seconds,
                &self.metrics,
            )
            .await
        {
            Ok(Some(v)) => v,
            Ok(None) => return Judged::of(wrong(s, Reason::InvalidToken), req.user),
            Err(e) => {
                // Overload (too many legacy verifications queued) or a database failure
                // is not a wrong credential: answer 500 / AUTHINFO_UNAVAIL, count nothing.
                // An outage is logged once, by the store, when it begins.
                use crate::verify::VerifyError;
                if !matches!(e, VerifyError::Busy | VerifyError::Outage(_)) {
                    eprintln!("apitokend: cannot verify token {}: {e}", token.id());
                }
                return Judged::of(Decision::Error, req.user);
            }
        };
        if let Some(new) = verified.upgrade {
            self.upgrade_verifier(&verified.record, new).await;
        }
        let r = &verified.record;
        let decision = self.token_rules(req, r, s, now);
        if matches!(decision, Decision::Allow { .. }) && req.via != Via::Cli {
            self.last_used.touch(&r.id, client_ip(req), now);
        }
        let user = match decision {
            Decision::Unauthorized(Reason::WrongUser) | Decision::Forbidden(Reason::WrongUser) => {
                req.user.to_string()
            }
            _ => r.owner.clone(),
        };
        Judged::of(decision, user)
    }

    /// The rules for a token whose secret matched, in their one order.
    fn token_rules(&self, req: &AuthRequest<'_>, r: &Record, s: &Settings, now: i64) -> Decision {
        match TokenState::at(r.expires_at, r.revoke_at, now) {
            TokenState::Active => {}
            TokenState::Expired => return wrong(s, Reason::Expired),
            TokenState::Rotated => {
                self.report_reuse(req, r, now);
                return wrong(s, Reason::Rotated);
            }
        }
        if req.kind == Kind::UserSecret && req.user != r.owner {
            return wrong(s, Reason::WrongUser);
        }
        if self.lockout.is_locked(&r.owner, now) {
            return Decision::Locked;
        }
        if s.admin_only_create && !s.regular_users_use_tokens && !r.owner_admin {
            return Decision::Forbidden(Reason::OwnerNotAllowed);
        }
        let rs = &r.restrictions;
        if req.addr != ClientAddr::Local && !rs.allows_ip(client_ip(req)) {
            return Decision::Forbidden(Reason::IpDenied);
        }
        let in_scope = match req.via {
            Via::Http => {
                rs.scopes
                    .allows_lazily(|| Access::of_http(req.method, req.uri))
                    && rs.allows_path(req.uri)
            }
            Via::Pam => rs.scopes.login,
            // Apache passes the URI, so path prefixes hold there too; it cannot pass the
            // method, so its snippet says `read` or `write` (AuthExternalContext).
            Via::External => {
                rs.scopes.allows(Access::from_word(req.method)) && rs.allows_path(req.uri)
            }
            // `apitoken verify` asks whether the token is good at all.
            Via::Cli => true,
            Via::Web | Via::WebLogin => rs.scopes.manage,
        };
        if !in_scope {
            return Decision::Forbidden(Reason::Scope);
        }
        Decision::Allow {
            user: r.owner.clone(),
            token_id: Some(r.id.clone()),
        }
    }

    /// A rotated-away token came back after its grace period: the sign of a leak. Logged
    /// and kept in the audit trail (written off the request path), once a minute per token
    /// and front end: a leaked token replayed in a loop must not grow the audit table
    /// without bound (every attempt is still an `auth.failure reason=rotated` line).
    fn report_reuse(&self, req: &AuthRequest<'_>, r: &Record, now: i64) {
        {
            let mut reported = self
                .reuse_reported
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let key = format!("{}/{}", r.id, req.via.as_str());
            if reported.get(&key).is_some_and(|&t| now - t < 60) {
                return;
            }
            if reported.len() >= 10_000 {
                reported.retain(|_, t| now - *t < 60);
            }
            reported.insert(key, now);
        }
        let event = Event::new("token.reuse", now)
            .with("user", r.owner.as_str())
            .with("token_id", r.id.as_str())
            .with("ip", super::shown_ip(req.addr))
            .with("via", req.via.as_str());
        self.syslog.emit(&event, Severity::Warning);
        let (store, outbox) = (self.store.clone(), self.outbox.clone());
        tokio::task::spawn_blocking(move || match store.append_event(&event) {
            Err(e) if e.is_unavailable() => {
                outbox.keep_event(event);
            }
            Err(e) => eprintln!("apitokend: cannot record token.reuse: {e}"),
            Ok(()) => {}
        });
    }

    async fn judge_password(
        &self,
        req: &AuthRequest<'_>,
        s: &Arc<Settings>,
        config: &Config,
        now: i64,
    ) -> Judged {
        if !s.password_auth && req.via != Via::WebLogin {
            return Judged::of(Decision::Forbidden(Reason::PasswordDisabled), req.user);
        }
        if req.kind == Kind::Bearer || req.user.is_empty() || req.via == Via::Cli {
            return Judged::of(Decision::Unauthorized(Reason::InvalidToken), req.user);
        }
        if req.via == Via::Pam {
            // The PAM stack's own password modules decide; nothing is checked here.
            return Judged::of(Decision::Ignore, req.user);
        }
        if req.user.starts_with(crate::token::PREFIX) {
            // A token typed as the user name: neither checked, counted nor logged.
            return Judged::of(Decision::Unauthorized(Reason::BadPassword), "");
        }
        let typed = req.user.to_string();
        let Ok(account) =
            tokio::task::spawn_blocking(move || crate::peer::account_name(&typed)).await
        else {
            return Judged::of(Decision::Error, req.user);
        };
        let known = account.is_some();
        let user = account.unwrap_or_else(|| req.user.to_string());
        // Counted before it is checked: in flight plus failed never pass the threshold
        // (on every host of a fleet together).
        let counted = match self.begin_attempt(&user, known, now, s).await {
            Begun::Check(counted) => counted,
            Begun::Locked => return Judged::of(Decision::Locked, user),
            Begun::Unavailable => return Judged::of(Decision::Error, user),
        };
        let ok = match config.password.backend {
            PasswordBackend::None => Ok(false),
            PasswordBackend::Pam => self.check_password(req, config).await,
        };
        let (decision, lock) = match ok {
            Ok(true) => {
                self.attempt_done(counted, now, s);
                let user = req.user.to_string();
                let allow = Decision::Allow {
                    user,
                    token_id: None,
                };
                (allow, LockNews::None)
            }
            Ok(false) => (
                Decision::Unauthorized(Reason::BadPassword),
                self.attempt_failed(counted, self.clock.now(), s).await,
            ),
            // The backend could not decide: the attempt counts as nothing.
            Err(()) => {
                self.attempt_done(counted, now, s);
                (Decision::Error, LockNews::None)
            }
        };
        Judged {
            decision,
            user,
            lock,
        }
    }

    /// One PAM check, at most four at a time, on a blocking thread.
    async fn check_password(&self, req: &AuthRequest<'_>, config: &Config) -> Result<bool, ()> {
        let _permit = self.password_slots.acquire().await.map_err(|_| ())?;
        self.metrics.password_checks.fetch_add(1, Ordering::Relaxed);
        let service = config.password.pam_service.clone();
        let user = req.user.to_string();
        let secret = zeroize::Zeroizing::new(req.secret.to_vec());
        let rhost = match req.addr {
            ClientAddr::Ip(ip) => Some(ip.to_string()),
            _ => None,
        };
        tokio::task::spawn_blocking(move || {
            crate::password::authenticate(&service, &user, &secret, rhost.as_deref())
        })
        .await
        .map_err(|_| ())
    }
}

/// The client's IP address, canonical, when it is one.
fn client_ip(req: &AuthRequest<'_>) -> Option<std::net::IpAddr> {
    match req.addr {
        ClientAddr::Ip(ip) => Some(ip.to_canonical()),
        _ => None,
    }
}

//! Accounting for a decision: its one `auth.*` event, the `user.lockout` event when a
//! failure locked the user, and persisting failure counts off the request path.

use super::{AuthRequest, Decision, Engine, Reason};
use crate::audit::{Event, Severity};
use crate::config::Config;
use crate::lockout::FailureChange;
use crate::store::FailureRow;

/// What a password attempt changed in the failure table.
pub(super) enum LockNews {
    None,
    /// Counted in this host's table: the store is written off the request path.
    Failed(FailureChange),
    /// Counted in a fleet's shared store, which already holds it (and its event).
    Shared(FailureChange),
}

impl LockNews {
    pub fn from_failure(change: Option<FailureChange>) -> LockNews {
        change.map_or(LockNews::None, LockNews::Failed)
    }
}

/// What judging found, before it is accounted.
pub(super) struct Judged {
    pub decision: Decision,
    /// Who the decision is about (the owner of a verified token, else the claimed user).
    pub user: String,
    pub lock: LockNews,
}

impl Judged {
    pub(super) fn of(decision: Decision, user: impl Into<String>) -> Judged {
        Judged {
            decision,
            user: user.into(),
            lock: LockNews::None,
        }
    }
}

/// Longest `request` value logged, in characters.
const MAX_REQUEST_LOGGED: usize = 256;

/// Adds what was asked for (`GET /path` from nginx, the URI from Apache), when known:
/// without the query string (other systems' secrets travel in URLs) or fragment, without
/// control characters, at most [`MAX_REQUEST_LOGGED`] characters.
fn with_request(e: Event, req: &AuthRequest<'_>) -> Event {
    let path = req.uri.split(['?', '#']).next().unwrap_or("");
    let text: String = format!("{} {path}", req.method)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REQUEST_LOGGED)
        .collect();
    match text.trim() {
        "" => e,
        t => e.with("request", t),
    }
}

impl Engine {
    /// Emits the decision's event and persists what changed in the failure table.
    pub(super) fn account(&self, req: &AuthRequest<'_>, config: &Config, j: &Judged, now: i64) {
        // A user name that looks like a token is probably one typed in the wrong field:
        // it is never logged.
        let user = if j.user.starts_with(crate::token::PREFIX) {
            ""
        } else {
            j.user.as_str()
        };
        let shown_user = if user.is_empty() { "-" } else { user };
        let reason = match &j.decision {
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
                        .with("ip", super::shown_ip(req.addr))
                        .with("via", req.via.as_str())
                        .with("service", req.service);
                    self.syslog.emit(&with_request(e, req), Severity::Info);
                }
                None
            }
            Decision::Ignore | Decision::Error => None,
            Decision::Unauthorized(r) | Decision::Forbidden(r) => Some(*r),
            Decision::Locked => Some(Reason::Locked),
        };
        if let Some(reason) = reason {
            let e = Event::new("auth.failure", now)
                .with("user", shown_user)
                .with("ip", super::shown_ip(req.addr))
                .with("via", req.via.as_str())
                .with("reason", reason.as_str());
            self.syslog.emit(&with_request(e, req), Severity::Notice);
        }
        let (change, persist) = match &j.lock {
            LockNews::None => return,
            LockNews::Failed(change) => (change, true),
            LockNews::Shared(change) => (change, false),
        };
        let event = change.locked_now.then(|| {
            Event::new("user.lockout", now)
                .with("user", change.row.user.as_str())
                .with("failures", change.row.count.to_string())
        });
        if let Some(e) = &event {
            self.syslog.emit(e, Severity::Warning);
        }
        if persist {
            self.persist_failure(change.row.clone(), event);
        }
    }

    fn persist_failure(&self, row: FailureRow, event: Option<Event>) {
        let (store, outbox) = (self.store.clone(), self.outbox.clone());
        tokio::task::spawn_blocking(move || {
            // The in-memory state already applies; a write error here loses only
            // persistence across a restart, so it is logged, not propagated. While the
            // database does not answer, the row and its event wait in the outbox.
            if let Err(e) = store.save_failure(&row, event.as_ref()) {
                if e.is_unavailable() {
                    return outbox.keep_failure(row, event);
                }
                eprintln!(
                    "apitokend: cannot persist failure count for {}: {e}",
                    row.user
                );
            }
        });
    }
}

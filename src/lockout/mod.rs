//! Failure counting and lockout (SPEC §5, §13) for password attempts, per user (under the
//! canonical name), within `lockout-window`; at `lockout-threshold` the user is locked for
//! `lockout-duration` (0 = until reset).
//!
//! An attempt is counted when it *starts* ([`Lockout::begin`]): attempts in flight plus
//! failures within the window never exceed the threshold, and one that would is refused
//! unchecked. Token attempts are not counted at all (docs/decisions.md "Which failures
//! count"), so a token success never clears password failures. Held in memory for the
//! hot path; every change is handed back for the store to persist. Rows of users that
//! are not locked are dropped when their window ends ([`Lockout::sweep`]).
//!
//! When hosts share the store (a fleet), an attempt also reserves its place in the
//! store's row before it is checked (`shared`: the same rules under the store's row
//! lock), and this table takes over the row as the store left it.

pub mod shared;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::settings::Settings;
use crate::store::FailureRow;

/// Names tracked at most; past it, rows without a lock whose window ended are pruned,
/// and if none can go, new names that are no account are refused unchecked (fail
/// closed). Accounts are always tracked: they are bounded by the account database, and
/// a flood of invented names must not lock every real user out (SPEC §13 "No local user
/// can deny others").
pub const MAX_USERS: usize = 100_000;

#[derive(Debug, Clone, Default)]
struct Row {
    failures: u32,
    in_flight: u32,
    window_start: i64,
    /// `Some(i64::MAX)` means locked until reset.
    locked_until: Option<i64>,
}

impl Row {
    fn locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }

    /// Starts over once a lock ended or the window passed.
    fn refresh(&mut self, now: i64, window: i64) {
        if self.locked_until.is_some_and(|t| t <= now) {
            *self = Row {
                in_flight: self.in_flight,
                window_start: now,
                ..Row::default()
            };
        } else if self.locked_until.is_none() && now - self.window_start >= window {
            self.failures = 0;
            self.window_start = now;
        }
    }

    /// Takes a place for one check at `now`, unless the user is locked or failures and
    /// checks in flight already reach the threshold.
    fn admit(&mut self, now: i64, s: &Settings) -> bool {
        self.refresh(now, s.lockout_window as i64);
        if self.locked(now) || self.failures + self.in_flight >= s.lockout_threshold {
            return false;
        }
        self.in_flight += 1;
        true
    }

    /// A check that held a place failed: counts it, locking at the threshold; true when
    /// this failure locked the user.
    fn fail(&mut self, now: i64, s: &Settings) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.refresh(now, s.lockout_window as i64);
        self.failures = self.failures.saturating_add(1);
        let locked_now = self.locked_until.is_none() && self.failures >= s.lockout_threshold;
        if locked_now {
            self.locked_until = Some(match s.lockout_duration {
                0 => i64::MAX,
                d => now.saturating_add(d as i64),
            });
        }
        locked_now
    }

    fn persisted(&self, user: &str) -> FailureRow {
        FailureRow {
            user: user.to_string(),
            count: self.failures,
            window_start: self.window_start,
            locked_until: self.locked_until,
        }
    }
}

/// The in-memory failure table.
#[derive(Default)]
pub struct Lockout {
    rows: Mutex<HashMap<String, Row>>,
}

/// What a recorded failure changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureChange {
    pub row: FailureRow,
    /// True when this failure locked the user.
    pub locked_now: bool,
}

/// A password attempt that was let through to be checked; report its result with
/// [`Attempt::failed`] or [`Attempt::succeeded`]. Dropped unreported (the check could not
/// decide), it counts as nothing.
pub struct Attempt<'a> {
    lockout: &'a Lockout,
    /// `None` when lockout is disabled.
    user: Option<String>,
}

impl Lockout {
    /// Starts from the persisted rows.
    pub fn new(rows: Vec<FailureRow>) -> Lockout {
        let rows = rows
            .into_iter()
            .map(|r| {
                let row = Row {
                    failures: r.count,
                    in_flight: 0,
                    window_start: r.window_start,
                    locked_until: r.locked_until,
                };
                (r.user, row)
            })
            .collect();
        Lockout {
            rows: Mutex::new(rows),
        }
    }

    fn rows(&self) -> MutexGuard<'_, HashMap<String, Row>> {
        // Rows are updated field by field under the lock and hold no cross-row invariant.
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `user` is locked at `now`.
    pub fn is_locked(&self, user: &str, now: i64) -> bool {
        self.rows().get(user).is_some_and(|r| r.locked(now))
    }

    /// Lets one password attempt for `user` be checked, or `None`: the user is locked, or
    /// failures and attempts in flight already reach the threshold, or the table is full
    /// and `user` is no `account` of this host.
    pub fn begin(&self, user: &str, account: bool, now: i64, s: &Settings) -> Option<Attempt<'_>> {
        if s.lockout_threshold == 0 {
            return Some(Attempt {
                lockout: self,
                user: None,
            });
        }
        let window = s.lockout_window as i64;
        let mut rows = self.rows();
        if rows.len() >= MAX_USERS && !rows.contains_key(user) {
            rows.retain(|_, r| r.in_flight > 0 || r.locked(now) || now - r.window_start < window);
            if rows.len() >= MAX_USERS && !account {
                return None;
            }
        }
        let row = rows.entry(user.to_string()).or_insert_with(|| Row {
            window_start: now,
            ..Row::default()
        });
        if !row.admit(now, s) {
            return None;
        }
        Some(Attempt {
            lockout: self,
            user: Some(user.to_string()),
        })
    }

    /// Takes `user`'s count and lock as another host of a fleet stored them (`None`: the
    /// row is gone there); attempts in flight here stay counted.
    pub fn replace(&self, user: &str, row: Option<&FailureRow>) {
        let mut rows = self.rows();
        match row {
            Some(r) => {
                let mine = rows.entry(user.to_string()).or_default();
                mine.failures = r.count;
                mine.window_start = r.window_start;
                mine.locked_until = r.locked_until;
            }
            None => {
                if rows.get(user).is_some_and(|r| r.in_flight == 0) {
                    rows.remove(user);
                } else if let Some(mine) = rows.get_mut(user) {
                    (mine.failures, mine.locked_until) = (0, None);
                }
            }
        }
    }

    /// Forgets a user.
    pub fn reset(&self, user: &str) {
        self.rows().remove(user);
    }

    /// Drops rows of users who are not locked and have nothing in flight once their window
    /// ended (or their lock did).
    pub fn sweep(&self, now: i64, s: &Settings) {
        let window = s.lockout_window as i64;
        self.rows().retain(|_, r| {
            r.in_flight > 0 || r.locked(now) || (r.failures > 0 && now - r.window_start < window)
        });
    }

    /// Every row with a count or a lock, sorted by user, as it stands at `now`:
    /// `locked_until` only while the lock lasts.
    pub fn snapshot(&self, now: i64) -> Vec<FailureRow> {
        let mut rows: Vec<FailureRow> = self
            .rows()
            .iter()
            .filter(|(_, r)| r.failures > 0 || r.locked_until.is_some())
            .map(|(u, r)| FailureRow {
                locked_until: r.locked_until.filter(|_| r.locked(now)),
                ..r.persisted(u)
            })
            .collect();
        rows.sort_by(|a, b| a.user.cmp(&b.user));
        rows
    }
}

impl Attempt<'_> {
    /// The attempt was checked and wrong: counts it, locking at the threshold.
    pub fn failed(mut self, now: i64, s: &Settings) -> Option<FailureChange> {
        let user = self.user.take()?;
        let mut rows = self.lockout.rows();
        let row = rows.get_mut(&user)?;
        let locked_now = row.fail(now, s);
        Some(FailureChange {
            row: row.persisted(&user),
            locked_now,
        })
    }

    /// The attempt was checked and right. It gives its place back and clears nothing:
    /// failures leave the count only when their window ends (or by `failures reset`), so
    /// a user's own successful logins never buy an attacker more guesses (SPEC §13).
    pub fn succeeded(self) {}
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if let Some(user) = self.user.take() {
            if let Some(row) = self.lockout.rows().get_mut(&user) {
                row.in_flight = row.in_flight.saturating_sub(1);
            }
        }
    }
}

#[cfg(test)]
mod tests;

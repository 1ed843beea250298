//! Failure counting and lockout (SPEC §5): per user, within `lockout-window`; at
//! `lockout-threshold` the user is locked for `lockout-duration` (0 = until reset).
//! Held in memory for the hot path; every change is handed back for the store to persist.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::settings::Settings;
use crate::store::FailureRow;

/// Users tracked at most; past it, rows without a lock whose window ended are pruned.
pub const MAX_USERS: usize = 100_000;

/// The in-memory failure table.
#[derive(Default)]
pub struct Lockout {
    rows: Mutex<HashMap<String, FailureRow>>,
}

/// What a recorded failure changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureChange {
    pub row: FailureRow,
    /// True when this failure locked the user.
    pub locked_now: bool,
}

impl Lockout {
    /// Starts from the persisted rows.
    pub fn new(rows: Vec<FailureRow>) -> Lockout {
        Lockout {
            rows: Mutex::new(rows.into_iter().map(|r| (r.user.clone(), r)).collect()),
        }
    }

    fn rows(&self) -> MutexGuard<'_, HashMap<String, FailureRow>> {
        // Rows are replaced whole, so a panic cannot leave one half-written.
        self.rows.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `user` is locked at `now`.
    pub fn is_locked(&self, user: &str, now: i64) -> bool {
        self.rows()
            .get(user)
            .is_some_and(|r| r.locked_until.is_some_and(|t| t > now))
    }

    /// Counts a failure; `None` when lockout is disabled.
    pub fn record_failure(&self, user: &str, now: i64, s: &Settings) -> Option<FailureChange> {
        if s.lockout_threshold == 0 || user.is_empty() {
            return None;
        }
        let mut rows = self.rows();
        if rows.len() >= MAX_USERS && !rows.contains_key(user) {
            let window = s.lockout_window as i64;
            rows.retain(|_, r| {
                r.locked_until.is_some_and(|t| t > now) || now - r.window_start < window
            });
        }
        let row = rows.entry(user.to_string()).or_insert_with(|| FailureRow {
            user: user.to_string(),
            count: 0,
            window_start: now,
            locked_until: None,
        });
        let lock_over = row.locked_until.is_some_and(|t| t <= now);
        if lock_over || now - row.window_start >= s.lockout_window as i64 {
            *row = FailureRow {
                user: user.to_string(),
                count: 0,
                window_start: now,
                locked_until: None,
            };
        }
        row.count = row.count.saturating_add(1);
        let locked_now = row.locked_until.is_none() && row.count >= s.lockout_threshold;
        if locked_now {
            row.locked_until = Some(match s.lockout_duration {
                0 => i64::MAX,
                d => now.saturating_add(d as i64),
            });
        }
        Some(FailureChange {
            row: row.clone(),
            locked_now,
        })
    }

    /// Clears an unlocked user's count after a success; returns the row to persist, if any.
    pub fn record_success(&self, user: &str) -> Option<FailureRow> {
        let mut rows = self.rows();
        match rows.get(user) {
            Some(r) if r.locked_until.is_none() && r.count > 0 => {
                let row = FailureRow {
                    count: 0,
                    ..r.clone()
                };
                rows.insert(user.to_string(), row.clone());
                Some(row)
            }
            _ => None,
        }
    }

    /// Forgets a user.
    pub fn reset(&self, user: &str) {
        self.rows().remove(user);
    }

    /// Every row with a count or a lock, sorted by user.
    pub fn snapshot(&self) -> Vec<FailureRow> {
        let mut rows: Vec<FailureRow> = self
            .rows()
            .values()
            .filter(|r| r.count > 0 || r.locked_until.is_some())
            .cloned()
            .collect();
        rows.sort_by(|a, b| a.user.cmp(&b.user));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(threshold: u32, window: &str, duration: &str) -> Settings {
        let mut s = Settings::default();
        s.set("lockout-threshold", &threshold.to_string()).unwrap();
        s.set("lockout-window", window).unwrap();
        s.set("lockout-duration", duration).unwrap();
        s
    }

    #[test]
    fn record_failure_at_threshold_locks_for_duration() {
        let l = Lockout::default();
        let s = settings(3, "15m", "10m");
        assert!(!l.record_failure("bob", 100, &s).unwrap().locked_now);
        assert!(!l.record_failure("bob", 101, &s).unwrap().locked_now);
        let third = l.record_failure("bob", 102, &s).unwrap();
        assert!(third.locked_now);
        assert_eq!(third.row.locked_until, Some(702));
        assert!(l.is_locked("bob", 701));
        assert!(!l.is_locked("bob", 702));
        assert!(!l.is_locked("alice", 200));
    }

    #[test]
    fn record_failure_outside_window_restarts_count() {
        let l = Lockout::default();
        let s = settings(2, "1m", "10m");
        l.record_failure("bob", 0, &s);
        assert!(!l.record_failure("bob", 61, &s).unwrap().locked_now);
    }

    #[test]
    fn zero_duration_locks_until_reset() {
        let l = Lockout::default();
        let s = settings(1, "1m", "0");
        assert!(l.record_failure("bob", 0, &s).unwrap().locked_now);
        assert!(l.is_locked("bob", i64::MAX - 1));
        l.reset("bob");
        assert!(!l.is_locked("bob", 10));
    }

    #[test]
    fn zero_threshold_disables() {
        let l = Lockout::default();
        assert!(l
            .record_failure("bob", 0, &settings(0, "1m", "0"))
            .is_none());
        assert!(l.snapshot().is_empty());
    }

    #[test]
    fn success_clears_count_but_not_lock() {
        let l = Lockout::default();
        let s = settings(3, "15m", "10m");
        l.record_failure("bob", 0, &s);
        assert_eq!(l.record_success("bob").unwrap().count, 0);
        assert!(l.record_success("bob").is_none());
    }
}

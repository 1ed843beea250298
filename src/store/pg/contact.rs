//! Whether the database answers, and when it last did (SPEC §12 "Database outage").
//!
//! The store's calls note every answer and every failure to reach the server here. While
//! the database is unreachable the store fails fast: a request-path call does not even
//! try (no request waits for a connection that will not come), and only the change-log
//! follower, woken at once by the failure, keeps trying in the background; its first
//! complete catch-up marks the database up again, so every change made meanwhile is
//! applied before the store is used again. `/health`, `/metrics` and the grace of
//! cached tokens read the same state.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};

/// When the database last answered, and whether it answers now.
#[derive(Debug, Default)]
pub struct Contact {
    /// Unix seconds of the last answer (0: never).
    last: AtomicI64,
    up: AtomicBool,
    /// Wakes the follower to try again at once after a failure.
    retry: tokio::sync::Notify,
}

impl Contact {
    /// The database answered.
    pub(super) fn answered(&self) {
        let before = self.last.swap(crate::clock::now(), Ordering::Relaxed);
        if !self.up.swap(true, Ordering::AcqRel) && before != 0 {
            eprintln!("apitokend: the database answers again");
        }
    }

    /// A call could not reach the database: from now on calls fail at once until the
    /// follower reaches it again.
    pub(super) fn lost(&self, why: &dyn std::fmt::Display) {
        if self.up.swap(false, Ordering::AcqRel) {
            eprintln!(
                "apitokend: the database stopped answering ({why}); cached tokens keep \
                 working for outage_grace_seconds, retrying in the background"
            );
            self.retry.notify_one();
        }
    }

    /// Resolves when a failure asks the follower to try again.
    pub(super) async fn retry_wanted(&self) {
        self.retry.notified().await;
    }

    /// Whether the database answered the last call.
    pub fn is_up(&self) -> bool {
        self.up.load(Ordering::Acquire)
    }

    /// Seconds since the database last answered; `None` if it never did.
    pub fn seconds_since(&self, now: i64) -> Option<i64> {
        match self.last.load(Ordering::Relaxed) {
            0 => None,
            t => Some((now - t).max(0)),
        }
    }

    /// Whether a host that last heard from the database `grace` seconds ago or less may
    /// still answer from its cache at `now`: always while the database answers.
    pub fn within_grace(&self, now: i64, grace: u64) -> bool {
        self.is_up()
            || self
                .seconds_since(now)
                .is_some_and(|s| s.unsigned_abs() <= grace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_down_within_grace_then_past_it() {
        let c = Contact::default();
        assert!(!c.within_grace(crate::clock::now(), 300), "never answered");
        c.answered();
        let now = crate::clock::now();
        assert!(c.within_grace(now + 1000, 5), "up: no grace needed");
        c.lost(&"test");
        assert!(!c.is_up());
        assert!(c.within_grace(now + 5, 5));
        assert!(!c.within_grace(now + 6, 5));
        c.answered();
        assert!(c.is_up());
    }
}

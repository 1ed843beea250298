//! What the request path writes behind while a fleet's database does not answer (SPEC
//! §12): audit records (`token.reuse`; `user.lockout` and failure rows where failures are
//! not counted in a shared store first, `engine/attempt.rs`), kept in memory and
//! delivered by the housekeeping tick once the database answers again. Last-used data
//! waits in its own buffer (`lastused`), which keeps the newest use per token.
//!
//! Bounded: at most [`MAX_EVENTS`] audit records and [`MAX_FAILURE_ROWS`] users' failure
//! rows (only the latest state of a user is kept). Past a bound, what arrives is dropped
//! and counted (`apitokend_store_queue_dropped_total`); its syslog line was written
//! anyway, so the record is lost from the database only. A restart loses the queue.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::audit::Event;
use crate::store::{FailureRow, Store, StoreError};

/// Audit records kept at most while the database does not answer.
pub const MAX_EVENTS: usize = 10_000;
/// Users whose failure rows are kept at most.
pub const MAX_FAILURE_ROWS: usize = 10_000;

/// The queue; see the module documentation.
#[derive(Default)]
pub struct Outbox {
    inner: Mutex<Pending>,
    /// Records and rows dropped because the queue was full.
    pub dropped: AtomicU64,
}

#[derive(Default)]
struct Pending {
    events: VecDeque<Event>,
    failures: HashMap<String, FailureRow>,
}

impl Outbox {
    fn inner(&self) -> MutexGuard<'_, Pending> {
        // Single pushes and pops cannot be torn by a panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps an audit record for later; false (and counted) when the queue is full.
    pub fn keep_event(&self, event: Event) -> bool {
        let mut p = self.inner();
        if p.events.len() >= MAX_EVENTS {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        p.events.push_back(event);
        true
    }

    /// Keeps a user's failure row (replacing an older one) and its event for later.
    pub fn keep_failure(&self, row: FailureRow, event: Option<Event>) {
        {
            let mut p = self.inner();
            if p.failures.len() >= MAX_FAILURE_ROWS && !p.failures.contains_key(&row.user) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            } else {
                p.failures.insert(row.user.clone(), row);
            }
        }
        if let Some(e) = event {
            self.keep_event(e);
        }
    }

    /// Records and rows waiting.
    pub fn len(&self) -> usize {
        let p = self.inner();
        p.events.len() + p.failures.len()
    }

    /// Whether nothing waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes what waits, oldest record first, until the store fails; what was not
    /// written stays. Blocking.
    pub fn deliver(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let mut written = 0;
        loop {
            let Some(event) = self.inner().events.pop_front() else {
                break;
            };
            if let Err(e) = store.append_event(&event) {
                self.inner().events.push_front(event);
                return Err(e);
            }
            written += 1;
        }
        let rows: Vec<FailureRow> = self.inner().failures.drain().map(|(_, r)| r).collect();
        let mut rows = rows.into_iter();
        for row in rows.by_ref() {
            if let Err(e) = store.save_failure(&row, None) {
                let mut p = self.inner();
                p.failures.entry(row.user.clone()).or_insert(row);
                for rest in rows {
                    p.failures.entry(rest.user.clone()).or_insert(rest);
                }
                return Err(e);
            }
            written += 1;
        }
        Ok(written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[test]
    fn outbox_full_drops_and_counts_then_delivers_in_order() {
        let o = Outbox::default();
        for i in 0..MAX_EVENTS + 3 {
            o.keep_event(Event::new("token.reuse", i as i64).with("user", "u"));
        }
        assert_eq!(o.dropped.load(Ordering::Relaxed), 3);
        let row = FailureRow {
            user: "u".into(),
            count: 1,
            window_start: 5,
            locked_until: None,
        };
        o.keep_failure(row.clone(), None);
        o.keep_failure(FailureRow { count: 2, ..row }, None);
        assert_eq!(o.len(), MAX_EVENTS + 1);
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        assert_eq!(o.deliver(&store).unwrap(), MAX_EVENTS + 1);
        assert!(o.is_empty());
        let rows = store.audit(None, 0, 2).unwrap();
        assert_eq!(rows[0].time, (MAX_EVENTS - 1) as i64, "newest first");
    }
}

//! Last-used data, written behind: the hot path only notes it in memory, at most once a
//! minute per token, and a background task writes the batch.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::store::LastUsed;

/// Seconds between two recorded uses of one token.
pub const INTERVAL: i64 = 60;

/// Pending updates and when each token was last noted.
#[derive(Default)]
pub struct LastUsedBuffer {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pending: HashMap<String, LastUsed>,
    noted: HashMap<String, i64>,
}

impl LastUsedBuffer {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Single inserts and swaps cannot be torn by a panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a use; cheap, and a no-op when this token was noted within [`INTERVAL`].
    pub fn touch(&self, id: &str, ip: Option<String>, now: i64) {
        let mut inner = self.inner();
        if inner.noted.get(id).is_some_and(|&t| now - t < INTERVAL) {
            return;
        }
        inner.noted.insert(id.to_string(), now);
        inner.pending.insert(
            id.to_string(),
            LastUsed {
                id: id.to_string(),
                at: now,
                ip,
            },
        );
    }

    /// Takes the pending batch, forgetting notes older than [`INTERVAL`].
    pub fn take(&self, now: i64) -> Vec<LastUsed> {
        let mut inner = self.inner();
        inner.noted.retain(|_, t| now - *t < INTERVAL);
        inner.pending.drain().map(|(_, v)| v).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_twice_within_interval_records_once() {
        let b = LastUsedBuffer::default();
        b.touch("a", Some("192.0.2.1".into()), 100);
        b.touch("a", Some("192.0.2.2".into()), 130);
        let batch = b.take(130);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].ip.as_deref(), Some("192.0.2.1"));
        b.touch("a", None, 150);
        assert!(b.take(150).is_empty());
        b.touch("a", None, 161);
        assert_eq!(b.take(161).len(), 1);
    }
}

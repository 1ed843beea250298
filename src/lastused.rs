//! Last-used data, written behind: the hot path only notes it in memory — at most once a
//! minute per token and address — and a background task writes the batch.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};

use crate::store::LastUsed;

/// Seconds between two recorded uses of one token from the same address.
pub const INTERVAL: i64 = 60;

/// Tokens whose last use waits at most (while a fleet's database does not answer).
pub const MAX_PENDING: usize = 100_000;

/// Pending updates and when (and from where) each token was last noted.
#[derive(Default)]
pub struct LastUsedBuffer {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    pending: HashMap<String, LastUsed>,
    noted: HashMap<String, (i64, Option<IpAddr>)>,
}

impl LastUsedBuffer {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        // Single inserts and swaps cannot be torn by a panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a use; cheap, and a no-op when this token was noted from the same address
    /// within [`INTERVAL`].
    pub fn touch(&self, id: &str, ip: Option<IpAddr>, now: i64) {
        let mut inner = self.inner();
        if inner
            .noted
            .get(id)
            .is_some_and(|&(t, last)| now - t < INTERVAL && last == ip)
        {
            return;
        }
        inner.noted.insert(id.to_string(), (now, ip));
        let entry = inner
            .pending
            .entry(id.to_string())
            .or_insert_with(|| LastUsed {
                id: id.to_string(),
                at: now,
                ip: None,
                recent: Vec::new(),
            });
        entry.at = now;
        if let Some(ip) = ip {
            let text = ip.to_string();
            entry.recent.retain(|r| *r != text);
            entry.recent.push(text.clone());
            entry.ip = Some(text);
        }
    }

    /// Returns a batch the store could not write, for a later tick; a token used again
    /// meanwhile keeps its newer entry, with the older addresses before its own. At most
    /// [`MAX_PENDING`] tokens wait; past it, the rest is dropped.
    pub fn put_back(&self, batch: Vec<LastUsed>) {
        let mut inner = self.inner();
        for old in batch {
            if let Some(new) = inner.pending.get_mut(&old.id) {
                let mut recent = old.recent;
                recent.retain(|r| !new.recent.contains(r));
                recent.append(&mut new.recent);
                new.recent = recent;
            } else if inner.pending.len() < MAX_PENDING {
                inner.pending.insert(old.id.clone(), old);
            }
        }
    }

    /// Takes the pending batch, forgetting notes older than [`INTERVAL`].
    pub fn take(&self, now: i64) -> Vec<LastUsed> {
        let mut inner = self.inner();
        inner.noted.retain(|_, (t, _)| now - *t < INTERVAL);
        inner.pending.drain().map(|(_, v)| v).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn touch_twice_within_interval_records_once() {
        let b = LastUsedBuffer::default();
        b.touch("a", ip("192.0.2.1"), 100);
        b.touch("a", ip("192.0.2.1"), 130);
        let batch = b.take(130);
        assert_eq!(batch.len(), 1);
        assert_eq!(batch[0].at, 100);
        b.touch("a", ip("192.0.2.1"), 150);
        assert!(b.take(150).is_empty());
        b.touch("a", ip("192.0.2.1"), 161);
        assert_eq!(b.take(161).len(), 1);
    }

    #[test]
    fn put_back_keeps_newer_use_and_older_addresses() {
        let b = LastUsedBuffer::default();
        b.touch("a", ip("192.0.2.1"), 100);
        b.touch("b", ip("192.0.2.9"), 100);
        let batch = b.take(100);
        b.touch("a", ip("192.0.2.2"), 110);
        b.put_back(batch);
        let mut batch = b.take(110);
        batch.sort_by(|x, y| x.id.cmp(&y.id));
        assert_eq!(batch.len(), 2);
        assert_eq!(batch[0].at, 110);
        assert_eq!(batch[0].recent, vec!["192.0.2.1", "192.0.2.2"]);
        assert_eq!(batch[1].id, "b");
    }

    #[test]
    fn touch_new_address_is_recorded_at_once() {
        let b = LastUsedBuffer::default();
        b.touch("a", ip("192.0.2.1"), 100);
        b.touch("a", ip("192.0.2.2"), 101);
        let batch = b.take(101);
        assert_eq!(batch[0].recent, vec!["192.0.2.1", "192.0.2.2"]);
        assert_eq!(batch[0].ip.as_deref(), Some("192.0.2.2"));
    }
}

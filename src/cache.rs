//! The record cache of the hot path: a token's stored row (its verifier and attributes)
//! and its owner's admin status, by token id, as loaded from the store.
//!
//! - Every request checks the presented secret against the cached verifier (one SHA-256),
//!   so a forged secret for a known id never reaches the database, and never evicts,
//!   replaces or refreshes the real token's entry.
//! - An entry lives `ttl_seconds` from when it was *loaded*; hits never extend it, so NSS
//!   changes (group membership) apply within the lifetime whatever traffic arrives.
//! - Policy (settings, lockout, networks, scopes, expiry) is applied on every request, so
//!   settings changes leave the cache alone; deletions and rotations invalidate by id.
//! - Every invalidation bumps a generation under the insert lock; a record loaded before
//!   it can never be inserted after it.
//! - Bounded by `max_entries` and evicting by recency and frequency (quick_cache's
//!   CLOCK-Pro), never emptied wholesale.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the store and NSS said about one token when it was loaded.
#[derive(Clone, PartialEq, Eq)]
pub struct Record {
    pub id: String,
    /// The stored one-way verifier (`token::at_rest`).
    pub verifier: String,
    pub owner: String,
    pub expires_at: Option<i64>,
    /// The owner is root or in `admin_group` (SPEC §4), as NSS said at load time.
    pub owner_admin: bool,
    /// Scopes, path prefixes and networks of the token.
    pub restrictions: crate::scope::Restrictions,
    /// When a rotated-away token stops working.
    pub revoke_at: Option<i64>,
    /// When it was loaded (milliseconds since the epoch); it expires `ttl` later.
    pub loaded_ms: i64,
    /// The cache generation read before the store was asked.
    pub generation: u64,
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("loaded_ms", &self.loaded_ms)
            .finish_non_exhaustive()
    }
}

type Map = quick_cache::sync::Cache<String, Arc<Record>>;

/// The cache itself.
pub struct Cache {
    /// `None` when caching is off (`ttl_seconds` or `max_entries` 0).
    map: Option<Map>,
    ttl_ms: i64,
    generation: AtomicU64,
    /// Serialises inserts against invalidations (never taken by lookups).
    writes: Mutex<()>,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl Cache {
    /// A cache of at most `max_entries` records living `ttl_seconds` each.
    pub fn new(ttl_seconds: u64, max_entries: usize) -> Cache {
        let on = ttl_seconds > 0 && max_entries > 0;
        Cache {
            map: on.then(|| Map::new(max_entries)),
            ttl_ms: i64::try_from(ttl_seconds.saturating_mul(1000)).unwrap_or(i64::MAX),
            generation: AtomicU64::new(0),
            writes: Mutex::new(()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn writes(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own; a panic elsewhere cannot leave it inconsistent.
        self.writes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current generation; a load records it before asking the store.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A record loaded less than the lifetime ago, if any.
    pub fn get(&self, id: &str, now_ms: i64) -> Option<Arc<Record>> {
        let found = self
            .map
            .as_ref()
            .and_then(|m| m.get(id))
            .filter(|r| now_ms.saturating_sub(r.loaded_ms) < self.ttl_ms);
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// A cached record however long ago it was loaded (while the database does not
    /// answer, SPEC §12); counted as a hit.
    pub fn peek(&self, id: &str) -> Option<Arc<Record>> {
        let found = self.map.as_ref().and_then(|m| m.get(id));
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Caches `record` unless anything was invalidated since its generation was read.
    /// True when it was stored.
    pub fn insert(&self, record: Arc<Record>) -> bool {
        let Some(map) = &self.map else { return false };
        let _w = self.writes();
        if self.generation.load(Ordering::Acquire) != record.generation {
            return false;
        }
        map.insert(record.id.clone(), record);
        true
    }

    /// Drops the given token ids; loads that began before cannot insert afterwards.
    pub fn invalidate(&self, ids: &[String]) {
        let _w = self.writes();
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(map) = &self.map {
            for id in ids {
                map.remove(id.as_str());
            }
        }
    }

    /// Drops everything (a reload may change who is an admin).
    pub fn clear(&self) {
        let _w = self.writes();
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(map) = &self.map {
            map.clear();
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.as_ref().map_or(0, |m| m.len())
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, loaded_ms: i64, generation: u64) -> Arc<Record> {
        Arc::new(Record {
            id: id.into(),
            verifier: "$sha256$v=1$x$y".into(),
            owner: "alice".into(),
            expires_at: None,
            owner_admin: false,
            restrictions: Default::default(),
            revoke_at: None,
            loaded_ms,
            generation,
        })
    }

    #[test]
    fn get_within_lifetime_hits_and_is_never_extended() {
        let c = Cache::new(60, 10);
        assert!(c.insert(record("a", 1_000, c.generation())));
        assert!(c.get("a", 1_000).is_some());
        // Hits at 59.9 s do not move the expiry.
        assert!(c.get("a", 60_900).is_some());
        assert!(c.get("a", 61_000).is_none());
        assert_eq!(c.hits.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn insert_after_invalidation_is_dropped() {
        let c = Cache::new(60, 10);
        let gen = c.generation();
        c.invalidate(&["a".to_string()]);
        assert!(!c.insert(record("a", 0, gen)));
        assert!(c.get("a", 0).is_none());
        assert!(c.insert(record("a", 0, c.generation())));
    }

    #[test]
    fn invalidate_drops_only_those_ids() {
        let c = Cache::new(60, 10);
        c.insert(record("a", 0, 0));
        c.insert(record("b", 0, 0));
        c.invalidate(&["a".to_string()]);
        assert!(c.get("a", 0).is_none());
        assert!(c.get("b", 0).is_some());
    }

    #[test]
    fn full_cache_evicts_some_never_all() {
        let c = Cache::new(60, 100);
        for i in 0..1000 {
            c.insert(record(&format!("{i:08}"), 0, 0));
        }
        let n = c.len();
        assert!(
            n > 50 && n <= 110,
            "{n} entries after 1000 inserts into 100"
        );
    }

    #[test]
    fn zero_ttl_or_size_caches_nothing() {
        for c in [Cache::new(0, 10), Cache::new(60, 0)] {
            assert!(!c.insert(record("a", 0, 0)));
            assert!(c.is_empty());
        }
    }
}

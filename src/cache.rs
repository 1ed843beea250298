//! The success cache of the hot path: a verified token is remembered for `ttl_seconds`, so
//! argon2 runs once per token per cache lifetime (entries past it stay, until the cache
//! fills, only as a fallback for ids under a flood: [`Cache::get_stale`]). Keys are SHA-256 of a per-process random
//! key and the token, so the cache never holds a usable secret. Only successes are cached.
//! Every invalidation bumps a generation; a verification that started before it may not
//! insert its result, so a token deleted mid-verification is never cached.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::token::Token;

/// A token's fingerprint: the cache key.
pub type Fingerprint = [u8; 32];

/// What a successful verification established about a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub id: String,
    pub owner: String,
    pub expires_at: Option<i64>,
    /// The owner is root or in `admin_group` (SPEC §4).
    pub owner_admin: bool,
    /// Scopes, path prefixes and networks of the token.
    pub restrictions: crate::scope::Restrictions,
    /// When a rotated-away token stops working.
    pub revoke_at: Option<i64>,
}

struct Slot {
    entry: Arc<Verified>,
    inserted: Instant,
}

/// The cache itself.
pub struct Cache {
    key: [u8; 32],
    ttl: Duration,
    max_entries: usize,
    map: Mutex<HashMap<Fingerprint, Slot>>,
    generation: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
}

impl Cache {
    /// A cache with a fresh random key.
    pub fn new(ttl: Duration, max_entries: usize) -> std::io::Result<Cache> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(std::io::Error::other)?;
        Ok(Cache {
            key,
            ttl,
            max_entries,
            map: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Fingerprint, Slot>> {
        // The map holds no invariant a panic could break half-way.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The key under which `token` is cached.
    pub fn fingerprint(&self, token: &Token) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(token.expose().as_bytes());
        h.finalize().into()
    }

    /// The current generation; pass it back to [`Cache::insert`].
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A live entry for `fp`, if any.
    pub fn get(&self, fp: &Fingerprint) -> Option<Arc<Verified>> {
        let found = match self.map().get(fp) {
            Some(slot) if slot.inserted.elapsed() < self.ttl => Some(slot.entry.clone()),
            _ => None,
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// An entry past its lifetime but never invalidated: a token that was verified before
    /// and has not been deleted, rotated or affected by a settings change since. Used only
    /// when its id is flooded with wrong secrets, so its owner keeps working without a hash.
    pub fn get_stale(&self, fp: &Fingerprint) -> Option<Arc<Verified>> {
        self.map().get(fp).map(|slot| slot.entry.clone())
    }

    /// Caches a success unless anything was invalidated since `generation` was read.
    pub fn insert(&self, fp: Fingerprint, entry: Arc<Verified>, generation: u64) {
        if self.max_entries == 0 || self.ttl.is_zero() {
            return;
        }
        let mut map = self.map();
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if map.len() >= self.max_entries {
            let ttl = self.ttl;
            map.retain(|_, s| s.inserted.elapsed() < ttl);
            if map.len() >= self.max_entries {
                // Still full of live entries: start over rather than grow without bound.
                map.clear();
            }
        }
        map.insert(
            fp,
            Slot {
                entry,
                inserted: Instant::now(),
            },
        );
    }

    /// Drops every entry of the given token ids (a deletion).
    pub fn remove_tokens(&self, ids: &[String]) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.retain(|_, s| !ids.contains(&s.entry.id));
    }

    /// Drops everything (a settings change).
    pub fn clear(&self) {
        let mut map = self.map();
        self.generation.fetch_add(1, Ordering::AcqRel);
        map.clear();
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str) -> Arc<Verified> {
        Arc::new(Verified {
            restrictions: Default::default(),
            revoke_at: None,
            id: id.into(),
            owner: "alice".into(),
            expires_at: None,
            owner_admin: false,
        })
    }

    #[test]
    fn insert_then_get_hits() {
        let c = Cache::new(Duration::from_secs(60), 10).unwrap();
        let t = Token::generate().unwrap();
        let fp = c.fingerprint(&t);
        assert!(c.get(&fp).is_none());
        c.insert(fp, entry(t.id()), c.generation());
        assert_eq!(c.get(&fp).unwrap().id, t.id());
    }

    #[test]
    fn insert_after_invalidation_is_dropped() {
        let c = Cache::new(Duration::from_secs(60), 10).unwrap();
        let t = Token::generate().unwrap();
        let fp = c.fingerprint(&t);
        let gen = c.generation();
        c.remove_tokens(&[t.id().to_string()]);
        c.insert(fp, entry(t.id()), gen);
        assert!(c.get(&fp).is_none());
    }

    #[test]
    fn remove_tokens_drops_only_those() {
        let c = Cache::new(Duration::from_secs(60), 10).unwrap();
        let (a, b) = (Token::generate().unwrap(), Token::generate().unwrap());
        c.insert(c.fingerprint(&a), entry(a.id()), c.generation());
        c.insert(c.fingerprint(&b), entry(b.id()), c.generation());
        c.remove_tokens(&[a.id().to_string()]);
        assert!(c.get(&c.fingerprint(&a)).is_none());
        assert!(c.get(&c.fingerprint(&b)).is_some());
    }

    #[test]
    fn fingerprint_is_keyed_per_cache() {
        let t = Token::generate().unwrap();
        let (c1, c2) = (
            Cache::new(Duration::from_secs(1), 1).unwrap(),
            Cache::new(Duration::from_secs(1), 1).unwrap(),
        );
        assert_ne!(c1.fingerprint(&t), c2.fingerprint(&t));
    }

    #[test]
    fn get_stale_outlives_ttl_but_not_invalidation() {
        let c = Cache::new(Duration::from_millis(1), 10).unwrap();
        let t = Token::generate().unwrap();
        let fp = c.fingerprint(&t);
        c.insert(fp, entry(t.id()), c.generation());
        std::thread::sleep(Duration::from_millis(5));
        assert!(c.get(&fp).is_none());
        assert!(c.get_stale(&fp).is_some());
        c.remove_tokens(&[t.id().to_string()]);
        assert!(c.get_stale(&fp).is_none());
    }

    #[test]
    fn zero_ttl_caches_nothing() {
        let c = Cache::new(Duration::ZERO, 10).unwrap();
        let t = Token::generate().unwrap();
        c.insert(c.fingerprint(&t), entry(t.id()), c.generation());
        assert!(c.is_empty());
    }
}

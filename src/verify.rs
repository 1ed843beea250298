//! Checking a presented token against its record: the record comes from the cache or, on a
//! miss, from one load per id at a time (single flight: DB row plus the owner's admin
//! status from NSS); the secret is then checked against the record's verifier.
//!
//! Current verifiers cost one SHA-256, on the calling task. Legacy argon2id verifiers run
//! on blocking threads, at most `slots` at once, with a bounded queue, one run per distinct
//! token at a time, and at most [`FAILS_PER_ID_PER_SEC`] wrong secrets hashed per id a
//! second; a match yields the replacement verifier for the engine to store.
//!
//! While a fleet's database does not answer (SPEC §12), a token's record comes from the
//! cache alone, whatever its age, for at most `outage_grace_seconds` after the database
//! last answered; a token not in the cache, or any token after that, cannot be decided.
//!
//! [`Verifier::invalidate`] is the one way to forget a token: it bumps the cache generation
//! and detaches loads in flight, so no request that arrives afterwards can join them.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{OnceCell, Semaphore};

use crate::cache::{Cache, Record};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{Contact, Store};
use crate::token::{Stored, Token};

/// Wrong secrets hashed per legacy token id per second before further secrets for that id
/// are refused without hashing.
pub const FAILS_PER_ID_PER_SEC: u32 = 4;
/// Legacy verifications that may wait for a hashing slot; past it, refused at once.
const MAX_QUEUE: usize = 64;
/// Ids tracked by the failure throttle at most.
const MAX_THROTTLED: usize = 100_000;

/// Why a verification could not decide.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    #[error("database: {0}")]
    Store(String),
    #[error("too many verifications waiting")]
    Busy,
    #[error("verification task failed")]
    Task,
    /// The database does not answer and the cache cannot stand in for it.
    #[error("{0}")]
    Outage(&'static str),
}

/// A token whose secret matched its record.
#[derive(Debug, Clone)]
pub struct Verified {
    pub record: Arc<Record>,
    /// A legacy verifier matched: the current verifier that should replace it.
    pub upgrade: Option<String>,
}

type Loaded = Result<Option<Arc<Record>>, VerifyError>;
type Fingerprint = [u8; 32];
type LegacyCell = Arc<OnceCell<Result<bool, VerifyError>>>;

/// The verifier shared by every front end.
pub struct Verifier {
    store: Arc<dyn Store>,
    /// A fleet's database state (`None` for a local file, which is always there).
    contact: Option<Arc<Contact>>,
    cache: Cache,
    clock: Arc<dyn Clock>,
    /// Keys fingerprints of tokens in the legacy single flight.
    key: [u8; 32],
    slots: Semaphore,
    waiting: AtomicUsize,
    loads: Mutex<HashMap<String, Arc<OnceCell<Loaded>>>>,
    legacy: Mutex<HashMap<Fingerprint, LegacyCell>>,
    throttle: Mutex<HashMap<String, (i64, u32)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps are updated by single inserts/removes that a panic cannot tear.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Removes `key`'s cell from `map` if it is still `cell` (a later one stays).
fn detach<K: std::hash::Hash + Eq, V>(map: &Mutex<HashMap<K, Arc<V>>>, key: &K, cell: &Arc<V>) {
    let mut map = lock(map);
    if map.get(key).is_some_and(|c| Arc::ptr_eq(c, cell)) {
        map.remove(key);
    }
}

impl Verifier {
    /// A verifier over `store` and `cache`, allowing `slots` concurrent legacy hashes.
    pub fn new(
        store: Arc<dyn Store>,
        cache: Cache,
        clock: Arc<dyn Clock>,
        slots: usize,
    ) -> std::io::Result<Verifier> {
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(std::io::Error::other)?;
        Ok(Verifier {
            contact: store.contact(),
            store,
            cache,
            clock,
            key,
            slots: Semaphore::new(slots.max(1)),
            waiting: AtomicUsize::new(0),
            loads: Mutex::new(HashMap::new()),
            legacy: Mutex::new(HashMap::new()),
            throttle: Mutex::new(HashMap::new()),
        })
    }

    /// The record cache (for counters and sizes).
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// Forgets `ids`: cached records go, loads in flight may not insert and are detached,
    /// so a request arriving after this returns reads the store afresh.
    pub fn invalidate(&self, ids: &[String]) {
        self.cache.invalidate(ids);
        let mut loads = lock(&self.loads);
        for id in ids {
            loads.remove(id);
        }
    }

    /// Forgets everything (a configuration reload).
    pub fn clear(&self) {
        self.cache.clear();
        lock(&self.loads).clear();
    }

    /// Caches `record` again (with a new verifier after an upgrade) unless invalidated
    /// since it was loaded.
    pub fn replace(&self, record: Arc<Record>) {
        self.cache.insert(record);
    }

    /// Checks `token`: `Ok(None)` when no token has its id or the secret does not match.
    /// `grace` is `outage_grace_seconds`.
    pub async fn verify(
        &self,
        token: &Token,
        group: &str,
        grace: u64,
        m: &Metrics,
    ) -> Result<Option<Verified>, VerifyError> {
        let now_ms = self.clock.now_ms();
        let Some(record) = self.record(token.id(), group, grace, now_ms).await? else {
            return Ok(None);
        };
        let upgrade = match Stored::of(&record.verifier) {
            Stored::Sha256 => {
                if crate::token::sha256_verify(token, &record.verifier) != Some(true) {
                    return Ok(None);
                }
                None
            }
            Stored::Unknown => return Ok(None),
            Stored::Argon2 => {
                let upgrade = self
                    .legacy_check(token, &record, now_ms.div_euclid(1000), m)
                    .await?;
                if upgrade.is_none() {
                    return Ok(None);
                }
                upgrade
            }
        };
        Ok(Some(Verified { record, upgrade }))
    }

    /// The record of `id`: from the cache within its lifetime, else from the store; while
    /// the database does not answer, from the cache within the grace.
    async fn record(&self, id: &str, group: &str, grace: u64, now_ms: i64) -> Loaded {
        let down = |c: &Arc<Contact>| !c.is_up();
        if self.contact.as_ref().is_some_and(down) {
            return self.during_outage(id, grace, now_ms);
        }
        if let Some(r) = self.cache.get(id, now_ms) {
            return Ok(Some(r));
        }
        match self.load(id, group).await {
            // The database stopped answering just now.
            Err(VerifyError::Store(_)) if self.contact.as_ref().is_some_and(down) => {
                self.during_outage(id, grace, now_ms)
            }
            loaded => loaded,
        }
    }

    /// A record while the database does not answer: the cached one, however old, until
    /// `grace` seconds after the database last answered.
    fn during_outage(&self, id: &str, grace: u64, now_ms: i64) -> Loaded {
        let now = now_ms.div_euclid(1000);
        if !self
            .contact
            .as_ref()
            .is_some_and(|c| c.within_grace(now, grace))
        {
            return Err(VerifyError::Outage(
                "the database has not answered for longer than outage_grace_seconds",
            ));
        }
        match self.cache.peek(id) {
            Some(r) => Ok(Some(r)),
            None => Err(VerifyError::Outage(
                "the database does not answer and the token is not cached",
            )),
        }
    }

    /// The record of `id` from the store, one load per id at a time.
    async fn load(&self, id: &str, group: &str) -> Loaded {
        let cell = lock(&self.loads).entry(id.to_string()).or_default().clone();
        let out = cell.get_or_init(|| self.load_once(id, group)).await.clone();
        detach(&self.loads, &id.to_string(), &cell);
        out
    }

    async fn load_once(&self, id: &str, group: &str) -> Loaded {
        // Read before the store is asked: an invalidation after this point wins.
        let generation = self.cache.generation();
        let loaded_ms = self.clock.now_ms();
        let (store, key) = (self.store.clone(), id.to_string());
        let row = tokio::task::spawn_blocking(move || store.token(&key))
            .await
            .map_err(|_| VerifyError::Task)?
            .map_err(|e| VerifyError::Store(e.to_string()))?;
        let Some(row) = row else { return Ok(None) };
        let (owner, group) = (row.owner.clone(), group.to_string());
        let owner_admin =
            tokio::task::spawn_blocking(move || crate::peer::is_admin_account(&owner, &group))
                .await
                .map_err(|_| VerifyError::Task)?;
        let record = Arc::new(Record {
            restrictions: row.restrictions(),
            id: row.id,
            verifier: row.hash,
            owner: row.owner,
            expires_at: row.expires_at,
            revoke_at: row.revoke_at,
            owner_admin,
            loaded_ms,
            generation,
        });
        self.cache.insert(record.clone());
        Ok(Some(record))
    }

    fn fingerprint(&self, token: &Token) -> Fingerprint {
        let mut h = Sha256::new();
        h.update(self.key);
        h.update(token.expose().as_bytes());
        h.finalize().into()
    }

    /// argon2 against a legacy verifier: one run per distinct token at a time, within the
    /// per-id budget for wrong secrets. On a match, the record is cached with its new
    /// SHA-256 verifier (returned, for the store) before the run is forgotten, so no
    /// request in between finds the old verifier cached and hashes again.
    async fn legacy_check(
        &self,
        token: &Token,
        record: &Record,
        now: i64,
        m: &Metrics,
    ) -> Result<Option<String>, VerifyError> {
        let fp = self.fingerprint(token);
        let cell = lock(&self.legacy).entry(fp).or_default().clone();
        let out = cell
            .get_or_init(|| async {
                if !self.reserve(&record.id, now) {
                    m.argon2_skipped.fetch_add(1, Ordering::Relaxed);
                    return Ok(false);
                }
                let ok = self
                    .hash_bounded(token.clone(), record.verifier.clone(), m)
                    .await?;
                if ok {
                    self.release(&record.id, now);
                }
                Ok(ok)
            })
            .await
            .clone();
        let upgrade = match out {
            Ok(true) => crate::token::new_verifier(token).ok(),
            Ok(false) => None,
            Err(e) => {
                detach(&self.legacy, &fp, &cell);
                return Err(e);
            }
        };
        if let Some(new) = &upgrade {
            self.replace(Arc::new(Record {
                verifier: new.clone(),
                ..record.clone()
            }));
        }
        detach(&self.legacy, &fp, &cell);
        Ok(upgrade)
    }

    /// Counts one hash for `id` in the current second, before it runs, so concurrent
    /// attempts cannot all slip past the limit; false when the id used up its allowance.
    fn reserve(&self, id: &str, now: i64) -> bool {
        let mut t = lock(&self.throttle);
        if t.len() >= MAX_THROTTLED {
            t.retain(|_, (sec, _)| *sec == now);
        }
        let slot = t.entry(id.to_string()).or_insert((now, 0));
        if slot.0 != now {
            *slot = (now, 0);
        }
        if slot.1 >= FAILS_PER_ID_PER_SEC {
            return false;
        }
        slot.1 += 1;
        true
    }

    /// Gives back a reservation: the secret was right, so it was no failure.
    fn release(&self, id: &str, now: i64) {
        if let Some(slot) = lock(&self.throttle).get_mut(id) {
            if slot.0 == now {
                slot.1 = slot.1.saturating_sub(1);
            }
        }
    }

    async fn hash_bounded(
        &self,
        token: Token,
        phc: String,
        m: &Metrics,
    ) -> Result<bool, VerifyError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            m.argon2_skipped.fetch_add(1, Ordering::Relaxed);
            return Err(VerifyError::Busy);
        }
        let permit = self.slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(|_| VerifyError::Task)?;
        m.argon2_verifications.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || crate::token::legacy_argon2_verify(&token, &phc))
            .await
            .map_err(|_| VerifyError::Task)
    }
}

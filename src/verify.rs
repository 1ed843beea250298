//! The cold path: turning a token nobody has cached yet into a [`Verified`] entry.
//!
//! argon2 runs on blocking threads, at most `slots` at once, with a bounded queue; a token
//! asked for concurrently is hashed once (single flight); and a token id that keeps failing
//! gets at most [`FAILS_PER_ID_PER_SEC`] hashes a second, so a flood of wrong secrets for
//! one id cannot take the CPU that cached traffic needs.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{OnceCell, Semaphore};

use crate::cache::{Cache, Fingerprint, Verified};
use crate::store::Store;
use crate::token::{Stored, Token};

/// Failed verifications allowed per token id per second before further secrets for that
/// id are refused without hashing.
pub const FAILS_PER_ID_PER_SEC: u32 = 4;
/// Verifications that may wait for a hashing slot; past it, new ones are refused at once.
const MAX_QUEUE: usize = 64;
/// Ids tracked by the failure throttle at most.
const MAX_THROTTLED: usize = 100_000;

/// The result of a verification: `Ok(None)` means the token is not valid.
pub type Outcome = Result<Option<Arc<Verified>>, VerifyError>;

/// Why a verification could not decide.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VerifyError {
    #[error("database: {0}")]
    Store(String),
    #[error("too many verifications waiting")]
    Busy,
    #[error("verification task failed")]
    Task,
}

/// The verifier shared by every front end.
pub struct Verifier {
    store: Arc<dyn Store>,
    slots: Semaphore,
    waiting: AtomicUsize,
    inflight: Mutex<HashMap<Fingerprint, Arc<OnceCell<Outcome>>>>,
    throttle: Mutex<HashMap<String, (i64, u32)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Both maps are updated by single inserts/removes that a panic cannot tear.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Verifier {
    /// A verifier allowing `slots` concurrent hashes.
    pub fn new(store: Arc<dyn Store>, slots: usize) -> Verifier {
        Verifier {
            store,
            slots: Semaphore::new(slots.max(1)),
            waiting: AtomicUsize::new(0),
            inflight: Mutex::new(HashMap::new()),
            throttle: Mutex::new(HashMap::new()),
        }
    }

    /// Verifies `token` (not in the cache) and caches a success.
    pub async fn verify(
        &self,
        cache: &Cache,
        fp: Fingerprint,
        token: &Token,
        admin_group: &str,
        now: i64,
        metrics: &crate::metrics::Metrics,
    ) -> Outcome {
        let generation = cache.generation();
        let cell = lock(&self.inflight).entry(fp).or_default().clone();
        let outcome = cell
            .get_or_init(|| {
                self.verify_once(
                    cache,
                    fp,
                    token.clone(),
                    admin_group.to_string(),
                    now,
                    metrics,
                )
            })
            .await
            .clone();
        {
            let mut inflight = lock(&self.inflight);
            if inflight.get(&fp).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                inflight.remove(&fp);
            }
        }
        if let Ok(Some(entry)) = &outcome {
            cache.insert(fp, entry.clone(), generation);
        }
        outcome
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

    async fn verify_once(
        &self,
        cache: &Cache,
        fp: Fingerprint,
        token: Token,
        group: String,
        now: i64,
        metrics: &crate::metrics::Metrics,
    ) -> Outcome {
        let store = self.store.clone();
        let id = token.id().to_string();
        let record = tokio::task::spawn_blocking(move || store.token(&id))
            .await
            .map_err(|_| VerifyError::Task)?
            .map_err(|e| VerifyError::Store(e.to_string()))?;
        let Some(record) = record else {
            return Ok(None);
        };
        let ok = match Stored::of(&record.hash) {
            // One SHA-256: no budget needed, a wrong secret costs microseconds.
            Stored::Sha256 => crate::token::sha256_verify(&token, &record.hash) == Some(true),
            Stored::Unknown => false,
            Stored::Argon2 => {
                if !self.reserve(&record.id, now) {
                    metrics.argon2_skipped.fetch_add(1, Ordering::Relaxed);
                    // A token verified earlier keeps working while its id is flooded.
                    return Ok(cache.get_stale(&fp));
                }
                let ok = self
                    .hash_bounded(token.clone(), record.hash.clone(), metrics)
                    .await?;
                if ok {
                    self.release(&record.id, now);
                    self.upgrade(&token, &record, now).await;
                }
                ok
            }
        };
        if !ok {
            return Ok(None);
        }
        let owner = record.owner.clone();
        let owner_admin =
            tokio::task::spawn_blocking(move || crate::peer::is_admin_account(&owner, &group))
                .await
                .map_err(|_| VerifyError::Task)?;
        Ok(Some(Arc::new(Verified {
            restrictions: record.restrictions(),
            revoke_at: record.revoke_at,
            id: record.id,
            owner: record.owner,
            expires_at: record.expires_at,
            owner_admin,
        })))
    }

    async fn hash_bounded(
        &self,
        token: Token,
        phc: String,
        metrics: &crate::metrics::Metrics,
    ) -> Result<bool, VerifyError> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= MAX_QUEUE {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            metrics.argon2_skipped.fetch_add(1, Ordering::Relaxed);
            return Err(VerifyError::Busy);
        }
        let permit = self.slots.acquire().await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        let _permit = permit.map_err(|_| VerifyError::Task)?;
        metrics.argon2_verifications.fetch_add(1, Ordering::Relaxed);
        tokio::task::spawn_blocking(move || crate::token::legacy_argon2_verify(&token, &phc))
            .await
            .map_err(|_| VerifyError::Task)
    }

    /// Replaces a legacy verifier that just matched with a current one. Compare-and-set:
    /// a token deleted or rotated meanwhile is left as it is. A failure costs only speed
    /// (the next use checks argon2 again), so it is logged, not returned.
    async fn upgrade(&self, token: &Token, record: &crate::store::TokenRecord, now: i64) {
        let Ok(new) = crate::token::new_verifier(token) else {
            return;
        };
        let event = crate::audit::Event::new("token.upgrade", now)
            .with("user", record.owner.as_str())
            .with("token_id", record.id.as_str())
            .with("from", "argon2id")
            .with("to", "sha256");
        let (store, id, old) = (self.store.clone(), record.id.clone(), record.hash.clone());
        let done =
            tokio::task::spawn_blocking(move || store.upgrade_verifier(&id, &old, &new, &event))
                .await;
        if let Ok(Err(e)) = done {
            eprintln!(
                "apitokend: cannot upgrade the verifier of token {}: {e}",
                record.id
            );
        }
    }
}

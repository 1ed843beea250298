//! What front ends may read of the engine's state: token listings, the audit trail,
//! counts, the failure table, the fleet database's state and the counters of `/metrics`.
//! Nothing here changes state; changes go through the operations (`ops`).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::Engine;
use crate::store::{
    AuditQuery, AuditRow, Contact, FailureRow, StoreError, TokenFilter, TokenRecord,
};

/// Counters and sizes of the engine's parts, read at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Counters {
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Tokens in the cache now.
    pub cache_entries: u64,
    pub syslog_sent: u64,
    /// Syslog lines dropped because the log socket was slow or gone.
    pub syslog_dropped: u64,
    /// Audit records and failure rows waiting for the database to answer.
    pub queued: u64,
    /// Records dropped while the database did not answer because the queue was full.
    pub queue_dropped: u64,
}

impl Engine {
    /// Tokens matching `filter` (blocking).
    pub fn tokens(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError> {
        self.store.tokens_filtered(filter)
    }

    /// Audit events matching `query`, newest first (blocking).
    pub fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        self.store.audit_page(query)
    }

    /// How many tokens there are, and how many users own them (blocking).
    pub fn counts(&self) -> Result<(u64, u64), StoreError> {
        self.store.counts()
    }

    /// The failure table as it stands now, sorted by user: `locked_until` is given only
    /// while the lock lasts (`i64::MAX`: until reset).
    pub fn failures(&self) -> Vec<FailureRow> {
        self.lockout.snapshot(self.clock.now())
    }

    /// The fleet database's state; `None` for a store only this host uses.
    pub fn database(&self) -> Option<Arc<Contact>> {
        self.store.contact()
    }

    /// The counters of the cache, syslog and outbox.
    pub fn counters(&self) -> Counters {
        let cache = self.verifier.cache();
        let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            cache_hits: get(&cache.hits),
            cache_misses: get(&cache.misses),
            cache_entries: cache.len() as u64,
            syslog_sent: get(&self.syslog.sent),
            syslog_dropped: get(&self.syslog.dropped),
            queued: self.outbox.len() as u64,
            queue_dropped: get(&self.outbox.dropped),
        }
    }
}

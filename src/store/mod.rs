//! The store: tokens (id and a one-way verifier, never the token), settings, the audit
//! trail and failure counts, behind one interface, [`Store`], that every backend
//! implements. SQLite ([`SqliteStore`]) is the first backend; a PostgreSQL fleet store
//! (SPEC §12) is the second.
//!
//! Layout:
//! - `model`: the stored records ([`TokenRecord`], [`AuditRow`], [`FailureRow`], [`LastUsed`]).
//! - `listing`: listing queries and their opaque paging cursors ([`TokenFilter`], [`Cursor`]).
//! - `sqlite`: the SQLite backend: connection, the one change-and-audit transaction helper.
//! - `tokens`, `settings`, `audit`, `failures`: the SQLite statements of each concept.
//! - `migrate`: the numbered schema migrations.
//! - `pg`: the PostgreSQL backend of a fleet, its change log and its follower, the import
//!   of a SQLite database.
//! - `suite` (tests): the behaviour every backend must show, generic over [`Store`].
//!
//! Contract for every backend:
//! - Every change is one transaction, and the audit record of a change commits together
//!   with it (or not at all). A fleet backend also appends its change-log row (a sequence
//!   number naming what to invalidate) in that same transaction.
//! - Listings are ordered by the sort column, then by id, in the requested direction;
//!   `NULL` sorts before every value (ascending) and after every value (descending), so a
//!   cursor taken from the last row of a page continues exactly after it.
//! - Methods block: callers run them on blocking threads, never on the async runtime
//!   (docs/decisions.md, "The store interface blocks").

mod audit;
mod failures;
mod listing;
mod migrate;
mod model;
mod pg;
mod sessions;
mod settings;
mod sqlite;
#[cfg(test)]
pub(crate) mod suite;
mod tokens;

pub use listing::{AuditQuery, Cursor, CursorError, SortKey, TokenFilter};
pub use model::{
    push_recent, AuditRow, FailureRow, LastUsed, SharedFailure, TokenRecord, TokenState, RECENT_IPS,
};
pub use pg::{Applied, Change, ChangeSink, Contact, Imported, PgStore, Position};
pub use sessions::SessionLimits;
pub use sqlite::SqliteStore;

use crate::audit::Event;
use crate::settings::Settings;

/// A store failure; the message never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The database did not answer (down, unreachable, every connection busy).
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// `[store]` cannot be used as written (no secret is ever part of the message).
    #[error("cannot use the database: {0}")]
    Config(String),
    #[error("cannot prepare database file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "database schema version {0} is newer than this apitokend understands; upgrade apitokend"
    )]
    TooNew(i64),
    /// A stored value that no longer parses (a damaged or hand-edited database): an error
    /// rather than a silent default, so the daemon fails closed.
    #[error("stored {what} is invalid: {detail}")]
    Corrupt { what: String, detail: String },
}

impl StoreError {
    /// Whether the database could not be reached (down, unreachable, too slow), as opposed
    /// to answering with an error: such a failure may succeed later unchanged.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Unavailable(_) => true,
            StoreError::Postgres(e) => e.as_db_error().is_none(),
            _ => false,
        }
    }
}

/// `event`, the record of a deletion ([`Store::delete_all`], [`Store::prune`]), with its
/// `count` filled in from the ids deleted.
fn counted<'e>(event: &'e mut Event, ids: &[String]) -> &'e Event {
    event.push("count", ids.len().to_string());
    event
}

/// What the daemon needs from its database. Every method is one transaction; every change
/// that takes an [`Event`] records it in the same transaction.
pub trait Store: Send + Sync {
    /// One token by id.
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Tokens matching `filter`, in its order, after its cursor, at most its limit.
    fn tokens_filtered(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError>;

    /// Tokens of one owner, or all, oldest first.
    fn tokens(&self, owner: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        self.tokens_filtered(&TokenFilter {
            owner: owner.map(String::from),
            ..TokenFilter::default()
        })
    }

    /// Number of tokens and of distinct owners.
    fn counts(&self) -> Result<(u64, u64), StoreError>;

    /// Stores a new token with its `token.create` event unless its owner already holds
    /// `max` usable ones (0 = no limit); the count and the insert are one transaction, so
    /// parallel creates cannot overshoot. False (and nothing stored) when over the limit.
    fn insert_token_limited(
        &self,
        t: &TokenRecord,
        event: &Event,
        max: u32,
    ) -> Result<bool, StoreError>;

    /// Stores a new token with its event, without a per-user limit.
    fn insert_token(&self, t: &TokenRecord, event: &Event) -> Result<(), StoreError> {
        self.insert_token_limited(t, event, 0).map(|_| ())
    }

    /// Deletes one token with its event; false (and no event) if it did not exist.
    fn delete_token(&self, id: &str, event: &Event) -> Result<bool, StoreError>;

    /// Deletes every token of `owner`; returns their ids. The event's `count` is filled in.
    fn delete_all(&self, owner: &str, event: &mut Event) -> Result<Vec<String>, StoreError>;

    /// Stores `new` and marks `old_id` as rotated to it, stopping at `revoke_at`.
    fn rotate(
        &self,
        old_id: &str,
        revoke_at: i64,
        new: &TokenRecord,
        event: &Event,
    ) -> Result<(), StoreError>;

    /// Deletes tokens that expired or were rotated away before `before`; returns their
    /// ids. The event's `count` is filled in.
    fn prune(&self, before: i64, event: &mut Event) -> Result<Vec<String>, StoreError>;

    /// Replaces token `id`'s verifier `old` by `new`, with its event (`token.upgrade`),
    /// only if the row still holds `old` (compare-and-set: a concurrent delete, rotation
    /// or upgrade on another host is never undone). True when the row was changed.
    fn upgrade_verifier(
        &self,
        id: &str,
        old: &str,
        new: &str,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// Writes a batch of last-used updates in one transaction; unknown ids are skipped.
    fn record_last_used(&self, batch: &[LastUsed]) -> Result<(), StoreError>;

    /// The settings, defaults for any not stored. A stored value that no longer parses is
    /// [`StoreError::Corrupt`].
    fn settings(&self) -> Result<Settings, StoreError>;

    /// Stores one setting's new text value with its event.
    fn set_setting(&self, key: &str, value: &str, event: &Event) -> Result<(), StoreError>;

    /// Stores an event on its own (e.g. `token.reuse`).
    fn append_event(&self, event: &Event) -> Result<(), StoreError>;

    /// Audit events, newest first, matching `query` (see [`AuditQuery`]).
    fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError>;

    /// Audit events, newest first: those whose user or actor is `user` when given, since
    /// `since` (unix seconds), at most `limit`.
    fn audit(
        &self,
        user: Option<&str>,
        since: i64,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        self.audit_page(&AuditQuery {
            user: user.map(String::from),
            since,
            before: None,
            limit,
        })
    }

    /// The failure rows worth loading at start: users locked at `now`, and counts whose
    /// window (`window` seconds) has not ended; the most recent `max` of them.
    fn failures(&self, now: i64, window: i64, max: usize) -> Result<Vec<FailureRow>, StoreError>;

    /// Writes one user's failure state, with an event (`user.lockout`) when given. A row
    /// with no count and no lock is deleted instead: there is nothing to remember.
    fn save_failure(&self, row: &FailureRow, event: Option<&Event>) -> Result<(), StoreError>;

    /// Changes `user`'s failure row atomically: concurrent calls for one user, from any
    /// host, run one after another (a row lock). `f` gets the row as stored (a fresh one
    /// when there is none) and returns the event to record with the change, if any. The
    /// row it leaves is stored (deleted when [`SharedFailure::is_empty`]); when its count
    /// or lock changed, the other hosts of a fleet are told. Returns the row as left.
    /// `f` may run more than once (a backend may first try it on the row unlocked, and
    /// keep that answer when it changes nothing); the last run is the one that counts.
    fn update_failure(
        &self,
        user: &str,
        now: i64,
        f: &mut dyn FnMut(&mut SharedFailure) -> Option<Event>,
    ) -> Result<SharedFailure, StoreError>;

    /// Whether other hosts share this store (a fleet): lockout then reserves every
    /// password attempt here with [`Store::update_failure`] before checking it, so an
    /// attempt on any host counts for all. A store of one host counts in memory only.
    fn shared(&self) -> bool {
        false
    }

    /// Forgets a user's failure row without an event (its window ended unlocked).
    fn drop_failure(&self, user: &str) -> Result<(), StoreError>;

    /// Deletes every row that no longer matters at `now`: not locked (or its lock ended)
    /// and its window of `window` seconds over. Returns how many were deleted.
    fn expire_failures(&self, now: i64, window: i64) -> Result<u64, StoreError>;

    /// Forgets a user's failures and lock, with the `failures.reset` event.
    fn reset_failures(&self, user: &str, event: &Event) -> Result<(), StoreError>;

    /// Gives token `id` a new name with its event (`token.rename`); false (and no event)
    /// when there is no such token.
    fn rename_token(&self, id: &str, name: &str, event: &Event) -> Result<bool, StoreError>;

    /// Stores a new web session by the hash of its id, and drops every expired one.
    fn session_create(
        &self,
        id_hash: &str,
        user: &str,
        now: i64,
        limits: SessionLimits,
    ) -> Result<(), StoreError>;

    /// The user of a live session, whose idle time starts again; `None` (and the row
    /// gone) when it does not exist or has expired.
    fn session_touch(
        &self,
        id_hash: &str,
        now: i64,
        limits: SessionLimits,
    ) -> Result<Option<String>, StoreError>;

    /// Ends a session (logout); true when it existed.
    fn session_delete(&self, id_hash: &str) -> Result<bool, StoreError>;

    /// From now on, hands what other hosts sharing this store change to `sink` (a
    /// fleet's store, SPEC §12). A store that only this host uses has nothing to follow.
    fn follow(&self, _sink: std::sync::Arc<dyn ChangeSink>) {}

    /// When the database last answered (a fleet's store, for `/health` and `/metrics`);
    /// `None` for a local file, which is always there.
    fn contact(&self) -> Option<std::sync::Arc<Contact>> {
        None
    }
}

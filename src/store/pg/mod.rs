//! The PostgreSQL backend (SPEC §12): one database shared by every host of a fleet.
//!
//! The [`Store`] trait blocks; this backend runs tokio-postgres on a small runtime of its
//! own (two threads: the pool's connections and the change-log listener), and each call
//! waits for its future on the calling thread with `futures_executor::block_on` inside that
//! runtime's context (`calls`). It never runs on the daemon's request runtime; a call
//! waits at most [`CALL_TIMEOUT`] (the query of a token lookup [`REQUEST_TIMEOUT`]), and while the
//! database is unreachable every call fails at once (`contact`) instead of waiting for a
//! reconnect, which only the follower attempts, in the background.
//!
//! Every change is one transaction holding the change itself, its audit record and its
//! change-log rows (`changes`, see `follow`), which other hosts apply.

mod calls;
mod connect;
mod contact;
mod follow;
mod import;
mod migrate;
mod rows;
mod sessions;
#[cfg(test)]
mod tests;
mod tokens;

use std::borrow::Cow;
use std::sync::Arc;

use calls::fast_recycling;
pub use calls::{CALL_TIMEOUT, REQUEST_TIMEOUT};
pub use contact::Contact;
pub use follow::{Applied, Change, ChangeSink, Position};
pub use import::Imported;

use super::{
    counted, AuditQuery, AuditRow, FailureRow, LastUsed, SessionLimits, SharedFailure, Store,
    StoreError, TokenFilter, TokenRecord,
};
use crate::audit::Event;
use crate::config::StoreConfig;
use crate::settings::Settings;

/// How long opening the store (connecting, waiting for other hosts' migrations) may take.
const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// The PostgreSQL store; see the module documentation.
pub struct PgStore {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: deadpool_postgres::Pool,
    target: connect::Target,
    contact: Arc<Contact>,
    /// Fails calls at once while the database is unreachable; only the follower's view,
    /// which is what finds out that it answers again, is not guarded.
    guarded: bool,
    /// The longest a call waits: [`CALL_TIMEOUT`], longer while opening.
    limit: std::time::Duration,
    /// The change log's head when the store was opened: what the engine loaded is at
    /// least that recent, so following starts there.
    opened_at: i64,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which an async caller must not do.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl PgStore {
    /// Connects to the database of `[store]` and migrates it (once, under a lock).
    pub fn open(config: &StoreConfig) -> Result<PgStore, StoreError> {
        let target = connect::target(config)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("apitokend-db")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Config(format!("cannot start the database runtime: {e}")))?;
        let manager = match &target.tls {
            Some(tls) => deadpool_postgres::Manager::from_config(
                target.config.clone(),
                tls.clone(),
                fast_recycling(),
            ),
            None => deadpool_postgres::Manager::from_config(
                target.config.clone(),
                tokio_postgres::NoTls,
                fast_recycling(),
            ),
        };
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(config.pool_size as usize)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            // Every call is bounded as a whole (`calls`), waiting and connecting included.
            .wait_timeout(None)
            .create_timeout(None)
            .recycle_timeout(None)
            .build()
            .map_err(|e| StoreError::Config(format!("database pool: {e}")))?;
        let mut store = PgStore {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            target,
            contact: Arc::new(Contact::default()),
            guarded: false,
            limit: OPEN_TIMEOUT,
            opened_at: 0,
        };
        store.run(async {
            let mut client = store.client().await?;
            let client: &mut tokio_postgres::Client = &mut client;
            migrate::run(client).await
        })?;
        store.opened_at = store.log_head()?;
        (store.guarded, store.limit) = (true, CALL_TIMEOUT);
        Ok(store)
    }

    /// Deletes the tokens that `sql`, a `DELETE … RETURNING id` with the one parameter
    /// `arg`, selects, recording `event` with its `count` filled in and a change-log row
    /// for each token (`delete_all`, `prune`).
    fn delete_listed(
        &self,
        sql: &str,
        arg: &(dyn tokio_postgres::types::ToSql + Sync),
        event: &mut Event,
    ) -> Result<Vec<String>, StoreError> {
        self.change(async move |tx| {
            let ids = tokens::ids(tx, sql, arg).await?;
            let changes = ids.iter().cloned().map(Change::Token).collect();
            let event = Cow::Borrowed(counted(event, &ids));
            Ok((ids, Some(event), changes))
        })
    }

    /// The same database without a runtime of its own (for the follower's task, which
    /// lives on this store's runtime and ends with it).
    fn view(&self) -> PgStore {
        PgStore {
            runtime: None,
            handle: self.handle.clone(),
            pool: self.pool.clone(),
            target: self.target.clone(),
            contact: self.contact.clone(),
            guarded: false,
            limit: CALL_TIMEOUT,
            opened_at: self.opened_at,
        }
    }
}

impl Store for PgStore {
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read(async |c| calls::within(REQUEST_TIMEOUT, tokens::get(c, id)).await)
    }

    fn tokens_filtered(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(async |c| tokens::list(c, filter).await)
    }

    fn counts(&self) -> Result<(u64, u64), StoreError> {
        self.read(async |c| tokens::counts(c).await)
    }

    fn insert_token_limited(
        &self,
        t: &TokenRecord,
        event: &Event,
        max: u32,
    ) -> Result<bool, StoreError> {
        self.change(async |tx| {
            if max > 0 && tokens::usable(tx, &t.owner, t.created_at).await? >= u64::from(max) {
                return Ok((false, None, Vec::new()));
            }
            tokens::insert(tx, t, false).await?;
            // A new id is in no host's cache: nothing for the others to forget.
            Ok((true, Some(Cow::Borrowed(event)), Vec::new()))
        })
    }

    fn delete_token(&self, id: &str, event: &Event) -> Result<bool, StoreError> {
        self.change(async |tx| {
            let n = tx
                .execute("DELETE FROM tokens WHERE id = $1", &[&id])
                .await?;
            let gone = n == 1;
            let changes = gone
                .then(|| Change::Token(id.to_string()))
                .into_iter()
                .collect();
            Ok((gone, gone.then_some(Cow::Borrowed(event)), changes))
        })
    }

    fn delete_all(&self, owner: &str, event: &mut Event) -> Result<Vec<String>, StoreError> {
        let sql = "DELETE FROM tokens WHERE owner = $1 RETURNING id";
        self.delete_listed(sql, &owner, event)
    }

    fn rotate(
        &self,
        old_id: &str,
        revoke_at: i64,
        new: &TokenRecord,
        event: &Event,
    ) -> Result<(), StoreError> {
        self.change(async |tx| {
            tokens::insert(tx, new, false).await?;
            tx.execute(
                "UPDATE tokens SET revoke_at = $2, rotated_to = $3 WHERE id = $1",
                &[&old_id, &revoke_at, &new.id],
            )
            .await?;
            let changes = vec![
                Change::Token(old_id.to_string()),
                Change::Token(new.id.clone()),
            ];
            Ok(((), Some(Cow::Borrowed(event)), changes))
        })
    }

    fn prune(&self, before: i64, event: &mut Event) -> Result<Vec<String>, StoreError> {
        let sql = "DELETE FROM tokens WHERE expires_at < $1 OR revoke_at < $1 RETURNING id";
        self.delete_listed(sql, &before, event)
    }

    fn upgrade_verifier(
        &self,
        id: &str,
        old: &str,
        new: &str,
        event: &Event,
    ) -> Result<bool, StoreError> {
        self.change(async |tx| {
            let n = tx
                .execute(
                    "UPDATE tokens SET hash = $3 WHERE id = $1 AND hash = $2",
                    &[&id, &old, &new],
                )
                .await?;
            let changed = n == 1;
            Ok((changed, changed.then_some(Cow::Borrowed(event)), Vec::new()))
        })
    }

    fn record_last_used(&self, batch: &[LastUsed]) -> Result<(), StoreError> {
        self.change(async |tx| {
            tokens::record_last_used(tx, batch).await?;
            Ok(((), None, Vec::new()))
        })
    }

    fn settings(&self) -> Result<Settings, StoreError> {
        self.read(async |c| rows::settings(c).await)
    }

    fn set_setting(&self, key: &str, value: &str, event: &Event) -> Result<(), StoreError> {
        self.change(async |tx| {
            rows::store_setting(tx, key, value, false).await?;
            Ok(((), Some(Cow::Borrowed(event)), vec![Change::Settings]))
        })
    }

    fn append_event(&self, event: &Event) -> Result<(), StoreError> {
        self.change(async |_| Ok(((), Some(Cow::Borrowed(event)), Vec::new())))
    }

    fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        self.read(async |c| rows::audit_page(c, query).await)
    }

    fn failures(&self, now: i64, window: i64, max: usize) -> Result<Vec<FailureRow>, StoreError> {
        self.read(async |c| rows::live_failures(c, now, window, max).await)
    }

    fn save_failure(&self, row: &FailureRow, event: Option<&Event>) -> Result<(), StoreError> {
        self.change(async |tx| {
            rows::save_failure(tx, row).await?;
            let told = vec![Change::Failure(row.user.clone())];
            Ok(((), event.map(Cow::Borrowed), told))
        })
    }

    fn update_failure(
        &self,
        user: &str,
        now: i64,
        f: &mut dyn FnMut(&mut SharedFailure) -> Option<Event>,
    ) -> Result<SharedFailure, StoreError> {
        self.change(async |tx| {
            let (row, event, changed) = rows::update_failure(tx, user, now, f).await?;
            let told = changed.then(|| Change::Failure(user.to_string()));
            Ok((row, event.map(Cow::Owned), told.into_iter().collect()))
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn drop_failure(&self, user: &str) -> Result<(), StoreError> {
        self.change(async |tx| {
            rows::delete_failure(tx, user).await?;
            Ok(((), None, Vec::new()))
        })
    }

    fn expire_failures(&self, now: i64, window: i64) -> Result<u64, StoreError> {
        self.change(async |tx| {
            Ok((
                rows::expire_failures(tx, now, window).await?,
                None,
                Vec::new(),
            ))
        })
    }

    fn reset_failures(&self, user: &str, event: &Event) -> Result<(), StoreError> {
        self.change(async |tx| {
            rows::delete_failure(tx, user).await?;
            let told = vec![Change::Failure(user.to_string())];
            Ok(((), Some(Cow::Borrowed(event)), told))
        })
    }

    fn rename_token(&self, id: &str, name: &str, event: &Event) -> Result<bool, StoreError> {
        self.change(async |tx| {
            let n = tx
                .execute("UPDATE tokens SET name = $2 WHERE id = $1", &[&id, &name])
                .await?;
            let found = n == 1;
            Ok((found, found.then_some(Cow::Borrowed(event)), Vec::new()))
        })
    }

    fn session_create(
        &self,
        id_hash: &str,
        user: &str,
        now: i64,
        limits: SessionLimits,
    ) -> Result<(), StoreError> {
        self.change(async |tx| {
            sessions::create(tx, id_hash, user, now, limits).await?;
            Ok(((), None, Vec::new()))
        })
    }

    fn session_touch(
        &self,
        id_hash: &str,
        now: i64,
        limits: SessionLimits,
    ) -> Result<Option<String>, StoreError> {
        self.change(async |tx| {
            Ok((
                sessions::touch(tx, id_hash, now, limits).await?,
                None,
                Vec::new(),
            ))
        })
    }

    fn follow(&self, sink: Arc<dyn ChangeSink>) {
        self.follow_from(self.opened_at, sink);
    }

    fn contact(&self) -> Option<Arc<Contact>> {
        Some(self.contact.clone())
    }

    fn session_delete(&self, id_hash: &str) -> Result<bool, StoreError> {
        self.change(async |tx| {
            let n = tx
                .execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
                .await?;
            Ok((n > 0, None, Vec::new()))
        })
    }
}

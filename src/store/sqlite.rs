//! The SQLite backend: one connection behind a mutex, and the one helper that runs a
//! change and its audit record in one transaction. The statements of each concept live in
//! `tokens`, `settings`, `audit` and `failures`.

use rusqlite::{Connection, Transaction};
use std::borrow::Cow;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use super::TokenRecord;
use super::{audit, counted, failures, migrate, sessions, settings, tokens, SessionLimits};
use super::{
    AuditQuery, AuditRow, FailureRow, LastUsed, SharedFailure, Store, StoreError, TokenFilter,
};
use crate::audit::Event;
use crate::settings::Settings;

/// The SQLite database; callers run it off the async runtime.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

/// The write-ahead log is checkpointed at this many pages (1 MiB) and cut back to
/// [`WAL_LIMIT_BYTES`] after a checkpoint, so a burst of small writes (a flood of failure
/// rows) leaves neither a large log nor a large file behind.
const WAL_CHECKPOINT_PAGES: i64 = 256;
const WAL_LIMIT_BYTES: i64 = 1024 * 1024;

impl SqliteStore {
    /// Opens (creating with mode 0600 if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let file_err = |source| StoreError::File {
            path: path.display().to_string(),
            source,
        };
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
            .map_err(file_err)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(file_err)?;
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let store = SqliteStore {
            conn: Mutex::new(conn),
        };
        migrate::run(&mut store.conn())?;
        Ok(store)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions
        // roll back on drop), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in one transaction: committed when it returns `Ok`, rolled back otherwise.
    fn in_tx<T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let value = f(&tx)?;
        tx.commit()?;
        Ok(value)
    }

    /// A change and its audit record in one transaction. `f` makes the change and returns
    /// its result with the event that describes it (the caller's, or one made in the
    /// transaction when only the change knows what it says), or `None` when nothing is to
    /// be recorded. A fleet backend writes its change-log rows at this point too.
    fn change<'e, T>(
        &self,
        f: impl FnOnce(&Transaction<'_>) -> Result<(T, Option<Cow<'e, Event>>), StoreError>,
    ) -> Result<T, StoreError> {
        self.in_tx(|tx| {
            let (value, event) = f(tx)?;
            if let Some(event) = event {
                audit::insert(tx, &event)?;
            }
            Ok(value)
        })
    }
}

impl Store for SqliteStore {
    fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        tokens::get(&self.conn(), id)
    }

    fn tokens_filtered(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError> {
        tokens::list(&self.conn(), filter)
    }

    fn counts(&self) -> Result<(u64, u64), StoreError> {
        tokens::counts(&self.conn())
    }

    fn insert_token_limited(
        &self,
        t: &TokenRecord,
        event: &Event,
        max: u32,
    ) -> Result<bool, StoreError> {
        self.change(|tx| {
            if max > 0 && tokens::usable(tx, &t.owner, t.created_at)? >= u64::from(max) {
                return Ok((false, None));
            }
            tokens::insert(tx, t)?;
            Ok((true, Some(Cow::Borrowed(event))))
        })
    }

    fn delete_token(&self, id: &str, event: &Event) -> Result<bool, StoreError> {
        self.change(|tx| {
            let gone = tokens::delete(tx, id)?;
            Ok((gone, gone.then_some(Cow::Borrowed(event))))
        })
    }

    fn delete_all(&self, owner: &str, event: &mut Event) -> Result<Vec<String>, StoreError> {
        self.change(|tx| {
            let ids = tokens::delete_owner(tx, owner)?;
            let event = Cow::Borrowed(counted(event, &ids));
            Ok((ids, Some(event)))
        })
    }

    fn rotate(
        &self,
        old_id: &str,
        revoke_at: i64,
        new: &TokenRecord,
        event: &Event,
    ) -> Result<(), StoreError> {
        self.change(|tx| {
            tokens::insert(tx, new)?;
            tokens::mark_rotated(tx, old_id, revoke_at, &new.id)?;
            Ok(((), Some(Cow::Borrowed(event))))
        })
    }

    fn prune(&self, before: i64, event: &mut Event) -> Result<Vec<String>, StoreError> {
        self.change(|tx| {
            let ids = tokens::delete_ended(tx, before)?;
            let event = Cow::Borrowed(counted(event, &ids));
            Ok((ids, Some(event)))
        })
    }

    fn upgrade_verifier(
        &self,
        id: &str,
        old: &str,
        new: &str,
        event: &Event,
    ) -> Result<bool, StoreError> {
        self.change(|tx| {
            let changed = tokens::replace_hash(tx, id, old, new)?;
            Ok((changed, changed.then_some(Cow::Borrowed(event))))
        })
    }

    fn record_last_used(&self, batch: &[LastUsed]) -> Result<(), StoreError> {
        self.in_tx(|tx| tokens::record_last_used(tx, batch))
    }

    fn settings(&self) -> Result<Settings, StoreError> {
        settings::load(&self.conn())
    }

    fn set_setting(&self, key: &str, value: &str, event: &Event) -> Result<(), StoreError> {
        self.change(|tx| {
            settings::store(tx, key, value)?;
            Ok(((), Some(Cow::Borrowed(event))))
        })
    }

    fn append_event(&self, event: &Event) -> Result<(), StoreError> {
        self.change(|_| Ok(((), Some(Cow::Borrowed(event)))))
    }

    fn audit_page(&self, query: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
        audit::page(&self.conn(), query)
    }

    fn failures(&self, now: i64, window: i64, max: usize) -> Result<Vec<FailureRow>, StoreError> {
        failures::live(&self.conn(), now, window, max)
    }

    fn save_failure(&self, row: &FailureRow, event: Option<&Event>) -> Result<(), StoreError> {
        self.change(|tx| {
            failures::save(tx, row)?;
            Ok(((), event.map(Cow::Borrowed)))
        })
    }

    fn update_failure(
        &self,
        user: &str,
        now: i64,
        f: &mut dyn FnMut(&mut SharedFailure) -> Option<Event>,
    ) -> Result<SharedFailure, StoreError> {
        self.change(|tx| {
            let (row, event) = failures::update(tx, user, now, f)?;
            Ok((row, event.map(Cow::Owned)))
        })
    }

    fn drop_failure(&self, user: &str) -> Result<(), StoreError> {
        self.in_tx(|tx| failures::delete(tx, user))
    }

    fn expire_failures(&self, now: i64, window: i64) -> Result<u64, StoreError> {
        self.in_tx(|tx| failures::expire(tx, now, window))
    }

    fn rename_token(&self, id: &str, name: &str, event: &Event) -> Result<bool, StoreError> {
        self.change(|tx| {
            let found = sessions::rename_token(tx, id, name)?;
            Ok((found, found.then_some(Cow::Borrowed(event))))
        })
    }

    fn session_create(
        &self,
        id_hash: &str,
        user: &str,
        now: i64,
        limits: SessionLimits,
    ) -> Result<(), StoreError> {
        self.in_tx(|tx| sessions::create(tx, id_hash, user, now, limits))
    }

    fn session_touch(
        &self,
        id_hash: &str,
        now: i64,
        limits: SessionLimits,
    ) -> Result<Option<String>, StoreError> {
        self.in_tx(|tx| sessions::touch(tx, id_hash, now, limits))
    }

    fn session_delete(&self, id_hash: &str) -> Result<bool, StoreError> {
        self.in_tx(|tx| sessions::delete(tx, id_hash))
    }

    fn reset_failures(&self, user: &str, event: &Event) -> Result<(), StoreError> {
        self.change(|tx| {
            failures::delete(tx, user)?;
            Ok(((), Some(Cow::Borrowed(event))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh() -> (SqliteStore, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("tokens.db")).unwrap();
        (store, dir)
    }

    crate::store::suite::store_suite!(fresh());

    #[test]
    fn open_sets_mode_0600_and_migrates_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.db");
        drop(SqliteStore::open(&path).unwrap());
        let store = SqliteStore::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.counts().unwrap(), (0, 0));
    }

    #[test]
    fn settings_damaged_value_is_corrupt_error() {
        let (store, _dir) = fresh();
        store
            .conn()
            .execute("INSERT INTO settings VALUES ('password-auth', 'maybe')", [])
            .unwrap();
        let err = store.settings().unwrap_err().to_string();
        assert!(err.contains("setting password-auth"), "{err}");
    }

    #[test]
    fn open_newer_schema_is_refused() {
        let (store, dir) = fresh();
        store
            .conn()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        drop(store);
        let err = SqliteStore::open(&dir.path().join("tokens.db"))
            .err()
            .unwrap();
        assert!(matches!(err, StoreError::TooNew(99)));
    }
}

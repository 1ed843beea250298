//! SQLite statements for web sessions (SPEC §11): only a SHA-256 of each session id is
//! stored, with its user and the times that bound it; a session past its idle or absolute
//! limit is deleted when seen, and every expired one when a new one starts.

use rusqlite::{params, OptionalExtension, Transaction};

use super::StoreError;

/// How long sessions may live, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Without a request.
    pub idle: i64,
    /// Since the login.
    pub max: i64,
}

pub(super) fn create(
    tx: &Transaction<'_>,
    id_hash: &str,
    user: &str,
    now: i64,
    limits: SessionLimits,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM sessions WHERE last_seen <= ?1 OR created_at <= ?2",
        params![now - limits.idle, now - limits.max],
    )?;
    tx.execute(
        "INSERT INTO sessions (id_hash, user, created_at, last_seen) VALUES (?1, ?2, ?3, ?3)",
        params![id_hash, user, now],
    )?;
    Ok(())
}

pub(super) fn touch(
    tx: &Transaction<'_>,
    id_hash: &str,
    now: i64,
    limits: SessionLimits,
) -> Result<Option<String>, StoreError> {
    let row: Option<(String, i64, i64)> = tx
        .query_row(
            "SELECT user, created_at, last_seen FROM sessions WHERE id_hash = ?1",
            [id_hash],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let Some((user, created, seen)) = row else {
        return Ok(None);
    };
    if seen + limits.idle <= now || created + limits.max <= now {
        tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        return Ok(None);
    }
    tx.execute(
        "UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1",
        params![id_hash, now],
    )?;
    Ok(Some(user))
}

pub(super) fn delete(tx: &Transaction<'_>, id_hash: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])? > 0)
}

pub(super) fn rename_token(tx: &Transaction<'_>, id: &str, name: &str) -> Result<bool, StoreError> {
    Ok(tx.execute(
        "UPDATE tokens SET name = ?2 WHERE id = ?1",
        params![id, name],
    )? == 1)
}

#[cfg(test)]
mod tests {
    use super::SessionLimits;
    use crate::store::{SqliteStore, Store};

    const LIMITS: SessionLimits = SessionLimits { idle: 60, max: 600 };

    fn store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    #[test]
    fn session_touch_idle_and_absolute_expiry_end_it() {
        let (_d, s) = store();
        s.session_create("h1", "alice", 1000, LIMITS).unwrap();
        assert_eq!(
            s.session_touch("h1", 1059, LIMITS).unwrap().as_deref(),
            Some("alice")
        );
        // Touched at 1059: idle counts from there.
        assert!(s.session_touch("h1", 1100, LIMITS).unwrap().is_some());
        assert!(s.session_touch("h1", 1160, LIMITS).unwrap().is_none());
        assert!(s.session_touch("h1", 1161, LIMITS).unwrap().is_none());
        s.session_create("h2", "bob", 1000, LIMITS).unwrap();
        let mut t = 1000;
        while t < 1550 {
            t += 50;
            assert!(s.session_touch("h2", t, LIMITS).unwrap().is_some(), "{t}");
        }
        assert!(
            s.session_touch("h2", 1600, LIMITS).unwrap().is_none(),
            "max"
        );
    }

    #[test]
    fn session_delete_ends_it() {
        let (_d, s) = store();
        s.session_create("h", "alice", 10, LIMITS).unwrap();
        assert!(s.session_delete("h").unwrap());
        assert!(!s.session_delete("h").unwrap());
        assert!(s.session_touch("h", 11, LIMITS).unwrap().is_none());
    }
}

//! The SQLite store: tokens (id and a one-way verifier, never the token), settings, the audit
//! trail and failure counts. The only module that touches SQLite. Every change is one
//! transaction; an audit record commits together with the change it describes.

use rusqlite::{params, Connection, OptionalExtension, Transaction};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::audit::Event;
use crate::settings::Settings;

/// A store failure; the message never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot prepare database file {path}: {source}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "database schema version {0} is newer than this apitokend understands; upgrade apitokend"
    )]
    TooNew(i64),
}

/// One token's stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub owner: String,
    pub name: String,
    /// The one-way verifier of the whole token (`token::at_rest`).
    pub hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// Comma-separated scopes; `None` for tokens from before scopes (every scope).
    pub scopes: Option<String>,
    /// Comma-separated HTTP path prefixes; empty for any path.
    pub paths: String,
    /// Comma-separated networks narrowing `allowed-networks`; empty for none.
    pub networks: String,
    /// When a rotated-away token stops working.
    pub revoke_at: Option<i64>,
    /// The id of the token that replaced this one.
    pub rotated_to: Option<String>,
    /// The last few distinct client addresses, most recent first, comma-separated.
    pub last_ips: String,
}

/// One stored audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    pub time: i64,
    pub event: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A user's failure count and lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRow {
    pub user: String,
    pub count: u32,
    pub window_start: i64,
    /// `Some(i64::MAX)` means locked until reset.
    pub locked_until: Option<i64>,
}

/// A pending last-used update.
#[derive(Debug, Clone)]
pub struct LastUsed {
    pub id: String,
    pub at: i64,
    /// The most recent address.
    pub ip: Option<String>,
    /// Distinct addresses since the last write, oldest first.
    pub recent: Vec<String>,
}

const MIGRATIONS: &[&str] = &[
    // 1: initial schema.
    "CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        last_used_ip TEXT
    );
    CREATE INDEX tokens_owner ON tokens(owner);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        event TEXT NOT NULL,
        user TEXT,
        actor TEXT,
        fields TEXT NOT NULL
    );
    CREATE INDEX audit_user_time ON audit(user, time);
    CREATE INDEX audit_actor_time ON audit(actor, time);
    CREATE TABLE failures (
        user TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        locked_until INTEGER
    );",
    // 2: scopes, path prefixes, per-token networks, rotation, recent addresses, and
    // indexes for fleet listings. Existing tokens get NULL scopes: every scope, as before.
    "ALTER TABLE tokens ADD COLUMN scopes TEXT;
    ALTER TABLE tokens ADD COLUMN paths TEXT NOT NULL DEFAULT '';
    ALTER TABLE tokens ADD COLUMN networks TEXT NOT NULL DEFAULT '';
    ALTER TABLE tokens ADD COLUMN revoke_at INTEGER;
    ALTER TABLE tokens ADD COLUMN rotated_to TEXT;
    ALTER TABLE tokens ADD COLUMN last_ips TEXT NOT NULL DEFAULT '';
    CREATE INDEX tokens_created ON tokens(created_at);
    CREATE INDEX tokens_expires ON tokens(expires_at);
    CREATE INDEX tokens_last_used ON tokens(last_used_at);",
];

/// The database; one connection behind a mutex (callers run it off the async runtime).
pub struct Store {
    conn: Mutex<Connection>,
}

fn token_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
    Ok(TokenRecord {
        id: r.get(0)?,
        owner: r.get(1)?,
        name: r.get(2)?,
        hash: r.get(3)?,
        created_at: r.get(4)?,
        created_by: r.get(5)?,
        expires_at: r.get(6)?,
        last_used_at: r.get(7)?,
        last_used_ip: r.get(8)?,
        scopes: r.get(9)?,
        paths: r.get(10)?,
        networks: r.get(11)?,
        revoke_at: r.get(12)?,
        rotated_to: r.get(13)?,
        last_ips: r.get(14)?,
    })
}

const TOKEN_COLUMNS: &str = "id, owner, name, hash, created_at, created_by, expires_at, \
    last_used_at, last_used_ip, scopes, paths, networks, revoke_at, rotated_to, last_ips";

fn insert_event(tx: &Transaction<'_>, event: &Event) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit (time, event, user, actor, fields) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            event.time,
            event.name,
            event.get("user"),
            event.get("actor"),
            event.fields_json()
        ],
    )?;
    Ok(())
}

fn insert_record(tx: &Transaction<'_>, t: &TokenRecord) -> rusqlite::Result<()> {
    tx.execute(
        &format!(
            "INSERT INTO tokens ({TOKEN_COLUMNS}) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        params![
            t.id,
            t.owner,
            t.name,
            t.hash,
            t.created_at,
            t.created_by,
            t.expires_at,
            t.last_used_at,
            t.last_used_ip,
            t.scopes,
            t.paths,
            t.networks,
            t.revoke_at,
            t.rotated_to,
            t.last_ips
        ],
    )?;
    Ok(())
}

/// How many distinct recent addresses a token remembers.
pub const RECENT_IPS: usize = 5;

/// Puts `ip` first in a comma-separated list of distinct addresses, keeping [`RECENT_IPS`].
pub fn push_recent(list: &str, ip: &str) -> String {
    let mut out = vec![ip];
    out.extend(list.split(',').filter(|s| !s.is_empty() && *s != ip));
    out.truncate(RECENT_IPS);
    out.join(",")
}

/// Sort orders for fleet listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Created,
    Expires,
    LastUsed,
    User,
    Name,
    Id,
}

impl SortKey {
    fn column(self) -> &'static str {
        match self {
            SortKey::Created => "created_at",
            SortKey::Expires => "expires_at",
            SortKey::LastUsed => "last_used_at",
            SortKey::User => "owner",
            SortKey::Name => "name",
            SortKey::Id => "id",
        }
    }
}

/// Filters for token listings; every field narrows, `None` means no condition.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub owner: Option<String>,
    /// Substring of the name, case-insensitive.
    pub name: Option<String>,
    pub created_before: Option<i64>,
    pub created_after: Option<i64>,
    pub last_used_before: Option<i64>,
    pub last_used_after: Option<i64>,
    /// Tokens expiring before this time (never-expiring ones excluded).
    pub expires_before: Option<i64>,
    pub expires_after: Option<i64>,
    /// `read`, `write` or `login`: tokens that have it (tokens without scopes have all).
    pub scope: Option<String>,
    pub never_used: bool,
    /// Leave out tokens that were rotated away (in grace or past it).
    pub not_rotated: bool,
    pub sort: SortKey,
    pub descending: bool,
    pub limit: Option<u32>,
}

impl TokenFilter {
    fn sql(&self) -> (String, Vec<Box<dyn rusqlite::ToSql>>) {
        let mut conds: Vec<&str> = Vec::new();
        let mut args: Vec<Box<dyn rusqlite::ToSql>> = Vec::new();
        let mut add = |cond: &'static str, arg: Box<dyn rusqlite::ToSql>| {
            conds.push(cond);
            args.push(arg);
        };
        if let Some(o) = &self.owner {
            add("owner = ?", Box::new(o.clone()));
        }
        if let Some(n) = &self.name {
            add("instr(lower(name), lower(?)) > 0", Box::new(n.clone()));
        }
        let times = [
            ("created_at < ?", self.created_before),
            ("created_at > ?", self.created_after),
            ("last_used_at < ?", self.last_used_before),
            ("last_used_at > ?", self.last_used_after),
            ("expires_at < ?", self.expires_before),
            ("expires_at > ?", self.expires_after),
        ];
        for (cond, t) in times {
            if let Some(t) = t {
                add(cond, Box::new(t));
            }
        }
        if let Some(scope) = &self.scope {
            add(
                "(scopes IS NULL OR instr(',' || scopes || ',', ',' || ? || ',') > 0)",
                Box::new(scope.clone()),
            );
        }
        if self.never_used {
            conds.push("last_used_at IS NULL");
        }
        if self.not_rotated {
            conds.push("revoke_at IS NULL");
        }
        let mut sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens");
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        let dir = if self.descending { "DESC" } else { "ASC" };
        // With conditions and no limit, scanning rows in index order to avoid a sort costs
        // a lookup per row; `+column` lets SQLite filter first (by the owner index, say)
        // and sort what is left.
        let unary = if !conds.is_empty() && self.limit.is_none() {
            "+"
        } else {
            ""
        };
        sql.push_str(&format!(
            " ORDER BY {unary}{} {dir}, id {dir}",
            self.sort.column()
        ));
        if let Some(limit) = self.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        (sql, args)
    }
}

impl Store {
    /// Opens (creating with mode 0600 if needed) and migrates the database.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
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
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let store = Store {
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions
        // roll back on drop), so a poisoned lock is still safe to use.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > MIGRATIONS.len() as i64 {
            return Err(StoreError::TooNew(version));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = conn.transaction()?;
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1)?;
            tx.commit()?;
        }
        Ok(())
    }

    /// Stores a new token and its `token.create` event.
    pub fn insert_token(&self, t: &TokenRecord, event: &Event) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_record(&tx, t)?;
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores a new token unless its owner already holds `max` usable ones (0 = no limit);
    /// the count and the insert are one transaction, so parallel creates cannot overshoot.
    pub fn insert_token_limited(
        &self,
        t: &TokenRecord,
        event: &Event,
        max: u32,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        if max > 0 {
            let usable: u64 = tx.query_row(
                "SELECT COUNT(*) FROM tokens WHERE owner = ?1
                 AND (expires_at IS NULL OR expires_at > ?2) AND (revoke_at IS NULL OR revoke_at > ?2)",
                params![t.owner, t.created_at],
                |r| r.get(0),
            )?;
            if usable >= u64::from(max) {
                return Ok(false);
            }
        }
        insert_record(&tx, t)?;
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(true)
    }

    /// One token by id.
    pub fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"))?;
        Ok(stmt.query_row([id], token_from_row).optional()?)
    }

    /// Replaces token `id`'s verifier `old` by `new`, with its event, only if the row still
    /// holds `old` (compare-and-set: a concurrent delete or rotation is never undone).
    /// True when the row was changed.
    pub fn upgrade_verifier(
        &self,
        id: &str,
        old: &str,
        new: &str,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            "UPDATE tokens SET hash = ?3 WHERE id = ?1 AND hash = ?2",
            params![id, old, new],
        )?;
        if n == 1 {
            insert_event(&tx, event)?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Tokens of one owner, or all, oldest first.
    pub fn tokens(&self, owner: Option<&str>) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn();
        let sql = format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE ?1 IS NULL OR owner = ?1 ORDER BY created_at, id");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([owner], token_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes one token with its event; false if it did not exist.
    pub fn delete_token(&self, id: &str, event: &Event) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute("DELETE FROM tokens WHERE id = ?1", [id])?;
        if n == 1 {
            insert_event(&tx, event)?;
        }
        tx.commit()?;
        Ok(n == 1)
    }

    /// Deletes every token of `owner`; returns their ids. The event's `count` is filled in.
    pub fn delete_all(&self, owner: &str, event: &mut Event) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids: Vec<String> = {
            let mut stmt = tx.prepare("DELETE FROM tokens WHERE owner = ?1 RETURNING id")?;
            let rows = stmt.query_map([owner], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        event.push("count", ids.len().to_string());
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Tokens matching a filter.
    pub fn tokens_filtered(&self, filter: &TokenFilter) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.conn();
        let (sql, args) = filter.sql();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(args.iter()), token_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores `new` and marks `old_id` as rotated to it, stopping at `revoke_at`.
    pub fn rotate(
        &self,
        old_id: &str,
        revoke_at: i64,
        new: &TokenRecord,
        event: &Event,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_record(&tx, new)?;
        tx.execute(
            "UPDATE tokens SET revoke_at = ?2, rotated_to = ?3 WHERE id = ?1",
            params![old_id, revoke_at, new.id],
        )?;
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes tokens that expired or were rotated away before `before`; returns their ids.
    /// The event's `count` is filled in.
    pub fn prune(&self, before: i64, event: &mut Event) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ids: Vec<String> = {
            let mut stmt = tx.prepare(
                "DELETE FROM tokens WHERE expires_at < ?1 OR revoke_at < ?1 RETURNING id",
            )?;
            let rows = stmt.query_map([before], |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        event.push("count", ids.len().to_string());
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(ids)
    }

    /// Number of tokens and of distinct owners.
    pub fn counts(&self) -> Result<(u64, u64), StoreError> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT COUNT(*), COUNT(DISTINCT owner) FROM tokens",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?)
    }

    /// Writes a batch of last-used updates in one transaction.
    pub fn record_last_used(&self, batch: &[LastUsed]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut read = tx.prepare_cached("SELECT last_ips FROM tokens WHERE id = ?1")?;
            let mut write = tx.prepare_cached(
                "UPDATE tokens SET last_used_at = ?2, last_used_ip = ?3, last_ips = ?4 WHERE id = ?1",
            )?;
            for u in batch {
                let Some(list) = read
                    .query_row([&u.id], |r| r.get::<_, String>(0))
                    .optional()?
                else {
                    continue;
                };
                let recent = u
                    .recent
                    .iter()
                    .fold(list, |list, ip| push_recent(&list, ip));
                write.execute(params![u.id, u.at, u.ip, recent])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The settings, defaults for any not stored. A stored value that no longer parses is
    /// an error rather than a silent default, so a damaged database fails closed.
    pub fn settings(&self) -> Result<Settings, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT key, value FROM settings")?;
        let rows: Vec<(String, String)> = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let mut settings = Settings::default();
        for (k, v) in rows {
            settings.set(&k, &v).map_err(|e| {
                StoreError::Sqlite(rusqlite::Error::InvalidColumnType(
                    0,
                    format!("setting {k}: {e}"),
                    rusqlite::types::Type::Text,
                ))
            })?;
        }
        Ok(settings)
    }

    /// Stores one setting's new text value with its event.
    pub fn set_setting(&self, key: &str, value: &str, event: &Event) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    /// Stores an event on its own (e.g. `user.lockout`).
    pub fn append_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(())
    }

    /// Audit events, newest first: those whose user or actor is `user` when given,
    /// since `since` (unix seconds), at most `limit`.
    pub fn audit(
        &self,
        user: Option<&str>,
        since: i64,
        limit: u32,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT time, event, fields FROM audit
             WHERE time >= ?2 AND (?1 IS NULL OR user = ?1 OR actor = ?1)
             ORDER BY seq DESC LIMIT ?3",
        )?;
        let rows = stmt.query_map(params![user, since, limit], |r| {
            let text: String = r.get(2)?;
            Ok(AuditRow {
                time: r.get(0)?,
                event: r.get(1)?,
                fields: serde_json::from_str(&text).unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every stored failure row.
    pub fn failures(&self) -> Result<Vec<FailureRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT user, count, window_start, locked_until FROM failures ORDER BY user",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(FailureRow {
                user: r.get(0)?,
                count: r.get(1)?,
                window_start: r.get(2)?,
                locked_until: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Writes one user's failure state, with an event (`user.lockout`) when given.
    pub fn save_failure(&self, row: &FailureRow, event: Option<&Event>) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO failures (user, count, window_start, locked_until) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(user) DO UPDATE SET count = ?2, window_start = ?3, locked_until = ?4",
            params![row.user, row.count, row.window_start, row.locked_until],
        )?;
        if let Some(e) = event {
            insert_event(&tx, e)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets a user's failures and lock, with the `failures.reset` event.
    pub fn reset_failures(&self, user: &str, event: &Event) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM failures WHERE user = ?1", [user])?;
        insert_event(&tx, event)?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, owner: &str) -> TokenRecord {
        TokenRecord {
            id: id.into(),
            owner: owner.into(),
            name: "n".into(),
            hash: "$argon2id$x".into(),
            created_at: 1,
            created_by: "root".into(),
            expires_at: None,
            last_used_at: None,
            last_used_ip: None,
            scopes: None,
            paths: String::new(),
            networks: String::new(),
            revoke_at: None,
            rotated_to: None,
            last_ips: String::new(),
        }
    }

    fn event(name: &'static str, user: &str) -> Event {
        let mut e = Event::new(name, 5);
        e.push("actor", "root".into());
        e.push("user", user.into());
        e
    }

    #[test]
    fn open_sets_mode_0600_and_migrates_twice() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.db");
        drop(Store::open(&path).unwrap());
        let store = Store::open(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(store.counts().unwrap(), (0, 0));
    }

    #[test]
    fn insert_list_delete_all_keeps_audit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        for (id, owner) in [
            ("aaaaaaaa", "alice"),
            ("bbbbbbbb", "alice"),
            ("cccccccc", "bob"),
        ] {
            store
                .insert_token(&record(id, owner), &event("token.create", owner))
                .unwrap();
        }
        assert_eq!(store.tokens(Some("alice")).unwrap().len(), 2);
        assert_eq!(store.tokens(None).unwrap().len(), 3);
        let mut e = event("token.delete_all", "alice");
        assert_eq!(store.delete_all("alice", &mut e).unwrap().len(), 2);
        assert!(store.token("aaaaaaaa").unwrap().is_none());
        let audit = store.audit(Some("alice"), 0, 100).unwrap();
        assert_eq!(audit[0].event, "token.delete_all");
        assert_eq!(audit[0].fields["count"], 2);
        assert_eq!(audit.len(), 3);
    }

    #[test]
    fn settings_roundtrip_and_failures() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store
            .set_setting("lockout-threshold", "3", &event("settings.change", "root"))
            .unwrap();
        assert_eq!(store.settings().unwrap().lockout_threshold, 3);
        let row = FailureRow {
            user: "bob".into(),
            count: 2,
            window_start: 10,
            locked_until: None,
        };
        store.save_failure(&row, None).unwrap();
        assert_eq!(store.failures().unwrap(), vec![row]);
        store
            .reset_failures("bob", &event("failures.reset", "bob"))
            .unwrap();
        assert!(store.failures().unwrap().is_empty());
    }

    #[test]
    fn upgrade_verifier_is_compare_and_set() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        store
            .insert_token(
                &record("aaaaaaaa", "alice"),
                &event("token.create", "alice"),
            )
            .unwrap();
        let up = event("token.upgrade", "alice");
        assert!(!store
            .upgrade_verifier("aaaaaaaa", "$other", "$new", &up)
            .unwrap());
        assert!(store
            .upgrade_verifier("aaaaaaaa", "$argon2id$x", "$new", &up)
            .unwrap());
        assert_eq!(store.token("aaaaaaaa").unwrap().unwrap().hash, "$new");
        // A token deleted meanwhile stays deleted.
        let mut all = event("token.delete_all", "alice");
        store.delete_all("alice", &mut all).unwrap();
        assert!(!store
            .upgrade_verifier("aaaaaaaa", "$new", "$newer", &up)
            .unwrap());
        assert!(store.token("aaaaaaaa").unwrap().is_none());
    }
}

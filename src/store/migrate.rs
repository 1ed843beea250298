//! The numbered schema migrations. `PRAGMA user_version` holds how many have run; each
//! runs in its own transaction. A fleet backend runs the same list, in its own dialect.

use rusqlite::Connection;

use super::StoreError;

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
    // 3: web sessions (SPEC §11): the SHA-256 of the session id, never the id itself.
    "CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        user TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    );",
    // 4: password checks in flight, which a fleet's shared store counts (SPEC §13); a
    // single host counts them in memory and leaves these at 0.
    "ALTER TABLE failures ADD COLUMN in_flight INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE failures ADD COLUMN in_flight_until INTEGER NOT NULL DEFAULT 0;",
];

/// Brings the schema up to date; refuses a database from a newer release.
pub(super) fn run(conn: &mut Connection) -> Result<(), StoreError> {
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

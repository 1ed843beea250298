//! The numbered schema migrations in PostgreSQL's dialect: the same list as SQLite's
//! (`store::migrate`), plus what only a fleet needs from the start (the change log, and
//! the origin of imported audit rows) in migration 1. `schema_version` holds how many have
//! run; hosts that start together take a session advisory lock first, so each migration
//! runs once.

use tokio_postgres::Client;

use super::super::StoreError;

/// The advisory lock key of migrations (any fixed number; "apitokend" in ASCII, cut).
const MIGRATION_LOCK: i64 = 0x6170_6974_6f6b;

const MIGRATIONS: &[&str] = &[
    // 1: initial schema, with the fleet's change log.
    r#"CREATE TABLE tokens (
        id TEXT COLLATE "C" PRIMARY KEY,
        owner TEXT COLLATE "C" NOT NULL,
        name TEXT COLLATE "C" NOT NULL,
        hash TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        expires_at BIGINT,
        last_used_at BIGINT,
        last_used_ip TEXT
    );
    CREATE INDEX tokens_owner ON tokens(owner);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE audit (
        seq BIGSERIAL PRIMARY KEY,
        time BIGINT NOT NULL,
        event TEXT NOT NULL,
        "user" TEXT,
        actor TEXT,
        fields TEXT NOT NULL,
        origin TEXT,
        origin_seq BIGINT,
        UNIQUE (origin, origin_seq)
    );
    CREATE INDEX audit_user_time ON audit("user", time);
    CREATE INDEX audit_actor_time ON audit(actor, time);
    CREATE TABLE failures (
        "user" TEXT PRIMARY KEY,
        count BIGINT NOT NULL,
        window_start BIGINT NOT NULL,
        locked_until BIGINT
    );
    CREATE TABLE changes (
        seq BIGSERIAL PRIMARY KEY,
        at BIGINT NOT NULL,
        kind TEXT NOT NULL,
        target TEXT NOT NULL
    );"#,
    // 2: scopes, path prefixes, per-token networks, rotation, recent addresses, and
    // indexes for fleet listings.
    "ALTER TABLE tokens ADD COLUMN scopes TEXT;
    ALTER TABLE tokens ADD COLUMN paths TEXT NOT NULL DEFAULT '';
    ALTER TABLE tokens ADD COLUMN networks TEXT NOT NULL DEFAULT '';
    ALTER TABLE tokens ADD COLUMN revoke_at BIGINT;
    ALTER TABLE tokens ADD COLUMN rotated_to TEXT;
    ALTER TABLE tokens ADD COLUMN last_ips TEXT NOT NULL DEFAULT '';
    CREATE INDEX tokens_created ON tokens(created_at);
    CREATE INDEX tokens_expires ON tokens(expires_at);
    CREATE INDEX tokens_last_used ON tokens(last_used_at);",
    // 3: web sessions (SPEC §11): the SHA-256 of the session id, never the id itself.
    r#"CREATE TABLE sessions (
        id_hash TEXT PRIMARY KEY,
        "user" TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen BIGINT NOT NULL
    );"#,
    // 4: password checks in flight, so that a fleet counts every attempt on any host
    // before it is checked (SPEC §13).
    "ALTER TABLE failures ADD COLUMN in_flight BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN in_flight_until BIGINT NOT NULL DEFAULT 0;",
];

/// Brings the schema up to date under the migration lock; refuses a newer schema.
pub(super) async fn run(client: &mut Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = migrate(client).await;
    // Released on every path; a lost connection releases it too.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await;
    result?;
    unlock?;
    Ok(())
}

async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
        .await?;
    let row = client
        .query_opt("SELECT version FROM schema_version", &[])
        .await?;
    let version: i64 = match row {
        Some(r) => r.get(0),
        None => {
            client
                .execute("INSERT INTO schema_version VALUES (0)", &[])
                .await?;
            0
        }
    };
    if version > MIGRATIONS.len() as i64 {
        return Err(StoreError::TooNew(version));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        tx.execute("UPDATE schema_version SET version = $1", &[&(i as i64 + 1)])
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

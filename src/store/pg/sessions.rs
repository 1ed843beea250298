//! PostgreSQL statements for web sessions, as `store::sessions` does them for SQLite.

use tokio_postgres::Transaction;

use super::super::{SessionLimits, StoreError};

pub(super) async fn create(
    tx: &Transaction<'_>,
    id_hash: &str,
    user: &str,
    now: i64,
    limits: SessionLimits,
) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM sessions WHERE last_seen <= $1 OR created_at <= $2",
        &[&(now - limits.idle), &(now - limits.max)],
    )
    .await?;
    tx.execute(
        r#"INSERT INTO sessions (id_hash, "user", created_at, last_seen) VALUES ($1, $2, $3, $3)"#,
        &[&id_hash, &user, &now],
    )
    .await?;
    Ok(())
}

pub(super) async fn touch(
    tx: &Transaction<'_>,
    id_hash: &str,
    now: i64,
    limits: SessionLimits,
) -> Result<Option<String>, StoreError> {
    let row = tx
        .query_opt(
            r#"SELECT "user", created_at, last_seen FROM sessions WHERE id_hash = $1 FOR UPDATE"#,
            &[&id_hash],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let (user, created, seen): (String, i64, i64) =
        (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    if seen + limits.idle <= now || created + limits.max <= now {
        tx.execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])
            .await?;
        return Ok(None);
    }
    tx.execute(
        "UPDATE sessions SET last_seen = $2 WHERE id_hash = $1",
        &[&id_hash, &now],
    )
    .await?;
    Ok(Some(user))
}

//! SQLite statements for the audit trail: append an event, read pages newest first.

use rusqlite::{params, Connection, Transaction};

use super::{AuditQuery, AuditRow, StoreError};
use crate::audit::Event;

pub(super) fn insert(tx: &Transaction<'_>, event: &Event) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO audit (time, event, user, actor, fields) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        event.time,
        event.name,
        event.get("user"),
        event.get("actor"),
        event.fields_json()
    ])?;
    Ok(())
}

pub(super) fn page(conn: &Connection, q: &AuditQuery) -> Result<Vec<AuditRow>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq, time, event, fields FROM audit
         WHERE time >= ?2 AND (?1 IS NULL OR user = ?1 OR actor = ?1)
           AND (?4 IS NULL OR seq < ?4)
         ORDER BY seq DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![q.user, q.since, q.limit, q.before], |r| {
        let text: String = r.get(3)?;
        Ok(AuditRow {
            seq: r.get(0)?,
            time: r.get(1)?,
            event: r.get(2)?,
            // The daemon wrote this JSON itself; a damaged row still shows its name.
            fields: serde_json::from_str(&text).unwrap_or_default(),
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

//! PostgreSQL statements for settings, the audit trail, failure counts and the change log.

use tokio_postgres::{GenericClient, Transaction};

use super::super::{AuditQuery, AuditRow, FailureRow, SharedFailure, StoreError};
use crate::audit::Event;
use crate::settings::Settings;

/// The settings in force. A key this version does not know was stored by a newer version
/// of the daemon on another host of the fleet (a rolling upgrade): it is left to the
/// hosts that know it. A known key with a value that does not parse is an error.
pub(super) async fn settings(c: &impl GenericClient) -> Result<Settings, StoreError> {
    let rows = c.query("SELECT key, value FROM settings", &[]).await?;
    let mut settings = Settings::default();
    for r in rows {
        let (k, v): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        if crate::settings::descriptor(&k).is_err() {
            continue;
        }
        settings.set(&k, &v).map_err(|e| StoreError::Corrupt {
            what: format!("setting {k}"),
            detail: e.0,
        })?;
    }
    Ok(settings)
}

/// Stores a setting; with `keep_existing`, a key already set is left as it is (import).
pub(super) async fn store_setting(
    tx: &impl GenericClient,
    key: &str,
    value: &str,
    keep_existing: bool,
) -> Result<(), StoreError> {
    let conflict = if keep_existing {
        "DO NOTHING"
    } else {
        "DO UPDATE SET value = EXCLUDED.value"
    };
    let sql =
        format!("INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) {conflict}");
    tx.execute(&sql, &[&key, &value]).await?;
    Ok(())
}

pub(super) async fn insert_event(tx: &Transaction<'_>, event: &Event) -> Result<(), StoreError> {
    tx.execute(
        r#"INSERT INTO audit (time, event, "user", actor, fields) VALUES ($1, $2, $3, $4, $5)"#,
        &[
            &event.time,
            &event.name,
            &event.get("user"),
            &event.get("actor"),
            &event.fields_json(),
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn audit_page(
    c: &impl GenericClient,
    q: &AuditQuery,
) -> Result<Vec<AuditRow>, StoreError> {
    let rows = c
        .query(
            r#"SELECT seq, time, event, fields FROM audit
             WHERE time >= $2 AND ($1::text IS NULL OR "user" = $1 OR actor = $1)
               AND ($4::bigint IS NULL OR seq < $4)
             ORDER BY seq DESC LIMIT $3"#,
            &[&q.user, &q.since, &i64::from(q.limit), &q.before],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let text: String = r.try_get(3)?;
            Ok(AuditRow {
                seq: r.try_get(0)?,
                time: r.try_get(1)?,
                event: r.try_get(2)?,
                // The daemon wrote this JSON itself; a damaged row still shows its name.
                fields: serde_json::from_str(&text).unwrap_or_default(),
            })
        })
        .collect()
}

fn failure(r: &tokio_postgres::Row) -> Result<FailureRow, StoreError> {
    let count: i64 = r.try_get(1)?;
    Ok(FailureRow {
        user: r.try_get(0)?,
        count: u32::try_from(count).unwrap_or(u32::MAX),
        window_start: r.try_get(2)?,
        locked_until: r.try_get(3)?,
    })
}

pub(super) async fn live_failures(
    c: &impl GenericClient,
    now: i64,
    window: i64,
    max: usize,
) -> Result<Vec<FailureRow>, StoreError> {
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = c
        .query(
            r#"SELECT "user", count, window_start, locked_until FROM failures
             WHERE locked_until > $1 OR (locked_until IS NULL AND count > 0 AND window_start > $1 - $2)
             ORDER BY window_start DESC LIMIT $3"#,
            &[&now, &window, &max],
        )
        .await?;
    let mut rows: Vec<FailureRow> = rows.iter().map(failure).collect::<Result<_, _>>()?;
    rows.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(rows)
}

/// One user's failure row, if any.
pub(super) async fn failure_of(
    c: &impl GenericClient,
    user: &str,
) -> Result<Option<FailureRow>, StoreError> {
    let row = c
        .query_opt(
            r#"SELECT "user", count, window_start, locked_until FROM failures WHERE "user" = $1"#,
            &[&user],
        )
        .await?;
    row.as_ref().map(failure).transpose()
}

pub(super) async fn save_failure(tx: &Transaction<'_>, row: &FailureRow) -> Result<(), StoreError> {
    if row.count == 0 && row.locked_until.is_none() {
        return delete_failure(tx, &row.user).await;
    }
    tx.execute(
        r#"INSERT INTO failures ("user", count, window_start, locked_until) VALUES ($1, $2, $3, $4)
         ON CONFLICT ("user") DO UPDATE SET count = $2, window_start = $3, locked_until = $4"#,
        &[
            &row.user,
            &i64::from(row.count),
            &row.window_start,
            &row.locked_until,
        ],
    )
    .await?;
    Ok(())
}

/// One read-modify-write of `user`'s row (see `Store::update_failure`): the row as
/// left, the event `f` returned for it (the caller records it with the change), and
/// whether its count or lock changed. `f` first sees the row as committed, without a
/// lock; when it changes nothing there (an attempt refused at the limit, the common case
/// of a flood), that is the answer and nobody waits. Otherwise the row is
/// locked (made first when missing, so that concurrent first attempts queue on one
/// lock), read again, and `f` runs on it once more.
pub(super) async fn update_failure(
    tx: &Transaction<'_>,
    user: &str,
    now: i64,
    f: &mut dyn FnMut(&mut SharedFailure) -> Option<Event>,
) -> Result<(SharedFailure, Option<Event>, bool), StoreError> {
    let seen = shared_failure(tx, user, false).await?;
    let mut shared = seen
        .clone()
        .unwrap_or_else(|| SharedFailure::fresh(user, now));
    let untouched = shared.clone();
    if f(&mut shared).is_none() && shared == untouched {
        return Ok((shared, None, false));
    }
    if seen.is_none() {
        tx.execute(
            r#"INSERT INTO failures ("user", count, window_start) VALUES ($1, 0, $2)
             ON CONFLICT ("user") DO NOTHING"#,
            &[&user, &now],
        )
        .await?;
    }
    let locked = shared_failure(tx, user, true).await?;
    let mut shared = locked.ok_or_else(|| StoreError::Corrupt {
        what: format!("failure row of {user}"),
        detail: "gone while locked".into(),
    })?;
    let before = (shared.row.count, shared.row.locked_until);
    let event = f(&mut shared);
    store_shared(tx, &shared, now).await?;
    let changed = before != (shared.row.count, shared.row.locked_until);
    Ok((shared, event, changed))
}

async fn shared_failure(
    tx: &Transaction<'_>,
    user: &str,
    lock: bool,
) -> Result<Option<SharedFailure>, StoreError> {
    let sql = format!(
        r#"SELECT "user", count, window_start, locked_until, in_flight, in_flight_until
         FROM failures WHERE "user" = $1{}"#,
        if lock { " FOR UPDATE" } else { "" }
    );
    let Some(r) = tx.query_opt(&sql, &[&user]).await? else {
        return Ok(None);
    };
    let in_flight: i64 = r.try_get(4)?;
    Ok(Some(SharedFailure {
        row: failure(&r)?,
        in_flight: u32::try_from(in_flight).unwrap_or(u32::MAX),
        in_flight_until: r.try_get(5)?,
    }))
}

async fn store_shared(
    tx: &Transaction<'_>,
    shared: &SharedFailure,
    now: i64,
) -> Result<(), StoreError> {
    let row = &shared.row;
    if shared.is_empty(now) {
        return delete_failure(tx, &row.user).await;
    }
    tx.execute(
        r#"UPDATE failures SET count = $2, window_start = $3, locked_until = $4,
           in_flight = $5, in_flight_until = $6 WHERE "user" = $1"#,
        &[
            &row.user,
            &i64::from(row.count),
            &row.window_start,
            &row.locked_until,
            &i64::from(shared.in_flight),
            &shared.in_flight_until,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn delete_failure(tx: &Transaction<'_>, user: &str) -> Result<(), StoreError> {
    tx.execute(r#"DELETE FROM failures WHERE "user" = $1"#, &[&user])
        .await?;
    Ok(())
}

pub(super) async fn expire_failures(
    tx: &Transaction<'_>,
    now: i64,
    window: i64,
) -> Result<u64, StoreError> {
    Ok(tx
        .execute(
            "DELETE FROM failures WHERE in_flight_until <= $1 AND (locked_until <= $1
             OR (locked_until IS NULL AND window_start <= $1 - $2))",
            &[&now, &window],
        )
        .await?)
}

/// How many settings are stored (import counts what it added).
pub(super) async fn settings_count(c: &impl GenericClient) -> Result<u64, StoreError> {
    let n: i64 = c
        .query_one("SELECT COUNT(*) FROM settings", &[])
        .await?
        .try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

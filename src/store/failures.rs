//! SQLite statements for failure counts and locks. Only rows that still matter are kept:
//! a user who is locked, or whose count's window has not ended.

use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::{FailureRow, SharedFailure, StoreError};
use crate::audit::Event;

/// Rows locked at `now` or counting within their window, the most recent `max`.
pub(super) fn live(
    conn: &Connection,
    now: i64,
    window: i64,
    max: usize,
) -> Result<Vec<FailureRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT user, count, window_start, locked_until FROM failures
         WHERE locked_until > ?1 OR (locked_until IS NULL AND count > 0 AND window_start > ?1 - ?2)
         ORDER BY window_start DESC LIMIT ?3",
    )?;
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![now, window, max], |r| {
        Ok(FailureRow {
            user: r.get(0)?,
            count: r.get(1)?,
            window_start: r.get(2)?,
            locked_until: r.get(3)?,
        })
    })?;
    let mut rows: Vec<FailureRow> = rows.collect::<Result<_, _>>()?;
    rows.sort_by(|a, b| a.user.cmp(&b.user));
    Ok(rows)
}

pub(super) fn save(tx: &Transaction<'_>, row: &FailureRow) -> Result<(), StoreError> {
    if row.count == 0 && row.locked_until.is_none() {
        return delete(tx, &row.user);
    }
    tx.prepare_cached(
        "INSERT INTO failures (user, count, window_start, locked_until) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(user) DO UPDATE SET count = ?2, window_start = ?3, locked_until = ?4",
    )?
    .execute(params![
        row.user,
        row.count,
        row.window_start,
        row.locked_until
    ])?;
    Ok(())
}

/// One read-modify-write of `user`'s row (see `Store::update_failure`; the transaction
/// is the lock): the row as left, and the event `f` returned.
pub(super) fn update(
    tx: &Transaction<'_>,
    user: &str,
    now: i64,
    f: &mut dyn FnMut(&mut SharedFailure) -> Option<Event>,
) -> Result<(SharedFailure, Option<Event>), StoreError> {
    let found = tx
        .query_row(
            "SELECT user, count, window_start, locked_until, in_flight, in_flight_until
             FROM failures WHERE user = ?1",
            [user],
            |r| {
                Ok(SharedFailure {
                    row: FailureRow {
                        user: r.get(0)?,
                        count: r.get(1)?,
                        window_start: r.get(2)?,
                        locked_until: r.get(3)?,
                    },
                    in_flight: r.get(4)?,
                    in_flight_until: r.get(5)?,
                })
            },
        )
        .optional()?;
    let mut shared = found.unwrap_or_else(|| SharedFailure::fresh(user, now));
    let event = f(&mut shared);
    if shared.is_empty(now) {
        delete(tx, user)?;
    } else {
        let row = &shared.row;
        tx.execute(
            "INSERT INTO failures (user, count, window_start, locked_until, in_flight,
                in_flight_until) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(user) DO UPDATE SET count = ?2, window_start = ?3,
                locked_until = ?4, in_flight = ?5, in_flight_until = ?6",
            params![
                user,
                row.count,
                row.window_start,
                row.locked_until,
                shared.in_flight,
                shared.in_flight_until
            ],
        )?;
    }
    Ok((shared, event))
}

pub(super) fn delete(tx: &Transaction<'_>, user: &str) -> Result<(), StoreError> {
    tx.execute("DELETE FROM failures WHERE user = ?1", [user])?;
    Ok(())
}

/// Deletes rows whose lock ended, and unlocked rows whose window is over: a new failure
/// would start a new count for both.
pub(super) fn expire(tx: &Transaction<'_>, now: i64, window: i64) -> Result<u64, StoreError> {
    let n = tx.execute(
        "DELETE FROM failures WHERE in_flight_until <= ?1 AND (locked_until <= ?1
         OR (locked_until IS NULL AND window_start <= ?1 - ?2))",
        params![now, window],
    )?;
    Ok(n as u64)
}

//! SQLite statements for tokens: insert, look up, list (filters, order, cursor), delete,
//! rotate, prune, verifier upgrade and last-used updates.

use rusqlite::types::{ToSql, Value};
use rusqlite::{params, Connection, OptionalExtension, Transaction};

use super::listing::CursorKey;
use super::{push_recent, LastUsed, SortKey, StoreError, TokenFilter, TokenRecord};

const COLUMNS: &str = "id, owner, name, hash, created_at, created_by, expires_at, \
    last_used_at, last_used_ip, scopes, paths, networks, revoke_at, rotated_to, last_ips";

fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TokenRecord> {
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

pub(super) fn insert(tx: &Transaction<'_>, t: &TokenRecord) -> Result<(), StoreError> {
    tx.prepare_cached(&format!(
        "INSERT INTO tokens ({COLUMNS}) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
    ))?
    .execute(params![
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
    ])?;
    Ok(())
}

/// Tokens `owner` holds that still work at `now` (not expired, not past a rotation).
pub(super) fn usable(tx: &Transaction<'_>, owner: &str, now: i64) -> Result<u64, StoreError> {
    Ok(tx.query_row(
        "SELECT COUNT(*) FROM tokens WHERE owner = ?1
         AND (expires_at IS NULL OR expires_at > ?2) AND (revoke_at IS NULL OR revoke_at > ?2)",
        params![owner, now],
        |r| r.get(0),
    )?)
}

pub(super) fn get(conn: &Connection, id: &str) -> Result<Option<TokenRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!("SELECT {COLUMNS} FROM tokens WHERE id = ?1"))?;
    Ok(stmt.query_row([id], from_row).optional()?)
}

pub(super) fn counts(conn: &Connection) -> Result<(u64, u64), StoreError> {
    Ok(conn.query_row(
        "SELECT COUNT(*), COUNT(DISTINCT owner) FROM tokens",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

pub(super) fn delete(tx: &Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx.execute("DELETE FROM tokens WHERE id = ?1", [id])? == 1)
}

fn delete_returning(
    tx: &Transaction<'_>,
    sql: &str,
    arg: &dyn ToSql,
) -> Result<Vec<String>, StoreError> {
    let mut stmt = tx.prepare(sql)?;
    let rows = stmt.query_map([arg], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn delete_owner(tx: &Transaction<'_>, owner: &str) -> Result<Vec<String>, StoreError> {
    delete_returning(
        tx,
        "DELETE FROM tokens WHERE owner = ?1 RETURNING id",
        &owner,
    )
}

/// Deletes tokens that expired or were rotated away before `before`.
pub(super) fn delete_ended(tx: &Transaction<'_>, before: i64) -> Result<Vec<String>, StoreError> {
    delete_returning(
        tx,
        "DELETE FROM tokens WHERE expires_at < ?1 OR revoke_at < ?1 RETURNING id",
        &before,
    )
}

pub(super) fn mark_rotated(
    tx: &Transaction<'_>,
    old_id: &str,
    revoke_at: i64,
    new_id: &str,
) -> Result<(), StoreError> {
    tx.execute(
        "UPDATE tokens SET revoke_at = ?2, rotated_to = ?3 WHERE id = ?1",
        params![old_id, revoke_at, new_id],
    )?;
    Ok(())
}

pub(super) fn replace_hash(
    tx: &Transaction<'_>,
    id: &str,
    old_hash: &str,
    new_hash: &str,
) -> Result<bool, StoreError> {
    let n = tx.execute(
        "UPDATE tokens SET hash = ?3 WHERE id = ?1 AND hash = ?2",
        params![id, old_hash, new_hash],
    )?;
    Ok(n == 1)
}

pub(super) fn record_last_used(tx: &Transaction<'_>, batch: &[LastUsed]) -> Result<(), StoreError> {
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
    Ok(())
}

/// Tokens matching `filter`. A cursor in a column that may be `NULL` splits the rest of
/// the order into two parts (the rows with a value, the rows without), each a plain
/// index range, read one after the other until the limit is reached.
pub(super) fn list(
    conn: &Connection,
    filter: &TokenFilter,
) -> Result<Vec<TokenRecord>, StoreError> {
    let (conds, args) = conditions(filter);
    let mut out = Vec::new();
    for part in after_cursor(filter) {
        let left = match filter.limit {
            Some(limit) => match (limit as usize).checked_sub(out.len()) {
                Some(0) | None => break,
                Some(n) => Some(n),
            },
            None => None,
        };
        let mut all_conds = conds.clone();
        let mut all_args = args.clone();
        if let Some((cond, cond_args)) = part {
            all_conds.push(cond);
            all_args.extend(cond_args);
        }
        let sql = select(filter, &all_conds, left);
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(rusqlite::params_from_iter(all_args.iter()), from_row)?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}

fn column(sort: SortKey) -> &'static str {
    match sort {
        SortKey::Created => "created_at",
        SortKey::Expires => "expires_at",
        SortKey::LastUsed => "last_used_at",
        SortKey::User => "owner",
        SortKey::Name => "name",
        SortKey::Id => "id",
    }
}

/// Sort columns without a value for some rows (never expires, never used).
fn nullable(sort: SortKey) -> bool {
    matches!(sort, SortKey::Expires | SortKey::LastUsed)
}

/// One condition with its arguments; `None` for "no condition".
type Part = Option<(String, Vec<Value>)>;

/// The parts of the order after the cursor's row, in order. SQLite sorts `NULL` first
/// ascending and last descending, which is the order the store promises. Each part is an
/// index range (`col >= v`, `col IS NULL`), never an `OR` of ranges, so a page deep in a
/// listing costs no more than the first.
fn after_cursor(filter: &TokenFilter) -> Vec<Part> {
    let Some(c) = &filter.after else {
        return vec![None];
    };
    let col = column(filter.sort);
    let id = Value::Text(c.id.clone());
    let value = match &c.key {
        CursorKey::Int(Some(n)) => Value::Integer(*n),
        CursorKey::Text(t) => Value::Text(t.clone()),
        CursorKey::Int(None) => Value::Null,
    };
    let nulls = || Some((format!("{col} IS NULL"), Vec::new()));
    match (value, filter.descending) {
        (Value::Null, false) => vec![
            Some((format!("{col} IS NULL AND id > ?"), vec![id])),
            Some((format!("{col} IS NOT NULL"), Vec::new())),
        ],
        (Value::Null, true) => vec![Some((format!("{col} IS NULL AND id < ?"), vec![id]))],
        (v, descending) => {
            let (cmp, cmp_eq) = if descending { ("<", "<=") } else { (">", ">=") };
            let cond = format!("{col} {cmp_eq} ? AND ({col} {cmp} ? OR id {cmp} ?)");
            let rows = Some((cond, vec![v.clone(), v, id]));
            if descending && nullable(filter.sort) {
                vec![rows, nulls()]
            } else {
                vec![rows]
            }
        }
    }
}

/// The filter's conditions (without the cursor), with their arguments in order.
fn conditions(f: &TokenFilter) -> (Vec<String>, Vec<Value>) {
    let mut conds: Vec<String> = Vec::new();
    let mut args: Vec<Value> = Vec::new();
    let mut add = |cond: &str, arg: Value| {
        conds.push(cond.to_string());
        args.push(arg);
    };
    if let Some(o) = &f.owner {
        add("owner = ?", Value::Text(o.clone()));
    }
    if let Some(n) = &f.name {
        add("instr(lower(name), lower(?)) > 0", Value::Text(n.clone()));
    }
    let times = [
        ("created_at < ?", f.created_before),
        ("created_at > ?", f.created_after),
        ("last_used_at < ?", f.last_used_before),
        ("last_used_at > ?", f.last_used_after),
        ("expires_at < ?", f.expires_before),
        ("expires_at > ?", f.expires_after),
    ];
    for (cond, t) in times {
        if let Some(t) = t {
            add(cond, Value::Integer(t));
        }
    }
    if let Some(scope) = &f.scope {
        add(
            "(scopes IS NULL OR instr(',' || scopes || ',', ',' || ? || ',') > 0)",
            Value::Text(scope.clone()),
        );
    }
    if f.never_used {
        conds.push("last_used_at IS NULL".into());
    }
    if f.not_rotated {
        conds.push("revoke_at IS NULL".into());
    }
    (conds, args)
}

/// The SELECT for these conditions in the filter's order, at most `limit` rows.
fn select(f: &TokenFilter, conds: &[String], limit: Option<usize>) -> String {
    let mut sql = format!("SELECT {COLUMNS} FROM tokens");
    if !conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conds.join(" AND "));
    }
    let dir = if f.descending { "DESC" } else { "ASC" };
    // With conditions and no limit, scanning rows in index order to avoid a sort costs
    // a lookup per row; `+column` lets SQLite filter first (by the owner index, say)
    // and sort what is left.
    let unary = if !conds.is_empty() && limit.is_none() {
        "+"
    } else {
        ""
    };
    sql.push_str(&format!(
        " ORDER BY {unary}{} {dir}, id {dir}",
        column(f.sort)
    ));
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    sql
}

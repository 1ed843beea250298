//! PostgreSQL statements for tokens, in the same shapes as the SQLite ones
//! (`store::tokens`). Listings sort `NULL` first ascending and last descending, as the
//! store promises, and text by bytes (the columns are `COLLATE "C"`), as SQLite does.

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row, Transaction};

use super::super::listing::CursorKey;
use super::super::{push_recent, LastUsed, SortKey, StoreError, TokenFilter, TokenRecord};

pub(super) const COLUMNS: &str = "id, owner, name, hash, created_at, created_by, expires_at, \
    last_used_at, last_used_ip, scopes, paths, networks, revoke_at, rotated_to, last_ips";

pub(super) fn from_row(r: &Row) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: r.try_get(0)?,
        owner: r.try_get(1)?,
        name: r.try_get(2)?,
        hash: r.try_get(3)?,
        created_at: r.try_get(4)?,
        created_by: r.try_get(5)?,
        expires_at: r.try_get(6)?,
        last_used_at: r.try_get(7)?,
        last_used_ip: r.try_get(8)?,
        scopes: r.try_get(9)?,
        paths: r.try_get(10)?,
        networks: r.try_get(11)?,
        revoke_at: r.try_get(12)?,
        rotated_to: r.try_get(13)?,
        last_ips: r.try_get(14)?,
    })
}

/// Inserts `t`; with `skip_existing`, an id already stored is left as it is (import).
pub(super) async fn insert(
    tx: &impl GenericClient,
    t: &TokenRecord,
    skip_existing: bool,
) -> Result<bool, StoreError> {
    let conflict = if skip_existing {
        " ON CONFLICT (id) DO NOTHING"
    } else {
        ""
    };
    let sql = format!(
        "INSERT INTO tokens ({COLUMNS}) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15){conflict}"
    );
    let n = tx
        .execute(
            &sql,
            &[
                &t.id,
                &t.owner,
                &t.name,
                &t.hash,
                &t.created_at,
                &t.created_by,
                &t.expires_at,
                &t.last_used_at,
                &t.last_used_ip,
                &t.scopes,
                &t.paths,
                &t.networks,
                &t.revoke_at,
                &t.rotated_to,
                &t.last_ips,
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Tokens `owner` holds that still work at `now`, counted under a per-owner transaction
/// lock so that parallel creates on any host cannot overshoot a limit.
pub(super) async fn usable(tx: &Transaction<'_>, owner: &str, now: i64) -> Result<u64, StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('owner:' || $1))",
        &[&owner],
    )
    .await?;
    let row = tx
        .query_one(
            "SELECT COUNT(*) FROM tokens WHERE owner = $1
             AND (expires_at IS NULL OR expires_at > $2) AND (revoke_at IS NULL OR revoke_at > $2)",
            &[&owner, &now],
        )
        .await?;
    Ok(u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0))
}

pub(super) async fn get(
    c: &impl GenericClient,
    id: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM tokens WHERE id = $1");
    c.query_opt(&sql, &[&id])
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

pub(super) async fn counts(c: &impl GenericClient) -> Result<(u64, u64), StoreError> {
    let r = c
        .query_one("SELECT COUNT(*), COUNT(DISTINCT owner) FROM tokens", &[])
        .await?;
    let n = |i| {
        r.try_get::<_, i64>(i)
            .map(|v| u64::try_from(v).unwrap_or(0))
    };
    Ok((n(0)?, n(1)?))
}

pub(super) async fn ids(
    tx: &Transaction<'_>,
    sql: &str,
    arg: &(dyn ToSql + Sync),
) -> Result<Vec<String>, StoreError> {
    let rows = tx.query(sql, &[arg]).await?;
    Ok(rows
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?)
}

pub(super) async fn record_last_used(
    tx: &Transaction<'_>,
    batch: &[LastUsed],
) -> Result<(), StoreError> {
    for u in batch {
        let Some(row) = tx
            .query_opt(
                "SELECT last_ips FROM tokens WHERE id = $1 FOR UPDATE",
                &[&u.id],
            )
            .await?
        else {
            continue;
        };
        let list: String = row.try_get(0)?;
        let recent = u
            .recent
            .iter()
            .fold(list, |list, ip| push_recent(&list, ip));
        tx.execute(
            "UPDATE tokens SET last_used_at = $2, last_used_ip = $3, last_ips = $4 WHERE id = $1",
            &[&u.id, &u.at, &u.ip, &recent],
        )
        .await?;
    }
    Ok(())
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

/// A listing's statement under construction: conditions and numbered arguments.
#[derive(Default)]
struct Query {
    conds: Vec<String>,
    args: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Query {
    /// The next placeholder for `arg`.
    fn arg(&mut self, arg: Box<dyn ToSql + Sync + Send>) -> String {
        self.args.push(arg);
        format!("${}", self.args.len())
    }

    /// Adds `template` with its one `?` replaced by a placeholder for `arg`.
    fn add(&mut self, template: &str, arg: Box<dyn ToSql + Sync + Send>) {
        let p = self.arg(arg);
        self.conds.push(template.replace('?', &p));
    }
}

/// The condition "after the cursor's row" in `filter`'s order.
fn after_cursor(filter: &TokenFilter, q: &mut Query) {
    let Some(c) = &filter.after else { return };
    let col = column(filter.sort);
    let cmp = if filter.descending { "<" } else { ">" };
    let value: Option<Box<dyn ToSql + Sync + Send>> = match &c.key {
        CursorKey::Int(Some(n)) => Some(Box::new(*n)),
        CursorKey::Text(t) => Some(Box::new(t.clone())),
        CursorKey::Int(None) => None,
    };
    let cond = match (value, filter.descending) {
        (None, false) => {
            let id = q.arg(Box::new(c.id.clone()));
            format!("(({col} IS NULL AND id {cmp} {id}) OR {col} IS NOT NULL)")
        }
        (None, true) => {
            let id = q.arg(Box::new(c.id.clone()));
            format!("({col} IS NULL AND id {cmp} {id})")
        }
        (Some(v), desc) => {
            let v = q.arg(v);
            let id = q.arg(Box::new(c.id.clone()));
            let nulls = if desc {
                format!(" OR {col} IS NULL")
            } else {
                String::new()
            };
            format!("({col} {cmp} {v} OR ({col} = {v} AND id {cmp} {id}){nulls})")
        }
    };
    q.conds.push(cond);
}

/// The SELECT for a filter, with its arguments in order.
fn sql(f: &TokenFilter) -> (String, Query) {
    let mut q = Query::default();
    if let Some(o) = &f.owner {
        q.add("owner = ?", Box::new(o.clone()));
    }
    if let Some(n) = &f.name {
        q.add("strpos(lower(name), lower(?)) > 0", Box::new(n.clone()));
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
            q.add(cond, Box::new(t));
        }
    }
    if let Some(scope) = &f.scope {
        q.add(
            "(scopes IS NULL OR strpos(',' || scopes || ',', ',' || ? || ',') > 0)",
            Box::new(scope.clone()),
        );
    }
    if f.never_used {
        q.conds.push("last_used_at IS NULL".into());
    }
    if f.not_rotated {
        q.conds.push("revoke_at IS NULL".into());
    }
    after_cursor(f, &mut q);
    let mut sql = format!("SELECT {COLUMNS} FROM tokens");
    if !q.conds.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&q.conds.join(" AND "));
    }
    let dir = if f.descending {
        "DESC NULLS LAST"
    } else {
        "ASC NULLS FIRST"
    };
    let id_dir = if f.descending { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {} {dir}, id {id_dir}", column(f.sort)));
    if let Some(limit) = f.limit {
        sql.push_str(&format!(" LIMIT {limit}"));
    }
    (sql, q)
}

pub(super) async fn list(
    c: &impl GenericClient,
    filter: &TokenFilter,
) -> Result<Vec<TokenRecord>, StoreError> {
    let (sql, q) = sql(filter);
    let args: Vec<&(dyn ToSql + Sync)> = q
        .args
        .iter()
        .map(|a| a.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = c.query(&sql, &args).await?;
    rows.iter().map(from_row).collect()
}

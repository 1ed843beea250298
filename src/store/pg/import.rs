//! `apitokend --import-sqlite PATH`: copies a single host's SQLite database (tokens with
//! their verifiers, settings, the audit trail) into the PostgreSQL store, in one
//! transaction. Running it again copies nothing twice: tokens are matched by id, settings
//! already set in the fleet are kept, and audit rows remember where they came from
//! (`origin`: this host's name and the file's path, with their sequence number there).

use std::path::Path;

use super::super::{SqliteStore, Store, StoreError};
use super::{rows, tokens, Change, PgStore};

/// How many rows an import added (rows already present are not counted).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub tokens: u64,
    pub settings: u64,
    pub audit: u64,
}

type AuditExport = (i64, i64, String, Option<String>, Option<String>, String);

/// What a SQLite database holds: tokens, stored settings, audit rows.
type Export = (
    Vec<super::TokenRecord>,
    Vec<(String, String)>,
    Vec<AuditExport>,
);

fn read_sqlite(path: &Path) -> Result<Export, StoreError> {
    if !path.is_file() {
        return Err(StoreError::File {
            path: path.display().to_string(),
            source: std::io::Error::from(std::io::ErrorKind::NotFound),
        });
    }
    // Opening brings an older file up to the current schema, as the daemon would.
    let tokens = SqliteStore::open(path)?.tokens(None)?;
    let conn =
        rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let mut stmt = conn.prepare("SELECT key, value FROM settings ORDER BY key")?;
    let settings = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut stmt =
        conn.prepare("SELECT seq, time, event, user, actor, fields FROM audit ORDER BY seq")?;
    let audit = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    Ok((tokens, settings, audit))
}

/// This host's name and the file's full path: what makes an audit row's origin.
fn origin(path: &Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    format!("{}:{}", host.trim(), full.display())
}

impl PgStore {
    /// Copies the SQLite database at `path` into this store; see the module documentation.
    pub fn import_sqlite(&self, path: &Path) -> Result<Imported, StoreError> {
        let (tokens, settings, audit) = read_sqlite(path)?;
        let origin = origin(path);
        self.change(async |tx| {
            let mut n = Imported::default();
            for t in &tokens {
                n.tokens += u64::from(tokens::insert(tx, t, true).await?);
            }
            for (k, v) in &settings {
                let before = rows::settings_count(tx).await?;
                rows::store_setting(tx, k, v, true).await?;
                n.settings += rows::settings_count(tx).await? - before;
            }
            for (seq, time, event, user, actor, fields) in &audit {
                n.audit += tx
                    .execute(
                        r#"INSERT INTO audit (time, event, "user", actor, fields, origin, origin_seq)
                         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (origin, origin_seq) DO NOTHING"#,
                        &[time, event, user, actor, fields, &origin, seq],
                    )
                    .await?;
            }
            Ok((n, None, vec![Change::Everything]))
        })
    }
}

//! SQLite statements for the system-wide settings: one row per changed key, in its text
//! form; keys never set keep their default.

use rusqlite::{params, Connection, Transaction};

use super::StoreError;
use crate::settings::Settings;

pub(super) fn load(conn: &Connection) -> Result<Settings, StoreError> {
    let mut stmt = conn.prepare("SELECT key, value FROM settings")?;
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut settings = Settings::default();
    for (k, v) in rows {
        settings.set(&k, &v).map_err(|e| StoreError::Corrupt {
            what: format!("setting {k}"),
            detail: e.0,
        })?;
    }
    Ok(settings)
}

pub(super) fn store(tx: &Transaction<'_>, key: &str, value: &str) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
        params![key, value],
    )?;
    Ok(())
}

//! The change log and its follower: fleet-wide revocation (SPEC §12).
//!
//! Every change appends rows to `changes` (a sequence number, what to invalidate) in its
//! own transaction, under a transaction advisory lock so that sequence numbers become
//! visible in the order they were taken, and NOTIFYs `apitokend_changes`. Each host keeps
//! one LISTEN connection outside the pool; a notification, a reconnect and a timer all
//! do the same thing: read every row after the last sequence applied, and hand the
//! changes (with the rows they name, read fresh) to the [`ChangeSink`]. NOTIFY is only a
//! wake-up: it is lost while the connection is down, the catch-up is not.

use futures_util::StreamExt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::{AsyncMessage, Transaction};

use super::super::{FailureRow, StoreError};
use super::{rows, Contact, PgStore};
use crate::settings::Settings;

/// The advisory lock key that orders change-log appends.
const CHANGE_LOCK: i64 = 0x6170_6974_6f6c;
/// The channel of the notifications.
const CHANNEL: &str = "apitokend_changes";
/// How often a host catches up without being woken.
pub const CATCH_UP_EVERY: Duration = Duration::from_secs(2);
/// How soon a host without its LISTEN connection tries to reconnect.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// Change-log rows older than this are deleted; a host further behind reloads everything.
const KEEP_SECONDS: i64 = 3600;

/// What changed elsewhere in the fleet, as a host applies it.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A token was created, deleted, rotated or pruned: forget it from the cache.
    Token(String),
    /// The settings changed; these are the new ones.
    Settings,
    /// A user's failure count or lock changed; `None`: the row is gone.
    Failure(String),
    /// The log was cut after this host last read it: forget every cached decision.
    Everything,
}

/// A change as applied, with the fresh rows it names.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    Token(String),
    Settings(Settings),
    Failure(String, Option<FailureRow>),
    Everything,
}

/// Whoever applies remote changes (the engine).
pub trait ChangeSink: Send + Sync {
    fn apply(&self, changes: Vec<Applied>);
}

fn kind(c: &Change) -> (&'static str, &str) {
    match c {
        Change::Token(id) => ("token", id),
        Change::Settings => ("settings", ""),
        Change::Failure(user) => ("failure", user),
        Change::Everything => ("everything", ""),
    }
}

/// Appends `changes` and NOTIFYs, inside the change's transaction.
pub(super) async fn append(tx: &Transaction<'_>, changes: &[Change]) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CHANGE_LOCK])
        .await?;
    let (kinds, targets): (Vec<&str>, Vec<&str>) = changes.iter().map(kind).unzip();
    let row = tx
        .query_one(
            "WITH ins AS (INSERT INTO changes (at, kind, target)
               SELECT $1, k, t FROM unnest($2::text[], $3::text[]) AS u(k, t) RETURNING seq)
             SELECT max(seq) FROM ins",
            &[&crate::clock::now(), &kinds, &targets],
        )
        .await?;
    let seq: i64 = row.try_get(0)?;
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()])
        .await?;
    Ok(())
}

/// The settings after a change to them. When they cannot be read (a value this version
/// cannot parse), the host keeps those in force and forgets its cached tokens, and the
/// changes after it still apply: one bad row must not stop every revocation.
async fn settings_or_everything(c: &tokio_postgres::Client) -> Result<Applied, StoreError> {
    match rows::settings(c).await {
        Ok(s) => Ok(Applied::Settings(s)),
        Err(e @ StoreError::Corrupt { .. }) => {
            eprintln!("apitokend: a settings change from another host cannot be applied: {e}; keeping the settings in force");
            Ok(Applied::Everything)
        }
        Err(e) => Err(e),
    }
}

/// What lies between a host's place in the change log and the log as it is now.
enum Gap {
    None,
    /// Rows after the host's place were deleted (older than [`KEEP_SECONDS`]).
    Cut,
    /// The log is behind the host's place: the database came back from a backup or a
    /// replica that lagged behind was promoted, and sequence numbers this host already
    /// applied will name other changes.
    WentBack,
}

async fn where_the_log_is(c: &tokio_postgres::Client, after: i64) -> Result<Gap, StoreError> {
    // The sequence, unlike the table, keeps its highest number when rows are deleted.
    let row = c
        .query_one(
            "SELECT (SELECT COALESCE(min(seq), 0) FROM changes),
                    CASE WHEN is_called THEN last_value ELSE last_value - 1 END
             FROM changes_seq_seq",
            &[],
        )
        .await?;
    let (oldest, issued): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
    Ok(if issued < after {
        Gap::WentBack
    } else if oldest > after + 1 && after > 0 {
        Gap::Cut
    } else {
        Gap::None
    })
}

/// Where a host is in the change log, shared with `/health`.
#[derive(Debug, Default)]
pub struct Position {
    /// The last sequence applied.
    pub seq: AtomicI64,
    /// Unix seconds of the last complete catch-up (0: never).
    pub synced_at: AtomicI64,
}

impl PgStore {
    /// The newest sequence in the log (0 when empty): where a host that just loaded
    /// everything starts following.
    pub fn log_head(&self) -> Result<i64, StoreError> {
        self.read(async |c| {
            let row = c
                .query_one("SELECT COALESCE(max(seq), 0) FROM changes", &[])
                .await?;
            Ok(row.try_get(0)?)
        })
    }

    /// Reads and resolves every change after `after`: the changes and the last sequence.
    pub fn changes_after(&self, after: i64) -> Result<(Vec<Applied>, i64), StoreError> {
        self.read(async |c| {
            let mut out = Vec::new();
            let after = match where_the_log_is(c, after).await? {
                Gap::None => after,
                Gap::Cut => {
                    out.push(Applied::Everything);
                    after
                }
                // Numbers this host applied are handed out again: every row is new.
                Gap::WentBack => {
                    out.push(Applied::Everything);
                    0
                }
            };
            if !out.is_empty() {
                // What was missed may have been a setting.
                out.push(settings_or_everything(c).await?);
            }
            let rows = c
                .query(
                    "SELECT seq, kind, target FROM changes WHERE seq > $1 ORDER BY seq LIMIT 10000",
                    &[&after],
                )
                .await?;
            let mut last = after;
            for r in &rows {
                last = r.try_get(0)?;
                let (k, t): (String, String) = (r.try_get(1)?, r.try_get(2)?);
                out.push(match k.as_str() {
                    "token" => Applied::Token(t),
                    "settings" => settings_or_everything(c).await?,
                    "failure" => {
                        let row = rows::failure_of(c, &t).await?;
                        Applied::Failure(t, row)
                    }
                    _ => Applied::Everything,
                });
            }
            Ok((out, last))
        })
    }

    /// Deletes change-log rows older than an hour.
    fn cut_log(&self) -> Result<(), StoreError> {
        self.read(async |c| {
            let before = crate::clock::now() - KEEP_SECONDS;
            c.execute("DELETE FROM changes WHERE at < $1", &[&before])
                .await?;
            Ok(())
        })
    }

    /// Starts following the change log from `from` (see [`PgStore::log_head`]): a task on
    /// the store's runtime keeps a LISTEN connection and hands what changed to `sink`.
    /// It ends when the store (its runtime) is dropped.
    pub fn follow_from(&self, from: i64, sink: Arc<dyn ChangeSink>) -> Arc<Position> {
        let position = Arc::new(Position::default());
        position.seq.store(from, Ordering::Relaxed);
        let (store, pos) = (Arc::new(self.view()), position.clone());
        self.handle.spawn(async move {
            loop {
                let (wake_tx, wake_rx) = tokio::sync::mpsc::channel(1);
                let listening = listen(&store.target, wake_tx).await;
                follow_until_lost(&store, &pos, &sink, wake_rx, listening.is_ok()).await;
                drop(listening);
                tokio::time::sleep(RETRY_EVERY).await;
            }
        });
        position
    }

    pub(super) fn contact_of(&self) -> &Contact {
        &self.contact
    }
}

/// Catches up on every wake-up, every [`CATCH_UP_EVERY`] and at once when a call of the
/// store failed to reach the database, until the LISTEN connection is lost (or was never
/// there: then once, after a short pause). This is the only place that tries to reach an
/// unreachable database again, and a complete catch-up is what marks it up.
async fn follow_until_lost(
    store: &Arc<PgStore>,
    pos: &Arc<Position>,
    sink: &Arc<dyn ChangeSink>,
    mut wake: tokio::sync::mpsc::Receiver<()>,
    listening: bool,
) {
    let mut ticks = 0u32;
    loop {
        let (s, p, k) = (store.clone(), pos.clone(), sink.clone());
        // The store's calls block: run them off the runtime's worker threads.
        let _ = tokio::task::spawn_blocking(move || catch_up(&s, &p, &*k)).await;
        ticks += 1;
        if ticks % 600 == 0 {
            let s = store.clone();
            let _ = tokio::task::spawn_blocking(move || s.cut_log()).await;
        }
        if !listening {
            tokio::time::sleep(RETRY_EVERY).await;
            return;
        }
        tokio::select! {
            woken = wake.recv() => if woken.is_none() { return },
            () = store.contact_of().retry_wanted() => {}
            () = tokio::time::sleep(CATCH_UP_EVERY) => {}
        }
    }
}

fn catch_up(store: &PgStore, pos: &Position, sink: &dyn ChangeSink) {
    let after = pos.seq.load(Ordering::Relaxed);
    if let Ok((changes, last)) = store.changes_after(after) {
        if !changes.is_empty() {
            sink.apply(changes);
        }
        pos.seq.store(last, Ordering::Relaxed);
        pos.synced_at.store(crate::clock::now(), Ordering::Relaxed);
        store.contact_of().answered();
    }
}

/// Opens the LISTEN connection; its task sends a wake-up per notification and ends (closing
/// the channel) when the connection is lost. The client returned keeps it open.
async fn listen(
    target: &super::connect::Target,
    wake: tokio::sync::mpsc::Sender<()>,
) -> Result<tokio_postgres::Client, StoreError> {
    let client = match &target.tls {
        Some(tls) => {
            let (client, conn) = target.config.connect(tls.clone()).await?;
            drive(conn, wake);
            client
        }
        None => {
            let (client, conn) = target.config.connect(tokio_postgres::NoTls).await?;
            drive(conn, wake);
            client
        }
    };
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok(client)
}

fn drive<S, T>(mut conn: tokio_postgres::Connection<S, T>, wake: tokio::sync::mpsc::Sender<()>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut messages = futures_util::stream::poll_fn(move |cx| conn.poll_message(cx));
    tokio::spawn(async move {
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(_) = message {
                let _ = wake.try_send(());
            }
        }
    });
}

//! How every store call runs: on the calling thread within the store's runtime, bounded
//! in time, failing at once while the database is known to be unreachable (`contact`),
//! and noting whether the database answered.

use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;
use tokio_postgres::Transaction;

use super::super::StoreError;
use super::{follow, rows, Change, PgStore};
use crate::audit::Event;

/// The longest an administrative call (a change, a listing) waits, checkout of a
/// connection included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest the query of a token lookup (the request path) waits once it has a
/// connection: a server that stopped answering without closing its connections is
/// noticed this soon. Opening a connection (authentication included, slow on a loaded
/// host) has the whole [`CALL_TIMEOUT`].
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(1500);

/// What a change returns: its value, the event to record (the caller's, or one made in
/// the transaction when only the change knows what it says), the change-log rows to append.
pub(super) type Outcome<'e, T> = (T, Option<Cow<'e, Event>>, Vec<Change>);

/// A failure to reach the database (as opposed to an error the database answered with).
pub(super) fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

impl PgStore {
    pub(super) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| match super::connect::tls_refusal(&e, &self.target) {
                Some(why) => StoreError::Unavailable(why),
                None => StoreError::Unavailable(causes(&e)),
            })
    }

    /// Runs `fut` to completion on this thread within the store's runtime, bounded by
    /// [`CALL_TIMEOUT`] (longer while the store opens), and notes whether the database answered. While the database is
    /// known to be unreachable, a guarded store (every one but the follower's) fails at
    /// once.
    pub(super) fn run<T>(
        &self,
        fut: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        if self.guarded && !self.contact.is_up() {
            return Err(self.unreachable());
        }
        let _context = self.handle.enter();
        let result = futures_executor::block_on(within(self.limit, fut));
        if let Err(e) = &result {
            if e.is_unavailable() {
                self.contact.lost(e);
                let why = match e {
                    StoreError::Unavailable(why) => why.clone(),
                    other => other.to_string(),
                };
                return Err(unavailable(format!(
                    "PostgreSQL at {} does not answer: {why}",
                    self.target.describe()
                )));
            }
        }
        self.contact.answered();
        result
    }

    /// The error of a call made while the database does not answer: it names the database.
    fn unreachable(&self) -> StoreError {
        let since = self
            .contact
            .seconds_since(crate::clock::now())
            .map_or("never answered".to_string(), |s| {
                format!("last answered {s} s ago")
            });
        unavailable(format!(
            "PostgreSQL at {} does not answer ({since}); retrying in the background",
            self.target.describe()
        ))
    }

    /// Runs `f` in one transaction that also records the event `f` returns (if any) and
    /// the change-log rows it returns, then commits; rolled back when anything fails.
    pub(super) fn change<'e, T>(
        &self,
        f: impl AsyncFnOnce(&Transaction<'_>) -> Result<Outcome<'e, T>, StoreError>,
    ) -> Result<T, StoreError> {
        self.run(async {
            let mut client = self.client().await?;
            let client: &mut tokio_postgres::Client = &mut client;
            let tx = client.transaction().await?;
            let (value, event, changes) = f(&tx).await?;
            if let Some(event) = event {
                rows::insert_event(&tx, &event).await?;
            }
            follow::append(&tx, &changes).await?;
            tx.commit().await?;
            Ok(value)
        })
    }

    /// Runs `f` with a pooled connection (reads), within [`CALL_TIMEOUT`].
    pub(super) fn read<T>(
        &self,
        f: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run(async {
            let client = self.client().await?;
            f(&client).await
        })
    }
}

/// Why a connection could not be had, with every cause that adds something ("error
/// connecting to server: Connection refused (os error 111)"), without the pool's own
/// wrapping.
fn causes(e: &deadpool_postgres::PoolError) -> String {
    let top: &(dyn std::error::Error + 'static) = match e {
        deadpool_postgres::PoolError::Backend(inner) => inner,
        other => other,
    };
    let mut out = top.to_string();
    let mut next = top.source();
    while let Some(cause) = next {
        let text = cause.to_string();
        if !out.contains(&text) {
            out = format!("{out}: {text}");
        }
        next = cause.source();
    }
    out
}

/// `fut` bounded by `limit`: a failure to reach the database when it takes longer.
pub(super) async fn within<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(unavailable(format!(
            "no answer within {} ms",
            limit.as_millis()
        )))
    })
}

pub(super) fn fast_recycling() -> deadpool_postgres::ManagerConfig {
    deadpool_postgres::ManagerConfig {
        recycling_method: deadpool_postgres::RecyclingMethod::Fast,
    }
}

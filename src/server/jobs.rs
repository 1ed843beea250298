//! When the engine's periodic work runs: last-used data every five seconds (and once
//! more after the drain), expiry warnings at start and then daily. The work itself is
//! the engine's (`engine::jobs`); it runs on blocking threads.

use std::sync::Arc;
use std::time::Duration;

use crate::engine::Engine;
use crate::shutdown::Handle;

/// Runs the engine's upkeep (last-used data, old failure records) now.
pub async fn write_last_used(engine: &Arc<Engine>) {
    let e = engine.clone();
    let _ = tokio::task::spawn_blocking(move || e.housekeep()).await;
}

/// Every five seconds until the shutdown broadcast.
pub async fn flush_last_used(engine: Arc<Engine>, mut shutdown: Handle) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            _ = tick.tick() => write_last_used(&engine).await,
            _ = shutdown.recv() => return,
        }
    }
}

/// At start and then daily until the shutdown broadcast.
pub async fn warn_expiring(engine: Arc<Engine>, mut shutdown: Handle) {
    let mut tick = tokio::time::interval(Duration::from_secs(86_400));
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.recv() => return,
        }
        let e = engine.clone();
        match tokio::task::spawn_blocking(move || e.warn_expiring(e.clock().now())).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => eprintln!("apitokend: cannot list expiring tokens: {err}"),
            Err(_) => eprintln!("apitokend: cannot list expiring tokens"),
        }
    }
}

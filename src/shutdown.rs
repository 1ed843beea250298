//! Stopping the daemon the way tokio's mini-redis does: one broadcast tells every accept
//! loop and connection handler to stop, each of them holds a [`Handle`] (which holds a
//! sender of the drain channel), and [`Shutdown::drain`] ends when the last handle is
//! dropped — or at a deadline, whichever comes first.

use std::time::Duration;

use tokio::sync::{broadcast, mpsc};

/// How long a connection that has not yet sent its request may still do so after the
/// broadcast: it may have been accepted just before the listeners closed.
pub const REQUEST_GRACE: Duration = Duration::from_millis(500);

/// The sending side: made once by the run loop.
pub struct Shutdown {
    notify: broadcast::Sender<()>,
    done_tx: mpsc::Sender<()>,
    done_rx: mpsc::Receiver<()>,
}

/// What each accept loop and connection handler holds. Dropping the last one ends the
/// drain.
pub struct Handle {
    notify: broadcast::Receiver<()>,
    is_shutdown: bool,
    _done: mpsc::Sender<()>,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        let (notify, _) = broadcast::channel(1);
        let (done_tx, done_rx) = mpsc::channel(1);
        Shutdown {
            notify,
            done_tx,
            done_rx,
        }
    }

    /// A handle for one more task.
    pub fn handle(&self) -> Handle {
        Handle {
            notify: self.notify.subscribe(),
            is_shutdown: false,
            _done: self.done_tx.clone(),
        }
    }

    /// Tells every handle to stop and waits until all are dropped or `deadline` passes.
    /// Returns whether every handler finished in time.
    pub async fn drain(self, deadline: Duration) -> bool {
        let Shutdown {
            notify,
            done_tx,
            mut done_rx,
        } = self;
        // Handles see the broadcast as a closed channel once its sender is gone.
        drop(notify);
        drop(done_tx);
        // `recv` yields `None` only when every sender (one per handle) has been dropped.
        tokio::time::timeout(deadline, done_rx.recv()).await.is_ok()
    }
}

impl Default for Shutdown {
    fn default() -> Shutdown {
        Shutdown::new()
    }
}

impl Handle {
    /// Another handle for a task this one spawns.
    pub fn clone_for_task(&self) -> Handle {
        Handle {
            notify: self.notify.resubscribe(),
            is_shutdown: self.is_shutdown,
            _done: self._done.clone(),
        }
    }

    /// Resolves once the shutdown has been broadcast.
    pub async fn recv(&mut self) {
        if self.is_shutdown {
            return;
        }
        // Nothing is ever sent: the channel closes when the run loop drops its sender,
        // and a handle made after that sees `Closed` at once.
        let _ = self.notify.recv().await;
        self.is_shutdown = true;
    }

    /// Resolves [`REQUEST_GRACE`] after the broadcast: the cut-off for a connection that is
    /// still waiting for its request.
    pub async fn request_cutoff(&mut self) {
        self.recv().await;
        tokio::time::sleep(REQUEST_GRACE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_ends_when_the_last_handle_drops() {
        let shutdown = Shutdown::new();
        let mut handle = shutdown.handle();
        let task = tokio::spawn(async move {
            handle.recv().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(handle);
        });
        let started = std::time::Instant::now();
        assert!(shutdown.drain(Duration::from_secs(5)).await);
        assert!(started.elapsed() >= Duration::from_millis(50));
        task.await.unwrap();
    }

    #[tokio::test]
    async fn drain_stops_at_the_deadline() {
        let shutdown = Shutdown::new();
        let stuck = shutdown.handle();
        assert!(!shutdown.drain(Duration::from_millis(50)).await);
        drop(stuck);
    }

    #[tokio::test]
    async fn handle_made_from_a_task_sees_the_broadcast() {
        let shutdown = Shutdown::new();
        let parent = shutdown.handle();
        let mut child = parent.clone_for_task();
        drop(parent);
        let task = tokio::spawn(async move { child.recv().await });
        assert!(shutdown.drain(Duration::from_secs(5)).await);
        task.await.unwrap();
    }
}

//! The accept loop, one generic loop for every socket: it accepts at once (nothing waits
//! in the backlog behind a busy user), budgets a Unix connection by the peer's uid, and
//! hands the connection to its socket's service, which holds a shutdown [`Handle`] until
//! it is done. Connections are accepted non-blocking and not registered with the
//! runtime; `http.sock` runs a connection's first step inside the loop, so an answer that
//! needs no waiting (a cached token) costs no task and no registration.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
use tokio::io::Interest;

use super::budget::{Budget, Slot};
use crate::http::PeerAddr;
use crate::shutdown::Handle;

/// A connection's whole service.
pub type Conn = Pin<Box<dyn Future<Output = ()> + Send>>;

/// An accepted connection: the stream, its address and, on a Unix socket, the peer's
/// uid and gid.
pub type Accepted<S> = (S, PeerAddr, Option<(u32, u32)>);

/// Makes a connection's service from the stream, its address, its slot and a shutdown
/// handle.
pub type MakeConn<S> = Box<dyn Fn(S, PeerAddr, Option<Slot>, Handle) -> Conn + Send + Sync>;

/// Connections accepted in one go before other tasks get a turn.
const BATCH: usize = 64;

/// A listening socket the accept loop takes connections from.
pub trait Listen: crate::system::OwnedSocket + Send + Sync + 'static {
    /// An accepted connection: non-blocking, not registered with the runtime.
    type Stream: crate::http1::Socket;
    /// The same connection as a tokio stream (registered), for hyper and the framed
    /// front ends.
    type Tokio: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static;

    /// Accepts one connection; its address and, on a Unix socket, the peer's uid and gid.
    fn accept_now(&self) -> io::Result<Accepted<Self::Stream>>;

    fn into_tokio(stream: Self::Stream) -> io::Result<Self::Tokio>;
}

impl Listen for mio::net::UnixListener {
    type Stream = mio::net::UnixStream;
    type Tokio = tokio::net::UnixStream;

    fn accept_now(&self) -> io::Result<Accepted<Self::Stream>> {
        let (stream, _) = self.accept()?;
        let cred = getsockopt(&stream, PeerCredentials)
            .ok()
            .map(|c| (c.uid(), c.gid()));
        Ok((stream, PeerAddr::Unix, cred))
    }

    fn into_tokio(stream: Self::Stream) -> io::Result<Self::Tokio> {
        tokio::net::UnixStream::from_std(stream.into())
    }
}

impl Listen for mio::net::TcpListener {
    type Stream = mio::net::TcpStream;
    type Tokio = tokio::net::TcpStream;

    fn accept_now(&self) -> io::Result<Accepted<Self::Stream>> {
        let (stream, addr) = self.accept()?;
        // Answers are single writes that must not wait for the previous one's ACK.
        let _ = stream.set_nodelay(true);
        Ok((stream, PeerAddr::Tcp(addr.ip()), None))
    }

    fn into_tokio(stream: Self::Stream) -> io::Result<Self::Tokio> {
        tokio::net::TcpStream::from_std(stream.into())
    }
}

/// What a socket does with the connections it admits.
pub struct Service<L: Listen> {
    /// The uid budget of a Unix socket; `None` on TCP, which has no uid.
    pub budget: Option<Arc<Budget>>,
    /// Whether the loop runs the connection's first step itself (see the module docs).
    pub inline: bool,
    pub serve: MakeConn<L::Stream>,
}

/// After a failed accept (usually out of descriptors) wait a little instead of spinning;
/// the pending connection stays in the backlog.
async fn accept_backoff() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Accepts connections on `listener` until the shutdown broadcast.
pub async fn run<L: Listen>(listener: L, service: Service<L>, mut shutdown: Handle) {
    let listener = match crate::system::watch(listener, Interest::READABLE) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("apitokend: cannot watch a listening socket: {e}");
            return;
        }
    };
    loop {
        let mut ready = tokio::select! {
            r = listener.readable() => match r {
                Ok(ready) => ready,
                Err(_) => {
                    accept_backoff().await;
                    continue;
                }
            },
            () = shutdown.recv() => return,
        };
        let mut taken = 0;
        while taken < BATCH {
            let accepted = match ready.try_io(|l| l.get_ref().accept_now()) {
                Err(_would_block) => break,
                Ok(accepted) => accepted,
            };
            taken += 1;
            match accepted {
                Ok((stream, peer, cred)) => admit(&service, stream, peer, cred, &shutdown).await,
                Err(e) if transient(&e) => {}
                Err(_) => {
                    accept_backoff().await;
                    break;
                }
            }
        }
        if taken == BATCH {
            tokio::task::yield_now().await;
        }
    }
}

/// A connection that went away before it was accepted, or an interrupted call.
fn transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
    )
}

/// Budgets one connection and starts its service; a connection over its budget, or
/// whose peer cannot be read on a Unix socket, is closed at once (dropped).
async fn admit<L: Listen>(
    service: &Service<L>,
    stream: L::Stream,
    peer: PeerAddr,
    cred: Option<(u32, u32)>,
    shutdown: &Handle,
) {
    let slot = match &service.budget {
        None => None,
        Some(budget) => {
            let Some((uid, gid)) = cred else { return };
            let Some(slot) = budget.admit(uid, gid) else {
                return;
            };
            Some(slot)
        }
    };
    let mut conn = (service.serve)(stream, peer, slot, shutdown.clone_for_task());
    if service.inline {
        // Polled once here with this loop's context; a connection that must wait moves
        // to a task of its own, whose first poll registers its waker in place of ours.
        let done = std::future::poll_fn(|cx| Poll::Ready(conn.as_mut().poll(cx).is_ready()));
        if done.await {
            return;
        }
    }
    tokio::spawn(conn);
}

/// `http.sock` and `[http] listen`: the HTTP/1.1 server of [`crate::http1`].
pub fn http<L: Listen>(
    engine: Arc<crate::engine::Engine>,
) -> impl Fn(L::Stream, PeerAddr, Option<Slot>, Handle) -> Conn {
    move |stream, peer, slot, handle| {
        let front = crate::http::Front::new(engine.clone(), peer);
        Box::pin(async move {
            crate::http1::serve(stream, &front, handle).await;
            drop(slot);
        })
    }
}

/// A framed front end's connection handler (`check.sock`, `admin.sock`): the engine,
/// the stream, and a future that resolves when a connection still waiting for its
/// request should give up.
pub type ServeFn = fn(
    Arc<crate::engine::Engine>,
    tokio::net::UnixStream,
    Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// `check.sock` and `admin.sock`: one request per connection, served by `serve` once
/// the peer's uid has a turn free.
pub fn local(
    engine: Arc<crate::engine::Engine>,
    serve: ServeFn,
) -> impl Fn(mio::net::UnixStream, PeerAddr, Option<Slot>, Handle) -> Conn {
    move |stream, _, slot, mut handle| {
        let engine = engine.clone();
        Box::pin(async move {
            let Ok(stream) = <mio::net::UnixListener as Listen>::into_tokio(stream) else {
                return;
            };
            // Over its uid's turns the connection waits for that uid's own earlier ones.
            let turn = match &slot {
                None => None,
                Some(slot) => tokio::select! {
                    turn = slot.turn() => turn,
                    () = handle.request_cutoff() => return,
                },
            };
            let cutoff = Box::pin(async move { handle.request_cutoff().await });
            serve(engine, stream, cutoff).await;
            drop((turn, slot));
        })
    }
}

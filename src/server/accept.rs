//! The accept loops: every socket accepts at once (nothing waits in the backlog behind a
//! busy user), budgets the connection by the peer's uid, and serves it on its own task,
//! which holds a shutdown [`Handle`] until it is done.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, UnixListener, UnixStream};

use super::budget::Budget;
use super::shutdown::{Handle, REQUEST_GRACE};
use crate::engine::Engine;
use crate::http::PeerAddr;

/// A local front end's connection handler: the engine, the stream, and a future that
/// resolves when a connection still waiting for its request should give up.
pub type ServeFn = fn(
    Arc<Engine>,
    UnixStream,
    Pin<Box<dyn Future<Output = ()> + Send>>,
) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// After a failed accept (usually out of descriptors) wait a little instead of spinning;
/// the pending connection stays in the backlog.
async fn accept_backoff() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// The HTTP/1.1 settings of every HTTP socket.
pub(crate) fn http1_builder() -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        // nginx forwards up to 4 × 8 KiB of client headers by default; accept all of them.
        .max_buf_size(64 * 1024)
        .max_headers(256)
        .keep_alive(true);
    b
}

/// `check.sock` and `admin.sock`: one request per connection, served by `serve`.
pub async fn local(
    listener: UnixListener,
    engine: Arc<Engine>,
    budget: Arc<Budget>,
    mut shutdown: Handle,
    serve: ServeFn,
) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.recv() => return,
        };
        let Ok((stream, _)) = accepted else {
            accept_backoff().await;
            continue;
        };
        let Some(slot) = admit(&budget, &stream) else {
            continue;
        };
        let mut handle = shutdown.clone_for_task();
        let engine = engine.clone();
        tokio::spawn(async move {
            // Over its uid's turns the connection waits for that uid's own earlier ones.
            let turn = tokio::select! {
                turn = slot.turn() => turn,
                () = handle.request_cutoff() => return,
            };
            let cutoff = Box::pin(async move { handle.request_cutoff().await });
            serve(engine, stream, cutoff).await;
            drop((turn, slot));
        });
    }
}

/// The slot for an accepted Unix connection; `None` (the stream is then dropped, which
/// closes it) when the peer is over its budget or its credentials cannot be read.
fn admit(budget: &Arc<Budget>, stream: &UnixStream) -> Option<super::budget::Slot> {
    let cred = stream.peer_cred().ok()?;
    budget.admit(cred.uid(), cred.gid())
}

/// `http.sock`: HTTP/1.1 for nginx, budgeted like the local sockets.
pub async fn http_unix(
    listener: UnixListener,
    engine: Arc<Engine>,
    budget: Arc<Budget>,
    mut shutdown: Handle,
) {
    let builder = http1_builder();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.recv() => return,
        };
        let Ok((stream, _)) = accepted else {
            accept_backoff().await;
            continue;
        };
        let Some(slot) = admit(&budget, &stream) else {
            continue;
        };
        let (engine, handle) = (engine.clone(), shutdown.clone_for_task());
        serve_http(&builder, stream, handle, slot, move |req| {
            crate::http::handle(engine.clone(), PeerAddr::Unix, req)
        });
    }
}

/// `[http] listen`: HTTP/1.1 on TCP (no peer uid to budget by).
pub async fn http_tcp(listener: TcpListener, engine: Arc<Engine>, mut shutdown: Handle) {
    let builder = http1_builder();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.recv() => return,
        };
        let Ok((stream, addr)) = accepted else {
            accept_backoff().await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (engine, handle) = (engine.clone(), shutdown.clone_for_task());
        let peer = PeerAddr::Tcp(addr.ip());
        serve_http(&builder, stream, handle, (), move |req| {
            crate::http::handle(engine.clone(), peer, req)
        });
    }
}

/// `web.sock`: the REST API and the page (SPEC §11), budgeted like `http.sock`.
pub async fn web_unix(
    listener: UnixListener,
    engine: Arc<Engine>,
    budget: Arc<Budget>,
    mut shutdown: Handle,
) {
    let (builder, router) = (http1_builder(), crate::web::router(engine));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.recv() => return,
        };
        let Ok((stream, _)) = accepted else {
            accept_backoff().await;
            continue;
        };
        let Some(slot) = admit(&budget, &stream) else {
            continue;
        };
        let (router, handle) = (router.clone(), shutdown.clone_for_task());
        serve_http(&builder, stream, handle, slot, move |req| {
            crate::web::handle(router.clone(), PeerAddr::Unix, req)
        });
    }
}

/// `[web] listen`: the web face on TCP.
pub async fn web_tcp(listener: TcpListener, engine: Arc<Engine>, mut shutdown: Handle) {
    let (builder, router) = (http1_builder(), crate::web::router(engine));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.recv() => return,
        };
        let Ok((stream, addr)) = accepted else {
            accept_backoff().await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (router, handle) = (router.clone(), shutdown.clone_for_task());
        let peer = PeerAddr::Tcp(addr.ip());
        serve_http(&builder, stream, handle, (), move |req| {
            crate::web::handle(router.clone(), peer, req)
        });
    }
}

/// Serves one HTTP connection on its own task. At the shutdown broadcast a connection
/// finishes the request it is on and closes; one that has not begun a request yet (it
/// may have been accepted just before the listener closed) gets [`REQUEST_GRACE`] to
/// send it first.
fn serve_http<S, G, F, Fut, B>(
    builder: &http1::Builder,
    stream: S,
    mut shutdown: Handle,
    guard: G,
    respond: F,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    G: Send + 'static,
    F: Fn(Request<Incoming>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let begun = Arc::new(AtomicBool::new(false));
    let seen = begun.clone();
    let svc = service_fn(move |req| {
        seen.store(true, Ordering::Relaxed);
        respond(req)
    });
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    tokio::spawn(async move {
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = shutdown.recv() => {}
        }
        if !begun.load(Ordering::Relaxed) {
            let first = async {
                while !begun.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            };
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = tokio::time::timeout(REQUEST_GRACE, first) => {}
            }
        }
        conn.as_mut().graceful_shutdown();
        let _ = conn.await;
        drop((guard, shutdown));
    });
}

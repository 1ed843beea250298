//! `web.sock` and `[web] listen` connections: the web face's axum router on hyper's
//! HTTP/1.1 server (`http.sock` has its own, [`crate::http1`]).

use std::convert::Infallible;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::accept::{Conn, Listen};
use super::budget::Slot;
use crate::http::PeerAddr;
use crate::shutdown::{Handle, REQUEST_GRACE};

/// The HTTP/1.1 settings of the web face.
fn http1_builder() -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .max_buf_size(64 * 1024)
        .max_headers(256)
        .keep_alive(true);
    b
}

/// The web face's connection service for listeners of type `L`.
pub fn web<L: Listen>(
    engine: Arc<crate::engine::Engine>,
) -> impl Fn(L::Stream, PeerAddr, Option<Slot>, Handle) -> Conn {
    let (builder, router) = (Arc::new(http1_builder()), crate::web::router(engine));
    move |stream, peer, slot, handle| {
        let (builder, router) = (builder.clone(), router.clone());
        Box::pin(async move {
            let Ok(stream) = L::into_tokio(stream) else {
                return;
            };
            serve_http(&builder, stream, handle, move |req| {
                crate::web::handle(router.clone(), peer, req)
            })
            .await;
            drop(slot);
        })
    }
}

/// Serves one HTTP connection. At the shutdown broadcast a connection finishes the
/// request it is on and closes; one that has not begun a request yet (it may have been
/// accepted just before the listener closed) gets [`REQUEST_GRACE`] to send it first.
async fn serve_http<S, F, Fut, B>(
    builder: &http1::Builder,
    stream: S,
    mut shutdown: Handle,
    respond: F,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
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
}

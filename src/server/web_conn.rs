//! `web.sock` and `[web] listen` connections: the web face's axum router on hyper's
//! HTTP/1.1 server (`http.sock` has its own, [`crate::http1`]).

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::watch;

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
    // `true` from the moment the connection begins its first request.
    let (begin, mut begun) = watch::channel(false);
    let svc = service_fn(move |req| {
        begin.send_replace(true);
        respond(req)
    });
    let conn = builder.serve_connection(TokioIo::new(stream), svc);
    let mut conn = std::pin::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = shutdown.recv() => {}
    }
    // Ready at once when a request has begun, else the moment one does.
    let first = async { begun.wait_for(|&b| b).await.is_ok() };
    tokio::select! {
        _ = conn.as_mut() => return,
        _ = tokio::time::timeout(REQUEST_GRACE, first) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shutdown::Shutdown;
    use std::time::Instant;
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

    async fn hello(_: Request<Incoming>) -> Result<Response<String>, Infallible> {
        Ok(Response::new("hello".to_string()))
    }

    /// A connection served by [`serve_http`] and already broadcast to stop (the drain
    /// runs in the background): the client's end, the connection's task and the drain's.
    fn idle_at_shutdown() -> (
        DuplexStream,
        tokio::task::JoinHandle<()>,
        tokio::task::JoinHandle<bool>,
    ) {
        let shutdown = Shutdown::new();
        let (client, server) = tokio::io::duplex(4096);
        let handle = shutdown.handle();
        let conn = tokio::spawn(async move {
            serve_http(&http1_builder(), server, handle, hello).await;
        });
        let drained = tokio::spawn(shutdown.drain(Duration::from_secs(5)));
        (client, conn, drained)
    }

    #[tokio::test]
    async fn serve_http_first_request_sent_within_the_grace_after_shutdown_is_answered() {
        let (mut client, conn, drained) = idle_at_shutdown();
        // Well after the broadcast, well within REQUEST_GRACE.
        tokio::time::sleep(REQUEST_GRACE / 3).await;
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
        conn.await.unwrap();
        assert!(drained.await.unwrap());
    }

    #[tokio::test]
    async fn serve_http_connection_idle_at_shutdown_closes_after_the_grace() {
        let started = Instant::now();
        let (mut client, conn, drained) = idle_at_shutdown();
        let mut answer = Vec::new();
        client.read_to_end(&mut answer).await.unwrap();
        let took = started.elapsed();
        assert!(answer.is_empty(), "{answer:?}");
        assert!(took >= REQUEST_GRACE, "closed after {took:?}");
        assert!(took < REQUEST_GRACE * 3, "closed after {took:?}");
        conn.await.unwrap();
        assert!(drained.await.unwrap());
    }
}

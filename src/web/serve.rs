//! Accept loops of `web.sock` and the `[web] listen` TCP listeners: HTTP/1.1 through hyper,
//! each request routed by axum, on the daemon's single-threaded runtime.

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use std::sync::Arc;
use tokio::net::{TcpListener, UnixListener};

use crate::engine::Engine;
use crate::http::PeerAddr;

/// Serves `web.sock` until the task is aborted.
pub async fn accept_unix(
    listener: UnixListener,
    engine: Arc<Engine>,
    graceful: Arc<GracefulShutdown>,
) {
    let router = super::router(engine);
    let builder = crate::server::http1_builder();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let router = router.clone();
        let svc = service_fn(move |req| super::handle(router.clone(), PeerAddr::Unix, req));
        tokio::spawn(graceful.watch(builder.serve_connection(TokioIo::new(stream), svc)));
    }
}

/// Serves one `[web] listen` address until the task is aborted.
pub async fn accept_tcp(
    listener: TcpListener,
    engine: Arc<Engine>,
    graceful: Arc<GracefulShutdown>,
) {
    let router = super::router(engine);
    let builder = crate::server::http1_builder();
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let peer = PeerAddr::Tcp(addr.ip());
        let svc = service_fn(move |req| super::handle(router.clone(), peer, req));
        tokio::spawn(graceful.watch(builder.serve_connection(TokioIo::new(stream), svc)));
    }
}

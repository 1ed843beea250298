//! The `admin.sock` front end for the `apitoken` command. Who asks comes from SO_PEERCRED
//! only; each connection carries one bounded, versioned request (the wire crate's
//! [`apitoken_wire::admin`]) and gets the one typed reply of that request.

mod listing;
mod ops;
pub use crate::clock::rfc3339;
use apitoken_wire::admin as proto;
pub use ops::dispatch;
pub use reply::actor;
mod reply;
mod tokens;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixStream;

use crate::engine::{Engine, OpError, Refusal};
use crate::peer::Peer;
use proto::{Envelope, ErrorKind, ErrorReply};

/// How long a client may take to send its request (`apitoken` sends it right after
/// connecting).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A refused request: its class and a message naming the problem and the fix.
#[derive(Debug)]
pub struct Failure(pub ErrorKind, pub String);

impl Failure {
    pub fn invalid(msg: impl Into<String>) -> Failure {
        Failure(ErrorKind::Invalid, msg.into())
    }
    pub fn denied(msg: impl Into<String>) -> Failure {
        Failure(ErrorKind::PermissionDenied, msg.into())
    }
    pub fn not_found(msg: impl Into<String>) -> Failure {
        Failure(ErrorKind::NotFound, msg.into())
    }
}

impl From<OpError> for Failure {
    fn from(e: OpError) -> Failure {
        match e {
            OpError::Refused(refusal, msg) => Failure(
                match refusal {
                    Refusal::Invalid => ErrorKind::Invalid,
                    Refusal::Denied => ErrorKind::PermissionDenied,
                    Refusal::NotFound => ErrorKind::NotFound,
                    Refusal::OutOfBounds => ErrorKind::OutOfBounds,
                },
                msg,
            ),
            OpError::TooMany { .. } => Failure(ErrorKind::Limit, e.to_string()),
            OpError::Collision => Failure::invalid(e.to_string()),
            OpError::Store(e) => e.into(),
            OpError::Token(e) => Failure(ErrorKind::Internal, e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Failure {
        if e.is_unavailable() {
            // Logged once, by the store, when the outage began.
            return Failure(
                ErrorKind::DatabaseUnavailable,
                format!("nothing was done: {e}"),
            );
        }
        eprintln!("apitokend: admin request failed: {e}");
        Failure(
            ErrorKind::Internal,
            format!("the daemon could not complete the request: {e}"),
        )
    }
}

fn error_reply(kind: ErrorKind, message: String) -> std::io::Result<Vec<u8>> {
    ErrorReply { kind, message }.encode()
}

async fn read_envelope(stream: &mut UnixStream) -> Result<Envelope, String> {
    let body = crate::frames::read(stream, proto::REQUEST_FRAMES)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::InvalidData => e.to_string(),
            _ => format!("cannot read request: {e}"),
        })?;
    let env: Envelope =
        serde_json::from_slice(&body).map_err(|e| format!("malformed request: {e}"))?;
    if env.v != proto::VERSION {
        return Err(format!("protocol version {} is not supported (this daemon speaks {}); use the apitoken of the same release", env.v, proto::VERSION));
    }
    Ok(env)
}

/// Serves one connection; one still waiting for its request when `cutoff` resolves
/// (shutdown) is dropped.
pub async fn serve(engine: Arc<Engine>, mut stream: UnixStream, cutoff: impl Future<Output = ()>) {
    let Ok(cred) = stream.peer_cred() else { return };
    let read = tokio::select! {
        r = tokio::time::timeout(READ_TIMEOUT, read_envelope(&mut stream)) => r,
        () = cutoff => return,
    };
    let reply = match read {
        Err(_) => return,
        Ok(Err(msg)) => error_reply(ErrorKind::Invalid, msg),
        Ok(Ok(env)) => {
            let uid = cred.uid();
            let task = tokio::task::spawn_blocking(move || {
                let peer: Peer = crate::peer::identify(uid, &engine.config().admin_group);
                ops::dispatch(&engine, &peer, env.request)
            });
            match task.await {
                Ok(Ok(response)) => response.encode(),
                Ok(Err(Failure(kind, msg))) => error_reply(kind, msg),
                Err(_) => error_reply(
                    ErrorKind::Internal,
                    "the daemon failed while handling the request".into(),
                ),
            }
        }
    };
    let Ok(body) = reply else { return };
    let body = zeroize::Zeroizing::new(body);
    let _ = crate::frames::write(&mut stream, proto::REPLY_FRAMES, &body).await;
}

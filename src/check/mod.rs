//! The `check.sock` front end for the PAM module and `apitoken-external`: one framed
//! request and one framed reply per connection (the wire crate's
//! [`apitoken_wire::check`]), answered by the engine.

pub mod client;
use apitoken_wire::check as proto;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixStream;

use crate::engine::{AuthRequest, ClientAddr, Decision, Engine, Kind, Via};
use proto::{CheckReply, CheckRequest, Verdict};

/// How long a client may take to send its request. Both clients send it right after
/// connecting, so an idle connection is cut quickly.
const READ_TIMEOUT: Duration = Duration::from_secs(1);

/// Maps the engine's decision to the reply (the one mapping for this socket): the verdict,
/// the user it is about, the token that allowed it and the reason of a refusal.
fn reply(d: Decision, claimed: &str) -> CheckReply {
    let refused = |verdict, reason: &str| CheckReply {
        verdict,
        user: claimed.to_string(),
        token_id: String::new(),
        reason: reason.to_string(),
    };
    match d {
        Decision::Allow { user, token_id } => CheckReply {
            verdict: Verdict::Allow,
            user,
            token_id: token_id.unwrap_or_default(),
            reason: String::new(),
        },
        Decision::Unauthorized(r) => refused(Verdict::Unauthorized, r.as_str()),
        Decision::Forbidden(r) => refused(Verdict::Forbidden, r.as_str()),
        Decision::Locked => refused(Verdict::Locked, "locked"),
        Decision::Ignore => refused(Verdict::Ignore, ""),
        Decision::Error => refused(Verdict::Error, ""),
    }
}

async fn read_request(stream: &mut UnixStream) -> std::io::Result<CheckRequest> {
    let body = crate::frames::read(stream, proto::FRAMES).await?;
    CheckRequest::decode(&body)
}

/// Serves one connection; malformed requests get an error reply, slow ones are dropped,
/// and so is one still waiting for its request when `cutoff` resolves (shutdown).
pub async fn serve(engine: Arc<Engine>, mut stream: UnixStream, cutoff: impl Future<Output = ()>) {
    let read = tokio::select! {
        r = tokio::time::timeout(READ_TIMEOUT, read_request(&mut stream)) => r,
        () = cutoff => return,
    };
    let reply = match read {
        Ok(Ok(req)) => answer(&engine, &req).await,
        Ok(Err(e)) => CheckReply {
            verdict: Verdict::Error,
            user: String::new(),
            token_id: String::new(),
            reason: e.to_string(),
        },
        Err(_) => return,
    };
    if let Ok(body) = reply.encode() {
        let _ = crate::frames::write(&mut stream, proto::FRAMES, &body).await;
    }
}

async fn answer(engine: &Engine, req: &CheckRequest) -> CheckReply {
    let addr = match req.rhost.as_str() {
        "" if req.via == proto::Via::Pam => ClientAddr::Local,
        "" => ClientAddr::Unknown,
        host => host
            .parse()
            .map(ClientAddr::Ip)
            .unwrap_or(ClientAddr::Unknown),
    };
    let via = match req.via {
        proto::Via::Pam => Via::Pam,
        proto::Via::External => Via::External,
    };
    let auth = AuthRequest {
        kind: Kind::UserSecret,
        user: &req.user,
        secret: &req.secret,
        addr,
        via,
        service: &req.service,
        // The Apache helper's `read`/`write`; PAM sends nothing (login is its scope).
        method: &req.access,
        uri: &req.uri,
    };
    reply(engine.decide(&auth).await, &req.user)
}

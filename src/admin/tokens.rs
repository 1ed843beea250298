//! Token operations of the admin socket: create, show, delete, rename, rotate, prune and
//! verify (listings are in `listing`), each a call of the engine's operation (which
//! authorizes: users act on their own tokens, admins on any) and its rendering.

use super::proto::{Created, Deleted, DeletedAll, Pruned, Secret, TokenInfo, VerifyResult};
use super::reply::{actor, to_value, Outcome};
use super::Failure;
use crate::clock::rfc3339;
use crate::engine::{Engine, TokenRequest};
use crate::peer::Peer;
use crate::scope::Scopes;
use crate::store::{TokenRecord, TokenState};
use crate::token::Token;

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A token's public metadata.
pub fn info(t: &TokenRecord, now: i64) -> TokenInfo {
    let state = TokenState::at(t.expires_at, t.revoke_at, now).as_str();
    TokenInfo {
        id: t.id.clone(),
        user: t.owner.clone(),
        name: t.name.clone(),
        created: rfc3339(t.created_at),
        created_by: t.created_by.clone(),
        expires: t.expires_at.map(rfc3339),
        last_used: t.last_used_at.map(rfc3339),
        last_ip: t.last_used_ip.clone(),
        state: state.into(),
        scopes: t.scopes.clone().unwrap_or_else(|| Scopes::ALL.to_text()),
        paths: split(&t.paths),
        networks: split(&t.networks),
        last_ips: split(&t.last_ips),
        rotated_to: t.rotated_to.clone(),
        revoke_at: t.revoke_at.map(rfc3339),
    }
}

fn created(token: &Token, record: &TokenRecord) -> Outcome {
    let text = zeroize::Zeroizing::new(token.expose().to_string());
    to_value(Created {
        info: info(record, record.created_at),
        token: Secret(text),
    })
}

pub fn create(engine: &Engine, peer: &Peer, req: &TokenRequest) -> Outcome {
    let (token, record) = engine.create_token(actor(peer), req)?;
    created(&token, &record)
}

pub fn show(engine: &Engine, peer: &Peer, id: &str) -> Outcome {
    to_value(info(
        &engine.token_for(actor(peer), id)?,
        engine.clock().now(),
    ))
}

pub fn delete(engine: &Engine, peer: &Peer, ids: &[String]) -> Outcome {
    let deleted = engine.delete_tokens(actor(peer), ids)?;
    to_value(Deleted { deleted })
}

pub fn delete_all(engine: &Engine, peer: &Peer, user: &str) -> Outcome {
    let ids = engine.delete_all(actor(peer), user)?;
    to_value(DeletedAll {
        user: user.to_string(),
        count: ids.len(),
        deleted: ids,
    })
}

pub fn rename(engine: &Engine, peer: &Peer, id: &str, name: &str) -> Outcome {
    let renamed = engine.rename_token(actor(peer), id, name)?;
    to_value(info(&renamed, engine.clock().now()))
}

/// Issues a successor with the same name, owner, scopes, paths and networks.
pub fn rotate(
    engine: &Engine,
    peer: &Peer,
    id: &str,
    grace: Option<&str>,
    expires: Option<&str>,
) -> Outcome {
    let (token, record) = engine.rotate(actor(peer), id, grace, expires)?;
    created(&token, &record)
}

pub fn prune(engine: &Engine, peer: &Peer, older_than: Option<&str>) -> Outcome {
    let ids = engine.prune(actor(peer), older_than)?;
    to_value(Pruned {
        count: ids.len(),
        deleted: ids,
    })
}

/// `apitoken verify`: judged by the engine like any front end's request (the same
/// verifier, budgets, lockout and `auth.*` event, with `via=cli`), from a local caller.
pub fn verify(engine: &Engine, user: Option<String>, token: &Secret) -> Outcome {
    use crate::engine::{AuthRequest, ClientAddr, Decision, Kind, Via};
    let secret = token.0.trim();
    let claimed = user.unwrap_or_default();
    let req = AuthRequest {
        kind: if claimed.is_empty() {
            Kind::Bearer
        } else {
            Kind::UserSecret
        },
        user: &claimed,
        secret: secret.as_bytes(),
        addr: ClientAddr::Local,
        via: Via::Cli,
        service: "verify",
        method: "",
        uri: "",
    };
    // The admin socket runs requests on a blocking thread inside the runtime.
    let decision = tokio::runtime::Handle::current().block_on(engine.decide(&req));
    let (valid, user, token_id, reason) = match decision {
        Decision::Allow { user, token_id } => (true, Some(user), token_id, None),
        Decision::Unauthorized(r) | Decision::Forbidden(r) => (false, None, None, Some(r.as_str())),
        Decision::Locked => (false, None, None, Some("locked")),
        Decision::Ignore => (false, None, None, Some("invalid_token")),
        Decision::Error => {
            return Err(Failure(
                super::proto::ErrorKind::Internal,
                "the daemon could not verify the token now; try again".into(),
            ))
        }
    };
    to_value(VerifyResult {
        valid,
        user,
        token_id,
        reason: reason.map(String::from),
    })
}

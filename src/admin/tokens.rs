//! Token operations of the admin socket: create, show, delete, rotate, prune and verify
//! (listings are in `listing`). Authorization: users act on their own tokens, admins on any.

use time::OffsetDateTime;

use super::proto::{
    Created, Deleted, DeletedAll, ErrorKind, Pruned, Secret, TokenInfo, VerifyResult,
};
use super::reply::{actor, require_admin, to_value, valid_user_name, Outcome};
use super::Failure;
use crate::clock::rfc3339;
use crate::engine::{Engine, NewToken};
use crate::peer::Peer;
use crate::scope::{parse_prefixes, Scopes};
use crate::settings::ExpiryError;
use crate::store::TokenRecord;
use crate::token::{is_valid_id, Token};

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn expiry_failure(e: ExpiryError) -> Failure {
    match e {
        ExpiryError::Invalid(e) => Failure::invalid(e.0),
        ExpiryError::TooLong(e) => Failure(ErrorKind::OutOfBounds, e.0),
    }
}

/// A token's public metadata.
pub fn info(t: &TokenRecord, now: i64) -> TokenInfo {
    let state = if t.revoke_at.is_some_and(|r| r <= now) {
        "rotated"
    } else if t.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
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

/// What `create` (and `rotate`) are asked for.
pub struct Spec {
    pub owner: Option<String>,
    pub name: Option<String>,
    pub expires: Option<String>,
    pub scopes: Option<String>,
    pub paths: Vec<String>,
    pub networks: Vec<String>,
}

/// Validated restrictions in their stored text form: (scopes, paths, networks).
fn restrictions(
    engine: &Engine,
    peer: &Peer,
    owner: &str,
    spec: &Spec,
) -> Result<(String, String, String), Failure> {
    let settings = engine.settings();
    let mut scopes = match &spec.scopes {
        Some(text) => Scopes::parse(text).map_err(Failure::invalid)?,
        None => Scopes::ALL,
    };
    // Regular users' own tokens may be forced to read-only by an admin.
    if settings.user_tokens_read_only && !peer.admin && owner == peer.user {
        let read = Scopes {
            read: true,
            ..Scopes::NONE
        };
        if spec.scopes.is_some() && scopes != read {
            return Err(Failure::denied(
                "permission denied: user-tokens-read-only is on, so your own tokens get the read scope only; use --scope read or ask an administrator",
            ));
        }
        scopes = read;
    }
    let paths = parse_prefixes(&spec.paths).map_err(Failure::invalid)?;
    if spec.networks.len() > crate::scope::MAX_NETWORKS {
        return Err(Failure::invalid(format!(
            "a token takes at most {} networks",
            crate::scope::MAX_NETWORKS
        )));
    }
    let networks = spec
        .networks
        .iter()
        .map(|n| crate::settings::parse_network(n).map(|n| n.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::invalid(e.0))?;
    Ok((scopes.to_text(), paths.join(","), networks.join(",")))
}

fn created(token: &Token, record: &TokenRecord) -> Outcome {
    let text = zeroize::Zeroizing::new(token.expose().to_string());
    to_value(Created {
        info: info(record, record.created_at),
        token: Secret(text),
    })
}

pub fn create(engine: &Engine, peer: &Peer, spec: Spec) -> Outcome {
    let owner = spec.owner.clone().unwrap_or_else(|| peer.user.clone());
    valid_user_name(&owner)?;
    let settings = engine.settings();
    if owner != peer.user {
        require_admin(peer, "creating tokens for other users")?;
    }
    if settings.admin_only_create && !peer.admin {
        return Err(Failure::denied("permission denied: only admins may create tokens (admin-only-create is on); ask an administrator to create one for you"));
    }
    let name = spec.name.clone().unwrap_or_default();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Failure::invalid(
            "--name must be at most 100 characters without control characters",
        ));
    }
    if crate::token::contains_token_shape(&name) {
        // Never echoed: it is probably a token pasted into the wrong field.
        return Err(Failure::invalid(
            "--name looks like it contains a token (atk_...); names are stored and logged, so choose another",
        ));
    }
    let now_t = OffsetDateTime::now_utc();
    let expires_at = settings
        .expiry_within(spec.expires.as_deref(), now_t)
        .map_err(expiry_failure)?
        .map(|t| t.unix_timestamp());
    let (scopes, paths, networks) = restrictions(engine, peer, &owner, &spec)?;
    let new = NewToken {
        owner,
        name,
        expires_at,
        scopes,
        paths,
        networks,
    };
    let (token, record) = engine.create_token(actor(peer), &new)?;
    created(&token, &record)
}

/// A token the peer may act on: their own, or any for an admin.
pub fn owned_token(engine: &Engine, peer: &Peer, id: &str) -> Result<TokenRecord, Failure> {
    if !is_valid_id(id) {
        // Not echoed: a string that is not an id may be a secret pasted by mistake.
        return Err(Failure::invalid("that is not a token id: ids are the 8 letters and digits after atk_; see apitoken list"));
    }
    let missing = || Failure::not_found(format!("no token with id {id}; see apitoken list"));
    let t = engine.store().token(id)?.ok_or_else(missing)?;
    if t.owner != peer.user && !peer.admin {
        return Err(Failure::denied(format!(
            "permission denied: token {id} belongs to another user"
        )));
    }
    Ok(t)
}

pub fn delete(engine: &Engine, peer: &Peer, ids: &[String]) -> Outcome {
    if ids.is_empty() {
        return Err(Failure::invalid(
            "name at least one token id; see apitoken list",
        ));
    }
    // Check every id first, so a bad one deletes nothing.
    let tokens = ids
        .iter()
        .map(|id| owned_token(engine, peer, id))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = engine.delete_tokens(actor(peer), &tokens)?;
    to_value(Deleted { deleted })
}

pub fn delete_all(engine: &Engine, peer: &Peer, user: &str) -> Outcome {
    require_admin(peer, "deleting all tokens of a user")?;
    let ids = engine.delete_all(actor(peer), user)?;
    to_value(DeletedAll {
        user: user.to_string(),
        count: ids.len(),
        deleted: ids,
    })
}

/// Issues a successor with the same name, owner, scopes, paths and networks; the old token
/// stops after `grace` and is then reported as `token.reuse` if presented.
pub fn rotate(
    engine: &Engine,
    peer: &Peer,
    id: &str,
    grace: Option<String>,
    expires: Option<String>,
) -> Outcome {
    let old = owned_token(engine, peer, id)?;
    if engine.settings().admin_only_create && !peer.admin {
        return Err(Failure::denied("permission denied: only admins may create tokens, rotation included (admin-only-create is on); ask an administrator"));
    }
    let now_t = OffsetDateTime::now_utc();
    if old.revoke_at.is_some() {
        return Err(Failure::invalid(format!(
            "token {id} was already rotated to {}; rotate that one",
            old.rotated_to.unwrap_or_default()
        )));
    }
    let grace = match grace.as_deref() {
        Some(g) => crate::settings::parse_duration(g).map_err(|e| Failure::invalid(e.0))?,
        None => 0,
    };
    let expires_at = engine
        .settings()
        .expiry_within(expires.as_deref(), now_t)
        .map_err(expiry_failure)?
        .map(|t| t.unix_timestamp());
    let (token, record) = engine.rotate(actor(peer), &old, grace, expires_at)?;
    created(&token, &record)
}

pub fn prune(engine: &Engine, peer: &Peer, older_than: Option<String>) -> Outcome {
    require_admin(peer, "pruning tokens")?;
    let age = match older_than.as_deref() {
        Some(d) => crate::settings::parse_duration(d).map_err(|e| Failure::invalid(e.0))?,
        None => engine.settings().prune_after,
    };
    let ids = engine.prune(actor(peer), age)?;
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

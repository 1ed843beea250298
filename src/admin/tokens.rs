//! Token operations of the admin socket: create, show, delete, rotate, prune and verify
//! (listings are in `listing`). Authorization: users act on their own tokens, admins on any.

use time::OffsetDateTime;

use super::ops::{require_admin, rfc3339, to_value, valid_user_name, Outcome};
use super::proto::{Created, Deleted, DeletedAll, Pruned, Secret, TokenInfo, VerifyResult};
use super::Failure;
use crate::audit::{Event, Severity};
use crate::engine::{now, Engine};
use crate::peer::Peer;
use crate::scope::{parse_prefix, Scopes};
use crate::store::TokenRecord;
use crate::token::{is_valid_id, Token};

fn split(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
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
            write: false,
            login: false,
        };
        if spec.scopes.is_some() && scopes != read {
            return Err(Failure::denied(
                "permission denied: user-tokens-read-only is on, so your own tokens get the read scope only; use --scope read or ask an administrator",
            ));
        }
        scopes = read;
    }
    let paths = spec
        .paths
        .iter()
        .map(|p| parse_prefix(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Failure::invalid)?;
    let networks = spec
        .networks
        .iter()
        .map(|n| crate::settings::parse_network(n).map(|n| n.to_string()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Failure::invalid(e.0))?;
    Ok((scopes.to_text(), paths.join(","), networks.join(",")))
}

/// Generates, hashes and stores a new token with `event_for` describing it, refusing it
/// (in the same transaction) when its owner already holds `max-tokens-per-user`.
fn store_new(
    engine: &Engine,
    mut record: TokenRecord,
    event_for: impl Fn(&TokenRecord) -> Event,
) -> Result<(Token, TokenRecord), Failure> {
    let max = engine.settings().max_tokens_per_user;
    // Ids are random; retry on the (astronomically unlikely) collision.
    for _ in 0..3 {
        let token = Token::generate().map_err(|e| Failure::invalid(e.to_string()))?;
        if engine.store.token(token.id())?.is_some() {
            continue;
        }
        record.id = token.id().to_string();
        record.hash =
            crate::token::new_verifier(&token).map_err(|e| Failure::invalid(e.to_string()))?;
        let event = event_for(&record);
        if !engine.store.insert_token_limited(&record, &event, max)? {
            return Err(Failure::invalid(format!(
                "{} already has {max} usable tokens, the maximum set by max-tokens-per-user; delete one first",
                record.owner
            )));
        }
        engine.syslog.emit(&event, Severity::Info);
        return Ok((token, record));
    }
    Err(Failure::invalid(
        "could not allocate a unique token id; try again",
    ))
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
    let now_t = OffsetDateTime::now_utc();
    let expires_at = settings
        .expiry_for(spec.expires.as_deref(), now_t)
        .map_err(|e| Failure::invalid(e.0))?
        .map(|t| t.unix_timestamp());
    let (scopes, paths, networks) = restrictions(engine, peer, &owner, &spec)?;
    let record = TokenRecord {
        id: String::new(),
        owner: owner.clone(),
        name,
        hash: String::new(),
        created_at: now_t.unix_timestamp(),
        created_by: peer.user.clone(),
        expires_at,
        last_used_at: None,
        last_used_ip: None,
        scopes: Some(scopes),
        paths,
        networks,
        revoke_at: None,
        rotated_to: None,
        last_ips: String::new(),
    };
    let (token, record) = store_new(engine, record, |r| {
        Event::new("token.create", r.created_at)
            .with("actor", peer.user.as_str())
            .with("user", r.owner.as_str())
            .with("token_id", r.id.as_str())
            .with("name", r.name.as_str())
            .with(
                "expires",
                r.expires_at.map(rfc3339).unwrap_or_else(|| "never".into()),
            )
            .with("scopes", r.scopes.clone().unwrap_or_default())
    })?;
    created(&token, &record)
}

/// A token the peer may act on: their own, or any for an admin.
pub fn owned_token(engine: &Engine, peer: &Peer, id: &str) -> Result<TokenRecord, Failure> {
    if !is_valid_id(id) {
        // Not echoed: a string that is not an id may be a secret pasted by mistake.
        return Err(Failure::invalid("that is not a token id: ids are the 8 letters and digits after atk_; see apitoken list"));
    }
    let missing = || Failure::not_found(format!("no token with id {id}; see apitoken list"));
    let t = engine.store.token(id)?.ok_or_else(missing)?;
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
    let mut deleted = Vec::new();
    for t in tokens {
        let event = Event::new("token.delete", now())
            .with("actor", peer.user.as_str())
            .with("user", t.owner.as_str())
            .with("token_id", t.id.as_str());
        if engine.store.delete_token(&t.id, &event)? {
            engine.cache.remove_tokens(std::slice::from_ref(&t.id));
            engine.syslog.emit(&event, Severity::Info);
            deleted.push(t.id);
        }
    }
    to_value(Deleted { deleted })
}

pub fn delete_all(engine: &Engine, peer: &Peer, user: &str) -> Outcome {
    require_admin(peer, "deleting all tokens of a user")?;
    let mut event = Event::new("token.delete_all", now())
        .with("actor", peer.user.as_str())
        .with("user", user);
    let ids = engine.store.delete_all(user, &mut event)?;
    engine.cache.remove_tokens(&ids);
    engine.syslog.emit(&event, Severity::Info);
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
    let now = now_t.unix_timestamp();
    if old.revoke_at.is_some() {
        return Err(Failure::invalid(format!(
            "token {id} was already rotated to {}; rotate that one",
            old.rotated_to.unwrap_or_default()
        )));
    }
    let grace = match grace.as_deref() {
        Some(g) => crate::settings::parse_duration(g).map_err(|e| Failure::invalid(e.0))? as i64,
        None => 0,
    };
    let expires_at = engine
        .settings()
        .expiry_for(expires.as_deref(), now_t)
        .map_err(|e| Failure::invalid(e.0))?
        .map(|t| t.unix_timestamp());
    let record = TokenRecord {
        id: String::new(),
        hash: String::new(),
        created_at: now,
        created_by: peer.user.clone(),
        expires_at,
        last_used_at: None,
        last_used_ip: None,
        revoke_at: None,
        rotated_to: None,
        last_ips: String::new(),
        ..old.clone()
    };
    let token = Token::generate().map_err(|e| Failure::invalid(e.to_string()))?;
    let record = TokenRecord {
        id: token.id().to_string(),
        hash: crate::token::new_verifier(&token).map_err(|e| Failure::invalid(e.to_string()))?,
        ..record
    };
    let event = Event::new("token.rotate", now)
        .with("actor", peer.user.as_str())
        .with("user", old.owner.as_str())
        .with("token_id", old.id.as_str())
        .with("new_token_id", record.id.as_str())
        .with("grace", crate::settings::format_duration(grace as u64));
    engine.store.rotate(&old.id, now + grace, &record, &event)?;
    engine.cache.remove_tokens(std::slice::from_ref(&old.id));
    engine.syslog.emit(&event, Severity::Info);
    created(&token, &record)
}

pub fn prune(engine: &Engine, peer: &Peer, older_than: Option<String>) -> Outcome {
    require_admin(peer, "pruning tokens")?;
    let age = match older_than.as_deref() {
        Some(d) => crate::settings::parse_duration(d).map_err(|e| Failure::invalid(e.0))?,
        None => engine.settings().prune_after,
    };
    let mut event = Event::new("token.prune", now())
        .with("actor", peer.user.as_str())
        .with("older_than", crate::settings::format_duration(age));
    let ids = engine.store.prune(now() - age as i64, &mut event)?;
    engine.cache.remove_tokens(&ids);
    engine.syslog.emit(&event, Severity::Info);
    to_value(Pruned {
        count: ids.len(),
        deleted: ids,
    })
}

pub fn verify(engine: &Engine, user: Option<String>, token: &Secret) -> Outcome {
    let invalid = |reason: &str| {
        to_value(VerifyResult {
            valid: false,
            user: None,
            token_id: None,
            reason: Some(reason.into()),
        })
    };
    let Ok(token) = Token::parse(token.0.trim()) else {
        return invalid("invalid_token");
    };
    let Some(record) = engine.store.token(token.id())? else {
        return invalid("invalid_token");
    };
    let matches = match crate::token::Stored::of(&record.hash) {
        crate::token::Stored::Sha256 => {
            crate::token::sha256_verify(&token, &record.hash) == Some(true)
        }
        crate::token::Stored::Argon2 => crate::token::legacy_argon2_verify(&token, &record.hash),
        crate::token::Stored::Unknown => false,
    };
    if !matches {
        return invalid("invalid_token");
    }
    let settings = engine.settings();
    let now = now();
    let reason = if record.revoke_at.is_some_and(|t| t <= now) {
        Some("rotated")
    } else if record.expires_at.is_some_and(|t| t <= now) {
        Some("expired")
    } else if user.as_ref().is_some_and(|u| *u != record.owner) {
        Some("wrong_user")
    } else if settings.admin_only_create
        && !settings.regular_users_use_tokens
        && !crate::peer::is_admin_account(&record.owner, &engine.config().admin_group)
    {
        Some("owner_not_allowed")
    } else if engine.lockout.is_locked(&record.owner, now) {
        Some("locked")
    } else {
        None
    };
    to_value(VerifyResult {
        valid: reason.is_none(),
        user: Some(record.owner),
        token_id: Some(record.id),
        reason: reason.map(String::from),
    })
}

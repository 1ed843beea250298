//! The admin operations of SPEC §6, each authorized by the peer's identity. Blocking: runs
//! on a blocking thread. Every change commits with its audit record, then goes to syslog,
//! then updates the engine's in-memory state (cache, settings, lockout).

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::proto::{Created, FailureInfo, IpCheck, Request, Secret, TokenInfo, VerifyResult};
use super::Failure;
use crate::audit::{Event, Severity};
use crate::engine::{now, Engine};
use crate::peer::Peer;
use crate::settings::Settings;
use crate::store::TokenRecord;
use crate::token::{is_valid_id, Token};

type Outcome = Result<Value, Failure>;

/// RFC 3339 UTC text of a unix time.
pub fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|d| d.format(&Rfc3339).ok())
        .unwrap_or_else(|| t.to_string())
}

fn info(t: &TokenRecord, now: i64) -> TokenInfo {
    let expired = t.expires_at.is_some_and(|e| e <= now);
    TokenInfo {
        id: t.id.clone(),
        user: t.owner.clone(),
        name: t.name.clone(),
        created: rfc3339(t.created_at),
        created_by: t.created_by.clone(),
        expires: t.expires_at.map(rfc3339),
        last_used: t.last_used_at.map(rfc3339),
        last_ip: t.last_used_ip.clone(),
        state: if expired { "expired" } else { "active" }.into(),
    }
}

fn to_value(v: impl serde::Serialize) -> Outcome {
    serde_json::to_value(v).map_err(|e| Failure(super::proto::ErrorKind::Internal, e.to_string()))
}

fn require_admin(peer: &Peer, what: &str) -> Result<(), Failure> {
    if peer.admin {
        Ok(())
    } else {
        Err(Failure::denied(format!("permission denied: {what} is for admins (root or members of the admin group); ask an administrator")))
    }
}

fn valid_user_name(name: &str) -> Result<(), Failure> {
    if name.starts_with(crate::token::PREFIX) {
        // Never echo it: it is probably a token pasted in the wrong place.
        return Err(Failure::invalid(
            "that looks like a token, not a user name; user names are 1-64 letters, digits and . _ @ - +",
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Failure::invalid(format!(
            "{name:?} is not a valid user name: use 1-64 letters, digits and . _ @ - +"
        )))
    }
}

/// Checks an optional user-name argument.
fn valid_user_opt(name: &Option<String>) -> Result<(), Failure> {
    name.as_deref().map_or(Ok(()), valid_user_name)
}

/// Rejects malformed user-name arguments before anything is looked up or logged.
fn check_user_args(req: &Request) -> Result<(), Failure> {
    match req {
        Request::Create { user, .. }
        | Request::List { user, .. }
        | Request::Failures { user }
        | Request::Audit { user, .. }
        | Request::Verify { user, .. } => valid_user_opt(user),
        Request::DeleteAll { user } | Request::FailuresReset { user } => valid_user_name(user),
        _ => Ok(()),
    }
}

/// Runs one request for `peer`.
pub fn dispatch(engine: &Engine, peer: &Peer, req: Request) -> Outcome {
    check_user_args(&req)?;
    match req {
        Request::Create {
            name,
            expires,
            user,
        } => create(engine, peer, name, expires, user),
        Request::List { user, all } => list(engine, peer, user, all),
        Request::Show { id } => to_value(info(&owned_token(engine, peer, &id)?, now())),
        Request::Delete { ids } => delete(engine, peer, &ids),
        Request::DeleteAll { user } => delete_all(engine, peer, &user),
        Request::Settings => Ok(engine.settings().to_json()),
        Request::SettingsSet { key, value } => set_setting(engine, peer, &key, &value),
        Request::AllowIpList => {
            require_admin(peer, "the allowed-networks list")?;
            Ok(engine.settings().to_json()["allowed-networks"].clone())
        }
        Request::AllowIpAdd { cidrs } => change_networks(engine, peer, |nets| {
            for c in &cidrs {
                let net = crate::settings::parse_network(c).map_err(|e| Failure::invalid(e.0))?;
                if !nets.contains(&net) {
                    nets.push(net);
                }
            }
            Ok(())
        }),
        Request::AllowIpRemove { cidrs } => change_networks(engine, peer, |nets| {
            for c in &cidrs {
                let net = crate::settings::parse_network(c).map_err(|e| Failure::invalid(e.0))?;
                let before = nets.len();
                nets.retain(|n| *n != net);
                if nets.len() == before {
                    return Err(Failure::not_found(format!(
                        "{net} is not in allowed-networks; see apitoken allow-ip list"
                    )));
                }
            }
            Ok(())
        }),
        Request::AllowIpClear => change_networks(engine, peer, |nets| {
            nets.clear();
            Ok(())
        }),
        Request::CheckIp { address } => check_ip(engine, &address),
        Request::Failures { user } => failures(engine, peer, user),
        Request::FailuresReset { user } => reset_failures(engine, peer, &user),
        Request::Audit { user, since, limit } => audit(engine, peer, user, since, limit),
        Request::Verify { user, token } => verify(engine, user, &token),
        Request::Status => status(engine),
    }
}

fn create(
    engine: &Engine,
    peer: &Peer,
    name: Option<String>,
    expires: Option<String>,
    user: Option<String>,
) -> Outcome {
    let owner = user.unwrap_or_else(|| peer.user.clone());
    valid_user_name(&owner)?;
    let settings = engine.settings();
    if owner != peer.user {
        require_admin(peer, "creating tokens for other users")?;
    }
    if settings.admin_only_create && !peer.admin {
        return Err(Failure::denied("permission denied: only admins may create tokens (admin-only-create is on); ask an administrator to create one for you"));
    }
    let name = name.unwrap_or_default();
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Failure::invalid(
            "--name must be at most 100 characters without control characters",
        ));
    }
    let now_t = OffsetDateTime::now_utc();
    let expires_at = settings
        .expiry_for(expires.as_deref(), now_t)
        .map_err(|e| Failure::invalid(e.0))?
        .map(|t| t.unix_timestamp());
    let hasher = crate::token::Hasher::new(engine.config().argon2)
        .map_err(|e| Failure::invalid(e.to_string()))?;
    // Ids are random; retry on the (astronomically unlikely) collision.
    for _ in 0..3 {
        let token = Token::generate().map_err(|e| Failure::invalid(e.to_string()))?;
        if engine.store.token(token.id())?.is_some() {
            continue;
        }
        let record = TokenRecord {
            id: token.id().to_string(),
            owner: owner.clone(),
            name: name.clone(),
            hash: hasher
                .hash(&token)
                .map_err(|e| Failure::invalid(e.to_string()))?,
            created_at: now_t.unix_timestamp(),
            created_by: peer.user.clone(),
            expires_at,
            last_used_at: None,
            last_used_ip: None,
        };
        let event = Event::new("token.create", record.created_at)
            .with("actor", peer.user.as_str())
            .with("user", owner.as_str())
            .with("token_id", record.id.as_str())
            .with("name", name.as_str())
            .with(
                "expires",
                expires_at.map(rfc3339).unwrap_or_else(|| "never".into()),
            );
        engine.store.insert_token(&record, &event)?;
        engine.syslog.emit(&event, Severity::Info);
        let token_text = zeroize::Zeroizing::new(token.expose().to_string());
        return to_value(Created {
            info: info(&record, record.created_at),
            token: Secret(token_text),
        });
    }
    Err(Failure::invalid(
        "could not allocate a unique token id; try again",
    ))
}

fn list(engine: &Engine, peer: &Peer, user: Option<String>, all: bool) -> Outcome {
    let owner = match (all, user) {
        (true, _) => None,
        (false, Some(u)) => Some(u),
        (false, None) => Some(peer.user.clone()),
    };
    if owner.as_deref() != Some(peer.user.as_str()) {
        require_admin(peer, "listing other users' tokens")?;
    }
    let now = now();
    let tokens: Vec<TokenInfo> = engine
        .store
        .tokens(owner.as_deref())?
        .iter()
        .map(|t| info(t, now))
        .collect();
    to_value(tokens)
}

/// A token the peer may act on: their own, or any for an admin.
fn owned_token(engine: &Engine, peer: &Peer, id: &str) -> Result<TokenRecord, Failure> {
    if !is_valid_id(id) {
        // Not echoed: a string that is not an id may be a secret pasted by mistake.
        return Err(Failure::invalid(
            "that is not a token id: ids are the 8 letters and digits after atk_; see apitoken list",
        ));
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

fn delete(engine: &Engine, peer: &Peer, ids: &[String]) -> Outcome {
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
    Ok(json!({ "deleted": deleted }))
}

fn delete_all(engine: &Engine, peer: &Peer, user: &str) -> Outcome {
    require_admin(peer, "deleting all tokens of a user")?;
    let mut event = Event::new("token.delete_all", now())
        .with("actor", peer.user.as_str())
        .with("user", user);
    let ids = engine.store.delete_all(user, &mut event)?;
    engine.cache.remove_tokens(&ids);
    engine.syslog.emit(&event, Severity::Info);
    Ok(json!({ "user": user, "count": ids.len(), "deleted": ids }))
}

fn apply_setting(engine: &Engine, peer: &Peer, key: &str, new: Settings) -> Outcome {
    let old = engine.settings();
    let (old_text, new_text) = (
        old.get(key).map_err(|e| Failure::invalid(e.0))?,
        new.get(key).map_err(|e| Failure::invalid(e.0))?,
    );
    if old_text != new_text {
        let event = Event::new("settings.change", now())
            .with("actor", peer.user.as_str())
            .with("key", key)
            .with("old", old_text)
            .with("new", new_text.as_str());
        engine.store.set_setting(key, &new_text, &event)?;
        engine.syslog.emit(&event, Severity::Info);
        engine.replace_settings(new.clone());
    }
    Ok(new.to_json())
}

fn set_setting(engine: &Engine, peer: &Peer, key: &str, value: &str) -> Outcome {
    require_admin(peer, "changing settings")?;
    let mut new = (*engine.settings()).clone();
    new.set(key, value).map_err(|e| Failure::invalid(e.0))?;
    apply_setting(engine, peer, key, new)
}

fn change_networks(
    engine: &Engine,
    peer: &Peer,
    change: impl FnOnce(&mut Vec<ipnet::IpNet>) -> Result<(), Failure>,
) -> Outcome {
    require_admin(peer, "changing allowed-networks")?;
    let mut new = (*engine.settings()).clone();
    change(&mut new.allowed_networks)?;
    Ok(apply_setting(engine, peer, "allowed-networks", new)?["allowed-networks"].clone())
}

fn check_ip(engine: &Engine, address: &str) -> Outcome {
    let ip: std::net::IpAddr = address.parse().map_err(|_| {
        Failure::invalid(format!(
            "{address:?} is not an IP address (e.g. 192.0.2.10 or 2001:db8::1)"
        ))
    })?;
    let (allowed, rule) = engine.settings().network_rule(ip);
    to_value(IpCheck {
        address: ip.to_string(),
        allowed,
        rule,
    })
}

fn failures(engine: &Engine, peer: &Peer, user: Option<String>) -> Outcome {
    require_admin(peer, "viewing failure counts")?;
    let now = now();
    let rows: Vec<FailureInfo> = engine
        .lockout
        .snapshot()
        .into_iter()
        .filter(|r| user.as_ref().is_none_or(|u| *u == r.user))
        .map(|r| FailureInfo {
            locked_until: r.locked_until.filter(|&t| t > now).map(|t| {
                if t == i64::MAX {
                    "reset".to_string()
                } else {
                    rfc3339(t)
                }
            }),
            user: r.user,
            failures: r.count,
        })
        .collect();
    to_value(rows)
}

fn reset_failures(engine: &Engine, peer: &Peer, user: &str) -> Outcome {
    require_admin(peer, "resetting failure counts")?;
    let event = Event::new("failures.reset", now())
        .with("actor", peer.user.as_str())
        .with("user", user);
    engine.store.reset_failures(user, &event)?;
    engine.lockout.reset(user);
    engine.syslog.emit(&event, Severity::Info);
    Ok(json!({ "user": user, "reset": true }))
}

fn audit(
    engine: &Engine,
    peer: &Peer,
    user: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
) -> Outcome {
    let user = match user {
        Some(u) if u != peer.user => {
            require_admin(peer, "reading other users' audit events")?;
            Some(u)
        }
        Some(u) => Some(u),
        None if peer.admin => None,
        None => Some(peer.user.clone()),
    };
    let since = match since {
        Some(d) => {
            now() - crate::settings::parse_duration(&d).map_err(|e| Failure::invalid(e.0))? as i64
        }
        None => 0,
    };
    let rows = engine
        .store
        .audit(user.as_deref(), since, limit.unwrap_or(100).min(100_000))?;
    let events: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let mut obj = serde_json::Map::new();
            obj.insert("time".into(), Value::String(rfc3339(r.time)));
            obj.insert("event".into(), Value::String(r.event));
            obj.extend(r.fields);
            Value::Object(obj)
        })
        .collect();
    Ok(Value::Array(events))
}

fn verify(engine: &Engine, user: Option<String>, token: &Secret) -> Outcome {
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
    let hasher = crate::token::Hasher::new(engine.config().argon2)
        .map_err(|e| Failure::invalid(e.to_string()))?;
    if !hasher.verify(&token, &record.hash) {
        return invalid("invalid_token");
    }
    let settings = engine.settings();
    let reason = if record.expires_at.is_some_and(|t| t <= now()) {
        Some("expired")
    } else if user.as_ref().is_some_and(|u| *u != record.owner) {
        Some("wrong_user")
    } else if settings.admin_only_create
        && !settings.regular_users_use_tokens
        && !crate::peer::is_admin_account(&record.owner, &engine.config().admin_group)
    {
        Some("owner_not_allowed")
    } else if engine.lockout.is_locked(&record.owner, now()) {
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

fn status(engine: &Engine) -> Outcome {
    let (tokens, users) = engine.store.counts()?;
    Ok(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "uptime_seconds": engine.started.elapsed().as_secs(),
        "state_dir": engine.config().state_dir,
        "runtime_dir": engine.config().runtime_dir,
        "tokens": tokens,
        "users": users,
        "cache_entries": engine.cache.len(),
        "locked_users": engine.lockout.snapshot().iter().filter(|r| r.locked_until.is_some_and(|t| t > now())).count(),
        "syslog_dropped": engine.syslog.dropped.load(std::sync::atomic::Ordering::Relaxed),
    }))
}

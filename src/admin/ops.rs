//! The admin operations of SPEC §6. Blocking: runs on a blocking thread. Reads are
//! authorized here by the peer's identity; every change is one call of the engine's
//! change operation, which applies its rules, commits it with its audit record, logs it
//! and updates the engine's in-memory state (cache, settings, lockout).

use crate::clock::rfc3339;

use super::proto::{AuditEvent, FailureInfo, FailuresReset, IpCheck, Request, SettingsMap, Status};
use super::reply::{actor, require_admin, to_value, valid_user_name, Outcome};
use super::Failure;
use super::{listing, tokens};
use crate::engine::{Engine, NetworkChange, TokenRequest};
use crate::peer::Peer;
use crate::settings::Settings;

/// Every setting by name, as `settings` shows them.
fn settings_map(settings: &Settings) -> Result<SettingsMap, Failure> {
    serde_json::from_value(settings.to_json())
        .map_err(|e| Failure(super::proto::ErrorKind::Internal, e.to_string()))
}

/// The allowed-networks list, as `allow-ip` shows it.
fn networks(settings: &Settings) -> Vec<String> {
    settings
        .allowed_networks
        .iter()
        .map(|n| n.to_string())
        .collect()
}

/// Checks an optional user-name argument.
fn valid_user_opt(name: &Option<String>) -> Result<(), Failure> {
    name.as_deref().map_or(Ok(()), valid_user_name)
}

/// Rejects malformed user-name arguments of reads before anything is looked up or logged
/// (the engine's change operations check their own).
fn check_user_args(req: &Request) -> Result<(), Failure> {
    match req {
        Request::List { user, .. }
        | Request::ListPage { user, .. }
        | Request::Failures { user }
        | Request::Audit { user, .. }
        | Request::Verify { user, .. } => valid_user_opt(user),
        _ => Ok(()),
    }
}

/// Runs one request for `peer`, for `admin.sock` and the web face alike: reads are
/// authorized here (SPEC §6's table), changes by the engine's operations.
pub fn dispatch(engine: &Engine, peer: &Peer, req: Request) -> Outcome {
    check_user_args(&req)?;
    match req {
        Request::Create {
            name,
            expires,
            user,
            scopes,
            paths,
            networks,
        } => {
            let req = TokenRequest {
                owner: user,
                name,
                expires,
                scopes,
                paths,
                networks,
            };
            tokens::create(engine, peer, &req)
        }
        Request::List { user, all, filter } => listing::list(engine, peer, user, all, &filter),
        Request::ListPage { user, all, filter } => {
            listing::list_page(engine, peer, user, all, &filter)
        }
        Request::Show { id } => tokens::show(engine, peer, &id),
        Request::Delete { ids } => tokens::delete(engine, peer, &ids),
        Request::DeleteAll { user } => tokens::delete_all(engine, peer, &user),
        Request::Rename { id, name } => tokens::rename(engine, peer, &id, &name),
        Request::Rotate { id, grace, expires } => {
            tokens::rotate(engine, peer, &id, grace.as_deref(), expires.as_deref())
        }
        Request::Prune { older_than } => tokens::prune(engine, peer, older_than.as_deref()),
        Request::Settings => to_value(settings_map(&engine.settings())?),
        Request::SettingsSet { key, value } => set_setting(engine, peer, &key, &value),
        Request::AllowIpList => {
            require_admin(peer, "the allowed-networks list")?;
            to_value(networks(&engine.settings()))
        }
        Request::AllowIpAdd { cidrs } => change_networks(engine, peer, NetworkChange::Add(cidrs)),
        Request::AllowIpRemove { cidrs } => {
            change_networks(engine, peer, NetworkChange::Remove(cidrs))
        }
        Request::AllowIpClear => change_networks(engine, peer, NetworkChange::Clear),
        Request::CheckIp { address } => check_ip(engine, &address),
        Request::Failures { user } => failures(engine, peer, user),
        Request::FailuresReset { user } => reset_failures(engine, peer, &user),
        Request::Audit {
            user,
            since,
            limit,
            before,
        } => audit(engine, peer, user, since, limit, before),
        Request::Verify { user, token } => tokens::verify(engine, user, &token),
        Request::Status => status(engine),
    }
}

fn set_setting(engine: &Engine, peer: &Peer, key: &str, value: &str) -> Outcome {
    to_value(settings_map(&engine.change_setting(
        actor(peer),
        key,
        value,
    )?)?)
}

fn change_networks(engine: &Engine, peer: &Peer, change: NetworkChange) -> Outcome {
    to_value(networks(&engine.change_networks(actor(peer), &change)?))
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
    let rows: Vec<FailureInfo> = engine
        .failures()
        .into_iter()
        .filter(|r| user.as_ref().is_none_or(|u| *u == r.user))
        .map(|r| FailureInfo {
            locked_until: r.locked_until.map(|t| {
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
    engine.reset_failures(actor(peer), user)?;
    to_value(FailuresReset {
        user: user.to_string(),
        reset: true,
    })
}

fn audit(
    engine: &Engine,
    peer: &Peer,
    user: Option<String>,
    since: Option<String>,
    limit: Option<u32>,
    before: Option<i64>,
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
            engine.clock().now()
                - crate::settings::parse_duration(&d).map_err(|e| Failure::invalid(e.0))? as i64
        }
        None => 0,
    };
    let rows = engine.audit_page(&crate::store::AuditQuery {
        user,
        since,
        before,
        limit: limit.unwrap_or(100).min(100_000),
    })?;
    let events: Vec<AuditEvent> = rows
        .into_iter()
        .map(|r| AuditEvent {
            time: rfc3339(r.time),
            event: r.event,
            seq: Some(r.seq),
            fields: r.fields.into_iter().collect(),
        })
        .collect();
    to_value(events)
}

fn status(engine: &Engine) -> Outcome {
    let (tokens, users) = engine.counts()?;
    let locked = engine
        .failures()
        .iter()
        .filter(|r| r.locked_until.is_some())
        .count();
    let counters = engine.counters();
    to_value(Status {
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        uptime_seconds: engine.started().elapsed().as_secs(),
        state_dir: engine.config().state_dir.display().to_string(),
        runtime_dir: engine.config().runtime_dir.display().to_string(),
        tokens,
        users,
        cache_entries: counters.cache_entries,
        locked_users: locked as u64,
        syslog_dropped: counters.syslog_dropped,
    })
}

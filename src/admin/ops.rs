//! The admin operations of SPEC §6, each authorized by the peer's identity. Blocking: runs
//! on a blocking thread. Every change commits with its audit record, then goes to syslog,
//! then updates the engine's in-memory state (cache, settings, lockout).

use crate::clock::rfc3339;

use super::proto::{AuditEvent, FailureInfo, FailuresReset, IpCheck, Request, SettingsMap, Status};
use super::reply::{require_admin, to_value, valid_user_name, Outcome};
use super::Failure;
use super::{listing, tokens};
use crate::engine::{now, Engine};
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

/// Rejects malformed user-name arguments before anything is looked up or logged.
fn check_user_args(req: &Request) -> Result<(), Failure> {
    match req {
        Request::Create { user, .. }
        | Request::List { user, .. }
        | Request::ListPage { user, .. }
        | Request::Failures { user }
        | Request::Audit { user, .. }
        | Request::Verify { user, .. } => valid_user_opt(user),
        Request::DeleteAll { user } | Request::FailuresReset { user } => valid_user_name(user),
        _ => Ok(()),
    }
}

/// Runs one request for `peer`: the one place requests of `admin.sock` and of the web
/// face are authorized (SPEC §6's table).
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
            let spec = tokens::Spec {
                owner: user,
                name,
                expires,
                scopes,
                paths,
                networks,
            };
            tokens::create(engine, peer, spec)
        }
        Request::List { user, all, filter } => listing::list(engine, peer, user, all, &filter),
        Request::ListPage { user, all, filter } => {
            listing::list_page(engine, peer, user, all, &filter)
        }
        Request::Show { id } => to_value(tokens::info(
            &tokens::owned_token(engine, peer, &id)?,
            now(),
        )),
        Request::Delete { ids } => tokens::delete(engine, peer, &ids),
        Request::DeleteAll { user } => tokens::delete_all(engine, peer, &user),
        Request::Rename { id, name } => super::rename::rename(engine, peer, &id, &name),
        Request::Rotate { id, grace, expires } => tokens::rotate(engine, peer, &id, grace, expires),
        Request::Prune { older_than } => tokens::prune(engine, peer, older_than),
        Request::Settings => to_value(settings_map(&engine.settings())?),
        Request::SettingsSet { key, value } => set_setting(engine, peer, &key, &value),
        Request::AllowIpList => {
            require_admin(peer, "the allowed-networks list")?;
            to_value(networks(&engine.settings()))
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
        Request::Verify { user, token } => tokens::verify(engine, user, &token),
        Request::Status => status(engine),
    }
}

/// Stores and applies one changed setting; returns the settings now in force.
fn apply_setting(
    engine: &Engine,
    peer: &Peer,
    key: &str,
    new: Settings,
) -> Result<Settings, Failure> {
    engine
        .change_setting(super::reply::actor(peer), key, new)
        .map_err(|e| Failure::invalid(e.0))
}

fn set_setting(engine: &Engine, peer: &Peer, key: &str, value: &str) -> Outcome {
    require_admin(peer, "changing settings")?;
    let mut new = (*engine.settings()).clone();
    new.set(key, value).map_err(|e| Failure::invalid(e.0))?;
    to_value(settings_map(&apply_setting(engine, peer, key, new)?)?)
}

fn change_networks(
    engine: &Engine,
    peer: &Peer,
    change: impl FnOnce(&mut Vec<ipnet::IpNet>) -> Result<(), Failure>,
) -> Outcome {
    require_admin(peer, "changing allowed-networks")?;
    let mut new = (*engine.settings()).clone();
    change(&mut new.allowed_networks)?;
    let applied = apply_setting(engine, peer, "allowed-networks", new)?;
    to_value(networks(&applied))
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
        .lockout()
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
    engine.reset_failures(super::reply::actor(peer), user)?;
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
        .store()
        .audit(user.as_deref(), since, limit.unwrap_or(100).min(100_000))?;
    let events: Vec<AuditEvent> = rows
        .into_iter()
        .map(|r| AuditEvent {
            time: rfc3339(r.time),
            event: r.event,
            fields: r.fields.into_iter().collect(),
        })
        .collect();
    to_value(events)
}

fn status(engine: &Engine) -> Outcome {
    let (tokens, users) = engine.store().counts()?;
    let now = now();
    let locked = engine
        .lockout()
        .snapshot()
        .iter()
        .filter(|r| r.locked_until.is_some_and(|t| t > now))
        .count();
    to_value(Status {
        version: env!("CARGO_PKG_VERSION").into(),
        pid: std::process::id(),
        uptime_seconds: engine.started().elapsed().as_secs(),
        state_dir: engine.config().state_dir.display().to_string(),
        runtime_dir: engine.config().runtime_dir.display().to_string(),
        tokens,
        users,
        cache_entries: engine.cache().len() as u64,
        locked_users: locked as u64,
        syslog_dropped: engine
            .syslog()
            .dropped
            .load(std::sync::atomic::Ordering::Relaxed),
    })
}

//! Logging in and out (SPEC §11): a password through `[password] backend` (a token opens
//! no session: it is sent as Bearer), subject to `allowed-networks`, lockout and a
//! per-address throttle; a new random id at every login, stored only as its hash; the
//! cookie's flags.

use axum::http::{header, HeaderMap, HeaderValue};
use std::collections::HashMap;
use std::sync::Mutex;

use super::auth::{self, judge};
use super::error::ApiError;
use super::Web;
use crate::config::PasswordBackend;
use crate::engine::{ClientAddr, Kind, OpError, Via};
use crate::http::PeerAddr;

/// Login attempts one address may make per [`WINDOW`] seconds.
pub const ATTEMPTS: u32 = 10;
const WINDOW: i64 = 60;
/// Addresses remembered at most. When that many made attempts within their windows, a
/// new address takes the place of the one whose window started first: the table's memory
/// stays bounded, and a flood of addresses (a local user claiming any `X-Real-IP` on
/// `web.sock`, or a remote /48) cannot throttle everyone else. Evicting gives a flooder
/// nothing: whoever holds that many addresses already has that many windows.
const MAX_TRACKED: usize = 10_000;

/// Counts login attempts per client address (an IPv6 client by its /64, which one host
/// usually holds whole).
#[derive(Default)]
pub struct Throttle {
    seen: Mutex<HashMap<String, (i64, u32)>>,
}

impl Throttle {
    /// Counts an attempt; `Err(seconds to wait)` once the address used up its window.
    pub fn attempt(&self, addr: ClientAddr, now: i64) -> Result<(), i64> {
        self.attempt_bounded(addr, now, MAX_TRACKED)
    }

    fn attempt_bounded(&self, addr: ClientAddr, now: i64, max: usize) -> Result<(), i64> {
        let key = throttle_key(addr);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() >= max && !seen.contains_key(&key) {
            seen.retain(|_, (start, _)| now - *start < WINDOW);
            if seen.len() >= max {
                let oldest = seen.iter().min_by_key(|(_, (start, _))| *start);
                if let Some(k) = oldest.map(|(k, _)| k.clone()) {
                    seen.remove(&k);
                }
            }
        }
        let entry = seen.entry(key).or_insert((now, 0));
        if now - entry.0 >= WINDOW {
            *entry = (now, 0);
        }
        if entry.1 >= ATTEMPTS {
            return Err(WINDOW - (now - entry.0));
        }
        entry.1 += 1;
        Ok(())
    }
}

fn throttle_key(addr: ClientAddr) -> String {
    match addr {
        ClientAddr::Ip(ip) => match ip.to_canonical() {
            std::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            v4 => v4.to_string(),
        },
        _ => "unknown".to_string(),
    }
}

/// The path prefix nginx publishes the web face under (`X-Forwarded-Prefix`, believed
/// like `X-Real-IP`), without its trailing slash; empty when served at the root.
pub fn prefix(web: &Web, peer: PeerAddr, headers: &HeaderMap) -> String {
    if !peer.believed(&web.engine.config().http.trusted_proxies) {
        return String::new();
    }
    let Some(p) = headers
        .get("x-forwarded-prefix")
        .and_then(|v| v.to_str().ok())
    else {
        return String::new();
    };
    let p = p.trim().trim_end_matches('/');
    let clean = p.starts_with('/')
        && p.len() <= 200
        && !p.contains("//")
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/-_.~".contains(c));
    if clean {
        p.to_string()
    } else {
        String::new()
    }
}

/// Whether the request reached nginx over TLS (`X-Forwarded-Proto: https`, believed).
fn over_tls(web: &Web, peer: PeerAddr, headers: &HeaderMap) -> bool {
    peer.believed(&web.engine.config().http.trusted_proxies)
        && headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value for `id` (empty and expired to log out).
pub fn cookie(web: &Web, peer: PeerAddr, headers: &HeaderMap, id: Option<&str>) -> HeaderValue {
    let path = format!("{}/", prefix(web, peer, headers));
    let secure = if over_tls(web, peer, headers) {
        "; Secure"
    } else {
        ""
    };
    let (value, age) = match id {
        Some(id) => (id, web.engine.session_limits().max),
        None => ("", 0),
    };
    let text = format!(
        "{}={value}; Path={path}; Max-Age={age}; HttpOnly; SameSite=Strict{secure}",
        auth::COOKIE
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// A new session.
pub struct LoggedIn {
    pub user: String,
    pub admin: bool,
    pub csrf: String,
    pub set_cookie: HeaderValue,
}

/// Checks a login and opens a session.
pub async fn login(
    web: &Web,
    peer: PeerAddr,
    headers: &HeaderMap,
    user: &str,
    password: &[u8],
) -> Result<LoggedIn, ApiError> {
    let engine = &web.engine;
    let addr = auth::address(engine, peer, headers);
    if let Err(wait) = web.throttle.attempt(addr, engine.clock().now()) {
        let mut e = ApiError::new(
            axum::http::StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!("too many login attempts from your address; try again in {wait} s"),
        );
        e.retry_after = Some(wait.max(1));
        return Err(e);
    }
    if user.is_empty() || user.len() > 64 || user.chars().any(char::is_control) {
        return Err(ApiError::malformed(
            "user must be 1-64 characters without control characters",
        ));
    }
    if password.starts_with(crate::token::PREFIX.as_bytes()) {
        // A session is keyed by its owner alone: one opened by a token would outlive the
        // token's deletion (SPEC §13 "Revocation is immediate").
        return Err(ApiError::denied(
            "a token opens no session; send it as Bearer (it needs the manage scope)",
        ));
    }
    if engine.config().password.backend == PasswordBackend::None {
        return Err(ApiError::denied(
            "password logins are off on this host ([password] backend = \"none\")",
        ));
    }
    let user = judge(
        engine,
        Via::WebLogin,
        Kind::UserSecret,
        user,
        password,
        addr,
    )
    .await?;
    let (e, owner) = (engine.clone(), user.clone());
    let id = tokio::task::spawn_blocking(move || e.open_session(&owner))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| match e {
            OpError::Store(e) => ApiError::store(&e),
            _ => ApiError::internal(),
        })?;
    let peer_info = auth::web_peer(engine, &user);
    Ok(LoggedIn {
        user,
        admin: peer_info.admin,
        csrf: auth::csrf_for(&id),
        set_cookie: cookie(web, peer, headers, Some(&id)),
    })
}

/// Ends the request's session (the caller has been authorized with its CSRF token).
pub async fn logout(web: &Web, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(id) = auth::session_cookie(headers) else {
        return Ok(());
    };
    let e = web.engine.clone();
    tokio::task::spawn_blocking(move || e.end_session(&id))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| ApiError::store(&e))
}

/// Adds a `Set-Cookie` header.
pub fn set_cookie(headers: &mut HeaderMap, value: HeaderValue) {
    headers.append(header::SET_COOKIE, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_refuses_after_attempts_until_window_ends() {
        let t = Throttle::default();
        let a = ClientAddr::Ip("192.0.2.1".parse().unwrap());
        for _ in 0..ATTEMPTS {
            assert!(t.attempt(a, 100).is_ok());
        }
        assert_eq!(t.attempt(a, 110), Err(50));
        let other = ClientAddr::Ip("192.0.2.2".parse().unwrap());
        assert!(t.attempt(other, 110).is_ok());
        assert!(t.attempt(a, 160).is_ok());
    }

    #[test]
    fn throttle_full_table_makes_room_for_a_new_address() {
        let t = Throttle::default();
        let ip = |n: u8| ClientAddr::Ip(std::net::IpAddr::from([198, 51, 100, n]));
        for n in 0..3 {
            assert!(t.attempt_bounded(ip(n), 100 + i64::from(n), 3).is_ok());
        }
        // Full: a new address is let in, in place of the oldest window; never more rows.
        assert!(t.attempt_bounded(ip(9), 110, 3).is_ok());
        assert_eq!(t.seen.lock().unwrap().len(), 3);
        assert!(!t.seen.lock().unwrap().contains_key("198.51.100.0"));
        // A throttled address stays throttled while nobody floods.
        for _ in 1..ATTEMPTS {
            assert!(t.attempt_bounded(ip(9), 111, 3).is_ok());
        }
        assert_eq!(t.attempt_bounded(ip(9), 112, 3), Err(58));
        assert_eq!(t.seen.lock().unwrap().len(), 3);
    }

    #[test]
    fn throttle_counts_an_ipv6_client_by_its_64() {
        let t = Throttle::default();
        for n in 0..ATTEMPTS {
            let a = format!("2001:db8:1:2::{:x}", n + 1);
            assert!(t.attempt(ClientAddr::Ip(a.parse().unwrap()), 100).is_ok());
        }
        let same = ClientAddr::Ip("2001:db8:1:2:ffff::1".parse().unwrap());
        assert!(t.attempt(same, 100).is_err());
        let other = ClientAddr::Ip("2001:db8:1:3::1".parse().unwrap());
        assert!(t.attempt(other, 100).is_ok());
    }
}

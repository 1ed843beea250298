//! Who is asking (SPEC §11): a session cookie (with its CSRF token on every change), a
//! token with the `manage` scope as Bearer or Basic, or Basic with the account password.
//! Tokens and passwords are judged by the engine, exactly as on every other front end.

use axum::http::{header, HeaderMap, HeaderValue, Method};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use super::Web;
use crate::engine::{AuthRequest, ClientAddr, Decision, Engine, Kind, Reason, SessionCheck, Via};
use crate::http::{client_addr, PeerAddr};
use crate::peer::Peer;

/// The session cookie's name.
pub const COOKIE: &str = "apitokend_session";

/// An authenticated caller.
pub struct Caller {
    pub peer: Peer,
    /// The session's CSRF token, when the caller came with a session cookie.
    pub csrf: Option<String>,
}

/// A caller acting as `user` through the web face.
pub fn web_peer(engine: &Engine, user: &str) -> Peer {
    let admin_group = engine.config().admin_group.clone();
    Peer {
        uid: u32::MAX,
        user: user.to_string(),
        admin: crate::peer::is_admin_account(user, &admin_group),
        web: true,
    }
}

/// The client's address, believed as on `http.sock` (SPEC §7).
pub fn address(engine: &Engine, peer: PeerAddr, headers: &HeaderMap) -> ClientAddr {
    let field = |name: &str| headers.get(name).map(HeaderValue::as_bytes);
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .next_back()
        .map(HeaderValue::as_bytes);
    client_addr(
        field("x-real-ip"),
        forwarded_for,
        peer,
        &engine.config().http.trusted_proxies,
    )
}

/// The CSRF token of a session: derived from its id, so the store holds nothing that
/// yields it.
pub fn csrf_for(id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"apitokend csrf\0");
    h.update(id.as_bytes());
    format!("{:x}", h.finalize())[..32].to_string()
}

/// Constant-time comparison of a presented CSRF token with the session's.
pub fn csrf_matches(presented: Option<&str>, expected: &str) -> bool {
    presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(expected.as_bytes())))
}

/// The session id in the request's cookies, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
        .filter(|v| !v.is_empty() && v.len() <= 128)
}

/// Maps a refused credential to its answer; the one `match` of the web face.
pub fn refusal(engine: &Engine, d: &Decision, basic: bool) -> ApiError {
    let realm = engine.config().realm.clone();
    match d {
        Decision::Unauthorized(_) => {
            ApiError::unauthorized("wrong credentials", basic.then_some(realm.as_str()))
        }
        Decision::Forbidden(Reason::IpDenied) => ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "ip_denied",
            "your address is not in allowed-networks",
        ),
        Decision::Forbidden(Reason::Scope) => ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "scope",
            "this token lacks the manage scope; create one with --scope manage",
        ),
        Decision::Locked => ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "locked",
            "this user is locked out after too many failed logins; ask an administrator",
        ),
        Decision::Forbidden(Reason::PasswordDisabled) => {
            ApiError::denied("password logins are off (password-auth off); use a token")
        }
        Decision::Forbidden(_) => ApiError::denied("this credential may not be used here"),
        Decision::Error if engine.database().is_some_and(|c| !c.is_up()) => ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "database_unavailable",
            "the fleet's database does not answer, so this credential cannot be checked \
                 now; try again once it answers (GET /health on http.sock shows its state)",
        ),
        Decision::Allow { .. } | Decision::Ignore | Decision::Error => ApiError::internal(),
    }
}

/// Judges a credential through the engine (lockout, allowed-networks, scope, password
/// rules) and returns the user it stands for.
pub async fn judge(
    engine: &Engine,
    via: Via,
    kind: Kind,
    user: &str,
    secret: &[u8],
    addr: ClientAddr,
) -> Result<String, ApiError> {
    let req = AuthRequest {
        kind,
        user,
        secret,
        addr,
        via,
        service: "web",
        method: "",
        uri: "",
    };
    match engine.decide(&req).await {
        Decision::Allow { user, .. } => Ok(user),
        other => Err(refusal(engine, &other, kind == Kind::UserSecret)),
    }
}

/// Authenticates a REST request; a session request that changes state must carry the
/// session's CSRF token in `X-CSRF-Token` (or `form_csrf`, from a form field).
pub async fn caller(
    web: &Arc<Web>,
    peer: PeerAddr,
    method: &Method,
    headers: &HeaderMap,
    form_csrf: Option<&str>,
) -> Result<Caller, ApiError> {
    let engine = &web.engine;
    let addr = address(engine, peer, headers);
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let realm = engine.config().realm.clone();
        let Some(cred) = crate::http::parse_authorization(value.as_bytes()) else {
            return Err(ApiError::unauthorized(
                "the Authorization header is not Basic or Bearer",
                Some(&realm),
            ));
        };
        let user = judge(engine, Via::Web, cred.kind, &cred.user, &cred.secret, addr).await?;
        return Ok(Caller {
            peer: web_peer(engine, &user),
            csrf: None,
        });
    }
    let Some(id) = session_cookie(headers) else {
        return Err(ApiError::unauthorized(
            "log in first (POST /api/v1/session) or send a token with the manage scope",
            Some(&engine.config().realm),
        ));
    };
    session_caller(web, &id, addr, method, headers, form_csrf).await
}

/// Authenticates a request of the page: by its session cookie only (a browser's
/// Authorization header, meant for another site behind the same nginx, is not used).
pub async fn session_only(
    web: &Arc<Web>,
    peer: PeerAddr,
    method: &Method,
    headers: &HeaderMap,
    form_csrf: Option<&str>,
) -> Result<Caller, ApiError> {
    let addr = address(&web.engine, peer, headers);
    let Some(id) = session_cookie(headers) else {
        return Err(ApiError::unauthorized("sign in first", None));
    };
    session_caller(web, &id, addr, method, headers, form_csrf).await
}

async fn session_caller(
    web: &Arc<Web>,
    id: &str,
    addr: ClientAddr,
    method: &Method,
    headers: &HeaderMap,
    form_csrf: Option<&str>,
) -> Result<Caller, ApiError> {
    let engine = web.engine.clone();
    let (e, owned) = (engine.clone(), id.to_string());
    let user = match tokio::task::spawn_blocking(move || e.session_user(&owned, addr))
        .await
        .map_err(|_| ApiError::internal())?
        .map_err(|e| ApiError::store(&e))?
    {
        SessionCheck::User(user) => user,
        SessionCheck::Ended => {
            return Err(ApiError::unauthorized(
                "the session has ended; log in again",
                None,
            ))
        }
        // The rules of every credential hold for the whole session, not just at login.
        SessionCheck::Refused(d) => return Err(refusal(&engine, &d, false)),
    };
    let csrf = csrf_for(id);
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let presented = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .or(form_csrf);
    if !safe && !csrf_matches(presented, &csrf) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "csrf",
            "missing or wrong CSRF token: send the session's csrf value in X-CSRF-Token",
        ));
    }
    Ok(Caller {
        peer: web_peer(&engine, &user),
        csrf: Some(csrf),
    })
}

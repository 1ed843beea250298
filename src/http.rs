//! The HTTP front end for nginx `auth_request` (SPEC §7): `/auth`, `/health`, `/metrics`,
//! HTTP/1.1 with keep-alive on `http.sock` and optional TCP listeners.

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{Request, Response, StatusCode};
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use zeroize::Zeroizing;

use crate::engine::{AuthRequest, ClientAddr, Decision, Engine, Kind, Reason, Via};

/// Where a connection came from, for deciding whether to believe forwarding headers.
#[derive(Debug, Clone, Copy)]
pub enum PeerAddr {
    /// The Unix socket: only local processes (nginx) reach it, so headers are believed.
    Unix,
    Tcp(IpAddr),
}

/// A parsed `Authorization` header.
pub struct Credential {
    pub kind: Kind,
    pub user: String,
    pub secret: Zeroizing<Vec<u8>>,
}

const BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Parses `Basic base64(user:secret)` or `Bearer token`; `None` when malformed.
pub fn parse_authorization(value: &[u8]) -> Option<Credential> {
    let text = std::str::from_utf8(value).ok()?.trim();
    let (scheme, rest) = text.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credential {
            kind: Kind::Bearer,
            user: String::new(),
            secret: Zeroizing::new(rest.as_bytes().to_vec()),
        });
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Zeroizing::new(BASE64.decode(rest).ok()?);
    let colon = decoded.iter().position(|&b| b == b':')?;
    let user = std::str::from_utf8(&decoded[..colon]).ok()?;
    let secret = &decoded[colon + 1..];
    // Secrets are text; a non-UTF-8 one cannot be a token or a PAM password.
    std::str::from_utf8(secret).ok()?;
    if user.is_empty() || user.chars().any(char::is_control) {
        return None;
    }
    Some(Credential {
        kind: Kind::UserSecret,
        user: user.to_string(),
        secret: Zeroizing::new(secret.to_vec()),
    })
}

/// The client address: `X-Real-IP`, else the last `X-Forwarded-For` entry, believed on the
/// Unix socket and from trusted proxies; otherwise the TCP peer itself.
pub fn client_addr(headers: &HeaderMap, peer: PeerAddr, trusted: &[IpNet]) -> ClientAddr {
    let believed = match peer {
        PeerAddr::Unix => true,
        PeerAddr::Tcp(ip) => trusted.iter().any(|n| n.contains(&ip.to_canonical())),
    };
    if believed {
        let forwarded = headers
            .get("x-real-ip")
            .or_else(|| headers.get_all("x-forwarded-for").iter().next_back())
            .map(|v| {
                v.to_str()
                    .ok()
                    .and_then(|s| s.rsplit(',').next())
                    .map(str::trim)
                    .and_then(|s| s.parse::<IpAddr>().ok())
            });
        match forwarded {
            Some(Some(ip)) => return ClientAddr::Ip(ip),
            Some(None) => return ClientAddr::Unknown,
            None => {}
        }
    }
    match peer {
        PeerAddr::Tcp(ip) => ClientAddr::Ip(ip),
        PeerAddr::Unix => ClientAddr::Unknown,
    }
}

fn respond(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r
}

/// Handles one HTTP request.
pub async fn handle(
    engine: Arc<Engine>,
    peer: PeerAddr,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    Ok(match req.uri().path() {
        "/auth" => auth(&engine, peer, req.headers()).await,
        "/health" => health(&engine),
        "/metrics" => {
            let mut r = Response::new(Full::new(Bytes::from(metrics_text(&engine))));
            r.headers_mut().insert(
                "content-type",
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            r
        }
        _ => respond(
            StatusCode::NOT_FOUND,
            "not found: use /auth, /health or /metrics\n",
        ),
    })
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

async fn auth(engine: &Engine, peer: PeerAddr, headers: &HeaderMap) -> Response<Full<Bytes>> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return unauthorized(engine);
    };
    let malformed = Credential {
        kind: Kind::Bearer,
        user: String::new(),
        secret: Zeroizing::new(Vec::new()),
    };
    let cred = parse_authorization(value.as_bytes()).unwrap_or(malformed);
    let (method, uri) = (
        header_text(headers, "x-original-method"),
        header_text(headers, "x-original-uri"),
    );
    let config = engine.config();
    let req = AuthRequest {
        kind: cred.kind,
        user: &cred.user,
        secret: &cred.secret,
        addr: client_addr(headers, peer, &config.http.trusted_proxies),
        via: Via::Http,
        service: "http",
        method,
        uri,
    };
    match engine.decide(&req).await {
        Decision::Allow { user, token_id } => {
            let Ok(user) = HeaderValue::from_str(&user) else {
                return respond(StatusCode::FORBIDDEN, "");
            };
            let mut r = respond(StatusCode::OK, "");
            let h = r.headers_mut();
            h.insert("x-auth-user", user);
            match token_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                Some(id) => {
                    h.insert("x-auth-method", HeaderValue::from_static("token"));
                    h.insert("x-auth-token-id", id);
                }
                None => {
                    h.insert("x-auth-method", HeaderValue::from_static("password"));
                }
            }
            r
        }
        Decision::Unauthorized(r) => with_reason(unauthorized(engine), r, &config),
        Decision::Ignore => unauthorized(engine),
        Decision::Forbidden(r) => with_reason(respond(StatusCode::FORBIDDEN, ""), r, &config),
        Decision::Locked => {
            with_reason(respond(StatusCode::FORBIDDEN, ""), Reason::Locked, &config)
        }
        Decision::Error => respond(StatusCode::INTERNAL_SERVER_ERROR, ""),
    }
}

/// Adds `X-Auth-Reason: <reason>` (the `reason` of `auth.failure`) to a refusal when
/// `[http] reason_header` is on; off by default, since it tells a guesser more than
/// 401 does (for example that a token exists but expired).
fn with_reason(
    mut r: Response<Full<Bytes>>,
    reason: Reason,
    config: &crate::config::Config,
) -> Response<Full<Bytes>> {
    if config.http.reason_header {
        r.headers_mut()
            .insert("x-auth-reason", HeaderValue::from_static(reason.as_str()));
    }
    r
}

fn unauthorized(engine: &Engine) -> Response<Full<Bytes>> {
    let mut r = respond(StatusCode::UNAUTHORIZED, "");
    let challenge = format!("Basic realm=\"{}\"", engine.config().realm);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        r.headers_mut().insert(WWW_AUTHENTICATE, v);
    }
    r
}

fn metrics_text(engine: &Engine) -> String {
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    engine.metrics().render(
        &[
            (
                "apitokend_cache_hits_total",
                "Token cache hits.",
                get(&engine.cache().hits),
            ),
            (
                "apitokend_cache_misses_total",
                "Token cache misses.",
                get(&engine.cache().misses),
            ),
            (
                "apitokend_syslog_sent_total",
                "Syslog lines delivered.",
                get(&engine.syslog().sent),
            ),
            (
                "apitokend_syslog_dropped_total",
                "Syslog lines dropped because the log socket was slow or gone.",
                get(&engine.syslog().dropped),
            ),
        ],
        &gauges(engine),
    )
}

/// The gauges, with the store's state when it is a fleet's database.
fn gauges(engine: &Engine) -> Vec<crate::metrics::Sample<'static>> {
    let mut out = vec![(
        "apitokend_cache_entries",
        "Tokens in the cache now.",
        engine.cache().len() as u64,
    )];
    if let Some(c) = engine.store().contact() {
        let since = c.seconds_since(crate::engine::now()).unwrap_or(i64::MAX);
        out.push((
            "apitokend_store_up",
            "1 when the last call reached the database, else 0.",
            u64::from(c.is_up()),
        ));
        out.push((
            "apitokend_store_seconds_since_contact",
            "Seconds since the database last answered.",
            u64::try_from(since).unwrap_or(0),
        ));
    }
    out
}

/// `ok` (200); with a fleet's database, its state and the seconds since it last answered,
/// 503 while it is unreachable.
fn health(engine: &Engine) -> Response<Full<Bytes>> {
    let Some(c) = engine.store().contact() else {
        return respond(StatusCode::OK, "ok\n");
    };
    let since = c
        .seconds_since(crate::engine::now())
        .map_or("never".to_string(), |s| format!("{s} s ago"));
    let (status, text) = if c.is_up() {
        (
            StatusCode::OK,
            format!("ok\nstore: postgres up, last contact {since}\n"),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store: postgres unreachable, last contact {since}\n"),
        )
    };
    let mut r = Response::new(Full::new(Bytes::from(text)));
    *r.status_mut() = status;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(raw: &[u8]) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
        .into_bytes()
    }

    #[test]
    fn parse_basic_splits_user_and_secret() {
        let c = parse_authorization(&basic(b"alice:pa:ss")).unwrap();
        assert_eq!(c.kind, Kind::UserSecret);
        assert_eq!(c.user, "alice");
        assert_eq!(&c.secret[..], b"pa:ss");
    }

    #[test]
    fn parse_bearer_and_scheme_case() {
        let c = parse_authorization(b"bearer atk_x").unwrap();
        assert_eq!(c.kind, Kind::Bearer);
        assert_eq!(&c.secret[..], b"atk_x");
    }

    #[test]
    fn parse_malformed_is_none() {
        for bad in [
            &b"Basic !!!notbase64"[..],
            b"Basic",
            b"Digest abc",
            b"\xff\xfe",
            &basic(b"nocolon"),
            &basic(b"al\xffice:x"),
            &basic(b"alice:\xff"),
            &basic(b":secret"),
        ] {
            assert!(
                parse_authorization(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn client_addr_believes_headers_on_unix_only_from_trusted_tcp() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("198.51.100.1, 203.0.113.9"),
        );
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let ip = |s: &str| ClientAddr::Ip(s.parse().unwrap());
        assert_eq!(client_addr(&h, PeerAddr::Unix, &trusted), ip("203.0.113.9"));
        assert_eq!(
            client_addr(&h, PeerAddr::Tcp("127.0.0.1".parse().unwrap()), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(&h, PeerAddr::Tcp("192.0.2.7".parse().unwrap()), &trusted),
            ip("192.0.2.7")
        );
        h.insert("x-real-ip", HeaderValue::from_static("not-an-ip"));
        assert_eq!(
            client_addr(&h, PeerAddr::Unix, &trusted),
            ClientAddr::Unknown
        );
        assert_eq!(
            client_addr(&HeaderMap::new(), PeerAddr::Unix, &trusted),
            ClientAddr::Unknown
        );
    }
}

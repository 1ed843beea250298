//! The HTTP front end for nginx `auth_request` (SPEC §7): `/auth`, `/health`, `/metrics`
//! on `http.sock` and optional TCP listeners, served by [`crate::http1`].

use base64::Engine as _;
use ipnet::IpNet;
use std::net::IpAddr;
use std::sync::Arc;
use zeroize::Zeroizing;

use crate::engine::{AuthRequest, ClientAddr, Decision, Engine, Kind, Reason, Via};
use crate::http1::{field_value_ok, Handler, Reply, Request};

/// Where a connection came from, for deciding whether to believe forwarding headers.
#[derive(Debug, Clone, Copy)]
pub enum PeerAddr {
    /// The Unix socket: only local processes (nginx) reach it, so headers are believed.
    Unix,
    Tcp(IpAddr),
}

impl PeerAddr {
    /// Whether this connection's forwarding headers are believed: on the Unix socket, and
    /// from a TCP peer in `trusted` (`[http] trusted_proxies`).
    pub fn believed(self, trusted: &[IpNet]) -> bool {
        match self {
            PeerAddr::Unix => true,
            PeerAddr::Tcp(ip) => trusted.iter().any(|n| n.contains(&ip.to_canonical())),
        }
    }
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

/// The client address: `real_ip` (`X-Real-IP`), else `forwarded_for` (the last
/// `X-Forwarded-For` field, whose last entry counts), believed on the Unix socket and
/// from trusted proxies; otherwise the TCP peer itself.
pub fn client_addr(
    real_ip: Option<&[u8]>,
    forwarded_for: Option<&[u8]>,
    peer: PeerAddr,
    trusted: &[IpNet],
) -> ClientAddr {
    if peer.believed(trusted) {
        if let Some(value) = real_ip.or(forwarded_for) {
            return std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.rsplit(',').next())
                .map(str::trim)
                .and_then(|s| s.parse::<IpAddr>().ok())
                .map_or(ClientAddr::Unknown, ClientAddr::Ip);
        }
    }
    match peer {
        PeerAddr::Tcp(ip) => ClientAddr::Ip(ip),
        PeerAddr::Unix => ClientAddr::Unknown,
    }
}

/// The requests of one connection: the engine and where the connection came from.
pub struct Front {
    engine: Arc<Engine>,
    peer: PeerAddr,
}

impl Front {
    pub fn new(engine: Arc<Engine>, peer: PeerAddr) -> Front {
        Front { engine, peer }
    }
}

impl Handler for Front {
    async fn handle(&self, req: &Request<'_, '_>) -> Reply {
        let engine = &self.engine;
        match req.path() {
            "/auth" => auth(engine, self.peer, req).await,
            "/health" => health(engine),
            "/metrics" => Reply::new(200, metrics_text(engine))
                .with("content-type", "text/plain; version=0.0.4"),
            _ => Reply::new(404, "not found: use /auth, /health or /metrics\n"),
        }
    }
}

fn header_text<'a>(req: &Request<'a, '_>, name: &str) -> &'a str {
    req.header(name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .unwrap_or("")
}

async fn auth(engine: &Engine, peer: PeerAddr, req: &Request<'_, '_>) -> Reply {
    let Some(value) = req.header("authorization") else {
        return unauthorized(engine);
    };
    let malformed = Credential {
        kind: Kind::Bearer,
        user: String::new(),
        secret: Zeroizing::new(Vec::new()),
    };
    let cred = parse_authorization(value).unwrap_or(malformed);
    let config = engine.config();
    let addr = client_addr(
        req.header("x-real-ip"),
        req.last_header("x-forwarded-for"),
        peer,
        &config.http.trusted_proxies,
    );
    let asked = AuthRequest {
        kind: cred.kind,
        user: &cred.user,
        secret: &cred.secret,
        addr,
        via: Via::Http,
        service: "http",
        method: header_text(req, "x-original-method"),
        uri: header_text(req, "x-original-uri"),
    };
    match engine.decide(&asked).await {
        Decision::Allow { user, token_id } => allowed(user, token_id),
        Decision::Unauthorized(r) => with_reason(unauthorized(engine), r, &config),
        Decision::Ignore => unauthorized(engine),
        Decision::Forbidden(r) => with_reason(Reply::new(403, ""), r, &config),
        Decision::Locked => with_reason(Reply::new(403, ""), Reason::Locked, &config),
        Decision::Error => Reply::new(500, ""),
    }
}

/// 200 with the user and how they authenticated; 403 for a user name that cannot be
/// sent as a field value.
fn allowed(user: String, token_id: Option<String>) -> Reply {
    if !field_value_ok(&user) {
        return Reply::new(403, "");
    }
    let r = Reply::new(200, "").with("x-auth-user", user);
    match token_id.filter(|id| field_value_ok(id)) {
        Some(id) => r.with("x-auth-method", "token").with("x-auth-token-id", id),
        None => r.with("x-auth-method", "password"),
    }
}

/// Adds `X-Auth-Reason: <reason>` (the `reason` of `auth.failure`) to a refusal when
/// `[http] reason_header` is on; off by default, since it tells a guesser more than
/// 401 does (for example that a token exists but expired).
fn with_reason(r: Reply, reason: Reason, config: &crate::config::Config) -> Reply {
    if config.http.reason_header {
        r.with("x-auth-reason", reason.as_str())
    } else {
        r
    }
}

fn unauthorized(engine: &Engine) -> Reply {
    let challenge = format!("Basic realm=\"{}\"", engine.config().realm);
    Reply::new(401, "").with("www-authenticate", challenge)
}

fn metrics_text(engine: &Engine) -> String {
    let c = engine.counters();
    engine.metrics().render(
        &[
            (
                "apitokend_cache_hits_total",
                "Token cache hits.",
                c.cache_hits,
            ),
            (
                "apitokend_cache_misses_total",
                "Token cache misses.",
                c.cache_misses,
            ),
            (
                "apitokend_syslog_sent_total",
                "Syslog lines delivered.",
                c.syslog_sent,
            ),
            (
                "apitokend_syslog_dropped_total",
                "Syslog lines dropped because the log socket was slow or gone.",
                c.syslog_dropped,
            ),
            (
                "apitokend_store_queue_dropped_total",
                "Audit records and failure rows dropped while the database did not answer \
                 because the queue was full.",
                c.queue_dropped,
            ),
        ],
        &gauges(engine, &c),
    )
}

/// The gauges, with the store's state when it is a fleet's database.
fn gauges(engine: &Engine, c: &crate::engine::Counters) -> Vec<crate::metrics::Sample<'static>> {
    let mut out = vec![(
        "apitokend_cache_entries",
        "Tokens in the cache now.",
        c.cache_entries,
    )];
    if let Some(db) = engine.database() {
        let since = db.seconds_since(engine.clock().now()).unwrap_or(i64::MAX);
        out.push((
            "apitokend_store_up",
            "1 when the last call reached the database, else 0.",
            u64::from(db.is_up()),
        ));
        out.push((
            "apitokend_store_seconds_since_contact",
            "Seconds since the database last answered.",
            u64::try_from(since).unwrap_or(0),
        ));
        out.push((
            "apitokend_store_queued",
            "Audit records and failure rows waiting for the database to answer.",
            c.queued,
        ));
    }
    out
}

/// `ok` (200); with a fleet's database, its state and the seconds since it last answered,
/// 503 while it is unreachable.
fn health(engine: &Engine) -> Reply {
    let Some(c) = engine.database() else {
        return Reply::new(200, "ok\n");
    };
    let since = c
        .seconds_since(engine.clock().now())
        .map_or("never".to_string(), |s| format!("{s} s ago"));
    if c.is_up() {
        Reply::new(
            200,
            format!("ok\nstore: postgres up, last contact {since}\n"),
        )
    } else {
        Reply::new(
            503,
            format!("store: postgres unreachable, last contact {since}\n"),
        )
    }
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
        let xff: Option<&[u8]> = Some(b"198.51.100.1, 203.0.113.9");
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        let ip = |s: &str| ClientAddr::Ip(s.parse().unwrap());
        let tcp = |s: &str| PeerAddr::Tcp(s.parse().unwrap());
        assert_eq!(
            client_addr(None, xff, PeerAddr::Unix, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(None, xff, tcp("127.0.0.1"), &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_addr(None, xff, tcp("192.0.2.7"), &trusted),
            ip("192.0.2.7")
        );
        assert_eq!(
            client_addr(Some(b"not-an-ip"), xff, PeerAddr::Unix, &trusted),
            ClientAddr::Unknown
        );
        assert_eq!(
            client_addr(None, None, PeerAddr::Unix, &trusted),
            ClientAddr::Unknown
        );
    }

    #[test]
    fn allowed_refuses_a_user_name_that_is_no_field_value() {
        assert_eq!(allowed("al\nice".into(), None).status, 403);
        assert_eq!(allowed("älice".into(), None).status, 403);
        let ok = allowed("alice".into(), Some("abc".into()));
        assert_eq!(ok.status, 200);
        assert!(ok.headers.contains(&("x-auth-token-id", "abc".into())));
    }
}

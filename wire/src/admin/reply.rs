//! The replies of `admin.sock`: the envelope, the refusal, and [`Response`], whose
//! [`Response::decode`] chooses the one payload type (`payload`) of each request.

use std::io;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::payload::*;
use super::Request;

/// The daemon's answer: exactly one of `ok` and `error` is present.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply<T> {
    pub v: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReply>,
}

/// Why a request failed; `kind` decides the CLI's exit code.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

/// Error classes, each with its own exit code in the CLI.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Bad value or request (exit 1).
    Invalid,
    /// The caller may not do this (exit 3).
    PermissionDenied,
    /// No such token or user (exit 4).
    NotFound,
    /// The daemon failed (exit 1).
    Internal,
    /// A limit is reached, e.g. `max-tokens-per-user` (exit 1).
    Limit,
    /// A value beyond what a setting allows, e.g. a validity over `max-validity` (exit 1).
    OutOfBounds,
    /// The daemon's database (a fleet's PostgreSQL store) does not answer; nothing was
    /// changed (exit 1).
    DatabaseUnavailable,
}

/// The `ok` payload of every request: exactly one variant answers each request, and
/// [`Response::decode`] is the one table that says which. It serialises as the bare
/// payload (untagged), so the bytes on the wire are the typed reply itself.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// `create`, `rotate`.
    Created(Created),
    /// `list`.
    Tokens(Vec<TokenInfo>),
    /// `list-page`.
    Page(TokenPage),
    /// `show`.
    Token(TokenInfo),
    /// `delete`.
    Deleted(Deleted),
    /// `delete --all`.
    DeletedAll(DeletedAll),
    /// `prune`.
    Pruned(Pruned),
    /// `settings`, `settings set`.
    Settings(SettingsMap),
    /// Every `allow-ip` action.
    Networks(Vec<String>),
    /// `check-ip`.
    IpCheck(IpCheck),
    /// `failures`.
    Failures(Vec<FailureInfo>),
    /// `failures reset`.
    FailuresReset(FailuresReset),
    /// `audit`.
    Audit(Vec<AuditEvent>),
    /// `verify`.
    Verify(VerifyResult),
    /// `status`.
    Status(Status),
}

/// What a reply frame held: the typed payload, or the daemon's refusal.
pub type Answer = Result<Response, ErrorReply>;

/// Parses a whole reply body as `Reply<T>` straight into its type, so a secret in it (a
/// created token) never sits in an intermediate buffer.
fn typed<T: DeserializeOwned>(body: &[u8], wrap: fn(T) -> Response) -> io::Result<Answer> {
    let reply: Reply<T> = serde_json::from_slice(body).map_err(|e| invalid(e.to_string()))?;
    if reply.v != super::VERSION {
        return Err(invalid(format!(
            "protocol version {} (this apitoken speaks {}); install matching versions",
            reply.v,
            super::VERSION
        )));
    }
    match (reply.ok, reply.error) {
        (_, Some(error)) => Ok(Err(error)),
        (Some(ok), None) => Ok(Ok(wrap(ok))),
        (None, None) => Err(invalid("reply carries neither ok nor error".into())),
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Response {
    /// Decodes the reply body to `request` into the one type that answers it; a body of
    /// another shape or version is an `InvalidData` error.
    pub fn decode(request: &Request, body: &[u8]) -> io::Result<Answer> {
        use Request as Q;
        match request {
            Q::Create { .. } | Q::Rotate { .. } => typed(body, Response::Created),
            Q::List { .. } => typed(body, Response::Tokens),
            Q::ListPage { .. } => typed(body, Response::Page),
            Q::Show { .. } | Q::Rename { .. } => typed(body, Response::Token),
            Q::Delete { .. } => typed(body, Response::Deleted),
            Q::DeleteAll { .. } => typed(body, Response::DeletedAll),
            Q::Prune { .. } => typed(body, Response::Pruned),
            Q::Settings | Q::SettingsSet { .. } => typed(body, Response::Settings),
            Q::AllowIpList | Q::AllowIpAdd { .. } | Q::AllowIpRemove { .. } | Q::AllowIpClear => {
                typed(body, Response::Networks)
            }
            Q::CheckIp { .. } => typed(body, Response::IpCheck),
            Q::Failures { .. } => typed(body, Response::Failures),
            Q::FailuresReset { .. } => typed(body, Response::FailuresReset),
            Q::Audit { .. } => typed(body, Response::Audit),
            Q::Verify { .. } => typed(body, Response::Verify),
            Q::Status => typed(body, Response::Status),
        }
    }

    /// The reply frame body for this payload.
    pub fn encode(self) -> io::Result<Vec<u8>> {
        let reply = Reply {
            v: super::VERSION,
            ok: Some(self),
            error: None,
        };
        serde_json::to_vec(&reply).map_err(|e| invalid(e.to_string()))
    }
}

impl ErrorReply {
    /// The reply frame body for this refusal.
    pub fn encode(self) -> io::Result<Vec<u8>> {
        let reply: Reply<Response> = Reply {
            v: super::VERSION,
            ok: None,
            error: Some(self),
        };
        serde_json::to_vec(&reply).map_err(|e| invalid(e.to_string()))
    }
}

macro_rules! response_from {
    ($($ty:ty => $variant:ident),* $(,)?) => {
        $(impl From<$ty> for Response {
            fn from(v: $ty) -> Response {
                Response::$variant(v)
            }
        })*
    };
}

response_from! {
    Created => Created,
    Vec<TokenInfo> => Tokens,
    TokenPage => Page,
    TokenInfo => Token,
    Deleted => Deleted,
    DeletedAll => DeletedAll,
    Pruned => Pruned,
    SettingsMap => Settings,
    Vec<String> => Networks,
    IpCheck => IpCheck,
    Vec<FailureInfo> => Failures,
    FailuresReset => FailuresReset,
    Vec<AuditEvent> => Audit,
    VerifyResult => Verify,
    Status => Status,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::Secret;
    use zeroize::Zeroizing;

    fn info(id: &str) -> TokenInfo {
        TokenInfo {
            id: id.into(),
            user: "alice".into(),
            name: "ci".into(),
            created: "2026-01-01T00:00:00Z".into(),
            created_by: "root".into(),
            expires: None,
            last_used: None,
            last_ip: None,
            state: "active".into(),
            scopes: "read".into(),
            paths: Vec::new(),
            networks: Vec::new(),
            last_ips: Vec::new(),
            rotated_to: None,
            revoke_at: None,
        }
    }

    #[test]
    fn decode_picks_the_type_of_the_request() {
        let body = Response::from(vec![info("AbCd1234")]).encode().unwrap();
        let list = Request::List {
            user: None,
            all: true,
            filter: Default::default(),
        };
        let Ok(Ok(Response::Tokens(tokens))) = Response::decode(&list, &body) else {
            panic!("a listing decodes as tokens");
        };
        assert_eq!(tokens, vec![info("AbCd1234")]);
        // The same bytes are not the reply to `show`: a shape mismatch is an error.
        let show = Request::Show {
            id: "AbCd1234".into(),
        };
        assert!(Response::decode(&show, &body).is_err());
    }

    #[test]
    fn decode_error_reply_is_refusal() {
        let body = ErrorReply {
            kind: ErrorKind::NotFound,
            message: "no token".into(),
        }
        .encode()
        .unwrap();
        let answer = Response::decode(&Request::Status, &body).unwrap();
        assert!(matches!(answer, Err(e) if e.kind == ErrorKind::NotFound));
    }

    #[test]
    fn decode_other_version_is_error() {
        let body = br#"{"v":2,"ok":{"deleted":[]}}"#;
        let delete = Request::Delete { ids: vec![] };
        assert!(Response::decode(&delete, body).is_err());
    }

    #[test]
    fn created_payload_is_flat_and_redacted_in_debug() {
        let created = Created {
            info: info("AbCd1234"),
            token: Secret(Zeroizing::new("atk_secret".into())),
        };
        let body = Response::from(created).encode().unwrap();
        let text = String::from_utf8(body.clone()).unwrap();
        assert!(
            text.starts_with(r#"{"v":1,"ok":{"id":"AbCd1234""#),
            "{text}"
        );
        let create = Request::Rotate {
            id: "AbCd1234".into(),
            grace: None,
            expires: None,
        };
        let Ok(Ok(Response::Created(back))) = Response::decode(&create, &body) else {
            panic!("a rotation decodes as created");
        };
        assert_eq!(back.token.0.as_str(), "atk_secret");
        assert_eq!(format!("{:?}", back.token), "<redacted>");
        assert!(!format!("{back:?}").contains("atk_secret"));
    }

    #[test]
    fn settings_values_keep_their_json_types() {
        let text =
            r#"{"lockout-threshold":10,"password-auth":"on","allowed-networks":["10.0.0.0/8"]}"#;
        let map: SettingsMap = serde_json::from_str(text).unwrap();
        assert_eq!(map["lockout-threshold"], SettingValue::Number(10));
        assert_eq!(
            serde_json::to_string(&map).unwrap(),
            r#"{"allowed-networks":["10.0.0.0/8"],"lockout-threshold":10,"password-auth":"on"}"#
        );
    }

    #[test]
    fn audit_event_keeps_extra_keys() {
        let text = r#"{"time":"t","event":"token.create","actor":"root","name":"my token"}"#;
        let e: AuditEvent = serde_json::from_str(text).unwrap();
        assert_eq!(e.event, "token.create");
        assert_eq!(e.fields.len(), 2);
    }
}

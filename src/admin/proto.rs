//! The request/reply protocol of `admin.sock`, shared by the daemon and the `apitoken` CLI.
//!
//! A frame is a 4-byte big-endian length and a JSON body of at most [`MAX_FRAME`] bytes.
//! The client sends one [`Envelope`] and reads one [`Reply`]; the connection then closes.
//! Who is asking is never part of a request: the daemon reads it from SO_PEERCRED.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use zeroize::Zeroizing;

/// Protocol version; a daemon refuses envelopes of any other version.
pub const VERSION: u32 = 1;
/// Largest accepted request body in bytes.
pub const MAX_FRAME: usize = 64 * 1024;
/// Largest accepted reply body in bytes (a listing of every token can be large).
pub const MAX_REPLY: usize = 256 * 1024 * 1024;

/// A versioned request.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    pub v: u32,
    pub request: Request,
}

/// Every operation of the `apitoken` command.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    Create {
        name: Option<String>,
        expires: Option<String>,
        user: Option<String>,
        /// Comma-separated `read`, `write`, `login`; `None` for the default.
        #[serde(default)]
        scopes: Option<String>,
        /// HTTP path prefixes the token is limited to.
        #[serde(default)]
        paths: Vec<String>,
        /// Networks the token is limited to, within `allowed-networks`.
        #[serde(default)]
        networks: Vec<String>,
    },
    List {
        user: Option<String>,
        all: bool,
        #[serde(default)]
        filter: ListFilter,
    },
    Rotate {
        id: String,
        /// How long the old token keeps working (`0`, `15m`, `1h`, ...).
        grace: Option<String>,
        expires: Option<String>,
    },
    Prune {
        /// Remove tokens expired or rotated away longer ago than this (default: the
        /// `prune-after` setting).
        older_than: Option<String>,
    },
    Show {
        id: String,
    },
    Delete {
        ids: Vec<String>,
    },
    DeleteAll {
        user: String,
    },
    Settings,
    SettingsSet {
        key: String,
        value: String,
    },
    AllowIpList,
    AllowIpAdd {
        cidrs: Vec<String>,
    },
    AllowIpRemove {
        cidrs: Vec<String>,
    },
    AllowIpClear,
    CheckIp {
        address: String,
    },
    Failures {
        user: Option<String>,
    },
    FailuresReset {
        user: String,
    },
    Audit {
        user: Option<String>,
        since: Option<String>,
        limit: Option<u32>,
    },
    Verify {
        user: Option<String>,
        token: Secret,
    },
    Status,
}

/// A token in transit to `verify`; wiped on drop and never printed by `Debug`.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub Zeroizing<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The daemon's answer: exactly one of `ok` and `error` is present.
#[derive(Debug, Serialize, Deserialize)]
pub struct Reply {
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ok: Option<Box<serde_json::value::RawValue>>,
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
}

/// Token metadata as every listing shows it; never holds the secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenInfo {
    pub id: String,
    pub user: String,
    pub name: String,
    /// RFC 3339 UTC.
    pub created: String,
    pub created_by: String,
    pub expires: Option<String>,
    pub last_used: Option<String>,
    pub last_ip: Option<String>,
    /// `active`, `expired` or `rotated` (a rotated-away token past its grace period).
    pub state: String,
    /// Comma-separated scopes (`read,write,login`).
    #[serde(default)]
    pub scopes: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub networks: Vec<String>,
    /// The last few distinct client addresses, most recent first.
    #[serde(default)]
    pub last_ips: Vec<String>,
    /// The id of the token that replaced this one.
    #[serde(default)]
    pub rotated_to: Option<String>,
    /// When a rotated-away token stops (or stopped) working.
    #[serde(default)]
    pub revoke_at: Option<String>,
}

/// Fleet filters for `list`. Times are `YYYY-MM-DD`, RFC 3339, or a duration: `30d` means
/// 30 days ago for created/last-used, and 30 days from now for expiry.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListFilter {
    /// Substring of the name.
    pub name: Option<String>,
    pub created_before: Option<String>,
    pub created_after: Option<String>,
    pub last_used_before: Option<String>,
    pub last_used_after: Option<String>,
    pub expires_before: Option<String>,
    /// Tokens expiring within this duration from now (and not yet expired).
    pub expiring: Option<String>,
    /// Tokens that have this scope.
    pub scope: Option<String>,
    pub never_used: bool,
    /// `created` (default), `expires`, `last-used`, `user`, `name` or `id`.
    pub sort: Option<String>,
    pub reverse: bool,
    pub limit: Option<u32>,
}

/// The reply to `create`: the token's metadata plus the token itself, shown once.
#[derive(Serialize, Deserialize)]
pub struct Created {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: Secret,
}

/// One row of `failures`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailureInfo {
    pub user: String,
    pub failures: u32,
    pub locked_until: Option<String>,
}

/// The reply to `check-ip`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IpCheck {
    pub address: String,
    pub allowed: bool,
    /// A sentence naming the rule that decided: `matches 10.0.0.0/8`, `matches no entry
    /// of allowed-networks`, or that the empty list allows every address.
    pub rule: String,
}

/// The reply to `verify`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct VerifyResult {
    pub valid: bool,
    pub user: Option<String>,
    pub token_id: Option<String>,
    /// An audit reason (`invalid_token`, `expired`, ...) when not valid.
    pub reason: Option<String>,
}

/// The reply to `delete` and `delete --all`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Deleted {
    pub deleted: Vec<String>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Serialises `value` and writes it as one frame.
pub fn write_json(w: &mut impl Write, value: &impl Serialize) -> io::Result<()> {
    let body = Zeroizing::new(serde_json::to_vec(value).map_err(|e| invalid(e.to_string()))?);
    if body.len() > MAX_REPLY {
        return Err(invalid(format!(
            "message of {} bytes exceeds {MAX_REPLY}",
            body.len()
        )));
    }
    let mut frame = Zeroizing::new(Vec::with_capacity(body.len() + 4));
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    w.write_all(&frame)?;
    w.flush()
}

/// Checks a frame's length prefix against [`MAX_FRAME`].
pub fn frame_len(prefix: [u8; 4]) -> io::Result<usize> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(invalid(format!(
            "message of {len} bytes exceeds the {MAX_FRAME}-byte limit"
        )));
    }
    Ok(len)
}

/// Reads one reply frame with blocking I/O (the CLI side), up to [`MAX_REPLY`] bytes.
pub fn read_frame(r: &mut impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut prefix = [0u8; 4];
    r.read_exact(&mut prefix)?;
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_REPLY {
        return Err(invalid(format!(
            "reply of {len} bytes exceeds the {MAX_REPLY}-byte limit"
        )));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    r.read_exact(&mut body)?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_unknown_field_is_rejected() {
        let text = r#"{"v":1,"request":{"cmd":"status"},"uid":0}"#;
        assert!(serde_json::from_str::<Envelope>(text).is_err());
    }

    #[test]
    fn request_roundtrip_keeps_kebab_names() {
        let env = Envelope {
            v: 1,
            request: Request::DeleteAll { user: "bob".into() },
        };
        let text = serde_json::to_string(&env).unwrap();
        assert!(text.contains(r#""cmd":"delete-all""#));
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert!(matches!(back.request, Request::DeleteAll { user } if user == "bob"));
    }

    #[test]
    fn secret_debug_is_redacted() {
        let req = Request::Verify {
            user: None,
            token: Secret(Zeroizing::new("atk_x".into())),
        };
        assert!(!format!("{req:?}").contains("atk_x"));
    }

    #[test]
    fn frame_len_over_limit_is_error() {
        assert!(frame_len(((MAX_FRAME + 1) as u32).to_be_bytes()).is_err());
    }
}

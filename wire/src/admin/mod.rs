//! The `admin.sock` messages, for the `apitoken` command.
//!
//! A request frame ([`REQUEST_FRAMES`]) carries one JSON [`Envelope`] of at most
//! [`MAX_FRAME`] bytes; the reply frame ([`REPLY_FRAMES`]) one JSON [`Reply`] whose `ok`
//! payload is the [`Response`] of that request (the table is [`Response::decode`]). The
//! connection then closes. Who is asking is never part of a request: the daemon reads it
//! from SO_PEERCRED.

use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};
use zeroize::Zeroizing;

use crate::frame::Frames;

mod payload;
mod reply;
pub use payload::*;
pub use reply::*;

/// Protocol version; a daemon refuses envelopes of any other version.
pub const VERSION: u32 = 1;
/// Largest accepted request body in bytes.
pub const MAX_FRAME: usize = 64 * 1024;
/// Largest accepted reply body in bytes (a listing of every token can be large).
pub const MAX_REPLY: usize = 256 * 1024 * 1024;
/// Most tokens one [`Request::ListPage`] reply holds.
pub const MAX_PAGE: u32 = 5000;
/// Request frames (client to daemon).
pub const REQUEST_FRAMES: Frames = Frames::new(MAX_FRAME, "message");
/// Reply frames (daemon to client).
pub const REPLY_FRAMES: Frames = Frames::new(MAX_REPLY, "reply");

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
    /// The whole listing in one reply (a [`Response::Tokens`] array).
    List {
        user: Option<String>,
        all: bool,
        #[serde(default)]
        filter: ListFilter,
    },
    /// One page of a listing: at most `filter.limit` (and [`MAX_PAGE`]) tokens after
    /// `filter.after`, with the cursor of the next page ([`Response::Page`]).
    ListPage {
        user: Option<String>,
        all: bool,
        #[serde(default)]
        filter: ListFilter,
    },
    /// Gives a token a new name (the web face's `PATCH`).
    Rename {
        id: String,
        name: String,
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
        /// Only events older than this `seq` (the last of the previous page).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        before: Option<i64>,
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
    /// Continue after this cursor (the `next` of the previous page): opaque text, only
    /// valid with the same `sort` and `reverse`.
    pub after: Option<String>,
}

/// Serialises `value` and writes it as one request frame (the client side).
pub fn write_request(w: &mut impl Write, envelope: &Envelope) -> io::Result<()> {
    let body = Zeroizing::new(
        serde_json::to_vec(envelope)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
    );
    REQUEST_FRAMES.write(w, &body)
}

/// Reads one reply frame with blocking I/O (the client side), up to [`MAX_REPLY`] bytes.
pub fn read_reply(r: &mut impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
    REPLY_FRAMES.read(r)
}

/// Checks a request frame's length prefix against [`MAX_FRAME`].
pub fn frame_len(prefix: [u8; 4]) -> io::Result<usize> {
    REQUEST_FRAMES.len(prefix)
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

//! The `check.sock` messages, for the PAM module and `apitoken-external`.
//!
//! A frame ([`FRAMES`]) carries one body of at most [`MAX_FRAME`] bytes. A request body is
//! `[VERSION, via]` followed by fields, each a 2-byte big-endian length and its bytes:
//! user, secret, remote host, service, URI, and optionally access (`read`/`write`, from
//! the Apache helper; senders from before it existed stop after the URI). A reply body
//! is `[VERSION, verdict]` followed by three fields: user, token id, reason. One request
//! and one reply per connection.

use std::io::{self, Read, Write};

use zeroize::{Zeroize, Zeroizing};

use crate::frame::Frames;

/// Protocol version carried in the first byte of every body.
pub const VERSION: u8 = 1;
/// Largest accepted frame body in bytes; anything larger is refused unread.
pub const MAX_FRAME: usize = 8 * 1024;
/// Frames in both directions on `check.sock`.
pub const FRAMES: Frames = Frames::new(MAX_FRAME, "frame");

/// Which front end is asking; decides how a non-token secret is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The PAM module: only tokens are judged here; passwords are left to the PAM stack.
    Pam = 1,
    /// `apitoken-external`: tokens and, when allowed, passwords through the backend.
    External = 2,
}

/// What the daemon decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The credential is good for the user.
    Allow = 0,
    /// Wrong, expired, revoked or foreign credential.
    Unauthorized = 1,
    /// Address not allowed, password logins off, or owner not allowed to use tokens.
    Forbidden = 2,
    /// The user is locked out.
    Locked = 3,
    /// Not a token and passwords are allowed: let the rest of the PAM stack decide.
    Ignore = 4,
    /// The daemon could not decide (database or backend failure).
    Error = 5,
}

/// One question to the daemon. The secret is wiped when the request is dropped.
pub struct CheckRequest {
    pub via: Via,
    pub user: String,
    pub secret: Vec<u8>,
    /// `PAM_RHOST` or `$IP`; empty when there is none (a local console).
    pub rhost: String,
    pub service: String,
    pub uri: String,
    /// What the request does (`read` or `write`) when the front end is told; empty else.
    pub access: String,
}

impl Drop for CheckRequest {
    fn drop(&mut self) {
        self.secret.zeroize();
    }
}

impl std::fmt::Debug for CheckRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckRequest")
            .field("via", &self.via)
            .field("user", &self.user)
            .field("secret", &"<redacted>")
            .field("rhost", &self.rhost)
            .field("service", &self.service)
            .field("uri", &self.uri)
            .field("access", &self.access)
            .finish()
    }
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReply {
    pub verdict: Verdict,
    /// The authenticated user on `Allow`, else the user asked about.
    pub user: String,
    /// The token id on a token success, else empty.
    pub token_id: String,
    /// An audit reason (`invalid_token`, `locked`, ...) on denial, else empty.
    pub reason: String,
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.to_string())
}

fn put_field(out: &mut Vec<u8>, field: &[u8]) -> io::Result<()> {
    let len = u16::try_from(field.len()).map_err(|_| invalid("field longer than 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
    Ok(())
}

struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn next(&mut self) -> io::Result<&'a [u8]> {
        if self.0.len() < 2 {
            return Err(invalid("truncated field length"));
        }
        let len = usize::from(u16::from_be_bytes([self.0[0], self.0[1]]));
        let rest = &self.0[2..];
        if rest.len() < len {
            return Err(invalid("truncated field"));
        }
        let (field, tail) = rest.split_at(len);
        self.0 = tail;
        Ok(field)
    }

    fn text(&mut self, name: &str) -> io::Result<String> {
        let bytes = self.next()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| invalid(&format!("{name} is not UTF-8")))
    }

    fn finish(self) -> io::Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(invalid("trailing bytes after the last field"))
        }
    }
}

fn header<'a>(body: &'a [u8]) -> io::Result<(u8, Fields<'a>)> {
    match body {
        [VERSION, kind, rest @ ..] => Ok((*kind, Fields(rest))),
        [v, ..] => Err(invalid(&format!("unsupported protocol version {v}"))),
        [] => Err(invalid("empty frame")),
    }
}

impl CheckRequest {
    /// Encodes the request body (without the frame length).
    pub fn encode(&self) -> io::Result<Vec<u8>> {
        let mut out = vec![VERSION, self.via as u8];
        put_field(&mut out, self.user.as_bytes())?;
        put_field(&mut out, &self.secret)?;
        put_field(&mut out, self.rhost.as_bytes())?;
        put_field(&mut out, self.service.as_bytes())?;
        put_field(&mut out, self.uri.as_bytes())?;
        put_field(&mut out, self.access.as_bytes())?;
        Ok(out)
    }

    /// Decodes a request body; every malformation is an `InvalidData` error.
    pub fn decode(body: &[u8]) -> io::Result<Self> {
        let (kind, mut f) = header(body)?;
        let via = match kind {
            1 => Via::Pam,
            2 => Via::External,
            other => return Err(invalid(&format!("unknown front end {other}"))),
        };
        let user = f.text("user")?;
        let secret = f.next()?.to_vec();
        let req = CheckRequest {
            via,
            user,
            secret,
            rhost: f.text("rhost")?,
            service: f.text("service")?,
            uri: f.text("uri")?,
            access: if f.0.is_empty() {
                String::new()
            } else {
                f.text("access")?
            },
        };
        f.finish()?;
        Ok(req)
    }
}

impl CheckReply {
    /// Encodes the reply body (without the frame length).
    pub fn encode(&self) -> io::Result<Vec<u8>> {
        let mut out = vec![VERSION, self.verdict as u8];
        put_field(&mut out, self.user.as_bytes())?;
        put_field(&mut out, self.token_id.as_bytes())?;
        put_field(&mut out, self.reason.as_bytes())?;
        Ok(out)
    }

    /// Decodes a reply body.
    pub fn decode(body: &[u8]) -> io::Result<Self> {
        let (kind, mut f) = header(body)?;
        let verdict = match kind {
            0 => Verdict::Allow,
            1 => Verdict::Unauthorized,
            2 => Verdict::Forbidden,
            3 => Verdict::Locked,
            4 => Verdict::Ignore,
            5 => Verdict::Error,
            other => return Err(invalid(&format!("unknown verdict {other}"))),
        };
        let reply = CheckReply {
            verdict,
            user: f.text("user")?,
            token_id: f.text("token id")?,
            reason: f.text("reason")?,
        };
        f.finish()?;
        Ok(reply)
    }
}

/// Writes one frame with blocking I/O (see [`FRAMES`]).
pub fn write_frame(w: &mut impl Write, body: &[u8]) -> io::Result<()> {
    FRAMES.write(w, body)
}

/// Reads one frame with blocking I/O, refusing bodies over [`MAX_FRAME`] before reading them.
pub fn read_frame(r: &mut impl Read) -> io::Result<Zeroizing<Vec<u8>>> {
    FRAMES.read(r)
}

/// Validates a frame's length prefix.
pub fn frame_len(prefix: [u8; 4]) -> io::Result<usize> {
    FRAMES.len(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CheckRequest {
        CheckRequest {
            via: Via::Pam,
            user: "alice".into(),
            secret: b"s3cret".to_vec(),
            rhost: "192.0.2.1".into(),
            service: "sshd".into(),
            uri: String::new(),
            access: "read".into(),
        }
    }

    #[test]
    fn request_roundtrip_preserves_fields() {
        let body = sample().encode().unwrap();
        let back = CheckRequest::decode(&body).unwrap();
        assert_eq!(back.user, "alice");
        assert_eq!(back.secret, b"s3cret");
        assert_eq!(back.rhost, "192.0.2.1");
        assert_eq!(back.via, Via::Pam);
        assert_eq!(back.access, "read");
    }

    #[test]
    fn reply_roundtrip_preserves_fields() {
        let reply = CheckReply {
            verdict: Verdict::Locked,
            user: "bob".into(),
            token_id: String::new(),
            reason: "locked".into(),
        };
        assert_eq!(CheckReply::decode(&reply.encode().unwrap()).unwrap(), reply);
    }

    #[test]
    fn decode_truncated_body_is_error() {
        let body = sample().encode().unwrap();
        // Cut anywhere but right after the URI (a sender without the access field).
        let without_access = body.len() - 2 - "read".len();
        for cut in (0..body.len()).filter(|&c| c != without_access) {
            assert!(CheckRequest::decode(&body[..cut]).is_err(), "cut at {cut}");
        }
        let old = CheckRequest::decode(&body[..without_access]).unwrap();
        assert_eq!(old.access, "");
    }

    #[test]
    fn decode_wrong_version_is_error() {
        let mut body = sample().encode().unwrap();
        body[0] = 9;
        assert!(CheckRequest::decode(&body).is_err());
    }

    #[test]
    fn frame_len_over_limit_is_error() {
        assert!(frame_len(u32::MAX.to_be_bytes()).is_err());
        assert_eq!(frame_len(5u32.to_be_bytes()).unwrap(), 5);
    }

    #[test]
    fn debug_redacts_secret() {
        let shown = format!("{:?}", sample());
        assert!(!shown.contains("s3cret"));
    }
}

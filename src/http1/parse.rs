//! One request head out of the connection's buffer: httparse for the syntax, then the
//! framing rules of RFC 9112 §6 that keep pipelined requests apart.

use std::mem::MaybeUninit;

/// Most octets of one request head. nginx forwards up to 4 × 8 KiB of client headers
/// by default, and the subrequest adds its own; all of that must fit.
pub const MAX_HEAD: usize = 64 * 1024;
/// Most header fields of one request.
pub const MAX_HEADERS: usize = 256;
/// Largest request body that is skipped (none of this server's paths reads a body).
pub const MAX_BODY: u64 = 64 * 1024;

/// Room for the parsed header fields; uninitialized, so parsing pays only for the
/// fields a request has.
pub type HeaderSlots<'b> = [MaybeUninit<httparse::Header<'b>>; MAX_HEADERS];

/// Empty [`HeaderSlots`].
pub fn header_slots<'b>() -> HeaderSlots<'b> {
    [const { MaybeUninit::uninit() }; MAX_HEADERS]
}

/// A parsed request head, borrowing the connection's buffer.
pub struct Request<'b, 'h> {
    /// The method, as sent (any token is accepted).
    pub method: &'b str,
    /// The request target, as sent.
    pub target: &'b str,
    headers: &'h [httparse::Header<'b>],
}

impl<'b> Request<'b, '_> {
    /// The target's path: without the query, and without scheme and authority when the
    /// target is in absolute form.
    pub fn path(&self) -> &'b str {
        let t = self.target;
        let t = match t
            .strip_prefix("http://")
            .or_else(|| t.strip_prefix("https://"))
        {
            Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => t,
        };
        t.split_once('?').map_or(t, |(path, _)| path)
    }

    /// The first field called `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The last field called `name`.
    pub fn last_header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .rev()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }
}

/// Why a request is answered with an error and its connection closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not HTTP/1.x, or broken framing: 400.
    Malformed,
    /// More than [`MAX_HEAD`] octets or [`MAX_HEADERS`] fields: 431.
    HeadTooLarge,
    /// A body over [`MAX_BODY`]: 413.
    BodyTooLarge,
    /// `Transfer-Encoding`: no path here takes a body, so none is decoded: 501.
    TransferCoding,
}

impl Refusal {
    /// The status and the text of the answer.
    pub fn answer(self) -> (u16, &'static str) {
        match self {
            Refusal::Malformed => (400, "malformed HTTP/1.1 request\n"),
            Refusal::HeadTooLarge => (431, "request head too large\n"),
            Refusal::BodyTooLarge => (413, "request body too large\n"),
            Refusal::TransferCoding => (501, "transfer codings are not accepted here\n"),
        }
    }
}

/// A complete request head and how its message is framed.
pub struct Head<'b, 'h> {
    pub req: Request<'b, 'h>,
    /// Octets of the head, blank line included.
    pub len: usize,
    /// Octets of the body that follow the head (`Content-Length`).
    pub body: u64,
    /// Whether the client keeps the connection open after this request.
    pub keep_alive: bool,
    /// HTTP/1.0: keep-alive is then only kept when asked for, and said so.
    pub http10: bool,
}

/// What the start of the buffer holds.
pub enum Parsed<'b, 'h> {
    Complete(Head<'b, 'h>),
    /// The head is not complete yet.
    Partial,
    Refused(Refusal),
}

/// Parses the request head at the start of `buf`.
pub fn parse<'b, 'h>(buf: &'b [u8], slots: &'h mut HeaderSlots<'b>) -> Parsed<'b, 'h> {
    let mut req = httparse::Request::new(&mut []);
    let parsed =
        httparse::ParserConfig::default().parse_request_with_uninit_headers(&mut req, buf, slots);
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => return Parsed::Refused(Refusal::HeadTooLarge),
        Err(_) => return Parsed::Refused(Refusal::Malformed),
    };
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Parsed::Refused(Refusal::Malformed);
    };
    let req = Request {
        method,
        target,
        headers: req.headers,
    };
    match framing(&req, version == 0) {
        Ok((body, keep_alive)) => Parsed::Complete(Head {
            req,
            len,
            body,
            keep_alive,
            http10: version == 0,
        }),
        Err(refusal) => Parsed::Refused(refusal),
    }
}

/// The body length and keep-alive of a request (RFC 9112 §6.3, §9.3).
fn framing(req: &Request<'_, '_>, http10: bool) -> Result<(u64, bool), Refusal> {
    let mut body = None;
    let (mut close, mut keep) = (false, false);
    for h in req.headers {
        if h.name.eq_ignore_ascii_case("content-length") {
            let n = content_length(h.value).ok_or(Refusal::Malformed)?;
            if body.is_some_and(|b| b != n) {
                return Err(Refusal::Malformed);
            }
            body = Some(n);
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(Refusal::TransferCoding);
        } else if h.name.eq_ignore_ascii_case("connection") {
            for option in h.value.split(|&b| b == b',') {
                let option = option.trim_ascii();
                close |= option.eq_ignore_ascii_case(b"close");
                keep |= option.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let body = body.unwrap_or(0);
    if body > MAX_BODY {
        return Err(Refusal::BodyTooLarge);
    }
    Ok((body, !close && (keep || !http10)))
}

/// A `Content-Length` value: decimal digits only.
fn content_length(value: &[u8]) -> Option<u64> {
    let digits = value.trim_ascii();
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, &d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(bytes: &[u8]) -> (String, usize, u64, bool) {
        let mut slots = header_slots();
        match parse(bytes, &mut slots) {
            Parsed::Complete(h) => (h.req.path().to_string(), h.len, h.body, h.keep_alive),
            Parsed::Partial => panic!("partial"),
            Parsed::Refused(r) => panic!("refused: {r:?}"),
        }
    }

    fn refused(bytes: &[u8]) -> Option<Refusal> {
        match parse(bytes, &mut header_slots()) {
            Parsed::Refused(r) => Some(r),
            _ => None,
        }
    }

    #[test]
    fn parse_keep_alive_follows_version_and_connection() {
        let cases: [(&[u8], bool); 5] = [
            (b"GET /auth HTTP/1.1\r\n\r\n", true),
            (b"GET /auth HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            (b"GET /auth HTTP/1.0\r\n\r\n", false),
            (
                b"GET /auth HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
                true,
            ),
            (
                b"GET /auth HTTP/1.1\r\nConnection: te, CLOSE\r\n\r\n",
                false,
            ),
        ];
        for (bytes, keep) in cases {
            assert_eq!(
                complete(bytes).3,
                keep,
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }

    #[test]
    fn parse_body_length_and_path() {
        let head = b"POST http://x/auth?a=1 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
        assert_eq!(complete(head), ("/auth".into(), head.len() - 5, 5, true));
        assert_eq!(complete(b"GET /health?x HTTP/1.1\r\n\r\n").0, "/health");
    }

    #[test]
    fn parse_partial_and_refusals() {
        let mut slots = header_slots();
        assert!(matches!(
            parse(b"GET /auth HTTP/1.1\r\nHost: x\r\n", &mut slots),
            Parsed::Partial
        ));
        let cases: [(&[u8], Refusal); 6] = [
            (b"GET /au\0th HTTP/1.1\r\n\r\n", Refusal::Malformed),
            (b"PRI * HTTP/2.0\r\n\r\n", Refusal::Malformed),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Refusal::Malformed,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                Refusal::Malformed,
            ),
            (
                b"GET / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n",
                Refusal::BodyTooLarge,
            ),
            (
                b"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Refusal::TransferCoding,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                refused(bytes),
                Some(want),
                "{}",
                String::from_utf8_lossy(bytes)
            );
        }
        let many: Vec<u8> = [
            b"GET / HTTP/1.1\r\n".to_vec(),
            b"X: 1\r\n".repeat(MAX_HEADERS + 1),
            b"\r\n".to_vec(),
        ]
        .concat();
        assert_eq!(refused(&many), Some(Refusal::HeadTooLarge));
    }

    #[test]
    fn header_lookup_is_case_insensitive_first_and_last() {
        let bytes = b"GET / HTTP/1.1\r\nX-F: a\r\nx-f: b\r\n\r\n";
        let mut slots = header_slots();
        let Parsed::Complete(h) = parse(bytes, &mut slots) else {
            panic!("not complete");
        };
        assert_eq!(h.req.header("X-f"), Some(&b"a"[..]));
        assert_eq!(h.req.last_header("x-F"), Some(&b"b"[..]));
        assert_eq!(h.req.header("y"), None);
    }
}

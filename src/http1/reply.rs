//! An answer and its bytes on the wire: status line, `Content-Length`, `Date`, the
//! handler's fields and `Connection` when it matters, all appended to the connection's
//! output so that a batch of pipelined answers leaves in one write.

use std::borrow::Cow;
use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// One answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Fields after the ones every answer has; values must be [`field_value_ok`] (others
    /// are left out rather than sent).
    pub headers: Vec<(&'static str, Cow<'static, str>)>,
    pub body: Cow<'static, str>,
}

impl Reply {
    /// An answer with `status` and `body`, no fields yet.
    pub fn new(status: u16, body: impl Into<Cow<'static, str>>) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// Adds a field.
    pub fn with(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }
}

/// Whether `value` may be sent as a field value: visible ASCII, space and tab (what
/// `http::HeaderValue::from_str` accepts), so it can neither end the field nor smuggle one.
pub fn field_value_ok(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
}

/// How the connection goes on after an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// Kept open (HTTP/1.1 default: no field says so).
    KeepAlive,
    /// Kept open for an HTTP/1.0 client that asked: `Connection: keep-alive`.
    KeepAlive10,
    /// Closed after this answer: `Connection: close`.
    Close,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Appends `reply` to `out`; without its body when answering `HEAD`.
pub fn write(out: &mut Vec<u8>, reply: &Reply, persist: Persist, head: bool) {
    out.extend_from_slice(b"HTTP/1.1 ");
    decimal(out, usize::from(reply.status));
    out.push(b' ');
    out.extend_from_slice(reason(reply.status).as_bytes());
    out.extend_from_slice(b"\r\ncontent-length: ");
    decimal(out, reply.body.len());
    out.extend_from_slice(b"\r\ndate: ");
    with_date(|d| out.extend_from_slice(d));
    out.extend_from_slice(b"\r\n");
    for (name, value) in &reply.headers {
        if field_value_ok(value) {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    match persist {
        Persist::KeepAlive => {}
        Persist::KeepAlive10 => out.extend_from_slice(b"connection: keep-alive\r\n"),
        Persist::Close => out.extend_from_slice(b"connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
    if !head {
        out.extend_from_slice(reply.body.as_bytes());
    }
}

/// Appends `n` in decimal (without the formatting machinery: this runs per answer).
fn decimal(out: &mut Vec<u8>, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        // `n % 10` is a single digit.
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`).
type Date = [u8; 29];

thread_local! {
    /// The `Date` value of the current second: formatted once a second, not per answer.
    static DATE: Cell<(u64, Date)> = const { Cell::new((u64::MAX, [0; 29])) };
}

fn with_date(f: impl FnOnce(&[u8])) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (second, mut date) = DATE.get();
    if second != now {
        date = imf_fixdate(now);
        DATE.set((now, date));
    }
    f(&date);
}

/// Formats seconds since the epoch (RFC 9110 §5.6.7).
fn imf_fixdate(secs: u64) -> Date {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let rest = secs % 86_400;
    let text = format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        day,
        MONTHS[(month - 1) as usize],
        year,
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    );
    let mut out = [b' '; 29];
    let n = text.len().min(29);
    out[..n].copy_from_slice(&text.as_bytes()[..n]);
    out
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`, for non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imf_fixdate_matches_known_dates() {
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &imf_fixdate(1_709_164_800),
            b"Thu, 29 Feb 2024 00:00:00 GMT"
        );
    }

    #[test]
    fn write_frames_fields_and_skips_unsafe_values() {
        let reply = Reply::new(401, "no\n")
            .with("www-authenticate", "Basic realm=\"x\"")
            .with("x-bad", "a\r\nx-injected: 1");
        let mut out = Vec::new();
        write(&mut out, &reply, Persist::Close, false);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 401 Unauthorized\r\ncontent-length: 3\r\ndate: "));
        assert!(text.contains("\r\nwww-authenticate: Basic realm=\"x\"\r\n"));
        assert!(!text.contains("injected"));
        assert!(text.ends_with("\r\nconnection: close\r\n\r\nno\n"));
        let mut head = Vec::new();
        write(&mut head, &reply, Persist::KeepAlive, true);
        assert!(head.ends_with(b"Basic realm=\"x\"\r\n\r\n"));
        let mut big = Vec::new();
        write(
            &mut big,
            &Reply::new(200, "x".repeat(1234)),
            Persist::KeepAlive,
            false,
        );
        assert!(big.starts_with(b"HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n"));
    }
}

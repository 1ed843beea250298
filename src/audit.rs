//! Audit events (SPEC §10) and the syslog writer: the only module that writes syslog.
//!
//! A line is `event=NAME key=value ...`, values with spaces or quotes quoted and control
//! characters escaped, so free-text token names cannot forge fields or lines. Writing
//! never blocks: the datagram socket is non-blocking, and a line that cannot be sent at
//! once is dropped and counted.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use crate::config::SyslogConfig;

/// One event: a name, a time (unix seconds) and ordered key/value fields.
/// Fields never hold a secret; callers pass ids, names and addresses only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub name: &'static str,
    pub time: i64,
    pub fields: Vec<(&'static str, String)>,
}

impl Event {
    pub fn new(name: &'static str, time: i64) -> Event {
        Event {
            name,
            time,
            fields: Vec::new(),
        }
    }

    /// Appends a field.
    pub fn push(&mut self, key: &'static str, value: String) {
        self.fields.push((key, value));
    }

    /// Builder form of [`Event::push`].
    pub fn with(mut self, key: &'static str, value: impl Into<String>) -> Event {
        self.push(key, value.into());
        self
    }

    /// The value of a field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The fields as a JSON object (stored in the audit table).
    pub fn fields_json(&self) -> String {
        let map: serde_json::Map<String, serde_json::Value> = self
            .fields
            .iter()
            .map(|(k, v)| {
                // Counts are numbers in JSON; everything else stays text.
                let value = match (*k, v.parse::<u64>()) {
                    ("count" | "failures", Ok(n)) => serde_json::Value::from(n),
                    _ => serde_json::Value::String(v.clone()),
                };
                (k.to_string(), value)
            })
            .collect();
        serde_json::Value::Object(map).to_string()
    }

    /// The `event=... key=value` text of the syslog line.
    pub fn to_line(&self) -> String {
        let mut line = format!("event={}", self.name);
        for (k, v) in &self.fields {
            line.push(' ');
            line.push_str(k);
            line.push('=');
            line.push_str(&quote(v));
        }
        line
    }
}

/// Quotes a value when it is empty or holds spaces, quotes, backslashes or `=`;
/// control characters are always escaped.
pub fn quote(v: &str) -> String {
    let plain = !v.is_empty()
        && v.chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '\\' | '='));
    if plain {
        return v.to_string();
    }
    let mut out = String::with_capacity(v.len() + 2);
    out.push('"');
    for c in v.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Syslog severities used here.
#[derive(Debug, Clone, Copy)]
pub enum Severity {
    Warning = 4,
    Notice = 5,
    Info = 6,
}

/// Where lines go: a non-blocking unbound datagram socket, the log socket path, the facility.
struct Target {
    sock: UnixDatagram,
    path: PathBuf,
    facility: u8,
}

fn target(cfg: &SyslogConfig) -> std::io::Result<Option<Target>> {
    if !cfg.enabled {
        return Ok(None);
    }
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    Ok(Some(Target {
        sock,
        path: cfg.socket.clone(),
        facility: cfg.facility.code(),
    }))
}

/// The syslog writer.
pub struct Syslog {
    target: RwLock<Option<Target>>,
    pid: u32,
    /// Lines not delivered because the log socket was slow, full or gone.
    pub dropped: AtomicU64,
    /// Lines delivered.
    pub sent: AtomicU64,
}

impl Syslog {
    /// A writer for the configured socket; a disabled writer sends and counts nothing.
    pub fn new(cfg: &SyslogConfig) -> std::io::Result<Syslog> {
        Ok(Syslog {
            target: RwLock::new(target(cfg)?),
            pid: std::process::id(),
            dropped: AtomicU64::new(0),
            sent: AtomicU64::new(0),
        })
    }

    /// Points the writer at a new configuration (on reload); keeps the old one on error.
    pub fn retarget(&self, cfg: &SyslogConfig) {
        if let Ok(t) = target(cfg) {
            *self.target.write().unwrap_or_else(|p| p.into_inner()) = t;
        }
    }

    /// Sends one event; never blocks.
    pub fn emit(&self, event: &Event, severity: Severity) {
        let guard = self.target.read().unwrap_or_else(|p| p.into_inner());
        let Some(t) = guard.as_ref() else { return };
        let stamp = time::OffsetDateTime::from_unix_timestamp(event.time)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let format = time::macros::format_description!(
            "[month repr:short] [day padding:space] [hour]:[minute]:[second]"
        );
        let stamp = stamp.format(&format).unwrap_or_default();
        let pri = u32::from(t.facility) * 8 + severity as u32;
        let line = format!(
            "<{pri}>{stamp} apitokend[{}]: {}",
            self.pid,
            event.to_line()
        );
        match t.sock.send_to(line.as_bytes(), &t.path) {
            Ok(_) => self.sent.fetch_add(1, Ordering::Relaxed),
            Err(_) => self.dropped.fetch_add(1, Ordering::Relaxed),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_line_quotes_spaces_and_escapes_injection() {
        let e = Event::new("token.create", 0)
            .with("actor", "root")
            .with("name", "my ci\nevent=forged x=\"y\"");
        let line = e.to_line();
        assert_eq!(
            line,
            r#"event=token.create actor=root name="my ci\nevent=forged x=\"y\"""#
        );
        assert!(!line.contains('\n'));
    }

    #[test]
    fn quote_empty_is_quoted() {
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("abc"), "abc");
        assert_eq!(quote("a=b"), "\"a=b\"");
    }

    #[test]
    fn emit_gone_socket_is_counted_not_blocking() {
        let cfg = SyslogConfig {
            socket: "/nonexistent/log".into(),
            ..SyslogConfig::default()
        };
        let log = Syslog::new(&cfg).unwrap();
        log.emit(&Event::new("auth.failure", 0), Severity::Notice);
        assert_eq!(log.dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn emit_reaches_datagram_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let rx = UnixDatagram::bind(&path).unwrap();
        let cfg = SyslogConfig {
            socket: path,
            facility: crate::config::Facility::AUTHPRIV,
            ..SyslogConfig::default()
        };
        let log = Syslog::new(&cfg).unwrap();
        log.emit(
            &Event::new("failures.reset", 0)
                .with("actor", "root")
                .with("user", "bob"),
            Severity::Info,
        );
        let mut buf = [0u8; 512];
        let n = rx.recv(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(text.starts_with("<86>"), "{text}");
        assert!(text.contains(" apitokend["), "{text}");
        assert!(
            text.ends_with("]: event=failures.reset actor=root user=bob"),
            "{text}"
        );
    }
}

//! Configuration values parsed once into types: the syslog facility and the TCP listen
//! addresses. A value that does not parse is an error naming its key, never a fallback.

use serde::Deserialize;
use std::net::SocketAddr;

/// A syslog facility, by its number (parsed once from its name, no fallback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facility(u8);

impl Facility {
    /// `authpriv`, the default.
    pub const AUTHPRIV: Facility = Facility(10);
    const NAMES: [(&'static str, u8); 12] = [
        ("user", 1),
        ("daemon", 3),
        ("auth", 4),
        ("authpriv", 10),
        ("local0", 16),
        ("local1", 17),
        ("local2", 18),
        ("local3", 19),
        ("local4", 20),
        ("local5", 21),
        ("local6", 22),
        ("local7", 23),
    ];

    /// The facility named `name`, if it is one syslog knows.
    pub fn from_name(name: &str) -> Option<Facility> {
        Facility::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, code)| Facility(code))
    }

    /// The facility number of the syslog priority.
    pub fn code(self) -> u8 {
        self.0
    }
}

pub(super) fn facility<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Facility, D::Error> {
    let name = String::deserialize(d)?;
    Facility::from_name(&name).ok_or_else(|| {
        serde::de::Error::custom(format!(
            "syslog.facility: unknown facility {name:?}; use auth, authpriv, daemon, user or local0..local7"
        ))
    })
}

/// `[http] listen`: TCP addresses, parsed once here.
pub(super) fn http_listen<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<SocketAddr>, D::Error> {
    listen_addrs(d, "http.listen", "127.0.0.1:9180")
}

/// `[web] listen`: TCP addresses, parsed once here.
pub(super) fn web_listen<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<SocketAddr>, D::Error> {
    listen_addrs(d, "web.listen", "127.0.0.1:9181")
}

/// A list of `ADDRESS:PORT` strings as addresses; the first that is not one is an error
/// naming `key`, with `example` as a value that would do.
fn listen_addrs<'de, D: serde::Deserializer<'de>>(
    d: D,
    key: &str,
    example: &str,
) -> Result<Vec<SocketAddr>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|a| {
            a.parse().map_err(|_| {
                serde::de::Error::custom(format!(
                    "{key}: {a:?} is not ADDRESS:PORT, e.g. \"{example}\""
                ))
            })
        })
        .collect()
}

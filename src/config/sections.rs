//! The sections of the configuration file (`[http]`, `[password]`, `[syslog]`, `[argon2]`,
//! `[cache]`, `[web]`) and the top-level `socket_access`, each with its defaults; `[store]`
//! is in `store`.

use ipnet::IpNet;
use serde::Deserialize;
use std::path::PathBuf;

use super::typed::{facility, http_listen, web_listen, Facility};

/// `[web]`: the REST API and the self-service page on `web.sock` (SPEC §11).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// `false` binds nothing.
    pub enabled: bool,
    /// Optional TCP listeners, parsed once here.
    #[serde(deserialize_with = "web_listen")]
    pub listen: Vec<std::net::SocketAddr>,
    /// A session ends after this many minutes without a request.
    pub idle_minutes: u64,
    /// A session ends this many hours after its login, however busy.
    pub max_hours: u64,
}

impl Default for WebConfig {
    fn default() -> Self {
        WebConfig {
            enabled: true,
            listen: Vec::new(),
            idle_minutes: 30,
            max_hours: 12,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    pub socket_group: Option<String>,
    /// Optional TCP listeners, parsed once here.
    #[serde(deserialize_with = "http_listen")]
    pub listen: Vec<std::net::SocketAddr>,
    pub trusted_proxies: Vec<IpNet>,
    /// Send `X-Auth-Reason` with 401 and 403 answers of `/auth` (off by default).
    pub reason_header: bool,
}

/// Who may connect to the sockets the daemon binds (systemd's sockets keep their unit's
/// modes, but the daemon still refuses other users' connections under `Owner`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SocketAccess {
    /// SPEC §2: `check.sock` and `admin.sock` 0666, `http.sock` 0666 or 0660 with
    /// `[http] socket_group`. The default as root.
    Public,
    /// The daemon's user alone (and root), `http.sock` also `[http] socket_group`: 0600,
    /// or 0660. The default for a daemon not run as root, whose PAM backend checks its
    /// owner's password.
    Owner,
}

/// Which backend checks account passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordBackend {
    Pam,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordConfig {
    pub backend: PasswordBackend,
    pub pam_service: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyslogConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "facility")]
    pub facility: Facility,
    pub socket: PathBuf,
    pub log_success: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Argon2Config {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheConfig {
    pub ttl_seconds: u64,
    pub max_entries: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        let proxies = ["127.0.0.1/32", "::1/128"];
        HttpConfig {
            socket_group: None,
            listen: Vec::new(),
            trusted_proxies: proxies.iter().filter_map(|p| p.parse().ok()).collect(),
            reason_header: false,
        }
    }
}

impl Default for PasswordConfig {
    fn default() -> Self {
        PasswordConfig {
            backend: PasswordBackend::Pam,
            pam_service: "apitokend".into(),
        }
    }
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig {
            enabled: true,
            facility: Facility::AUTHPRIV,
            socket: PathBuf::from("/dev/log"),
            log_success: false,
        }
    }
}

impl Default for Argon2Config {
    fn default() -> Self {
        Argon2Config {
            memory_kib: 19456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            ttl_seconds: 60,
            max_entries: 100_000,
        }
    }
}

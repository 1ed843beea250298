//! The payload of each `admin.sock` reply: token metadata, the created token, listings'
//! pages, counts and reports, each the `ok` of exactly one request ([`super::Response`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Secret;

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

/// The reply to `create`: the token's metadata plus the token itself, shown once.
#[derive(Debug, Serialize, Deserialize)]
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

/// One page of a listing (the reply to [`super::Request::ListPage`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenPage {
    pub tokens: Vec<TokenInfo>,
    /// The cursor of the next page; `None` when this page is the last.
    pub next: Option<String>,
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

/// The reply to `delete --all`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeletedAll {
    pub user: String,
    pub count: usize,
    pub deleted: Vec<String>,
}

/// The reply to `prune`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pruned {
    pub count: usize,
    pub deleted: Vec<String>,
}

/// The reply to `failures reset`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FailuresReset {
    pub user: String,
    pub reset: bool,
}

/// One setting's value: text (`on`, `15m`, `1y`), a number, or a list (networks).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum SettingValue {
    Number(u64),
    Text(String),
    List(Vec<String>),
}

/// Every setting by name (the reply to `settings` and `settings set`).
pub type SettingsMap = BTreeMap<String, SettingValue>;

/// One audit event: its time (RFC 3339) and name, then the keys of SPEC §10.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditEvent {
    pub time: String,
    pub event: String,
    /// Position in the trail (larger is newer): the cursor of a request's `before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    #[serde(flatten)]
    pub fields: BTreeMap<String, serde_json::Value>,
}

/// The reply to `status`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    pub version: String,
    pub pid: u32,
    pub uptime_seconds: u64,
    pub state_dir: String,
    pub runtime_dir: String,
    pub tokens: u64,
    pub users: u64,
    pub cache_entries: u64,
    pub locked_users: u64,
    pub syslog_dropped: u64,
}

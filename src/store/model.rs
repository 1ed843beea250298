//! The records the store keeps, as every backend reads and writes them.

/// One token's stored row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub owner: String,
    pub name: String,
    /// The token's one-way verifier (a PHC string).
    pub hash: String,
    pub created_at: i64,
    pub created_by: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    /// Comma-separated scopes; `None` for tokens from before scopes (every scope).
    pub scopes: Option<String>,
    /// Comma-separated HTTP path prefixes; empty for any path.
    pub paths: String,
    /// Comma-separated networks narrowing `allowed-networks`; empty for none.
    pub networks: String,
    /// When a rotated-away token stops working.
    pub revoke_at: Option<i64>,
    /// The id of the token that replaced this one.
    pub rotated_to: Option<String>,
    /// The last few distinct client addresses, most recent first, comma-separated.
    pub last_ips: String,
}

/// Where a token stands at a moment: the one order of the time rules, for decisions and
/// listings alike. A rotated-away token past its grace is `Rotated` even once expired
/// too, so its use is still reported as the reuse of a replaced secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    Active,
    Rotated,
    Expired,
}

impl TokenState {
    pub fn at(expires_at: Option<i64>, revoke_at: Option<i64>, now: i64) -> TokenState {
        if revoke_at.is_some_and(|t| t <= now) {
            TokenState::Rotated
        } else if expires_at.is_some_and(|t| t <= now) {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }

    /// The `state` of listings.
    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Active => "active",
            TokenState::Rotated => "rotated",
            TokenState::Expired => "expired",
        }
    }
}

/// One stored audit event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRow {
    /// Position in the trail: larger is newer; the cursor of [`super::AuditQuery`].
    pub seq: i64,
    pub time: i64,
    pub event: String,
    pub fields: serde_json::Map<String, serde_json::Value>,
}

/// A user's failure count and lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureRow {
    pub user: String,
    pub count: u32,
    pub window_start: i64,
    /// `Some(i64::MAX)` means locked until reset.
    pub locked_until: Option<i64>,
}

/// A user's failure row as the hosts of a fleet share it: the count and lock, and the
/// password checks in flight on any host (places reserved before checking, SPEC §13).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharedFailure {
    pub row: FailureRow,
    pub in_flight: u32,
    /// Unix seconds after which `in_flight` no longer counts: a host that reserved a
    /// place may have died before it could report the check.
    pub in_flight_until: i64,
}

impl SharedFailure {
    /// The row of a user with nothing recorded yet.
    pub fn fresh(user: &str, now: i64) -> SharedFailure {
        SharedFailure {
            row: FailureRow {
                user: user.to_string(),
                count: 0,
                window_start: now,
                locked_until: None,
            },
            in_flight: 0,
            in_flight_until: 0,
        }
    }

    /// Whether the row remembers nothing (then the store deletes it).
    pub fn is_empty(&self, now: i64) -> bool {
        self.row.count == 0
            && self.row.locked_until.is_none()
            && (self.in_flight == 0 || self.in_flight_until <= now)
    }
}

/// A pending last-used update.
#[derive(Debug, Clone)]
pub struct LastUsed {
    pub id: String,
    pub at: i64,
    /// The most recent address.
    pub ip: Option<String>,
    /// Distinct addresses since the last write, oldest first.
    pub recent: Vec<String>,
}

/// How many distinct recent addresses a token remembers.
pub const RECENT_IPS: usize = 5;

/// Puts `ip` first in a comma-separated list of distinct addresses, keeping [`RECENT_IPS`].
pub fn push_recent(list: &str, ip: &str) -> String {
    let mut out = vec![ip];
    out.extend(list.split(',').filter(|s| !s.is_empty() && *s != ip));
    out.truncate(RECENT_IPS);
    out.join(",")
}

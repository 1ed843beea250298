//! The system-wide settings of SPEC §5: their values, defaults, parsing and formatting,
//! plus the validity and duration syntax they use.

use ipnet::IpNet;
use serde_json::{json, Value};
use std::net::IpAddr;
use time::{Date, Duration, OffsetDateTime, Time};

/// The longest validity a new token may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MaxValidity {
    SixMonths,
    OneYear,
    TwoYears,
    Never,
}

impl MaxValidity {
    fn months(self) -> Option<u32> {
        match self {
            MaxValidity::SixMonths => Some(6),
            MaxValidity::OneYear => Some(12),
            MaxValidity::TwoYears => Some(24),
            MaxValidity::Never => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            MaxValidity::SixMonths => "6m",
            MaxValidity::OneYear => "1y",
            MaxValidity::TwoYears => "2y",
            MaxValidity::Never => "never",
        }
    }
}

/// Every setting with its current value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub max_validity: MaxValidity,
    pub allowed_networks: Vec<IpNet>,
    pub password_auth: bool,
    pub admin_only_create: bool,
    pub regular_users_use_tokens: bool,
    pub lockout_threshold: u32,
    /// Seconds.
    pub lockout_window: u64,
    /// Seconds; 0 means until reset.
    pub lockout_duration: u64,
    /// Usable tokens one user may hold; 0 means no limit.
    pub max_tokens_per_user: u32,
    /// Seconds after expiry or rotation before `apitoken prune` removes a token.
    pub prune_after: u64,
    /// Tokens that regular users create for themselves get the `read` scope only.
    pub user_tokens_read_only: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_validity: MaxValidity::Never,
            allowed_networks: Vec::new(),
            password_auth: true,
            admin_only_create: false,
            regular_users_use_tokens: true,
            lockout_threshold: 10,
            lockout_window: 15 * 60,
            lockout_duration: 10 * 60,
            max_tokens_per_user: 0,
            prune_after: 30 * 86400,
            user_tokens_read_only: false,
        }
    }
}

/// The setting names, in display order.
pub const KEYS: [&str; 11] = [
    "max-validity",
    "allowed-networks",
    "password-auth",
    "admin-only-create",
    "regular-users-use-tokens",
    "lockout-threshold",
    "lockout-window",
    "lockout-duration",
    "max-tokens-per-user",
    "prune-after",
    "user-tokens-read-only",
];

/// A bad setting name or value; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingError(pub String);

fn on_off(v: bool) -> &'static str {
    if v {
        "on"
    } else {
        "off"
    }
}

fn parse_on_off(key: &str, value: &str) -> Result<bool, SettingError> {
    match value {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err(SettingError(format!(
            "{key} must be on or off, not {value:?}"
        ))),
    }
}

impl Settings {
    /// The text form of one setting, as stored and as shown.
    pub fn get(&self, key: &str) -> Result<String, SettingError> {
        Ok(match key {
            "max-validity" => self.max_validity.name().to_string(),
            "allowed-networks" => self
                .allowed_networks
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(","),
            "password-auth" => on_off(self.password_auth).into(),
            "admin-only-create" => on_off(self.admin_only_create).into(),
            "regular-users-use-tokens" => on_off(self.regular_users_use_tokens).into(),
            "lockout-threshold" => self.lockout_threshold.to_string(),
            "lockout-window" => format_duration(self.lockout_window),
            "lockout-duration" => format_duration(self.lockout_duration),
            "max-tokens-per-user" => self.max_tokens_per_user.to_string(),
            "prune-after" => format_duration(self.prune_after),
            "user-tokens-read-only" => on_off(self.user_tokens_read_only).into(),
            _ => return Err(unknown_key(key)),
        })
    }

    /// Sets one setting from its text form.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        match key {
            "max-validity" => {
                self.max_validity = match value {
                    "never" => MaxValidity::Never,
                    "6m" => MaxValidity::SixMonths,
                    "1y" => MaxValidity::OneYear,
                    "2y" => MaxValidity::TwoYears,
                    _ => {
                        return Err(SettingError(format!(
                            "max-validity must be never, 6m, 1y or 2y, not {value:?}"
                        )))
                    }
                }
            }
            "allowed-networks" => self.allowed_networks = parse_networks(value)?,
            "password-auth" => self.password_auth = parse_on_off(key, value)?,
            "admin-only-create" => self.admin_only_create = parse_on_off(key, value)?,
            "regular-users-use-tokens" => self.regular_users_use_tokens = parse_on_off(key, value)?,
            "lockout-threshold" => {
                self.lockout_threshold = value.parse().map_err(|_| {
                    SettingError(format!(
                        "lockout-threshold must be a whole number (0 disables), not {value:?}"
                    ))
                })?
            }
            "lockout-window" => {
                self.lockout_window = parse_duration(value)?;
                if self.lockout_window == 0 {
                    return Err(SettingError(
                        "lockout-window must be longer than 0, e.g. 15m".into(),
                    ));
                }
            }
            "lockout-duration" => self.lockout_duration = parse_duration(value)?,
            "max-tokens-per-user" => {
                self.max_tokens_per_user = value.parse().map_err(|_| {
                    SettingError(format!(
                    "max-tokens-per-user must be a whole number (0 for no limit), not {value:?}"
                ))
                })?
            }
            "prune-after" => self.prune_after = parse_duration(value)?,
            "user-tokens-read-only" => self.user_tokens_read_only = parse_on_off(key, value)?,
            _ => return Err(unknown_key(key)),
        }
        Ok(())
    }

    /// All settings as the JSON object `apitoken settings --json` prints.
    pub fn to_json(&self) -> Value {
        let nets: Vec<String> = self
            .allowed_networks
            .iter()
            .map(|n| n.to_string())
            .collect();
        json!({
            "max-validity": self.max_validity.name(),
            "allowed-networks": nets,
            "password-auth": on_off(self.password_auth),
            "admin-only-create": on_off(self.admin_only_create),
            "regular-users-use-tokens": on_off(self.regular_users_use_tokens),
            "lockout-threshold": self.lockout_threshold,
            "lockout-window": format_duration(self.lockout_window),
            "lockout-duration": format_duration(self.lockout_duration),
            "max-tokens-per-user": self.max_tokens_per_user,
            "prune-after": format_duration(self.prune_after),
            "user-tokens-read-only": on_off(self.user_tokens_read_only),
        })
    }

    /// Whether `ip` may authenticate, and the rule that decided.
    pub fn network_rule(&self, ip: IpAddr) -> (bool, String) {
        if self.allowed_networks.is_empty() {
            return (
                true,
                "allowed-networks is empty, so every address is allowed".into(),
            );
        }
        let ip = ip.to_canonical();
        match self.allowed_networks.iter().find(|n| n.contains(&ip)) {
            Some(net) => (true, format!("matches {net}")),
            None => (false, "matches no entry of allowed-networks".into()),
        }
    }

    /// The expiry for a new token asked with `validity` (`None` = the longest allowed).
    pub fn expiry_for(
        &self,
        validity: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, SettingError> {
        let limit = self.max_validity.months().map(|m| add_months(now, m));
        let wanted = match validity {
            None => return Ok(limit),
            Some(v) => parse_validity(v, now)?,
        };
        if wanted.is_some_and(|w| w <= now) {
            return Err(SettingError("the expiry date must be in the future".into()));
        }
        let too_long = match (wanted, limit) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(w), Some(l)) => w > l,
        };
        if too_long {
            let max = self.max_validity.name();
            return Err(SettingError(format!(
                "validity {} exceeds the maximum of {max} set by max-validity; choose {max} or shorter",
                validity.unwrap_or_default()
            )));
        }
        Ok(wanted)
    }
}

fn unknown_key(key: &str) -> SettingError {
    SettingError(format!(
        "unknown setting {key:?}; settings are: {}",
        KEYS.join(", ")
    ))
}

/// Parses a comma- or space-separated list of addresses and CIDR ranges.
pub fn parse_networks(value: &str) -> Result<Vec<IpNet>, SettingError> {
    value
        .split([',', ' '])
        .filter(|s| !s.is_empty())
        .map(parse_network)
        .collect()
}

/// Parses one address (a host network) or CIDR range, normalised to its network address.
pub fn parse_network(s: &str) -> Result<IpNet, SettingError> {
    let bad = || {
        SettingError(format!(
            "{s:?} is not an IP address or CIDR range (e.g. 192.0.2.0/24, 2001:db8::/32)"
        ))
    };
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(IpNet::from(ip.to_canonical()));
    }
    s.parse::<IpNet>().map(|n| n.trunc()).map_err(|_| bad())
}

/// Parses `0`, `30s`, `15m`, `2h`, `7d` into seconds.
pub fn parse_duration(s: &str) -> Result<u64, SettingError> {
    let bad = || {
        SettingError(format!(
            "{s:?} is not a duration; use e.g. 30s, 15m, 2h or 7d (0 for none)"
        ))
    };
    if s == "0" {
        return Ok(0);
    }
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return Err(bad()),
    };
    n.checked_mul(mult)
        .filter(|&v| v <= 100 * 365 * 86400)
        .ok_or_else(bad)
}

/// Formats seconds in the largest unit that divides them.
pub fn format_duration(secs: u64) -> String {
    match secs {
        0 => "0".into(),
        s if s % 86400 == 0 => format!("{}d", s / 86400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// Adds calendar months, clamping the day to the target month's length.
pub fn add_months(t: OffsetDateTime, months: u32) -> OffsetDateTime {
    let total = t.year() * 12 + i32::from(u8::from(t.month())) - 1 + months as i32;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let month = time::Month::try_from(month0 as u8 + 1).unwrap_or(time::Month::December);
    let day = t.day().min(month.length(year));
    match Date::from_calendar_date(year, month, day) {
        Ok(date) => t.replace_date(date),
        Err(_) => t + Duration::days(31 * i64::from(months)),
    }
}

/// Parses `never`, `6m`, `1y`, `2y`, `Nd` or `YYYY-MM-DD` into an expiry (`None` = never).
pub fn parse_validity(
    v: &str,
    now: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, SettingError> {
    let bad = || {
        SettingError(format!("{v:?} is not a validity; use never, 6m, 1y, 2y, a number of days like 30d, or a date YYYY-MM-DD"))
    };
    Ok(Some(match v {
        "never" => return Ok(None),
        "6m" => add_months(now, 6),
        "1y" => add_months(now, 12),
        "2y" => add_months(now, 24),
        d if d.ends_with('d') => {
            let days: i64 = d[..d.len() - 1].parse().map_err(|_| bad())?;
            if !(1..=36500).contains(&days) {
                return Err(bad());
            }
            now + Duration::days(days)
        }
        date => {
            let format = time::macros::format_description!("[year]-[month]-[day]");
            let day = Date::parse(date, &format).map_err(|_| bad())?;
            // A date means "valid through that day" (UTC).
            day.with_time(Time::MIDNIGHT).assume_utc() + Duration::days(1)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn set_get_roundtrip_every_key() {
        let mut s = Settings::default();
        for (k, v) in [
            ("max-validity", "1y"),
            ("allowed-networks", "10.0.0.0/8,2001:db8::/32"),
            ("password-auth", "off"),
            ("admin-only-create", "on"),
            ("regular-users-use-tokens", "off"),
            ("lockout-threshold", "3"),
            ("lockout-window", "1h"),
            ("lockout-duration", "0"),
            ("max-tokens-per-user", "5"),
            ("prune-after", "7d"),
            ("user-tokens-read-only", "on"),
        ] {
            s.set(k, v).unwrap();
            assert_eq!(s.get(k).unwrap(), v);
        }
        assert_eq!(super::KEYS.len(), s.to_json().as_object().unwrap().len());
    }

    #[test]
    fn set_bad_value_names_key() {
        let mut s = Settings::default();
        assert!(s
            .set("max-validity", "3y")
            .unwrap_err()
            .0
            .contains("max-validity"));
        assert!(s
            .set("password-auth", "maybe")
            .unwrap_err()
            .0
            .contains("password-auth"));
        assert!(s.set("allowed-networks", "10.0.0.0/33").is_err());
        assert!(s
            .set("colour", "red")
            .unwrap_err()
            .0
            .contains("unknown setting"));
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn network_rule_matches_v4_v6_and_mapped() {
        let mut s = Settings::default();
        assert!(s.network_rule("192.0.2.1".parse().unwrap()).0);
        s.set("allowed-networks", "10.1.2.3/8, 2001:db8::/32")
            .unwrap();
        assert_eq!(s.allowed_networks[0].to_string(), "10.0.0.0/8");
        assert!(s.network_rule("10.9.9.9".parse().unwrap()).0);
        assert!(s.network_rule("::ffff:10.9.9.9".parse().unwrap()).0);
        assert!(s.network_rule("2001:db8::1".parse().unwrap()).0);
        assert!(!s.network_rule("192.0.2.1".parse().unwrap()).0);
    }

    #[test]
    fn expiry_for_respects_max_validity_table() {
        let now = datetime!(2026-01-31 12:00 UTC);
        let table: &[(&str, &[(&str, bool)])] = &[
            (
                "6m",
                &[
                    ("6m", true),
                    ("1y", false),
                    ("2y", false),
                    ("never", false),
                    ("30d", true),
                    ("400d", false),
                ],
            ),
            (
                "1y",
                &[("6m", true), ("1y", true), ("2y", false), ("never", false)],
            ),
            (
                "2y",
                &[
                    ("6m", true),
                    ("1y", true),
                    ("2y", true),
                    ("never", false),
                    ("2027-12-31", true),
                ],
            ),
            (
                "never",
                &[("6m", true), ("2y", true), ("never", true), ("3650d", true)],
            ),
        ];
        for (max, cases) in table {
            let mut s = Settings::default();
            s.set("max-validity", max).unwrap();
            for (v, ok) in *cases {
                assert_eq!(
                    s.expiry_for(Some(v), now).is_ok(),
                    *ok,
                    "max {max} validity {v}"
                );
            }
        }
    }

    #[test]
    fn expiry_for_default_is_longest_allowed() {
        let now = datetime!(2026-08-31 00:00 UTC);
        let mut s = Settings::default();
        assert_eq!(s.expiry_for(None, now).unwrap(), None);
        s.set("max-validity", "6m").unwrap();
        assert_eq!(
            s.expiry_for(None, now).unwrap(),
            Some(datetime!(2027-02-28 00:00 UTC))
        );
    }

    #[test]
    fn parse_validity_rejects_past_and_garbage() {
        let now = datetime!(2026-01-01 00:00 UTC);
        let s = Settings::default();
        assert!(s.expiry_for(Some("2020-01-01"), now).is_err());
        assert!(parse_validity("0d", now).is_err());
        assert!(parse_validity("soon", now).is_err());
    }

    #[test]
    fn parse_duration_units() {
        assert_eq!(parse_duration("15m").unwrap(), 900);
        assert_eq!(parse_duration("0").unwrap(), 0);
        assert_eq!(parse_duration("2d").unwrap(), 172800);
        assert!(parse_duration("15").is_err());
        assert!(parse_duration("m").is_err());
        assert_eq!(format_duration(900), "15m");
    }
}

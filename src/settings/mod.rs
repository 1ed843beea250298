//! The system-wide settings of SPEC §5: their values and defaults, and one table,
//! [`SETTINGS`], that says for every key how it is parsed, shown, printed as JSON and
//! explained. `get`, `set`, `to_json`, the store and the CLI all read that table.
//!
//! The value syntax (durations, validities, networks) lives in `syntax`.

use ipnet::IpNet;
use serde_json::Value;
use std::net::IpAddr;
use time::OffsetDateTime;

mod syntax;
pub use syntax::{
    add_months, format_duration, parse_duration, parse_network, parse_networks, parse_validity,
};

/// The longest validity a new token may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MaxValidity {
    SixMonths,
    OneYear,
    TwoYears,
    Never,
}

impl MaxValidity {
    /// Every choice, shortest first (the order the page offers for a new token).
    pub const ALL: [MaxValidity; 4] = [
        MaxValidity::SixMonths,
        MaxValidity::OneYear,
        MaxValidity::TwoYears,
        MaxValidity::Never,
    ];

    fn months(self) -> Option<u32> {
        match self {
            MaxValidity::SixMonths => Some(6),
            MaxValidity::OneYear => Some(12),
            MaxValidity::TwoYears => Some(24),
            MaxValidity::Never => None,
        }
    }

    /// The setting's text form (`6m`, `1y`, `2y`, `never`).
    pub fn name(self) -> &'static str {
        match self {
            MaxValidity::SixMonths => "6m",
            MaxValidity::OneYear => "1y",
            MaxValidity::TwoYears => "2y",
            MaxValidity::Never => "never",
        }
    }

    fn parse(value: &str) -> Result<MaxValidity, SettingError> {
        MaxValidity::ALL
            .into_iter()
            .find(|m| m.name() == value)
            .ok_or_else(|| {
                SettingError(format!(
                    "max-validity must be never, 6m, 1y or 2y, not {value:?}"
                ))
            })
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

/// A bad setting name or value; the message says what is accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingError(pub String);

/// How a setting appears in `apitoken settings --json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonForm {
    /// Its text form, as a string.
    Text,
    /// A whole number.
    Number,
    /// A list: the comma-separated text form as an array of strings.
    List,
}

/// Everything about one setting. Its default is the text form of [`Settings::default`].
pub struct Descriptor {
    /// The name `apitoken settings set` takes.
    pub key: &'static str,
    /// The accepted values, in a few words (for help and errors).
    pub values: &'static str,
    /// The values a form offers, when the setting takes one of a few words.
    pub choices: &'static [&'static str],
    /// What the setting does, in one line.
    pub help: &'static str,
    pub json: JsonForm,
    /// Sets the value from its text form; the error names the key.
    parse: fn(&mut Settings, &str) -> Result<(), SettingError>,
    /// The text form, as stored and as shown.
    render: fn(&Settings) -> String,
}

impl Descriptor {
    /// The default value's text form.
    pub fn default_text(&self) -> String {
        (self.render)(&Settings::default())
    }
}

fn on_off(v: bool) -> String {
    if v { "on" } else { "off" }.to_string()
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

fn parse_count(value: &str, what: &str) -> Result<u32, SettingError> {
    value
        .parse()
        .map_err(|_| SettingError(format!("{what}, not {value:?}")))
}

fn parse_window(value: &str) -> Result<u64, SettingError> {
    match parse_duration(value)? {
        0 => Err(SettingError(
            "lockout-window must be longer than 0, e.g. 15m".into(),
        )),
        secs => Ok(secs),
    }
}

/// Every setting, in the order of SPEC §5 and of `apitoken settings`.
pub const SETTINGS: [Descriptor; 11] = [
    Descriptor {
        key: "max-validity",
        values: "never, 6m, 1y, 2y",
        choices: &["never", "6m", "1y", "2y"],
        help: "longest validity a new token may have",
        json: JsonForm::Text,
        parse: |s, v| {
            s.max_validity = MaxValidity::parse(v)?;
            Ok(())
        },
        render: |s| s.max_validity.name().into(),
    },
    Descriptor {
        key: "allowed-networks",
        values: "addresses and CIDR ranges; change it with apitoken allow-ip",
        choices: &[],
        help: "where authentication may come from; empty allows every address",
        json: JsonForm::List,
        parse: |s, v| {
            s.allowed_networks = parse_networks(v)?;
            Ok(())
        },
        render: |s| {
            let nets: Vec<String> = s.allowed_networks.iter().map(|n| n.to_string()).collect();
            nets.join(",")
        },
    },
    Descriptor {
        key: "password-auth",
        values: "on, off",
        choices: &["on", "off"],
        help: "off: passwords are never checked",
        json: JsonForm::Text,
        parse: |s, v| {
            s.password_auth = parse_on_off("password-auth", v)?;
            Ok(())
        },
        render: |s| on_off(s.password_auth),
    },
    Descriptor {
        key: "admin-only-create",
        values: "on, off",
        choices: &["on", "off"],
        help: "on: only admins create tokens",
        json: JsonForm::Text,
        parse: |s, v| {
            s.admin_only_create = parse_on_off("admin-only-create", v)?;
            Ok(())
        },
        render: |s| on_off(s.admin_only_create),
    },
    Descriptor {
        key: "regular-users-use-tokens",
        values: "on, off",
        choices: &["on", "off"],
        help: "while admin-only-create is on, off refuses tokens of non-admin owners",
        json: JsonForm::Text,
        parse: |s, v| {
            s.regular_users_use_tokens = parse_on_off("regular-users-use-tokens", v)?;
            Ok(())
        },
        render: |s| on_off(s.regular_users_use_tokens),
    },
    Descriptor {
        key: "lockout-threshold",
        values: "0 disables",
        choices: &[],
        help: "failed attempts within lockout-window that lock the user",
        json: JsonForm::Number,
        parse: |s, v| {
            let what = "lockout-threshold must be a whole number (0 disables)";
            {
                s.lockout_threshold = parse_count(v, what)?;
                Ok(())
            }
        },
        render: |s| s.lockout_threshold.to_string(),
    },
    Descriptor {
        key: "lockout-window",
        values: "e.g. 15m",
        choices: &[],
        help: "how long failures count",
        json: JsonForm::Text,
        parse: |s, v| {
            s.lockout_window = parse_window(v)?;
            Ok(())
        },
        render: |s| format_duration(s.lockout_window),
    },
    Descriptor {
        key: "lockout-duration",
        values: "0 = until reset",
        choices: &[],
        help: "how long a lock lasts",
        json: JsonForm::Text,
        parse: |s, v| {
            s.lockout_duration = parse_duration(v)?;
            Ok(())
        },
        render: |s| format_duration(s.lockout_duration),
    },
    Descriptor {
        key: "max-tokens-per-user",
        values: "0 = no limit",
        choices: &[],
        help: "usable tokens one owner may hold",
        json: JsonForm::Number,
        parse: |s, v| {
            let what = "max-tokens-per-user must be a whole number (0 for no limit)";
            {
                s.max_tokens_per_user = parse_count(v, what)?;
                Ok(())
            }
        },
        render: |s| s.max_tokens_per_user.to_string(),
    },
    Descriptor {
        key: "prune-after",
        values: "e.g. 30d",
        choices: &[],
        help: "how long after expiry or rotation apitoken prune removes a token",
        json: JsonForm::Text,
        parse: |s, v| {
            s.prune_after = parse_duration(v)?;
            Ok(())
        },
        render: |s| format_duration(s.prune_after),
    },
    Descriptor {
        key: "user-tokens-read-only",
        values: "on, off",
        choices: &["on", "off"],
        help: "on: tokens regular users create for themselves get the read scope",
        json: JsonForm::Text,
        parse: |s, v| {
            s.user_tokens_read_only = parse_on_off("user-tokens-read-only", v)?;
            Ok(())
        },
        render: |s| on_off(s.user_tokens_read_only),
    },
];

/// The setting names, in display order.
pub const KEYS: [&str; SETTINGS.len()] = {
    let mut keys = [""; SETTINGS.len()];
    let mut i = 0;
    while i < SETTINGS.len() {
        keys[i] = SETTINGS[i].key;
        i += 1;
    }
    keys
};

/// The descriptor of `key`, or an error listing every key.
pub fn descriptor(key: &str) -> Result<&'static Descriptor, SettingError> {
    SETTINGS.iter().find(|d| d.key == key).ok_or_else(|| {
        SettingError(format!(
            "unknown setting {key:?}; settings are: {}",
            KEYS.join(", ")
        ))
    })
}

impl Settings {
    /// The text form of one setting, as stored and as shown.
    pub fn get(&self, key: &str) -> Result<String, SettingError> {
        Ok((descriptor(key)?.render)(self))
    }

    /// Sets one setting from its text form; on error nothing changes.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), SettingError> {
        let mut next = self.clone();
        (descriptor(key)?.parse)(&mut next, value)?;
        *self = next;
        Ok(())
    }

    /// All settings as the JSON object `apitoken settings --json` prints.
    pub fn to_json(&self) -> Value {
        let map = SETTINGS.iter().map(|d| {
            let text = (d.render)(self);
            let value = match d.json {
                JsonForm::Text => Value::String(text),
                JsonForm::Number => text.parse::<u64>().map_or(Value::String(text), Value::from),
                JsonForm::List => Value::Array(
                    text.split(',')
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::String(s.into()))
                        .collect(),
                ),
            };
            (d.key.to_string(), value)
        });
        Value::Object(map.collect())
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
        self.expiry_within(validity, now)
            .map_err(ExpiryError::into_inner)
    }
}

mod expiry;
pub use expiry::ExpiryError;

#[cfg(test)]
mod tests;

//! Human output of every reply. `--json` bypasses this module and prints the payload.

use super::table::{clean, key_values, opt_time, short_time, Table};
use crate::admin::proto::{Deleted, FailureInfo, IpCheck, TokenInfo, VerifyResult};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// How to present a reply; chosen from the subcommand before the request is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    /// `create`: printed from the typed reply, never through [`human`].
    Created,
    TokenList,
    Token,
    Deleted,
    DeletedAll,
    Settings,
    SettingChanged(String),
    Networks,
    IpCheck,
    Failures,
    FailuresReset,
    Audit,
    Verify,
    Status,
    Pruned,
}

/// The text for stdout and whether the answer was a "no" (a denied address, an invalid
/// token), which exits with status 1.
pub struct Rendered {
    pub text: String,
    pub negative: bool,
}

/// A reply that does not have the shape its view expects.
#[derive(Debug, thiserror::Error)]
#[error("reply does not match this version of apitoken: {0}")]
pub struct ShapeError(String);

fn parse<T: DeserializeOwned>(value: &Value) -> Result<T, ShapeError> {
    T::deserialize(value).map_err(|e| ShapeError(e.to_string()))
}

fn object(value: &Value) -> Result<&Map<String, Value>, ShapeError> {
    value
        .as_object()
        .ok_or_else(|| ShapeError("expected an object".into()))
}

/// Whether `value` is a negative answer (check-ip denied, verify invalid).
pub fn is_negative(view: &View, value: &Value) -> bool {
    let field = match view {
        View::IpCheck => "allowed",
        View::Verify => "valid",
        _ => return false,
    };
    value.get(field).and_then(Value::as_bool) == Some(false)
}

/// Renders `value` for a person reading a terminal.
pub fn human(view: &View, value: &Value) -> Result<Rendered, ShapeError> {
    let text = match view {
        View::TokenList => token_list(&parse::<Vec<_>>(value)?),
        View::Token | View::Created => token(&parse(value)?),
        View::Deleted => deleted(&parse(value)?),
        View::DeletedAll => deleted_all(object(value)?),
        View::Settings => settings(object(value)?),
        View::SettingChanged(key) => setting_changed(key, object(value)?),
        View::Networks => networks(&parse::<Vec<_>>(value)?),
        View::IpCheck => ip_check(&parse(value)?),
        View::Failures => failures(&parse::<Vec<_>>(value)?),
        View::FailuresReset => failures_reset(object(value)?),
        View::Audit => audit(&parse::<Vec<_>>(value)?),
        View::Verify => verify(&parse(value)?),
        View::Status => status(object(value)?),
        View::Pruned => pruned(object(value)?),
    };
    Ok(Rendered {
        text,
        negative: is_negative(view, value),
    })
}

pub fn token_list(tokens: &[TokenInfo]) -> String {
    if tokens.is_empty() {
        return "No tokens.\n".into();
    }
    let mut table = Table::new(&[
        "ID",
        "USER",
        "NAME",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "LAST IP",
        "SCOPES",
        "STATE",
    ]);
    for t in tokens {
        table.push(vec![
            t.id.clone(),
            t.user.clone(),
            t.name.clone(),
            short_time(&t.created),
            opt_time(t.expires.as_deref(), "never"),
            opt_time(t.last_used.as_deref(), "-"),
            t.last_ip.clone().unwrap_or_else(|| "-".into()),
            t.scopes.clone(),
            t.state.clone(),
        ]);
    }
    table.render()
}

/// Key/value view of one token, with full RFC 3339 times.
pub fn token(t: &TokenInfo) -> String {
    let or = |v: &Option<String>, absent: &str| v.clone().unwrap_or_else(|| absent.into());
    key_values(&[
        ("id", t.id.clone()),
        ("user", t.user.clone()),
        ("name", t.name.clone()),
        ("created", t.created.clone()),
        ("created by", t.created_by.clone()),
        ("expires", or(&t.expires, "never")),
        ("last used", or(&t.last_used, "never")),
        ("last ip", or(&t.last_ip, "-")),
        ("recent ips", list_or(&t.last_ips, "-")),
        ("scopes", t.scopes.clone()),
        ("paths", list_or(&t.paths, "any")),
        ("networks", list_or(&t.networks, "allowed-networks")),
        ("rotated to", or(&t.rotated_to, "-")),
        ("stops at", or(&t.revoke_at, "-")),
        ("state", t.state.clone()),
    ])
}

fn list_or(items: &[String], absent: &str) -> String {
    if items.is_empty() {
        absent.into()
    } else {
        items.join(", ")
    }
}

fn pruned(obj: &Map<String, Value>) -> String {
    format!(
        "Removed {} tokens.\n",
        scalar(obj.get("count").unwrap_or(&Value::Null))
    )
}

fn deleted(d: &Deleted) -> String {
    d.deleted
        .iter()
        .map(|id| format!("Deleted token {}.\n", clean(id)))
        .collect()
}

fn deleted_all(obj: &Map<String, Value>) -> String {
    let count = obj.get("count").and_then(Value::as_u64).unwrap_or(0);
    let user = obj.get("user").map(scalar).unwrap_or_default();
    let plural = if count == 1 { "" } else { "s" };
    format!("Deleted {count} token{plural} of {}.\n", clean(&user))
}

/// Setting names in the order of SPEC section 5.
const SETTING_ORDER: [&str; 8] = [
    "max-validity",
    "allowed-networks",
    "password-auth",
    "admin-only-create",
    "regular-users-use-tokens",
    "lockout-threshold",
    "lockout-window",
    "lockout-duration",
];

fn setting_value(key: &str, value: &Value) -> String {
    match value {
        Value::Array(items) if items.is_empty() && key == "allowed-networks" => {
            "(empty: every address is allowed)".into()
        }
        Value::Array(items) => items.iter().map(scalar).collect::<Vec<_>>().join(", "),
        other => scalar(other),
    }
}

fn settings(obj: &Map<String, Value>) -> String {
    let known = SETTING_ORDER
        .iter()
        .filter_map(|k| obj.get(*k).map(|v| (*k, v)));
    let extra = obj
        .iter()
        .filter(|(k, _)| !SETTING_ORDER.contains(&k.as_str()));
    let pairs: Vec<(&str, String)> = known
        .chain(extra.map(|(k, v)| (k.as_str(), v)))
        .map(|(k, v)| (k, setting_value(k, v)))
        .collect();
    key_values(&pairs)
}

fn setting_changed(key: &str, obj: &Map<String, Value>) -> String {
    match obj.get(key) {
        Some(value) => key_values(&[(key, setting_value(key, value))]),
        None => settings(obj),
    }
}

fn networks(list: &[String]) -> String {
    if list.is_empty() {
        return "No networks listed: every address is allowed.\n".into();
    }
    list.iter().map(|n| format!("{}\n", clean(n))).collect()
}

fn ip_check(c: &IpCheck) -> String {
    let verdict = if c.allowed { "allowed" } else { "not allowed" };
    format!("{} is {verdict} ({})\n", clean(&c.address), clean(&c.rule))
}

fn failures(rows: &[FailureInfo]) -> String {
    if rows.is_empty() {
        return "No failed logins recorded.\n".into();
    }
    let mut table = Table::new(&["USER", "FAILURES", "LOCKED UNTIL"]);
    for f in rows {
        let locked = opt_time(f.locked_until.as_deref(), "-");
        table.push(vec![f.user.clone(), f.failures.to_string(), locked]);
    }
    table.render()
}

fn failures_reset(obj: &Map<String, Value>) -> String {
    let user = obj.get("user").map(scalar).unwrap_or_default();
    format!(
        "Failed logins of {} reset; the user is not locked.\n",
        clean(&user)
    )
}

/// Audit keys in the order of SPEC section 10; any others follow alphabetically.
const AUDIT_ORDER: [&str; 10] = [
    "actor", "user", "token_id", "name", "expires", "count", "key", "old", "new", "failures",
];

fn audit_details(event: &Map<String, Value>) -> String {
    let known = AUDIT_ORDER
        .iter()
        .filter_map(|k| event.get(*k).map(|v| (*k, v)));
    let skip = |k: &str| k == "time" || k == "event" || AUDIT_ORDER.contains(&k);
    let extra = event
        .iter()
        .filter(|(k, _)| !skip(k))
        .map(|(k, v)| (k.as_str(), v));
    known
        .chain(extra)
        .map(|(k, v)| {
            let text = setting_value(k, v);
            if text.is_empty() || text.contains(char::is_whitespace) {
                format!("{k}={text:?}")
            } else {
                format!("{k}={text}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn audit(events: &[Map<String, Value>]) -> String {
    if events.is_empty() {
        return "No audit events.\n".into();
    }
    let mut table = Table::new(&["TIME", "EVENT", "DETAILS"]);
    for e in events {
        let time = e.get("time").map(scalar).unwrap_or_default();
        let event = e.get("event").map(scalar).unwrap_or_default();
        table.push(vec![short_time(&time), event, audit_details(e)]);
    }
    table.render()
}

fn verify(v: &VerifyResult) -> String {
    if v.valid {
        let id = v.token_id.as_deref().unwrap_or("?");
        let user = v.user.as_deref().unwrap_or("?");
        return format!("valid: token {} of {}\n", clean(id), clean(user));
    }
    let reason = v.reason.as_deref().unwrap_or("invalid_token");
    format!("invalid: {}\n", clean(reason))
}

fn status(obj: &Map<String, Value>) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(v) = obj.get("version") {
        pairs.push(("version", scalar(v)));
    }
    if let Some(secs) = obj.get("uptime_seconds").and_then(Value::as_u64) {
        pairs.push(("uptime", uptime(secs)));
    }
    for (k, v) in obj {
        if k != "version" && k != "uptime_seconds" {
            pairs.push((k.as_str(), setting_value(k, v)));
        }
    }
    key_values(&pairs)
}

fn uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

/// A JSON scalar as plain text (strings unquoted, null as `-`, objects as JSON).
fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> Value {
        json!({"id":"AbCd1234","user":"alice","name":"ci job","created":"2025-01-02T03:04:05Z",
               "created_by":"root","expires":null,"last_used":null,"last_ip":null,"state":"active"})
    }

    #[test]
    fn human_token_list_has_all_columns() {
        let out = human(&View::TokenList, &json!([info()])).unwrap().text;
        let header = out.lines().next().unwrap();
        for col in [
            "ID",
            "USER",
            "NAME",
            "CREATED",
            "EXPIRES",
            "LAST USED",
            "LAST IP",
            "STATE",
        ] {
            assert!(header.contains(col), "{header}");
        }
        assert!(
            out.contains("AbCd1234") && out.contains("never") && out.contains("2025-01-02 03:04")
        );
    }

    #[test]
    fn human_wrong_shape_is_error() {
        assert!(human(&View::TokenList, &json!({"id": 1})).is_err());
    }

    #[test]
    fn human_settings_follow_spec_order() {
        let value = json!({"password-auth":"on","max-validity":"1y","allowed-networks":[]});
        let out = human(&View::Settings, &value).unwrap().text;
        assert!(out.starts_with("max-validity:"));
        assert!(out.contains("every address is allowed"));
    }

    #[test]
    fn human_ip_check_denied_is_negative() {
        let value = json!({"address":"10.0.0.1","allowed":false,"rule":"no rule matches"});
        let r = human(&View::IpCheck, &value).unwrap();
        assert!(r.negative);
        assert_eq!(r.text, "10.0.0.1 is not allowed (no rule matches)\n");
    }

    #[test]
    fn human_verify_valid_is_not_negative() {
        let value = json!({"valid":true,"user":"bob","token_id":"AbCd1234","reason":null});
        let r = human(&View::Verify, &value).unwrap();
        assert!(!r.negative);
        assert_eq!(r.text, "valid: token AbCd1234 of bob\n");
    }

    #[test]
    fn audit_details_quotes_values_with_spaces() {
        let e = json!({"time":"t","event":"token.create","actor":"root","name":"my token"});
        let details = audit_details(e.as_object().unwrap());
        assert_eq!(details, "actor=root name=\"my token\"");
    }

    #[test]
    fn uptime_formats_largest_units() {
        assert_eq!(uptime(59), "59s");
        assert_eq!(uptime(3_725), "1h 2m");
        assert_eq!(uptime(90_000), "1d 1h");
    }
}

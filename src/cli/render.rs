//! Human output of every reply. `--json` bypasses this module and prints the payload.

use super::table::{clean, key_values, opt_time, short_time, Table};
use apitoken_wire::admin::{
    AuditEvent, Deleted, DeletedAll, FailureInfo, IpCheck, Request, Response, SettingValue,
    SettingsMap, Status, TokenInfo, VerifyResult,
};
use serde_json::Value;

/// The one setting a `settings set` reply is shown for, taken from the request.
pub fn focus(request: &Request) -> Option<String> {
    match request {
        Request::SettingsSet { key, .. } => Some(key.clone()),
        _ => None,
    }
}

/// Whether the reply is a "no" (a denied address, an invalid token): exit status 1.
pub fn is_negative(response: &Response) -> bool {
    match response {
        Response::IpCheck(c) => !c.allowed,
        Response::Verify(v) => !v.valid,
        _ => false,
    }
}

/// Renders a reply for a person reading a terminal; `focus` narrows a settings reply to
/// the one setting just changed.
pub fn human(focus: Option<&str>, response: &Response) -> String {
    match response {
        Response::Tokens(tokens) => token_list(tokens),
        Response::Page(page) => token_list(&page.tokens),
        Response::Token(t) => token(t),
        Response::Created(c) => token(&c.info),
        Response::Deleted(d) => deleted(d),
        Response::DeletedAll(d) => deleted_all(d),
        Response::Pruned(p) => format!("Removed {} tokens.\n", p.count),
        Response::Settings(map) => match focus.and_then(|k| map.get_key_value(k)) {
            Some((key, value)) => key_values(&[(key.as_str(), setting_value(key, value))]),
            None => settings(map),
        },
        Response::Networks(list) => networks(list),
        Response::IpCheck(c) => ip_check(c),
        Response::Failures(rows) => failures(rows),
        Response::FailuresReset(r) => format!(
            "Failed logins of {} reset; the user is not locked.\n",
            clean(&r.user)
        ),
        Response::Audit(events) => audit(events),
        Response::Verify(v) => verify(v),
        Response::Status(s) => status(s),
    }
}

pub fn token_list(tokens: &[TokenInfo]) -> String {
    super::listing::table(tokens)
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

fn deleted(d: &Deleted) -> String {
    d.deleted
        .iter()
        .map(|id| format!("Deleted token {}.\n", clean(id)))
        .collect()
}

fn deleted_all(d: &DeletedAll) -> String {
    let plural = if d.count == 1 { "" } else { "s" };
    format!("Deleted {} token{plural} of {}.\n", d.count, clean(&d.user))
}

/// Setting names in the order of SPEC section 5.
const SETTING_ORDER: [&str; crate::settings::KEYS.len()] = crate::settings::KEYS;

fn setting_value(key: &str, value: &SettingValue) -> String {
    match value {
        SettingValue::List(items) if items.is_empty() && key == "allowed-networks" => {
            "(empty: every address is allowed)".into()
        }
        SettingValue::List(items) => items.join(", "),
        SettingValue::Text(text) => text.clone(),
        SettingValue::Number(n) => n.to_string(),
    }
}

fn settings(map: &SettingsMap) -> String {
    let known = SETTING_ORDER
        .iter()
        .filter_map(|k| map.get(*k).map(|v| (*k, v)));
    let extra = map
        .iter()
        .filter(|(k, _)| !SETTING_ORDER.contains(&k.as_str()));
    let pairs: Vec<(&str, String)> = known
        .chain(extra.map(|(k, v)| (k.as_str(), v)))
        .map(|(k, v)| (k, setting_value(k, v)))
        .collect();
    key_values(&pairs)
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

/// Audit keys in the order of SPEC section 10; any others follow alphabetically.
const AUDIT_ORDER: [&str; 10] = [
    "actor", "user", "token_id", "name", "expires", "count", "key", "old", "new", "failures",
];

fn audit_details(event: &AuditEvent) -> String {
    let fields = &event.fields;
    let known = AUDIT_ORDER
        .iter()
        .filter_map(|k| fields.get(*k).map(|v| (*k, v)));
    let extra = fields
        .iter()
        .filter(|(k, _)| !AUDIT_ORDER.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v));
    known
        .chain(extra)
        .map(|(k, v)| {
            let text = json_text(v);
            if text.is_empty() || text.contains(char::is_whitespace) {
                format!("{k}={text:?}")
            } else {
                format!("{k}={text}")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn audit(events: &[AuditEvent]) -> String {
    if events.is_empty() {
        return "No audit events.\n".into();
    }
    let mut table = Table::new(&["TIME", "EVENT", "DETAILS"]);
    for e in events {
        table.push(vec![short_time(&e.time), e.event.clone(), audit_details(e)]);
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

fn status(s: &Status) -> String {
    key_values(&[
        ("version", s.version.clone()),
        ("uptime", uptime(s.uptime_seconds)),
        ("pid", s.pid.to_string()),
        ("state_dir", s.state_dir.clone()),
        ("runtime_dir", s.runtime_dir.clone()),
        ("tokens", s.tokens.to_string()),
        ("users", s.users.to_string()),
        ("cache_entries", s.cache_entries.to_string()),
        ("locked_users", s.locked_users.to_string()),
        ("syslog_dropped", s.syslog_dropped.to_string()),
    ])
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

/// A JSON value as plain text (strings unquoted, lists comma-separated, null as `-`).
fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        Value::Array(items) => items.iter().map(json_text).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info() -> TokenInfo {
        serde_json::from_value(json!({"id":"AbCd1234","user":"alice","name":"ci job",
            "created":"2025-01-02T03:04:05Z","created_by":"root","expires":null,
            "last_used":null,"last_ip":null,"state":"active"}))
        .unwrap()
    }

    #[test]
    fn human_token_list_has_all_columns() {
        let out = human(None, &Response::Tokens(vec![info()]));
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
    fn human_settings_follow_spec_order() {
        let map: SettingsMap = serde_json::from_value(
            json!({"password-auth":"on","max-validity":"1y","allowed-networks":[]}),
        )
        .unwrap();
        let out = human(None, &Response::Settings(map));
        assert!(out.starts_with("max-validity:"));
        assert!(out.contains("every address is allowed"));
    }

    #[test]
    fn human_setting_changed_shows_that_setting() {
        let map: SettingsMap =
            serde_json::from_value(json!({"password-auth":"off","max-validity":"1y"})).unwrap();
        let out = human(Some("password-auth"), &Response::Settings(map));
        assert_eq!(out.lines().count(), 1, "{out}");
        assert!(out.contains("off"));
    }

    #[test]
    fn human_ip_check_denied_is_negative() {
        let r = Response::IpCheck(IpCheck {
            address: "10.0.0.1".into(),
            allowed: false,
            rule: "no rule matches".into(),
        });
        assert!(is_negative(&r));
        assert_eq!(
            human(None, &r),
            "10.0.0.1 is not allowed (no rule matches)\n"
        );
    }

    #[test]
    fn human_verify_valid_is_not_negative() {
        let r = Response::Verify(VerifyResult {
            valid: true,
            user: Some("bob".into()),
            token_id: Some("AbCd1234".into()),
            reason: None,
        });
        assert!(!is_negative(&r));
        assert_eq!(human(None, &r), "valid: token AbCd1234 of bob\n");
    }

    #[test]
    fn audit_details_quotes_values_with_spaces() {
        let e: AuditEvent = serde_json::from_value(
            json!({"time":"t","event":"token.create","actor":"root","name":"my token"}),
        )
        .unwrap();
        assert_eq!(audit_details(&e), "actor=root name=\"my token\"");
    }

    #[test]
    fn uptime_formats_largest_units() {
        assert_eq!(uptime(59), "59s");
        assert_eq!(uptime(3_725), "1h 2m");
        assert_eq!(uptime(90_000), "1d 1h");
    }
}

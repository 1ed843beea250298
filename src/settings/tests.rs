//! The settings table and the value syntax.

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

#[test]
fn descriptors_defaults_roundtrip_and_json_has_every_key() {
    let defaults = Settings::default();
    for d in &SETTINGS {
        let mut s = defaults.clone();
        s.set(d.key, &d.default_text()).unwrap();
        assert_eq!(s, defaults, "{}", d.key);
        assert!(!d.help.is_empty() && !d.values.is_empty());
    }
    let json = defaults.to_json();
    assert_eq!(json["lockout-threshold"], 10);
    assert_eq!(json["allowed-networks"], serde_json::json!([]));
    assert_eq!(json["lockout-window"], "15m");
}

#[test]
fn set_failed_value_changes_nothing() {
    let mut s = Settings::default();
    assert!(s.set("lockout-window", "0").is_err());
    assert_eq!(s, Settings::default());
}

#[test]
fn parse_validity_near_misses_say_what_is_wrong() {
    let now = datetime!(2026-01-01 00:00 UTC);
    let said = |v: &str| parse_validity(v, now).unwrap_err().to_string();
    let months = said("3m");
    assert!(
        months.contains("months come as 6m only") && months.contains("90d"),
        "{months}"
    );
    assert!(said("12m").contains("months come as 6m only"));
    assert!(said("5y").contains("years come as 1y or 2y"));
    let feb = said("2027-02-30");
    assert!(
        feb.contains("no such day") && feb.contains("February 2027 has 28 days"),
        "{feb}"
    );
    assert!(said("2028-02-30").contains("29 days"));
    assert!(said("2027-13-01").contains("no month 13"));
    assert!(said("soon").contains("use never, 6m, 1y, 2y"));
    assert!(parse_validity("2027-02-28", now).is_ok());
}

#[test]
fn parse_duration_multibyte_last_character_is_an_error_not_a_panic() {
    for text in ["é", "5é", "\u{85}\u{ee}JP\u{104d7a}", ""] {
        assert!(parse_duration(text).is_err(), "{text:?}");
    }
}

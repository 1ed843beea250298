//! `allow-ip`, `check-ip` and `settings` through the CLI, with IPv4 and IPv6.

use crate::common::{ensure_user, stdout, Daemon};
use crate::{assert_code, json};
use serde_json::{json, Value};

fn networks(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn settings_json_has_every_setting_with_defaults() {
    let d = Daemon::start();
    let v = json(&d.cli(&["settings", "--json"]));
    let want = json!({
        "max-validity": "never", "allowed-networks": [], "password-auth": "on",
        "admin-only-create": "off", "regular-users-use-tokens": "on", "lockout-threshold": 10,
        "lockout-window": "15m", "lockout-duration": "10m"
    });
    for (key, value) in want.as_object().unwrap() {
        assert_eq!(&v[key], value, "setting {key}: {v}");
    }
    let human = stdout(&d.cli(&["settings"]));
    assert!(
        human.lines().next().unwrap().starts_with("max-validity:"),
        "{human}"
    );
    assert!(human.contains("lockout-duration:"), "{human}");
}

#[test]
fn allow_ip_add_remove_clear_round_trip() {
    let d = Daemon::start();
    assert_eq!(
        networks(&json(&d.cli(&["allow-ip", "list", "--json"]))),
        Vec::<String>::new()
    );
    let added = json(&d.cli(&[
        "allow-ip",
        "add",
        "10.0.0.0/8",
        "2001:db8::/32",
        "192.168.1.7",
        "--json",
    ]));
    let list = networks(&added);
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(
        list.contains(&"10.0.0.0/8".to_string()) && list.contains(&"2001:db8::/32".to_string())
    );
    assert!(
        list.iter().any(|n| n.starts_with("192.168.1.7")),
        "{list:?}"
    );
    assert_eq!(
        networks(&json(&d.cli(&["allow-ip", "list", "--json"]))),
        list
    );
    assert_eq!(
        networks(&json(&d.cli(&["settings", "--json"]))["allowed-networks"]),
        list
    );
    let removed = networks(&json(&d.cli(&[
        "allow-ip",
        "remove",
        "10.0.0.0/8",
        "--json",
    ])));
    assert!(
        !removed.contains(&"10.0.0.0/8".to_string()) && removed.len() == 2,
        "{removed:?}"
    );
    assert_eq!(
        networks(&json(&d.cli(&["allow-ip", "clear", "--json"]))),
        Vec::<String>::new()
    );
}

#[test]
fn allow_ip_add_garbage_is_error_and_changes_nothing() {
    let d = Daemon::start();
    assert_code(&d.cli(&["allow-ip", "add", "10.0.0.0/8"]), 0);
    for bad in ["10.0.0.0/33", "not-an-ip", "2001:db8::/129", "300.1.1.1"] {
        assert_code(&d.cli(&["allow-ip", "add", bad]), 1);
    }
    assert_eq!(
        networks(&json(&d.cli(&["allow-ip", "list", "--json"]))),
        vec!["10.0.0.0/8".to_string()]
    );
}

#[test]
fn check_ip_empty_list_allows_every_address() {
    let d = Daemon::start();
    for addr in ["192.0.2.1", "2001:db8::1"] {
        let v = json(&d.cli(&["check-ip", addr, "--json"]));
        assert_eq!(v["allowed"], true, "{v}");
        assert_eq!(v["address"], addr);
    }
}

/// (address, allowed, the rule named in the answer) once the list holds two networks.
const CHECKS: [(&str, bool, &str); 6] = [
    ("10.1.2.3", true, "10.0.0.0/8"),
    ("192.168.0.1", false, ""),
    ("2001:db8::1", true, "2001:db8::/32"),
    ("2001:db9::1", false, ""),
    ("::ffff:10.1.2.3", true, "10.0.0.0/8"),
    ("127.0.0.1", false, ""),
];

#[test]
fn check_ip_list_decides_ipv4_and_ipv6() {
    let d = Daemon::start();
    assert_code(
        &d.cli(&["allow-ip", "add", "10.0.0.0/8", "2001:db8::/32"]),
        0,
    );
    for (addr, allowed, rule) in CHECKS {
        let out = d.cli(&["check-ip", addr, "--json"]);
        assert_code(&out, if allowed { 0 } else { 1 });
        let v = crate::common::run::json(&out);
        assert_eq!(v["allowed"], allowed, "{addr}: {v}");
        if allowed {
            assert!(
                v["rule"].as_str().unwrap().contains(rule),
                "{addr}: the matching rule: {v}"
            );
        }
        let human = d.cli(&["check-ip", addr]);
        let verdict = if allowed {
            "is allowed"
        } else {
            "is not allowed"
        };
        assert!(
            stdout(&human).contains(verdict),
            "{addr}: {}",
            stdout(&human)
        );
    }
}

#[test]
fn check_ip_malformed_address_is_error() {
    let d = Daemon::start();
    assert_code(&d.cli(&["check-ip", "10.0.0"]), 1);
}

#[test]
fn check_ip_regular_user_may_ask() {
    let d = Daemon::start();
    ensure_user("atk-cli-checkip");
    let v = json(&d.cli_as("atk-cli-checkip", &["check-ip", "2001:db8::5", "--json"]));
    assert_eq!(v["allowed"], true);
}

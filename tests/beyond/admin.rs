//! Fleet administration: user-tokens-read-only, max-tokens-per-user, prune, expiry
//! warnings, recent addresses and the list filters.

use std::time::Duration;

use crate::common::run::ids;
use crate::common::tokens::unique_name;
use crate::common::{ensure_user, eventually, stderr, Daemon};
use crate::{ask_from, id, json, now, show, sqlite};

#[test]
fn user_tokens_read_only_regular_user_gets_read_or_is_refused_root_keeps_all() {
    let daemon = Daemon::start();
    let user = unique_name("atkro");
    ensure_user(&user);
    daemon.cli_ok(&["settings", "set", "user-tokens-read-only", "on"]);
    let own = json(&daemon.cli_as(&user, &["create", "--json", "--name", "mine"]));
    assert_eq!(own["scopes"], "read", "{own}");
    // Asking for more is refused, not silently narrowed.
    let asked = daemon.cli_as(&user, &["create", "--json", "--scope", "write,login"]);
    assert_eq!(asked.status.code(), Some(3), "{asked:?}");
    assert!(
        stderr(&asked).contains("user-tokens-read-only"),
        "{}",
        stderr(&asked)
    );
    let explicit = json(&daemon.cli_as(&user, &["create", "--json", "--scope", "read"]));
    assert_eq!(explicit["scopes"], "read", "{explicit}");
    // The restriction is real, not only displayed.
    let token = own["token"].as_str().unwrap();
    let post = ask_from(&daemon, "192.0.2.1", "POST", "/api/x", token);
    assert_eq!(post.status, 403, "POST with the user's read-only token");

    let (_, roots) = daemon.create_json(&["--name", "root's"]);
    assert_eq!(roots["scopes"], "read,write,login", "{roots}");
    let (_, for_user) = daemon.create_json(&["--user", &user]);
    assert_eq!(for_user["scopes"], "read,write,login", "{for_user}");
}

#[test]
fn max_tokens_per_user_past_limit_exit_1_names_setting() {
    let daemon = Daemon::start();
    daemon.cli_ok(&["settings", "set", "max-tokens-per-user", "2"]);
    let (first, _) = daemon.create_json(&["--user", "bob"]);
    daemon.create_json(&["--user", "bob"]);
    let out = daemon.cli(&["create", "--user", "bob"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        stderr(&out).contains("max-tokens-per-user"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    // Other users have their own allowance.
    daemon.create_json(&["--user", "carol"]);
    daemon.cli_ok(&["delete", id(&first)]);
    daemon.create_json(&["--user", "bob"]);
}

#[test]
fn max_tokens_per_user_parallel_creates_never_exceed_limit() {
    let daemon = Daemon::start();
    daemon.cli_ok(&["settings", "set", "max-tokens-per-user", "1"]);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| daemon.cli(&["create", "--user", "dave"]));
        }
    });
    let listed = json(&daemon.cli(&["list", "--user", "dave", "--json"]));
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "8 parallel creates under max-tokens-per-user=1 left: {listed}"
    );
}

/// Moves expiry and rotation into the past behind the stopped daemon's back: `old_expired`
/// 40 days ago, `recent_expired` 10 days ago, and `old_rotated` replaced by `successor`
/// 40 days ago.
fn age_tokens(
    daemon: &Daemon,
    old_expired: &str,
    recent_expired: &str,
    old_rotated: &str,
    successor: &str,
) {
    let day = 86_400;
    let now = now();
    sqlite(
        &daemon.db_path(),
        &format!(
            "UPDATE tokens SET expires_at = {} WHERE id = '{}';
             UPDATE tokens SET expires_at = {} WHERE id = '{}';
             UPDATE tokens SET revoke_at = {}, rotated_to = '{}' WHERE id = '{}';",
            now - 40 * day,
            id(old_expired),
            now - 10 * day,
            id(recent_expired),
            now - 40 * day,
            id(successor),
            id(old_rotated),
        ),
    );
}

/// The prune is in syslog (with its age) and in the audit log.
fn assert_prune_audited(daemon: &Daemon) {
    let line = daemon.wait_syslog(&["event=token.prune", "count=2"]);
    assert!(line.contains("older_than=30d"), "{line}");
    let events = json(&daemon.cli(&["audit", "--json"]));
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["event"] == "token.prune"),
        "{events}"
    );
}

#[test]
fn prune_removes_old_expired_and_rotated_keeps_others() {
    let mut daemon = Daemon::start();
    let mk = |name: &str| daemon.create_json(&["--name", name, "--expires", "30d"]).0;
    let (old_expired, recent_expired, old_rotated, active) = (
        mk("old expired"),
        mk("recent expired"),
        mk("old rotated"),
        mk("active"),
    );
    let (forever, _) = daemon.create_json(&["--name", "forever", "--expires", "never"]);
    daemon.kill();
    age_tokens(
        &daemon,
        &old_expired,
        &recent_expired,
        &old_rotated,
        &active,
    );
    daemon.restart();
    let out = json(&daemon.cli(&["prune", "--older-than", "30d", "--json"]));
    let mut deleted: Vec<String> = out["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    deleted.sort();
    let mut want = vec![id(&old_expired).to_string(), id(&old_rotated).to_string()];
    want.sort();
    assert_eq!(deleted, want, "{out}");
    assert_eq!(out["count"], 2, "{out}");
    let left = ids(&json(&daemon.cli(&["list", "--json"])));
    for kept in [&recent_expired, &active, &forever] {
        assert!(left.contains(&id(kept).to_string()), "{kept} pruned");
    }
    assert_prune_audited(&daemon);
    // The default age is prune-after (30d): the 10-day-old expiry goes once it is 1d.
    daemon.cli_ok(&["settings", "set", "prune-after", "1d"]);
    let out = json(&daemon.cli(&["prune", "--json"]));
    assert_eq!(
        out["deleted"],
        serde_json::json!([id(&recent_expired)]),
        "{out}"
    );
}

#[test]
fn prune_regular_user_denied() {
    let daemon = Daemon::start();
    let user = unique_name("atkpr");
    ensure_user(&user);
    assert_eq!(daemon.cli_as(&user, &["prune"]).status.code(), Some(3));
}

#[test]
fn expiry_warning_at_start_names_tokens_expiring_within_14_days() {
    let mut daemon = Daemon::start();
    let (soon, _) = daemon.create_json(&["--name", "soon", "--expires", "7d"]);
    let (later, _) = daemon.create_json(&["--name", "later", "--expires", "60d"]);
    let (never, _) = daemon.create_json(&["--name", "never", "--expires", "never"]);
    daemon.restart();
    let line = daemon.wait_syslog(&["event=token.expiring", &format!("token_id={}", id(&soon))]);
    assert!(
        line.contains("user=root") && line.contains("name=soon") && line.contains("expires="),
        "{line}"
    );
    // Both lines would come from the same pass, which has now run.
    for quiet in [&later, &never] {
        assert!(
            !daemon
                .syslog_lines()
                .iter()
                .any(|l| l.contains("event=token.expiring") && l.contains(id(quiet))),
            "warned about {}",
            id(quiet)
        );
    }
}

#[test]
fn show_recent_ips_lists_two_addresses_most_recent_first() {
    let daemon = Daemon::start();
    let (token, _) = daemon.create_json(&["--name", "roaming"]);
    for ip in ["192.0.2.1", "192.0.2.2"] {
        let resp = ask_from(&daemon, ip, "GET", "/api/x", &token);
        assert_eq!(resp.status, 200, "from {ip}");
    }
    let mut last = serde_json::Value::Null;
    let both = eventually(Duration::from_secs(20), || {
        last = show(&daemon, id(&token));
        last["last_ips"] == serde_json::json!(["192.0.2.2", "192.0.2.1"])
    });
    assert!(
        both,
        "uses from 192.0.2.1 then 192.0.2.2; after 20 s show says {last}"
    );
    assert_eq!(last["last_ip"], "192.0.2.2", "{last}");
    let text = daemon.cli_ok(&["show", id(&token)]);
    assert!(text.contains("192.0.2.2, 192.0.2.1"), "{text}");
}

/// Three tokens for the list filters: `u1`'s "CI deploy" (read, 7 days), `u2`'s "laptop"
/// (write, 60 days) and `u1`'s "ci nightly" (login, the default validity).
fn create_filter_tokens(daemon: &Daemon) -> (String, String, String) {
    let (a, _) = daemon.create_json(&[
        "--user",
        "u1",
        "--name",
        "CI deploy",
        "--expires",
        "7d",
        "--scope",
        "read",
    ]);
    let (b, _) = daemon.create_json(&[
        "--user",
        "u2",
        "--name",
        "laptop",
        "--expires",
        "60d",
        "--scope",
        "write",
    ]);
    let (c, _) = daemon.create_json(&["--user", "u1", "--name", "ci nightly", "--scope", "login"]);
    (a, b, c)
}

/// The ids `list --all --json` answers with `args` added.
fn list_all(daemon: &Daemon, args: &[&str]) -> Vec<String> {
    let mut full = vec!["list", "--all", "--json"];
    full.extend_from_slice(args);
    ids(&daemon.cli_json(&full))
}

#[test]
fn list_filters_select_and_order_tokens() {
    let daemon = Daemon::start();
    let (a, b, c) = create_filter_tokens(&daemon);
    let listed = |args: &[&str]| list_all(&daemon, args);
    let (a, b, c) = (id(&a).to_string(), id(&b).to_string(), id(&c).to_string());
    assert_eq!(listed(&["--expiring", "14d"]), vec![a.clone()]);
    let mut soon = listed(&["--expires-before", "90d"]);
    soon.sort();
    let mut want = [a.clone(), b.clone()];
    want.sort();
    assert_eq!(soon, want);
    assert_eq!(listed(&["--name", "ci", "--sort", "id"]).len(), 2);
    assert_eq!(listed(&["--scope", "write"]), vec![b.clone()]);
    assert_eq!(listed(&["--scope", "login"]), vec![c]);
    assert_eq!(listed(&["--never-used"]).len(), 3);
    assert_eq!(listed(&["--created-after", "1h"]).len(), 3);
    assert!(listed(&["--created-before", "1h"]).is_empty());
    assert!(listed(&["--last-used-after", "2000-01-01"]).is_empty());
    assert_eq!(
        listed(&["--sort", "user", "--reverse", "--limit", "1"]),
        vec![b]
    );
    let user = json(&daemon.cli(&["list", "--user", "u1", "--json", "--sort", "name"]));
    let names: Vec<&str> = user
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["CI deploy", "ci nightly"]);
    let bad = daemon.cli(&["list", "--all", "--created-before", "yesterday"]);
    assert_eq!(bad.status.code(), Some(1), "{bad:?}");
    let never = daemon.cli(&["list", "--all", "--scope", "admin"]);
    assert_eq!(never.status.code(), Some(1), "{never:?}");
}

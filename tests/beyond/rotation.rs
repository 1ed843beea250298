//! Rotation: the successor works at once; the old token stops after its grace period and,
//! presented after that, is reported as `token.reuse` to syslog and the audit trail.

use std::time::{Duration, Instant};

use crate::common::tokens::unique_name;
use crate::common::{ensure_user, eventually, stderr, Daemon};
use crate::pam::{Outcome, Pam};
use crate::{assert_status, call, id, json, show, start_tokens_only};

/// `apitoken rotate ID ARGS --json`: (new token, its object).
fn rotate(daemon: &Daemon, old: &str, args: &[&str]) -> (String, serde_json::Value) {
    let mut full = vec!["rotate", id(old), "--json"];
    full.extend_from_slice(args);
    let v = daemon.cli_json(&full);
    (v["token"].as_str().unwrap().to_string(), v)
}

/// Polls `apitoken audit --json` until an event `name` about `token_id` shows up.
fn audit_event(daemon: &Daemon, name: &str, token_id: &str) -> serde_json::Value {
    let mut found = None;
    let ok = eventually(Duration::from_secs(10), || {
        let events = json(&daemon.cli(&["audit", "--json"]));
        found = events
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["event"] == name && e["token_id"] == token_id)
            .cloned();
        found.is_some()
    });
    assert!(
        ok,
        "no {name} for {token_id} in the audit trail: {}",
        daemon.cli_ok(&["audit"])
    );
    found.unwrap()
}

#[test]
fn rotate_without_grace_old_401_at_once_new_200_reuse_reported() {
    let (daemon, nginx) = start_tokens_only();
    let (old, _) = daemon.create_json(&[
        "--user",
        "alice",
        "--name",
        "deploy",
        "--scope",
        "read,login",
    ]);
    assert_status(&call(&nginx, "GET", "/api/x", &old), 200, "old, before");
    let (new, v) = rotate(&daemon, &old, &[]);
    assert_eq!(v["user"], "alice");
    assert_eq!(v["name"], "deploy");
    assert_eq!(
        v["scopes"], "read,login",
        "the successor keeps the scopes: {v}"
    );
    assert_status(
        &call(&nginx, "GET", "/api/x", &old),
        401,
        "old token right after rotation without grace",
    );
    assert_status(&call(&nginx, "GET", "/api/x", &new), 200, "new token");

    let line = daemon.wait_syslog(&["event=token.reuse", &format!("token_id={}", id(&old))]);
    assert!(
        line.contains("user=alice") && line.contains("via=http") && line.contains("127.0.0.1"),
        "{line}"
    );
    assert!(!line.contains(&old[13..]), "secret in syslog: {line}");
    daemon.wait_syslog(&["event=auth.failure", "reason=rotated"]);
    let reuse = audit_event(&daemon, "token.reuse", id(&old));
    assert_eq!(reuse["user"], "alice", "{reuse}");
    let rotate = audit_event(&daemon, "token.rotate", id(&old));
    assert_eq!(rotate["new_token_id"], id(&new), "{rotate}");

    let info = show(&daemon, id(&old));
    assert_eq!(info["state"], "rotated", "{info}");
    assert_eq!(info["rotated_to"], id(&new), "{info}");
    assert!(info["revoke_at"].is_string(), "{info}");

    // The old secret is refused through PAM too, without falling through to passwords.
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &old)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.3"), &old), Outcome::AuthErr);
    assert_eq!(pam.auth("alice", Some("192.0.2.3"), &new), Outcome::Success);
    daemon.wait_syslog(&["event=token.reuse", "via=pam"]);
}

#[test]
fn rotate_with_grace_old_works_until_grace_ends_then_reuse() {
    let (daemon, nginx) = start_tokens_only();
    let (old, _) = daemon.create_json(&["--name", "graceful"]);
    assert_status(&call(&nginx, "GET", "/api/x", &old), 200, "old, before");
    let rotated = Instant::now();
    let (new, _) = rotate(&daemon, &old, &["--grace", "3s"]);
    assert_status(&call(&nginx, "GET", "/api/x", &new), 200, "new token");
    let within = call(&nginx, "GET", "/api/x", &old);
    if rotated.elapsed() < Duration::from_secs(2) {
        assert_status(&within, 200, "old token within its 3 s grace");
        let info = show(&daemon, id(&old));
        assert_eq!(info["state"], "active", "{info}");
        assert_eq!(info["rotated_to"], id(&new), "{info}");
    }
    assert!(
        !daemon
            .syslog_lines()
            .iter()
            .any(|l| l.contains("event=token.reuse")),
        "token.reuse within the grace period"
    );
    let stopped = eventually(Duration::from_secs(15), || {
        call(&nginx, "GET", "/api/x", &old).status == 401
    });
    assert!(stopped, "old token still accepted 15 s after a 3 s grace");
    assert!(
        rotated.elapsed() >= Duration::from_secs(2),
        "old token stopped before its grace ended"
    );
    daemon.wait_syslog(&["event=token.reuse", &format!("token_id={}", id(&old))]);
    audit_event(&daemon, "token.reuse", id(&old));
    assert_status(&call(&nginx, "GET", "/api/x", &new), 200, "new token after");
}

#[test]
fn rotate_twice_same_token_refused() {
    let daemon = Daemon::start();
    let (old, _) = daemon.create_json(&[]);
    rotate(&daemon, &old, &["--grace", "1h"]);
    let out = daemon.cli(&["rotate", id(&old)]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(stderr(&out).contains("already rotated"), "{}", stderr(&out));
}

#[test]
fn rotate_regular_user_while_admin_only_create_denied() {
    // admin-only-create on: only admins make tokens. Rotation makes a new secret with a
    // fresh validity, so a regular user rotating their own token would mint tokens (and
    // extend them forever) without an admin.
    let daemon = Daemon::start();
    let user = unique_name("atkrot");
    ensure_user(&user);
    let (token, _) = daemon.create_json(&["--user", &user, "--expires", "7d"]);
    daemon.cli_ok(&["settings", "set", "admin-only-create", "on"]);
    let out = daemon.cli_as(&user, &["rotate", id(&token)]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "regular user rotated while admin-only-create is on: stdout {:?} stderr {:?}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
}

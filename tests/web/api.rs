//! §6's permissions on the REST API, token paging, and the manage scope.

use serde_json::{json, Value};

use crate::common::tokens::{token_id, unique_name};
use crate::harness::{assert_error, json, json_cli, Session, WebDaemon, USER_PASSWORD};

#[test]
fn web_tokens_paging_by_cursor_returns_each_token_once() {
    let w = WebDaemon::start(&[], "");
    let token = w.manage_token("root");
    for i in 0..4 {
        let r = w.bearer(
            "POST",
            "/api/v1/tokens",
            &token,
            Some(&json!({"name": format!("t{i}")})),
        );
        assert_eq!(r.status, 201, "{r:?}");
    }
    let mut seen = Vec::new();
    let mut path = "/api/v1/tokens?limit=2&sort=name".to_string();
    loop {
        let page = json(&w.bearer("GET", &path, &token, None));
        for t in page["tokens"].as_array().unwrap() {
            seen.push(t["name"].as_str().unwrap().to_string());
        }
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/tokens?limit=2&sort=name&after={next}"),
            None => break,
        }
    }
    assert_eq!(seen, ["api", "t0", "t1", "t2", "t3"]);
    assert_error(
        &w.bearer("GET", "/api/v1/tokens?limit=0", &token, None),
        422,
        "out_of_bounds",
    );
    assert_error(
        &w.bearer("GET", "/api/v1/tokens?after=zz", &token, None),
        400,
        "malformed",
    );
}

#[test]
fn web_regular_user_is_held_to_section_6_table() {
    let (alice, bob) = (unique_name("wal"), unique_name("wbo"));
    let w = WebDaemon::start(&[&alice, &bob], "");
    let bobs = w.daemon.create_token(&bob);
    let bob_id = token_id(&bobs);
    let s = w.login(&alice, USER_PASSWORD);
    assert_eq!(json(&s.get(&w, "/api/v1/me"))["admin"], false);
    let own = s.send(&w, "POST", "/api/v1/tokens", Some(&json!({"name": "mine"})));
    assert_eq!(own.status, 201, "{own:?}");

    for (method, path, body) in refused_to_a_user(&bob, bob_id) {
        let r = s.send(&w, method, &path, body.as_ref());
        assert_error(&r, 403, "permission_denied");
    }
    // Nothing changed: the setting, bob's token.
    assert_eq!(
        json(&s.get(&w, "/api/v1/settings"))["password-auth"],
        "on",
        "settings are readable"
    );
    assert_eq!(
        json_cli(&w, &["list", "--user", &bob, "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A user sees their own audit events only.
    let audit = json(&s.get(&w, "/api/v1/audit"));
    let events = audit["events"].as_array().unwrap();
    assert!(
        !events.is_empty() && events.iter().all(|e| e["user"] == alice.as_str()),
        "{audit}"
    );

    admin_only_create_holds_for_the_web(&w, &s, &alice);
}

/// Every request a regular user may not make of another user's things or the settings.
fn refused_to_a_user(bob: &str, bob_id: &str) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        (
            "PUT",
            "/api/v1/settings/password-auth".to_string(),
            Some(json!({"value": "off"})),
        ),
        (
            "POST",
            "/api/v1/tokens".to_string(),
            Some(json!({"user": bob})),
        ),
        ("DELETE", format!("/api/v1/tokens/{bob_id}"), None),
        (
            "PATCH",
            format!("/api/v1/tokens/{bob_id}"),
            Some(json!({"name": "x"})),
        ),
        (
            "POST",
            format!("/api/v1/tokens/{bob_id}/rotate"),
            Some(json!({})),
        ),
        ("DELETE", format!("/api/v1/users/{bob}/tokens"), None),
        ("DELETE", format!("/api/v1/failures/{bob}"), None),
        ("GET", format!("/api/v1/tokens/{bob_id}"), None),
        ("GET", format!("/api/v1/tokens?user={bob}"), None),
        ("GET", "/api/v1/tokens?all=true".to_string(), None),
        ("GET", "/api/v1/failures".to_string(), None),
        ("GET", format!("/api/v1/audit?user={bob}"), None),
    ]
}

/// admin-only-create: the create refused, `can_create` false, rotation refused too; an
/// admin still creates for the user.
fn admin_only_create_holds_for_the_web(w: &WebDaemon, s: &Session, alice: &str) {
    let root = w.manage_token("root");
    let r = w.bearer(
        "PUT",
        "/api/v1/settings/admin-only-create",
        &root,
        Some(&json!({"value": "on"})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json(&s.get(w, "/api/v1/me"))["can_create"], false);
    assert_error(
        &s.send(w, "POST", "/api/v1/tokens", Some(&json!({}))),
        403,
        "permission_denied",
    );
    let made = w.bearer(
        "POST",
        "/api/v1/tokens",
        &root,
        Some(&json!({"user": alice, "name": "from admin"})),
    );
    assert_eq!(
        made.status, 201,
        "an admin still creates for the user: {made:?}"
    );
}

#[test]
fn web_manage_scope_is_required_of_tokens() {
    let user = unique_name("wsc");
    let w = WebDaemon::start(&[&user], "");
    let manage = w.manage_token(&user);
    let everything = w.daemon.create_token(&user);
    let out = w
        .daemon
        .cli(&["create", "--user", &user, "--scope", "read"]);
    let read = crate::common::stdout(&out);
    for t in [&everything, &read] {
        assert_error(&w.bearer("GET", "/api/v1/me", t, None), 403, "scope");
        assert_error(
            &w.bearer("POST", "/api/v1/tokens", t, Some(&json!({}))),
            403,
            "scope",
        );
        assert_error(&w.basic("GET", "/api/v1/me", &user, t, None), 403, "scope");
    }
    let me = w.bearer("GET", "/api/v1/me", &manage, None);
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(json(&me)["user"], user.as_str());
    assert!(json(&me).get("csrf").is_none(), "no session, no CSRF token");
    let me = w.basic("GET", "/api/v1/me", &user, &manage, None);
    assert_eq!(
        me.status, 200,
        "Basic with the owner and a manage token: {me:?}"
    );
    // A manage token acts as its owner, no more: it cannot touch settings.
    assert_error(
        &w.bearer(
            "PUT",
            "/api/v1/settings/password-auth",
            &manage,
            Some(&json!({"value": "off"})),
        ),
        403,
        "permission_denied",
    );
    // Made over the API with the manage scope, it needs no CSRF token (no cookie).
    let made = w.bearer(
        "POST",
        "/api/v1/tokens",
        &manage,
        Some(&json!({"scopes": ["manage"]})),
    );
    assert_eq!(made.status, 201, "{made:?}");
    assert_eq!(json(&made)["scopes"], "manage");
    // Basic with the account password while password-auth is on.
    let me = w.basic("GET", "/api/v1/me", &user, USER_PASSWORD, None);
    assert_eq!(me.status, 200, "{me:?}");
}

//! Every row of SPEC §11's REST table, with §6's permissions and `via=web` on every change.

use serde_json::json;

use crate::common::tokens::unique_name;
use crate::harness::{assert_error, json, WebDaemon, ROOT_PASSWORD, USER_PASSWORD};

#[test]
fn web_api_every_row_as_admin_session_is_audited_via_web() {
    let user = unique_name("wa");
    let w = WebDaemon::start(&[&user], "");
    let s = w.login("root", ROOT_PASSWORD);

    let me = json(&s.get(&w, "/api/v1/me"));
    assert_eq!(me["user"], "root");
    assert_eq!(me["admin"], true);
    assert_eq!(me["csrf"], s.csrf.as_str());
    assert_eq!(me["can_create"], true);
    assert_eq!(me["allowed_validity"], json!(["6m", "1y", "2y", "never"]));

    // Create for oneself and, as an admin, for another user.
    let mine = s.send(
        &w,
        "POST",
        "/api/v1/tokens",
        Some(&json!({"name": "laptop", "expires": "30d"})),
    );
    assert_eq!(mine.status, 201, "{mine:?}");
    let mine = json(&mine);
    let token = mine["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("atk_"));
    assert_eq!(mine["user"], "root");
    assert_eq!(
        mine["scopes"], "read,write,login",
        "manage is never a default"
    );
    let id = mine["id"].as_str().unwrap().to_string();
    let theirs = s.send(&w, "POST", "/api/v1/tokens", Some(&json!({
        "user": user, "name": "ci", "scopes": ["read"], "paths": ["/api/ci/"], "networks": ["10.0.0.0/8"]
    })));
    assert_eq!(theirs.status, 201, "{theirs:?}");
    let theirs = json(&theirs);
    assert_eq!(theirs["user"], user.as_str());
    assert_eq!(theirs["paths"], json!(["/api/ci/"]));
    // The token made on the web works at nginx's auth endpoint like any other.
    let auth = crate::common::http::unix_request(
        &w.daemon.http_sock(),
        "GET",
        "/auth",
        &[("Authorization", &crate::common::tokens::bearer(&token))],
        b"",
    );
    assert_eq!(auth.status, 200, "{auth:?}");

    // List (own by default, others' and all for admins), show, rename.
    let list = json(&s.get(&w, "/api/v1/tokens"));
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["tokens"][0].get("token").is_none(), "never the secret");
    let list = json(&s.get(&w, &format!("/api/v1/tokens?user={user}")));
    assert_eq!(list["tokens"][0]["name"], "ci");
    let list = json(&s.get(&w, "/api/v1/tokens?all=true"));
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
    let shown = json(&s.get(&w, &format!("/api/v1/tokens/{id}")));
    assert_eq!(shown["name"], "laptop");
    let renamed = s.send(
        &w,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(&json!({"name": "desk"})),
    );
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert_eq!(json(&renamed)["name"], "desk");
    assert_eq!(
        json(&s.get(&w, &format!("/api/v1/tokens/{id}")))["name"],
        "desk"
    );

    // Rotate: a new token, the old one stops after its grace.
    let rotated = s.send(
        &w,
        "POST",
        &format!("/api/v1/tokens/{id}/rotate"),
        Some(&json!({"grace": "0"})),
    );
    assert_eq!(rotated.status, 201, "{rotated:?}");
    let rotated = json(&rotated);
    let new_id = rotated["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert!(rotated["token"].as_str().unwrap().starts_with("atk_"));

    // Delete one, delete all of a user.
    let del = s.send(&w, "DELETE", &format!("/api/v1/tokens/{new_id}"), None);
    assert_eq!(del.status, 204, "{del:?}");
    assert_error(
        &s.get(&w, &format!("/api/v1/tokens/{new_id}")),
        404,
        "not_found",
    );
    let all = s.send(&w, "DELETE", &format!("/api/v1/users/{user}/tokens"), None);
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(json(&all)["count"], 1);
    assert_eq!(json(&all)["ids"], json!([theirs["id"]]));

    // Settings: read, change (as the settings object), refused values.
    let settings = json(&s.get(&w, "/api/v1/settings"));
    assert_eq!(settings["max-validity"], "never");
    let changed = s.send(
        &w,
        "PUT",
        "/api/v1/settings/max-validity",
        Some(&json!({"value": "1y"})),
    );
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(json(&changed)["max-validity"], "1y");
    let nets = s.send(
        &w,
        "PUT",
        "/api/v1/settings/allowed-networks",
        Some(&json!({"value": ["127.0.0.0/8", "192.0.2.0/24"]})),
    );
    assert_eq!(
        json(&nets)["allowed-networks"],
        json!(["127.0.0.0/8", "192.0.2.0/24"]),
        "{nets:?}"
    );
    let threshold = s.send(
        &w,
        "PUT",
        "/api/v1/settings/lockout-threshold",
        Some(&json!({"value": 5})),
    );
    assert_eq!(json(&threshold)["lockout-threshold"], 5, "{threshold:?}");
    assert_error(
        &s.send(
            &w,
            "PUT",
            "/api/v1/settings/colour",
            Some(&json!({"value": "on"})),
        ),
        400,
        "malformed",
    );
    let cli = json_cli(&w, &["settings", "--json"]);
    assert_eq!(
        cli["max-validity"], "1y",
        "the CLI sees the web's change at once"
    );
    assert_eq!(
        json(&s.get(&w, "/api/v1/me"))["allowed_validity"],
        json!(["6m", "1y"])
    );

    // Failures: a wrong password counts; an admin sees and resets it.
    assert_eq!(w.login_response(&user, "wrong", &[]).status, 401);
    let failures = json(&s.get(&w, "/api/v1/failures"));
    assert!(
        failures
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["user"] == user.as_str() && f["failures"] == 1),
        "{failures}"
    );
    let reset = s.send(&w, "DELETE", &format!("/api/v1/failures/{user}"), None);
    assert_eq!(reset.status, 204, "{reset:?}");
    let failures = json(&s.get(&w, "/api/v1/failures"));
    assert!(
        !failures
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["user"] == user.as_str()),
        "{failures}"
    );

    // Audit: every change above, each with via=web, paged by cursor.
    let audit = json(&s.get(&w, "/api/v1/audit?limit=1000"));
    let events = audit["events"].as_array().unwrap();
    for kind in [
        "token.create",
        "token.rename",
        "token.rotate",
        "token.delete",
        "token.delete_all",
        "settings.change",
        "failures.reset",
    ] {
        let e = events
            .iter()
            .find(|e| e["event"] == kind)
            .unwrap_or_else(|| panic!("no {kind}: {audit}"));
        assert_eq!(e["via"], "web", "{e}");
        assert_eq!(e["actor"], "root", "{e}");
    }
    w.daemon
        .wait_syslog(&["event=token.delete_all", "via=web", &format!("user={user}")]);
    let first = json(&s.get(&w, "/api/v1/audit?limit=2"));
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let second = json(&s.get(&w, &format!("/api/v1/audit?limit=2&after={next}")));
    assert_eq!(
        second["events"][0], events[2],
        "the second page continues the first"
    );

    // Logout ends the session.
    let out = s.send(&w, "DELETE", "/api/v1/session", None);
    assert_eq!(out.status, 204, "{out:?}");
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_error(&s.get(&w, "/api/v1/me"), 401, "unauthorized");
}

fn json_cli(w: &WebDaemon, args: &[&str]) -> serde_json::Value {
    let out = w.daemon.cli(args);
    assert!(out.status.success(), "{}", crate::common::stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

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
    let bob_id = &bobs[4..12];
    let s = w.login(&alice, USER_PASSWORD);
    assert_eq!(json(&s.get(&w, "/api/v1/me"))["admin"], false);
    let own = s.send(&w, "POST", "/api/v1/tokens", Some(&json!({"name": "mine"})));
    assert_eq!(own.status, 201, "{own:?}");

    for (method, path, body) in [
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
    ] {
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

    // admin-only-create: the create refused, `can_create` false, rotation refused too.
    let root = w.manage_token("root");
    let r = w.bearer(
        "PUT",
        "/api/v1/settings/admin-only-create",
        &root,
        Some(&json!({"value": "on"})),
    );
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(json(&s.get(&w, "/api/v1/me"))["can_create"], false);
    assert_error(
        &s.send(&w, "POST", "/api/v1/tokens", Some(&json!({}))),
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

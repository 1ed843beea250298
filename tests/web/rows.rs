//! Every row of SPEC §11's REST table as an admin session, with `via=web` on every change.
//! One daemon walks the table in order; each step is its own function.

use serde_json::{json, Value};

use crate::common::tokens::unique_name;
use crate::harness::{assert_error, json, json_cli, Session, WebDaemon, ROOT_PASSWORD};

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

    let (id, theirs) = create_mine_and_theirs(&w, &s, &user);
    list_show_rename(&w, &s, &user, &id);
    rotate_and_delete(&w, &s, &user, &id, &theirs);
    change_settings(&w, &s);
    see_and_reset_failures(&w, &s, &user);
    audit_is_via_web_and_paged(&w, &s, &user);

    // Logout ends the session.
    let out = s.send(&w, "DELETE", "/api/v1/session", None);
    assert_eq!(out.status, 204, "{out:?}");
    assert!(out.header("set-cookie").unwrap().contains("Max-Age=0"));
    assert_error(&s.get(&w, "/api/v1/me"), 401, "unauthorized");
}

/// Create for oneself and, as an admin, for another user. Returns the own token's id
/// and the other user's token as answered.
fn create_mine_and_theirs(w: &WebDaemon, s: &Session, user: &str) -> (String, Value) {
    let mine = s.send(
        w,
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
    let theirs = s.send(w, "POST", "/api/v1/tokens", Some(&json!({
        "user": user, "name": "ci", "scopes": ["read"], "paths": ["/api/ci/"], "networks": ["10.0.0.0/8"]
    })));
    assert_eq!(theirs.status, 201, "{theirs:?}");
    let theirs = json(&theirs);
    assert_eq!(theirs["user"], user);
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
    (id, theirs)
}

/// List (own by default, others' and all for admins), show, rename.
fn list_show_rename(w: &WebDaemon, s: &Session, user: &str, id: &str) {
    let list = json(&s.get(w, "/api/v1/tokens"));
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1, "{list}");
    assert!(list["tokens"][0].get("token").is_none(), "never the secret");
    let list = json(&s.get(w, &format!("/api/v1/tokens?user={user}")));
    assert_eq!(list["tokens"][0]["name"], "ci");
    let list = json(&s.get(w, "/api/v1/tokens?all=true"));
    assert_eq!(list["tokens"].as_array().unwrap().len(), 2);
    let shown = json(&s.get(w, &format!("/api/v1/tokens/{id}")));
    assert_eq!(shown["name"], "laptop");
    let renamed = s.send(
        w,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(&json!({"name": "desk"})),
    );
    assert_eq!(renamed.status, 200, "{renamed:?}");
    assert_eq!(json(&renamed)["name"], "desk");
    assert_eq!(
        json(&s.get(w, &format!("/api/v1/tokens/{id}")))["name"],
        "desk"
    );
}

/// Rotate: a new token, the old one stops after its grace. Then delete one, delete all
/// of a user.
fn rotate_and_delete(w: &WebDaemon, s: &Session, user: &str, id: &str, theirs: &Value) {
    let rotated = s.send(
        w,
        "POST",
        &format!("/api/v1/tokens/{id}/rotate"),
        Some(&json!({"grace": "0"})),
    );
    assert_eq!(rotated.status, 201, "{rotated:?}");
    let rotated = json(&rotated);
    let new_id = rotated["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert!(rotated["token"].as_str().unwrap().starts_with("atk_"));

    let del = s.send(w, "DELETE", &format!("/api/v1/tokens/{new_id}"), None);
    assert_eq!(del.status, 204, "{del:?}");
    assert_error(
        &s.get(w, &format!("/api/v1/tokens/{new_id}")),
        404,
        "not_found",
    );
    let all = s.send(w, "DELETE", &format!("/api/v1/users/{user}/tokens"), None);
    assert_eq!(all.status, 200, "{all:?}");
    assert_eq!(json(&all)["count"], 1);
    assert_eq!(json(&all)["ids"], json!([theirs["id"]]));
}

/// Settings: read, change (answered with the settings object), a refused key; the CLI
/// sees the change at once.
fn change_settings(w: &WebDaemon, s: &Session) {
    let settings = json(&s.get(w, "/api/v1/settings"));
    assert_eq!(settings["max-validity"], "never");
    let put = |key: &str, value: Value| {
        s.send(
            w,
            "PUT",
            &format!("/api/v1/settings/{key}"),
            Some(&json!({ "value": value })),
        )
    };
    let changed = put("max-validity", json!("1y"));
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(json(&changed)["max-validity"], "1y");
    let nets = put("allowed-networks", json!(["127.0.0.0/8", "192.0.2.0/24"]));
    assert_eq!(
        json(&nets)["allowed-networks"],
        json!(["127.0.0.0/8", "192.0.2.0/24"]),
        "{nets:?}"
    );
    let threshold = put("lockout-threshold", json!(5));
    assert_eq!(json(&threshold)["lockout-threshold"], 5, "{threshold:?}");
    assert_error(&put("colour", json!("on")), 400, "malformed");
    let cli = json_cli(w, &["settings", "--json"]);
    assert_eq!(
        cli["max-validity"], "1y",
        "the CLI sees the web's change at once"
    );
    assert_eq!(
        json(&s.get(w, "/api/v1/me"))["allowed_validity"],
        json!(["6m", "1y"])
    );
}

/// Failures: a wrong password counts; an admin sees and resets it.
fn see_and_reset_failures(w: &WebDaemon, s: &Session, user: &str) {
    let counted = |failures: &Value, count: Option<u64>| {
        failures
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["user"] == user && count.is_none_or(|n| f["failures"] == n))
    };
    assert_eq!(w.login_response(user, "wrong", &[]).status, 401);
    let failures = json(&s.get(w, "/api/v1/failures"));
    assert!(counted(&failures, Some(1)), "{failures}");
    let reset = s.send(w, "DELETE", &format!("/api/v1/failures/{user}"), None);
    assert_eq!(reset.status, 204, "{reset:?}");
    let failures = json(&s.get(w, "/api/v1/failures"));
    assert!(!counted(&failures, None), "{failures}");
}

/// Audit: every change above, each with via=web, paged by cursor.
fn audit_is_via_web_and_paged(w: &WebDaemon, s: &Session, user: &str) {
    let audit = json(&s.get(w, "/api/v1/audit?limit=1000"));
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
    let first = json(&s.get(w, "/api/v1/audit?limit=2"));
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let next = first["next"].as_str().unwrap();
    let second = json(&s.get(w, &format!("/api/v1/audit?limit=2&after={next}")));
    assert_eq!(
        second["events"][0], events[2],
        "the second page continues the first"
    );
}

//! Sessions: cookie flags, CSRF on every change, idle and absolute expiry, the login
//! rules (password-auth does not govern it; backend "none" does).

use serde_json::json;

use crate::common::run::sqlite;
use crate::common::tokens::{token_id, unique_name};
use crate::harness::{assert_error, json, WebDaemon, ROOT_PASSWORD, USER_PASSWORD};

#[test]
fn web_session_cookie_flags_and_only_a_hash_stored() {
    let w = WebDaemon::start(&[], "");
    let s = w.login("root", ROOT_PASSWORD);
    let c = &s.set_cookie;
    assert!(c.starts_with("apitokend_session="), "{c}");
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(c.contains(flag), "{flag} missing: {c}");
    }
    assert!(!c.contains("Secure"), "plain http: {c}");
    let tls = w.login_response(
        "root",
        ROOT_PASSWORD,
        &[
            ("X-Forwarded-Proto", b"https"),
            ("X-Forwarded-Prefix", b"/tokens"),
        ],
    );
    let c = tls.header("set-cookie").unwrap();
    assert!(c.contains("; Secure") && c.contains("Path=/tokens/"), "{c}");
    let id = s.cookie.split_once('=').unwrap().1;
    let stored = sqlite(&w.daemon.db_path(), "SELECT id_hash FROM sessions");
    assert!(!stored.contains(id), "the session id itself is stored");
    assert_eq!(stored.lines().count(), 2, "{stored}");
    // A new id at every login.
    let again = w.login("root", ROOT_PASSWORD);
    assert_ne!(again.cookie, s.cookie);
    assert_ne!(again.csrf, s.csrf);
}

#[test]
fn web_csrf_missing_or_wrong_is_refused_and_changes_nothing() {
    let w = WebDaemon::start(&[], "");
    let s = w.login("root", ROOT_PASSWORD);
    let body = json!({"name": "csrf"});
    for csrf in [None, Some("0".repeat(32).as_str()), Some("")] {
        assert_error(
            &s.send_csrf(&w, "POST", "/api/v1/tokens", Some(&body), csrf),
            403,
            "csrf",
        );
        assert_error(
            &s.send_csrf(
                &w,
                "PUT",
                "/api/v1/settings/password-auth",
                Some(&json!({"value": "off"})),
                csrf,
            ),
            403,
            "csrf",
        );
        assert_error(
            &s.send_csrf(&w, "DELETE", "/api/v1/session", None, csrf),
            403,
            "csrf",
        );
    }
    // Another session's token does not fit this one.
    let other = w.login("root", ROOT_PASSWORD);
    assert_error(
        &s.send_csrf(&w, "POST", "/api/v1/tokens", Some(&body), Some(&other.csrf)),
        403,
        "csrf",
    );
    assert_eq!(json(&s.get(&w, "/api/v1/tokens"))["tokens"], json!([]));
    assert_eq!(json(&s.get(&w, "/api/v1/settings"))["password-auth"], "on");
    assert_eq!(
        s.send(&w, "POST", "/api/v1/tokens", Some(&body)).status,
        201
    );
}

#[test]
fn web_session_ends_after_idle_and_absolute_limits() {
    let w = WebDaemon::start(&[], "[web]\nidle_minutes = 5\nmax_hours = 1\n");
    let db = w.daemon.db_path();
    let idle = w.login("root", ROOT_PASSWORD);
    assert_eq!(idle.get(&w, "/api/v1/me").status, 200);
    // Five minutes without a request, as the store records it.
    sqlite(&db, "UPDATE sessions SET last_seen = last_seen - 301");
    assert_error(&idle.get(&w, "/api/v1/me"), 401, "unauthorized");
    assert_eq!(
        sqlite(&db, "SELECT count(*) FROM sessions"),
        "0",
        "the expired row is gone"
    );

    let busy = w.login("root", ROOT_PASSWORD);
    sqlite(
        &db,
        "UPDATE sessions SET created_at = created_at - 3500, last_seen = last_seen - 200",
    );
    assert_eq!(busy.get(&w, "/api/v1/me").status, 200, "inside both limits");
    sqlite(&db, "UPDATE sessions SET created_at = created_at - 101");
    assert_error(&busy.get(&w, "/api/v1/me"), 401, "unauthorized");
}

#[test]
fn web_login_ignores_password_auth_but_not_backend_none() {
    let user = unique_name("wpw");
    let w = WebDaemon::start(&[&user], "");
    assert!(w
        .daemon
        .cli(&["settings", "set", "password-auth", "off"])
        .status
        .success());
    let s = w.login(&user, USER_PASSWORD);
    assert_eq!(json(&s.get(&w, "/api/v1/me"))["user"], user.as_str());
    assert_error(
        &w.basic("GET", "/api/v1/me", &user, USER_PASSWORD, None),
        403,
        "permission_denied",
    );

    let none = crate::common::Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    crate::harness::wait_web(&none);
    let r = crate::common::http::unix_request(
        &none.runtime.join("web.sock"),
        "POST",
        "/api/v1/session",
        &[("Content-Type", b"application/json")],
        br#"{"user":"root","password":"anything"}"#,
    );
    assert_error(&r, 403, "permission_denied");
}

#[test]
fn web_disabled_binds_nothing() {
    let d = crate::common::Daemon::start_with("[web]\nenabled = false\n", &[]);
    assert!(!d.runtime.join("web.sock").exists());
}

/// **Revocation is immediate** (SPEC §13): a manage token opens no session that outlives
/// it. A session keyed only by its owner would go on minting tokens for `max_hours`
/// after `apitoken delete`.
#[test]
fn revocation_is_immediate_a_deleted_token_leaves_no_session_behind() {
    let user = unique_name("wrv");
    let w = WebDaemon::start(&[&user], "");
    let token = w.manage_token(&user);
    let resp = w.login_response(&user, &token, &[]);
    let id = token_id(&token);
    w.daemon.cli_ok(&["delete", id]);
    if resp.status == 201 {
        let s = crate::harness::Session::from_login(&resp);
        let body = json!({"name": "after the delete"});
        let r = s.send(&w, "POST", "/api/v1/tokens", Some(&body));
        assert_eq!(
            r.status, 401,
            "the deleted token's session still acts: {r:?}"
        );
    }
    assert_error(
        &w.bearer("GET", "/api/v1/me", &token, None),
        401,
        "unauthorized",
    );
}

//! Every error code of SPEC §11, and hostile bodies: each gets its JSON error and changes
//! nothing.

use serde_json::json;

use crate::common::tokens::{secret_part, token_id, unique_name};
use crate::harness::{assert_error, json, Session, WebDaemon, ROOT_PASSWORD, USER_PASSWORD};

/// Malformed, mistyped and oversized bodies, and a secret where a number belongs (not
/// echoed back), each get their JSON error.
fn assert_bad_bodies(w: &WebDaemon, t: &str, auth: &[u8]) {
    let send = |body: &[u8], ctype: &[u8]| {
        w.call(
            "POST",
            "/api/v1/tokens",
            &[("Authorization", auth), ("Content-Type", ctype)],
            body,
        )
    };
    let jsonc = b"application/json" as &[u8];
    assert_error(&send(b"{\"name\":", jsonc), 400, "malformed");
    assert_error(&send(b"[1,2]", jsonc), 400, "malformed");
    assert_error(&send(b"{\"name\":\"\xff\xfe\"}", jsonc), 400, "malformed");
    assert_error(&send(b"{\"colour\":1}", jsonc), 400, "malformed");
    assert_error(
        &send(b"{\"name\":\"x\"}", b"text/plain"),
        415,
        "unsupported_media_type",
    );
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(70 * 1024));
    assert_error(&send(big.as_bytes(), jsonc), 413, "too_large");
    // A secret sent where a number belongs is not echoed back.
    let r = w.call(
        "PUT",
        "/api/v1/settings/lockout-threshold",
        &[("Authorization", auth), ("Content-Type", jsonc)],
        format!("{{\"value\":{{\"x\":\"{t}\"}}}}").as_bytes(),
    );
    assert_error(&r, 400, "malformed");
    assert!(!r.text().contains(&t[4..]), "{r:?}");
}

/// Malformed paths and queries, unknown paths and ids, and a wrong method each get their
/// JSON error.
fn assert_bad_paths(w: &WebDaemon, t: &str, auth: &[u8]) {
    assert_error(
        &w.call("GET", "/api/v1/tokens/%ff", &[("Authorization", auth)], b""),
        400,
        "malformed",
    );
    assert_error(
        &w.call(
            "GET",
            "/api/v1/tokens?limit=x",
            &[("Authorization", auth)],
            b"",
        ),
        400,
        "malformed",
    );
    // Found by schemathesis: a filter ending in a multibyte character made a 500.
    let odd = "/api/v1/tokens?created_after=%C2%85%C3%AEJP%F4%84%B5%BA&reverse=true";
    assert_error(
        &w.call("GET", odd, &[("Authorization", auth)], b""),
        400,
        "malformed",
    );
    assert_error(
        &w.call("GET", "/api/v1/nothing", &[("Authorization", auth)], b""),
        404,
        "not_found",
    );
    assert_error(
        &w.call("PUT", "/api/v1/tokens", &[("Authorization", auth)], b""),
        405,
        "method_not_allowed",
    );
    assert_error(
        &w.bearer("GET", "/api/v1/tokens/notanid!", t, None),
        400,
        "malformed",
    );
    assert_error(
        &w.bearer("GET", "/api/v1/tokens/AAAAAAAA", t, None),
        404,
        "not_found",
    );
    assert_error(
        &w.bearer("DELETE", "/api/v1/tokens/AAAAAAAA", t, None),
        404,
        "not_found",
    );
}

#[test]
fn web_malformed_oversized_and_non_utf8_bodies_get_json_errors() {
    let w = WebDaemon::start(&[], "");
    let t = w.manage_token("root");
    let auth = crate::common::tokens::bearer(&t);
    assert_bad_bodies(&w, &t, &auth);
    assert_bad_paths(&w, &t, &auth);
    // Only the manage token exists still.
    let list = json(&w.bearer("GET", "/api/v1/tokens", &t, None));
    assert_eq!(list["tokens"].as_array().unwrap().len(), 1, "{list}");
}

#[test]
fn web_unauthorized_answers_401_with_basic_challenge() {
    let user = unique_name("wun");
    let w = WebDaemon::start(&[&user], "");
    let none = w.call("GET", "/api/v1/me", &[], b"");
    assert_error(&none, 401, "unauthorized");
    assert_eq!(
        none.header("www-authenticate"),
        Some("Basic realm=\"apitokend\"")
    );
    let wrong = w.basic("GET", "/api/v1/me", &user, "wrong password", None);
    assert_error(&wrong, 401, "unauthorized");
    assert_eq!(
        wrong.header("www-authenticate"),
        Some("Basic realm=\"apitokend\"")
    );
    let forged = crate::common::tokens::forged_token("AAAAAAAA");
    assert_error(
        &w.bearer("GET", "/api/v1/me", &forged, None),
        401,
        "unauthorized",
    );
    assert_error(
        &w.call(
            "GET",
            "/api/v1/me",
            &[("Cookie", b"apitokend_session=nosuch")],
            b"",
        ),
        401,
        "unauthorized",
    );
    assert_error(&w.login_response(&user, "wrong", &[]), 401, "unauthorized");
}

#[test]
fn web_limits_answer_409_and_422_naming_the_limit() {
    let w = WebDaemon::start(&[], "");
    let t = w.manage_token("root");
    for (key, value) in [("max-validity", "6m"), ("max-tokens-per-user", "2")] {
        let r = w.bearer(
            "PUT",
            &format!("/api/v1/settings/{key}"),
            &t,
            Some(&json!({"value": value})),
        );
        assert_eq!(r.status, 200, "{r:?}");
    }
    let r = w.bearer(
        "POST",
        "/api/v1/tokens",
        &t,
        Some(&json!({"expires": "1y"})),
    );
    assert_error(&r, 422, "out_of_bounds");
    assert!(
        json(&r)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("6m"),
        "{r:?}"
    );
    assert_error(
        &w.bearer(
            "POST",
            "/api/v1/tokens",
            &t,
            Some(&json!({"expires": "sometime"})),
        ),
        400,
        "malformed",
    );
    assert_eq!(
        w.bearer(
            "POST",
            "/api/v1/tokens",
            &t,
            Some(&json!({"expires": "30d"}))
        )
        .status,
        201
    );
    let r = w.bearer("POST", "/api/v1/tokens", &t, Some(&json!({})));
    assert_error(&r, 409, "limit");
    assert!(
        json(&r)["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max-tokens-per-user"),
        "{r:?}"
    );
}

/// Two wrong passwords lock `user` out of every way in (password, token `t`, session
/// `s`) until root resets the failures.
fn assert_locked_until_reset(w: &WebDaemon, user: &str, t: &str, s: &Session) {
    assert!(w
        .daemon
        .cli(&["settings", "set", "lockout-threshold", "2"])
        .status
        .success());
    for _ in 0..2 {
        assert_error(&w.login_response(user, "wrong", &[]), 401, "unauthorized");
    }
    assert_error(&w.login_response(user, USER_PASSWORD, &[]), 403, "locked");
    assert_error(&w.bearer("GET", "/api/v1/me", t, None), 403, "locked");
    assert_error(&s.get(w, "/api/v1/me"), 403, "locked");
    let root = w.login("root", ROOT_PASSWORD);
    assert_eq!(
        root.send(w, "DELETE", &format!("/api/v1/failures/{user}"), None)
            .status,
        204
    );
    assert_eq!(
        w.bearer("GET", "/api/v1/me", t, None).status,
        200,
        "reset unlocks"
    );
}

#[test]
fn web_ip_denied_and_locked_answer_403() {
    let user = unique_name("wip");
    let w = WebDaemon::start(&[&user], "");
    let t = w.manage_token(&user);
    let s = w.login(&user, USER_PASSWORD);
    let cli = w.daemon.cli(&["allow-ip", "add", "192.0.2.0/24"]);
    assert!(cli.status.success());
    let outside: &[(&str, &[u8])] = &[("X-Real-IP", b"198.51.100.7")];
    let inside: &[(&str, &[u8])] = &[("X-Real-IP", b"192.0.2.7")];
    let auth = crate::common::tokens::bearer(&t);
    assert_error(
        &w.call(
            "GET",
            "/api/v1/me",
            &[outside[0], ("Authorization", &auth)],
            b"",
        ),
        403,
        "ip_denied",
    );
    assert_eq!(
        w.call(
            "GET",
            "/api/v1/me",
            &[inside[0], ("Authorization", &auth)],
            b""
        )
        .status,
        200
    );
    assert_error(
        &w.login_response(&user, USER_PASSWORD, outside),
        403,
        "ip_denied",
    );
    // A session opened earlier is held to the list as well.
    let cookie = s.cookie.as_bytes();
    assert_error(
        &w.call("GET", "/api/v1/me", &[outside[0], ("Cookie", cookie)], b""),
        403,
        "ip_denied",
    );
    assert!(w.daemon.cli(&["allow-ip", "clear"]).status.success());

    assert_locked_until_reset(&w, &user, &t, &s);
}

#[test]
fn web_login_throttle_answers_429() {
    let w = WebDaemon::start(&[], "");
    assert!(w
        .daemon
        .cli(&["settings", "set", "lockout-threshold", "0"])
        .status
        .success());
    let from: &[(&str, &[u8])] = &[("X-Real-IP", b"203.0.113.5")];
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(w.login_response("nobody-here", "wrong", from).status);
    }
    assert_eq!(&statuses[..10], &[401; 10]);
    let r = w.login_response("root", ROOT_PASSWORD, from);
    assert_error(&r, 429, "throttled");
    assert!(r.header("retry-after").is_some(), "{r:?}");
    // Another address is not held back.
    assert_eq!(
        w.login_response("root", ROOT_PASSWORD, &[("X-Real-IP", b"203.0.113.6")])
            .status,
        201
    );
}

/// A token pasted into the wrong field (a name, a validity, a duration, a scope, a path,
/// a network, a sort key, a JSON key) is neither stored as a name nor quoted back in the
/// error: messages keep only its public id.
#[test]
fn secrets_never_reach_web_errors_or_the_database_a_token_in_the_wrong_field() {
    let user = unique_name("wsf");
    let w = WebDaemon::start(&[&user], "");
    let t = w.daemon.create_token(&user);
    let (id, secret) = (token_id(&t), secret_part(&t));
    let s = w.login(&user, USER_PASSWORD);
    let rename = s.send(
        &w,
        "PATCH",
        &format!("/api/v1/tokens/{id}"),
        Some(&json!({"name": format!("ci {t}")})),
    );
    assert_error(&rename, 400, "malformed");
    let rotate = format!("/api/v1/tokens/{id}/rotate");
    let mut unknown_key = json!({"name": "x"});
    unknown_key[t.as_str()] = json!(1);
    let sent = [
        ("POST", "/api/v1/tokens", json!({"name": "x", "expires": t})),
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "x", "scopes": [t]}),
        ),
        ("POST", "/api/v1/tokens", json!({"name": "x", "paths": [t]})),
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "x", "networks": [t]}),
        ),
        ("POST", "/api/v1/tokens", unknown_key),
        ("POST", rotate.as_str(), json!({"grace": t})),
        ("POST", rotate.as_str(), json!({"expires": t})),
    ];
    let mut answers: Vec<_> = sent
        .iter()
        .map(|(method, path, body)| s.send(&w, method, path, Some(body)))
        .collect();
    answers.push(s.get(&w, &format!("/api/v1/tokens?sort={t}")));
    answers.push(s.get(&w, &format!("/api/v1/audit?since={t}")));
    answers.push(rename);
    for r in &answers {
        assert_eq!(r.status, 400, "{r:?}");
        assert!(
            !r.text().contains(secret),
            "a secret quoted back: {}",
            r.text()
        );
    }
    let names = json(&s.get(&w, &format!("/api/v1/tokens/{id}")));
    assert!(!names.to_string().contains(secret), "{names}");
    w.daemon.assert_syslog_free_of(secret);
}

//! The page without JavaScript: forms post with the CSRF field; the new token appears on
//! the creation's page only; admin-only-create shows the info box; settings are read-only
//! for regular users.

use crate::common::http::Response;
use crate::common::run;
use crate::common::tokens::{token_id, unique_name};
use crate::harness::{WebDaemon, ROOT_PASSWORD, USER_PASSWORD};

fn form(w: &WebDaemon, path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Response {
    let body: String = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut headers: Vec<(&str, &[u8])> =
        vec![("Content-Type", b"application/x-www-form-urlencoded")];
    if let Some(c) = cookie {
        headers.push(("Cookie", c.as_bytes()));
    }
    w.call("POST", path, &headers, body.as_bytes())
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Logs in through the form; returns the cookie and the page's CSRF token.
fn sign_in(w: &WebDaemon, user: &str, password: &str) -> (String, String) {
    let r = form(w, "/login", None, &[("user", user), ("password", password)]);
    assert_eq!(r.status, 303, "{r:?}");
    let cookie = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let page = get(w, "/", &cookie);
    let text = page.text();
    let at = text.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    let csrf = text[at..at + 32].to_string();
    (cookie, csrf)
}

fn get(w: &WebDaemon, path: &str, cookie: &str) -> Response {
    w.call("GET", path, &[("Cookie", cookie.as_bytes())], b"")
}

#[test]
fn web_page_works_without_javascript_and_shows_the_token_once() {
    let w = WebDaemon::start(&[], "");
    anonymous_page_is_self_contained(&w);
    let (cookie, csrf) = sign_in(&w, "root", ROOT_PASSWORD);
    let token = create_through_the_form(&w, &cookie, &csrf);
    revoke_needs_confirmation_and_csrf(&w, &cookie, &csrf, token_id(&token));
    admin_changes_a_setting_and_every_tab_renders(&w, &cookie, &csrf);
    let out = form(&w, "/logout", Some(&cookie), &[("csrf", &csrf)]);
    assert_eq!(out.status, 303);
    assert!(
        get(&w, "/", &cookie).text().contains("login-user"),
        "signed out"
    );
}

/// The signed-out page: a login form, a strict CSP, no external assets, a wrong
/// password refused with an alert.
fn anonymous_page_is_self_contained(w: &WebDaemon) {
    let anon = w.call("GET", "/", &[], b"");
    assert_eq!(anon.status, 200);
    assert!(
        anon.text().contains("<label for=\"login-user\">"),
        "{anon:?}"
    );
    let csp = anon.header("content-security-policy").unwrap();
    assert!(
        csp.starts_with("default-src 'none'") && csp.contains("script-src 'self'"),
        "{csp}"
    );
    assert!(
        !anon.text().contains("http://") && !anon.text().contains("https://"),
        "no external assets"
    );
    for asset in ["/static/app.css", "/static/app.js"] {
        assert_eq!(w.call("GET", asset, &[], b"").status, 200);
    }
    let bad = form(
        w,
        "/login",
        None,
        &[("user", "root"), ("password", "wrong")],
    );
    assert_eq!(bad.status, 401);
    assert!(bad.text().contains("role=\"alert\""), "{bad:?}");
}

/// A token made through the HTML form, shown once only. Returns the token.
fn create_through_the_form(w: &WebDaemon, cookie: &str, csrf: &str) -> String {
    let made = form(
        w,
        "/tokens",
        Some(cookie),
        &[
            ("csrf", csrf),
            ("tab", "mine"),
            ("name", "from the page"),
            ("expires", "1y"),
            ("scope_read", "on"),
            ("paths", "/api/ci/\n"),
        ],
    );
    assert_eq!(made.status, 201, "{made:?}");
    let text = made.text();
    let at = text.find("id=\"new-token\">").unwrap() + 15;
    let token = &text[at..at + 50];
    assert!(token.starts_with("atk_"), "{token}");
    let listed = run::json(&w.daemon.cli(&["list", "--json"]));
    assert_eq!(listed[0]["scopes"], "read");
    assert_eq!(listed[0]["paths"], serde_json::json!(["/api/ci/"]));
    let after = get(w, "/", cookie).text();
    assert!(
        after.contains("from the page") && !after.contains(&token[13..]),
        "shown once only"
    );
    token.to_string()
}

/// Revoking asks first; without the CSRF field nothing is revoked.
fn revoke_needs_confirmation_and_csrf(w: &WebDaemon, cookie: &str, csrf: &str, id: &str) {
    let confirm = get(w, &format!("/?tab=mine&confirm={id}"), cookie).text();
    assert!(
        confirm.contains("Revoke this token?") && confirm.contains("from the page"),
        "{confirm}"
    );
    let refused = form(
        w,
        &format!("/tokens/{id}/revoke"),
        Some(cookie),
        &[("csrf", "x")],
    );
    assert_eq!(refused.status, 403, "{refused:?}");
    assert!(get(w, "/", cookie).text().contains(id));
    let revoked = form(
        w,
        &format!("/tokens/{id}/revoke"),
        Some(cookie),
        &[("csrf", csrf), ("tab", "mine")],
    );
    assert_eq!(revoked.status, 303, "{revoked:?}");
    assert!(!get(w, "/", cookie).text().contains(id));
}

/// An admin changes a setting; every tab renders.
fn admin_changes_a_setting_and_every_tab_renders(w: &WebDaemon, cookie: &str, csrf: &str) {
    let saved = form(
        w,
        "/settings",
        Some(cookie),
        &[("csrf", csrf), ("key", "max-validity"), ("value", "1y")],
    );
    assert_eq!(saved.status, 303, "{saved:?}");
    let settings = get(w, "/?tab=settings", cookie).text();
    assert!(
        settings.contains("<option selected>1y</option>"),
        "{settings}"
    );
    for tab in ["manager", "audit", "failures"] {
        assert_eq!(get(w, &format!("/?tab={tab}"), cookie).status, 200, "{tab}");
    }
}

#[test]
fn web_page_regular_user_sees_info_box_and_read_only_settings() {
    let user = unique_name("wpg");
    let w = WebDaemon::start(&[&user], "");
    assert!(w
        .daemon
        .cli(&["settings", "set", "admin-only-create", "on"])
        .status
        .success());
    let (cookie, csrf) = sign_in(&w, &user, USER_PASSWORD);
    let mine = get(&w, "/", &cookie).text();
    assert!(
        mine.contains("Only administrators can create tokens"),
        "{mine}"
    );
    assert!(!mine.contains("action=\"/tokens\""), "no create form");
    assert!(!mine.contains("Token manager") && !mine.contains("Failed logins"));
    // A create from a page still open is refused.
    let r = form(
        &w,
        "/tokens",
        Some(&cookie),
        &[("csrf", &csrf), ("name", "x"), ("scope_read", "on")],
    );
    assert_eq!(r.status, 403, "{r:?}");
    let settings = get(&w, "/?tab=settings", &cookie).text();
    assert!(
        settings.contains("Only administrators change these settings")
            && !settings.contains("action=\"/settings\"")
    );
    let r = form(
        &w,
        "/settings",
        Some(&cookie),
        &[("csrf", &csrf), ("key", "password-auth"), ("value", "off")],
    );
    assert_eq!(r.status, 403, "{r:?}");
    let s = run::json(&w.daemon.cli(&["settings", "--json"]));
    assert_eq!(s["password-auth"], "on");
    // Only the allowed validity choices are offered.
    assert!(w
        .daemon
        .cli(&["settings", "set", "admin-only-create", "off"])
        .status
        .success());
    assert!(w
        .daemon
        .cli(&["settings", "set", "max-validity", "6m"])
        .status
        .success());
    let mine = get(&w, "/", &cookie).text();
    assert!(
        mine.contains("<option value=\"6m\">")
            && !mine.contains("value=\"1y\"")
            && !mine.contains("value=\"never\""),
        "{mine}"
    );
}

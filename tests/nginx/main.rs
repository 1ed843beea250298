//! End to end through a real nginx configured from `packaging/nginx/apitokend.conf`
//! (SPEC section 7), and straight against `http.sock` with raw HTTP/1.1 (`http_sock`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
mod http_sock;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;
mod password;

use std::io::{BufReader, Write};

use common::http::{
    format_request, read_response, unix_connect, unix_request, Headers, OwnedHeaders, Response,
};
use common::pam::{env_refs, pam_matrix_backend};
use common::tokens::{
    bad_checksum, basic, bearer, forged_token, token_id, unique_name, with_checksum,
};
use common::{Daemon, TOKENS_ONLY};
use nginx_harness::{start_tokens_only, Nginx};

const CHALLENGE: &str = "Basic realm=\"apitokend\"";

#[track_caller]
fn assert_allowed(resp: &Response, user: &str, method: &str) {
    assert_eq!(resp.status, 200, "expected 200 for {user}, got {resp:?}");
    assert_eq!(
        resp.echoed("user").as_deref(),
        Some(user),
        "X-Remote-User seen by the application: {resp:?}"
    );
    assert_eq!(
        resp.echoed("method").as_deref(),
        Some(method),
        "X-Remote-Auth-Method: {resp:?}"
    );
}

#[track_caller]
fn assert_challenged(resp: &Response, case: &str) {
    assert_eq!(resp.status, 401, "{case}: expected 401, got {resp:?}");
    assert_eq!(
        resp.header("WWW-Authenticate"),
        Some(CHALLENGE),
        "{case}: {resp:?}"
    );
    assert_eq!(
        resp.echoed("user"),
        None,
        "{case}: the application must not be reached"
    );
}

#[track_caller]
fn assert_forbidden(resp: &Response, case: &str) {
    assert_eq!(resp.status, 403, "{case}: expected 403, got {resp:?}");
    assert_eq!(
        resp.echoed("user"),
        None,
        "{case}: the application must not be reached"
    );
}

#[test]
fn nginx_no_credentials_returns_401_with_basic_challenge() {
    let (_daemon, nginx) = start_tokens_only();
    assert_challenged(&nginx.api(None), "no Authorization header");
}

#[test]
fn nginx_basic_owner_and_token_returns_200_with_user_method_and_id() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngb");
    let token = daemon.create_token(&user);
    let resp = nginx.api(Some(&basic(user.as_bytes(), token.as_bytes())));
    assert_allowed(&resp, &user, "token");
    assert_eq!(resp.echoed("token_id").as_deref(), Some(token_id(&token)));
}

#[test]
fn nginx_bearer_token_returns_200_with_owner() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngr");
    let token = daemon.create_token(&user);
    for round in 0..2 {
        // The second round is answered from the cache and must look the same.
        let resp = nginx.api(Some(&bearer(&token)));
        assert_allowed(&resp, &user, "token");
        assert_eq!(
            resp.echoed("token_id").as_deref(),
            Some(token_id(&token)),
            "round {round}"
        );
    }
    // The shipped snippet passes the client address on in X-Real-IP.
    daemon.wait_syslog(&[
        "event=auth.success",
        &format!("user={user}"),
        "ip=127.0.0.1",
        "via=http",
    ]);
}

#[test]
fn nginx_post_with_body_and_valid_token_returns_200() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngp");
    let token = daemon.create_token(&user);
    let body = vec![b'x'; 64 * 1024];
    let resp = nginx.request(
        "POST",
        "/api/upload",
        &[("Authorization", &bearer(&token))],
        &body,
    );
    assert_allowed(&resp, &user, "token");
}

/// Wrong credentials of every kind for `user` (holding `token`) and `other` (holding
/// `other_token`), each with what it is.
fn bad_credentials(
    user: &str,
    token: &str,
    other: &str,
    other_token: &str,
) -> Vec<(&'static str, Vec<u8>)> {
    let mut non_utf8_user = b"\xff\xfe".to_vec();
    non_utf8_user.extend_from_slice(user.as_bytes());
    let mut non_utf8_secret = token.as_bytes().to_vec();
    non_utf8_secret.extend_from_slice(b"\xc3\x28");
    vec![
        (
            "another user's name with a valid token",
            basic(other.as_bytes(), token.as_bytes()),
        ),
        (
            "valid token of another user under this name",
            basic(user.as_bytes(), other_token.as_bytes()),
        ),
        (
            "basic with a bad checksum",
            basic(user.as_bytes(), bad_checksum(token).as_bytes()),
        ),
        ("bearer with a bad checksum", bearer(&bad_checksum(token))),
        (
            "bearer with a valid checksum and an unknown secret",
            bearer(&forged_token(token_id(token))),
        ),
        (
            "bearer with an unknown id",
            bearer(&forged_token("zzzzzzzz")),
        ),
        ("bearer with a truncated token", bearer(&token[..20])),
        (
            "basic with a wrong password",
            basic(user.as_bytes(), b"not-the-password"),
        ),
        ("basic that is not base64", b"Basic !!not*base64!!".to_vec()),
        (
            "basic without a colon",
            format!("Basic {}", b64(user.as_bytes())).into_bytes(),
        ),
        (
            "basic with a non-UTF-8 user name",
            basic(&non_utf8_user, token.as_bytes()),
        ),
        (
            "basic with a non-UTF-8 secret",
            basic(user.as_bytes(), &non_utf8_secret),
        ),
        ("empty bearer", b"Bearer ".to_vec()),
        (
            "unknown scheme",
            format!("Digest username=\"{user}\"").into_bytes(),
        ),
    ]
}

/// Not one request leaked the secret part of `token` or `other_token` into the log.
fn assert_no_secret_in_syslog(daemon: &Daemon, token: &str, other_token: &str) {
    for secret in [&token[13..], &other_token[13..]] {
        let leaks: Vec<String> = daemon
            .syslog_lines()
            .into_iter()
            .filter(|l| l.contains(secret))
            .collect();
        assert!(leaks.is_empty(), "secret in syslog: {leaks:#?}");
    }
}

#[test]
fn nginx_bad_credentials_return_401_with_challenge() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngx");
    let other = unique_name("ngo");
    let token = daemon.create_token(&user);
    let other_token = daemon.create_token(&other);
    // The forged tokens below only test the daemon if our checksum is the daemon's.
    assert_eq!(
        with_checksum(&token[..token.len() - 6]),
        token,
        "checksum oracle disagrees with the daemon"
    );

    let cases = bad_credentials(&user, &token, &other, &other_token);
    for (case, authorization) in &cases {
        assert_challenged(&nginx.api(Some(authorization)), case);
    }
    // None of that disturbed the valid token.
    assert_allowed(&nginx.api(Some(&bearer(&token))), &user, "token");
    daemon.wait_syslog(&[
        "event=auth.failure",
        &format!("user={other}"),
        "reason=wrong_user",
    ]);
    // Not one of those requests leaked the secret part of a token into the log.
    assert_no_secret_in_syslog(&daemon, &token, &other_token);
}

#[test]
fn nginx_client_remote_user_header_is_replaced_by_the_daemon_answer() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngs");
    let token = daemon.create_token(&user);
    let spoofed: &[(&str, &[u8])] = &[
        ("X-Remote-User", b"root"),
        ("X-Remote-Auth-Method", b"password"),
    ];
    assert_challenged(
        &nginx.get("/api/resource", spoofed),
        "spoofed X-Remote-User without credentials",
    );
    let auth = bearer(&token);
    let mut headers = spoofed.to_vec();
    headers.push(("Authorization", &auth));
    assert_allowed(&nginx.get("/api/resource", &headers), &user, "token");
}

#[test]
fn nginx_token_deleted_after_cached_success_returns_401_on_next_request() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngd");
    let token = daemon.create_token(&user);
    let auth = bearer(&token);
    // Twice, so the second success comes from the cache.
    assert_allowed(&nginx.api(Some(&auth)), &user, "token");
    assert_allowed(&nginx.api(Some(&auth)), &user, "token");
    daemon.cli_ok(&["delete", token_id(&token)]);
    assert_challenged(
        &nginx.api(Some(&auth)),
        "bearer token deleted after a cached success",
    );
    assert_challenged(
        &nginx.api(Some(&basic(user.as_bytes(), token.as_bytes()))),
        "basic with a deleted token",
    );
}

#[test]
fn nginx_allowed_networks_without_client_address_return_403_until_allowed() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngn");
    let token = daemon.create_token(&user);
    let auth = bearer(&token);
    assert_allowed(&nginx.api(Some(&auth)), &user, "token");

    daemon.cli_ok(&["allow-ip", "add", "10.0.0.0/8"]);
    assert_forbidden(
        &nginx.api(Some(&auth)),
        "cached token from 127.0.0.1 outside 10.0.0.0/8",
    );
    // The shipped snippet sets X-Real-IP from the connection, so claiming an allowed
    // address in headers must not help.
    let spoofed: &[(&str, &[u8])] = &[
        ("Authorization", &auth),
        ("X-Real-IP", b"10.1.2.3"),
        ("X-Forwarded-For", b"10.1.2.3"),
    ];
    assert_forbidden(
        &nginx.get("/api/resource", spoofed),
        "client-supplied X-Real-IP/X-Forwarded-For",
    );

    daemon.cli_ok(&["allow-ip", "add", "127.0.0.1"]);
    assert_allowed(&nginx.api(Some(&auth)), &user, "token");
}

#[test]
fn nginx_admin_only_create_with_regular_users_off_returns_403_for_non_admin_token() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngu");
    let user_token = daemon.create_token(&user);
    let root_token = daemon.create_token("root");
    // Warm the cache first: a settings change must apply to cached tokens too.
    assert_allowed(&nginx.api(Some(&bearer(&user_token))), &user, "token");
    assert_allowed(&nginx.api(Some(&bearer(&root_token))), "root", "token");

    daemon.cli_ok(&["settings", "set", "admin-only-create", "on"]);
    daemon.cli_ok(&["settings", "set", "regular-users-use-tokens", "off"]);
    assert_forbidden(
        &nginx.api(Some(&bearer(&user_token))),
        "non-admin bearer token",
    );
    assert_forbidden(
        &nginx.api(Some(&basic(user.as_bytes(), user_token.as_bytes()))),
        "non-admin basic token",
    );
    // root is always an admin.
    assert_allowed(&nginx.api(Some(&bearer(&root_token))), "root", "token");
    assert_allowed(
        &nginx.api(Some(&basic(b"root", root_token.as_bytes()))),
        "root",
        "token",
    );

    daemon.cli_ok(&["settings", "set", "regular-users-use-tokens", "on"]);
    assert_allowed(&nginx.api(Some(&bearer(&user_token))), &user, "token");
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

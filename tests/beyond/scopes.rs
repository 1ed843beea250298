//! Scopes: `read` covers reads (GET, HEAD, OPTIONS, git's fetch), `write` every request,
//! through nginx (judged from `X-Original-Method`) and the Apache helper (told by its
//! `AuthExternalContext`); `login` is for PAM alone.

use crate::common::http::unix_request;
use crate::common::tokens::basic;
use crate::common::Daemon;
use crate::pam::{Outcome, Pam};
use crate::{assert_status, call, external, id, start_tokens_only, TOKENS_ONLY};

#[test]
fn scope_read_token_safe_methods_allowed_others_403() {
    let (daemon, nginx) = start_tokens_only();
    let (token, v) = daemon.create_json(&["--scope", "read", "--name", "reader"]);
    assert_eq!(v["scopes"], "read", "{v}");
    for method in ["GET", "HEAD", "OPTIONS"] {
        let resp = call(&nginx, method, "/api/resource", &token);
        assert_status(&resp, 200, &format!("{method} with a read token"));
    }
    for method in ["POST", "PUT", "PATCH", "DELETE"] {
        let resp = call(&nginx, method, "/api/resource", &token);
        assert_status(&resp, 403, &format!("{method} with a read token"));
        assert!(
            resp.echoed("user").is_none(),
            "{method}: the application was reached: {resp:?}"
        );
    }
    let line = daemon.wait_syslog(&["event=auth.failure", "reason=scope", "DELETE"]);
    assert!(line.contains("via=http"), "{line}");
}

#[test]
fn scope_write_token_every_method_allowed() {
    let (daemon, nginx) = start_tokens_only();
    let (token, _) = daemon.create_json(&["--scope", "write"]);
    for method in ["POST", "DELETE", "PUT", "GET"] {
        let resp = call(&nginx, method, "/api/resource", &token);
        assert_status(&resp, 200, &format!("{method} with a write token"));
        assert_eq!(resp.echoed("token_id").as_deref(), Some(id(&token)));
    }
}

#[test]
fn scope_login_only_token_nginx_403_apache_refused_pam_succeeds() {
    let (daemon, nginx) = start_tokens_only();
    let (token, _) = daemon.create_json(&["--scope", "login", "--user", "alice"]);
    assert_status(
        &call(&nginx, "GET", "/api/resource", &token),
        403,
        "GET with a login-only token",
    );
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), &token),
        Outcome::Success
    );
    assert_eq!(
        external(&daemon, "alice", &token, "/api/x"),
        3,
        "Apache helper"
    );
}

#[test]
fn scope_read_token_pam_auth_err_without_fallback() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let (token, _) = daemon.create_json(&["--scope", "read,write", "--user", "alice"]);
    // pam_matrix holds the token as alice's password: a refusal that fell through to the
    // password modules would be accepted there and show up as success.
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &token)]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), &token),
        Outcome::AuthErr
    );
    daemon.wait_syslog(&["event=auth.failure", "via=pam", "reason=scope"]);
    assert_eq!(
        external(&daemon, "alice", &token, "/api/x"),
        0,
        "Apache helper (a write: no AuthExternalContext)"
    );
}

#[test]
fn scope_read_token_without_original_method_fails_closed() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let (token, _) = daemon.create_json(&["--scope", "read", "--user", "alice"]);
    let auth = basic(b"alice", token.as_bytes());
    let sock = daemon.http_sock();
    // A front end that does not say the method gets a write decision.
    let bare = unix_request(&sock, "GET", "/auth", &[("Authorization", &auth)], b"");
    assert_status(&bare, 403, "read token, no X-Original-Method");
    let get = unix_request(
        &sock,
        "GET",
        "/auth",
        &[
            ("Authorization", &auth),
            ("X-Original-Method", b"get"),
            ("X-Original-URI", b"/x"),
        ],
        b"",
    );
    assert_status(&get, 200, "read token, X-Original-Method: get");
}

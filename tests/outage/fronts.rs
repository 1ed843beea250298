//! Every front end during an outage: within the grace a cached token works and nothing
//! else does (500, `PAM_AUTHINFO_UNAVAIL`, exit 50), each answer quickly; admin commands
//! and the REST API are refused naming the database; past the grace the cached token is
//! refused too; once the database is back, everything works again and nothing refused
//! meanwhile was done.

use std::time::{Duration, Instant};

use crate::common::http::unix_request;
use crate::common::pg::PgServer;
use crate::common::run::external;
use crate::common::tokens::{bearer, token_id};
use crate::common::{eventually, stderr, stdout, Daemon};
use crate::pam::{Outcome, Pam};
use crate::{check, host, status, wait_store};

/// A check during an outage answers within this (generous: the machine may be loaded).
const QUICK: Duration = Duration::from_secs(2);
/// `outage_grace_seconds` of this test: long enough for the checks within it.
const GRACE: u64 = 15;

fn web(h: &Daemon, token: &str, path: &str) -> crate::common::http::Response {
    let sock = h.runtime.join("web.sock");
    let auth = bearer(token);
    let headers: [(&str, &[u8]); 2] = [("Authorization", &auth), ("X-Real-IP", b"127.0.0.1")];
    unix_request(&sock, "GET", path, &headers, b"")
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let out = f();
    (out, started.elapsed())
}

/// The three front ends for one token: http.sock status, PAM outcome, helper exit code.
fn fronts(h: &Daemon, pam: &Pam, token: &str) -> (u16, Outcome, Option<i32>) {
    let (http, took) = check(h, token, "127.0.0.1");
    assert!(took < QUICK, "http.sock took {took:?}");
    let (outcome, took) = timed(|| pam.auth("root", None, token));
    assert!(took < QUICK, "PAM took {took:?}");
    let (code, took) = timed(|| external(&h.check_sock(), "127.0.0.1", None, "root", token));
    assert!(took < QUICK, "apitoken-external took {took:?}");
    (http, outcome, code)
}

fn refused_naming_the_database(h: &Daemon, args: &[&str], port: u16) {
    let (out, took) = timed(|| h.cli(args));
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains(&format!(
            "PostgreSQL at 127.0.0.1:{port}/outage does not answer"
        )),
        "{args:?}: {text}"
    );
    assert!(stdout(&out).is_empty(), "{args:?} printed {}", stdout(&out));
    assert!(took < QUICK, "{args:?} took {took:?}");
}

#[test]
fn outage_cached_tokens_work_within_grace_and_nothing_else_on_any_front_end() {
    let server = PgServer::start();
    server.database("outage");
    let h = host(&server, "outage", GRACE, "[password]\nbackend = \"none\"\n");
    let (cached, uncached) = (h.create_token("root"), h.create_token("root"));
    let manage = h.cli_ok(&["create", "--scope", "manage", "--name", "api"]);
    let manage = manage.trim();
    let unseen = h.cli_ok(&["create", "--scope", "manage", "--name", "unseen"]);
    let unseen = unseen.trim();
    let pam = Pam::shipped(&h.check_sock(), 3000, &[]);
    assert_eq!(fronts(&h, &pam, &cached), (200, Outcome::Success, Some(0)));
    assert!(eventually(Duration::from_secs(10), || web(
        &h,
        manage,
        "/api/v1/me"
    )
    .status
        == 200));

    server.pause();
    assert_eq!(
        fronts(&h, &pam, &uncached),
        (500, Outcome::Unavail, Some(50)),
        "an uncached token cannot be decided"
    );
    assert_eq!(
        fronts(&h, &pam, &cached),
        (200, Outcome::Success, Some(0)),
        "a cached token within the grace"
    );
    wait_store(&h, false);
    changes_refused_naming_the_database(&h, &cached, manage, unseen, server.port);

    // Past the grace the cached token cannot be decided either.
    assert!(
        eventually(Duration::from_secs(GRACE + 20), || status(&h, &cached)
            == 500),
        "a cached token still worked long after outage_grace_seconds"
    );
    assert_eq!(fronts(&h, &pam, &cached), (500, Outcome::Unavail, Some(50)));
    assert_eq!(status(&h, &uncached), 500);

    server.resume();
    wait_store(&h, true);
    for token in [&cached, &uncached] {
        assert!(eventually(Duration::from_secs(10), || status(&h, token) == 200));
        assert_eq!(fronts(&h, &pam, token), (200, Outcome::Success, Some(0)));
    }
    nothing_refused_was_done(&h);
}

/// Admin commands and the REST API are refused quickly, naming the database; a
/// credential the host cannot check gets the same answer.
fn changes_refused_naming_the_database(
    h: &Daemon,
    cached: &str,
    manage: &str,
    unseen: &str,
    port: u16,
) {
    for args in [
        &["create", "--name", "x"][..],
        &["list", "--json"],
        &["delete", token_id(cached)],
        &["settings", "set", "lockout-threshold", "3"],
    ] {
        refused_naming_the_database(h, args, port);
    }
    let (r, took) = timed(|| web(h, manage, "/api/v1/tokens"));
    assert!(took < QUICK, "the REST API took {took:?}");
    assert_eq!(r.status, 503, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("PostgreSQL at"));
    // A setting change too: the database is named, the value is not blamed.
    let sock = h.runtime.join("web.sock");
    let auth = bearer(manage);
    let headers: [(&str, &[u8]); 3] = [
        ("Authorization", &auth),
        ("X-Real-IP", b"127.0.0.1"),
        ("Content-Type", b"application/json"),
    ];
    let path = "/api/v1/settings/lockout-threshold";
    let r = unix_request(&sock, "PUT", path, &headers, br#"{"value":"3"}"#);
    assert_eq!(r.status, 503, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
    // A credential the host cannot check: the REST API says why, as for a refused change.
    let r = web(h, unseen, "/api/v1/me");
    assert_eq!(r.status, 503, "{}", r.text());
    let body = r.json();
    assert_eq!(body["error"]["code"], "database_unavailable", "{body}");
}

/// Nothing refused during the outage was done: no token `x`, the threshold unchanged.
fn nothing_refused_was_done(h: &Daemon) {
    let listed = h.cli_ok(&["list", "--json"]);
    assert!(
        !listed.contains("\"x\""),
        "a refused create was made: {listed}"
    );
    let settings = h.cli_json(&["settings", "--json"]);
    let threshold = settings["lockout-threshold"].to_string();
    assert!(
        threshold.contains("10"),
        "a refused setting was made: {threshold}"
    );
}

//! **Bounded state** (SPEC §13): failure records of names that are not locked are dropped
//! when their window ends; requests without a valid credential do not grow the database
//! without bound; URIs and names are logged without query strings and control
//! characters. And what cannot be judged is refused: a raw `#` in the URI of a
//! path-limited token, a token pasted as a token's name.

use std::time::Duration;

use crate::common::run::sqlite;
use crate::common::tokens::{bearer, unique_name};
use crate::common::{eventually, stderr, Daemon};
use crate::{auth_basic, failure_entry};

/// `GET /auth` on `http.sock` as nginx would send it for `uri`, with `authorization`.
fn auth_uri(daemon: &Daemon, authorization: &[u8], uri: &[u8]) -> u16 {
    let headers: [(&str, &[u8]); 4] = [
        ("Authorization", authorization),
        ("X-Real-IP", b"192.0.2.7"),
        ("X-Original-Method", b"GET"),
        ("X-Original-URI", uri),
    ];
    crate::common::http::unix_request(&daemon.http_sock(), "GET", "/auth", &headers, b"").status
}

#[test]
fn bounded_state_failure_records_are_dropped_when_their_window_ends() {
    let daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    daemon.cli_ok(&["settings", "set", "lockout-window", "2s"]);
    let names: Vec<String> = (0..50).map(|_| unique_name("bnd")).collect();
    for name in &names {
        assert_eq!(auth_basic(&daemon, name, "wrong"), 401);
    }
    assert!(failure_entry(&daemon, &names[0]).is_some(), "not counted");
    let rows = || sqlite(&daemon.db_path(), "SELECT COUNT(*) FROM failures;");
    assert!(
        eventually(Duration::from_secs(5), || rows() == "50"),
        "{}",
        rows()
    );
    // The window ends after 2 s; the upkeep runs every 5 s.
    let gone = eventually(Duration::from_secs(12), || {
        rows() == "0" && failure_entry(&daemon, &names[49]).is_none()
    });
    assert!(gone, "{} failure rows left after the window ended", rows());
}

#[test]
fn bounded_state_request_is_logged_without_query_string_or_control_characters() {
    let daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    let user = unique_name("bnq");
    let status = auth_uri(
        &daemon,
        &crate::common::tokens::basic(user.as_bytes(), b"wrong"),
        b"/api/x\tz?access_token=hunter2&b=1",
    );
    assert_eq!(status, 401);
    let line = daemon.wait_syslog(&["event=auth.failure", &format!("user={user}")]);
    assert!(line.contains("request=\"GET /api/xz\""), "{line}");
    assert!(!line.contains("hunter2") && !line.contains('?'), "{line}");
}

#[test]
fn bounded_state_path_prefix_lists_and_token_shaped_names_are_refused() {
    let daemon = Daemon::start();
    let mut args = vec!["create", "--user", "bnd-paths"];
    let paths: Vec<String> = (0..17).map(|i| format!("/api/{i}/")).collect();
    for p in &paths {
        args.extend(["--path", p.as_str()]);
    }
    let out = daemon.cli(&args);
    assert_eq!(out.status.code(), Some(1), "17 prefixes: {}", stderr(&out));
    assert!(stderr(&out).contains("at most 16"), "{}", stderr(&out));
    let long = format!("/{}", "a".repeat(300));
    let out = daemon.cli(&["create", "--user", "bnd-paths", "--path", &long]);
    assert_eq!(out.status.code(), Some(1), "a 301-byte prefix");
    assert!(stderr(&out).contains("at most 256"), "{}", stderr(&out));
    args.truncate(args.len() - 2);
    assert!(daemon.cli(&args).status.success(), "16 prefixes are fine");

    let token = daemon.create_token("bnd-name");
    let out = daemon.cli(&["create", "--user", "bnd-name", "--name", &token]);
    assert_eq!(out.status.code(), Some(1), "a token as a name was stored");
    assert!(!stderr(&out).contains(&token[13..]), "{}", stderr(&out));
    daemon.assert_syslog_free_of(&token[13..]);
}

#[test]
fn bounded_state_raw_hash_in_uri_is_refused_for_path_limited_tokens() {
    let daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    let out = daemon.cli(&["create", "--user", "bnd-hash", "--path", "/api/ci/"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let token = crate::common::stdout(&out);
    assert_eq!(auth_uri(&daemon, &bearer(&token), b"/api/ci/build"), 200);
    // Cut at `#` it would be /api/ci/; a backend that keeps it sees /api/ci/#/../../admin.
    assert_eq!(
        auth_uri(&daemon, &bearer(&token), b"/api/ci/#/../../admin"),
        403
    );
    assert_eq!(
        auth_uri(&daemon, &bearer(&token), b"/api/ci/x?q=#frag"),
        200,
        "in the query"
    );
}

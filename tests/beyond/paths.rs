//! Path prefixes through real nginx, which passes the raw `$request_uri` both to the daemon
//! (`X-Original-URI`) and, with `proxy_pass` without a URI part, to the application. The
//! application here reports what it received, so every allowed request is checked from the
//! application's side too: it must never see a path outside the prefix.

use std::process::Command;
use std::time::Duration;

use crate::common::http::Response;
use crate::common::{eventually, Daemon};
use crate::nginx_harness::Nginx;
use crate::{call, external, start_tokens_only, TOKENS_ONLY};

/// The echo application's body line that the harness writes last.
const ECHO_LAST: &str = "token_id=$http_x_remote_token_id\\n";

/// Makes the echo application also report the request URI it received (`uri=`), by
/// rewriting this nginx's own configuration and reloading it.
fn echo_uri(nginx: &Nginx, token: &str) {
    let conf = nginx.dir.path().join("nginx.conf");
    let text = std::fs::read_to_string(&conf).unwrap();
    assert!(
        text.contains(ECHO_LAST),
        "the harness's echo application changed; update ECHO_LAST:\n{text}"
    );
    let text = text.replace(ECHO_LAST, &format!("{ECHO_LAST}uri=$request_uri\\n"));
    std::fs::write(&conf, text).unwrap();
    // The same binary the harness runs.
    let nginx_bin = std::env::var_os("NGINX").unwrap_or_else(|| "/usr/sbin/nginx".into());
    let status = Command::new(nginx_bin)
        .arg("-p")
        .arg(nginx.dir.path())
        .arg("-c")
        .arg(&conf)
        .arg("-e")
        .arg(nginx.dir.path().join("error.log"))
        .args(["-s", "reload"])
        .status()
        .unwrap();
    assert!(status.success(), "nginx reload: {}", nginx.error_log());
    // The old worker may still accept a connection until it has exited, which the
    // master logs (the harness logs at level info).
    let reloaded = eventually(Duration::from_secs(20), || {
        nginx.error_log().contains("exited with code")
            && call(nginx, "GET", "/api/probe", token)
                .echoed("uri")
                .is_some()
    });
    assert!(reloaded, "nginx did not reload: {}", nginx.error_log());
}

/// What the application received, checked against the prefix: literally under it, with
/// nothing a router could resolve elsewhere.
#[track_caller]
fn assert_application_inside(resp: &Response, prefix: &str, sent: &str) {
    let uri = resp
        .echoed("uri")
        .unwrap_or_else(|| panic!("{sent}: no uri from the application: {resp:?}"));
    let path = uri.split('?').next().unwrap();
    let lower = path.to_ascii_lowercase();
    let suspicious = ["/../", "/./", "//", "%2e", "%2f", "%5c", "\\", ";"]
        .iter()
        .any(|s| lower.contains(s))
        || lower.ends_with("/..");
    assert!(
        path.starts_with(prefix) && !suspicious,
        "{sent}: allowed, and the application received {uri:?}, outside {prefix}"
    );
}

fn setup() -> (Daemon, Nginx, String) {
    let (daemon, nginx) = start_tokens_only();
    let (any, _) = daemon.create_json(&["--name", "any path"]);
    echo_uri(&nginx, &any);
    let (ci, v) = daemon.create_json(&["--path", "/api/ci/", "--name", "ci"]);
    assert_eq!(v["paths"], serde_json::json!(["/api/ci/"]), "{v}");
    (daemon, nginx, ci)
}

#[test]
fn path_prefix_requests_inside_allowed() {
    let (_daemon, nginx, ci) = setup();
    for path in [
        "/api/ci/build?x=1",
        "/api/ci/",
        "/api/ci/a/b/c",
        "/api/ci/build?next=/api/admin",
    ] {
        let resp = call(&nginx, "GET", path, &ci);
        assert_eq!(resp.status, 200, "{path}: {resp:?}");
        assert_eq!(resp.echoed("uri").as_deref(), Some(path), "{path}");
        assert_application_inside(&resp, "/api/ci/", path);
    }
}

#[test]
fn path_prefix_escape_attempts_refused() {
    let (daemon, nginx, ci) = setup();
    let attempts = [
        "/api/ci/../admin",
        "/api/ci/%2e%2e/admin",
        "/api/ci/%2E%2E/admin",
        "/api/ci%2F..%2Fadmin",
        "/api/ci/..%2fadmin",
        "/api/ci/..%5cadmin",
        "/api/ci/%252e%252e/admin",
        "/api/cix",
        "/api/ci-admin/x",
        "/api/admin",
    ];
    let mut passed = Vec::new();
    for path in attempts {
        let resp = call(&nginx, "GET", path, &ci);
        // nginx may refuse some itself (400) before asking the daemon; what matters is
        // that none reaches the application.
        if resp.status == 200 {
            passed.push(format!(
                "{path} -> application saw {:?}",
                resp.echoed("uri")
            ));
        } else {
            assert!(
                matches!(resp.status, 400 | 403 | 404),
                "{path}: unexpected {resp:?}"
            );
        }
    }
    assert!(passed.is_empty(), "escaped /api/ci/: {passed:#?}");
    daemon.wait_syslog(&["event=auth.failure", "reason=scope", "/api/ci/../admin"]);
}

/// Sends each path with the `/api/ci/` token; returns those that reached the application.
fn passing(nginx: &Nginx, ci: &str, paths: &[&str]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|path| {
            let resp = call(nginx, "GET", path, ci);
            (resp.status == 200)
                .then(|| format!("{path} -> application saw {:?}", resp.echoed("uri")))
        })
        .collect()
}

#[test]
fn path_prefix_repeated_slashes_refused() {
    // nginx merges `//` for its own routing but passes the raw URI on. An application that
    // parses `//api/ci/x` as a URL reference (urllib's urlsplit, for one) sees host `api`
    // and path `/ci/x`; the prefix check must not pass what the application reads
    // differently.
    let (_daemon, nginx, ci) = setup();
    let passed = passing(&nginx, &ci, &["//api/ci/x", "/api//ci/x"]);
    assert!(passed.is_empty(), "passed the /api/ci/ prefix: {passed:#?}");
}

#[test]
fn path_prefix_dot_dot_semicolon_refused() {
    // Servlet containers drop `;parameters` from segments and then resolve `..`, so
    // `/api/ci/..;/admin` is `/api/admin` to them.
    let (_daemon, nginx, ci) = setup();
    let passed = passing(&nginx, &ci, &["/api/ci/..;/admin", "/api/ci/..;x=1/admin"]);
    assert!(passed.is_empty(), "passed the /api/ci/ prefix: {passed:#?}");
}

#[test]
fn path_prefix_without_slash_matches_whole_segments() {
    let (daemon, nginx) = start_tokens_only();
    let (ci, _) = daemon.create_json(&["--path", "/api/ci", "--path", "/api/docs/"]);
    for (path, want) in [
        ("/api/ci", 200),
        ("/api/ci/x", 200),
        ("/api/docs/a", 200),
        ("/api/ci-admin", 403),
        ("/api/cix/y", 403),
        ("/api/doc", 403),
    ] {
        let resp = call(&nginx, "GET", path, &ci);
        assert_eq!(resp.status, want, "{path}: {resp:?}");
    }
}

#[test]
fn path_prefix_invalid_at_creation_refused() {
    let daemon = Daemon::start();
    for bad in ["api/ci", "/api/ci?x=1", "/..", "/api/%2f", "/api\\ci"] {
        let out = daemon.cli(&["create", "--path", bad]);
        assert_eq!(out.status.code(), Some(1), "--path {bad}: {out:?}");
    }
}

#[test]
fn path_prefix_apache_helper_uri_outside_refused() {
    // Apache hands the helper the URI ($URI) just as nginx hands the daemon
    // X-Original-URI; a token limited to /api/ci/ must not open /admin through Apache.
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let (ci, _) = daemon.create_json(&["--user", "alice", "--path", "/api/ci/"]);
    assert_eq!(
        external(&daemon, "alice", &ci, "/api/ci/build"),
        0,
        "inside"
    );
    assert_eq!(
        external(&daemon, "alice", &ci, "/admin/users"),
        3,
        "Apache helper accepted a /api/ci/ token for /admin/users"
    );
}

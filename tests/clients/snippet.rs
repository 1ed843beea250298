//! What the shipped nginx snippet passes on to the application, and what it does not.

use crate::common::tokens::{basic, bearer};
use crate::common::Daemon;
use crate::nginx_harness::{Nginx, Options};
use crate::{token, TOKENS_ONLY};

#[test]
fn nginx_snippet_keeps_the_credential_from_the_application() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let nginx = Nginx::start(&daemon.http_sock());
    let write = token(&daemon, "alice", "write");
    for auth in [bearer(&write), basic(b"alice", write.as_bytes())] {
        let resp = nginx.get("/api/resource", &[("Authorization", &auth)]);
        assert_eq!(resp.status, 200, "{resp:?}");
        assert_eq!(resp.echoed("user").as_deref(), Some("alice"), "{resp:?}");
        assert_eq!(
            resp.echoed("authorization"),
            None,
            "the application got the token: {resp:?}"
        );
        assert!(
            !resp.text().contains(&write[13..]),
            "secret reached the application"
        );
    }
    let snippet = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nginx/apitokend.conf"),
    )
    .unwrap();
    assert!(
        snippet.contains("# proxy_set_header Authorization $http_authorization;"),
        "the commented line that keeps the header is gone"
    );
}

#[test]
fn nginx_reason_header_is_off_by_default_even_with_the_snippet_lines() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let options = Options {
        pass_reason: true,
        ..Options::default()
    };
    let nginx = Nginx::start_with(&daemon.http_sock(), &options);
    let read = token(&daemon, "alice", "read");
    let resp = nginx.request(
        "POST",
        "/api/resource",
        &[("Authorization", &bearer(&read))],
        b"x",
    );
    assert_eq!(resp.status, 403, "{resp:?}");
    assert_eq!(resp.header("X-Auth-Reason"), None, "{resp:?}");
    let ok = nginx.get("/api/resource", &[("Authorization", &bearer(&read))]);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("X-Auth-Reason"), None, "{ok:?}");
}

#[test]
fn nginx_reason_header_when_configured_names_each_refusal() {
    let daemon = Daemon::start_with(
        "[password]\nbackend = \"none\"\n[http]\nreason_header = true\n",
        &[],
    );
    let options = Options {
        pass_reason: true,
        ..Options::default()
    };
    let nginx = Nginx::start_with(&daemon.http_sock(), &options);
    let read = token(&daemon, "alice", "read");
    let bobs = token(&daemon, "bob", "write");
    let cases: [(&str, Vec<u8>, u16, &str); 3] = [
        ("DELETE", bearer(&read), 403, "scope"),
        ("GET", basic(b"alice", bobs.as_bytes()), 401, "wrong_user"),
        (
            "GET",
            bearer(&crate::common::tokens::forged_token("Zz9Zz9Zz")),
            401,
            "invalid_token",
        ),
    ];
    for (method, auth, status, reason) in cases {
        let resp = nginx.request(method, "/api/resource", &[("Authorization", &auth)], b"");
        assert_eq!(resp.status, status, "{resp:?}");
        assert_eq!(resp.header("X-Auth-Reason"), Some(reason), "{resp:?}");
    }
    // Without credentials there is nothing to explain: the challenge alone.
    let bare = nginx.get("/api/resource", &[]);
    assert_eq!(
        (bare.status, bare.header("X-Auth-Reason")),
        (401, None),
        "{bare:?}"
    );
}

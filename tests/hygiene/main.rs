//! Secret hygiene through the real binaries: known tokens and a known password go through
//! every front end (raw HTTP on `http.sock` with Basic and Bearer, `check.sock` frames as
//! PAM and the Apache helper send them, the `apitoken` command, and the web face's REST
//! API and page on `web.sock`), valid and invalid.
//! Then every place a secret could end up is searched for them: syslog lines, the
//! daemon's stderr, the audit trail, every command's output but the one-time creation,
//! HTTP and check replies, `/metrics`, and the database file with its `-wal` and `-shm`.
//! Finally the daemon's process must not be dumpable (no core files, no ptrace or
//! `/proc/<pid>/mem` by its own user).
//!
//! This file holds the search; `exercise` drives the front ends, `web` the web face, and
//! `dumpable` checks the process.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;

mod dumpable;
mod exercise;
mod web;

use exercise::{
    add_database, auth, check_with, exercise_cli, exercise_front_ends, start_with_password,
    wait_for_auth_lines,
};

use apitoken_wire::check::{CheckReply, CheckRequest, Verdict, Via};
use base64::Engine as _;
use common::http::{unix_request, Response};
use common::tokens::{bad_checksum, basic, bearer, forged_token, token_id, unique_name};
use common::Daemon;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Everything a secret could leak into, by name.
#[derive(Default)]
struct Haystacks(Vec<(String, Vec<u8>)>);

impl Haystacks {
    fn add(&mut self, name: impl Into<String>, bytes: impl Into<Vec<u8>>) {
        self.0.push((name.into(), bytes.into()));
    }

    fn add_output(&mut self, what: &str, out: &Output) {
        self.add(format!("{what}: stdout"), out.stdout.clone());
        self.add(format!("{what}: stderr"), out.stderr.clone());
    }

    fn add_response(&mut self, what: &str, resp: &Response) {
        let headers: String = resp
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect();
        self.add(format!("{what}: HTTP headers"), headers);
        self.add(format!("{what}: HTTP body"), resp.body.clone());
    }

    /// Every (haystack, needle name) where a needle occurs.
    fn leaks(&self, needles: &[(String, Vec<u8>)]) -> Vec<String> {
        let mut found = Vec::new();
        for (place, hay) in &self.0 {
            for (what, needle) in needles {
                if hay.windows(needle.len()).any(|w| w == needle.as_slice()) {
                    found.push(format!("{what} found in {place}"));
                }
            }
        }
        found
    }
}

/// The forms a token can leak in: whole, and its secret part alone (id and checksum aside).
fn token_needles(label: &str, token: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{label} (whole)"), token.as_bytes().to_vec()),
        (
            format!("{label} (secret part)"),
            token.as_bytes()[13..45].to_vec(),
        ),
    ]
}

#[test]
fn secrets_never_reach_logs_audit_replies_or_database() {
    let user = unique_name("hyg");
    let password = "Tr0ub4dor&3 correct horse";
    let (daemon, _pam) = start_with_password(&user, password);
    let tokens: Vec<String> = (0..3).map(|_| daemon.create_token(&user)).collect();
    let mut hay = Haystacks::default();
    let requests = exercise_front_ends(&daemon, &mut hay, &user, password, &tokens);
    exercise_cli(&daemon, &mut hay, &user, &tokens);
    let web_secrets = web::exercise_web(&daemon, &mut hay, &user, password, &tokens);
    // Passwords and non-tokens on the PAM path are left to the PAM stack, unlogged.
    wait_for_auth_lines(&daemon, requests - 2);

    let audit = daemon.cli(&["audit", "--json", "--limit", "1000"]);
    assert!(audit.status.success(), "{}", common::stderr(&audit));
    hay.add_output("apitoken audit --json", &audit);
    hay.add("syslog", daemon.syslog_lines().join("\n"));
    add_database(&mut hay, &daemon, "running");
    let stderr_path = daemon.stderr_path();
    drop(daemon);
    hay.add(
        "daemon stderr",
        std::fs::read(&stderr_path).unwrap_or_default(),
    );

    let mut needles: Vec<(String, Vec<u8>)> = tokens
        .iter()
        .enumerate()
        .flat_map(|(i, t)| token_needles(&format!("token {i}"), t))
        .collect();
    needles.extend(web_secrets);
    needles.push(("the password".into(), password.as_bytes().to_vec()));
    let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
    needles.push((
        "Basic user:password".into(),
        b64(format!("{user}:{password}")).into_bytes(),
    ));
    needles.push((
        "Basic user:token".into(),
        b64(format!("{user}:{}", tokens[0])).into_bytes(),
    ));
    let searched: usize = hay.0.iter().map(|(_, h)| h.len()).sum();
    println!(
        "searched {} places ({searched} bytes) for {} secret forms",
        hay.0.len(),
        needles.len()
    );
    let leaks = hay.leaks(&needles);
    assert!(leaks.is_empty(), "secrets leaked: {leaks:#?}");
}

/// Clients that take one credential (`curl -u TOKEN:`, GitHub-style tools) send the token
/// as the Basic user name with an empty password; a user may also type a token at a login
/// prompt. The token must not then be logged, audited or stored as a user name.
#[test]
fn token_sent_as_user_name_never_reaches_logs_or_database() {
    let user = unique_name("hyu");
    let daemon = Daemon::start_capturing_stderr("[password]\nbackend = \"none\"\n", &[]);
    let token = daemon.create_token(&user);
    let mut hay = Haystacks::default();
    for (what, authorization) in [
        ("Basic token:", basic(token.as_bytes(), b"")),
        ("Basic token:x", basic(token.as_bytes(), b"x")),
        (
            "Basic token:token",
            basic(token.as_bytes(), token.as_bytes()),
        ),
    ] {
        let resp = auth(&daemon, &authorization);
        println!("{what}: {}", resp.status);
        assert_ne!(resp.status, 200, "{what}");
        hay.add_response(what, &resp);
    }
    // The reply echoes the user name to the client that sent it; only what is kept counts.
    let reply = check_with(&daemon.check_sock(), Via::Pam, &token, "hunter2");
    assert_ne!(reply.verdict, Verdict::Allow);
    wait_for_auth_lines(&daemon, 3);
    let failures = daemon.cli(&["failures", "--json"]);
    hay.add_output("apitoken failures", &failures);
    let audit = daemon.cli(&["audit", "--json"]);
    hay.add_output("apitoken audit", &audit);
    hay.add("syslog", daemon.syslog_lines().join("\n"));
    // Failure counts are persisted by background writes. A failure of an ordinary user,
    // sent last, marks the moment the earlier ones have had their turn.
    let marker = format!("{user}-marker");
    assert_eq!(
        auth(&daemon, &basic(marker.as_bytes(), b"wrong")).status,
        401
    );
    let persisted = common::eventually(Duration::from_secs(5), || {
        std::fs::read(format!("{}-wal", daemon.db_path().display()))
            .is_ok_and(|wal| wal.windows(marker.len()).any(|w| w == marker.as_bytes()))
    });
    assert!(persisted, "the marker failure never reached the database");
    add_database(&mut hay, &daemon, "running");
    hay.add("daemon stderr", daemon.stderr_text());
    let leaks = hay.leaks(&token_needles("the token", &token));
    assert!(
        leaks.is_empty(),
        "a token sent as a user name leaked: {leaks:#?}"
    );
}

//! Drives every front end with the known secrets and collects what comes back.

use super::*;

/// A daemon whose password backend is PAM through pam_wrapper and pam_matrix, which
/// accepts `user`/`password`; its stderr is captured.
pub(super) fn start_with_password(user: &str, password: &str) -> (Daemon, tempfile::TempDir) {
    let (toml, env, pam_dir) = common::pam::pam_matrix_backend(&[(user, password)]);
    let daemon = Daemon::start_capturing_stderr(&toml, &common::pam::env_refs(&env));
    (daemon, pam_dir)
}

/// One `check.sock` request from 192.0.2.7 for `/hygiene`, decoded.
pub(super) fn check_with(sock: &Path, via: Via, user: &str, secret: &str) -> CheckReply {
    let req = CheckRequest {
        via,
        user: user.into(),
        secret: secret.as_bytes().to_vec(),
        rhost: "192.0.2.7".into(),
        service: "hygiene".into(),
        uri: "/hygiene".into(),
        access: String::new(),
    };
    common::check::check_exchange(sock, &req)
}

pub(super) fn auth(daemon: &Daemon, authorization: &[u8]) -> Response {
    common::http::auth_as_nginx(
        &daemon.http_sock(),
        authorization,
        "192.0.2.7",
        "GET",
        "/hygiene",
    )
}

/// Waits until the syslog sink has an `auth.*` line for every request sent.
pub(super) fn wait_for_auth_lines(daemon: &Daemon, at_least: usize) {
    let ok = common::eventually(Duration::from_secs(5), || {
        daemon
            .syslog_lines()
            .iter()
            .filter(|l| l.contains("event=auth."))
            .count()
            >= at_least
    });
    assert!(ok, "fewer than {at_least} auth lines in syslog");
}

/// Adds the database files (with `-wal` and `-shm`) as they are now.
pub(super) fn add_database(hay: &mut Haystacks, daemon: &Daemon, when: &str) {
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", daemon.db_path().display());
        if let Ok(bytes) = std::fs::read(&path) {
            println!("{when}: tokens.db{suffix} is {} bytes", bytes.len());
            hay.add(format!("tokens.db{suffix} ({when})"), bytes);
        }
    }
}

/// A check request: what it is, front end, user, secret, and the verdict it must get
/// (`None`: any verdict but Allow).
type CheckCase<'a> = (&'a str, Via, &'a str, String, Option<Verdict>);

/// The PAM module's questions with the known secrets.
fn pam_cases<'a>(user: &'a str, password: &str, token: &str) -> Vec<CheckCase<'a>> {
    vec![
        (
            "PAM, valid token",
            Via::Pam,
            user,
            token.into(),
            Some(Verdict::Allow),
        ),
        (
            "PAM, password",
            Via::Pam,
            user,
            password.into(),
            Some(Verdict::Ignore),
        ),
        (
            "PAM, forged token",
            Via::Pam,
            user,
            forged_token(token_id(token)),
            Some(Verdict::Unauthorized),
        ),
        (
            "PAM, bad checksum",
            Via::Pam,
            user,
            bad_checksum(token),
            None,
        ),
    ]
}

/// The Apache helper's questions with the known secrets.
fn helper_cases<'a>(user: &'a str, password: &str, token: &str) -> Vec<CheckCase<'a>> {
    vec![
        (
            "helper, valid token",
            Via::External,
            user,
            token.into(),
            Some(Verdict::Allow),
        ),
        (
            "helper, password",
            Via::External,
            user,
            password.into(),
            Some(Verdict::Allow),
        ),
        (
            "helper, wrong password",
            Via::External,
            user,
            format!("x{password}"),
            Some(Verdict::Unauthorized),
        ),
        (
            "helper, wrong user",
            Via::External,
            "someoneelse",
            token.into(),
            Some(Verdict::Unauthorized),
        ),
    ]
}

/// Sends `/auth` requests with the known secrets; returns how many.
fn exercise_http(
    daemon: &Daemon,
    hay: &mut Haystacks,
    user: &str,
    password: &str,
    tokens: &[String],
) -> usize {
    let token = &tokens[0];
    let http_cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("Bearer, valid", bearer(token), 200),
        (
            "Basic user:token, valid",
            basic(user.as_bytes(), token.as_bytes()),
            200,
        ),
        (
            "Basic user:password, valid",
            basic(user.as_bytes(), password.as_bytes()),
            200,
        ),
        (
            "Basic user:wrong password",
            basic(user.as_bytes(), format!("{password}x").as_bytes()),
            401,
        ),
        (
            "Bearer, forged secret",
            bearer(&forged_token(token_id(token))),
            401,
        ),
        ("Bearer, bad checksum", bearer(&bad_checksum(token)), 401),
        (
            "Basic other:token, wrong user",
            basic(b"someoneelse", token.as_bytes()),
            401,
        ),
        (
            "Basic user:password+token",
            basic(user.as_bytes(), format!("{password}{token}").as_bytes()),
            401,
        ),
        ("Bearer, second token", bearer(&tokens[1]), 200),
    ];
    for (what, authorization, expected) in &http_cases {
        let resp = auth(daemon, authorization);
        assert_eq!(resp.status, *expected, "{what}: {resp:?}");
        hay.add_response(what, &resp);
    }
    http_cases.len()
}

/// Sends check requests (PAM and helper) with the known secrets; returns how many.
fn exercise_check(
    daemon: &Daemon,
    hay: &mut Haystacks,
    user: &str,
    password: &str,
    token: &str,
) -> usize {
    let mut check_cases = pam_cases(user, password, token);
    check_cases.extend(helper_cases(user, password, token));
    for (what, via, who, secret, expected) in &check_cases {
        let reply = check_with(&daemon.check_sock(), *via, who, secret);
        match expected {
            Some(v) => assert_eq!(reply.verdict, *v, "{what}: {reply:?}"),
            None => assert_ne!(reply.verdict, Verdict::Allow, "{what}: {reply:?}"),
        }
        hay.add(
            format!("{what}: check reply"),
            format!("{} {} {}", reply.user, reply.token_id, reply.reason),
        );
    }
    check_cases.len()
}

/// Sends every kind of request with the known secrets; returns how many `/auth` and
/// check requests were made.
pub(super) fn exercise_front_ends(
    daemon: &Daemon,
    hay: &mut Haystacks,
    user: &str,
    password: &str,
    tokens: &[String],
) -> usize {
    let sent = exercise_http(daemon, hay, user, password, tokens)
        + exercise_check(daemon, hay, user, password, &tokens[0]);
    let metrics = unix_request(&daemon.http_sock(), "GET", "/metrics", &[], b"");
    hay.add_response("/metrics", &metrics);
    sent
}

/// Runs the command line on the known secrets; `verify` reads its token on stdin.
pub(super) fn exercise_cli(daemon: &Daemon, hay: &mut Haystacks, user: &str, tokens: &[String]) {
    let token = &tokens[0];
    let id = token_id(token);
    let runs: Vec<(&str, Vec<&str>, String)> = vec![
        ("verify, valid", vec!["verify"], token.clone()),
        (
            "verify --json, valid",
            vec!["verify", "--json"],
            token.clone(),
        ),
        (
            "verify --user, valid",
            vec!["verify", "--user", user],
            token.clone(),
        ),
        ("verify, forged", vec!["verify"], forged_token(id)),
        ("verify, bad checksum", vec!["verify"], bad_checksum(token)),
        (
            "verify, token and junk",
            vec!["verify"],
            format!("{token} trailing words"),
        ),
        ("list", vec!["list", "--user", user], String::new()),
        (
            "list --json --all",
            vec!["list", "--all", "--json"],
            String::new(),
        ),
        ("show", vec!["show", id], String::new()),
        ("show by whole token", vec!["show", token], String::new()),
        ("status", vec!["status", "--json"], String::new()),
        ("failures", vec!["failures", "--json"], String::new()),
        (
            "delete by whole token",
            vec!["delete", &tokens[2]],
            String::new(),
        ),
    ];
    for (what, args, stdin) in &runs {
        let out = daemon.cli_input(None, args, stdin);
        hay.add_output(&format!("apitoken {what}"), &out);
    }
}

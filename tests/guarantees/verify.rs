//! **No local user can deny others** (SPEC §13), for `apitoken verify`: it is judged by the
//! same engine as every front end (its queue, budgets, lockout and audit), so an
//! unprivileged user who runs it in bulk cannot delay anyone's check, and leaves a trace.

use std::time::{Duration, Instant};

use crate::auth;
use crate::common::http::metric;
use crate::common::run::{command_as, Held};
use crate::common::tokens::{bearer, forged_token, token_id};
use crate::common::{ensure_user, Daemon};

/// The unprivileged user who runs `apitoken verify` in bulk; no other test uses it.
const VERIFIER: &str = "atk-verifier";

/// The `via="cli",result="..."` sample of `apitokend_requests_total`.
fn decisions(daemon: &Daemon, result: &str) -> u64 {
    let sample = format!("apitokend_requests_total{{via=\"cli\",result=\"{result}\"}}");
    metric(&daemon.http_sock(), &sample)
}

/// 250 `apitoken verify` run by [`VERIFIER`], each holding back `input` (its token).
fn spawn_verifiers(daemon: &Daemon, input: &str) -> Vec<Held> {
    (0..250)
        .map(|_| {
            let mut cmd = command_as(Some(VERIFIER), env!("CARGO_BIN_EXE_apitoken"));
            cmd.arg("--socket").arg(daemon.admin_sock()).arg("verify");
            Held::start(&mut cmd, input)
        })
        .collect()
}

/// The time each of `fresh`'s first uses through http.sock took (nothing cached).
fn first_uses(daemon: &Daemon, fresh: &[String]) -> Vec<Duration> {
    let mut took = Vec::new();
    for token in fresh {
        std::thread::sleep(Duration::from_millis(20));
        let started = Instant::now();
        assert_eq!(auth(&daemon.http_sock(), &bearer(token)), 200);
        took.push(started.elapsed());
    }
    took
}

#[test]
fn no_local_user_can_deny_others_250_apitoken_verify_do_not_delay_an_http_check() {
    ensure_user(VERIFIER);
    let daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    // Stored as an older release did, with production argon2 parameters: checking a
    // secret against it is the most expensive thing `verify` can ask for.
    let legacy = daemon.legacy_token("vfy-victim", 2);
    let fresh: Vec<String> = (0..3).map(|_| daemon.create_token("vfy-other")).collect();
    let unauthorized_before = decisions(&daemon, "unauthorized");

    let forged = forged_token(token_id(&legacy));
    let mut children = spawn_verifiers(&daemon, &format!("{forged}\n"));
    // Let the 250 processes start (each then waits for its token on stdin), so that what
    // is measured below is the daemon under the verifications, not this machine busy
    // creating processes; then hand them their tokens all at once.
    std::thread::sleep(Duration::from_millis(1500));
    for c in &mut children {
        c.feed();
    }
    // Meanwhile, first uses of other tokens (nothing cached) through http.sock.
    let took = first_uses(&daemon, &fresh);
    let codes: Vec<Option<i32>> = children.into_iter().map(Held::code).collect();
    let counted = decisions(&daemon, "unauthorized") - unauthorized_before;
    let logged = daemon
        .syslog_lines()
        .iter()
        .filter(|l| l.contains("event=auth.failure") && l.contains("via=cli"))
        .count();
    // A line the log socket could not take at once is dropped and counted (SPEC §10).
    let dropped = metric(&daemon.http_sock(), "apitokend_syslog_dropped_total");
    println!("250 `apitoken verify` by {VERIFIER}: http first uses took {took:?}; {counted} counted, {logged} logged, {dropped} log lines dropped");
    assert!(
        took.iter().all(|t| *t < Duration::from_secs(1)),
        "an http check waited behind `apitoken verify`: {took:?}"
    );
    assert!(codes.iter().all(|c| c.is_some()), "{codes:?}");
    assert!(
        counted >= 250,
        "only {counted} of 250 verifications were counted in /metrics"
    );
    assert!(
        logged > 0 && logged as u64 + dropped >= 250,
        "only {logged} of 250 verifications were logged ({dropped} lines dropped)"
    );
}

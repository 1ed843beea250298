//! SPEC §13 "No local user can deny others": an unprivileged user holding hundreds of idle
//! connections to every socket the daemon serves must not make a PAM login (token or
//! password), an Apache check or an nginx check of another user fail or wait a second.

use std::time::Instant;

use super::common::run::{external_command, run_with_input};
use super::common::tokens::bearer;
use super::common::{ensure_user, Daemon};
use super::pam::{Outcome, Pam};
use super::{Holder, MALLORY, PROMPT};

/// Apache's account in this test: an ordinary user, not in any socket group.
const WWW: &str = "proc-www";

/// `apitoken-external` run as `user`, as Apache's helper would be; exit code and time.
fn external_as(user: &str, sock: &std::path::Path, who: &str, secret: &str) -> (Option<i32>, f64) {
    let mut cmd = external_command(sock, "192.0.2.7", Some(user));
    let started = Instant::now();
    let out = run_with_input(&mut cmd, format!("{who}\n{secret}\n").as_bytes());
    (out.status.code(), started.elapsed().as_secs_f64())
}

/// Several processes of [`MALLORY`], each within a login's usual 1024 descriptors,
/// together holding more connections than the daemon has slots for.
fn hold_every_socket(daemon: &Daemon) -> [Holder; 5] {
    let held = [
        Holder::start(MALLORY, &daemon.check_sock(), 800, 60),
        Holder::start(MALLORY, &daemon.check_sock(), 800, 60),
        Holder::start(MALLORY, &daemon.admin_sock(), 800, 60),
        Holder::start(MALLORY, &daemon.admin_sock(), 800, 60),
        Holder::start(MALLORY, &daemon.http_sock(), 800, 60),
    ];
    let counts: Vec<usize> = held.iter().map(|h| h.held).collect();
    println!("{MALLORY} holds {counts:?} connections to check (2), admin (2) and http.sock");
    assert!(
        counts.iter().all(|&n| n >= 500),
        "the attack never got going: {counts:?}"
    );
    held
}

/// One round of logins and checks of alice's under attack: each succeeds within
/// [`PROMPT`].
fn check_round(daemon: &Daemon, pam: &Pam, token: &str, round: usize) {
    let (token_login, took) = pam.run("alice", None, &format!("{token}\n{token}\n"), 1, &[]);
    println!("round {round}: PAM token login {token_login:?} in {took:?}");
    assert_eq!(
        token_login,
        Outcome::Success,
        "PAM token login under attack"
    );
    assert!(took < PROMPT, "PAM token login took {took:?} under attack");

    let (password_login, took) = pam.run("alice", None, "correct horse\ncorrect horse\n", 1, &[]);
    println!("round {round}: PAM password login {password_login:?} in {took:?}");
    assert_eq!(
        password_login,
        Outcome::Success,
        "PAM password login under attack"
    );
    assert!(
        took < PROMPT,
        "PAM password login took {took:?} under attack"
    );

    let (code, secs) = external_as(WWW, &daemon.check_sock(), "alice", token);
    println!("round {round}: Apache helper as {WWW}: exit {code:?} in {secs:.3} s");
    assert_eq!(code, Some(0), "Apache helper check under attack");
    assert!(
        secs < PROMPT.as_secs_f64(),
        "Apache helper took {secs:.3} s"
    );

    let started = Instant::now();
    let status = super::common::http::auth_as_nginx(
        &daemon.http_sock(),
        &bearer(token),
        "192.0.2.8",
        "GET",
        "/api/",
    )
    .status;
    let took = started.elapsed();
    println!("round {round}: nginx check {status:?} in {took:?}");
    assert_eq!(status, 200, "nginx check under attack");
    assert!(took < PROMPT, "nginx check took {took:?} under attack");
}

#[test]
fn no_local_user_can_deny_others_pam_apache_and_nginx_while_sockets_are_held() {
    ensure_user(MALLORY);
    ensure_user(WWW);
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    // Warm up: the token is verified once, as it would have been before the attack.
    assert_eq!(pam.auth("alice", None, &token), Outcome::Success);

    let held = hold_every_socket(&daemon);
    // Let the held connections sit past the daemon's read deadlines, so that the attack is
    // the steady state (re-opened as the daemon closes them), not a burst.
    std::thread::sleep(std::time::Duration::from_millis(1500));

    for round in 0..3 {
        check_round(&daemon, &pam, &token, round);
    }
    drop(held);
}

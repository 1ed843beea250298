//! **Lockout counts every attempt** (SPEC §13): no more than `lockout-threshold` wrong
//! attempts for one user are checked within `lockout-window`, however many arrive at
//! once; an attempt that arrives while the limit is reached is refused without being
//! checked; a success with one kind of credential never clears the other kind's failures.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use crate::common::pam::{env_refs, pam_matrix_backend};
use crate::common::run::{external_held, Held};
use crate::common::tokens::{bearer, unique_name};
use crate::common::{ensure_user, Daemon};
use crate::{auth, auth_basic, is_locked, password_checks};

/// The default `lockout-threshold`.
const THRESHOLD: u64 = 10;
/// The unprivileged local user who guesses on `check.sock`.
const GUESSER: &str = "atk-guesser";

/// A daemon checking passwords through pam_matrix, where `user`'s password is `password`.
fn with_password(user: &str, password: &str) -> (Daemon, tempfile::TempDir) {
    let (toml, env, dir) = pam_matrix_backend(&[(user, password)]);
    (Daemon::start_with(&toml, &env_refs(&env)), dir)
}

#[test]
fn lockout_counts_every_attempt_on_http_sock_under_300_concurrent_wrong_passwords() {
    let user = unique_name("lkh");
    let password = "correct horse battery";
    let (daemon, _pam) = with_password(&user, password);
    let before = password_checks(&daemon);
    let start = Arc::new(Barrier::new(301));
    let sock = daemon.http_sock();
    let mut guesses = Vec::new();
    for i in 0..300 {
        let (start, sock, user) = (start.clone(), sock.clone(), user.clone());
        guesses.push(std::thread::spawn(move || {
            start.wait();
            let secret = format!("guess-{i}");
            crate::auth(
                &sock,
                &crate::common::tokens::basic(user.as_bytes(), secret.as_bytes()),
            )
        }));
    }
    start.wait();
    // The right password among the wrong ones, just behind the first of them.
    std::thread::sleep(Duration::from_millis(30));
    let right = auth_basic(&daemon, &user, password);
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    let checked = password_checks(&daemon) - before;
    let refused_unchecked = statuses.iter().filter(|&&s| s == 403).count();
    println!(
        "300 concurrent wrong passwords on http.sock: {checked} checked, {refused_unchecked} refused as locked; the right one answered {right}"
    );
    assert!(
        statuses.iter().all(|&s| s == 401 || s == 403),
        "{statuses:?}"
    );
    assert!(
        checked <= THRESHOLD,
        "{checked} password attempts were checked; at most {THRESHOLD} may be"
    );
    assert_ne!(right, 200, "the right password got through the guesses");
    assert!(is_locked(&daemon, &user), "not locked after the burst");
    assert_eq!(auth_basic(&daemon, &user, password), 403);
}

/// Starts `apitoken-external` as `GUESSER` with `user` and `secret` waiting to be written.
fn spawn_external(daemon: &Daemon, user: &str, secret: &str) -> Held {
    external_held(
        &daemon.check_sock(),
        "192.0.2.8",
        Some(GUESSER),
        user,
        secret,
    )
}

#[test]
fn lockout_counts_every_attempt_on_check_sock_from_a_second_unix_user() {
    ensure_user(GUESSER);
    let user = unique_name("lkc");
    let password = "correct horse battery";
    let (daemon, _pam) = with_password(&user, password);
    let before = password_checks(&daemon);
    // Every guesser is started first, then all are handed their input at once.
    let mut guesses: Vec<_> = (0..150)
        .map(|i| spawn_external(&daemon, &user, &format!("guess-{i}")))
        .collect();
    let mut right = spawn_external(&daemon, &user, password);
    for guess in &mut guesses {
        guess.feed();
    }
    std::thread::sleep(Duration::from_millis(30));
    right.feed();
    let codes: Vec<Option<i32>> = guesses.into_iter().map(Held::code).collect();
    let right_code = right.code();
    let checked = password_checks(&daemon) - before;
    println!(
        "150 concurrent wrong passwords on check.sock from {GUESSER}: {checked} checked; the right one exited {right_code:?}"
    );
    assert!(
        codes.iter().all(|c| matches!(c, Some(1) | Some(7))),
        "{codes:?}"
    );
    assert!(
        checked <= THRESHOLD,
        "{checked} password attempts were checked; at most {THRESHOLD} may be"
    );
    assert_ne!(right_code, Some(0), "the right password got through");
    assert!(is_locked(&daemon, &user));
}

#[test]
fn lockout_token_success_does_not_clear_password_failures() {
    let user = unique_name("lkt");
    let password = "correct horse battery";
    let (daemon, _pam) = with_password(&user, password);
    let token = daemon.create_token(&user);
    let sock = daemon.http_sock();
    // Nine wrong passwords, the owner's CI token, nine more: the tenth failure locks.
    for round in 0..2 {
        for i in 0..9 {
            let status = auth_basic(&daemon, &user, &format!("guess-{round}-{i}"));
            if round == 1 && i == 1 {
                // The tenth failure (the first of this round) locked the user.
                assert_eq!(status, 403, "token success cleared password failures");
                break;
            }
            assert_eq!(status, 401, "round {round} guess {i}");
        }
        if round == 0 {
            assert_eq!(auth(&sock, &bearer(&token)), 200);
        }
    }
    // 9 + 1 failures = the threshold: the tenth locks, whatever succeeded in between.
    assert!(
        is_locked(&daemon, &user),
        "token success cleared password failures"
    );
    assert_eq!(auth(&sock, &bearer(&token)), 403, "a locked owner's token");
    assert_eq!(auth_basic(&daemon, &user, password), 403);
}

#[test]
fn lockout_counts_every_attempt_even_between_the_users_own_successes() {
    let user = unique_name("lks");
    let password = "correct horse battery";
    let (daemon, _pam) = with_password(&user, password);
    // An attacker who interleaves guesses with the user's own logins (a cron job's) gets
    // no more than the threshold within the window: a success clears nothing.
    for i in 0..9 {
        assert_eq!(auth_basic(&daemon, &user, &format!("guess-{i}")), 401);
    }
    assert_eq!(auth_basic(&daemon, &user, password), 200);
    assert_eq!(auth_basic(&daemon, &user, "guess-9"), 401);
    assert!(
        is_locked(&daemon, &user),
        "a success bought the attacker more guesses"
    );
    assert_eq!(auth_basic(&daemon, &user, "guess-10"), 403);
    assert_eq!(auth_basic(&daemon, &user, password), 403);
}

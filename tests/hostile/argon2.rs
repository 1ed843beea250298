//! Memory and CPU under argon2, which now runs only for tokens stored by earlier releases
//! (argon2id rows, until their next successful use): bursts of wrong secrets against such
//! rows on http.sock and through `apitoken verify`, and the per-id hash budget.

use super::*;

/// A token of `owner` whose row holds an argon2id hash with production memory (19 MiB),
/// one pass to keep the debug build quick, as an earlier release stored it.
fn legacy_token(daemon: &Daemon, owner: &str) -> String {
    daemon.legacy_token(owner, 1)
}

/// Forged tokens (valid checksum, real id, wrong secret) for the given tokens.
fn forgeries(tokens: &[String], per_token: usize) -> Vec<String> {
    let mut noise = Noise(0xf00d_face_0000_0007);
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    tokens
        .iter()
        .flat_map(|t| std::iter::repeat_n(t, per_token))
        .map(|t| {
            let secret: String = noise
                .bytes(32)
                .iter()
                .map(|b| BASE62[*b as usize % 62] as char)
                .collect();
            common::tokens::with_checksum(&format!("atk_{}_{secret}", common::tokens::token_id(t)))
        })
        .collect()
}

#[test]
fn http_cold_verification_burst_with_real_argon2_stays_under_200_mib() {
    let daemon = Daemon::start();
    let tokens: Vec<String> = (0..4).map(|_| legacy_token(&daemon, "hostcold")).collect();
    let sock = daemon.http_sock();
    let threads: Vec<_> = forgeries(&tokens, 2)
        .into_iter()
        .map(|forged| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                http_status(&sock, &auth_request(&[("Authorization", &bearer(&forged))]))
            })
        })
        .collect();
    for th in threads {
        assert_eq!(th.join().unwrap(), Some(401));
    }
    assert_rss(
        &daemon,
        "8 concurrent first-use verifications on http.sock (19 MiB argon2)",
    );
}

/// `apitoken verify` needs no privilege; sixteen at once must not take 16 × 19 MiB.
#[test]
fn admin_verify_burst_with_real_argon2_stays_under_200_mib() {
    let daemon = Daemon::start();
    let user = "hostverify";
    common::ensure_user(user);
    let token = legacy_token(&daemon, user);
    let sock = daemon.admin_sock();
    let threads: Vec<_> = forgeries(&[token], 16)
        .into_iter()
        .map(|forged| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                stdout(&common::run::apitoken(
                    &sock,
                    Some(user),
                    &["verify"],
                    &forged,
                ))
            })
        })
        .collect();
    for th in threads {
        let said = th.join().unwrap();
        assert!(said.contains("invalid"), "verify said {said:?}");
    }
    assert_rss(
        &daemon,
        "16 concurrent `apitoken verify` by an unprivileged user (19 MiB argon2)",
    );
}

/// A counter of the daemon's `/metrics`.
fn metric(daemon: &Daemon, name: &str) -> u64 {
    common::http::metric(&daemon.http_sock(), name)
}

/// Token ids are public, so anyone can send wrong secrets for one. The daemon promises
/// at most `FAILS_PER_ID_PER_SEC` (4) argon2 verifications a second for such an id, also
/// when the wrong secrets arrive all at once.
#[test]
fn http_concurrent_wrong_secrets_for_one_id_are_throttled() {
    // The flooded id is a legacy row never used since: the only kind a wrong secret
    // costs an argon2 run for. The target's own (current) token must keep serving.
    let t = Target::start("[cache]\nttl_seconds = 1\n");
    let flooded = legacy_token(&t.daemon, "hostflood");
    let before = metric(&t.daemon, "apitokend_argon2_verifications_total");
    let started = Instant::now();
    let sock = t.daemon.http_sock();
    let threads: Vec<_> = forgeries(std::slice::from_ref(&flooded), 32)
        .into_iter()
        .map(|forged| {
            let sock = sock.clone();
            std::thread::spawn(move || {
                http_status(&sock, &auth_request(&[("Authorization", &bearer(&forged))]))
            })
        })
        .collect();
    for th in threads {
        assert_eq!(th.join().unwrap(), Some(401));
    }
    let seconds = started.elapsed().as_secs() + 1;
    let hashed = metric(&t.daemon, "apitokend_argon2_verifications_total") - before;
    let bound = apitokend::verify::FAILS_PER_ID_PER_SEC as u64 * (seconds + 1);
    println!("32 concurrent wrong secrets for one id: {hashed} argon2 verifications within {seconds} s (bound {bound})");
    assert!(
        hashed <= bound,
        "{hashed} argon2 verifications for one id within {seconds} s; at most {bound} expected"
    );
    t.assert_serving("a burst of wrong secrets");
}

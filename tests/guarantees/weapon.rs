//! **A public token id is not a weapon** (SPEC §13): forged secrets for someone's token id
//! never make the real token fail and never count towards its owner's lockout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::common::tokens::{basic, bearer, forged_token, token_id, unique_name};
use crate::common::Daemon;
use crate::{auth, failure_entry, is_locked};

#[test]
fn public_token_id_is_not_a_weapon_forged_secrets_after_a_settings_change() {
    let daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    let owner = unique_name("wpn");
    let token = daemon.create_token(&owner);
    let sock = daemon.http_sock();
    let real_basic = basic(owner.as_bytes(), token.as_bytes());
    assert_eq!(auth(&sock, &real_basic), 200, "first use");
    daemon.cli_ok(&["settings", "set", "lockout-threshold", "3"]);
    // Any settings change: it used to empty the cache, so the next request re-verified.
    daemon.cli_ok(&["settings", "set", "lockout-window", "20m"]);

    let stop = Arc::new(AtomicBool::new(false));
    let flood: Vec<_> = (0..8)
        .map(|i| {
            let (sock, owner, id, stop) = (
                sock.clone(),
                owner.clone(),
                token_id(&token).to_string(),
                stop.clone(),
            );
            std::thread::spawn(move || {
                let mut sent = 0;
                while !stop.load(Ordering::Relaxed) && sent < 200 {
                    let forged = forged_token(&id);
                    let value = if i % 2 == 0 {
                        basic(owner.as_bytes(), forged.as_bytes())
                    } else {
                        bearer(&forged)
                    };
                    assert_ne!(auth(&sock, &value), 200, "a forged secret was accepted");
                    sent += 1;
                }
                sent
            })
        })
        .collect();
    // The owner keeps working during the flood, by Basic and by Bearer.
    let mut during = Vec::new();
    for _ in 0..40 {
        during.push(auth(&sock, &real_basic));
        during.push(auth(&sock, &bearer(&token)));
    }
    stop.store(true, Ordering::Relaxed);
    let forged: u32 = flood.into_iter().map(|t| t.join().unwrap()).sum();
    println!("{forged} forged secrets for one id; the owner's 80 requests meanwhile: {during:?}");
    assert!(
        during.iter().all(|&s| s == 200),
        "the real token failed during the flood: {during:?}"
    );
    assert_eq!(auth(&sock, &real_basic), 200, "after the flood");
    assert!(
        !is_locked(&daemon, &owner),
        "forged secrets locked the owner out: {:?}",
        failure_entry(&daemon, &owner)
    );
    assert!(
        failure_entry(&daemon, &owner).is_none_or(|e| e["failures"] == 0),
        "forged secrets counted towards the owner: {:?}",
        failure_entry(&daemon, &owner)
    );
}

//! **No local user can deny others** (SPEC §13) through the failure table: wrong passwords
//! for invented names, from anyone who reaches `http.sock` (mode 0666 by default) or
//! `check.sock` (always 0666), must not lock a real account out once the table holds its
//! most names.

use std::io::{BufReader, Write};
use std::time::Instant;

use crate::auth_basic;
use crate::common::http::{format_request, read_response, unix_connect};
use crate::common::tokens::basic;
use crate::common::{ensure_user, Daemon};

/// The daemon's bound on the names it tracks (`src/lockout.rs` `MAX_USERS`), and a margin.
const FLOOD: usize = 100_000 + 500;
const CONNECTIONS: usize = 16;
/// The account whose password checks must go on.
const ACCOUNT: &str = "atk-crowded";

/// Wrong passwords for `count` invented names on one keep-alive connection; the statuses.
fn invented_names(daemon: &Daemon, conn: usize, count: usize) -> Vec<u16> {
    let mut stream = unix_connect(&daemon.http_sock());
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    (0..count)
        .map(|i| {
            let auth = basic(format!("nobody-{conn}-{i}").as_bytes(), b"wrong");
            let headers: [(&str, &[u8]); 2] =
                [("Authorization", &auth), ("X-Real-IP", b"192.0.2.7")];
            let req = format_request("GET", "/auth", &headers, b"", true);
            stream.write_all(&req).unwrap();
            read_response(&mut reader, false).unwrap().status
        })
        .collect()
}

#[test]
fn no_local_user_can_deny_others_invented_names_filling_the_failure_table() {
    ensure_user(ACCOUNT);
    // backend "none": every password is wrong, but each attempt is counted and checked.
    let daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    let started = Instant::now();
    let d = &daemon;
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let floods: Vec<_> = (0..CONNECTIONS)
            .map(|c| s.spawn(move || invented_names(d, c, FLOOD / CONNECTIONS + 1)))
            .collect();
        floods.into_iter().flat_map(|f| f.join().unwrap()).collect()
    });
    let refused = statuses.iter().filter(|&&s| s == 403).count();
    println!(
        "{} invented names in {:?}: {refused} refused unchecked once the table was full",
        statuses.len(),
        started.elapsed()
    );
    assert!(refused > 0, "the flood never filled the table; raise FLOOD");
    // The account is checked (401, a wrong password), not refused as locked (403).
    assert_eq!(auth_basic(&daemon, ACCOUNT, "wrong"), 401);
    assert_eq!(auth_basic(&daemon, ACCOUNT, "wrong"), 401);
}

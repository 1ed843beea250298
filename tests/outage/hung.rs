//! A database that hangs instead of going away (SIGSTOP: connections are accepted and
//! nothing is answered, as behind a network that drops packets): no answer waits longer
//! than the store's bound on a call, nothing uncached is allowed, admin commands are
//! refused naming the database, a cached token is accepted until `outage_grace_seconds`
//! after the database last answered and never after, and once the database answers again
//! everything works; the hang is noticed even when no request reaches the database.

use std::time::{Duration, Instant};

use crate::common::pg::PgServer;
use crate::common::{eventually, stderr};
use crate::{check, host, status, wait_store};

const GRACE: u64 = 8;
/// The longest any answer may take while the database hangs: the store bounds a call at
/// 5 s; the rest is slack for a loaded machine.
const BOUNDED: Duration = Duration::from_secs(8);

/// Asks for `token` until `until` after `since`: when it was last accepted and whether it
/// was refused, failing if an answer took too long or a refusal was followed by a success.
fn watch(h: &crate::common::Daemon, token: &str, since: Instant, until: Duration) -> Duration {
    let (mut last_ok, mut refused) = (None, false);
    while since.elapsed() < until {
        let (got, took) = check(h, token, "127.0.0.1");
        assert!(took < BOUNDED, "a cached token's answer took {took:?}");
        match got {
            200 => {
                assert!(!refused, "accepted again after being refused");
                last_ok = Some(since.elapsed());
            }
            500 => refused = true,
            other => panic!("a cached token during a hang: {other}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        refused,
        "a cached token was still accepted {until:?} into the hang"
    );
    last_ok.expect("a cached token was refused at once, within the grace")
}

/// The database last answered before `frozen`: `token` is accepted at most the grace
/// after it (whole seconds allow one more), then refused.
fn ends_with_the_grace(h: &crate::common::Daemon, token: &str, frozen: Instant) {
    let last_ok = watch(h, token, frozen, Duration::from_secs(GRACE + 12));
    assert!(
        last_ok <= Duration::from_secs(GRACE + 1),
        "a cached token was accepted {last_ok:?} into the hang (grace {GRACE} s)"
    );
}

#[test]
fn outage_hung_database_blocks_no_answer_and_cached_tokens_end_with_the_grace() {
    let server = PgServer::start();
    server.database("hung");
    let h = host(&server, "hung", GRACE, "[password]\nbackend = \"none\"\n");
    let (cached, uncached) = (h.create_token("root"), h.create_token("root"));
    assert_eq!(status(&h, &cached), 200);

    server.freeze();
    let frozen = Instant::now();
    let (got, took) = check(&h, &uncached, "127.0.0.1");
    assert_eq!(got, 500, "an uncached token cannot be decided");
    assert!(took < BOUNDED, "an uncached token's answer took {took:?}");
    let out = h.cli(&["list", "--json"]);
    let text = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let named = format!(
        "PostgreSQL at 127.0.0.1:{}/hung does not answer",
        server.port
    );
    assert!(text.contains(&named), "{text}");
    assert!(
        frozen.elapsed() < 2 * BOUNDED,
        "the refusal took {:?}",
        frozen.elapsed()
    );
    wait_store(&h, false);

    ends_with_the_grace(&h, &cached, frozen);

    server.thaw();
    wait_store(&h, true);
    for token in [&cached, &uncached] {
        assert!(eventually(Duration::from_secs(10), || status(&h, token) == 200));
    }
    assert!(h
        .cli_ok(&["list", "--json"])
        .contains(crate::common::tokens::token_id(&uncached)));
}

/// With nothing but cached tokens asked for and a cache lifetime far beyond the grace, no
/// call of a request notices the hang: the change log's catch-up must, and the grace
/// still ends the cached tokens.
#[test]
fn outage_hung_database_is_noticed_without_requests_that_reach_it() {
    let server = PgServer::start();
    server.database("quiet");
    let extra = "[password]\nbackend = \"none\"\n[cache]\nttl_seconds = 3600\n";
    let h = host(&server, "quiet", GRACE, extra);
    let cached = h.create_token("root");
    assert_eq!(status(&h, &cached), 200);

    server.freeze();
    let frozen = Instant::now();
    ends_with_the_grace(&h, &cached, frozen);
    server.thaw();
    wait_store(&h, true);
    assert!(eventually(Duration::from_secs(10), || status(&h, &cached) == 200));
}

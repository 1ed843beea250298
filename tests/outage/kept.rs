//! What the request path writes behind during an outage is kept and delivered: a
//! rotated-away token presented while the database was stopped (its `token.reuse` audit
//! record) and a token's last use then are in the database once it is back.

use std::time::Duration;

use crate::common::http::metric;
use crate::common::pg::PgServer;
use crate::common::run::external;
use crate::common::tokens::token_id;
use crate::common::{eventually, Daemon, TOKENS_ONLY};
use crate::{check, host, wait_store};

/// Whether the audit trail holds `token.reuse` of `id` through `via`.
fn reuse_recorded(h: &Daemon, id: &str, via: &str) -> bool {
    let audit = h.cli_json(&["audit", "--json"]);
    audit
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == "token.reuse" && e["token_id"] == id && e["via"] == via)
}

#[test]
fn outage_audit_records_and_last_used_data_reach_the_database_when_it_returns() {
    let server = PgServer::start();
    server.database("kept");
    let h = host(&server, "kept", 300, TOKENS_ONLY);
    let token = h.create_token("root");
    let old = h.create_token("root");
    h.cli_ok(&["rotate", token_id(&old)]);
    // The host's own follower applies the rotation's change-log rows as well, forgetting
    // the old record once more; after one catch-up period (2 s) it has.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(check(&h, &token, "192.0.2.1").0, 200);
    // The rotated-away token is refused, reported, and its record cached.
    assert_eq!(check(&h, &old, "192.0.2.1").0, 401);
    assert!(eventually(Duration::from_secs(10), || reuse_recorded(
        &h,
        token_id(&old),
        "http"
    )));

    server.pause();
    wait_store(&h, false);
    assert_eq!(
        check(&h, &token, "198.51.100.7").0,
        200,
        "cached, within the grace"
    );
    let code = external(&h.check_sock(), "127.0.0.1", None, "root", &old);
    assert_eq!(
        code,
        Some(1),
        "the rotated-away token through the Apache helper"
    );
    h.wait_syslog(&["event=token.reuse", "via=external"]);
    let sock = h.http_sock();
    assert!(
        eventually(Duration::from_secs(10), || metric(
            &sock,
            "apitokend_store_queued"
        ) >= 1),
        "the token.reuse record waits in the queue"
    );

    server.resume();
    wait_store(&h, true);
    assert!(
        eventually(Duration::from_secs(30), || reuse_recorded(
            &h,
            token_id(&old),
            "external"
        )),
        "token.reuse made during the outage never reached the audit trail: {}",
        h.cli_ok(&["audit", "--json"])
    );
    assert!(eventually(Duration::from_secs(10), || metric(
        &sock,
        "apitokend_store_queued"
    ) == 0));
    assert_eq!(metric(&sock, "apitokend_store_queue_dropped_total"), 0);
    let last_ip = || h.cli_json(&["show", token_id(&token), "--json"])["last_ip"] == "198.51.100.7";
    assert!(
        eventually(Duration::from_secs(30), last_ip),
        "the use during the outage never reached the database: {}",
        h.cli_ok(&["show", token_id(&token), "--json"])
    );
}

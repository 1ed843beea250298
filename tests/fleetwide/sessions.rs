//! Web sessions live in the store (SPEC §11), so in a fleet they are the fleet's: a login
//! on one host's web face opens a session every host honours, and a logout through any
//! host ends it on all of them.

use serde_json::json;

use crate::common::pg::PgServer;
use crate::common::tokens::unique_name;
use crate::web_harness::{json, WebDaemon, USER_PASSWORD};

#[test]
fn fleet_web_session_opened_on_one_host_works_on_every_host_and_logout_ends_it_on_all() {
    let server = PgServer::start();
    let url = server.database("web");
    let user = unique_name("fws");
    let toml = server.store_toml(&url);
    let hosts: Vec<WebDaemon> = (0..3).map(|_| WebDaemon::start(&[&user], &toml)).collect();
    let session = hosts[0].login(&user, USER_PASSWORD);
    for (i, h) in hosts.iter().enumerate() {
        let me = session.get(h, "/api/v1/me");
        assert_eq!(me.status, 200, "host {i}: {me:?}");
        assert_eq!(json(&me)["user"], user.as_str(), "host {i}");
    }
    // A change through a second host, with the session's CSRF token.
    let made = session.send(
        &hosts[1],
        "POST",
        "/api/v1/tokens",
        Some(&json!({"name": "h1"})),
    );
    assert_eq!(made.status, 201, "{made:?}");
    let listed = session.get(&hosts[2], "/api/v1/tokens");
    assert_eq!(json(&listed)["tokens"][0]["name"], "h1", "{listed:?}");
    let out = session.send(&hosts[2], "DELETE", "/api/v1/session", None);
    assert_eq!(out.status, 204, "{out:?}");
    for (i, h) in hosts.iter().enumerate() {
        let me = session.get(h, "/api/v1/me");
        assert_eq!(
            me.status, 401,
            "host {i} still honours a session ended elsewhere"
        );
    }
}

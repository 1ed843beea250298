//! Per-token networks narrow `allowed-networks` and never widen it.

use crate::common::Daemon;
use crate::pam::{Outcome, Pam};
use crate::{ask_from, assert_status, call, start_tokens_only, TOKENS_ONLY};

#[test]
fn network_token_outside_its_networks_403() {
    let (daemon, nginx) = start_tokens_only();
    let (ten, v) = daemon.create_json(&["--allow-ip", "10.0.0.0/8"]);
    assert_eq!(v["networks"], serde_json::json!(["10.0.0.0/8"]), "{v}");
    assert_status(
        &call(&nginx, "GET", "/api/x", &ten),
        403,
        "token for 10/8 from 127.0.0.1",
    );
    daemon.wait_syslog(&["event=auth.failure", "reason=ip_denied", "ip=127.0.0.1"]);
    let (local, v) = daemon.create_json(&["--allow-ip", "127.0.0.1"]);
    assert_eq!(v["networks"], serde_json::json!(["127.0.0.1/32"]), "{v}");
    assert_status(
        &call(&nginx, "GET", "/api/x", &local),
        200,
        "token for 127.0.0.1 from 127.0.0.1",
    );
    assert_status(
        &ask_from(&daemon, "127.0.0.2", "GET", "/api/x", &local),
        403,
        "token for 127.0.0.1 from 127.0.0.2",
    );
    daemon.wait_syslog(&["event=auth.failure", "reason=ip_denied", "ip=127.0.0.2"]);
}

#[test]
fn network_token_several_networks_any_matches() {
    let (daemon, nginx) = start_tokens_only();
    let (token, v) = daemon.create_json(&["--allow-ip", "192.0.2.0/24", "127.0.0.2"]);
    assert_eq!(
        v["networks"],
        serde_json::json!(["192.0.2.0/24", "127.0.0.2/32"]),
        "{v}"
    );
    assert_status(
        &ask_from(&daemon, "127.0.0.2", "GET", "/api/x", &token),
        200,
        "from 127.0.0.2",
    );
    assert_status(
        &call(&nginx, "GET", "/api/x", &token),
        403,
        "from 127.0.0.1",
    );
}

#[test]
fn network_token_cannot_widen_allowed_networks() {
    let (daemon, nginx) = start_tokens_only();
    let (token, _) = daemon.create_json(&["--allow-ip", "127.0.0.1"]);
    assert_status(&call(&nginx, "GET", "/api/x", &token), 200, "before");
    daemon.cli_ok(&["allow-ip", "add", "10.0.0.0/8"]);
    assert_status(
        &call(&nginx, "GET", "/api/x", &token),
        403,
        "token for 127.0.0.1 while allowed-networks is 10.0.0.0/8",
    );
    daemon.cli_ok(&["allow-ip", "add", "127.0.0.0/8"]);
    assert_status(&call(&nginx, "GET", "/api/x", &token), 200, "both allow");
    assert_status(
        &ask_from(&daemon, "127.0.0.2", "GET", "/api/x", &token),
        403,
        "allowed-networks allows 127.0.0.2, the token does not",
    );
}

#[test]
fn network_token_pam_rhost_judged_against_its_networks() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let (token, _) = daemon.create_json(&["--user", "alice", "--allow-ip", "192.0.2.0/24"]);
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &token)]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.7"), &token),
        Outcome::Success
    );
    assert_eq!(
        pam.auth("alice", Some("198.51.100.7"), &token),
        Outcome::AuthErr
    );
    daemon.wait_syslog(&["event=auth.failure", "via=pam", "reason=ip_denied"]);
}

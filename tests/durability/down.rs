//! While the daemon is down every front end fails closed; all recover on restart.

use super::*;

/// Runs `apitoken-external` like Apache does for a client at 192.0.2.10.
fn external(sock: &Path, user: &str, secret: &str) -> Option<i32> {
    common::run::external(sock, "192.0.2.10", None, user, secret)
}

#[test]
fn daemon_killed_every_front_end_fails_closed_then_recovers() {
    let mut daemon = Daemon::start_with("[password]\nbackend = \"none\"\n", &[]);
    let nginx = Nginx::start(&daemon.http_sock());
    let token = daemon.create_token("durdown");
    assert_eq!(nginx.api(Some(&bearer(&token))).status, 200);
    assert_eq!(external(&daemon.check_sock(), "durdown", &token), Some(0));

    daemon.kill();
    let down = nginx.api(Some(&bearer(&token)));
    assert_eq!(
        down.status, 500,
        "nginx must deny when apitokend is down: {down:?}"
    );
    assert_eq!(
        external(&daemon.check_sock(), "durdown", &token),
        Some(50),
        "apitoken-external with the daemon down"
    );
    assert_eq!(daemon.cli(&["status"]).status.code(), Some(69));

    daemon.restart();
    assert_eq!(nginx.api(Some(&bearer(&token))).status, 200);
    assert_eq!(external(&daemon.check_sock(), "durdown", &token), Some(0));
}

//! While the daemon is down every front end fails closed; all recover on restart.

use super::*;

/// Runs `apitoken-external` like Apache does: `user\nsecret\n` on stdin, `$IP` set.
fn external(sock: &Path, user: &str, secret: &str) -> Option<i32> {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_apitoken-external"))
        .arg("--socket")
        .arg(sock)
        .env("IP", "192.0.2.10")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{user}\n{secret}\n").as_bytes())
        .unwrap();
    child.wait().unwrap().code()
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

//! A host that cannot open its store refuses to start, at once, saying why in words that
//! name the database and the cause: nothing listening there, a wrong password. (A wrong
//! certificate: tls.rs.) Under systemd, `Restart=on-failure` tries again.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::base_config;
use crate::common::pg::PgServer;

/// Runs the daemon with the `[store]` section `store` and expects it to refuse to start;
/// its stderr.
pub fn refused_start(store: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("apitokend.toml");
    let text = format!("{}\n{store}", base_config(dir.path()));
    std::fs::write(&config, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_apitokend"))
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the daemon started with {store}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn fleet_host_that_cannot_reach_its_database_refuses_to_start_saying_why() {
    let server = PgServer::start();
    let url = server.database("refused");
    let nobody = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = nobody.local_addr().unwrap().port();
    drop(nobody);
    let closed = url.replace(&server.port.to_string(), &port.to_string());
    let started = Instant::now();
    let err = refused_start(&server.store_toml(&closed));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    let named = format!("PostgreSQL at 127.0.0.1:{port}/refused does not answer");
    assert!(
        err.contains(&named) && err.contains("Connection refused"),
        "{err}"
    );

    let wrong = server.data_dir().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let store = format!(
        "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npassword_file = \"{}\"\n",
        wrong.display()
    );
    let err = refused_start(&store);
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(
        !err.contains("not-the-password"),
        "the password reached stderr: {err}"
    );
}

//! Restarting the daemon under load loses no request when a supervisor holds the
//! sockets, as systemd does with `apitokend.socket`: the supervisor binds `http.sock`,
//! `check.sock` and `admin.sock` once and starts the daemon with `LISTEN_FDS`, three times
//! over, while `wrk` drives a real nginx in front of it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]

mod common;
mod nginx_harness;

use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Holds the three sockets and (re)starts the daemon with them.
struct Supervisor {
    sockets: [UnixListener; 3],
    config: std::path::PathBuf,
    child: Option<Child>,
}

impl Supervisor {
    fn bind(run: &Path) -> [UnixListener; 3] {
        std::fs::create_dir_all(run).unwrap();
        ["http", "check", "admin"].map(|name| {
            let path = run.join(format!("{name}.sock"));
            let l = UnixListener::bind(&path).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .unwrap();
            l
        })
    }

    fn start(&mut self) {
        let fds = self.sockets.each_ref().map(|s| s.as_raw_fd());
        let mut cmd = Command::new("sh");
        // `$$` is the shell's pid, which `exec` hands to apitokend: LISTEN_PID must name it.
        cmd.args([
            "-c",
            "LISTEN_PID=$$ exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_apitokend"),
            "--config",
        ])
        .arg(&self.config)
        .env("LISTEN_FDS", "3")
        .env("LISTEN_FDNAMES", "http:check:admin")
        .stdin(Stdio::null());
        // SAFETY: between fork and exec only dup2 runs, which is async-signal-safe; it
        // places the three inherited sockets at fds 3, 4, 5 without CLOEXEC.
        unsafe {
            cmd.pre_exec(move || {
                for (i, fd) in fds.iter().enumerate() {
                    if libc::dup2(*fd, 3 + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    /// SIGTERM, wait for a clean exit, start again.
    fn restart(&mut self) {
        let mut child = self.child.take().unwrap();
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            assert!(
                Instant::now() < deadline,
                "apitokend did not stop within 15 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        assert!(status.success(), "apitokend exited with {status}");
        self.start();
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wrk_line<'a>(out: &'a str, prefix: &str) -> Option<&'a str> {
    out.lines().map(str::trim).find(|l| l.starts_with(prefix))
}

#[test]
fn restart_under_load_with_held_sockets_loses_no_request() {
    let dir = tempfile::Builder::new()
        .prefix("apitokend-restart")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let _syslog = UnixListener::bind(dir.path().join("unused")).unwrap();
    let config = dir.path().join("apitokend.toml");
    std::fs::write(
        &config,
        common::base_config(dir.path()).replace("[syslog]", "[syslog]\nenabled = false"),
    )
    .unwrap();
    let run = dir.path().join("run");
    let mut sup = Supervisor {
        sockets: Supervisor::bind(&run),
        config,
        child: None,
    };
    sup.start();
    let admin = run.join("admin.sock");
    let out = Command::new(env!("CARGO_BIN_EXE_apitoken"))
        .arg("--socket")
        .arg(&admin)
        .args(["create", "--user", "svc-restart"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let nginx = nginx_harness::Nginx::start(&run.join("http.sock"));
    let first = nginx.api(Some(&common::tokens::bearer(&token)));
    assert_eq!(first.status, 200, "the token works before the restarts");

    let url = format!("http://127.0.0.1:{}/api/", nginx.port);
    let wrk = Command::new("wrk")
        .args([
            "-t1",
            "-c8",
            "-d8s",
            "-H",
            &format!("Authorization: Bearer {token}"),
            &url,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("wrk is installed by tests/run.sh");
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1500));
        sup.restart();
        // The admin socket keeps answering across restarts too.
        assert!(UnixStream::connect(&admin).is_ok());
    }
    let out = wrk.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    println!("{text}");
    assert!(out.status.success());
    let requests: u64 = wrk_line(&text, "Requests/sec:")
        .is_some()
        .then(|| {
            text.lines()
                .find(|l| l.contains("requests in"))
                .and_then(|l| l.split_whitespace().next())
                .and_then(|n| n.parse().ok())
        })
        .flatten()
        .expect("wrk printed a request count");
    assert!(requests > 100, "wrk made only {requests} requests");
    assert!(
        wrk_line(&text, "Non-2xx or 3xx responses:").is_none(),
        "failed requests during restarts:\n{text}"
    );
    assert!(
        wrk_line(&text, "Socket errors:").is_none(),
        "socket errors during restarts:\n{text}"
    );
    println!("restart_under_load: {requests} requests across 3 restarts, 0 failed");
}

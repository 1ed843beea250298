//! Restarting the daemon under load loses no request when a supervisor holds the
//! sockets, as systemd does with `apitokend.socket`: the supervisor binds `http.sock`,
//! `check.sock` and `admin.sock` once and starts the daemon with `LISTEN_FDS`, three times
//! over, while `wrk` drives a real nginx in front of it. The web face's socket (`web`, as
//! `apitokend-web.socket` names it) is handed over the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, unsafe_code)]
#![warn(clippy::too_many_lines)]

mod common;
mod nginx_harness;

use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Holds the sockets and (re)starts the daemon with them.
struct Supervisor {
    names: &'static [&'static str],
    sockets: Vec<UnixListener>,
    config: PathBuf,
    child: Option<Child>,
}

impl Supervisor {
    /// Binds `<name>.sock` in `run` for each of `names`, in the order they are passed.
    fn new(run: &Path, names: &'static [&'static str], config: PathBuf) -> Self {
        std::fs::create_dir_all(run).unwrap();
        let sockets = names
            .iter()
            .map(|name| {
                let path = run.join(format!("{name}.sock"));
                let l = UnixListener::bind(&path).unwrap();
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o666),
                )
                .unwrap();
                l
            })
            .collect();
        Supervisor {
            names,
            sockets,
            config,
            child: None,
        }
    }

    fn start(&mut self) {
        let fds: Vec<i32> = self.sockets.iter().map(|s| s.as_raw_fd()).collect();
        let mut cmd = Command::new("sh");
        // `$$` is the shell's pid, which `exec` hands to apitokend: LISTEN_PID must name it.
        cmd.args([
            "-c",
            "LISTEN_PID=$$ exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_apitokend"),
            "--config",
        ])
        .arg(&self.config)
        .env("LISTEN_FDS", fds.len().to_string())
        .env("LISTEN_FDNAMES", self.names.join(":"))
        .stdin(Stdio::null());
        // SAFETY: between fork and exec only dup2 and close run, which are
        // async-signal-safe. The sockets go to fds 3, 4, ... (without CLOEXEC) by way of
        // fds from 200 up, so that placing one never overwrites another still to be placed.
        unsafe {
            cmd.pre_exec(move || {
                for (i, fd) in fds.iter().enumerate() {
                    if libc::dup2(*fd, 200 + i as i32) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                for i in 0..fds.len() as i32 {
                    if libc::dup2(200 + i, 3 + i) < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::close(200 + i);
                }
                Ok(())
            });
        }
        self.child = Some(cmd.spawn().unwrap());
    }

    /// SIGTERM, wait for a clean exit, start again.
    fn restart(&mut self) {
        self.stop();
        self.start();
    }

    /// SIGTERM and wait for a clean exit.
    fn stop(&mut self) {
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

/// A temp directory named after `prefix` with the test defaults, syslog off, in
/// `apitokend.toml`: the directory and that path.
fn daemon_dir(prefix: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    let config = dir.path().join("apitokend.toml");
    let toml = common::base_config(dir.path()).replace("[syslog]", "[syslog]\nenabled = false");
    std::fs::write(&config, toml).unwrap();
    (dir, config)
}

fn wrk_line<'a>(out: &'a str, prefix: &str) -> Option<&'a str> {
    out.lines().map(str::trim).find(|l| l.starts_with(prefix))
}

/// A token of `svc-restart` made with the real `apitoken` on `admin`.
fn create_token(admin: &Path) -> String {
    let out = common::run::apitoken(admin, None, &["create", "--user", "svc-restart"], "");
    assert!(out.status.success(), "{}", common::stderr(&out));
    common::stdout(&out)
}

/// wrk for 8 s on `url` with 8 connections, each request carrying `token`.
fn start_wrk(url: &str, token: &str) -> Child {
    Command::new("wrk")
        .args([
            "-t1",
            "-c8",
            "-d8s",
            "-H",
            &format!("Authorization: Bearer {token}"),
            url,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("wrk is installed by tests/run.sh")
}

/// wrk ended well, made more than 100 requests and saw no failure; how many it made.
fn assert_wrk_clean(wrk: Child) -> u64 {
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
    requests
}

#[test]
fn restart_under_load_with_held_sockets_loses_no_request() {
    let (dir, config) = daemon_dir("apitokend-restart");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let _syslog = UnixListener::bind(dir.path().join("unused")).unwrap();
    let run = dir.path().join("run");
    let mut sup = Supervisor::new(&run, &["http", "check", "admin"], config);
    sup.start();
    let admin = run.join("admin.sock");
    let token = create_token(&admin);
    let nginx = nginx_harness::Nginx::start(&run.join("http.sock"));
    let first = nginx.api(Some(&common::tokens::bearer(&token)));
    assert_eq!(first.status, 200, "the token works before the restarts");

    let url = format!("http://127.0.0.1:{}/api/", nginx.port);
    let wrk = start_wrk(&url, &token);
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1500));
        sup.restart();
        // The admin socket keeps answering across restarts too.
        assert!(UnixStream::connect(&admin).is_ok());
    }
    let requests = assert_wrk_clean(wrk);
    println!("restart_under_load: {requests} requests across 3 restarts, 0 failed");
}

/// The web face's socket comes from the supervisor too (`FileDescriptorName=web`): it
/// serves on it, a connection made while the daemon is down is answered by the next one,
/// and the daemon never removes the file of a socket it was handed.
#[test]
fn socket_activation_hands_over_web_sock() {
    let (dir, config) = daemon_dir("apitokend-webact");
    let run = dir.path().join("run");
    let mut sup = Supervisor::new(&run, &["http", "check", "admin", "web"], config);
    sup.start();
    let web = run.join("web.sock");
    let up = common::eventually(Duration::from_secs(20), || {
        UnixStream::connect(run.join("admin.sock")).is_ok()
    });
    assert!(up, "apitokend did not start");
    let doc = common::http::unix_request(&web, "GET", "/api/v1/openapi.json", &[], b"");
    assert_eq!(doc.status, 200, "{doc:?}");
    assert!(doc.text().contains("\"openapi\":\"3.1"), "{doc:?}");
    sup.stop();
    assert!(
        web.exists(),
        "the daemon removed the web socket it was handed"
    );
    // Queued on the held socket while nothing serves it.
    let mut waiting = common::http::unix_connect(&web);
    let req = common::http::format_request("GET", "/api/v1/me", &[], b"", false);
    std::io::Write::write_all(&mut waiting, &req).unwrap();
    sup.start();
    let resp = common::http::read_response(&mut std::io::BufReader::new(waiting), false).unwrap();
    assert_eq!(resp.status, 401, "the queued request is answered: {resp:?}");
    assert!(resp.text().contains("unauthorized"), "{resp:?}");
}

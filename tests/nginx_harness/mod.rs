//! A real nginx in front of a test daemon, configured from the shipped
//! `packaging/nginx/apitokend.conf`.
//!
//! nginx runs with one worker, every path (pid, logs, temp dirs) inside its own temp
//! directory, on a free port of 127.0.0.1. The protected application behind `/api/` is a
//! second server block that echoes the headers nginx passed on, so a test sees exactly
//! what an application would: `user=`, `method=` and `token_id=` lines.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::http::{free_port, tcp_request, Response};
use crate::common::{Daemon, TOKENS_ONLY};

/// The socket path the shipped snippet uses; tests substitute their own.
const SHIPPED_SOCKET: &str = "/run/apitokend/http.sock";

/// A running nginx; stopped and its directory removed on drop.
pub struct Nginx {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

/// What to start nginx with beyond the shipped snippet as it is.
#[derive(Default)]
pub struct Options {
    /// Uncomment the snippet's `X-Auth-Reason` lines, as its comment tells admins to.
    pub pass_reason: bool,
    /// The application's `location / { ... }` body in place of the echo application.
    pub application: Option<String>,
}

impl Nginx {
    /// Starts nginx in front of the daemon listening on `http_sock`.
    pub fn start(http_sock: &Path) -> Nginx {
        Self::start_with(http_sock, &Options::default())
    }

    /// Starts nginx in front of the daemon, as `options` say.
    pub fn start_with(http_sock: &Path, options: &Options) -> Nginx {
        // Free ports are picked by binding port 0 and releasing it; another process can
        // take one in between, so a start that fails on a taken port is retried.
        for _attempt in 0..10 {
            let (port, echo_port) = (free_port(), free_port());
            if port == echo_port {
                continue;
            }
            let dir = tempfile::Builder::new()
                .prefix("apitokend-nginx")
                .tempdir()
                .unwrap();
            // The workers run as nobody when the tests run as root.
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
            let conf = dir.path().join("nginx.conf");
            let text = config(dir.path(), port, echo_port, http_sock, options);
            std::fs::write(&conf, text).unwrap();
            let child = spawn(dir.path(), &conf);
            let mut nginx = Nginx {
                dir,
                port,
                child: Some(child),
            };
            match nginx.wait_ready() {
                Ok(()) => return nginx,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("nginx did not start:\n{log}"),
            }
        }
        panic!("nginx could not bind a free port in 10 attempts");
    }

    /// Polls `/_ready` until nginx answers; on early exit returns the error log.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(resp) = self.try_request("GET", "/_ready", &[], b"") {
                if resp.status == 200 && resp.body == b"ready" {
                    return Ok(());
                }
            }
            let child = self.child.as_mut().unwrap();
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return Err(format!("nginx exited with {status}:\n{}", self.error_log()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "nginx not ready within 20 s:\n{}",
                    self.error_log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// nginx's error log so far (for failure messages).
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Sends one request over a fresh connection.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> io::Result<Response> {
        tcp_request(self.port, method, path, headers, body)
    }

    /// Sends one request and panics (with nginx's error log) if the exchange fails.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Response {
        self.try_request(method, path, headers, body)
            .unwrap_or_else(|e| {
                panic!(
                    "{method} {path} via nginx failed: {e}\n{}",
                    self.error_log()
                )
            })
    }

    /// `GET path` with the given headers.
    pub fn get(&self, path: &str, headers: &[(&str, &[u8])]) -> Response {
        self.request("GET", path, headers, b"")
    }

    /// `GET /api/resource` with `Authorization: <value>`, or without it when `None`.
    pub fn api(&self, authorization: Option<&[u8]>) -> Response {
        match authorization {
            Some(value) => self.get("/api/resource", &[("Authorization", value)]),
            None => self.get("/api/resource", &[]),
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop(&mut child);
        }
    }
}

fn nginx_binary() -> PathBuf {
    std::env::var_os("NGINX").map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from)
}

/// Starts nginx in the foreground on `conf`, its prefix and error log in `dir`.
pub fn spawn(dir: &Path, conf: &Path) -> Child {
    Command::new(nginx_binary())
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(conf)
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run nginx; `bash tests/run.sh` installs it")
}

/// Stops an nginx master with SIGTERM, which stops its worker too (SIGKILL would orphan
/// the worker); killed if it is still there after 10 s.
pub fn stop(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-s", "TERM", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The `user` directive: the workers run as nobody when the tests run as root.
pub fn user_directive() -> &'static str {
    if nix::unistd::Uid::effective().is_root() {
        "user nobody nogroup;"
    } else {
        ""
    }
}

/// A daemon checking tokens only (no password backend) with nginx in front of it.
pub fn start_tokens_only() -> (Daemon, Nginx) {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let nginx = Nginx::start(&daemon.http_sock());
    (daemon, nginx)
}

/// The shipped snippet with the test's socket path in place of the packaged one.
pub fn shipped_snippet(http_sock: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nginx/apitokend.conf");
    let snippet = std::fs::read_to_string(&path).unwrap();
    assert!(
        snippet.contains(SHIPPED_SOCKET),
        "{} no longer mentions {SHIPPED_SOCKET}",
        path.display()
    );
    snippet.replace(SHIPPED_SOCKET, &http_sock.display().to_string())
}

/// The lines of the shipped snippet that pass the refusal reason on, commented out.
const REASON_LINES: [&str; 2] = [
    "# auth_request_set $api_reason $upstream_http_x_auth_reason;",
    "# add_header X-Auth-Reason $api_reason always;",
];

/// The echo application: shows what nginx passed on after auth_request.
const ECHO: &str = r#"default_type text/plain;
            return 200 "user=$http_x_remote_user\nmethod=$http_x_remote_auth_method\nauthorization=$http_authorization\ntoken_id=$http_x_remote_token_id\n";"#;

fn config(dir: &Path, port: u16, echo_port: u16, http_sock: &Path, options: &Options) -> String {
    let d = dir.display();
    let user = user_directive();
    let mut snippet = shipped_snippet(http_sock);
    if options.pass_reason {
        for line in REASON_LINES {
            assert!(snippet.contains(line), "the shipped snippet lost {line:?}");
            snippet = snippet.replace(line, line.trim_start_matches("# "));
        }
    }
    let application = options.application.as_deref().unwrap_or(ECHO);
    format!(
        r#"worker_processes 1;
daemon off;
master_process on;
{user}
pid {d}/nginx.pid;
error_log {d}/error.log info;

events {{
    worker_connections 256;
}}

http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    upstream backend {{
        server 127.0.0.1:{echo_port};
    }}

    server {{
        listen 127.0.0.1:{port};
        location = /_ready {{
            return 200 "ready";
        }}
{snippet}
    }}

    # The application behind the snippet's `backend`.
    server {{
        listen 127.0.0.1:{echo_port};
        location / {{
            {application}
        }}
    }}
}}
"#
    )
}

//! A real nginx in front of a test daemon, configured from the shipped
//! `packaging/nginx/apitokend.conf`, plus a small HTTP/1.1 client for TCP and Unix sockets.
//!
//! nginx runs with one worker, every path (pid, logs, temp dirs) inside its own temp
//! directory, on a free port of 127.0.0.1. The protected application behind `/api/` is a
//! second server block that echoes the headers nginx passed on, so a test sees exactly
//! what an application would: `user=`, `method=` and `token_id=` lines.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{self, BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;

/// The socket path the shipped snippet uses; tests substitute their own.
const SHIPPED_SOCKET: &str = "/run/apitokend/http.sock";

/// How long one HTTP exchange may take before the test fails instead of hanging.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A running nginx; stopped and its directory removed on drop.
pub struct Nginx {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Nginx {
    /// Starts nginx in front of the daemon listening on `http_sock`.
    pub fn start(http_sock: &Path) -> Nginx {
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
            std::fs::write(&conf, config(dir.path(), port, echo_port, http_sock)).unwrap();
            let child = Command::new(nginx_binary())
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(&conf)
                .arg("-e")
                .arg(dir.path().join("error.log"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("cannot run nginx; `bash tests/run.sh` installs it");
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
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.write_all(&format_request(method, path, headers, body, false))?;
        read_response(&mut BufReader::new(stream), method == "HEAD")
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

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGTERM makes the master stop its worker too; SIGKILL would orphan it.
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
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nginx_binary() -> PathBuf {
    std::env::var_os("NGINX").map_or_else(|| PathBuf::from("/usr/sbin/nginx"), PathBuf::from)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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

fn config(dir: &Path, port: u16, echo_port: u16, http_sock: &Path) -> String {
    let d = dir.display();
    let user = if nix::unistd::Uid::effective().is_root() {
        "user nobody nogroup;"
    } else {
        ""
    };
    let snippet = shipped_snippet(http_sock);
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

    # The application: shows what nginx passed on after auth_request.
    server {{
        listen 127.0.0.1:{echo_port};
        location / {{
            default_type text/plain;
            return 200 "user=$http_x_remote_user\nmethod=$http_x_remote_auth_method\ntoken_id=$http_x_remote_token_id\n";
        }}
    }}
}}
"#
    )
}

/// Request headers as raw bytes, borrowed.
pub type Headers<'a> = &'a [(&'a str, &'a [u8])];

/// Request headers as raw bytes, owned values.
pub type OwnedHeaders<'a> = Vec<(&'a str, Vec<u8>)>;

/// One HTTP response.
pub struct Response {
    pub status: u16,
    /// Header names in lower case, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers)
            .field("body", &self.text())
            .finish()
    }
}

impl Response {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A `key=value` line of the echo application's body; `None` when absent or empty.
    pub fn echoed(&self, key: &str) -> Option<String> {
        let prefix = format!("{key}=");
        self.text()
            .lines()
            .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
            .filter(|v| !v.is_empty())
    }
}

/// Serializes a request; `headers` values are raw bytes so tests can send any octets.
pub fn format_request(
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
    keep_alive: bool,
) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n").into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH") {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

/// Reads one response; `head` says the request was HEAD (no body follows).
pub fn read_response(reader: &mut impl BufRead, head: bool) -> io::Result<Response> {
    let status_line = read_line(reader)?;
    if status_line.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "connection closed before a response",
        ));
    }
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?;
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header {line:?}")))?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    if head || status == 204 || status == 304 || (100..200).contains(&status) {
        return Ok(resp);
    }
    if resp
        .header("transfer-encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        loop {
            let size_line = read_line(reader)?;
            let size_hex = size_line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size_hex, 16)
                .map_err(|_| invalid(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                while !read_line(reader)?.is_empty() {}
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            resp.body.extend_from_slice(&chunk);
            read_line(reader)?;
        }
    } else if let Some(len) = resp.header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| invalid(format!("bad content-length {len:?}")))?;
        resp.body = vec![0; len];
        reader.read_exact(&mut resp.body)?;
    } else {
        reader.read_to_end(&mut resp.body)?;
    }
    Ok(resp)
}

fn read_line(reader: &mut impl BufRead) -> io::Result<String> {
    let mut line = Vec::new();
    reader.read_until(b'\n', &mut line)?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Connects to a Unix socket with read and write timeouts.
pub fn unix_connect(sock: &Path) -> UnixStream {
    let stream =
        UnixStream::connect(sock).unwrap_or_else(|e| panic!("connect {}: {e}", sock.display()));
    stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    stream
}

/// Sends one request straight to the daemon's `http.sock` on a fresh connection.
pub fn unix_request(
    sock: &Path,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    let mut stream = unix_connect(sock);
    stream
        .write_all(&format_request(method, path, headers, body, false))
        .unwrap();
    read_response(&mut BufReader::new(stream), method == "HEAD")
        .unwrap_or_else(|e| panic!("{method} {path} on {}: {e}", sock.display()))
}

/// `Basic base64(user:secret)` from raw bytes.
pub fn basic(user: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut pair = user.to_vec();
    pair.push(b':');
    pair.extend_from_slice(secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
    .into_bytes()
}

/// `Bearer token`.
pub fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

/// The public id of a token (`atk_<id>_...`).
pub fn token_id(token: &str) -> &str {
    &token[4..12]
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Appends the SPEC section 4 checksum to `atk_<id>_<secret>`, as the daemon computes it.
pub fn with_checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", String::from_utf8_lossy(&digits))
}

/// A well-formed token (valid checksum) with `id` and a secret that was never issued.
pub fn forged_token(id: &str) -> String {
    with_checksum(&format!("atk_{id}_{}", "Q".repeat(32)))
}

/// A valid token with its last checksum character changed.
pub fn bad_checksum(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

/// `prefix-<pid>-<n>`: names that stay unique across parallel test processes and
/// threads, short enough for `useradd`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The first `<lib dir>/<multiarch>/<rel>` that exists, e.g. `libpam_wrapper.so`.
pub fn find_multiarch_lib(rel: &str) -> PathBuf {
    for base in ["/usr/lib", "/lib"] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let candidate = entry.path().join(rel);
            if entry.file_name().to_string_lossy().ends_with("-linux-gnu") && candidate.exists() {
                return candidate;
            }
        }
        let direct = Path::new(base).join(rel);
        if direct.exists() {
            return direct;
        }
    }
    panic!(
        "{rel} not found under /usr/lib/<multiarch>; `bash tests/run.sh` installs libpam-wrapper"
    );
}

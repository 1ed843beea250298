//! A small HTTP/1.1 client for TCP and Unix sockets that sends any octets and parses
//! whatever comes back, plus free ports for servers the tests start.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

/// How long one HTTP exchange may take before the test fails instead of hanging.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A port of 127.0.0.1 that was free a moment ago (bound to port 0 and released);
/// written in `pg`, which the store's unit tests include on its own.
pub fn free_port() -> u16 {
    super::pg::free_port()
}

/// Polls until `what` (the server `child` started) listens on 127.0.0.1:`port`; fails the
/// test, showing the server's `log`, if it exits first or takes 20 s.
pub fn wait_listening(what: &str, child: &mut Child, port: u16, log: &Path) {
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("{what} exited during start-up ({status}): {}", log());
        }
        assert!(
            Instant::now() < deadline,
            "{what} not listening within 20 s: {}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
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

    /// The body as JSON; fails the test, showing the response, when it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
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

/// Sends one request to `127.0.0.1:port` over a fresh connection.
pub fn tcp_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> io::Result<Response> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    stream.write_all(&format_request(method, path, headers, body, false))?;
    read_response(&mut BufReader::new(stream), method == "HEAD")
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

/// `GET /auth` on `http.sock` with the headers nginx sends for a client at `ip` asking
/// for `method uri`.
pub fn auth_as_nginx(
    sock: &Path,
    authorization: &[u8],
    ip: &str,
    method: &str,
    uri: &str,
) -> Response {
    unix_request(
        sock,
        "GET",
        "/auth",
        &[
            ("Authorization", authorization),
            ("X-Real-IP", ip.as_bytes()),
            ("X-Original-Method", method.as_bytes()),
            ("X-Original-URI", uri.as_bytes()),
        ],
        b"",
    )
}

/// A counter or gauge of the daemon's `/metrics` on `http.sock` (the unlabelled sample).
pub fn metric(sock: &Path, name: &str) -> u64 {
    let resp = unix_request(sock, "GET", "/metrics", &[], b"");
    resp.text()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

//! Hostile input on all three sockets, through the real daemon. Every attack is followed
//! by proof that the daemon still answers a valid request on each socket within a second,
//! that `/auth` never answered with anything but 200, 401, 403 or 500 where nginx could
//! have asked, and that the daemon stays under 200 MiB of resident memory.
//!
//! Requests that nginx can forward (headers within its default 32 KiB, any number of
//! them) must get an answer from the `/auth` contract. Bytes that only a local process
//! can write to the socket (megabytes of headers, NUL bytes, non-HTTP) may be refused by
//! the HTTP parser (400, 431 or a closed connection) but never allowed.
//!
//! This file holds the shared clients and the proof of life; `http`, `frames`,
//! `connections` and `argon2` hold the attacks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;

mod argon2;
mod bounded;
mod connections;
mod frames;
mod http;

use apitoken_wire::check::{self as check, CheckReply, CheckRequest, Verdict, Via};
use common::check::check_exchange;
use common::http::{format_request, read_response, unix_connect};
use common::tokens::{basic, bearer, forged_token};
use common::{stdout, Daemon};
use nginx_harness::Nginx;
use std::io::{BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The resident memory the daemon must stay under.
const RSS_LIMIT_KIB: u64 = 200 * 1024;
/// How long a valid request may take after an attack.
const PROMPT: Duration = Duration::from_secs(1);
/// Request headers as raw bytes.
type HeaderList<'a> = Vec<(&'a str, &'a [u8])>;
/// Statuses `/auth` may answer (SPEC §7).
const AUTH_STATUSES: [u16; 4] = [200, 401, 403, 500];

// ---------------------------------------------------------------- process figures

/// A `kB` field of `/proc/<pid>/status`.
fn status_kib(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// Prints and checks the daemon's resident memory now and at its peak.
fn assert_rss(daemon: &Daemon, after: &str) {
    let (rss, hwm) = (
        status_kib(daemon.pid(), "VmRSS"),
        status_kib(daemon.pid(), "VmHWM"),
    );
    println!(
        "RSS after {after}: {:.1} MiB (peak {:.1} MiB)",
        rss as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    assert!(
        rss < RSS_LIMIT_KIB && hwm < RSS_LIMIT_KIB,
        "apitokend uses {rss} KiB (peak {hwm} KiB) after {after}; the limit is {RSS_LIMIT_KIB} KiB"
    );
}

// ---------------------------------------------------------------- clients

/// A deterministic byte source for "random" input (xorshift64*), so failures replay.
struct Noise(u64);

impl Noise {
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n)
            .map(|_| {
                self.0 ^= self.0 >> 12;
                self.0 ^= self.0 << 25;
                self.0 ^= self.0 >> 27;
                (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
            })
            .collect()
    }
}

/// Writes `bytes` (ignoring a daemon that hangs up early) and returns whatever comes back
/// before the daemon closes the connection. `eof` also closes the sending side, so a
/// framed reader sees the end of a truncated frame at once; `http.sock` still answers
/// the complete requests it got before the end.
fn raw_exchange(sock: &Path, bytes: &[u8], eof: bool) -> Vec<u8> {
    let mut s = unix_connect(sock);
    let _ = s.write_all(bytes);
    if eof {
        let _ = s.shutdown(std::net::Shutdown::Write);
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// The status of a raw HTTP exchange on `http.sock`, `None` when the daemon hung up.
fn http_status(sock: &Path, request: &[u8]) -> Option<u16> {
    let reply = raw_exchange(sock, request, false);
    read_response(&mut BufReader::new(&reply[..]), false)
        .ok()
        .map(|r| r.status)
}

fn auth_request(headers: &[(&str, &[u8])]) -> Vec<u8> {
    format_request("GET", "/auth", headers, b"", false)
}

fn check_request(user: &str, secret: &str, rhost: &str) -> CheckRequest {
    CheckRequest {
        via: Via::External,
        user: user.into(),
        secret: secret.as_bytes().to_vec(),
        rhost: rhost.into(),
        service: "hostile".into(),
        uri: "/".into(),
        access: String::new(),
    }
}

/// A raw admin frame; returns the reply's JSON, `None` when the daemon hung up.
fn admin_exchange(sock: &Path, body: &[u8]) -> Option<serde_json::Value> {
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(body);
    let reply = raw_exchange(sock, &frame, true);
    let body = reply.get(4..)?;
    serde_json::from_slice(body).ok()
}

// ---------------------------------------------------------------- the proof of life

/// A daemon with a known token, and that token.
struct Target {
    daemon: Daemon,
    user: String,
    token: String,
}

impl Target {
    fn start(extra_toml: &str) -> Target {
        let daemon = Daemon::start_with(extra_toml, &[]);
        let user = "hostile".to_string();
        let token = daemon.create_token(&user);
        Target {
            daemon,
            user,
            token,
        }
    }

    /// A valid request on each socket, each answered correctly within [`PROMPT`].
    fn assert_serving(&self, after: &str) {
        let d = &self.daemon;
        let started = Instant::now();
        let status = http_status(
            &d.http_sock(),
            &auth_request(&[("Authorization", &bearer(&self.token))]),
        );
        let http = started.elapsed();
        assert_eq!(status, Some(200), "http.sock /auth after {after}");

        let started = Instant::now();
        let reply = check_exchange(
            &d.check_sock(),
            &check_request(&self.user, &self.token, "192.0.2.1"),
        );
        let check = started.elapsed();
        assert_eq!(reply.verdict, Verdict::Allow, "check.sock after {after}");

        let started = Instant::now();
        let status = admin_exchange(&d.admin_sock(), br#"{"v":1,"request":{"cmd":"status"}}"#);
        let admin = started.elapsed();
        assert!(
            status
                .as_ref()
                .is_some_and(|s| s["ok"]["version"].is_string()),
            "admin.sock status after {after}: {status:?}"
        );
        for (socket, took) in [("http", http), ("check", check), ("admin", admin)] {
            assert!(
                took < PROMPT,
                "{socket}.sock took {took:?} to answer a valid request after {after}"
            );
        }
    }
}

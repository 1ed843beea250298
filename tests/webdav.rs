//! A WebDAV share (mod_dav, mod_dav_fs) behind Apache with the shipped
//! `packaging/apache/apitoken-webdav.conf`: `read` tokens download, `write` tokens change
//! the share, `login` tokens (for PAM) get nothing, and Apache's error log says why a
//! token was refused.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

mod apache_harness;
mod common;

use apache_harness::{Apache, Options};
use common::Daemon;

fn start() -> (Daemon, Apache) {
    let daemon = Daemon::start();
    let apache = Apache::start_with(
        &daemon.check_sock(),
        &Options {
            webdav: true,
            ..Options::default()
        },
    );
    (daemon, apache)
}

/// `apitoken create --user alice --scope SCOPE` as root.
fn token(daemon: &Daemon, scope: &str) -> String {
    daemon.cli_ok(&[
        "create", "--user", "alice", "--scope", scope, "--name", scope,
    ])
}

#[test]
fn webdav_read_token_gets_but_cannot_put_or_delete() {
    let (daemon, apache) = start();
    let read = token(&daemon, "read");
    let alice = Some(("alice", read.as_str()));
    let got = apache.request("GET", "/dav/existing.txt", alice, b"");
    assert_eq!(
        got.status,
        200,
        "GET with a read token: {got:?}\n{}",
        apache.error_log()
    );
    assert_eq!(got.text(), "on the share\n");
    assert_eq!(
        apache
            .request("HEAD", "/dav/existing.txt", alice, b"")
            .status,
        200
    );
    for (method, path) in [
        ("PUT", "/dav/new.txt"),
        ("DELETE", "/dav/existing.txt"),
        ("MKCOL", "/dav/folder/"),
        ("PROPFIND", "/dav/"),
    ] {
        let resp = apache.request(method, path, alice, b"written with a read token\n");
        assert_eq!(resp.status, 401, "{method} with a read token: {resp:?}");
    }
    assert!(
        !apache.dav_dir().join("new.txt").exists(),
        "PUT wrote the file"
    );
    assert!(
        apache.dav_dir().join("existing.txt").exists(),
        "DELETE removed the file"
    );
    assert!(
        !apache.dav_dir().join("folder").exists(),
        "MKCOL made the folder"
    );
    daemon.wait_syslog(&["event=auth.failure", "via=external", "reason=scope"]);
    // Apache calls every refusal a password mismatch; the helper's line says why.
    let log = apache.error_log();
    assert!(
        log.contains("user \"alice\" refused: reason=scope"),
        "{log}"
    );
    assert!(!log.contains(&read[13..]), "secret in Apache's error log");
}

#[test]
fn webdav_write_token_puts_and_deletes() {
    let (daemon, apache) = start();
    let write = token(&daemon, "write");
    let alice = Some(("alice", write.as_str()));
    let put = apache.request("PUT", "/dav/new.txt", alice, b"written\n");
    assert!(
        put.status == 201 || put.status == 204,
        "PUT with a write token: {put:?}\n{}",
        apache.error_log()
    );
    assert_eq!(
        std::fs::read_to_string(apache.dav_dir().join("new.txt")).unwrap(),
        "written\n"
    );
    assert_eq!(
        apache.request("GET", "/dav/new.txt", alice, b"").text(),
        "written\n"
    );
    let auth = common::tokens::basic(b"alice", write.as_bytes());
    let headers: [(&str, &[u8]); 2] = [("Authorization", &auth), ("Depth", b"1")];
    let listing =
        common::http::tcp_request(apache.port, "PROPFIND", "/dav/", &headers, b"").unwrap();
    assert_eq!(
        listing.status, 207,
        "PROPFIND with a write token: {listing:?}"
    );
    let deleted = apache.request("DELETE", "/dav/existing.txt", alice, b"");
    assert_eq!(
        deleted.status, 204,
        "DELETE with a write token: {deleted:?}"
    );
    assert!(!apache.dav_dir().join("existing.txt").exists());
}

#[test]
fn webdav_login_token_is_for_pam_only() {
    let (daemon, apache) = start();
    let login = token(&daemon, "login");
    let both = token(&daemon, "read,login");
    for (method, who) in [
        ("GET", &login),
        ("PUT", &login),
        ("PUT", &both),
        ("DELETE", &both),
    ] {
        let resp = apache.request(method, "/dav/existing.txt", Some(("alice", who)), b"x\n");
        assert_eq!(resp.status, 401, "{method}: {resp:?}");
    }
    let get = apache.request("GET", "/dav/existing.txt", Some(("alice", &both)), b"");
    assert_eq!(get.status, 200, "GET with read,login: {get:?}");
    assert_eq!(
        std::fs::read_to_string(apache.dav_dir().join("existing.txt")).unwrap(),
        "on the share\n",
        "a login or read token changed the share"
    );
}

#[test]
fn apache_api_location_honours_read_and_write() {
    let (daemon, apache) = start();
    let read = token(&daemon, "read");
    let write = token(&daemon, "write");
    assert_eq!(
        apache.get("/api/", Some(("alice", &read))),
        200,
        "{}",
        apache.error_log()
    );
    let post = |t: &str| {
        apache
            .request("POST", "/api/", Some(("alice", t)), b"x=1")
            .status
    };
    assert_eq!(post(&read), 401, "POST with a read token");
    // Past authentication, the static files answer a POST with 200 or 405: either way
    // the write token was let through.
    assert_ne!(post(&write), 401, "POST with a write token");
}

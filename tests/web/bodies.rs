//! Hostile bodies where the API's JSON tests do not reach: the login (before any
//! credential), the page's forms, and a body sent in chunks with no length announced.
//! Each gets a JSON error and opens or changes nothing.

use std::io::{BufReader, Write};

use crate::common::http::{read_response, unix_connect, Response};
use crate::harness::{assert_error, json, WebDaemon, ROOT_PASSWORD};

fn post(w: &WebDaemon, path: &str, ctype: &[u8], cookie: Option<&str>, body: &[u8]) -> Response {
    let mut headers: Vec<(&str, &[u8])> = vec![("Content-Type", ctype)];
    if let Some(c) = cookie {
        headers.push(("Cookie", c.as_bytes()));
    }
    w.call("POST", path, &headers, body)
}

/// A body of `size` bytes in 8 KiB chunks, without `Content-Length`.
fn chunked(w: &WebDaemon, path: &str, headers: &[(&str, &str)], size: usize) -> Response {
    let mut s = unix_connect(&w.web_sock());
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nX-Real-IP: 127.0.0.1\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n"
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    s.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'a'; 8192];
    let mut sent = 0;
    while sent < size {
        // The daemon may answer 413 and close before the rest: stop writing then.
        let ok = s
            .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
            .is_ok()
            && s.write_all(&chunk).is_ok()
            && s.write_all(b"\r\n").is_ok();
        if !ok {
            break;
        }
        sent += chunk.len();
    }
    let _ = s.write_all(b"0\r\n\r\n");
    read_response(&mut BufReader::new(s), false).unwrap()
}

#[test]
fn web_hostile_bodies_to_the_login_get_json_errors() {
    let w = WebDaemon::start(&[], "");
    let jsonc = b"application/json" as &[u8];
    let session = "/api/v1/session";
    assert_error(
        &post(&w, session, jsonc, None, b"{\"user\":"),
        400,
        "malformed",
    );
    assert_error(
        &post(
            &w,
            session,
            jsonc,
            None,
            b"{\"user\":\"r\xffot\",\"password\":\"x\"}",
        ),
        400,
        "malformed",
    );
    assert_error(
        &post(&w, session, jsonc, None, br#"{"user":"root"}"#),
        400,
        "malformed",
    );
    let big = format!(
        "{{\"user\":\"root\",\"password\":\"{}\"}}",
        "a".repeat(70 * 1024)
    );
    assert_error(
        &post(&w, session, jsonc, None, big.as_bytes()),
        413,
        "too_large",
    );
    assert_error(
        &post(&w, session, b"text/plain", None, b"{}"),
        415,
        "unsupported_media_type",
    );
    let r = chunked(
        &w,
        session,
        &[("Content-Type", "application/json")],
        200 * 1024,
    );
    assert_error(&r, 413, "too_large");
    // Nothing was opened, and root can still log in.
    let s = w.login("root", ROOT_PASSWORD);
    let me = json(&s.get(&w, "/api/v1/me"));
    assert_eq!(me["user"], "root", "{me}");
}

/// The page's forms: a real session, then bodies no browser sends.
#[test]
fn web_hostile_bodies_to_the_page_forms_get_json_errors() {
    let w = WebDaemon::start(&[], "");
    let jsonc = b"application/json" as &[u8];
    let formc = b"application/x-www-form-urlencoded" as &[u8];
    let s = w.login("root", ROOT_PASSWORD);
    let cookie = Some(s.cookie.as_str());
    let big_form = format!("csrf={}&name={}", s.csrf, "a".repeat(70 * 1024));
    assert_error(
        &post(&w, "/tokens", formc, cookie, big_form.as_bytes()),
        413,
        "too_large",
    );
    assert_error(
        &post(&w, "/tokens", formc, cookie, b"name=x"),
        400,
        "malformed",
    );
    assert_error(
        &post(&w, "/tokens", jsonc, cookie, br#"{"csrf":"x"}"#),
        415,
        "unsupported_media_type",
    );
    assert_error(
        &post(&w, "/login", formc, None, b"user=root"),
        400,
        "malformed",
    );
    let r = chunked(
        &w,
        "/settings",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Cookie", &s.cookie),
        ],
        200 * 1024,
    );
    assert_error(&r, 413, "too_large");
    // Bytes that are not UTF-8 in a form are not a crash: the login is refused.
    let odd = post(
        &w,
        "/login",
        formc,
        None,
        b"user=r%FF%FEot&password=\xff\xfe",
    );
    assert!(
        (400..500).contains(&odd.status) && odd.header("set-cookie").is_none(),
        "{odd:?}"
    );
    // Nothing was made.
    let list = json(&s.get(&w, "/api/v1/tokens"));
    assert_eq!(list["tokens"].as_array().unwrap().len(), 0, "{list}");
}

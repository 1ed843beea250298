//! Straight against `http.sock` with raw HTTP/1.1: health, metrics, keep-alive, oversized
//! and odd requests, client address headers.

use super::*;
use std::path::Path;

#[test]
fn http_sock_health_returns_200_ok() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let resp = unix_request(&daemon.http_sock(), "GET", "/health", &[], b"");
    assert_eq!(resp.status, 200, "{resp:?}");
    assert_eq!(resp.text().trim(), "ok");
}

#[test]
fn http_sock_metrics_returns_prometheus_text() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let token = daemon.create_token(&unique_name("ngm"));
    for auth in [
        bearer(&token),
        bearer(&token),
        bearer(&bad_checksum(&token)),
    ] {
        unix_request(
            &daemon.http_sock(),
            "GET",
            "/auth",
            &[("Authorization", &auth)],
            b"",
        );
    }
    let resp = unix_request(&daemon.http_sock(), "GET", "/metrics", &[], b"");
    assert_eq!(resp.status, 200, "{resp:?}");
    let content_type = resp.header("Content-Type").unwrap_or_default();
    assert!(
        content_type.starts_with("text/plain"),
        "Content-Type {content_type:?}"
    );
    let text = resp.text();
    assert!(text.contains("# TYPE "), "no # TYPE lines:\n{text}");
    assert!(text.contains(" counter"), "no counter:\n{text}");
    assert!(
        text.contains(" histogram") && text.contains("le=\"+Inf\""),
        "no latency histogram:\n{text}"
    );
    // Every sample line is `name{labels} value`, and the requests above were counted.
    let samples: Vec<&str> = text
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    for line in &samples {
        let value = line.rsplit(' ').next().unwrap();
        assert!(
            value.parse::<f64>().is_ok(),
            "malformed sample line {line:?}"
        );
    }
    assert!(
        samples
            .iter()
            .any(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap() >= 2.0),
        "no counter reached 2 after three requests:\n{text}"
    );
}

#[test]
fn http_sock_keep_alive_serves_several_requests_on_one_connection() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let user = unique_name("ngk");
    let token = daemon.create_token(&user);
    let stream = unix_connect(&daemon.http_sock());
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut exchange = |path: &str, headers: &[(&str, &[u8])]| {
        writer
            .write_all(&format_request("GET", path, headers, b"", true))
            .unwrap();
        read_response(&mut reader, false).unwrap()
    };

    let ok = exchange("/auth", &[("Authorization", &bearer(&token))]);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("X-Auth-User"), Some(user.as_str()));
    assert_eq!(ok.header("X-Auth-Method"), Some("token"));
    assert_eq!(ok.header("X-Auth-Token-Id"), Some(token_id(&token)));
    let denied = exchange("/auth", &[]);
    assert_eq!(denied.status, 401, "{denied:?}");
    assert_eq!(denied.header("WWW-Authenticate"), Some(CHALLENGE));
    let again = exchange(
        "/auth",
        &[("Authorization", &basic(user.as_bytes(), token.as_bytes()))],
    );
    assert_eq!(again.status, 200, "{again:?}");
    assert_eq!(exchange("/health", &[]).status, 200);
}

#[test]
fn http_sock_oversized_header_is_refused_and_next_request_served() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let user = unique_name("ngh");
    let token = daemon.create_token(&user);
    let auth = bearer(&token);
    let big = vec![b'a'; 200 * 1024];
    let request = format_request(
        "GET",
        "/auth",
        &[("Authorization", &auth), ("X-Big", &big)],
        b"",
        false,
    );
    let mut stream = unix_connect(&daemon.http_sock());
    // The daemon may stop reading and close before the whole request is written.
    let _ = stream.write_all(&request);
    match read_response(&mut BufReader::new(stream), false) {
        Ok(resp) => assert!(resp.status >= 400, "a 200 KB header was accepted: {resp:?}"),
        Err(e) => eprintln!("connection closed without an answer ({e}), which is acceptable"),
    }
    let next = unix_request(
        &daemon.http_sock(),
        "GET",
        "/auth",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(
        next.status, 200,
        "daemon stopped serving after an oversized header: {next:?}"
    );
    assert_eq!(next.header("X-Auth-User"), Some(user.as_str()));
}

/// Every method, with or without a body, and a query string: all answered 200.
fn assert_any_method_accepted(sock: &Path, auth: &[u8]) {
    // Any method is accepted, with or without a body.
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"] {
        let body: &[u8] = if matches!(method, "POST" | "PUT") {
            b"{\"x\":1}"
        } else {
            b""
        };
        let resp = unix_request(sock, method, "/auth", &[("Authorization", auth)], body);
        assert_eq!(
            resp.status, 200,
            "{method} /auth with a valid token: {resp:?}"
        );
    }
    let resp = unix_request(
        sock,
        "GET",
        "/auth?next=%2Fapi%2F",
        &[("Authorization", auth)],
        b"",
    );
    assert_eq!(resp.status, 200, "/auth with a query string: {resp:?}");
}

/// Authorization headers that are empty, truncated, oversized or malformed.
fn odd_credentials<'a>(user: &str, token: &str) -> Vec<(&'a str, OwnedHeaders<'a>)> {
    let long = format!("Bearer {}", "A".repeat(8 * 1024));
    let colons = basic(user.as_bytes(), ":".repeat(1000).as_bytes());
    vec![
        ("empty Authorization", vec![("Authorization", vec![])]),
        ("scheme only", vec![("Authorization", b"Basic".to_vec())]),
        ("bearer only", vec![("Authorization", b"Bearer".to_vec())]),
        ("8 KB bearer", vec![("Authorization", long.into_bytes())]),
        ("basic with 1000 colons", vec![("Authorization", colons)]),
        (
            "basic of a lone colon",
            vec![("Authorization", basic(b"", b""))],
        ),
        (
            "bearer with spaces",
            vec![(
                "Authorization",
                format!("Bearer  {token} extra").into_bytes(),
            )],
        ),
        (
            "obs-text bytes",
            vec![("Authorization", b"Bearer \xff\xfe\x80atk_".to_vec())],
        ),
    ]
}

/// A valid token with odd headers beside it, or with its scheme in lower case.
fn odd_companions<'a>(token: &str, auth: &[u8]) -> Vec<(&'a str, OwnedHeaders<'a>)> {
    vec![
        (
            "two Authorization headers",
            vec![
                ("Authorization", auth.to_vec()),
                ("Authorization", b"Basic Og==".to_vec()),
            ],
        ),
        (
            "X-Real-IP garbage",
            vec![
                ("Authorization", auth.to_vec()),
                ("X-Real-IP", b"not-an-ip".to_vec()),
            ],
        ),
        (
            "X-Forwarded-For garbage",
            vec![
                ("Authorization", auth.to_vec()),
                ("X-Forwarded-For", b",,, ;".to_vec()),
            ],
        ),
        (
            "X-Original-URI odd",
            vec![
                ("Authorization", auth.to_vec()),
                ("X-Original-URI", b"/\xff%00\"x".to_vec()),
            ],
        ),
        (
            "lower-case scheme",
            vec![("Authorization", format!("bearer {token}").into_bytes())],
        ),
    ]
}

/// An odd request gets 200, 401 (with the challenge) or 403, never anything else.
fn assert_odd_answered(sock: &Path, case: &str, headers: &OwnedHeaders) {
    let headers: Vec<(&str, &[u8])> = headers.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    let resp = unix_request(sock, "GET", "/auth", &headers, b"");
    // nginx turns anything else into a 500 for the client; malformed input is not
    // an internal failure, so 500 is wrong here too.
    assert!(
        matches!(resp.status, 200 | 401 | 403),
        "{case}: status {} {resp:?}",
        resp.status
    );
    if resp.status == 401 {
        assert_eq!(resp.header("WWW-Authenticate"), Some(CHALLENGE), "{case}");
    }
}

/// HTTP/1.0 without Host, as a minimal proxy might send it, is answered 200.
fn assert_http10_accepted(sock: &Path, token: &str) {
    let mut stream = unix_connect(sock);
    stream
        .write_all(b"GET /auth HTTP/1.0\r\nAuthorization: Bearer ")
        .unwrap();
    stream.write_all(token.as_bytes()).unwrap();
    stream.write_all(b"\r\n\r\n").unwrap();
    let resp = read_response(&mut BufReader::new(stream), false).unwrap();
    assert_eq!(resp.status, 200, "HTTP/1.0 request: {resp:?}");
}

#[test]
fn http_sock_auth_answers_only_200_401_or_403_for_odd_requests() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let user = unique_name("ngq");
    let token = daemon.create_token(&user);
    let sock = daemon.http_sock();
    let auth = bearer(&token);

    assert_any_method_accepted(&sock, &auth);
    let mut odd = odd_credentials(&user, &token);
    odd.extend(odd_companions(&token, &auth));
    for (case, headers) in &odd {
        assert_odd_answered(&sock, case, headers);
    }
    assert_http10_accepted(&sock, &token);
}

#[test]
fn http_sock_client_address_headers_are_checked_against_allowed_networks() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let token = daemon.create_token(&unique_name("nga"));
    daemon.cli_ok(&["allow-ip", "add", "10.0.0.0/8", "2001:db8::/32"]);
    let auth = bearer(&token);
    let cases: &[(&str, Headers, u16)] = &[
        ("X-Real-IP inside", &[("X-Real-IP", b"10.1.2.3")], 200),
        ("X-Real-IP outside", &[("X-Real-IP", b"192.0.2.1")], 403),
        (
            "IPv6 X-Real-IP inside",
            &[("X-Real-IP", b"2001:db8::1")],
            200,
        ),
        (
            "IPv6 X-Real-IP outside",
            &[("X-Real-IP", b"2001:db9::1")],
            403,
        ),
        ("no address while the list is not empty", &[], 403),
        ("unparsable X-Real-IP", &[("X-Real-IP", b"not-an-ip")], 403),
        (
            "last X-Forwarded-For inside",
            &[("X-Forwarded-For", b"192.0.2.1, 10.9.9.9")],
            200,
        ),
        (
            "last X-Forwarded-For outside",
            &[("X-Forwarded-For", b"10.9.9.9, 192.0.2.1")],
            403,
        ),
        (
            "X-Real-IP wins over X-Forwarded-For",
            &[
                ("X-Real-IP", b"192.0.2.1"),
                ("X-Forwarded-For", b"10.1.1.1"),
            ],
            403,
        ),
    ];
    for (case, extra, expected) in cases {
        let mut headers: Vec<(&str, &[u8])> = vec![("Authorization", &auth)];
        headers.extend_from_slice(extra);
        let resp = unix_request(&daemon.http_sock(), "GET", "/auth", &headers, b"");
        assert_eq!(resp.status, *expected, "{case}: {resp:?}");
    }
}

//! `http.sock`: oversized, random and malformed requests, and client addresses.

use super::*;

#[test]
fn http_oversized_headers_are_never_allowed_and_daemon_keeps_serving() {
    let t = Target::start("");
    let sock = t.daemon.http_sock();
    let big_auth_basic = {
        let mut v = basic(t.user.as_bytes(), &vec![b'A'; 768 * 1024]);
        v.truncate(1024 * 1024);
        v
    };
    let big_auth_bearer = [b"Bearer ".as_slice(), &vec![b'x'; 1024 * 1024]].concat();
    let filler = vec![b'a'; 300 * 1024];
    let many: Vec<(String, Vec<u8>)> = (0..5000)
        .map(|i| (format!("X-H{i}"), b"v".to_vec()))
        .collect();
    let many_refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    let token_auth = bearer(&t.token);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "a 300 KiB header",
            auth_request(&[("Authorization", &token_auth), ("X-Filler", &filler)]),
        ),
        (
            "a megabyte of base64 in Basic",
            auth_request(&[("Authorization", &big_auth_basic)]),
        ),
        (
            "a megabyte Bearer",
            auth_request(&[("Authorization", &big_auth_bearer)]),
        ),
        ("5000 headers", auth_request(&many_refs)),
    ];
    for (what, request) in &cases {
        let status = http_status(&sock, request);
        println!("http.sock, {what}: {status:?}");
        assert!(
            !status.is_some_and(|s| (200..300).contains(&s)),
            "{what} was allowed: {status:?}"
        );
        t.assert_serving(what);
    }
    assert_rss(&t.daemon, "oversized headers");
}

/// Headers nginx (default `large_client_header_buffers 4 8k`) accepts from a client and
/// passes on to the `auth_request` subrequest: a valid token must still get 200.
#[test]
fn http_header_block_nginx_forwards_answers_within_auth_contract() {
    let t = Target::start("");
    let nginx = Nginx::start(&t.daemon.http_sock());
    let token_auth = bearer(&t.token);
    let cookie = |n: u8| vec![b'a' + n; 7 * 1024];
    let (c1, c2, c3) = (cookie(0), cookie(1), cookie(2));
    let many: Vec<(String, Vec<u8>)> = (0..80)
        .map(|i| (format!("X-Client-{i}"), b"1".to_vec()))
        .collect();
    let mut many_refs: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_slice()))
        .collect();
    many_refs.push(("Authorization", &token_auth));
    let cases: Vec<(&str, HeaderList)> = vec![
        (
            "21 KiB of cookies",
            vec![
                ("Authorization", &token_auth),
                ("Cookie", &c1),
                ("Cookie", &c2),
                ("Cookie", &c3),
            ],
        ),
        ("81 headers", many_refs),
    ];
    let mut failures = Vec::new();
    for (what, headers) in &cases {
        let via_nginx = nginx.get("/api/resource", headers).status;
        let direct = http_status(&t.daemon.http_sock(), &auth_request(headers));
        println!("{what} with a valid token: nginx {via_nginx}, http.sock {direct:?}");
        if via_nginx != 200 || direct != Some(200) {
            let outside = !direct.is_some_and(|s| AUTH_STATUSES.contains(&s));
            failures.push(format!(
                "{what} with a valid token: nginx answered {via_nginx}, http.sock /auth answered \
                 {direct:?}{}",
                if outside {
                    " (outside 200/401/403/500)"
                } else {
                    ""
                }
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    t.assert_serving("large header blocks");
}

/// A case: what it is, the raw request, and the statuses it may get (none listed: any
/// status outside 2xx, or no answer).
type Case = (&'static str, Vec<u8>, &'static [u16]);

/// NUL bytes and invalid UTF-8 where a request carries text.
fn nul_and_utf8_cases() -> Vec<Case> {
    vec![
        (
            "NUL in Authorization",
            auth_request(&[("Authorization", b"Bearer atk_\0\0\0")]),
            &[],
        ),
        (
            "NUL in a header name",
            b"GET /auth HTTP/1.1\r\nHost: x\r\nX-\0: 1\r\n\r\n".to_vec(),
            &[],
        ),
        (
            "NUL in the request line",
            b"GET /au\0th HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            &[],
        ),
        (
            "invalid UTF-8 Bearer",
            auth_request(&[("Authorization", b"Bearer \xff\xfe\xfd")]),
            &[401],
        ),
        (
            "invalid UTF-8 in Basic",
            auth_request(&[("Authorization", &basic(b"ho\xffstile", b"\xc3\x28"))]),
            &[401],
        ),
        (
            "invalid UTF-8 scheme",
            auth_request(&[("Authorization", b"\xf0\x28\x8c\x28 abc")]),
            &[401],
        ),
    ]
}

/// Credentials that are malformed, forged or ambiguous; `token` is a valid one.
fn malformed_credential_cases(token: &str) -> Vec<Case> {
    let forged = forged_token(common::tokens::token_id(token));
    vec![
        (
            "Basic without a colon",
            auth_request(&[("Authorization", b"Basic aG9zdGlsZQ==")]),
            &[401],
        ),
        (
            "Basic not base64",
            auth_request(&[("Authorization", b"Basic !!!$$$")]),
            &[401],
        ),
        (
            "empty Authorization",
            auth_request(&[("Authorization", b"")]),
            &[401],
        ),
        (
            "forged token",
            auth_request(&[("Authorization", &bearer(&forged))]),
            &[401],
        ),
        (
            "token with trailing NUL",
            auth_request(&[("Authorization", &[bearer(token), b"\0".to_vec()].concat())]),
            &[],
        ),
        (
            "two Authorization headers",
            auth_request(&[
                ("Authorization", b"Bearer x"),
                ("Authorization", &bearer(token)),
            ]),
            &[401, 200],
        ),
    ]
}

/// 50 requests of random bytes; none is answered with 2xx.
fn send_noise(sock: &Path) {
    let mut noise = Noise(0x5eed_1234_abcd_0001);
    for i in 0..50 {
        let len = 1 + (noise.bytes(2).iter().map(|&b| b as usize).sum::<usize>() * 64);
        let bytes = noise.bytes(len);
        let status = http_status(sock, &bytes);
        assert!(
            !status.is_some_and(|s| (200..300).contains(&s)),
            "random input {i} was answered {status:?}"
        );
    }
}

/// Sends one case and checks its answer against what it may get.
fn check_case(sock: &Path, (what, request, expected): &Case) {
    let status = http_status(sock, request);
    println!("http.sock, {what}: {status:?}");
    match status {
        Some(s) if !expected.is_empty() => assert!(
            expected.contains(&s),
            "{what}: /auth answered {s}, expected one of {expected:?}"
        ),
        Some(s) => assert!(!(200..300).contains(&s), "{what} was allowed ({s})"),
        None => assert!(
            expected.is_empty(),
            "{what}: no answer, expected {expected:?}"
        ),
    }
}

#[test]
fn http_random_nul_and_invalid_utf8_input_is_never_allowed() {
    let t = Target::start("");
    let sock = t.daemon.http_sock();
    send_noise(&sock);
    t.assert_serving("random bytes");

    let mut cases = nul_and_utf8_cases();
    cases.extend(malformed_credential_cases(&t.token));
    for case in &cases {
        check_case(&sock, case);
        t.assert_serving(case.0);
    }
    assert_rss(&t.daemon, "random and malformed HTTP");
}

#[test]
fn http_unparsable_client_address_with_allowed_networks_is_403() {
    let t = Target::start("");
    let out = t.daemon.cli(&["allow-ip", "add", "10.0.0.0/8"]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let token_auth = bearer(&t.token);
    let sock = t.daemon.http_sock();
    let status_with = |headers: &[(&str, &[u8])]| {
        let mut all: Vec<(&str, &[u8])> = vec![("Authorization", &token_auth)];
        all.extend_from_slice(headers);
        http_status(&sock, &auth_request(&all))
    };
    assert_eq!(status_with(&[("X-Real-IP", b"10.1.2.3")]), Some(200));
    assert_eq!(status_with(&[("X-Real-IP", b"192.0.2.1")]), Some(403));
    let unparsable: [&[u8]; 12] = [
        b"not-an-ip",
        b"",
        b"10.0.0",
        b"10.0.0.1.5",
        b"999.0.0.1",
        b"10.0.0.1:8080",
        b"10.0.0.1%eth0",
        b"[::1]",
        b"0x0a000001",
        b"010.0.0.1",
        b"10.0.0.1\xff",
        b"\xff\xfe",
    ];
    for value in unparsable {
        let shown = String::from_utf8_lossy(value);
        assert_eq!(
            status_with(&[("X-Real-IP", value)]),
            Some(403),
            "X-Real-IP {shown:?}"
        );
        assert_eq!(
            status_with(&[("X-Forwarded-For", value)]),
            Some(403),
            "X-Forwarded-For {shown:?}"
        );
    }
    assert_eq!(status_with(&[]), Some(403), "no address at all");

    for rhost in ["not-an-ip", "10.0.0.1:22", "host.example", "\u{0}"] {
        let reply = check_exchange(
            &t.daemon.check_sock(),
            &check_request(&t.user, &t.token, rhost),
        );
        assert_eq!(
            reply.verdict,
            Verdict::Forbidden,
            "check.sock rhost {rhost:?}"
        );
    }
    let reply = check_exchange(
        &t.daemon.check_sock(),
        &check_request(&t.user, &t.token, "10.9.9.9"),
    );
    assert_eq!(reply.verdict, Verdict::Allow);
}

/// A client that shuts down its sending side once the request is out (`nc -N`, a
/// one-shot script, some proxies) still gets the answer, and so does every request it
/// pipelined before that: the end of its input only means no further request follows.
#[test]
fn http_half_closed_request_is_still_answered() {
    let t = Target::start("");
    let sock = t.daemon.http_sock();
    let token_auth = bearer(&t.token);
    let headers: &[(&str, &[u8])] = &[("Authorization", &token_auth)];
    let cases = [
        (
            "keep-alive",
            format_request("GET", "/auth", headers, b"", true),
        ),
        ("Connection: close", auth_request(headers)),
    ];
    for (what, request) in &cases {
        let reply = raw_exchange(&sock, request, true);
        let resp = read_response(&mut BufReader::new(&reply[..]), false)
            .unwrap_or_else(|e| panic!("{what}, then shutdown(Write): no answer ({e})"));
        assert_eq!(resp.status, 200, "{what}: {resp:?}");
        assert_eq!(resp.header("X-Auth-User"), Some(t.user.as_str()), "{what}");
    }

    // Three pipelined requests (the first with a body that must be skipped, not read as
    // a request), then the end of input: three answers, in order.
    let pipelined = [
        format_request("POST", "/auth", &[], b"GET /health HTTP/1.1\r\n\r\n", true),
        format_request("GET", "/auth", headers, b"", true),
        format_request("GET", "/health", &[], b"", true),
    ]
    .concat();
    let reply = raw_exchange(&sock, &pipelined, true);
    let mut reader = BufReader::new(&reply[..]);
    let statuses: Vec<u16> = std::iter::from_fn(|| read_response(&mut reader, false).ok())
        .map(|r| r.status)
        .collect();
    assert_eq!(statuses, [401, 200, 200], "pipelined, then shutdown(Write)");
    t.assert_serving("half-closed clients");
}

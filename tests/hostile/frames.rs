//! `check.sock` and `admin.sock`: oversized, truncated, nested and random frames.

use super::*;

#[test]
fn check_oversized_truncated_and_malformed_frames_are_refused() {
    let t = Target::start("");
    let sock = t.daemon.check_sock();
    let valid = check_request(&t.user, &t.token, "").encode().unwrap();
    let frame = |len: u32, body: &[u8]| [len.to_be_bytes().as_slice(), body].concat();
    let mut noise = Noise(0xc0ff_ee00_dead_beef);
    let mut nul_user = valid.clone();
    nul_user[4] = 0; // the first byte of the user name
    let mut bad_utf8_user = valid.clone();
    bad_utf8_user[4] = 0xff;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a frame claiming 4 GiB", frame(u32::MAX, b"")),
        (
            "a frame one byte over the limit",
            frame(check::MAX_FRAME as u32 + 1, &[0; 64]),
        ),
        ("a truncated frame", frame(100, b"\x01\x02\x00")),
        ("a truncated length", vec![0, 0]),
        (
            "a body cut short",
            frame(valid.len() as u32, &valid[..valid.len() / 2]),
        ),
        ("fields past the frame", frame(8, &valid[..8])),
        (
            "version 9",
            frame(valid.len() as u32, &[&[9u8][..], &valid[1..]].concat()),
        ),
        (
            "an unknown front end",
            frame(
                valid.len() as u32,
                &[&valid[..1], &[7u8][..], &valid[2..]].concat(),
            ),
        ),
        ("a NUL user name", frame(valid.len() as u32, &nul_user)),
        (
            "a non-UTF-8 user name",
            frame(valid.len() as u32, &bad_utf8_user),
        ),
        (
            "trailing bytes",
            frame(valid.len() as u32 + 3, &[valid.as_slice(), b"xyz"].concat()),
        ),
        ("random bytes", noise.bytes(4096)),
        ("a random body", frame(2048, &noise.bytes(2048))),
    ];
    for (what, bytes) in &cases {
        let reply = raw_exchange(&sock, bytes, true);
        let decoded = reply.get(4..).and_then(|b| CheckReply::decode(b).ok());
        println!(
            "check.sock, {what}: {:?}",
            decoded.as_ref().map(|r| r.verdict)
        );
        assert!(
            decoded.as_ref().is_none_or(|r| r.verdict != Verdict::Allow),
            "{what} was allowed"
        );
        t.assert_serving(what);
    }
    assert_rss(&t.daemon, "malformed check frames");
}

#[test]
fn admin_oversized_truncated_and_nested_frames_are_refused() {
    let t = Target::start("");
    let sock = t.daemon.admin_sock();
    let frame = |len: u32, body: &[u8]| [len.to_be_bytes().as_slice(), body].concat();
    let max = apitoken_wire::admin::MAX_FRAME;
    let nested = vec![b'['; max];
    let nested_inside = [
        br#"{"v":1,"request":{"cmd":"verify","user":null,"token":"#.as_slice(),
        &vec![b'['; max - 100],
    ]
    .concat();
    let deep_object = [
        br#"{"v":1,"request":{"cmd":"create","user":null,"expires":null,"name":"#.as_slice(),
        &br#"{"a":"#.repeat((max - 100) / 5),
    ]
    .concat();
    let mut noise = Noise(0x0bad_cafe_f00d_0042);
    let framed = |body: &[u8]| frame(body.len() as u32, body);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("a frame claiming 4 GiB", frame(u32::MAX, b"")),
        (
            "a frame one byte over the limit",
            frame(max as u32 + 1, b"{"),
        ),
        ("a truncated frame", frame(100, br#"{"v":1"#)),
        ("a truncated length", vec![0, 0, 1]),
        ("64 KiB of [", framed(&nested)),
        ("nesting inside a request", framed(&nested_inside)),
        ("nested objects inside a request", framed(&deep_object)),
        ("invalid UTF-8", framed(b"{\"v\":\xff")),
        ("NUL bytes", framed(b"\0\0\0\0\0\0\0\0")),
        (
            "a huge number",
            framed(br#"{"v":99999999999999999999999999999999}"#),
        ),
        (
            "an unknown command",
            framed(br#"{"v":1,"request":{"cmd":"shutdown"}}"#),
        ),
        (
            "a claimed identity",
            framed(br#"{"v":1,"request":{"cmd":"status"},"uid":0,"user":"x"}"#),
        ),
        ("an empty frame", framed(b"")),
        ("random bytes", noise.bytes(4096)),
    ];
    for (what, bytes) in &cases {
        let reply = raw_exchange(&sock, bytes, true);
        let json: Option<serde_json::Value> =
            reply.get(4..).and_then(|b| serde_json::from_slice(b).ok());
        println!("admin.sock, {what}: {json:?}");
        assert!(
            json.as_ref().is_none_or(|j| j["ok"].is_null()),
            "{what} was accepted: {json:?}"
        );
        t.assert_serving(what);
    }
    assert_rss(&t.daemon, "malformed admin frames");
}

//! `http::parse_authorization` on arbitrary header bytes.
//!
//! The raw input must never panic, and what it accepts must be self-consistent. A second
//! pass wraps the input as `Basic base64(input)` and compares the outcome with what
//! SPEC §7 says about `user:secret`.

#![no_main]

use apitokend::engine::Kind;
use apitokend::http::parse_authorization;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;

const STANDARD: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Whether `user:secret` bytes make a credential: a colon, UTF-8 on both sides, and a
/// non-empty user name without control characters.
fn basic_accepts(raw: &[u8]) -> Option<(String, Vec<u8>)> {
    let text = std::str::from_utf8(raw).ok()?;
    let (user, secret) = text.split_once(':')?;
    if user.is_empty() || user.chars().any(char::is_control) {
        return None;
    }
    Some((user.to_owned(), secret.as_bytes().to_vec()))
}

fuzz_target!(|data: &[u8]| {
    if let Some(cred) = parse_authorization(data) {
        let text = std::str::from_utf8(data)
            .expect("accepted header is UTF-8")
            .trim();
        let (scheme, rest) = text.split_once(' ').expect("accepted header has a scheme");
        match cred.kind {
            Kind::Bearer => {
                assert!(scheme.eq_ignore_ascii_case("bearer"), "{text:?}");
                assert!(cred.user.is_empty());
                assert_eq!(&cred.secret[..], rest.trim().as_bytes());
            }
            Kind::UserSecret => {
                assert!(scheme.eq_ignore_ascii_case("basic"), "{text:?}");
                assert!(!cred.user.is_empty() && !cred.user.contains(':'));
                assert!(!cred.user.chars().any(char::is_control));
                assert!(std::str::from_utf8(&cred.secret).is_ok());
                // Re-encoding the credential canonically gives it back unchanged.
                let mut raw = cred.user.clone().into_bytes();
                raw.push(b':');
                raw.extend_from_slice(&cred.secret);
                let again = format!("Basic {}", STANDARD.encode(&raw));
                let back = parse_authorization(again.as_bytes()).expect("canonical form parses");
                assert_eq!(back.user, cred.user);
                assert_eq!(&back.secret[..], &cred.secret[..]);
            }
        }
    }

    // The input as the decoded payload of a Basic header, padded and unpadded.
    let want = basic_accepts(data);
    let padded = format!("Basic {}", STANDARD.encode(data));
    let unpadded = format!("  basic {} ", padded[6..].trim_end_matches('='));
    for header in [padded, unpadded] {
        let got = parse_authorization(header.as_bytes());
        match (&got, &want) {
            (Some(c), Some((user, secret))) => {
                assert_eq!(c.kind, Kind::UserSecret);
                assert_eq!(&c.user, user);
                assert_eq!(&c.secret[..], &secret[..]);
            }
            (None, None) => {}
            _ => panic!(
                "{header:?}: accepted {}, expected {}",
                got.is_some(),
                want.is_some()
            ),
        }
    }
});

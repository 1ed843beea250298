//! `Token::parse` against an independent reading of SPEC §4.
//!
//! Two halves per input: the raw bytes as a candidate token (checked against a reference
//! validator written here from the spec, not from `token.rs`), and a well-formed token
//! built from the bytes with a correct checksum, which must parse, followed by a one-byte
//! corruption of it, which must not.

#![no_main]

use apitokend::token::{is_valid_id, Token, TokenError, ID_LEN, TOKEN_LEN};
use libfuzzer_sys::fuzz_target;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const BODY_LEN: usize = 4 + ID_LEN + 1 + 32;

/// The checksum as SPEC §4 words it: CRC-32 in base62, most significant digit first.
fn reference_checksum(body: &[u8]) -> String {
    let crc = crc32fast::hash(body);
    let mut digits = Vec::new();
    let mut n = crc;
    while n > 0 {
        digits.push(ALPHABET[(n % 62) as usize]);
        n /= 62;
    }
    while digits.len() < 6 {
        digits.push(b'0');
    }
    digits.reverse();
    String::from_utf8(digits).unwrap()
}

/// What `Token::parse` must answer for `text`, derived from the spec alone.
fn reference_parse(text: &str) -> Result<(), TokenError> {
    let b = text.as_bytes();
    let base62 = |s: &[u8]| s.iter().all(|c| ALPHABET.contains(c));
    let shaped = b.len() == TOKEN_LEN
        && b.starts_with(b"atk_")
        && base62(&b[4..4 + ID_LEN])
        && b[4 + ID_LEN] == b'_'
        && base62(&b[4 + ID_LEN + 1..]);
    if !shaped {
        return Err(TokenError::Shape);
    }
    if reference_checksum(&b[..BODY_LEN]).as_bytes() != &b[BODY_LEN..] {
        return Err(TokenError::Checksum);
    }
    Ok(())
}

fn check_accepted(text: &str, token: &Token) {
    assert_eq!(
        token.expose(),
        text,
        "a parsed token re-serialises to its text"
    );
    assert_eq!(token.id(), &text[4..4 + ID_LEN]);
    assert!(is_valid_id(token.id()));
    let shown = format!("{token:?}");
    assert!(
        !shown.contains(&text[4 + ID_LEN + 1..]),
        "Debug leaks the secret: {shown}"
    );
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let got = Token::parse(text);
        match (&got, reference_parse(text)) {
            (Ok(token), Ok(())) => check_accepted(text, token),
            (Err(e), Err(want)) => assert_eq!(*e, want, "{text:?}"),
            (got, want) => panic!("{text:?}: parse gave {got:?}, the spec says {want:?}"),
        }
    }

    // Map the input onto a well-formed body, so acceptance is exercised as often as
    // rejection: raw inputs almost never carry a valid CRC.
    if data.len() < ID_LEN + 32 {
        return;
    }
    let pick = |b: &u8| char::from(ALPHABET[usize::from(*b) % 62]);
    let id: String = data[..ID_LEN].iter().map(pick).collect();
    let secret: String = data[ID_LEN..ID_LEN + 32].iter().map(pick).collect();
    let body = format!("atk_{id}_{secret}");
    let text = format!("{body}{}", reference_checksum(body.as_bytes()));
    let token = Token::parse(&text).unwrap_or_else(|e| panic!("{text:?} refused: {e}"));
    check_accepted(&text, &token);
    assert_eq!(
        Token::parse(token.expose()).map(|t| t.id().to_owned()),
        Ok(id)
    );

    // Change one character to another base62 one: the CRC must catch every such change.
    let Some(&where_) = data.get(ID_LEN + 32) else {
        return;
    };
    let pos = 4 + usize::from(where_) % (TOKEN_LEN - 4);
    let pos = if pos == 4 + ID_LEN { pos + 1 } else { pos };
    let mut bytes = text.into_bytes();
    let old = bytes[pos];
    bytes[pos] = ALPHABET[(ALPHABET.iter().position(|&c| c == old).unwrap() + 1) % 62];
    let bad = String::from_utf8(bytes).unwrap();
    assert_eq!(
        Token::parse(&bad).map(|_| ()),
        Err(TokenError::Checksum),
        "{bad:?}"
    );
});

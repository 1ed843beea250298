//! Tokens (SPEC §4): generation, the exact format and checksum; [`at_rest`] holds the
//! one-way verifiers stored in the database.
//!
//! `atk_` + 8-character id + `_` + 32-character secret + 6-character checksum, base62
//! (`0-9A-Za-z`). The checksum is the CRC-32 of everything before it, in base62, most
//! significant digit first, zero-padded to 6. Only the id is public.

use zeroize::Zeroizing;

mod at_rest;
pub use at_rest::{legacy_argon2_verify, new_verifier, sha256_verify, Stored};

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Every token starts with this.
pub const PREFIX: &str = "atk_";
/// Length of the public id.
pub const ID_LEN: usize = 8;
const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
/// Length of a whole token.
pub const TOKEN_LEN: usize = PREFIX.len() + ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN;

/// Why a string is not a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("not a token: expected atk_<id>_<secret><checksum>, {TOKEN_LEN} characters")]
    Shape,
    #[error("token checksum does not match: the token was mistyped or truncated")]
    Checksum,
    #[error("the operating system's random source failed")]
    Random,
    #[error("hashing failed: {0}")]
    Hash(&'static str),
}

/// A whole token. The text is wiped on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct Token(Zeroizing<String>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Token({}_<redacted>)", self.id())
    }
}

fn is_base62(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

/// CRC-32 of `data` as 6 base62 digits.
fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let mut n = u64::from(crc32fast::hash(data));
    let mut out = [b'0'; CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// Fills `out` with uniformly random base62 characters from the OS random source.
fn random_base62(out: &mut [u8]) -> Result<(), TokenError> {
    let mut filled = 0;
    let mut pool = Zeroizing::new([0u8; 64]);
    while filled < out.len() {
        getrandom::getrandom(pool.as_mut()).map_err(|_| TokenError::Random)?;
        // Rejection sampling: 248 = 4 × 62 keeps every character equally likely.
        for &b in pool.iter().filter(|&&b| b < 248) {
            if filled == out.len() {
                break;
            }
            out[filled] = ALPHABET[usize::from(b % 62)];
            filled += 1;
        }
    }
    Ok(())
}

impl Token {
    /// Generates a new token from the OS random source.
    pub fn generate() -> Result<Token, TokenError> {
        let mut body = Zeroizing::new(vec![0u8; ID_LEN + SECRET_LEN]);
        random_base62(&mut body)?;
        let mut text = Zeroizing::new(String::with_capacity(TOKEN_LEN));
        text.push_str(PREFIX);
        // Both halves are ASCII base62, produced just above.
        text.extend(body[..ID_LEN].iter().map(|&b| char::from(b)));
        text.push('_');
        text.extend(body[ID_LEN..].iter().map(|&b| char::from(b)));
        let sum = checksum(text.as_bytes());
        text.extend(sum.iter().map(|&b| char::from(b)));
        Ok(Token(text))
    }

    /// Parses a token, checking shape and checksum before anything else looks at it.
    pub fn parse(text: &str) -> Result<Token, TokenError> {
        let b = text.as_bytes();
        let id_end = PREFIX.len() + ID_LEN;
        let shaped = b.len() == TOKEN_LEN
            && text.starts_with(PREFIX)
            && b[id_end] == b'_'
            && b[PREFIX.len()..id_end].iter().all(|&c| is_base62(c))
            && b[id_end + 1..].iter().all(|&c| is_base62(c));
        if !shaped {
            return Err(TokenError::Shape);
        }
        let (body, sum) = b.split_at(TOKEN_LEN - CHECKSUM_LEN);
        if checksum(body) != sum {
            return Err(TokenError::Checksum);
        }
        Ok(Token(Zeroizing::new(text.to_string())))
    }

    /// The public id.
    pub fn id(&self) -> &str {
        &self.0[PREFIX.len()..PREFIX.len() + ID_LEN]
    }

    /// The whole token text; only for the one-time creation output and for hashing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `text` contains something shaped like the start of a token: `atk_`, an id and
/// `_` (a token pasted into a free-text field).
pub fn contains_token_shape(text: &str) -> bool {
    text.match_indices(PREFIX).any(|(at, _)| {
        let rest = &text.as_bytes()[at + PREFIX.len()..];
        rest.len() > ID_LEN && rest[..ID_LEN].iter().all(|&b| is_base62(b)) && rest[ID_LEN] == b'_'
    })
}

/// `text` with the secret part of everything token-shaped (`atk_`, an id, `_`) replaced
/// by `…`: for messages that quote what a client sent, which may be a pasted token.
pub fn redact_tokens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(PREFIX) {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let keep = PREFIX.len() + ID_LEN + 1;
        let b = tail.as_bytes();
        // Bytes, not a slice of `tail`: what follows `atk_` need not be ASCII.
        let shaped = b.len() >= keep
            && b[PREFIX.len()..keep - 1].iter().all(|&c| is_base62(c))
            && b[keep - 1] == b'_';
        if shaped {
            out.push_str(&tail[..keep]);
            out.push('…');
            let secret = tail[keep..].bytes().take_while(|&b| is_base62(b)).count();
            rest = &tail[keep + secret..];
        } else {
            out.push_str(PREFIX);
            rest = &tail[PREFIX.len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Whether `id` has the shape of a token id (so lookups of garbage cost nothing).
pub fn is_valid_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(is_base62)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A token with `id`, a secret never issued and a valid checksum.
    pub(crate) fn forged(id: &str) -> String {
        let t = Token::generate().unwrap();
        let body = format!(
            "{PREFIX}{id}_{}",
            &t.expose()[PREFIX.len() + ID_LEN + 1..TOKEN_LEN - CHECKSUM_LEN]
        );
        let sum = checksum(body.as_bytes());
        format!("{body}{}", String::from_utf8_lossy(&sum))
    }

    #[test]
    fn checksum_known_vectors_match() {
        // Reference values from zlib.crc32.
        let cases: &[(&str, u32)] = &[("", 0), ("a", 0xe8b7be43), ("123456789", 0xcbf43926)];
        for (input, crc) in cases {
            assert_eq!(crc32fast::hash(input.as_bytes()), *crc);
        }
        assert_eq!(&checksum(b""), b"000000");
        // 0xcbf43926 = 3421780262, which is "3jZRME" in base62 (checked with Python).
        assert_eq!(&checksum(b"123456789"), b"3jZRME");
    }

    #[test]
    fn generate_then_parse_roundtrips() {
        let t = Token::generate().unwrap();
        assert_eq!(t.expose().len(), TOKEN_LEN);
        let back = Token::parse(t.expose()).unwrap();
        assert_eq!(back.id(), t.id());
        assert!(is_valid_id(t.id()));
    }

    #[test]
    fn parse_fixed_vector_accepts() {
        // Checksum computed independently with Python's zlib.crc32 and base62.
        let token = "atk_AbCd1234_0123456789abcdefghijABCDEFGHIJKL0GG7mf";
        assert_eq!(Token::parse(token).unwrap().id(), "AbCd1234");
    }

    #[test]
    fn parse_wrong_checksum_is_rejected() {
        let t = Token::generate().unwrap();
        let mut s = t.expose().to_string();
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        assert_eq!(Token::parse(&s).unwrap_err(), TokenError::Checksum);
    }

    #[test]
    fn parse_malformed_is_rejected() {
        for bad in [
            "",
            "atk_",
            "atk_short_x",
            "xtk_AbCd1234_0123456789abcdefghijABCDEFGHIJKL0GG7mf",
            "atk_AbCd123!_0123456789abcdefghijABCDEFGHIJKL0GG7mf",
            "atk_AbCd1234-0123456789abcdefghijABCDEFGHIJKL0GG7mf",
            "atk_AbCd1234_0123456789abcdefghijABCDEFGHIJKL0GG7mé",
            "atk_AbCd1234_0123456789abcdefghijABCDEFGHIJKL0GG7m",
        ] {
            assert_eq!(Token::parse(bad).unwrap_err(), TokenError::Shape, "{bad}");
        }
    }

    #[test]
    fn redact_tokens_keeps_the_id_and_drops_the_secret() {
        let t = Token::generate().unwrap();
        let text = format!(
            "\"{}\" is not a validity; nor is `x{}`",
            t.expose(),
            t.expose()
        );
        let r = redact_tokens(&text);
        assert!(!r.contains(&t.expose()[13..]), "{r}");
        assert!(r.contains(&format!("\"atk_{}_…\" is not", t.id())), "{r}");
        assert_eq!(redact_tokens("atk_ atk_short_ ok"), "atk_ atk_short_ ok");
        assert_eq!(redact_tokens("atk_éééé_x"), "atk_éééé_x");
    }

    #[test]
    fn contains_token_shape_finds_pasted_tokens_only() {
        let t = Token::generate().unwrap();
        assert!(contains_token_shape(t.expose()));
        assert!(contains_token_shape(&format!("ci {} x", t.expose())));
        assert!(contains_token_shape(&t.expose()[..13]));
        for fine in ["", "atk_", "my atk_ token", "atk_short_", "deploy key"] {
            assert!(!contains_token_shape(fine), "{fine}");
        }
    }

    #[test]
    fn debug_hides_secret() {
        let t = Token::generate().unwrap();
        let shown = format!("{t:?}");
        assert!(shown.contains(t.id()));
        assert!(!shown.contains(&t.expose()[13..]));
    }
}

//! The one-way verifier a token is stored as (SPEC §4, docs/decisions.md "At-rest
//! verifier"): `$sha256$v=1$<salt>$<digest>`, the SHA-256 of a 16-byte random salt and
//! the whole token, salt and digest in unpadded standard base64. A token carries about
//! 190 random bits, so one pass of an approved hash is as strong at rest as any password
//! hash and costs microseconds to check. Digests are compared in constant time.
//!
//! Tokens created before this verifier are stored as argon2id PHC strings. They keep
//! working through [`legacy_argon2_verify`], bounded by one process-wide gate, and are
//! replaced by a new verifier on their next successful use.

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::sync::{Condvar, Mutex, OnceLock};
use subtle::ConstantTimeEq;

use super::{Token, TokenError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD_NO_PAD;
const PREFIX: &str = "$sha256$v=1$";
const SALT_LEN: usize = 16;

/// What a stored verifier string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The current verifier: checking it costs one SHA-256.
    Sha256,
    /// An argon2id PHC string from an older release: checking it costs an argon2 run.
    Argon2,
    /// Anything else (a damaged row): never matches.
    Unknown,
}

impl Stored {
    /// Classifies a stored verifier by its prefix.
    pub fn of(phc: &str) -> Stored {
        if phc.starts_with(PREFIX) {
            Stored::Sha256
        } else if phc.starts_with("$argon2id$") {
            Stored::Argon2
        } else {
            Stored::Unknown
        }
    }
}

fn digest(salt: &[u8], token: &Token) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(token.expose().as_bytes());
    h.finalize().into()
}

/// A fresh verifier for `token`, with a new random salt.
pub fn new_verifier(token: &Token) -> Result<String, TokenError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::getrandom(&mut salt).map_err(|_| TokenError::Random)?;
    let sum = digest(&salt, token);
    Ok(format!("{PREFIX}{}${}", B64.encode(salt), B64.encode(sum)))
}

/// Whether `token` matches a current (`$sha256$`) verifier; `None` when `phc` is not one.
/// The digest comparison takes the same time wherever the first difference is.
pub fn sha256_verify(token: &Token, phc: &str) -> Option<bool> {
    let rest = phc.strip_prefix(PREFIX)?;
    let (salt, sum) = rest.split_once('$')?;
    let (Some(salt), Some(sum)) = (decode_exact::<SALT_LEN>(salt)?, decode_exact::<32>(sum)?)
    else {
        return Some(false);
    };
    Some(bool::from(digest(&salt, token).ct_eq(&sum)))
}

/// `text` decoded into exactly `N` octets on the stack (this runs on every request):
/// `None` when it is not base64, `Some(None)` when it decodes to another length.
fn decode_exact<const N: usize>(text: &str) -> Option<Option<[u8; N]>> {
    // Room for base64's length estimate, which may exceed the exact length by two.
    let mut buf = [0u8; 64];
    match B64.decode_slice(text, &mut buf) {
        Ok(n) if n == N => {
            let mut out = [0u8; N];
            out.copy_from_slice(&buf[..N]);
            Some(Some(out))
        }
        Ok(_) | Err(base64::DecodeSliceError::OutputSliceTooSmall) => Some(None),
        Err(base64::DecodeSliceError::DecodeError(_)) => None,
    }
}

/// Bounds argon2 runs process-wide, whoever asks: each run holds the stored verifier's
/// memory and a core, so at most half the cores hash at once.
struct Gate {
    busy: Mutex<usize>,
    freed: Condvar,
    slots: usize,
}

static GATE: OnceLock<Gate> = OnceLock::new();

/// Releases a slot when dropped, also when the hash panics.
struct Slot(&'static Gate);

impl Drop for Slot {
    fn drop(&mut self) {
        *self.0.busy.lock().unwrap_or_else(|p| p.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

/// Runs `f` once a hashing slot is free (blocking the calling thread until then).
fn with_slot<T>(f: impl FnOnce() -> T) -> T {
    let gate = GATE.get_or_init(|| Gate {
        busy: Mutex::new(0),
        freed: Condvar::new(),
        slots: std::thread::available_parallelism().map_or(1, |n| n.get().div_ceil(2)),
    });
    let mut busy = gate.busy.lock().unwrap_or_else(|p| p.into_inner());
    while *busy >= gate.slots {
        busy = gate.freed.wait(busy).unwrap_or_else(|p| p.into_inner());
    }
    *busy += 1;
    drop(busy);
    let _slot = Slot(gate);
    f()
}

/// Whether `token` matches a legacy argon2id PHC string (blocking: run it off the async
/// runtime). The cost parameters come from the stored string; argon2 compares in constant
/// time.
pub fn legacy_argon2_verify(token: &Token, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => with_slot(|| {
            Argon2::default()
                .verify_password(token.expose().as_bytes(), &parsed)
                .is_ok()
        }),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, SaltString};
    use argon2::{Algorithm, Params, Version};

    #[test]
    fn new_verifier_accepts_only_same_token() {
        let t = Token::generate().unwrap();
        let v = new_verifier(&t).unwrap();
        assert_eq!(Stored::of(&v), Stored::Sha256);
        assert!(!v.contains(t.expose()));
        assert!(!v.contains(&t.expose()[13..]));
        assert_eq!(sha256_verify(&t, &v), Some(true));
        assert_eq!(sha256_verify(&Token::generate().unwrap(), &v), Some(false));
        // Two verifiers of one token differ (salted).
        assert_ne!(v, new_verifier(&t).unwrap());
    }

    #[test]
    fn sha256_verify_damaged_or_foreign_strings_never_match() {
        let t = Token::generate().unwrap();
        assert_eq!(sha256_verify(&t, "garbage"), None);
        assert_eq!(sha256_verify(&t, "$argon2id$v=19$m=8,t=1,p=1$x$y"), None);
        assert_eq!(sha256_verify(&t, "$sha256$v=1$AAAA$AAAA"), Some(false));
        assert_eq!(sha256_verify(&t, "$sha256$v=1$!!$!!"), None);
        let long = "A".repeat(200);
        assert_eq!(
            sha256_verify(&t, &format!("$sha256$v=1${long}${long}")),
            Some(false)
        );
        let real = new_verifier(&t).unwrap();
        assert_eq!(sha256_verify(&t, &real), Some(true));
        assert_eq!(Stored::of("$bcrypt$x"), Stored::Unknown);
    }

    #[test]
    fn legacy_argon2_verify_accepts_old_hashes() {
        let t = Token::generate().unwrap();
        let params = Params::new(64, 1, 1, None).unwrap();
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(t.expose().as_bytes(), &salt)
            .unwrap()
            .to_string();
        assert_eq!(Stored::of(&phc), Stored::Argon2);
        assert!(legacy_argon2_verify(&t, &phc));
        assert!(!legacy_argon2_verify(&Token::generate().unwrap(), &phc));
        assert!(!legacy_argon2_verify(&t, "garbage"));
    }
}

//! Token strings as the tests build them: ids, forgeries, broken checksums and the
//! `Authorization` values that carry them.

use base64::Engine as _;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The public id of a token (`atk_<id>_...`).
pub fn token_id(token: &str) -> &str {
    &token[4..12]
}

/// The secret part of a token: everything after the id, checksum included.
pub fn secret_part(token: &str) -> &str {
    &token[13..]
}

/// Appends the SPEC section 4 checksum to `atk_<id>_<secret>`, as the daemon computes it.
pub fn with_checksum(body: &str) -> String {
    let mut n = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = BASE62[(n % 62) as usize];
        n /= 62;
    }
    format!("{body}{}", String::from_utf8_lossy(&digits))
}

/// A well-formed token (valid checksum) with `id` and a secret that was never issued.
pub fn forged_token(id: &str) -> String {
    with_checksum(&format!("atk_{id}_{}", "Q".repeat(32)))
}

/// A valid token with its last checksum character changed.
pub fn bad_checksum(token: &str) -> String {
    let (head, last) = token.split_at(token.len() - 1);
    format!("{head}{}", if last == "0" { "1" } else { "0" })
}

/// `Basic base64(user:secret)` from raw bytes.
pub fn basic(user: &[u8], secret: &[u8]) -> Vec<u8> {
    let mut pair = user.to_vec();
    pair.push(b':');
    pair.extend_from_slice(secret);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
    .into_bytes()
}

/// `Bearer token`.
pub fn bearer(token: &str) -> Vec<u8> {
    format!("Bearer {token}").into_bytes()
}

/// `prefix-<pid>-<n>`: names that stay unique across parallel test processes and
/// threads, short enough for `useradd`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// An argon2id PHC string of `token` with memory `m_kib` and `t` passes, as releases
/// before the SHA-256 verifier stored tokens.
pub fn argon2_phc(token: &str, m_kib: u32, t: u32) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(m_kib, t, 1, None).unwrap();
    let mut salt = [0u8; 16];
    getrandom::getrandom(&mut salt).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(token.as_bytes(), &SaltString::encode_b64(&salt).unwrap())
        .unwrap()
        .to_string()
}

//! The wire format between apitokend and its clients, written once for all of them: the
//! daemon, the `apitoken` command, `apitoken-external` and the PAM module.
//!
//! Layout:
//! - [`frame`]: length-prefixed frames and their limits (blocking I/O, and the encoding
//!   the daemon's async side uses).
//! - [`check`]: the `check.sock` request and reply (binary, std only).
//! - `admin` (feature `admin`): the `admin.sock` envelope, requests and one typed reply
//!   per request (JSON).
//!
//! No async runtime and no threads: the PAM module links this crate into sshd, sudo and
//! login. Buffers that may hold a secret are wiped with `zeroize`.
// Functions stay under 60 lines (clippy.toml), test code included.
#![warn(clippy::too_many_lines)]

#[cfg(feature = "admin")]
pub mod admin;
pub mod check;
pub mod frame;

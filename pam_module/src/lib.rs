//! `pam_apitoken.so`: lets a PAM service accept apitokend personal API tokens.
//!
//! `pam_sm_authenticate` reads the secret (from `PAM_AUTHTOK` or a prompt), asks the
//! daemon over `check.sock` whether it is a good token for `PAM_USER` at `PAM_RHOST`, and
//! maps the verdict onto a PAM code. Secrets that are not tokens come back as
//! `PAM_IGNORE` so the stack's password modules decide (see SPEC section 8).
//!
//! Layout:
//! - `args`: the stack line's module arguments.
//! - `decide`: the decision, safe Rust behind the `PamHandle` and `Checker` traits.
//! - `conn`: one bounded round trip to `check.sock` with non-blocking libc I/O.
//! - `ffi`: libpam declarations and the exported `pam_sm_*` entry points.
//! - `proto`: the `check.sock` wire format, from the wire crate (std only, no tokio).
//!
//! The module runs inside other programs (sshd, sudo, login), so it never starts a
//! thread, never installs a logger or signal handler, keeps no state between calls and
//! opens a fresh connection for every authentication.
// Functions stay under 60 lines (clippy.toml), test code included.
#![warn(clippy::too_many_lines)]

mod args;
mod conn;
mod decide;
mod ffi;
use apitoken_wire::check as proto;

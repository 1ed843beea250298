//! A fleet (SPEC §12) as people use it: three daemons as three hosts on one PostgreSQL
//! server that the test starts itself, each behind its own real nginx configured from
//! the shipped snippet, with passwords checked through real libpam (pam_wrapper and
//! pam_matrix). What one host is told takes effect on every host: tokens, deletes (the
//! delay measured over 100 of them), rotations, settings, lockouts and web sessions;
//! password attempts on any host count towards one lockout (SPEC §13); the database
//! connection is verified with TLS when the URL asks for it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;
#[path = "../web/harness.rs"]
mod web_harness;

mod hosts;
mod lockout;
mod propagation;
mod refused;
mod sessions;
mod tls;

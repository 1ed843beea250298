//! The web face of SPEC §11 end to end: the REST API over the real `web.sock` and through
//! a real nginx configured with the shipped snippet, passwords through real libpam
//! (pam_wrapper and pam_matrix), sessions in the real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;

mod api;
mod audit;
mod bodies;
mod browser;
mod errors;
mod harness;
mod nginx;
mod page;
mod rows;
mod sessions;
mod throttle;

//! apitokend: personal API tokens for Linux hosts and the web servers on them.
//!
//! A daemon decides whether a credential is good for nginx (`auth_request` over
//! `http.sock`), Apache and PAM (`check.sock`), and serves the `apitoken` command
//! (`admin.sock`), authorizing it by the caller's Unix credentials.
//!
//! # Layout
//! - [`config`]: the TOML configuration file, strict, with per-user defaults.
//! - [`token`]: token format, checksum, generation and the at-rest verifier.
//! - [`settings`]: the system-wide settings, validity and duration syntax.
//! - [`scope`]: token scopes, path prefixes and per-token networks.
//! - [`store`]: the store interface and its SQLite backend: tokens, settings, audit trail,
//!   failure counts. Only it touches SQLite.
//! - [`audit`]: audit events and the non-blocking syslog writer. Only it writes syslog.
//! - [`clock`]: time as a parameter (system clock, manual clock for tests).
//! - [`engine`]: the decision core: the one decision and the change operations.
//! - [`verify`]: records by id (single-flight loads) and secrets against their verifiers.
//! - [`cache`]: the bounded record cache of the hot path (quick_cache).
//! - [`lockout`]: failure counts and locks.
//! - [`lastused`]: write-behind of last-used time and address.
//! - [`password`]: account passwords through PAM.
//! - [`peer`]: uids to users and admin status.
//! - [`metrics`]: counters for `/metrics`.
//! - [`http`]: the nginx `auth_request` front end.
//! - [`http1`]: the small HTTP/1.1 server under it (httparse, one write per batch).
//! - [`frames`]: the wire crate's frames on the daemon's async sockets.
//! - [`check`]: the `check.sock` front end (PAM, Apache helper).
//! - [`admin`]: the `admin.sock` front end.
//! - [`web`]: the `web.sock` front end: REST API, sessions and the self-service page.
//! - [`cli`]: the `apitoken` command.
//! - [`args`]: the command lines of `apitokend` and `apitoken-external`.
//! - [`server`]: socket binding, systemd hand-over, accept loops, jobs, reload.
//! - [`shutdown`]: the stop broadcast and the drain of open connections.
//! - [`system`]: every `unsafe` call of the daemon outside the PAM FFI, with its reasons.
// Functions stay under 60 lines (clippy.toml), test code included.
#![warn(clippy::too_many_lines)]

pub mod admin;
pub mod args;
pub mod audit;
pub mod cache;
pub mod check;
pub mod cli;
pub mod clock;
pub mod config;
pub mod engine;
pub mod frames;
pub mod http;
pub mod http1;
pub mod lastused;
#[cfg(test)]
mod layering;
pub mod lockout;
pub mod metrics;
pub mod password;
pub mod peer;
pub mod scope;
pub mod server;
pub mod settings;
pub mod shutdown;
pub mod store;
pub mod system;
pub mod token;
pub mod verify;
pub mod web;

//! The `apitoken` command against a real daemon: every test starts `apitokend` through the
//! harness and drives it only with the real `apitoken` binary (as root, as regular users
//! through `runuser`, and as members of the admin group).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

mod common;

#[path = "cli/access.rs"]
mod access;
#[path = "cli/audit.rs"]
mod audit;
#[path = "cli/networks.rs"]
mod networks;
#[path = "cli/paging.rs"]
mod paging;
#[path = "cli/reach.rs"]
mod reach;
#[path = "cli/tokens.rs"]
mod tokens;
#[path = "cli/validity.rs"]
mod validity;

use common::stderr;
use serde_json::Value;
use std::process::Output;

/// The exit status, with the output in the failure message when there is none.
pub fn code(out: &Output) -> i32 {
    out.status
        .code()
        .unwrap_or_else(|| panic!("apitoken killed by a signal: {out:?}"))
}

/// Asserts the exit status, showing stdout and stderr when it differs.
pub fn assert_code(out: &Output, want: i32) {
    assert_eq!(
        code(out),
        want,
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        stderr(out)
    );
}

/// Asserts success and parses stdout as JSON.
#[track_caller]
pub fn json(out: &Output) -> Value {
    assert_code(out, 0);
    common::run::json(out)
}

pub use common::run::ids;
pub use common::tokens::{secret_part, token_id};

/// Asserts that `v` is a token object with exactly the keys of SPEC section 6.
pub fn assert_token_object(v: &Value) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"));
    for key in [
        "id",
        "user",
        "name",
        "created",
        "created_by",
        "expires",
        "last_used",
        "last_ip",
        "state",
    ] {
        assert!(obj.contains_key(key), "token object lacks {key}: {v}");
    }
    assert!(
        !obj.contains_key("token"),
        "a listing must never carry the token: {v}"
    );
    assert!(
        matches!(obj["state"].as_str(), Some("active" | "expired")),
        "{v}"
    );
    let created = obj["created"].as_str().unwrap();
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok()
    );
}

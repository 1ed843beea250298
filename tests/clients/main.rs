//! Clients nobody here wrote, through the shipped snippets: git over smart HTTP
//! (git-http-backend via fcgiwrap behind nginx), python-requests and curl with `.netrc`,
//! and promtool on a live `/metrics`. A missing tool fails the test with what to install.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[path = "../nginx_harness/mod.rs"]
mod nginx_harness;

mod git;
mod metrics;
mod netrc;
mod snippet;

use std::path::Path;
use std::process::{Command, Output};

use common::Daemon;
pub use common::TOKENS_ONLY;

/// Fails the test, naming the Debian package, when `program` is not installed.
#[track_caller]
pub fn require(program: &str, package: &str) {
    let found = Path::new(program).is_absolute() && Path::new(program).exists()
        || Command::new("sh")
            .args(["-c", &format!("command -v {program}")])
            .output()
            .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "{program} is not installed: `apt-get install {package}` (or `bash tests/run.sh`, \
         which installs it)"
    );
}

/// `apitoken create --user USER --scope SCOPE` as root; the token.
pub fn token(daemon: &Daemon, user: &str, scope: &str) -> String {
    daemon.cli_ok(&["create", "--user", user, "--scope", scope, "--name", scope])
}

/// Stdout and stderr of a finished command, for failure messages.
pub fn shown(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        common::stderr(out)
    )
}

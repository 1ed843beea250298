//! Running the other programs a test needs: a child fed on stdin, the CLI with its output
//! checked, and the Apache helper as Apache runs it.

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

use super::{stderr, Daemon};

/// Runs `cmd` with `input` on its stdin, capturing stdout and stderr.
#[track_caller]
pub fn run_with_input(cmd: &mut Command, input: &[u8]) -> Output {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        panic!(
            "cannot run {:?} ({e}); `bash tests/run.sh` installs what the tests use",
            cmd.get_program()
        )
    });
    // A child that exits without reading its input closes the pipe; that is its answer.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

/// Stdout parsed as JSON.
#[track_caller]
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            stderr(out)
        )
    })
}

/// Runs `apitoken-external --socket SOCK` as Apache does: `user\nsecret\n` on stdin,
/// `$IP` set and `$URI` when given. Returns its exit code (`None` when killed).
pub fn external(sock: &Path, ip: &str, uri: Option<&str>, user: &str, secret: &str) -> Option<i32> {
    external_raw(sock, ip, uri, format!("{user}\n{secret}\n").as_bytes(), &[])
}

/// Like [`external`] with any bytes on stdin and extra arguments after `--socket SOCK`.
pub fn external_raw(
    sock: &Path,
    ip: &str,
    uri: Option<&str>,
    input: &[u8],
    args: &[&str],
) -> Option<i32> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitoken-external"));
    cmd.arg("--socket").arg(sock).args(args).env("IP", ip);
    if let Some(uri) = uri {
        cmd.env("URI", uri);
    }
    run_with_input(&mut cmd, input).status.code()
}

/// Starts `apitoken-external --socket SOCK` as Apache does (`$IP` set, its output
/// discarded), as `as_user` when given (through `runuser`), with its stdin left open: the
/// caller writes `user\nsecret\n` when it chooses, so many can be handed theirs at once.
pub fn external_waiting(sock: &Path, ip: &str, as_user: Option<&str>) -> Child {
    let helper = env!("CARGO_BIN_EXE_apitoken-external");
    let mut cmd = match as_user {
        Some(user) => {
            let mut c = Command::new("runuser");
            c.args(["-u", user, "--", helper]);
            c
        }
        None => Command::new(helper),
    };
    cmd.arg("--socket")
        .arg(sock)
        .env("IP", ip)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

impl Daemon {
    /// Runs `apitoken ARGS` as root and returns its stdout; fails the test if it fails.
    #[track_caller]
    pub fn cli_ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "apitoken {args:?} failed: {}",
            stderr(&out)
        );
        super::stdout(&out)
    }

    /// Asserts that no syslog line so far contains `secret`.
    #[track_caller]
    pub fn assert_syslog_free_of(&self, secret: &str) {
        assert!(
            self.syslog_lines().iter().all(|l| !l.contains(secret)),
            "secret in syslog"
        );
    }
}

/// Runs SQL through the `sqlite3` command on a database file and returns its output.
#[track_caller]
pub fn sqlite(db: &Path, sql: &str) -> String {
    let mut cmd = Command::new("sqlite3");
    cmd.arg("-batch").arg(db);
    let out = run_with_input(&mut cmd, sql.as_bytes());
    assert!(
        out.status.success(),
        "sqlite3 failed on {sql:?} (`bash tests/run.sh` installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

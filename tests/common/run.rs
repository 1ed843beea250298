//! Running the other programs a test needs: a child fed on stdin (at once, or held back
//! until the test chooses), the CLI with its output checked, and the Apache helper as
//! Apache runs it.

use std::ffi::OsStr;
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

/// `program`, run as `user` through `runuser` when given, else as the test itself.
pub fn command_as(user: Option<&str>, program: impl AsRef<OsStr>) -> Command {
    match user {
        Some(user) => {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", user, "--"]).arg(program);
            cmd
        }
        None => Command::new(program),
    }
}

/// A child started with its input held back: many can be started first, then handed
/// their input at once with [`Held::feed`]. Its output is discarded.
pub struct Held {
    child: Child,
    input: Vec<u8>,
}

impl Held {
    /// Starts `cmd` with its stdin open and `input` kept for [`Held::feed`].
    pub fn start(cmd: &mut Command, input: impl Into<Vec<u8>>) -> Held {
        let child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Held {
            child,
            input: input.into(),
        }
    }

    /// Writes the input and closes stdin (the first time only).
    pub fn feed(&mut self) {
        if let Some(mut stdin) = self.child.stdin.take() {
            // A child that exits without reading its input closes the pipe; that is its
            // answer.
            let _ = stdin.write_all(&self.input);
        }
    }

    /// Feeds the child if that has not happened yet and waits for its exit code (`None`
    /// when killed).
    pub fn code(mut self) -> Option<i32> {
        self.feed();
        self.child.wait().unwrap().code()
    }
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

/// The ids of a JSON array of token objects (`list --json`).
#[track_caller]
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `apitoken --socket SOCK ARGS` as `user` (through `runuser`) when given, feeding
/// `stdin`; for a daemon the test did not start through [`Daemon`].
pub fn apitoken(sock: &Path, user: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut cmd = command_as(user, env!("CARGO_BIN_EXE_apitoken"));
    cmd.arg("--socket").arg(sock).args(args);
    run_with_input(&mut cmd, stdin.as_bytes())
}

/// `apitoken-external --socket SOCK` as Apache runs it (`$IP` set), as `as_user` when
/// given; the caller adds arguments and environment.
pub fn external_command(sock: &Path, ip: &str, as_user: Option<&str>) -> Command {
    let mut cmd = command_as(as_user, env!("CARGO_BIN_EXE_apitoken-external"));
    cmd.arg("--socket").arg(sock).env("IP", ip);
    cmd
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
    let mut cmd = external_command(sock, ip, None);
    cmd.args(args);
    if let Some(uri) = uri {
        cmd.env("URI", uri);
    }
    run_with_input(&mut cmd, input).status.code()
}

/// Starts `apitoken-external --socket SOCK` as Apache does, as `as_user` when given, with
/// `user\nsecret\n` held back until [`Held::feed`], so many can be handed theirs at once.
pub fn external_held(
    sock: &Path,
    ip: &str,
    as_user: Option<&str>,
    user: &str,
    secret: &str,
) -> Held {
    Held::start(
        &mut external_command(sock, ip, as_user),
        format!("{user}\n{secret}\n"),
    )
}

impl Daemon {
    /// Runs `apitoken ARGS` as root; fails the test if it fails.
    #[track_caller]
    pub fn cli_success(&self, args: &[&str]) -> Output {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "apitoken {args:?} failed: {}",
            stderr(&out)
        );
        out
    }

    /// Runs `apitoken ARGS` as root and returns its stdout; fails the test if it fails.
    #[track_caller]
    pub fn cli_ok(&self, args: &[&str]) -> String {
        super::stdout(&self.cli_success(args))
    }

    /// Runs `apitoken ARGS` (with `--json` among them) as root and parses its stdout;
    /// fails the test if it fails.
    #[track_caller]
    pub fn cli_json(&self, args: &[&str]) -> Value {
        json(&self.cli_success(args))
    }

    /// `apitoken create --json ARGS` as root: the token and the token object.
    #[track_caller]
    pub fn create_json(&self, args: &[&str]) -> (String, Value) {
        let mut full = vec!["create", "--json"];
        full.extend_from_slice(args);
        let v = self.cli_json(&full);
        let token = v["token"]
            .as_str()
            .expect("create --json has a token")
            .to_string();
        (token, v)
    }

    /// A token of `owner` whose stored verifier is an argon2id hash with production
    /// memory (19 MiB) and `passes` passes, as releases before the SHA-256 verifier
    /// stored tokens: its first verification is slow, and a wrong secret for it costs an
    /// argon2 run.
    pub fn legacy_token(&self, owner: &str, passes: u32) -> String {
        let token = self.create_token(owner);
        let phc = super::tokens::argon2_phc(&token, 19456, passes);
        sqlite(
            &self.db_path(),
            &format!(
                "UPDATE tokens SET hash = '{phc}' WHERE id = '{}';",
                super::tokens::token_id(&token)
            ),
        );
        token
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

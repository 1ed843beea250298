//! `pam_apitoken.so` through real libpam: `pamtester` under pam_wrapper, so the service
//! file comes from a temp directory and nothing under /etc/pam.d is touched. The stack is
//! the shipped `packaging/pam/sshd.example`, with `pam_matrix.so` standing in for
//! `pam_unix.so` as the password module.
//!
//! Every secret is typed twice: if the module wrongly let a refused secret fall through,
//! `pam_matrix` (whose database sometimes holds that very secret) would read the second
//! copy and accept it, and the test would fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{stderr, Daemon};

const SERVICE: &str = "atk-pamtest";

/// What `pamtester` reported for one `pam_authenticate`.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    /// `PAM_AUTH_ERR`.
    AuthErr,
    /// `PAM_AUTHINFO_UNAVAIL`.
    Unavail,
    Other(String),
}
use Outcome::*;

/// A library under `/usr/lib/<multiarch>/`.
fn system_lib(rel: &str) -> PathBuf {
    let found = std::fs::read_dir("/usr/lib")
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path().join(rel))
        .find(|p| p.exists());
    found.unwrap_or_else(|| panic!("{rel} not found under /usr/lib/*/ (install libpam-wrapper)"))
}

/// The freshly built module, next to this test's own `deps/` directory.
fn module_path() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let so = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("libpam_apitoken.so");
    assert!(
        so.exists(),
        "{} missing: run `cargo build --workspace` first",
        so.display()
    );
    let built = so.metadata().unwrap().modified().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut sources: Vec<PathBuf> = std::fs::read_dir(root.join("pam_module/src"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    sources.push(root.join("src/check/proto.rs"));
    for src in sources {
        let changed = src.metadata().unwrap().modified().unwrap();
        assert!(
            built >= changed,
            "{} is older than {}: run `cargo build --workspace`",
            so.display(),
            src.display()
        );
    }
    so
}

/// The auth lines of the shipped example stack.
fn shipped_stack() -> Vec<String> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/pam/sshd.example");
    std::fs::read_to_string(example)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("auth"))
        .map(str::to_string)
        .collect()
}

/// A PAM service directory and password database for one test.
struct Pam {
    dir: tempfile::TempDir,
}

impl Pam {
    /// The shipped stack pointed at `socket`, with `(user, password)` in pam_matrix.
    fn shipped(socket: &Path, timeout_ms: u64, passwords: &[(&str, &str)]) -> Pam {
        let pam = Pam {
            dir: tempfile::tempdir().unwrap(),
        };
        let passdb = pam.write_passdb(passwords);
        let ours = format!(
            "{} socket={} timeout_ms={timeout_ms}",
            module_path().display(),
            socket.display()
        );
        let matrix = format!(
            "{} passdb={}",
            system_lib("pam_wrapper/pam_matrix.so").display(),
            passdb.display()
        );
        let lines = shipped_stack();
        assert_eq!(
            lines.len(),
            2,
            "sshd.example should have two auth lines: {lines:?}"
        );
        assert!(
            lines[0].contains("pam_apitoken.so")
                && lines[1].contains("pam_unix.so nullok try_first_pass")
        );
        let stack = format!(
            "{}\n{}\n",
            lines[0].replace("pam_apitoken.so", &ours),
            lines[1].replace("pam_unix.so nullok try_first_pass", &matrix)
        );
        pam.write_service(&stack);
        pam
    }

    /// A stack given literally; `{module}`, `{socket}` and `{lib}` are filled in.
    fn custom(socket: &Path, stack: &str) -> Pam {
        let pam = Pam {
            dir: tempfile::tempdir().unwrap(),
        };
        let wrapper_dir = system_lib("pam_wrapper/pam_matrix.so")
            .parent()
            .unwrap()
            .to_path_buf();
        let stack = stack
            .replace("{module}", &module_path().display().to_string())
            .replace("{socket}", &socket.display().to_string())
            .replace("{lib}", &wrapper_dir.display().to_string());
        pam.write_service(&stack);
        pam
    }

    fn write_passdb(&self, passwords: &[(&str, &str)]) -> PathBuf {
        let path = self.dir.path().join("passdb");
        let text: String = passwords
            .iter()
            .map(|(u, p)| format!("{u}:{p}:{SERVICE}\n"))
            .collect();
        std::fs::write(&path, text).unwrap();
        path
    }

    fn write_service(&self, stack: &str) {
        // pam_wrapper copies every file of the service directory, so it holds nothing else.
        let services = self.dir.path().join("pam.d");
        std::fs::create_dir_all(&services).unwrap();
        std::fs::write(services.join(SERVICE), stack).unwrap();
    }

    /// Runs `pamtester` with `ops` authentications in one process, typing `input`.
    fn run(
        &self,
        user: &str,
        rhost: Option<&str>,
        input: &str,
        ops: usize,
        env: &[(&str, &str)],
    ) -> (Outcome, Duration) {
        let mut cmd = Command::new("pamtester");
        cmd.env("LD_PRELOAD", system_lib("libpam_wrapper.so"))
            .env("PAM_WRAPPER", "1")
            .env("PAM_WRAPPER_SERVICE_DIR", self.dir.path().join("pam.d"))
            .envs(env.iter().copied());
        if let Some(rhost) = rhost {
            cmd.arg("-I").arg(format!("rhost={rhost}"));
        }
        cmd.args([SERVICE, user])
            .args(std::iter::repeat("authenticate").take(ops));
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("pamtester is installed");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let took = started.elapsed();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        let outcome = if out.status.success() && text.contains("successfully authenticated") {
            Success
        } else if text.contains("Authentication failure") {
            AuthErr
        } else if text.contains("cannot retrieve authentication info") {
            Unavail
        } else {
            Other(format!("{:?}: {text}", out.status))
        };
        (outcome, took)
    }

    /// One authentication of `user` typing `secret` (twice, see the file comment).
    fn auth(&self, user: &str, rhost: Option<&str>, secret: &str) -> Outcome {
        self.run(user, rhost, &format!("{secret}\n{secret}\n"), 1, &[])
            .0
    }
}

fn token_id(token: &str) -> &str {
    &token[4..12]
}

/// A well-formed token (correct checksum) that the daemon never issued.
fn forged_token() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let body = format!("atk_Zz9Zz9Zz_{}", "q7".repeat(16));
    let mut crc = crc32fast::hash(body.as_bytes());
    let mut digits = [b'0'; 6];
    for d in digits.iter_mut().rev() {
        *d = ALPHABET[(crc % 62) as usize];
        crc /= 62;
    }
    format!("{body}{}", std::str::from_utf8(&digits).unwrap())
}

fn cli_ok(daemon: &Daemon, args: &[&str]) {
    let out = daemon.cli(args);
    assert!(
        out.status.success(),
        "apitoken {args:?} failed: {}",
        stderr(&out)
    );
}

#[test]
fn pam_valid_token_succeeds() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
    let line = daemon.wait_syslog(&[
        "event=auth.success",
        "via=pam",
        &format!("service={SERVICE}"),
    ]);
    assert!(
        line.contains("192.0.2.10") && line.contains(token_id(&token)),
        "{line}"
    );
    assert!(
        daemon
            .syslog_lines()
            .iter()
            .all(|l| !l.contains(&token[13..])),
        "secret in syslog"
    );
}

#[test]
fn pam_token_of_other_user_fails_without_fallback() {
    let daemon = Daemon::start();
    let bobs = daemon.create_token("bob");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &bobs)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &bobs), AuthErr);
    assert_eq!(pam.auth("bob", Some("192.0.2.10"), &bobs), Success);
}

#[test]
fn pam_unknown_token_fails_without_fallback() {
    let daemon = Daemon::start();
    daemon.create_token("alice");
    let forged = forged_token();
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &forged)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &forged), AuthErr);
}

#[test]
fn pam_token_with_bad_checksum_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let mut mangled = token.clone().into_bytes();
    mangled[20] = if mangled[20] == b'a' { b'b' } else { b'a' };
    let mangled = String::from_utf8(mangled).unwrap();
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &mangled), AuthErr);
}

#[test]
fn pam_password_with_password_auth_on_falls_through_to_password_module() {
    let daemon = Daemon::start();
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), "correct horse"),
        Success
    );
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), "wrong horse"),
        AuthErr
    );
    assert_eq!(pam.auth("alice", None, "correct horse"), Success);
}

#[test]
fn pam_password_with_password_auth_off_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    cli_ok(&daemon, &["settings", "set", "password-auth", "off"]);
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), "correct horse"),
        AuthErr
    );
    assert_eq!(pam.auth("alice", None, "correct horse"), AuthErr);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
}

#[test]
fn pam_rhost_against_allowed_networks_matches_table() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    cli_ok(
        &daemon,
        &["allow-ip", "add", "192.0.2.0/24", "2001:db8::/32"],
    );
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    let table: [(Option<&str>, &str, Outcome); 9] = [
        (Some("192.0.2.10"), &token, Success),
        (Some("2001:db8::5"), &token, Success),
        (Some("198.51.100.7"), &token, AuthErr),
        (Some("host.example.com"), &token, AuthErr),
        (None, &token, Success),
        (Some("192.0.2.10"), "correct horse", Success),
        (Some("198.51.100.7"), "correct horse", AuthErr),
        (Some("host.example.com"), "correct horse", AuthErr),
        (None, "correct horse", Success),
    ];
    for (rhost, secret, expected) in table {
        let kind = if secret == token { "token" } else { "password" };
        assert_eq!(
            pam.auth("alice", rhost, secret),
            expected,
            "rhost {rhost:?} with {kind}"
        );
    }
}

#[test]
fn pam_revoked_token_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", &token)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
    cli_ok(&daemon, &["delete", token_id(&token)]);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), AuthErr);
}

#[test]
fn pam_locked_user_fails_even_with_valid_token() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    cli_ok(&daemon, &["settings", "set", "lockout-threshold", "2"]);
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    let forged = forged_token();
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &forged), AuthErr);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &forged), AuthErr);
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), AuthErr);
}

#[test]
fn pam_daemon_down_fails_fast_without_fallback() {
    let mut daemon = Daemon::start();
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[("alice", "correct horse")]);
    daemon.kill();
    let (outcome, took) = pam.run(
        "alice",
        Some("192.0.2.10"),
        "correct horse\ncorrect horse\n",
        1,
        &[],
    );
    assert_eq!(outcome, Unavail);
    assert!(took < Duration::from_secs(3), "refusing took {took:?}");
}

#[test]
fn pam_silent_daemon_fails_within_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("check.sock");
    // Bound but never accepted: the connection succeeds and no answer ever comes.
    let _listener = UnixListener::bind(&socket).unwrap();
    let pam = Pam::shipped(&socket, 700, &[("alice", "correct horse")]);
    let (outcome, took) = pam.run(
        "alice",
        Some("192.0.2.10"),
        "correct horse\ncorrect horse\n",
        1,
        &[],
    );
    assert_eq!(outcome, Unavail);
    assert!(
        took >= Duration::from_millis(700),
        "gave up early: {took:?}"
    );
    assert!(took < Duration::from_millis(700 + 1500), "took {took:?}");
}

#[test]
fn pam_use_first_pass_takes_secret_from_earlier_module() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth required {lib}/pam_set_items.so\n\
         auth [success=done ignore=ignore default=die] {module} socket={socket} use_first_pass\n",
    );
    // Nothing on stdin: a prompt would read end-of-file and fail.
    let with_token = [("PAM_AUTHTOK", token.as_str())];
    assert_eq!(pam.run("alice", None, "", 1, &with_token).0, Success);
    assert_eq!(pam.run("bob", None, "", 1, &with_token).0, AuthErr);
}

#[test]
fn pam_use_first_pass_without_earlier_secret_fails() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth [success=done ignore=ignore default=die] {module} socket={socket} use_first_pass\n",
    );
    assert_eq!(
        pam.run("alice", None, &format!("{token}\n"), 1, &[]).0,
        AuthErr
    );
}

#[test]
fn pam_prompted_secret_is_stored_for_next_module() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    // The first copy prompts and must leave PAM_AUTHTOK set; the second only reads it.
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth optional {module} socket={socket}\n\
         auth [success=done ignore=ignore default=die] {module} socket={socket} use_first_pass\n",
    );
    assert_eq!(
        pam.run("alice", None, &format!("{token}\n"), 1, &[]).0,
        Success
    );
}

#[test]
fn pam_bad_module_argument_fails_closed() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::custom(
        &daemon.check_sock(),
        "auth [success=done ignore=ignore default=die] {module} socket={socket} timeout_ms=soon\n",
    );
    let (outcome, _) = pam.run("alice", None, &format!("{token}\n"), 1, &[]);
    assert!(
        matches!(outcome, Other(ref text) if text.contains("Error in service module")),
        "{outcome:?}"
    );
}

#[test]
fn pam_authenticate_cached_token_reports_time_per_call() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    // The first call verifies argon2 and fills the daemon's cache.
    assert_eq!(pam.auth("alice", Some("192.0.2.10"), &token), Success);
    let calls = 200;
    let input = format!("{token}\n").repeat(calls);
    let (outcome, took) = pam.run("alice", Some("192.0.2.10"), &input, calls, &[]);
    assert_eq!(outcome, Success);
    println!(
        "pam_authenticate with a cached token: {calls} calls in {took:?}, {:?} per call (one pamtester process)",
        took / calls as u32
    );
}

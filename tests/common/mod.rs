//! One harness for every integration test: starts the real `apitokend` binary on sockets
//! in a fresh temp directory with its own database and its own syslog socket, waits for it
//! to be ready, and kills it on drop. Tests talk to it only through real interfaces.
//!
//! Shared by every test crate, so nothing is written twice: `tokens` (ids, forgeries,
//! `Authorization` values), `http` (a raw HTTP/1.1 client, free ports), `run` (children
//! fed on stdin, the CLI and the Apache helper), `pam` (libpam redirected by
//! pam_wrapper to pam_matrix), `check` (`check.sock` frames), `pg` (a PostgreSQL server).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod check;
pub mod http;
pub mod pam;
pub mod pg;
pub mod run;
pub mod tokens;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Admin group used by the tests' configs.
pub const ADMIN_GROUP: &str = "atk-admins";

/// Tokens only: a wrong credential is refused without asking PAM.
pub const TOKENS_ONLY: &str = "[password]\nbackend = \"none\"\n";

/// A running daemon; killed and its directory removed on drop.
pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
    pub state: PathBuf,
    pub runtime: PathBuf,
    child: Option<Child>,
    syslog: Arc<Mutex<Vec<String>>>,
    extra_toml: String,
    env: Vec<(String, String)>,
}

/// Test defaults: cheap argon2, no password backend, syslog into the test's own socket.
pub fn base_config(dir: &Path) -> String {
    format!(
        r#"state_dir = "{state}"
runtime_dir = "{run}"
admin_group = "{ADMIN_GROUP}"

[syslog]
socket = "{log}"
log_success = true

[argon2]
memory_kib = 1024
iterations = 1
parallelism = 1
"#,
        state = dir.join("state").display(),
        run = dir.join("run").display(),
        log = dir.join("syslog.sock").display(),
    )
}

impl Daemon {
    /// Starts a daemon with the test defaults.
    pub fn start() -> Daemon {
        Self::start_with("", &[])
    }

    /// Starts a daemon whose config is the defaults followed by `extra_toml` (whole
    /// sections, e.g. `[password]\nbackend = "pam"`), with extra environment variables.
    pub fn start_with(extra_toml: &str, env: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("apitokend-test")
            .tempdir()
            .unwrap();
        // Other users (runuser) must reach the sockets inside.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let syslog = Arc::new(Mutex::new(Vec::new()));
        spawn_syslog_sink(&dir.path().join("syslog.sock"), syslog.clone());
        let config = dir.path().join("apitokend.toml");
        let mut daemon = Daemon {
            state: dir.path().join("state"),
            runtime: dir.path().join("run"),
            config,
            dir,
            child: None,
            syslog,
            extra_toml: extra_toml.to_string(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        daemon.write_config(extra_toml);
        daemon.spawn();
        daemon
    }

    /// Rewrites the config file (defaults plus `extra_toml`).
    pub fn write_config(&self, extra_toml: &str) {
        let text = format!("{}\n{}\n", base_config(self.dir.path()), extra_toml);
        std::fs::write(&self.config, text).unwrap();
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitokend"));
        cmd.arg("--config").arg(&self.config).stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if UnixStream::connect(self.admin_sock()).is_ok()
                && UnixStream::connect(self.http_sock()).is_ok()
            {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("apitokend exited during start-up: {status}");
            }
            assert!(Instant::now() < deadline, "apitokend not ready within 20 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the daemon with SIGKILL and starts it again on the same directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Stops the daemon with SIGKILL (stale socket files stay behind).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends a signal to the daemon.
    pub fn signal(&self, sig: &str) {
        let pid = self.child.as_ref().unwrap().id().to_string();
        assert!(Command::new("kill")
            .args(["-s", sig, &pid])
            .status()
            .unwrap()
            .success());
    }

    /// Waits for the daemon to exit and returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let deadline = Instant::now() + within;
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "apitokend did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn admin_sock(&self) -> PathBuf {
        self.runtime.join("admin.sock")
    }
    pub fn http_sock(&self) -> PathBuf {
        self.runtime.join("http.sock")
    }
    pub fn check_sock(&self) -> PathBuf {
        self.runtime.join("check.sock")
    }
    pub fn db_path(&self) -> PathBuf {
        self.state.join("tokens.db")
    }

    /// Runs `apitoken --socket <admin.sock> ARGS` as the current user (root in CI).
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_input(None, args, "")
    }

    /// Runs `apitoken` as `user` (through `runuser`) when given, feeding `stdin`.
    pub fn cli_input(&self, user: Option<&str>, args: &[&str], stdin: &str) -> Output {
        run::apitoken(&self.admin_sock(), user, args, stdin)
    }

    /// Runs `apitoken` as `user`.
    pub fn cli_as(&self, user: &str, args: &[&str]) -> Output {
        self.cli_input(Some(user), args, "")
    }

    /// Creates a token for `user` as root and returns it.
    pub fn create_token(&self, user: &str) -> String {
        let out = self.cli(&["create", "--user", user, "--name", "test"]);
        assert!(
            out.status.success(),
            "create failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// Every syslog line received so far.
    pub fn syslog_lines(&self) -> Vec<String> {
        self.syslog.lock().unwrap().clone()
    }

    /// Polls until a syslog line contains every one of `needles`, or panics after 5 s.
    pub fn wait_syslog(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(line) = self
                .syslog_lines()
                .into_iter()
                .find(|l| needles.iter().all(|n| l.contains(n)))
            {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "no syslog line with {needles:?}: {:#?}",
                self.syslog_lines()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

fn spawn_syslog_sink(path: &Path, lines: Arc<Mutex<Vec<String>>>) {
    let sock = UnixDatagram::bind(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).unwrap();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = sock.recv(&mut buf) {
            lines
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    });
}

/// Makes sure a local Unix account exists (tests run as root); idempotent and safe when
/// several tests race on `/etc/passwd` (useradd then fails to lock it and is retried).
pub fn ensure_user(name: &str) {
    let exists = || {
        Command::new("id")
            .arg(name)
            .output()
            .unwrap()
            .status
            .success()
    };
    let made = eventually(Duration::from_secs(20), || {
        exists()
            || Command::new("useradd")
                .args(["--no-create-home", "--shell", "/usr/sbin/nologin", name])
                .output()
                .unwrap()
                .status
                .success()
    });
    assert!(made && exists(), "could not create user {name}");
}

/// Makes sure a group exists and `user` is a member; idempotent, retried like `ensure_user`.
pub fn ensure_group_member(group: &str, user: &str) {
    ensure_user(user);
    let ok = eventually(Duration::from_secs(20), || {
        let _ = Command::new("groupadd").arg(group).output();
        Command::new("usermod")
            .args(["-a", "-G", group, user])
            .output()
            .unwrap()
            .status
            .success()
    });
    assert!(ok, "could not add {user} to {group}");
}

/// Stdout as trimmed text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).to_string()
}

/// Polls `f` until it returns true or the deadline passes.
pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Daemon {
    /// The running daemon's process id (a new one after `restart`).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the daemon is not running").id()
    }

    /// Starts a daemon like [`Daemon::start_with`], then runs it again with its stderr
    /// going to [`Daemon::stderr_path`] instead of the test's own stderr.
    pub fn start_capturing_stderr(extra_toml: &str, env: &[(&str, &str)]) -> Daemon {
        let mut daemon = Self::start_with(extra_toml, env);
        daemon.respawn_capturing_stderr();
        daemon
    }

    /// Kills the daemon and starts it again with stderr appended to
    /// [`Daemon::stderr_path`]. `restart` afterwards goes back to the test's stderr.
    pub fn respawn_capturing_stderr(&mut self) {
        self.kill();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.stderr_path())
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_apitokend"));
        cmd.arg("--config")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stderr(log);
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        self.child = Some(cmd.spawn().unwrap());
        self.wait_ready();
    }

    /// Where [`Daemon::start_capturing_stderr`] sends the daemon's stderr.
    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join("apitokend.stderr")
    }

    /// The daemon's captured stderr so far (empty when not captured).
    pub fn stderr_text(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }
}

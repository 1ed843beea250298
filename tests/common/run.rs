//! Running the other programs a test needs: a child fed on stdin, the CLI with its output
//! checked, the Apache helper as Apache runs it, and a daemon whose password backend is
//! real libpam redirected by pam_wrapper.

use std::io::Write;
use std::path::{Path, PathBuf};
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

/// The first `<lib dir>/<multiarch>/<rel>` that exists, e.g. `libpam_wrapper.so`.
pub fn find_multiarch_lib(rel: &str) -> PathBuf {
    for base in ["/usr/lib", "/lib"] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let candidate = entry.path().join(rel);
            if entry.file_name().to_string_lossy().ends_with("-linux-gnu") && candidate.exists() {
                return candidate;
            }
        }
        let direct = Path::new(base).join(rel);
        if direct.exists() {
            return direct;
        }
    }
    panic!(
        "{rel} not found under /usr/lib/<multiarch>; `bash tests/run.sh` installs libpam-wrapper"
    );
}

/// The config section and environment of a daemon whose password backend is PAM, with
/// libpam redirected by pam_wrapper to a service that accepts `user`/`password` through
/// pam_matrix. Keep the returned directory alive as long as the daemon.
pub fn pam_matrix_backend(
    user: &str,
    password: &str,
) -> (String, Vec<(String, String)>, tempfile::TempDir) {
    let pam_dir = tempfile::Builder::new()
        .prefix("apitokend-pam")
        .tempdir()
        .unwrap();
    let matrix = find_multiarch_lib("pam_wrapper/pam_matrix.so");
    let passdb = pam_dir.path().join("passdb");
    std::fs::write(&passdb, format!("{user}:{password}:apitokend\n")).unwrap();
    let services = pam_dir.path().join("services");
    std::fs::create_dir(&services).unwrap();
    let line = |kind: &str| {
        format!(
            "{kind} required {} passdb={}\n",
            matrix.display(),
            passdb.display()
        )
    };
    std::fs::write(services.join("apitokend"), line("auth") + &line("account")).unwrap();
    let preload = find_multiarch_lib("libpam_wrapper.so");
    let env = vec![
        ("LD_PRELOAD".to_string(), preload.display().to_string()),
        ("PAM_WRAPPER".to_string(), "1".to_string()),
        (
            "PAM_WRAPPER_SERVICE_DIR".to_string(),
            services.display().to_string(),
        ),
    ];
    let toml = "[password]\nbackend = \"pam\"\npam_service = \"apitokend\"\n".to_string();
    (toml, env, pam_dir)
}

/// `(name, value)` pairs borrowed, as [`Daemon::start_with`] takes them.
pub fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
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

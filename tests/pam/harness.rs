//! The libpam side of the PAM tests: a pam_wrapper service directory with a stack that
//! uses the freshly built module, and `pamtester` to drive it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::pam::{pam_wrapper_env, write_passdb};
use crate::common::run::run_with_input;
use crate::common::stderr;

pub const SERVICE: &str = "atk-pamtest";

/// What `pamtester` reported for one `pam_authenticate`.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    Success,
    /// `PAM_AUTH_ERR`.
    AuthErr,
    /// `PAM_AUTHINFO_UNAVAIL`.
    Unavail,
    Other(String),
}

/// A library under `/usr/lib/<multiarch>/`.
pub use crate::common::pam::find_multiarch_lib as system_lib;
/// The freshly built module, next to this test's own `deps/` directory.
pub fn module_path() -> PathBuf {
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
    sources.extend(["lib.rs", "check.rs", "frame.rs"].map(|f| root.join("wire/src").join(f)));
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
pub fn shipped_stack() -> Vec<String> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/pam/sshd.example");
    std::fs::read_to_string(example)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("auth"))
        .map(str::to_string)
        .collect()
}

/// The shipped stack's auth lines, with `ours` (the freshly built module and its
/// options) in place of `pam_apitoken.so` and pam_matrix on `passdb` in place of
/// `pam_unix.so`.
pub fn shipped_auth(ours: &str, passdb: &Path) -> String {
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
    format!(
        "{}\n{}\n",
        lines[0].replace("pam_apitoken.so", ours),
        lines[1].replace("pam_unix.so nullok try_first_pass", &matrix)
    )
}

/// A PAM service directory and password database for one test.
pub struct Pam {
    dir: tempfile::TempDir,
}

impl Pam {
    /// The shipped stack pointed at `socket`, with `(user, password)` in pam_matrix.
    pub fn shipped(socket: &Path, timeout_ms: u64, passwords: &[(&str, &str)]) -> Pam {
        let pam = Pam {
            dir: tempfile::tempdir().unwrap(),
        };
        let passdb = pam.write_passdb(passwords);
        let ours = format!(
            "{} socket={} timeout_ms={timeout_ms}",
            module_path().display(),
            socket.display()
        );
        pam.write_service(&shipped_auth(&ours, &passdb));
        pam
    }

    /// A stack given literally; `{module}`, `{socket}`, `{passdb}`, `{lib}` (pam_wrapper's
    /// modules) and `{security}` (the system's modules) are filled in.
    pub fn custom(socket: &Path, stack: &str, passwords: &[(&str, &str)]) -> Pam {
        let pam = Pam {
            dir: tempfile::tempdir().unwrap(),
        };
        let passdb = pam.write_passdb(passwords);
        let dir_of = |rel: &str| system_lib(rel).parent().unwrap().display().to_string();
        let stack = stack
            .replace("{module}", &module_path().display().to_string())
            .replace("{socket}", &socket.display().to_string())
            .replace("{passdb}", &passdb.display().to_string())
            .replace("{lib}", &dir_of("pam_wrapper/pam_matrix.so"))
            .replace("{security}", &dir_of("security/pam_permit.so"));
        pam.write_service(&stack);
        pam
    }

    fn write_passdb(&self, passwords: &[(&str, &str)]) -> PathBuf {
        let path = self.dir.path().join("passdb");
        write_passdb(&path, passwords, SERVICE);
        path
    }

    fn write_service(&self, stack: &str) {
        // pam_wrapper copies every file of the service directory, so it holds nothing else.
        let services = self.dir.path().join("pam.d");
        std::fs::create_dir_all(&services).unwrap();
        std::fs::write(services.join(SERVICE), stack).unwrap();
    }

    /// Runs `pamtester` with `ops` authentications in one process, typing `input`.
    pub fn run(
        &self,
        user: &str,
        rhost: Option<&str>,
        input: &str,
        ops: usize,
        env: &[(&str, &str)],
    ) -> (Outcome, Duration) {
        let mut cmd = Command::new("pamtester");
        cmd.envs(pam_wrapper_env(&self.dir.path().join("pam.d")))
            .envs(env.iter().copied());
        if let Some(rhost) = rhost {
            cmd.arg("-I").arg(format!("rhost={rhost}"));
        }
        cmd.args([SERVICE, user]).args(vec!["authenticate"; ops]);
        let started = Instant::now();
        let out = run_with_input(&mut cmd, input.as_bytes());
        let took = started.elapsed();
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        let outcome = if out.status.success() && text.contains("successfully authenticated") {
            Outcome::Success
        } else if text.contains("Authentication failure") {
            Outcome::AuthErr
        } else if text.contains("cannot retrieve authentication info") {
            Outcome::Unavail
        } else {
            Outcome::Other(format!("{:?}: {text}", out.status))
        };
        (outcome, took)
    }

    /// One authentication of `user` typing `secret` (twice, see the file comment).
    pub fn auth(&self, user: &str, rhost: Option<&str>, secret: &str) -> Outcome {
        self.run(user, rhost, &format!("{secret}\n{secret}\n"), 1, &[])
            .0
    }
}

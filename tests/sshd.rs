//! A real OpenSSH server whose PAM stack starts with `pam_apitoken.so`, and a real `ssh`
//! client typing a token at the password prompt. sshd runs under pam_wrapper, so its
//! "sshd" service file comes from a temp directory and no system file is touched. The
//! stack is the shipped `packaging/pam/sshd.example`, with `pam_matrix.so` standing in for
//! `pam_unix.so` so that no account needs a real password.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

mod common;
#[allow(dead_code)]
#[path = "pam/harness.rs"]
mod pam;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::http::{free_port, wait_listening};
use common::pam::{pam_wrapper_env, write_passdb};
use common::{ensure_user, stderr, Daemon};
use pam::{module_path, shipped_auth, system_lib};

/// The account the tests log in as; sshd needs a real one.
const USER: &str = "atk-sshuser";
/// What the account's shell (nologin) says once a login got through authentication.
const LOGGED_IN: &str = "This account is currently not available";

/// The PAM service file: the shipped auth lines, then neutral account and session stacks.
fn service_file(check_sock: &Path, passdb: &Path) -> String {
    let ours = format!(
        "{} socket={}",
        module_path().display(),
        check_sock.display()
    );
    let auth = shipped_auth(&ours, passdb);
    let permit = system_lib("security/pam_permit.so");
    let permit = permit.display();
    format!("{auth}account required {permit}\nsession required {permit}\n")
}

/// sshd in the foreground on its own port; killed on drop.
struct Sshd {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Sshd {
    fn start(daemon: &Daemon, passwords: &[(&str, &str)]) -> Sshd {
        ensure_user(USER);
        // sshd insists on its privilege separation directory, owned by root, mode 0755.
        std::fs::create_dir_all("/run/sshd").unwrap();
        std::fs::set_permissions("/run/sshd", std::fs::Permissions::from_mode(0o755)).unwrap();
        let dir = tempfile::Builder::new()
            .prefix("apitokend-sshd")
            .tempdir()
            .unwrap();
        let root = dir.path();
        let passdb = root.join("passdb");
        write_passdb(&passdb, passwords, "sshd");
        std::fs::create_dir_all(root.join("pam.d")).unwrap();
        std::fs::write(
            root.join("pam.d/sshd"),
            service_file(&daemon.check_sock(), &passdb),
        )
        .unwrap();
        let key = root.join("host_key");
        let keygen = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&key)
            .output()
            .unwrap();
        assert!(keygen.status.success(), "ssh-keygen: {}", stderr(&keygen));
        let port = free_port();
        let config = format!(
            "ListenAddress 127.0.0.1\nHostKey {key}\nPidFile {root}/sshd.pid\nUsePAM yes\n\
             KbdInteractiveAuthentication yes\nPasswordAuthentication yes\nPubkeyAuthentication no\n\
             PermitRootLogin no\nStrictModes no\nAuthorizedKeysFile none\nMaxAuthTries 3\nLogLevel VERBOSE\n",
            key = key.display(),
            root = root.display(),
        );
        std::fs::write(root.join("sshd_config"), config).unwrap();
        let child = Command::new("/usr/sbin/sshd")
            .args(["-D", "-e", "-p", &port.to_string(), "-f"])
            .arg(root.join("sshd_config"))
            .envs(pam_wrapper_env(&root.join("pam.d")))
            .process_group(0)
            .stdin(Stdio::null())
            .stderr(std::fs::File::create(root.join("sshd.log")).unwrap())
            .spawn()
            .expect("openssh-server is installed");
        let mut sshd = Sshd { dir, port, child };
        let log = sshd.dir.path().join("sshd.log");
        wait_listening("sshd", &mut sshd.child, port, &log);
        sshd
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }

    /// Logs in with `method` (`keyboard-interactive` or `password`), answering every
    /// prompt with `secret` through SSH_ASKPASS.
    fn login(&self, method: &str, secret: &str) -> Output {
        let askpass = self.dir.path().join("askpass");
        std::fs::write(&askpass, "#!/bin/sh\nprintf '%s\\n' \"$ATK_SECRET\"\n").unwrap();
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
        Command::new("ssh")
            .args(["-F", "/dev/null", "-T", "-p", &self.port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args([
                "-o",
                "BatchMode=no",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "ConnectTimeout=20",
            ])
            .args([
                "-o",
                &format!("PreferredAuthentications={method}"),
                "-o",
                "NumberOfPasswordPrompts=1",
            ])
            .arg(format!("{USER}@127.0.0.1"))
            .arg("true")
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("ATK_SECRET", secret)
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    /// Whether a login got through authentication (the account's shell then refuses).
    fn logs_in(&self, method: &str, secret: &str) -> bool {
        let out = self.login(method, secret);
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        match out.status.code() {
            Some(255) => {
                assert!(
                    text.contains("Permission denied"),
                    "ssh failed oddly: {text}\n{}",
                    self.log()
                );
                false
            }
            _ => {
                assert!(
                    text.contains(LOGGED_IN),
                    "unexpected ssh result: {text}\n{}",
                    self.log()
                );
                true
            }
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn sshd_token_at_keyboard_interactive_prompt_logs_in() {
    let daemon = Daemon::start();
    let token = daemon.create_token(USER);
    let sshd = Sshd::start(&daemon, &[]);
    assert!(sshd.logs_in("keyboard-interactive", &token));
    let line = daemon.wait_syslog(&["event=auth.success", "via=pam", "service=sshd"]);
    assert!(line.contains("127.0.0.1"), "{line}");
}

#[test]
fn sshd_token_with_password_method_logs_in() {
    let daemon = Daemon::start();
    let token = daemon.create_token(USER);
    let sshd = Sshd::start(&daemon, &[]);
    assert!(sshd.logs_in("password", &token));
}

#[test]
fn sshd_wrong_token_is_refused_without_fallback() {
    let daemon = Daemon::start();
    let others = daemon.create_token("someone-else");
    // Even if pam_matrix would take the secret, the module's refusal ends the stack.
    let sshd = Sshd::start(&daemon, &[(USER, &others)]);
    assert!(!sshd.logs_in("keyboard-interactive", &others));
    assert!(!sshd.logs_in("password", &others));
}

#[test]
fn sshd_password_falls_through_to_password_module() {
    let daemon = Daemon::start();
    let sshd = Sshd::start(&daemon, &[(USER, "correct horse")]);
    assert!(sshd.logs_in("password", "correct horse"));
    assert!(!sshd.logs_in("password", "wrong horse"));
}

#[test]
fn sshd_address_outside_allowed_networks_is_refused() {
    let daemon = Daemon::start();
    let token = daemon.create_token(USER);
    let out = daemon.cli(&["allow-ip", "add", "192.0.2.0/24"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let sshd = Sshd::start(&daemon, &[(USER, "correct horse")]);
    assert!(!sshd.logs_in("keyboard-interactive", &token));
    assert!(!sshd.logs_in("password", "correct horse"));
}

//! SPEC §13 "Nothing runs that was not asked for", attacked by a second local user against
//! a daemon run by an ordinary user (the README's zero-setup run): a symbolic link
//! planted at the default runtime directory `/tmp/apitokend-<uid>`, a relay socket behind
//! it for the victim's `apitoken`, and the victim's check.sock as a password oracle.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::common::pam::{env_refs, pam_matrix_service, pam_wrapper_env};
use super::common::run::run_with_input;
use super::common::{ensure_user, eventually, stderr};
use super::MALLORY;

/// The daemon's owner in these tests.
const VICTIM: &str = "proc-victim";

fn uid_of(user: &str) -> u32 {
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn chown(path: &Path, user: &str) {
    let ok = Command::new("chown").arg(user).arg(path).status().unwrap();
    assert!(ok.success(), "chown {user} {}", path.display());
}

/// A directory owned by `user` (mode 0755) inside a fresh root-owned temp directory.
fn home_of(user: &str) -> (tempfile::TempDir, PathBuf) {
    let base = tempfile::Builder::new()
        .prefix("apitokend-local")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(base.path(), PermissionsExt::from_mode(0o755)).unwrap();
    let home = base.path().join(user);
    std::fs::create_dir(&home).unwrap();
    chown(&home, user);
    (base, home)
}

/// Runs `args` as `user` through runuser, with `env` set for the command itself.
fn as_user(user: &str, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut cmd = Command::new("runuser");
    cmd.args([
        "-u",
        user,
        "--",
        "env",
        "-u",
        "XDG_RUNTIME_DIR",
        "-u",
        "APITOKEN_SOCKET",
    ]);
    for (k, v) in env {
        cmd.arg(format!("{k}={v}"));
    }
    cmd.args(args);
    cmd
}

/// The daemon started as `VICTIM` with `config`; stopped with SIGTERM on drop. Started
/// through setpriv, which execs the daemon (runuser would stay in between and report a
/// forwarded SIGTERM as its own death), so the child's status is the daemon's.
struct VictimDaemon {
    child: Option<Child>,
}

impl VictimDaemon {
    fn spawn(config: &Path, home: &Path, env: &[(&str, &str)]) -> VictimDaemon {
        let home_env = format!("{}", home.display());
        let mut all = vec![("HOME", home_env.as_str())];
        all.extend_from_slice(env);
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", VICTIM, "--regid", VICTIM, "--init-groups", "--"])
            .args(["env", "-u", "XDG_RUNTIME_DIR"]);
        for (k, v) in &all {
            cmd.arg(format!("{k}={v}"));
        }
        let child = cmd
            .args([env!("CARGO_BIN_EXE_apitokend"), "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        VictimDaemon { child: Some(child) }
    }

    /// Waits up to `within` for the daemon to exit; its status and stderr.
    fn exit_within(&mut self, within: Duration) -> Option<Output> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.child.as_mut().unwrap().try_wait().unwrap().is_some() {
                return Some(self.child.take().unwrap().wait_with_output().unwrap());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGTERM (runuser passes it on) and the daemon's output.
    fn stop(&mut self) -> Option<Output> {
        let pid = self.child.as_ref()?.id();
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        self.exit_within(Duration::from_secs(15))
    }
}

impl Drop for VictimDaemon {
    fn drop(&mut self) {
        if self.stop().is_none() {
            if let Some(mut c) = self.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

/// `/tmp/apitokend-<uid>`, the default runtime directory of a user without
/// `$XDG_RUNTIME_DIR`, cleared of anything an earlier run left.
fn default_runtime_dir(uid: u32) -> PathBuf {
    let path = PathBuf::from(format!("/tmp/apitokend-{uid}"));
    if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink() || m.is_file()) {
        std::fs::remove_file(&path).unwrap();
    } else if path.exists() {
        std::fs::remove_dir_all(&path).unwrap();
    }
    path
}

#[test]
fn nothing_runs_that_was_not_asked_for_daemon_refuses_planted_runtime_symlink() {
    ensure_user(VICTIM);
    ensure_user(MALLORY);
    let planted = default_runtime_dir(uid_of(VICTIM));
    let (_base, home) = home_of(VICTIM);
    // The link points at a directory of the victim's own: following it, every owner
    // check passes, and the attacker can swap the link later.
    let target = home.join("somewhere");
    std::fs::create_dir(&target).unwrap();
    chown(&target, VICTIM);
    let ln = Command::new("runuser")
        .args(["-u", MALLORY, "--", "ln", "-s"])
        .arg(&target)
        .arg(&planted)
        .status()
        .unwrap();
    assert!(ln.success());
    let config = home.join("apitokend.toml");
    let state = home.join("state");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\n[syslog]\nenabled = false\n",
            state.display()
        ),
    )
    .unwrap();
    let mut daemon = VictimDaemon::spawn(&config, &home, &[]);
    let exited = daemon.exit_within(Duration::from_secs(10));
    let _ = std::fs::remove_file(&planted);
    let out = exited.expect("the daemon started on a runtime directory planted by another user");
    let text = stderr(&out);
    println!("apitokend as {VICTIM}: {:?}: {text}", out.status);
    assert!(!out.status.success());
    assert!(
        text.contains(&planted.display().to_string()) && text.contains("symbolic link"),
        "the refusal names the link: {text}"
    );
    assert!(
        !target.join("admin.sock").exists(),
        "a socket was bound behind the link"
    );
}

/// A listening socket of `MALLORY`'s at `dir/admin.sock` that writes how many bytes each
/// client sent to `dir/received`, then hangs up.
const RELAY: &str = r#"
use strict; use IO::Socket::UNIX; use Socket;
my ($dir) = @ARGV;
my $l = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Local => "$dir/admin.sock", Listen => 16) or die $!;
chmod 0777, "$dir/admin.sock";
$| = 1; print "ready\n";
while (my $c = $l->accept) {
    my $buf = ''; my $rin = ''; vec($rin, fileno($c), 1) = 1;
    if (select(my $r = $rin, undef, undef, 2)) { sysread($c, $buf, 65536); }
    open(my $f, '>>', "$dir/received") or die $!;
    print $f length($buf), "\n"; close $f; close $c;
}
"#;

#[test]
fn nothing_runs_that_was_not_asked_for_cli_refuses_a_socket_served_by_another_user() {
    ensure_user(VICTIM);
    ensure_user(MALLORY);
    let planted = default_runtime_dir(uid_of(VICTIM));
    let (_base, lair) = home_of(MALLORY);
    let mut relay = Command::new("runuser")
        .args(["-u", MALLORY, "--", "perl", "-e", RELAY])
        .arg(&lair)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(relay.stdout.take().unwrap()),
        &mut ready,
    )
    .unwrap();
    assert_eq!(ready.trim(), "ready");
    let ln = Command::new("runuser")
        .args(["-u", MALLORY, "--", "ln", "-s"])
        .arg(&lair)
        .arg(&planted)
        .status()
        .unwrap();
    assert!(ln.success());
    let socket = planted.join("admin.sock");
    let secret = "atk_AbCd1234_notarealsecretnotarealsecretnota000000";
    let mut cli = as_user(VICTIM, &[], &[env!("CARGO_BIN_EXE_apitoken"), "--socket"]);
    cli.arg(&socket).arg("verify");
    let out = run_with_input(&mut cli, format!("{secret}\n").as_bytes());
    let _ = Command::new("kill")
        .args(["-TERM", &relay.id().to_string()])
        .status();
    let _ = relay.wait();
    let _ = std::fs::remove_file(&planted);
    let received = std::fs::read_to_string(lair.join("received")).unwrap_or_default();
    let text = stderr(&out);
    println!(
        "apitoken verify as {VICTIM}: {:?}: {text}; relay received {received:?}",
        out.status
    );
    assert!(
        received.lines().all(|n| n == "0"),
        "the relay of {MALLORY} received bytes from {VICTIM}'s apitoken: {received:?}"
    );
    assert!(!out.status.success());
    assert!(
        text.contains(&format!("uid {}", uid_of(MALLORY))) && text.contains(MALLORY),
        "the refusal names the socket's owner: {text}"
    );
}

/// A pam_matrix service `apitokend` in `home` that knows the victim's password, readable
/// by the victim's daemon; the service directory.
fn write_pam_matrix_service(home: &Path) -> PathBuf {
    let services = pam_matrix_service(home, &[(VICTIM, "correct horse")]);
    for p in [&services, &home.join("passdb"), &services.join("apitokend")] {
        chown(p, VICTIM);
    }
    services
}

/// A configuration in `home` for a daemon with its sockets in `run` that checks
/// passwords through PAM service `apitokend`.
fn write_victim_config(home: &Path, run: &Path) -> PathBuf {
    let config = home.join("apitokend.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{}\"\nruntime_dir = \"{}\"\n[password]\nbackend = \"pam\"\n\
             pam_service = \"apitokend\"\n[syslog]\nenabled = false\n",
            home.join("state").display(),
            run.display()
        ),
    )
    .unwrap();
    config
}

/// The exit code of `apitoken-external` run as `user` on `check` with the victim's
/// password.
fn external_as(user: &str, check: &Path) -> Option<i32> {
    let mut cmd = as_user(
        user,
        &[("IP", "192.0.2.9")],
        &[env!("CARGO_BIN_EXE_apitoken-external"), "--socket"],
    );
    cmd.arg(check);
    run_with_input(&mut cmd, format!("{VICTIM}\ncorrect horse\n").as_bytes())
        .status
        .code()
}

#[test]
fn nothing_runs_that_was_not_asked_for_non_root_daemon_is_no_password_oracle() {
    ensure_user(VICTIM);
    ensure_user(MALLORY);
    let (_base, home) = home_of(VICTIM);
    // libpam redirected by pam_wrapper to a pam_matrix service knowing the victim's
    // password, readable by the victim's daemon.
    let services = write_pam_matrix_service(&home);
    let run = home.join("run");
    let config = write_victim_config(&home, &run);
    let env = pam_wrapper_env(&services);
    let mut daemon = VictimDaemon::spawn(&config, &home, &env_refs(&env));
    let check = run.join("check.sock");
    assert!(
        eventually(Duration::from_secs(20), || {
            std::os::unix::net::UnixStream::connect(run.join("admin.sock")).is_ok()
        }),
        "the daemon of {VICTIM} did not start"
    );
    let by_mallory = external_as(MALLORY, &check);
    let by_owner = external_as(VICTIM, &check);
    let mode = std::fs::metadata(&check).unwrap().mode() & 0o777;
    println!("check.sock mode {mode:o}; {MALLORY} guessing {VICTIM}'s password: exit {by_mallory:?}; {VICTIM}: exit {by_owner:?}");
    assert_eq!(
        by_mallory,
        Some(50),
        "{MALLORY} had {VICTIM}'s password checked through the daemon (exit 0 allowed, 1 wrong)"
    );
    assert_eq!(by_owner, Some(0), "the owner's own check works");
    assert_eq!(mode, 0o600);
    let out = daemon.stop().expect("the daemon stops on SIGTERM");
    assert!(out.status.success(), "clean exit: {}", stderr(&out));
    for name in ["http.sock", "check.sock", "admin.sock"] {
        assert!(
            !run.join(name).exists(),
            "{name} is left behind after a clean exit"
        );
    }
}

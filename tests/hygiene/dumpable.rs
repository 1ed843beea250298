//! The daemon's process is not dumpable.

use super::*;

/// A process started as `user` (uid and gid switched by std, no shell).
fn spawn_as(user: &nix::unistd::User, program: &Path, args: &[&str]) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    Command::new(program)
        .args(args)
        .uid(user.uid.as_raw())
        .gid(user.gid.as_raw())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

/// Whether `user` can read `/proc/<pid>/environ` (needs ptrace access to the process).
fn environ_readable_by(user: &str, pid: u32) -> bool {
    Command::new("runuser")
        .args(["-u", user, "--", "cat", &format!("/proc/{pid}/environ")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// A configuration in `dir` (state and sockets below it) for a daemon run by its owner.
fn write_config(dir: &Path) -> std::path::PathBuf {
    let config = dir.join("apitokend.toml");
    std::fs::write(
        &config,
        format!(
            "state_dir = \"{0}/state\"\nruntime_dir = \"{0}/run\"\n\n[password]\nbackend = \"none\"\n\n[syslog]\nenabled = false\n\n[argon2]\nmemory_kib = 1024\niterations = 1\nparallelism = 1\n",
            dir.display()
        ),
    )
    .unwrap();
    config
}

/// Polls until the daemon accepts on `admin`, failing if it exits first or takes 20 s.
fn wait_ready(daemon: &mut std::process::Child, admin: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(admin).is_err() {
        assert!(
            daemon.try_wait().unwrap().is_none(),
            "apitokend exited during start-up"
        );
        assert!(Instant::now() < deadline, "apitokend not ready within 20 s");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The uid that owns `/proc/<pid>/environ`.
fn environ_owner(pid: u32) -> u32 {
    std::fs::metadata(format!("/proc/{pid}/environ"))
        .unwrap()
        .uid()
}

/// The kernel gives a process's `/proc/<pid>/*` files (all but the directory itself) to
/// root once the process is not dumpable (`prctl(PR_SET_DUMPABLE, 0)`, `task_dump_owner`
/// in fs/proc/base.c); for a dumpable process they belong to its own uid. So a daemon run
/// as an ordinary user shows it: `/proc/<pid>/environ` owned by root, and that user
/// cannot read its environment or memory. A `sleep` of the same user is the
/// control that shows the check can tell the difference.
#[test]
fn daemon_process_is_not_dumpable() {
    let name = unique_name("hyd");
    common::ensure_user(&name);
    let user = nix::unistd::User::from_name(&name).unwrap().unwrap();
    let dir = tempfile::Builder::new()
        .prefix("apitokend-dump")
        .tempdir()
        .unwrap();
    nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).unwrap();
    let config = write_config(dir.path());
    let mut daemon = spawn_as(
        &user,
        Path::new(env!("CARGO_BIN_EXE_apitokend")),
        &["--config", config.to_str().unwrap()],
    );
    let mut control = spawn_as(&user, Path::new("/bin/sleep"), &["60"]);
    let admin = dir.path().join("run/admin.sock");
    wait_ready(&mut daemon, &admin);
    let (daemon_pid, control_pid) = (daemon.id(), control.id());
    let findings = (
        environ_owner(daemon_pid),
        environ_readable_by(&name, daemon_pid),
        environ_owner(control_pid),
        environ_readable_by(&name, control_pid),
    );
    let _ = daemon.kill();
    let _ = control.kill();
    let _ = daemon.wait();
    let _ = control.wait();
    println!(
        "uid {}: /proc/<apitokend>/environ owned by uid {}, readable by its user: {}; \
         control /proc/<sleep>/environ owned by uid {}, readable: {}",
        user.uid, findings.0, findings.1, findings.2, findings.3
    );
    assert_eq!(
        (findings.2, findings.3),
        (user.uid.as_raw(), true),
        "the control process should be dumpable"
    );
    assert_eq!(
        findings.0, 0,
        "/proc/<apitokend>/environ belongs to uid {}: the daemon is dumpable",
        findings.0
    );
    assert!(
        !findings.1,
        "the daemon's own user can read /proc/<pid>/environ"
    );
}

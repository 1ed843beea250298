//! git over smart HTTP: git-http-backend through fcgiwrap, as the application behind the
//! shipped nginx snippet (unchanged). A `read` token clones and fetches and never pushes;
//! a `write` token pushes; a deleted token stops working at once.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use crate::common::{eventually, Daemon};
use crate::nginx_harness::{Nginx, Options};
use crate::{require, shown, token, TOKENS_ONLY};

const BACKEND: &str = "/usr/lib/git-core/git-http-backend";

/// fcgiwrap on a Unix socket in `dir`; killed on drop.
struct Fcgiwrap {
    child: Child,
    socket: PathBuf,
}

impl Fcgiwrap {
    fn start(dir: &Path) -> Fcgiwrap {
        require("/usr/sbin/fcgiwrap", "fcgiwrap");
        let socket = dir.join("fcgiwrap.sock");
        let child = Command::new("/usr/sbin/fcgiwrap")
            .arg("-s")
            .arg(format!("unix:{}", socket.display()))
            .args(["-p", BACKEND])
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            eventually(Duration::from_secs(10), || socket.exists()),
            "fcgiwrap did not create {}",
            socket.display()
        );
        // nginx's workers run as nobody.
        std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666)).unwrap();
        Fcgiwrap { child, socket }
    }
}

impl Drop for Fcgiwrap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The application: git-http-backend serving the repositories under `root`, told the
/// user the snippet passed on (git-http-backend allows pushes only with a REMOTE_USER).
fn application(fcgi: &Path, root: &Path) -> String {
    format!(
        r#"include /etc/nginx/fastcgi_params;
            fastcgi_pass unix:{sock};
            fastcgi_param SCRIPT_FILENAME {BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $uri;
            fastcgi_param REMOTE_USER $http_x_remote_user;"#,
        sock = fcgi.display(),
        root = root.display(),
    )
}

/// A place for repositories and git's own settings, the server and a client.
struct World {
    dir: tempfile::TempDir,
    _fcgi: Fcgiwrap,
    nginx: Nginx,
}

impl World {
    fn start(daemon: &Daemon) -> World {
        require("git", "git");
        require(BACKEND, "git");
        let dir = tempfile::Builder::new()
            .prefix("apitokend-git")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let fcgi = Fcgiwrap::start(dir.path());
        let root = dir.path().join("srv");
        let world_nginx = Nginx::start_with(
            &daemon.http_sock(),
            &Options {
                application: Some(application(&fcgi.socket, &root)),
                ..Options::default()
            },
        );
        let world = World {
            dir,
            _fcgi: fcgi,
            nginx: world_nginx,
        };
        world.make_repository(&root.join("api/project.git"));
        world
    }

    /// A bare repository with one commit (README), made with git itself.
    fn make_repository(&self, bare: &Path) {
        let seed = self.dir.path().join("seed");
        std::fs::create_dir_all(&seed).unwrap();
        self.git_ok(&seed, &["init", "-q", "-b", "main"]);
        std::fs::write(seed.join("README"), "first\n").unwrap();
        self.git_ok(&seed, &["add", "README"]);
        self.git_ok(&seed, &["commit", "-q", "-m", "first"]);
        let bare_s = bare.display().to_string();
        self.git_ok(&seed, &["clone", "-q", "--bare", ".", &bare_s]);
        // Pushes over HTTP need this (and a REMOTE_USER).
        self.git_ok(bare, &["config", "http.receivepack", "true"]);
    }

    fn url(&self) -> String {
        format!("http://alice@127.0.0.1:{}/api/project.git", self.nginx.port)
    }

    /// Runs git in `cwd` with its own HOME, no system config, no prompts, and the
    /// password (the token) from GIT_ASKPASS, as a script would.
    fn git(&self, cwd: &Path, token: &str, args: &[&str]) -> Output {
        let askpass = self.dir.path().join("askpass.sh");
        std::fs::write(&askpass, "#!/bin/sh\nprintf '%s\\n' \"$TOKEN\"\n").unwrap();
        std::fs::set_permissions(&askpass, std::fs::Permissions::from_mode(0o700)).unwrap();
        Command::new("git")
            .current_dir(cwd)
            .args(args)
            .env("HOME", self.dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", &askpass)
            .env("TOKEN", token)
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.invalid")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.invalid")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    #[track_caller]
    fn git_ok(&self, cwd: &Path, args: &[&str]) -> String {
        let out = self.git(cwd, "", args);
        assert!(out.status.success(), "git {args:?}: {}", shown(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Clones with `token` into a fresh directory named `name`.
    fn clone(&self, token: &str, name: &str) -> (PathBuf, Output) {
        let target = self.dir.path().join(name);
        let out = self.git(
            self.dir.path(),
            token,
            &["clone", "-q", &self.url(), &target.display().to_string()],
        );
        (target, out)
    }

    /// Commits a change to README in `work`.
    fn commit(&self, work: &Path, text: &str) {
        std::fs::write(work.join("README"), text).unwrap();
        self.git_ok(work, &["commit", "-q", "-am", text.trim()]);
    }

    /// The commit the bare repository's main points at.
    fn server_head(&self) -> String {
        let bare = self.dir.path().join("srv/api/project.git");
        self.git_ok(&bare, &["rev-parse", "main"])
            .trim()
            .to_string()
    }
}

#[test]
fn git_read_token_clones_and_fetches_but_never_pushes() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let world = World::start(&daemon);
    let read = token(&daemon, "alice", "read");
    let (work, out) = world.clone(&read, "clone-read");
    assert!(
        out.status.success(),
        "clone with a read token: {}",
        shown(&out)
    );
    assert_eq!(
        std::fs::read_to_string(work.join("README")).unwrap(),
        "first\n"
    );

    let before = world.server_head();
    world.commit(&work, "pushed with a read token\n");
    let push = world.git(&work, &read, &["push", "-q", "origin", "main"]);
    assert!(
        !push.status.success(),
        "push with a read token succeeded: {}",
        shown(&push)
    );
    let said = crate::common::stderr(&push);
    assert!(
        said.contains("403"),
        "git's message for a refused push: {said}"
    );
    assert_eq!(world.server_head(), before, "the read token moved main");
    daemon.wait_syslog(&["event=auth.failure", "via=http", "reason=scope"]);

    let fetch = world.git(&work, &read, &["fetch", "-q", "origin"]);
    assert!(
        fetch.status.success(),
        "fetch with a read token: {}",
        shown(&fetch)
    );
}

#[test]
fn git_write_token_pushes_and_read_token_fetches_it_until_deleted() {
    let daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    let world = World::start(&daemon);
    let write = token(&daemon, "alice", "write");
    let read = token(&daemon, "alice", "read");
    let (work, out) = world.clone(&write, "clone-write");
    assert!(
        out.status.success(),
        "clone with a write token: {}",
        shown(&out)
    );
    world.commit(&work, "second\n");
    let push = world.git(&work, &write, &["push", "-q", "origin", "main"]);
    assert!(
        push.status.success(),
        "push with a write token: {}",
        shown(&push)
    );
    let pushed = world.git_ok(&work, &["rev-parse", "HEAD"]);
    assert_eq!(world.server_head(), pushed.trim(), "main did not move");
    let user = daemon.wait_syslog(&["event=auth.success", "via=http"]);
    assert!(user.contains("user=alice"), "{user}");

    let (reader, out) = world.clone(&read, "clone-reader");
    assert!(
        out.status.success(),
        "clone with a read token: {}",
        shown(&out)
    );
    assert_eq!(
        std::fs::read_to_string(reader.join("README")).unwrap(),
        "second\n"
    );
    world.commit(&work, "third\n");
    let push = world.git(&work, &write, &["push", "-q", "origin", "main"]);
    assert!(push.status.success(), "second push: {}", shown(&push));
    let fetch = world.git(&reader, &read, &["fetch", "-q", "origin"]);
    assert!(
        fetch.status.success(),
        "fetch with a read token: {}",
        shown(&fetch)
    );

    daemon.cli_ok(&["delete", crate::common::tokens::token_id(&read)]);
    let gone = world.git(&reader, &read, &["fetch", "-q", "origin"]);
    assert!(
        !gone.status.success(),
        "fetch after delete succeeded: {}",
        shown(&gone)
    );
    let said = crate::common::stderr(&gone);
    assert!(
        said.contains("Authentication failed"),
        "git's message after delete: {said}"
    );
}

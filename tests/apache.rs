//! `apitoken-external` behind a real Apache httpd with mod_authnz_external, configured with
//! the shipped `packaging/apache/apitoken.conf`, on its own port and its own config.
//! Apache runs the helper as its `User` (www-data), which reaches the test's check.sock
//! (mode 0666 in a 0755 directory) like it would in production.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{free_port, tcp_request};
use common::tokens::basic;
use common::Daemon;

const MODULES: &str = "/usr/lib/apache2/modules";

/// An Apache httpd in the foreground; stopped on drop.
struct Apache {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl Apache {
    fn start(check_sock: &Path) -> Apache {
        let dir = tempfile::Builder::new()
            .prefix("apitokend-apache")
            .tempdir()
            .unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("www/api")).unwrap();
        std::fs::write(root.join("www/api/index.html"), "behind apitoken\n").unwrap();
        std::fs::write(root.join("www/index.html"), "public\n").unwrap();
        std::fs::create_dir_all(root.join("run")).unwrap();
        let port = free_port();
        let helper = format!(
            "\"{} --socket {}\"",
            env!("CARGO_BIN_EXE_apitoken-external"),
            check_sock.display()
        );
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/apache/apitoken.conf"),
        )
        .unwrap();
        assert!(shipped.contains("/usr/lib/apitokend/apitoken-external"));
        let snippet = shipped.replace("/usr/lib/apitokend/apitoken-external", &helper);
        let modules: String = [
            "mpm_prefork",
            "authn_core",
            "authz_core",
            "authz_user",
            "auth_basic",
            "authnz_external",
            "dir",
        ]
        .iter()
        .map(|m| format!("LoadModule {m}_module {MODULES}/mod_{m}.so\n"))
        .collect();
        let conf = format!(
            r#"{modules}
ServerName localhost
ServerRoot "{root}"
Listen 127.0.0.1:{port}
PidFile "{root}/run/httpd.pid"
DefaultRuntimeDir "{root}/run"
ErrorLog "{root}/error.log"
LogLevel info authnz_external:debug
User www-data
Group www-data
DocumentRoot "{root}/www"
DirectoryIndex index.html
<Directory "{root}/www">
    Require all granted
</Directory>

{snippet}
"#,
            root = root.display(),
        );
        std::fs::write(root.join("httpd.conf"), conf).unwrap();
        // Apache's workers must read the document root.
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(root)
            .status()
            .unwrap();
        let child = Command::new("/usr/sbin/apache2")
            .arg("-f")
            .arg(root.join("httpd.conf"))
            .arg("-DFOREGROUND")
            // On shutdown Apache signals its whole process group; keep the test out of it.
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .expect("apache2 is installed");
        let mut apache = Apache { dir, port, child };
        apache.wait_ready();
        apache
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "apache2 exited during start-up ({status}): {}",
                    self.error_log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "apache2 not listening within 20 s: {}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// `GET path` with Basic credentials; returns the status code.
    fn get(&self, path: &str, credentials: Option<(&str, &str)>) -> u16 {
        let auth = credentials.map(|(u, p)| basic(u.as_bytes(), p.as_bytes()));
        let headers: Vec<(&str, &[u8])> = auth.iter().map(|a| ("Authorization", &a[..])).collect();
        tcp_request(self.port, "GET", path, &headers, b"")
            .unwrap_or_else(|e| panic!("GET {path} via Apache failed: {e}"))
            .status
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        // SIGTERM lets the parent stop its workers; SIGKILL only if it does not.
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.child.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn apache_valid_token_is_200() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    assert_eq!(apache.get("/index.html", None), 200);
    assert_eq!(apache.get("/api/", None), 401);
    assert_eq!(
        apache.get("/api/", Some(("alice", &token))),
        200,
        "{}",
        apache.error_log()
    );
    let line = daemon.wait_syslog(&["event=auth.success", "via=external", "service=apache"]);
    assert!(
        line.contains("127.0.0.1") && line.contains(&token[4..12]),
        "{line}"
    );
    daemon.assert_syslog_free_of(&token[13..]);
    assert!(
        !apache.error_log().contains(&token[13..]),
        "secret in Apache's error log"
    );
}

#[test]
fn apache_refused_credentials_are_401() {
    let daemon = Daemon::start();
    let alices = daemon.create_token("alice");
    let bobs = daemon.create_token("bob");
    let apache = Apache::start(&daemon.check_sock());
    let bogus = format!("{}x{}", &alices[..20], &alices[21..]);
    assert_eq!(apache.get("/api/", Some(("alice", &bobs))), 401);
    assert_eq!(apache.get("/api/", Some(("alice", &bogus))), 401);
    assert_eq!(apache.get("/api/", Some(("alice", "not a token"))), 401);
    assert_eq!(
        apache.get("/api/", Some(("alice", &alices))),
        200,
        "{}",
        apache.error_log()
    );
}

#[test]
fn apache_address_outside_allowed_networks_is_401() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    daemon.cli_ok(&["allow-ip", "add", "192.0.2.0/24"]);
    assert_eq!(apache.get("/api/", Some(("alice", &token))), 401);
    daemon.wait_syslog(&["event=auth.failure", "via=external", "reason=ip_denied"]);
    daemon.cli_ok(&["allow-ip", "add", "127.0.0.0/8"]);
    assert_eq!(
        apache.get("/api/", Some(("alice", &token))),
        200,
        "{}",
        apache.error_log()
    );
}

#[test]
fn apache_revoked_token_is_401() {
    let daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    assert_eq!(
        apache.get("/api/", Some(("alice", &token))),
        200,
        "{}",
        apache.error_log()
    );
    daemon.cli_ok(&["delete", &token[4..12]]);
    assert_eq!(apache.get("/api/", Some(("alice", &token))), 401);
}

#[test]
fn apache_daemon_down_is_401_and_logged() {
    let mut daemon = Daemon::start();
    let token = daemon.create_token("alice");
    let apache = Apache::start(&daemon.check_sock());
    daemon.kill();
    assert_eq!(apache.get("/api/", Some(("alice", &token))), 401);
    let log = apache.error_log();
    assert!(log.contains("cannot ask apitokend"), "{log}");
    assert!(!log.contains(&token[13..]), "secret in Apache's error log");
}

//! A real Apache httpd with mod_authnz_external in front of a test daemon, configured from
//! the shipped `packaging/apache/apitoken.conf` (and `apitoken-webdav.conf` for WebDAV),
//! on its own port with its own config, logs and document root. Apache runs the helper as
//! its `User` (www-data), which reaches the test's check.sock (mode 0666 in a 0755
//! directory) like it would in production.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::http::{free_port, tcp_request, wait_listening, Response};
use crate::common::tokens::basic;

const MODULES: &str = "/usr/lib/apache2/modules";
/// The helper's path in the shipped snippets; tests substitute the freshly built one.
const SHIPPED_HELPER: &str = "/usr/lib/apitokend/apitoken-external";
/// The WebDAV directory in the shipped WebDAV snippet.
const SHIPPED_DAV_DIR: &str = "/var/www/dav";

/// What to start Apache with.
#[derive(Default)]
pub struct Options<'a> {
    /// Appended to the helper's command line in `DefineExternalAuth` (after `--socket`).
    pub helper_args: &'a str,
    /// Also include the shipped WebDAV snippet (mod_dav, mod_dav_fs) on `/dav`.
    pub webdav: bool,
}

/// An Apache httpd in the foreground; stopped on drop.
pub struct Apache {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl Apache {
    /// Apache with the shipped `/api` snippet.
    pub fn start(check_sock: &Path) -> Apache {
        Self::start_with(check_sock, &Options::default())
    }

    /// Apache with the shipped snippets as `options` say.
    pub fn start_with(check_sock: &Path, options: &Options<'_>) -> Apache {
        assert!(
            Path::new("/usr/sbin/apache2").exists()
                && Path::new(MODULES).join("mod_authnz_external.so").exists(),
            "Apache with mod_authnz_external is needed: `bash tests/run.sh` installs \
             apache2 and libapache2-mod-authnz-external"
        );
        let dir = tempfile::Builder::new()
            .prefix("apitokend-apache")
            .tempdir()
            .unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("www/api")).unwrap();
        std::fs::write(root.join("www/api/index.html"), "behind apitoken\n").unwrap();
        std::fs::write(root.join("www/index.html"), "public\n").unwrap();
        std::fs::create_dir_all(root.join("run")).unwrap();
        std::fs::create_dir_all(root.join("dav")).unwrap();
        std::fs::create_dir_all(root.join("davlock")).unwrap();
        std::fs::write(root.join("dav/existing.txt"), "on the share\n").unwrap();
        let port = free_port();
        std::fs::write(
            root.join("httpd.conf"),
            config(root, port, check_sock, options),
        )
        .unwrap();
        // Apache's workers must read the document root and write the WebDAV share.
        Command::new("chmod")
            .args(["-R", "a+rX"])
            .arg(root)
            .status()
            .unwrap();
        Command::new("chown")
            .args(["-R", "www-data:www-data"])
            .arg(root.join("dav"))
            .arg(root.join("davlock"))
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
        let log = apache.dir.path().join("error.log");
        wait_listening("apache2", &mut apache.child, port, &log);
        apache
    }

    /// Apache's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// Apache's access log so far (`%h %u "%r" %>s`).
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default()
    }

    /// The WebDAV share's directory on disk.
    pub fn dav_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("dav")
    }

    /// `METHOD path` with Basic credentials as raw bytes, and a body.
    pub fn request_raw(
        &self,
        method: &str,
        path: &str,
        credentials: Option<(&[u8], &[u8])>,
        body: &[u8],
    ) -> Response {
        let auth = credentials.map(|(u, p)| basic(u, p));
        let headers: Vec<(&str, &[u8])> = auth.iter().map(|a| ("Authorization", &a[..])).collect();
        tcp_request(self.port, method, path, &headers, body)
            .unwrap_or_else(|e| panic!("{method} {path} via Apache failed: {e}"))
    }

    /// `METHOD path` with Basic credentials and a body.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        credentials: Option<(&str, &str)>,
        body: &[u8],
    ) -> Response {
        let creds = credentials.map(|(u, p)| (u.as_bytes(), p.as_bytes()));
        self.request_raw(method, path, creds, body)
    }

    /// `GET path` with Basic credentials; returns the status code.
    pub fn get(&self, path: &str, credentials: Option<(&str, &str)>) -> u16 {
        self.request("GET", path, credentials, b"").status
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

/// A shipped snippet with the test's helper (and share) in place of the packaged paths.
fn shipped(name: &str, helper: &str, dav_dir: &Path) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("packaging/apache")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    text.replace(SHIPPED_HELPER, helper)
        .replace(SHIPPED_DAV_DIR, &dav_dir.display().to_string())
}

fn config(root: &Path, port: u16, check_sock: &Path, options: &Options<'_>) -> String {
    let helper = format!(
        "\"{} --socket {}{}{}\"",
        env!("CARGO_BIN_EXE_apitoken-external"),
        check_sock.display(),
        if options.helper_args.is_empty() {
            ""
        } else {
            " "
        },
        options.helper_args,
    );
    let mut snippet = shipped("apitoken.conf", &helper, &root.join("dav"));
    assert!(
        snippet.contains(&helper),
        "the shipped snippet no longer names {SHIPPED_HELPER}"
    );
    let mut modules = vec![
        "mpm_prefork",
        "authn_core",
        "authz_core",
        "authz_user",
        "auth_basic",
        "authnz_external",
        "dir",
    ];
    if options.webdav {
        modules.extend(["alias", "dav", "dav_fs"]);
        snippet.push_str(&format!(
            "\nDavLockDB \"{}/davlock/DAVLock\"\n",
            root.display()
        ));
        snippet.push_str(&shipped("apitoken-webdav.conf", &helper, &root.join("dav")));
    }
    let modules: String = modules
        .iter()
        .map(|m| format!("LoadModule {m}_module {MODULES}/mod_{m}.so\n"))
        .collect();
    format!(
        r#"{modules}
ServerName localhost
ServerRoot "{root}"
Listen 127.0.0.1:{port}
PidFile "{root}/run/httpd.pid"
DefaultRuntimeDir "{root}/run"
ErrorLog "{root}/error.log"
LogLevel info authnz_external:debug
CustomLog "{root}/access.log" "%h %u \"%r\" %>s"
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
    )
}

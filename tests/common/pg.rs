//! A PostgreSQL server of a test's own: `initdb` and `pg_ctl` in a temporary directory as
//! the `postgres` user, on a free TCP port of 127.0.0.1 (and a Unix socket in that
//! directory), stopped and removed on drop. Std only: the store's unit tests include it
//! too. Clients log in as `apitokend_test` with a password (scram-sha-256 over TCP), which
//! the daemon reads from [`PgServer::password_file`].

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// The test role and its password.
pub const ROLE: &str = "apitokend_test";
const PASSWORD: &str = "fleet-test-password";

pub struct PgServer {
    pub dir: PathBuf,
    pub port: u16,
    bin: PathBuf,
}

fn bin_dir() -> PathBuf {
    let found = std::fs::read_dir("/usr/lib/postgresql").ok().and_then(|d| {
        d.filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("pg_ctl").exists())
    });
    found.unwrap_or_else(|| PathBuf::from("/usr/lib/postgresql/15/bin"))
}

fn check(what: &str, out: std::io::Result<Output>) -> String {
    let out = out.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A port of 127.0.0.1 that was free a moment ago (bound to port 0 and released).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

impl PgServer {
    /// A new server, running, with the test role able to create databases.
    pub fn start() -> PgServer {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("apitokend-pg-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        check(
            "chown",
            Command::new("chown").arg("postgres:").arg(&dir).output(),
        );
        let server = PgServer {
            dir,
            port: free_port(),
            bin: bin_dir(),
        };
        let data = server.dir.join("data");
        server.as_postgres(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth-local=trust".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--no-sync".as_ref(),
            ],
        );
        server.resume();
        server.psql(&format!(
            "CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'"
        ));
        let pw = server.password_file();
        std::fs::write(&pw, format!("{PASSWORD}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
        server
    }

    fn as_postgres(&self, tool: &str, args: &[&std::ffi::OsStr]) -> String {
        let out = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join(tool))
            .args(args)
            .current_dir(&self.dir)
            .output();
        check(tool, out)
    }

    /// Starts the server (again, after [`PgServer::pause`]) on the same port.
    pub fn resume(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let data = self.dir.join("data");
        let log = self.dir.join("log");
        self.as_postgres(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-o".as_ref(),
                opts.as_ref(),
                "-l".as_ref(),
                log.as_os_str(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
    }

    /// Stops the server at once (a database outage); [`PgServer::resume`] restarts it.
    pub fn pause(&self) {
        let data = self.dir.join("data");
        self.as_postgres(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
    }

    /// Freezes the server with SIGSTOP, the postmaster first and then every backend: it
    /// accepts TCP connections (the kernel's backlog) and answers nothing, like a server
    /// behind a network that drops packets. [`PgServer::thaw`] lets it go on.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    /// Ends [`PgServer::freeze`].
    pub fn thaw(&self) {
        self.signal("CONT");
    }

    fn signal(&self, sig: &str) {
        let pid_file = std::fs::read_to_string(self.dir.join("data/postmaster.pid"));
        let Some(pid) = pid_file
            .ok()
            .and_then(|s| s.lines().next().map(str::to_string))
        else {
            return;
        };
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .output();
        let _ = Command::new("pkill")
            .args([&format!("-{sig}"), "-P", &pid])
            .output();
    }

    /// Runs SQL as the superuser in `postgres` (or `db` when given); rows unaligned.
    pub fn psql_in(&self, db: &str, sql: &str) -> String {
        let port = self.port.to_string();
        let host = self.dir.clone();
        self.as_postgres(
            "psql",
            &[
                "-h".as_ref(),
                host.as_os_str(),
                "-p".as_ref(),
                port.as_ref(),
                "-d".as_ref(),
                db.as_ref(),
                "-v".as_ref(),
                "ON_ERROR_STOP=1".as_ref(),
                "-Atc".as_ref(),
                sql.as_ref(),
            ],
        )
    }

    pub fn psql(&self, sql: &str) -> String {
        self.psql_in("postgres", sql)
    }

    /// A new empty database owned by the test role; its URL (no password in it).
    pub fn database(&self, name: &str) -> String {
        self.psql(&format!("CREATE DATABASE {name} OWNER {ROLE}"));
        self.url(name)
    }

    pub fn url(&self, name: &str) -> String {
        format!("postgresql://{ROLE}@127.0.0.1:{}/{name}", self.port)
    }

    /// The password of the test role, in a file of mode 0600.
    pub fn password_file(&self) -> PathBuf {
        self.dir.join("db-password")
    }

    /// The `[store]` section of a daemon on `url`, one of this server's databases.
    pub fn store_toml(&self, url: &str) -> String {
        format!(
            "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\npassword_file = \"{}\"\n",
            self.password_file().display()
        )
    }

    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        // A frozen server would never stop.
        self.thaw();
        let data = self.dir.join("data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

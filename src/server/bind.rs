//! The sockets: bound from the configuration (creating the runtime directory), or taken
//! from systemd (`LISTEN_FDS`); and, when the daemon bound them, removed on a clean exit.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};

use super::ServerError;
use crate::config::{Config, SocketAccess};

/// The sockets the daemon serves.
pub struct Listeners {
    pub http: StdUnixListener,
    pub check: StdUnixListener,
    pub admin: StdUnixListener,
    pub tcp: Vec<std::net::TcpListener>,
    /// `web.sock`; `None` with `[web] enabled = false` (or no `web` socket from systemd).
    pub web: Option<StdUnixListener>,
    /// `[web] listen`.
    pub web_tcp: Vec<std::net::TcpListener>,
    /// The socket files this process created (none under socket activation, where they
    /// belong to systemd); removed by [`Listeners::remove_files`].
    pub files: Vec<SocketFile>,
}

/// A socket file the daemon bound, identified by its inode so that only that file is
/// ever removed.
pub struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    fn of(path: &Path) -> Result<SocketFile, ServerError> {
        let meta = std::fs::symlink_metadata(path).map_err(io_err(path))?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// Removes the file if it is still the socket this process bound.
    pub fn remove(&self) {
        let ours = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino);
        if ours {
            if let Err(e) = std::fs::remove_file(&self.path) {
                eprintln!("apitokend: cannot remove {}: {e}", self.path.display());
            }
        }
    }
}

/// Removes the socket files this process bound (a clean exit).
pub fn remove_socket_files(files: &[SocketFile]) {
    for f in files {
        f.remove();
    }
}

pub(super) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |source| ServerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Binds one Unix socket, replacing a stale file left by a crash but never a live socket.
fn bind_unix(
    path: &Path,
    mode: u32,
    group: Option<nix::unistd::Gid>,
) -> Result<StdUnixListener, ServerError> {
    if std::fs::symlink_metadata(path).is_ok() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServerError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(io_err(path))?;
    }
    let listener = StdUnixListener::bind(path).map_err(io_err(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err(path))?;
    if let Some(gid) = group {
        nix::unistd::chown(path, None, Some(gid)).map_err(|e| ServerError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
    }
    Ok(listener)
}

/// TCP listeners on `addrs` (`[http] listen`, `[web] listen`, parsed with the config).
pub fn bind_tcp(addrs: &[std::net::SocketAddr]) -> Result<Vec<std::net::TcpListener>, ServerError> {
    addrs
        .iter()
        .map(|a| {
            std::net::TcpListener::bind(a).map_err(|source| ServerError::Io {
                path: a.to_string().into(),
                source,
            })
        })
        .collect()
}

/// The modes of `http.sock` and of `check.sock`/`admin.sock`: SPEC §2's for
/// `socket_access = "public"`; for `"owner"` (a daemon not run as root, by default) the
/// owner's alone, `http.sock` shared with `[http] socket_group` when one is set.
fn socket_modes(access: SocketAccess, group: bool) -> (u32, u32) {
    match (access, group) {
        (SocketAccess::Public, true) => (0o660, 0o666),
        (SocketAccess::Public, false) => (0o666, 0o666),
        (SocketAccess::Owner, true) => (0o660, 0o600),
        (SocketAccess::Owner, false) => (0o600, 0o600),
    }
}

/// Binds every socket of the configuration, creating the directory.
pub fn bind(config: &Config) -> Result<Listeners, ServerError> {
    crate::config::ensure_dir(&config.runtime_dir, 0o755)?;
    let group = match &config.http.socket_group {
        Some(name) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| ServerError::NoGroup(name.clone()))?
                .gid,
        ),
        None => None,
    };
    let (http_mode, local_mode) = socket_modes(config.socket_access, group.is_some());
    let run = &config.runtime_dir;
    let tcp = bind_tcp(&config.http.listen)?;
    let mut files = Vec::new();
    let mut one = |name: &str, mode, group| -> Result<StdUnixListener, ServerError> {
        let path = run.join(name);
        let listener = bind_unix(&path, mode, group)?;
        files.push(SocketFile::of(&path)?);
        Ok(listener)
    };
    let http = one("http.sock", http_mode, group)?;
    let check = one("check.sock", local_mode, None)?;
    let admin = one("admin.sock", local_mode, None)?;
    // web.sock has the mode and group of http.sock (SPEC §11).
    let web = match config.web.enabled {
        true => Some(one("web.sock", http_mode, group)?),
        false => None,
    };
    Ok(Listeners {
        http,
        check,
        admin,
        tcp,
        web,
        web_tcp: Vec::new(),
        files,
    })
}

/// Takes the sockets systemd passed (`LISTEN_FDS`, named `http`, `check`, `admin` and
/// optionally `web` through `LISTEN_FDNAMES`), or `None` when the daemon was not
/// socket-activated.
pub fn from_systemd() -> Result<Option<Listeners>, ServerError> {
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !ours || count <= 0 {
        return Ok(None);
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let names: Vec<&str> = names.split(':').collect();
    let (mut http, mut check, mut admin, mut web) = (None, None, None, None);
    for i in 0..count {
        let fd = 3 + i;
        let listener = crate::system::take_listening_socket(fd)?;
        match names.get(i as usize).copied() {
            Some("http") => http = Some(listener),
            Some("check") => check = Some(listener),
            Some("admin") => admin = Some(listener),
            Some("web") => web = Some(listener),
            other => eprintln!("apitokend: ignoring socket {fd} named {other:?} from systemd"),
        }
    }
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let missing = |name: &str| {
        ServerError::Other(std::io::Error::other(format!(
        "systemd passed no socket named {name:?}; check FileDescriptorName= in apitokend.socket"
    )))
    };
    Ok(Some(Listeners {
        http: http.ok_or_else(|| missing("http"))?,
        check: check.ok_or_else(|| missing("check"))?,
        admin: admin.ok_or_else(|| missing("admin"))?,
        tcp: Vec::new(),
        web,
        web_tcp: Vec::new(),
        files: Vec::new(),
    }))
}

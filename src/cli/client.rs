//! The blocking admin-socket client: finds the socket, sends one request, reads one reply.

use apitoken_wire::admin::{self as proto, Envelope, ErrorReply, Request, Response};
use std::ffi::OsString;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;
use zeroize::Zeroizing;

/// The system daemon's admin socket, used when it exists.
pub const SYSTEM_SOCKET: &str = "/run/apitokend/admin.sock";

/// How long the daemon may take to answer; creating a token runs argon2.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// How long sending a request may block.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request did not produce an `ok` payload.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing answered on the socket, or the connection broke before a reply.
    #[error("cannot reach apitokend at {}: {source}", socket.display())]
    Unreachable {
        /// The socket that was tried.
        socket: PathBuf,
        /// What connecting or talking failed with.
        source: io::Error,
    },
    /// The socket is served by a process of another user: nothing was sent to it.
    #[error("refusing to talk to {}: it is served by uid {uid} ({name}), not by root or by you; nothing was sent", socket.display())]
    Untrusted {
        /// The socket that was tried.
        socket: PathBuf,
        /// The server's uid (SO_PEERCRED).
        uid: u32,
        /// Its account name, or `unknown user`.
        name: String,
    },
    /// The daemon refused the request.
    #[error("{}", .0.message)]
    Daemon(ErrorReply),
    /// The reply was not what this version of `apitoken` understands.
    #[error("unexpected reply from apitokend at {}: {detail}", socket.display())]
    Protocol {
        /// The socket that answered.
        socket: PathBuf,
        /// What was wrong with the reply.
        detail: String,
    },
}

/// Picks the admin socket: `--socket`, else `$APITOKEN_SOCKET`, else the system socket if
/// it exists, else the per-user default of a daemon run without root.
pub fn resolve_socket(
    flag: Option<&Path>,
    env: impl Fn(&str) -> Option<OsString>,
    system_exists: bool,
    uid: u32,
) -> PathBuf {
    let nonempty = |key: &str| env(key).filter(|v| !v.is_empty());
    if let Some(path) = flag {
        return path.to_path_buf();
    }
    if let Some(path) = nonempty("APITOKEN_SOCKET") {
        return PathBuf::from(path);
    }
    if system_exists {
        return PathBuf::from(SYSTEM_SOCKET);
    }
    match nonempty("XDG_RUNTIME_DIR") {
        Some(dir) => PathBuf::from(dir).join("apitokend").join("admin.sock"),
        None => PathBuf::from(format!("/tmp/apitokend-{uid}")).join("admin.sock"),
    }
}

/// [`resolve_socket`] with the real environment.
pub fn default_socket(flag: Option<&Path>) -> PathBuf {
    let system_exists = Path::new(SYSTEM_SOCKET).exists();
    let uid = nix::unistd::getuid().as_raw();
    resolve_socket(flag, |k| std::env::var_os(k), system_exists, uid)
}

/// Sends `request` to the daemon at `socket` and returns the typed reply to it.
pub fn call(socket: &Path, request: Request) -> Result<Response, ClientError> {
    let unreachable = |source| ClientError::Unreachable {
        socket: socket.to_path_buf(),
        source,
    };
    let protocol = |e: io::Error| ClientError::Protocol {
        socket: socket.to_path_buf(),
        detail: e.to_string(),
    };
    let envelope = Envelope {
        v: proto::VERSION,
        request,
    };
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
    check_server(socket, &stream)?;
    let body = exchange(&mut stream, &envelope).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidData => protocol(e),
        _ => unreachable(e),
    })?;
    Response::decode(&envelope.request, &body)
        .map_err(protocol)?
        .map_err(ClientError::Daemon)
}

/// Refuses a server that is neither root nor this user (SO_PEERCRED), before anything
/// is sent: a socket path under `/tmp` may lead to another user's relay.
fn check_server(socket: &Path, stream: &UnixStream) -> Result<(), ClientError> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let cred = getsockopt(stream, PeerCredentials).map_err(|e| ClientError::Unreachable {
        socket: socket.to_path_buf(),
        source: e.into(),
    })?;
    let uid = cred.uid();
    if trusted_server(uid, nix::unistd::getuid().as_raw()) {
        return Ok(());
    }
    let name = nix::unistd::User::from_uid(uid.into())
        .ok()
        .flatten()
        .map_or_else(|| "unknown user".to_string(), |u| u.name);
    Err(ClientError::Untrusted {
        socket: socket.to_path_buf(),
        uid,
        name,
    })
}

/// Whose daemon `apitoken` talks to: root's (the system daemon) or its own user's.
fn trusted_server(server: u32, me: u32) -> bool {
    server == 0 || server == me
}

fn exchange(stream: &mut UnixStream, envelope: &Envelope) -> io::Result<Zeroizing<Vec<u8>>> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
    proto::write_request(stream, envelope)?;
    proto::read_reply(stream)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn resolve_socket_flag_wins_over_everything() {
        let got = resolve_socket(
            Some(Path::new("/x.sock")),
            env(&[("APITOKEN_SOCKET", "/e")]),
            true,
            5,
        );
        assert_eq!(got, PathBuf::from("/x.sock"));
    }

    #[test]
    fn resolve_socket_env_wins_over_system_socket() {
        let got = resolve_socket(None, env(&[("APITOKEN_SOCKET", "/e.sock")]), true, 5);
        assert_eq!(got, PathBuf::from("/e.sock"));
    }

    #[test]
    fn resolve_socket_system_socket_when_present() {
        let got = resolve_socket(None, env(&[("XDG_RUNTIME_DIR", "/run/user/5")]), true, 5);
        assert_eq!(got, PathBuf::from(SYSTEM_SOCKET));
    }

    #[test]
    fn resolve_socket_without_system_uses_xdg_runtime_dir() {
        let got = resolve_socket(None, env(&[("XDG_RUNTIME_DIR", "/run/user/5")]), false, 5);
        assert_eq!(got, PathBuf::from("/run/user/5/apitokend/admin.sock"));
    }

    #[test]
    fn resolve_socket_without_anything_uses_tmp_per_uid() {
        let got = resolve_socket(
            None,
            env(&[("APITOKEN_SOCKET", ""), ("XDG_RUNTIME_DIR", "")]),
            false,
            1000,
        );
        assert_eq!(got, PathBuf::from("/tmp/apitokend-1000/admin.sock"));
    }

    #[test]
    fn trusted_server_is_root_or_self_only() {
        assert!(trusted_server(0, 1000));
        assert!(trusted_server(1000, 1000));
        assert!(!trusted_server(1001, 1000));
    }

    #[test]
    fn call_missing_socket_is_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("none.sock");
        let err = call(&sock, Request::Status).unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { ref socket, .. } if socket == &sock));
    }

    #[test]
    fn call_error_reply_is_daemon_error() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("a.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let _ = proto::REQUEST_FRAMES.read(&mut conn).unwrap();
            let reply = r#"{"v":1,"error":{"kind":"not_found","message":"no token abc"}}"#;
            proto::REPLY_FRAMES
                .write(&mut conn, reply.as_bytes())
                .unwrap();
        });
        let err = call(&sock, Request::Show { id: "abc".into() }).unwrap_err();
        server.join().unwrap();
        assert!(matches!(err, ClientError::Daemon(ref e) if e.kind == proto::ErrorKind::NotFound));
    }
}

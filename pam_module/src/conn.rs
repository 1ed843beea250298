//! One question to `check.sock` over a fresh connection, with plain blocking-style libc
//! I/O: a non-blocking socket, `poll` bounded by one deadline for connect, write and read,
//! and `send(MSG_NOSIGNAL)` so a vanished daemon cannot raise SIGPIPE in the host process.
#![allow(unsafe_code)]

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::decide::Checker;
use crate::proto::{self, CheckReply, CheckRequest};

/// How long to wait before retrying a connect refused with `EAGAIN` (a full backlog).
const BACKLOG_RETRY: Duration = Duration::from_millis(5);

/// The daemon behind a Unix socket; every `ask` opens, uses and closes one connection.
pub struct SocketChecker {
    pub path: PathBuf,
    pub timeout: Duration,
}

impl Checker for SocketChecker {
    fn ask(&self, request: &CheckRequest) -> io::Result<CheckReply> {
        let deadline = Instant::now() + self.timeout;
        let mut conn = Conn::connect(&self.path, deadline)?;
        let body = Zeroizing::new(request.encode()?);
        proto::write_frame(&mut conn, &body)?;
        let reply = proto::read_frame(&mut conn)?;
        CheckReply::decode(&reply)
    }
}

/// Turns a libc return value into `io::Result`, reading `errno` on -1.
fn cvt<T: PartialEq + From<i8>>(ret: T) -> io::Result<T> {
    if ret == T::from(-1) {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "apitokend did not answer in time")
}

/// A connected, non-blocking stream socket whose reads and writes share one deadline.
struct Conn {
    fd: OwnedFd,
    deadline: Instant,
}

impl Conn {
    fn connect(path: &Path, deadline: Instant) -> io::Result<Conn> {
        let (addr, len) = sockaddr(path)?;
        // SAFETY: plain socket(2) call with constant arguments; no pointers involved.
        let raw = cvt(unsafe {
            libc::socket(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        })?;
        // SAFETY: `raw` is a fresh descriptor returned by socket(2) that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let conn = Conn { fd, deadline };
        loop {
            // SAFETY: `addr` is a valid, initialised sockaddr_un and `len` does not exceed it.
            let ret = unsafe {
                libc::connect(
                    conn.fd.as_raw_fd(),
                    std::ptr::addr_of!(addr).cast::<libc::sockaddr>(),
                    len,
                )
            };
            if ret == 0 {
                return Ok(conn);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => {}
                // A Unix socket whose backlog is full refuses with EAGAIN; try again shortly.
                Some(libc::EAGAIN) => {
                    let left = conn.remaining()?;
                    std::thread::sleep(left.min(BACKLOG_RETRY));
                }
                Some(libc::EINPROGRESS) => {
                    conn.wait(libc::POLLOUT)?;
                    return conn.take_socket_error().map(|()| conn);
                }
                _ => return Err(err),
            }
        }
    }

    fn remaining(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(timed_out())
        } else {
            Ok(left)
        }
    }

    /// Waits until the socket is ready for `events` or the deadline passes.
    fn wait(&self, events: libc::c_short) -> io::Result<()> {
        loop {
            let left = self.remaining()?;
            // Round up so a sub-millisecond remainder still waits instead of spinning.
            let ms = left.as_millis().saturating_add(1).min(i32::MAX as u128) as libc::c_int;
            let mut pfd = libc::pollfd {
                fd: self.fd.as_raw_fd(),
                events,
                revents: 0,
            };
            // SAFETY: `pfd` is one valid pollfd and we pass a count of 1.
            match cvt(unsafe { libc::poll(&mut pfd, 1, ms) }) {
                // Readiness includes POLLERR/POLLHUP; the next call reports the error.
                Ok(n) if n > 0 => return Ok(()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn take_socket_error(&self) -> io::Result<()> {
        let mut err: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `err` and `len` are valid for writes and `len` holds the size of `err`.
        cvt(unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_ERROR,
                std::ptr::addr_of_mut!(err).cast(),
                &mut len,
            )
        })?;
        if err == 0 {
            Ok(())
        } else {
            Err(io::Error::from_raw_os_error(err))
        }
    }

    /// Repeats a non-blocking call until it stops saying EAGAIN/EINTR, polling in between.
    fn retry(&self, events: libc::c_short, mut call: impl FnMut() -> isize) -> io::Result<usize> {
        loop {
            self.remaining()?;
            match cvt(call()) {
                Ok(n) => return Ok(n as usize),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.wait(events)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let fd = self.fd.as_raw_fd();
        self.retry(libc::POLLIN, || {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
            unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) }
        })
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let fd = self.fd.as_raw_fd();
        self.retry(libc::POLLOUT, || {
            // SAFETY: `buf` is valid for reads of `buf.len()` bytes.
            unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL) }
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Builds the socket address for `path`; paths that do not fit are an error, not truncated.
fn sockaddr(path: &Path) -> io::Result<(libc::sockaddr_un, libc::socklen_t)> {
    let bytes = path.as_os_str().as_bytes();
    let mut addr = libc::sockaddr_un {
        sun_family: libc::AF_UNIX as libc::sa_family_t,
        sun_path: [0; 108],
    };
    if bytes.is_empty() || bytes.len() >= addr.sun_path.len() || bytes.contains(&0) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "unusable socket path",
        ));
    }
    for (dst, src) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let len = std::mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    Ok((addr, len as libc::socklen_t))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;

    use super::*;
    use crate::proto::{Verdict, Via};

    fn request() -> CheckRequest {
        CheckRequest {
            via: Via::Pam,
            user: "alice".into(),
            secret: b"atk_x".to_vec(),
            rhost: String::new(),
            service: "login".into(),
            uri: String::new(),
            access: String::new(),
        }
    }

    fn checker(path: &Path, ms: u64) -> SocketChecker {
        SocketChecker {
            path: path.to_path_buf(),
            timeout: Duration::from_millis(ms),
        }
    }

    #[test]
    fn ask_answering_server_returns_reply() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let req = CheckRequest::decode(&proto::read_frame(&mut s).unwrap()).unwrap();
            let reply = CheckReply {
                verdict: Verdict::Allow,
                user: req.user.clone(),
                token_id: "abcd1234".into(),
                reason: String::new(),
            };
            proto::write_frame(&mut s, &reply.encode().unwrap()).unwrap();
            req.secret.clone()
        });
        let reply = checker(&path, 2000).ask(&request()).unwrap();
        assert_eq!(reply.verdict, Verdict::Allow);
        assert_eq!(reply.user, "alice");
        assert_eq!(server.join().unwrap(), b"atk_x");
    }

    #[test]
    fn ask_missing_socket_is_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = checker(&dir.path().join("none.sock"), 500)
            .ask(&request())
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn ask_silent_server_times_out_near_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.sock");
        // Never accepted: the connect still succeeds (backlog) and the read must time out.
        let _listener = UnixListener::bind(&path).unwrap();
        let started = Instant::now();
        let err = checker(&path, 200).ask(&request()).unwrap_err();
        let took = started.elapsed();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(
            took >= Duration::from_millis(190) && took < Duration::from_millis(1000),
            "{took:?}"
        );
    }

    #[test]
    fn ask_server_closing_early_is_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let server = std::thread::spawn(move || drop(listener.accept().unwrap()));
        let result = checker(&path, 1000).ask(&request());
        server.join().unwrap();
        assert!(result.is_err());
    }

    #[test]
    fn sockaddr_overlong_path_is_error() {
        let long = PathBuf::from(format!("/{}", "x".repeat(200)));
        assert!(sockaddr(&long).is_err());
        assert!(sockaddr(Path::new("")).is_err());
    }
}

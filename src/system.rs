//! Every `unsafe` call of the daemon (outside the PAM client's FFI in `password`), each
//! behind a safe function that states why it is sound. [`cerr`] turns a C return code
//! into an `io::Result`, reading `errno` on failure (the pattern of sudo-rs).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::net::UnixListener;

/// `-1` becomes the current `errno` as an error; any other value is returned.
pub fn cerr<T: PartialEq + From<i8>>(ret: T) -> io::Result<T> {
    if ret == T::from(-1) {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Takes ownership of descriptor `fd`, which systemd passed to this process (LISTEN_FDS),
/// after checking that it is an open, listening stream socket. Each descriptor must be
/// taken at most once: the caller walks `3..3 + LISTEN_FDS` once.
pub fn take_listening_socket(fd: RawFd) -> io::Result<UnixListener> {
    let (mut kind, mut listening): (libc::c_int, libc::c_int) = (0, 0);
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `kind`, a valid c_int; on a
    // descriptor that is closed or not a socket it fails with EBADF/ENOTSOCK instead.
    cerr(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            std::ptr::addr_of_mut!(kind).cast(),
            &mut len,
        )
    })?;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: as above, into `listening`.
    cerr(unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ACCEPTCONN,
            std::ptr::addr_of_mut!(listening).cast(),
            &mut len,
        )
    })?;
    if kind != libc::SOCK_STREAM || listening == 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("descriptor {fd} is not a listening stream socket"),
        ));
    }
    // SAFETY: `fd` is open (getsockopt succeeded) and was handed to this process by
    // systemd; nothing else in the process owns it, so the listener may close it on drop.
    Ok(unsafe { UnixListener::from_raw_fd(fd) })
}

/// Serves allocations of 1 MiB and more (argon2's memory) by mmap, so they return to the
/// system when freed instead of staying in the malloc arena of the thread that ran them.
pub fn return_large_allocations() {
    // SAFETY: mallopt only adjusts glibc malloc parameters and takes no pointers; it is
    // called at start-up before other threads exist, and a failure (0) keeps the default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// A socket that owns its descriptor for its whole life and never swaps it for another:
/// mio's listeners and streams (each wraps one `OwnedFd`). Only these may be watched.
pub trait OwnedSocket: std::os::fd::AsRawFd + sealed::Sealed {}

mod sealed {
    pub trait Sealed {}
}

macro_rules! owned_socket {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl OwnedSocket for $t {}
    )*};
}
owned_socket!(
    mio::net::UnixListener,
    mio::net::UnixStream,
    mio::net::TcpListener,
    mio::net::TcpStream
);

/// Registers `socket` with the runtime's reactor for `interest` (within a runtime).
pub fn watch<T: OwnedSocket>(
    socket: T,
    interest: tokio::io::Interest,
) -> io::Result<tokio::io::unix::AsyncFd<T>> {
    // SAFETY: an `OwnedSocket` holds an open descriptor until it is dropped and its
    // `as_raw_fd` always returns that one; the `AsyncFd` owns the socket from here on,
    // so the descriptor stays open and the same for the registration's whole life.
    unsafe { tokio::io::unix::AsyncFd::register_with_interest(socket, interest) }
        .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::IntoRawFd;

    #[test]
    fn cerr_minus_one_is_errno() {
        assert!(cerr(-1i32).is_err());
        assert_eq!(cerr(3i32).unwrap(), 3);
    }

    #[test]
    fn take_listening_socket_refuses_other_descriptors() {
        let file = std::fs::File::open("/dev/null").unwrap().into_raw_fd();
        assert!(take_listening_socket(file).is_err());
        // SAFETY (test): the descriptor was opened above and is closed once here.
        drop(unsafe { std::fs::File::from_raw_fd(file) });
        assert!(take_listening_socket(-1).is_err());
    }

    #[test]
    fn take_listening_socket_accepts_a_listener() {
        let dir = tempfile::tempdir().unwrap();
        let listener = UnixListener::bind(dir.path().join("s")).unwrap();
        let fd = std::os::fd::IntoRawFd::into_raw_fd(listener);
        assert!(take_listening_socket(fd).is_ok());
    }
}

//! Waiting, which a connection does only when the socket would block: the stream is
//! registered with the runtime then (not before: a request that is already there is
//! read, answered and closed without a registration), and a connection's one timer is
//! made the first time it waits and moved only when it fires (so an answer costs no
//! timer operation, only a clock read).

use std::io::{self, Read, Write};
use std::pin::Pin;

use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::{Instant, Sleep};

use super::{Stop, HEAD_TIMEOUT};
use crate::shutdown::{Handle, REQUEST_GRACE};
use crate::system::{watch, OwnedSocket};

/// A connection's stream: non-blocking, read and written directly.
pub trait Socket: OwnedSocket + Send + Sync + 'static {
    fn read_now(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_now(&self, bytes: &[u8]) -> io::Result<usize>;
}

macro_rules! socket {
    ($($t:ty),*) => {$(
        impl Socket for $t {
            fn read_now(&self, buf: &mut [u8]) -> io::Result<usize> {
                retry(|| (&mut &*self).read(buf))
            }
            fn write_now(&self, bytes: &[u8]) -> io::Result<usize> {
                retry(|| (&mut &*self).write(bytes))
            }
        }
    )*};
}
socket!(mio::net::UnixStream, mio::net::TcpStream);

/// The stream, registered for readiness once it had to wait: for reading only, and for
/// writing too once a write would block (answers are small; that is rare).
pub enum Io<S: Socket> {
    Direct(S),
    Registered {
        fd: AsyncFd<S>,
        writes: bool,
    },
    /// Registration failed; the connection ends.
    Gone,
}

impl<S: Socket> Io<S> {
    pub fn new(stream: S) -> Io<S> {
        Io::Direct(stream)
    }

    fn stream(&self) -> Option<&S> {
        match self {
            Io::Direct(s) => Some(s),
            Io::Registered { fd, .. } => Some(fd.get_ref()),
            Io::Gone => None,
        }
    }

    /// The registration, made (or remade with write interest) as needed.
    fn registered(&mut self, writes: bool) -> Result<&AsyncFd<S>, Stop> {
        let remake = match self {
            Io::Direct(_) => true,
            Io::Registered { writes: has, .. } => writes && !*has,
            Io::Gone => return Err(Stop::Expired),
        };
        if remake {
            let stream = match std::mem::replace(self, Io::Gone) {
                Io::Direct(s) => s,
                Io::Registered { fd, .. } => fd.into_inner(),
                Io::Gone => return Err(Stop::Expired),
            };
            let interest = if writes {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            *self = Io::Registered {
                fd: watch(stream, interest).map_err(|_| Stop::Failed)?,
                writes,
            };
        }
        match self {
            Io::Registered { fd, .. } => Ok(fd),
            _ => Err(Stop::Expired),
        }
    }

    /// Reads into `buf` (0: end of input), waiting if nothing is there yet. `idle`: no
    /// request is under way, so the shutdown broadcast ends the wait at once.
    pub async fn read(
        &mut self,
        buf: &mut [u8],
        waits: &mut Waits,
        idle: bool,
    ) -> Result<usize, Stop> {
        if let Io::Direct(s) = self {
            match s.read_now(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other.map_err(|_| Stop::Failed),
            }
        }
        let fd = self.registered(false)?;
        loop {
            let mut ready = tokio::select! {
                biased;
                r = fd.readable() => r.map_err(|_| Stop::Failed)?,
                stop = waits.expired(idle) => return Err(stop),
            };
            match ready.try_io(|s| s.get_ref().read_now(buf)) {
                Ok(Ok(n)) => {
                    // A short read emptied the socket: the next one would block, so
                    // wait for the next readiness event instead of trying.
                    if n > 0 && n < buf.len() {
                        ready.clear_ready();
                    }
                    return Ok(n);
                }
                Ok(Err(_)) => return Err(Stop::Failed),
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `bytes`, waiting when the client does not take them.
    pub async fn write_all(&mut self, mut bytes: &[u8], waits: &mut Waits) -> Result<(), Stop> {
        while !bytes.is_empty() {
            let Some(s) = self.stream() else {
                return Err(Stop::Expired);
            };
            match s.write_now(bytes) {
                Ok(0) => return Err(Stop::Failed),
                Ok(n) => bytes = &bytes[n..],
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let fd = self.registered(true)?;
                    tokio::select! {
                        biased;
                        r = fd.writable() => r.map_err(|_| Stop::Failed)?.clear_ready(),
                        stop = waits.expired(false) => return Err(stop),
                    }
                }
                Err(_) => return Err(Stop::Failed),
            }
        }
        Ok(())
    }
}

fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A connection's deadline, its timer and its shutdown handle.
pub struct Waits {
    shutdown: Handle,
    stopping: bool,
    /// When the next complete request head is due; set when a wait begins.
    deadline: Option<Instant>,
    /// Fires at or before the deadline; made at the first wait.
    timer: Option<Pin<Box<Sleep>>>,
}

impl Waits {
    pub fn new(shutdown: Handle) -> Waits {
        Waits {
            shutdown,
            stopping: false,
            deadline: None,
            timer: None,
        }
    }

    /// Whether the shutdown broadcast was seen: answers then close the connection.
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// An answer went out: the next request head is due [`HEAD_TIMEOUT`] from the next
    /// wait on.
    pub fn answered(&mut self) {
        if !self.stopping {
            self.deadline = None;
        }
    }

    /// Resolves when the connection must stop waiting: its deadline passed, or the
    /// shutdown was broadcast while `idle` (between requests). A connection that is
    /// receiving a request, or has not sent one yet, gets [`REQUEST_GRACE`] instead.
    pub async fn expired(&mut self, idle: bool) -> Stop {
        if self.stopping && idle {
            return Stop::Expired;
        }
        let deadline = *self
            .deadline
            .get_or_insert_with(|| Instant::now() + HEAD_TIMEOUT);
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            tokio::select! {
                biased;
                () = self.shutdown.recv(), if !self.stopping => {
                    self.stopping = true;
                    if idle {
                        return Stop::Expired;
                    }
                    let grace = Instant::now() + REQUEST_GRACE;
                    if self.deadline.is_none_or(|d| grace < d) {
                        self.deadline = Some(grace);
                        timer.as_mut().reset(grace);
                    }
                }
                () = timer.as_mut() => {
                    let due = self.deadline.unwrap_or_else(Instant::now);
                    if Instant::now() >= due {
                        return Stop::Expired;
                    }
                    timer.as_mut().reset(due);
                }
            }
        }
    }
}

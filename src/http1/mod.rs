//! The HTTP/1.1 server of `http.sock` and `[http] listen` (SPEC §7): a connection reads
//! into one buffer, answers every complete request in it (pipelining keeps its order),
//! and sends the answers with one write. It touches the runtime only when it must wait:
//! the socket is read and written directly, registered for readiness only when a read or
//! write would block, and a timer exists only on a connection that has waited.
//!
//! A connection ends when the client asks for it (`Connection: close`, HTTP/1.0), after
//! an error answer (400, 413, 431, 501), at the end of the client's input (once what
//! came before it is answered: a half-closed client still gets its answers), when no
//! complete request head arrives within [`HEAD_TIMEOUT`] (also between keep-alive
//! requests), and at the shutdown broadcast: at once when between requests, otherwise
//! after answering the request it is receiving, which gets [`REQUEST_GRACE`].
//!
//! Layout: `parse` (request heads and framing), `input` (the buffer), `reply` (answers
//! on the wire), `wait` (readiness, the deadline and the shutdown broadcast).

mod input;
mod parse;
mod reply;
mod wait;

pub use parse::{Request, MAX_HEAD, MAX_HEADERS};
pub use reply::{field_value_ok, Reply};

use std::future::Future;
use std::time::Duration;

use crate::shutdown::Handle;
use input::Input;
use parse::Parsed;
use reply::Persist;
pub use wait::Socket;
use wait::{Io, Waits};

/// How long a client has to send a complete request head, counted from the connection
/// or from the previous answer.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What answers the requests of a connection.
pub trait Handler: Send + Sync {
    fn handle(&self, req: &Request<'_, '_>) -> impl Future<Output = Reply> + Send;
}

/// Serves one connection on a non-blocking stream until it ends.
pub async fn serve<S: Socket, H: Handler>(stream: S, handler: &H, shutdown: Handle) {
    let mut input = Input::new();
    let mut out = Vec::new();
    let mut io = Io::new(stream);
    let mut waits = Waits::new(shutdown);
    let mut served = false;
    loop {
        let close = answer(&mut input, &mut out, handler, waits.stopping()).await;
        if !out.is_empty() {
            served = true;
            waits.answered();
            if io.write_all(&out, &mut waits).await.is_err() {
                return;
            }
            out.clear();
        }
        if close || input.eof {
            return;
        }
        let idle = served && input.is_empty();
        let Some(space) = input.space() else {
            // `answer` refuses a full buffer of incomplete head first; unreachable.
            return;
        };
        match io.read(space, &mut waits, idle).await {
            Ok(n) => input.filled(n),
            Err(_) => return,
        }
    }
}

/// Answers every complete request in `input`, appending to `out`; whether the connection
/// must close after those answers.
async fn answer<H: Handler>(
    input: &mut Input,
    out: &mut Vec<u8>,
    handler: &H,
    stopping: bool,
) -> bool {
    while !input.is_empty() {
        let mut slots = parse::header_slots();
        let head = match parse::parse(input.pending(), &mut slots) {
            Parsed::Complete(head) => head,
            Parsed::Partial => break,
            Parsed::Refused(r) => return refuse(out, r),
        };
        let reply = handler.handle(&head.req).await;
        let persist = match (head.keep_alive && !stopping, head.http10) {
            (false, _) => Persist::Close,
            (true, false) => Persist::KeepAlive,
            (true, true) => Persist::KeepAlive10,
        };
        reply::write(out, &reply, persist, head.req.method == "HEAD");
        let (len, body) = (head.len, head.body);
        input.consume(len, body);
        if persist == Persist::Close {
            return true;
        }
    }
    // An incomplete head waits for more input, unless it already fills the buffer.
    input.space().is_none() && refuse(out, parse::Refusal::HeadTooLarge)
}

/// Appends the answer to a refused request; the connection then closes.
fn refuse(out: &mut Vec<u8>, refusal: parse::Refusal) -> bool {
    let (status, text) = refusal.answer();
    reply::write(out, &Reply::new(status, text), Persist::Close, false);
    true
}

/// Why a connection stops waiting.
#[derive(Debug)]
pub(crate) enum Stop {
    /// No complete request in time, or the shutdown while between requests.
    Expired,
    /// The socket failed, or the client went away.
    Failed,
}

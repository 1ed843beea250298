//! The blocking client side of `check.sock`, used by `apitoken-external`. (The PAM module
//! has its own client on raw libc calls, because it runs inside other programs.)

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use zeroize::Zeroizing;

use apitoken_wire::check::{self as proto, CheckReply, CheckRequest};

/// Asks the daemon behind `socket` one question over a fresh connection. `timeout` bounds
/// each read and write; an unreachable socket, a timeout or a malformed reply is an error.
pub fn ask(socket: &Path, request: &CheckRequest, timeout: Duration) -> io::Result<CheckReply> {
    // A zero timeout means "block forever" to std, which is never what a caller wants.
    let timeout = timeout.max(Duration::from_millis(1));
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let body = Zeroizing::new(request.encode()?);
    proto::write_frame(&mut stream, &body)?;
    let reply = proto::read_frame(&mut stream)?;
    CheckReply::decode(&reply)
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixListener;
    use std::time::Instant;

    use super::*;
    use apitoken_wire::check::{Verdict, Via};

    fn request() -> CheckRequest {
        CheckRequest {
            via: Via::External,
            user: "alice".into(),
            secret: b"hunter2".to_vec(),
            rhost: "192.0.2.9".into(),
            service: "apache".into(),
            uri: "/api/x".into(),
            access: String::new(),
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
                verdict: Verdict::Forbidden,
                user: req.user.clone(),
                token_id: String::new(),
                reason: "ip_denied".into(),
            };
            proto::write_frame(&mut s, &reply.encode().unwrap()).unwrap();
            (req.via, req.uri.clone())
        });
        let reply = ask(&path, &request(), Duration::from_secs(2)).unwrap();
        assert_eq!(reply.verdict, Verdict::Forbidden);
        assert_eq!(reply.reason, "ip_denied");
        assert_eq!(
            server.join().unwrap(),
            (Via::External, "/api/x".to_string())
        );
    }

    #[test]
    fn ask_missing_socket_is_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(ask(
            &dir.path().join("none.sock"),
            &request(),
            Duration::from_secs(1)
        )
        .is_err());
    }

    #[test]
    fn ask_silent_server_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("check.sock");
        let _listener = UnixListener::bind(&path).unwrap();
        let started = Instant::now();
        assert!(ask(&path, &request(), Duration::from_millis(150)).is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}

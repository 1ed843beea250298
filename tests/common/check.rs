//! `check.sock` as the PAM module and the Apache helper speak it: one framed request,
//! one framed reply.

use std::path::Path;

use apitoken_wire::check::{self, CheckReply, CheckRequest};

/// Sends `req` on a fresh connection to `sock` and decodes the reply.
pub fn check_exchange(sock: &Path, req: &CheckRequest) -> CheckReply {
    let mut s = super::http::unix_connect(sock);
    check::write_frame(&mut s, &req.encode().unwrap()).unwrap();
    CheckReply::decode(&check::read_frame(&mut s).unwrap()).unwrap()
}

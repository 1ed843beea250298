//! What `pam_sm_authenticate` decides, in plain safe Rust. libpam and the socket are behind
//! two small traits so every path is unit-tested with fakes.

use std::io;

use zeroize::Zeroizing;

use crate::args::{Args, FirstPass};
use crate::proto::{CheckReply, CheckRequest, Verdict, Via};

/// A PAM return code. The values are Linux-PAM's ABI (`security/_pam_types.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PamCode(pub i32);

impl PamCode {
    pub const SUCCESS: PamCode = PamCode(0);
    pub const SERVICE_ERR: PamCode = PamCode(3);
    pub const AUTH_ERR: PamCode = PamCode(7);
    pub const AUTHINFO_UNAVAIL: PamCode = PamCode(9);
    pub const USER_UNKNOWN: PamCode = PamCode(10);
    pub const CONV_ERR: PamCode = PamCode(19);
    pub const IGNORE: PamCode = PamCode(25);
}

/// How important a log line is; mapped onto syslog priorities by the FFI layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Notice,
    Debug,
}

/// The parts of a PAM handle the decision needs. Errors are the PAM codes libpam gave.
pub trait PamHandle {
    /// `PAM_USER`, asking the application for it when unset.
    fn user(&mut self) -> Result<String, PamCode>;
    /// `PAM_AUTHTOK` as set by an earlier module, if any.
    fn authtok(&self) -> Result<Option<Zeroizing<Vec<u8>>>, PamCode>;
    /// Asks the user for a secret through the conversation, without echo.
    fn prompt_secret(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, PamCode>;
    /// Stores the secret as `PAM_AUTHTOK` for the modules after this one.
    fn set_authtok(&mut self, secret: &[u8]) -> Result<(), PamCode>;
    /// `PAM_RHOST`; empty when unset (a local console).
    fn rhost(&self) -> String;
    /// `PAM_SERVICE`.
    fn service(&self) -> String;
    /// Writes one line to the system log (through `pam_syslog`).
    fn log(&self, level: Level, message: &str);
}

/// Something that answers a check request: the daemon's `check.sock`, or a fake.
pub trait Checker {
    fn ask(&self, request: &CheckRequest) -> io::Result<CheckReply>;
}

/// The whole of `pam_sm_authenticate` once arguments are parsed.
pub fn authenticate(pam: &mut impl PamHandle, args: &Args, checker: &impl Checker) -> PamCode {
    for unknown in &args.unknown {
        pam.log(
            Level::Error,
            &format!("unknown module argument ignored: {unknown}"),
        );
    }
    let user = match pam.user() {
        Ok(user) if !user.is_empty() => user,
        Ok(_) => return PamCode::USER_UNKNOWN,
        Err(code) => return code,
    };
    let secret = match obtain_secret(pam, args) {
        Ok(secret) => secret,
        Err(code) => {
            if args.debug {
                pam.log(
                    Level::Debug,
                    &format!("no secret for user={user}: code {}", code.0),
                );
            }
            return code;
        }
    };
    let request = CheckRequest {
        via: Via::Pam,
        user: user.clone(),
        secret: secret.to_vec(),
        rhost: pam.rhost(),
        service: pam.service(),
        uri: String::new(),
        access: String::new(),
    };
    let code = match checker.ask(&request) {
        Ok(reply) => judge(pam, &request, &reply),
        Err(err) => {
            pam.log(
                Level::Error,
                &format!("apitokend unreachable at {}: {err}", args.socket.display()),
            );
            PamCode::AUTHINFO_UNAVAIL
        }
    };
    if args.debug {
        pam.log(
            Level::Debug,
            &format!("user={user} rhost={} result={}", request.rhost, code.0),
        );
    }
    code
}

/// Reads the secret from `PAM_AUTHTOK` or the user, following `use_first_pass` /
/// `try_first_pass`. A secret that was prompted for is stored for the modules after this.
fn obtain_secret(pam: &mut impl PamHandle, args: &Args) -> Result<Zeroizing<Vec<u8>>, PamCode> {
    if args.first_pass != FirstPass::Prompt {
        if let Some(secret) = pam.authtok()? {
            return Ok(secret);
        }
        if args.first_pass == FirstPass::Use {
            return Err(PamCode::AUTH_ERR);
        }
    }
    let secret = pam.prompt_secret(&args.prompt)?;
    pam.set_authtok(&secret)?;
    Ok(secret)
}

/// Turns the daemon's reply into the PAM result: the one mapping of this front end.
fn judge(pam: &impl PamHandle, request: &CheckRequest, reply: &CheckReply) -> PamCode {
    let code = match reply.verdict {
        // The daemon answers for the user it was asked about; anything else is refused.
        Verdict::Allow if reply.user == request.user => PamCode::SUCCESS,
        Verdict::Allow => {
            pam.log(
                Level::Error,
                &format!(
                    "apitokend allowed user={} when asked about user={}",
                    reply.user, request.user
                ),
            );
            return PamCode::AUTH_ERR;
        }
        Verdict::Unauthorized | Verdict::Forbidden | Verdict::Locked => PamCode::AUTH_ERR,
        Verdict::Ignore => PamCode::IGNORE,
        Verdict::Error => PamCode::AUTHINFO_UNAVAIL,
    };
    if code == PamCode::AUTH_ERR || code == PamCode::AUTHINFO_UNAVAIL {
        let level = if code == PamCode::AUTH_ERR {
            Level::Notice
        } else {
            Level::Error
        };
        pam.log(
            level,
            &format!(
                "authentication refused: user={} rhost={} verdict={:?} reason={}",
                request.user, request.rhost, reply.verdict, reply.reason
            ),
        );
    }
    code
}

#[cfg(test)]
mod tests;

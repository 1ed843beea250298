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
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[derive(Default)]
    struct FakePam {
        user: Option<String>,
        authtok: Option<Vec<u8>>,
        typed: Option<Vec<u8>>,
        rhost: String,
        prompts: Vec<String>,
        logs: RefCell<Vec<String>>,
    }

    impl FakePam {
        fn new(user: &str, typed: &str) -> Self {
            FakePam {
                user: Some(user.to_string()),
                typed: Some(typed.as_bytes().to_vec()),
                rhost: "192.0.2.7".to_string(),
                ..Default::default()
            }
        }
    }

    impl PamHandle for FakePam {
        fn user(&mut self) -> Result<String, PamCode> {
            self.user.clone().ok_or(PamCode::USER_UNKNOWN)
        }
        fn authtok(&self) -> Result<Option<Zeroizing<Vec<u8>>>, PamCode> {
            Ok(self.authtok.clone().map(Zeroizing::new))
        }
        fn prompt_secret(&mut self, prompt: &str) -> Result<Zeroizing<Vec<u8>>, PamCode> {
            self.prompts.push(prompt.to_string());
            self.typed
                .clone()
                .map(Zeroizing::new)
                .ok_or(PamCode::CONV_ERR)
        }
        fn set_authtok(&mut self, secret: &[u8]) -> Result<(), PamCode> {
            self.authtok = Some(secret.to_vec());
            Ok(())
        }
        fn rhost(&self) -> String {
            self.rhost.clone()
        }
        fn service(&self) -> String {
            "sshd".to_string()
        }
        fn log(&self, _level: Level, message: &str) {
            self.logs.borrow_mut().push(message.to_string());
        }
    }

    /// What the fake daemon was asked: user, secret, rhost, service, front end.
    type Asked = (String, Vec<u8>, String, String, Via);

    /// Answers with a fixed verdict (or an I/O error) and records what it was asked.
    struct FakeDaemon {
        answer: Option<(Verdict, &'static str)>,
        asked: RefCell<Vec<Asked>>,
    }

    impl FakeDaemon {
        fn answering(verdict: Verdict, user: &'static str) -> Self {
            FakeDaemon {
                answer: Some((verdict, user)),
                asked: RefCell::new(Vec::new()),
            }
        }
        fn down() -> Self {
            FakeDaemon {
                answer: None,
                asked: RefCell::new(Vec::new()),
            }
        }
    }

    impl Checker for FakeDaemon {
        fn ask(&self, r: &CheckRequest) -> io::Result<CheckReply> {
            self.asked.borrow_mut().push((
                r.user.clone(),
                r.secret.clone(),
                r.rhost.clone(),
                r.service.clone(),
                r.via,
            ));
            let (verdict, user) = self
                .answer
                .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "timed out"))?;
            Ok(CheckReply {
                verdict,
                user: user.to_string(),
                token_id: String::new(),
                reason: "because".to_string(),
            })
        }
    }

    fn run(pam: &mut FakePam, args: &[&str], daemon: &FakeDaemon) -> PamCode {
        authenticate(pam, &Args::parse(args.iter().copied()).unwrap(), daemon)
    }

    #[test]
    fn authenticate_each_verdict_maps_to_spec_code() {
        let table = [
            (Verdict::Allow, PamCode::SUCCESS),
            (Verdict::Unauthorized, PamCode::AUTH_ERR),
            (Verdict::Forbidden, PamCode::AUTH_ERR),
            (Verdict::Locked, PamCode::AUTH_ERR),
            (Verdict::Ignore, PamCode::IGNORE),
            (Verdict::Error, PamCode::AUTHINFO_UNAVAIL),
        ];
        for (verdict, expected) in table {
            let mut pam = FakePam::new("alice", "atk_secret");
            let got = run(&mut pam, &[], &FakeDaemon::answering(verdict, "alice"));
            assert_eq!(got, expected, "{verdict:?}");
        }
    }

    #[test]
    fn authenticate_daemon_down_is_authinfo_unavail() {
        let mut pam = FakePam::new("alice", "atk_secret");
        assert_eq!(
            run(&mut pam, &[], &FakeDaemon::down()),
            PamCode::AUTHINFO_UNAVAIL
        );
        assert!(pam.logs.borrow().iter().any(|l| l.contains("unreachable")));
    }

    #[test]
    fn authenticate_allow_for_other_user_is_auth_err() {
        let mut pam = FakePam::new("alice", "atk_secret");
        let daemon = FakeDaemon::answering(Verdict::Allow, "bob");
        assert_eq!(run(&mut pam, &[], &daemon), PamCode::AUTH_ERR);
    }

    #[test]
    fn authenticate_sends_user_secret_rhost_service() {
        let mut pam = FakePam::new("alice", "typed-secret");
        let daemon = FakeDaemon::answering(Verdict::Allow, "alice");
        run(&mut pam, &[], &daemon);
        let asked = daemon.asked.borrow();
        assert_eq!(
            asked[0],
            (
                "alice".into(),
                b"typed-secret".to_vec(),
                "192.0.2.7".into(),
                "sshd".into(),
                Via::Pam
            )
        );
    }

    #[test]
    fn authenticate_prompted_secret_is_stored_as_authtok() {
        let mut pam = FakePam::new("alice", "my password");
        let daemon = FakeDaemon::answering(Verdict::Ignore, "alice");
        assert_eq!(run(&mut pam, &["prompt=Token: "], &daemon), PamCode::IGNORE);
        assert_eq!(pam.prompts, ["Token: "]);
        assert_eq!(pam.authtok.as_deref(), Some(&b"my password"[..]));
    }

    #[test]
    fn authenticate_without_first_pass_prompts_despite_authtok() {
        let mut pam = FakePam::new("alice", "typed");
        pam.authtok = Some(b"earlier".to_vec());
        let daemon = FakeDaemon::answering(Verdict::Allow, "alice");
        run(&mut pam, &[], &daemon);
        assert_eq!(pam.prompts.len(), 1);
        assert_eq!(daemon.asked.borrow()[0].1, b"typed");
    }

    #[test]
    fn authenticate_try_first_pass_uses_authtok_without_prompt() {
        let mut pam = FakePam::new("alice", "typed");
        pam.authtok = Some(b"earlier".to_vec());
        let daemon = FakeDaemon::answering(Verdict::Allow, "alice");
        assert_eq!(
            run(&mut pam, &["try_first_pass"], &daemon),
            PamCode::SUCCESS
        );
        assert!(pam.prompts.is_empty());
        assert_eq!(daemon.asked.borrow()[0].1, b"earlier");
    }

    #[test]
    fn authenticate_try_first_pass_without_authtok_prompts() {
        let mut pam = FakePam::new("alice", "typed");
        let daemon = FakeDaemon::answering(Verdict::Allow, "alice");
        assert_eq!(
            run(&mut pam, &["try_first_pass"], &daemon),
            PamCode::SUCCESS
        );
        assert_eq!(pam.prompts.len(), 1);
        assert_eq!(daemon.asked.borrow()[0].1, b"typed");
    }

    #[test]
    fn authenticate_use_first_pass_without_authtok_is_auth_err() {
        let mut pam = FakePam::new("alice", "typed");
        let daemon = FakeDaemon::answering(Verdict::Allow, "alice");
        assert_eq!(
            run(&mut pam, &["use_first_pass"], &daemon),
            PamCode::AUTH_ERR
        );
        assert!(pam.prompts.is_empty());
        assert!(daemon.asked.borrow().is_empty());
    }

    #[test]
    fn authenticate_use_first_pass_with_authtok_asks_daemon() {
        let mut pam = FakePam::new("alice", "typed");
        pam.authtok = Some(b"earlier".to_vec());
        let daemon = FakeDaemon::answering(Verdict::Unauthorized, "alice");
        assert_eq!(
            run(&mut pam, &["use_first_pass"], &daemon),
            PamCode::AUTH_ERR
        );
        assert_eq!(daemon.asked.borrow()[0].1, b"earlier");
    }

    #[test]
    fn authenticate_conversation_failure_passes_code_through() {
        let mut pam = FakePam::new("alice", "x");
        pam.typed = None;
        let daemon = FakeDaemon::answering(Verdict::Allow, "alice");
        assert_eq!(run(&mut pam, &[], &daemon), PamCode::CONV_ERR);
        assert!(daemon.asked.borrow().is_empty());
    }

    #[test]
    fn authenticate_unknown_user_never_asks_daemon() {
        let mut pam = FakePam::new("alice", "x");
        pam.user = None;
        let daemon = FakeDaemon::answering(Verdict::Allow, "alice");
        assert_eq!(run(&mut pam, &[], &daemon), PamCode::USER_UNKNOWN);
        pam.user = Some(String::new());
        assert_eq!(run(&mut pam, &[], &daemon), PamCode::USER_UNKNOWN);
        assert!(daemon.asked.borrow().is_empty());
    }

    #[test]
    fn authenticate_logs_never_contain_secret() {
        for verdict in [Verdict::Unauthorized, Verdict::Error, Verdict::Allow] {
            let mut pam = FakePam::new("alice", "atk_TOPSECRET");
            run(
                &mut pam,
                &["debug", "bogus"],
                &FakeDaemon::answering(verdict, "alice"),
            );
            let logs = pam.logs.borrow();
            assert!(!logs.is_empty());
            assert!(logs.iter().all(|l| !l.contains("TOPSECRET")), "{logs:?}");
        }
    }

    #[test]
    fn authenticate_unknown_argument_is_logged() {
        let mut pam = FakePam::new("alice", "x");
        run(
            &mut pam,
            &["nullok"],
            &FakeDaemon::answering(Verdict::Allow, "alice"),
        );
        assert!(pam.logs.borrow().iter().any(|l| l.contains("nullok")));
    }
}

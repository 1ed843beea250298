//! The decision against a fake PAM handle and a fake daemon.

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

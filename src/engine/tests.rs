//! The rule matrix of SPEC §5 as a table, run against a real store and the real engine
//! (no front end): every row sets settings, asks one question and names the decision.

use super::*;
use crate::audit::Event;
use crate::config::Config;
use crate::store::TokenRecord;
use crate::token::Token;
use std::sync::atomic::Ordering;

struct Fixture {
    engine: Engine,
    _dir: tempfile::TempDir,
    root_token: String,
    user_token: String,
    expired_token: String,
    /// A token of `svc-ci` stored as an argon2id hash, as older releases did.
    legacy_token: String,
}

/// An argon2id PHC string of `t` with cheap parameters, as an older release stored it.
pub(super) fn legacy_phc(t: &Token) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let params = argon2::Params::new(64, 1, 1, None).unwrap();
    let salt = SaltString::encode_b64(&[9u8; 16]).unwrap();
    argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
        .hash_password(t.expose().as_bytes(), &salt)
        .unwrap()
        .to_string()
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::parse("[syslog]\nenabled = false\n[password]\nbackend = \"none\"\n[argon2]\nmemory_kib = 64\niterations = 1\n", std::path::Path::new("t")).unwrap();
    config.state_dir = dir.path().to_path_buf();
    let store = Arc::new(crate::store::SqliteStore::open(&dir.path().join("t.db")).unwrap());
    let add_with = |owner: &str, expires_at: Option<i64>, legacy: bool| {
        let t = Token::generate().unwrap();
        let rec = TokenRecord {
            id: t.id().into(),
            owner: owner.into(),
            name: String::new(),
            hash: if legacy {
                legacy_phc(&t)
            } else {
                crate::token::new_verifier(&t).unwrap()
            },
            created_at: 0,
            created_by: "root".into(),
            expires_at,
            last_used_at: None,
            last_used_ip: None,
            scopes: None,
            paths: String::new(),
            networks: String::new(),
            revoke_at: None,
            rotated_to: None,
            last_ips: String::new(),
        };
        store
            .insert_token(&rec, &Event::new("token.create", 0))
            .unwrap();
        t.expose().to_string()
    };
    let add = |owner: &str, expires_at: Option<i64>| add_with(owner, expires_at, false);
    let legacy_token = add_with("svc-ci", None, true);
    let root_token = add("root", None);
    let user_token = add("svc-ci", None);
    let expired_token = add("svc-ci", Some(1));
    Fixture {
        engine: Engine::new(config, store).unwrap(),
        _dir: dir,
        root_token,
        user_token,
        expired_token,
        legacy_token,
    }
}

#[derive(Clone, Copy)]
enum Secret {
    Root,
    User,
    Expired,
    Password,
    BadChecksum,
}

use Decision::{Forbidden, Ignore, Locked, Unauthorized};

/// An expected token success for `user` (the token id is checked to be present).
fn allow(user: &str) -> Decision {
    Decision::Allow {
        user: user.into(),
        token_id: None,
    }
}

/// Settings to apply, request kind, claimed user, secret, address, front end, expected.
type Row = (
    &'static [(&'static str, &'static str)],
    Kind,
    &'static str,
    Secret,
    ClientAddr,
    Via,
    Decision,
);

/// A client address from its text.
fn ip(s: &str) -> ClientAddr {
    ClientAddr::Ip(s.parse().unwrap())
}

/// The rule matrix: one row per question.
#[rustfmt::skip]
fn rule_table() -> Vec<Row> {
    // (settings, kind, claimed user, secret, address, via, expected decision)
    vec![
        (&[], Kind::Bearer, "", Secret::User, ip("192.0.2.1"), Via::Http, allow("svc-ci")),
        (&[], Kind::UserSecret, "svc-ci", Secret::User, ip("192.0.2.1"), Via::Http, allow("svc-ci")),
        (&[], Kind::UserSecret, "alice", Secret::User, ip("192.0.2.1"), Via::Http, Unauthorized(Reason::WrongUser)),
        (&[], Kind::Bearer, "", Secret::Expired, ip("192.0.2.1"), Via::Http, Unauthorized(Reason::Expired)),
        (&[], Kind::Bearer, "", Secret::BadChecksum, ip("192.0.2.1"), Via::Http, Unauthorized(Reason::InvalidToken)),
        (&[], Kind::UserSecret, "alice", Secret::Password, ip("192.0.2.1"), Via::Http, Unauthorized(Reason::BadPassword)),
        (&[], Kind::UserSecret, "alice", Secret::Password, ip("192.0.2.1"), Via::Pam, Ignore),
        // A mistyped token never falls through to the password stack.
        (&[], Kind::UserSecret, "svc-ci", Secret::BadChecksum, ip("192.0.2.1"), Via::Pam, Unauthorized(Reason::InvalidToken)),
        (&[], Kind::UserSecret, "alice", Secret::Password, ClientAddr::Unknown, Via::External, Unauthorized(Reason::BadPassword)),
        // allowed-networks applies to tokens and passwords, on every front end.
        (&[("allowed-networks", "10.0.0.0/8")], Kind::Bearer, "", Secret::User, ip("192.0.2.1"), Via::Http, Forbidden(Reason::IpDenied)),
        (&[("allowed-networks", "10.0.0.0/8")], Kind::Bearer, "", Secret::User, ip("10.1.1.1"), Via::Http, allow("svc-ci")),
        (&[("allowed-networks", "10.0.0.0/8")], Kind::Bearer, "", Secret::User, ClientAddr::Unknown, Via::Http, Forbidden(Reason::IpDenied)),
        (&[("allowed-networks", "10.0.0.0/8")], Kind::UserSecret, "svc-ci", Secret::User, ClientAddr::Local, Via::Pam, allow("svc-ci")),
        (&[("allowed-networks", "10.0.0.0/8")], Kind::UserSecret, "alice", Secret::Password, ip("192.0.2.1"), Via::Pam, Forbidden(Reason::IpDenied)),
        (&[("allowed-networks", "2001:db8::/32")], Kind::Bearer, "", Secret::User, ip("2001:db8::5"), Via::Http, allow("svc-ci")),
        // password-auth off: passwords and wrong tokens are 403; valid tokens still work.
        (&[("password-auth", "off")], Kind::UserSecret, "alice", Secret::Password, ip("192.0.2.1"), Via::Http, Forbidden(Reason::PasswordDisabled)),
        (&[("password-auth", "off")], Kind::UserSecret, "alice", Secret::Password, ip("192.0.2.1"), Via::Pam, Forbidden(Reason::PasswordDisabled)),
        (&[("password-auth", "off")], Kind::Bearer, "", Secret::BadChecksum, ip("192.0.2.1"), Via::Http, Forbidden(Reason::InvalidToken)),
        (&[("password-auth", "off")], Kind::Bearer, "", Secret::Password, ip("192.0.2.1"), Via::Http, Forbidden(Reason::PasswordDisabled)),
        (&[("password-auth", "off")], Kind::UserSecret, "alice", Secret::User, ip("192.0.2.1"), Via::Http, Forbidden(Reason::WrongUser)),
        (&[("password-auth", "off")], Kind::Bearer, "", Secret::User, ip("192.0.2.1"), Via::Http, allow("svc-ci")),
        // admin-only-create with regular-users-use-tokens.
        (&[("admin-only-create", "on"), ("regular-users-use-tokens", "off")], Kind::Bearer, "", Secret::User, ip("192.0.2.1"), Via::Http, Forbidden(Reason::OwnerNotAllowed)),
        (&[("admin-only-create", "on"), ("regular-users-use-tokens", "off")], Kind::Bearer, "", Secret::Root, ip("192.0.2.1"), Via::Http, allow("root")),
        (&[("admin-only-create", "on"), ("regular-users-use-tokens", "on")], Kind::Bearer, "", Secret::User, ip("192.0.2.1"), Via::Http, allow("svc-ci")),
        (&[("admin-only-create", "off"), ("regular-users-use-tokens", "off")], Kind::Bearer, "", Secret::User, ip("192.0.2.1"), Via::Http, allow("svc-ci")),
    ]
}

/// Applies row `i`'s settings, asks its question and compares the decision.
async fn check_row(f: &Fixture, i: usize, row: Row) {
    let (settings, kind, user, secret, addr, via, expected) = row;
    let mut s = Settings::default();
    for (k, v) in settings {
        s.set(k, v).unwrap();
    }
    f.engine.replace_settings(s);
    // A different last character: the checksum no longer matches (replacing it with
    // a fixed one would give the real token back when it already ends in that one).
    let (head, last) = f.user_token.split_at(f.user_token.len() - 1);
    let bad = format!("{head}{}", if last == "x" { "y" } else { "x" });
    let text = match secret {
        Secret::Root => f.root_token.as_str(),
        Secret::User => f.user_token.as_str(),
        Secret::Expired => f.expired_token.as_str(),
        Secret::Password => "hunter2",
        Secret::BadChecksum => bad.as_str(),
    };
    let req = AuthRequest {
        kind,
        user,
        secret: text.as_bytes(),
        addr,
        via,
        service: "test",
        method: "GET",
        uri: "/",
    };
    let got = f.engine.decide(&req).await;
    match expected {
        Decision::Allow { user, .. } => {
            assert!(
                matches!(&got, Decision::Allow { user: u, token_id: Some(_) } if *u == user),
                "row {i}: {got:?}"
            )
        }
        e => assert_eq!(got, e, "row {i}"),
    }
}

#[tokio::test]
async fn decide_rule_matrix() {
    let f = fixture();
    for (i, row) in rule_table().into_iter().enumerate() {
        check_row(&f, i, row).await;
    }
}

#[tokio::test]
async fn decide_lockout_blocks_valid_token_until_reset() {
    let f = fixture();
    let mut s = Settings::default();
    s.set("lockout-threshold", "2").unwrap();
    f.engine.replace_settings(s);
    let ask = |secret: &'static str| AuthRequest {
        kind: Kind::UserSecret,
        user: "svc-ci",
        secret: secret.as_bytes(),
        addr: ClientAddr::Local,
        via: Via::External,
        service: "t",
        method: "GET",
        uri: "/",
    };
    for _ in 0..2 {
        assert_eq!(
            f.engine.decide(&ask("wrong")).await,
            Unauthorized(Reason::BadPassword)
        );
    }
    let token: &'static str = Box::leak(f.user_token.clone().into_boxed_str());
    assert_eq!(f.engine.decide(&ask(token)).await, Locked);
    let bearer = AuthRequest {
        kind: Kind::Bearer,
        user: "",
        secret: token.as_bytes(),
        addr: ClientAddr::Local,
        via: Via::Http,
        service: "t",
        method: "GET",
        uri: "/",
    };
    assert_eq!(f.engine.decide(&bearer).await, Locked);
    f.engine.lockout.reset("svc-ci");
    assert!(matches!(
        f.engine.decide(&ask(token)).await,
        Decision::Allow { .. }
    ));
}

#[tokio::test]
async fn decide_deleted_token_is_refused_at_once() {
    let f = fixture();
    let req = AuthRequest {
        kind: Kind::Bearer,
        user: "",
        secret: f.user_token.as_bytes(),
        addr: ClientAddr::Local,
        via: Via::Http,
        service: "t",
        method: "GET",
        uri: "/",
    };
    assert!(matches!(
        f.engine.decide(&req).await,
        Decision::Allow { .. }
    ));
    assert_eq!(f.engine.verifier.cache().len(), 1);
    let id = f.user_token[4..12].to_string();
    let actor = Actor {
        user: "root",
        admin: true,
        via: Origin::Cli,
    };
    assert_eq!(
        f.engine
            .delete_tokens(actor, std::slice::from_ref(&id))
            .unwrap(),
        [id]
    );
    assert_eq!(
        f.engine.decide(&req).await,
        Unauthorized(Reason::InvalidToken)
    );
}

#[tokio::test]
async fn decide_concurrent_first_uses_of_legacy_token_hash_once_and_upgrade() {
    let f = Arc::new(fixture());
    let id = f.legacy_token[4..12].to_string();
    let mut handles = Vec::new();
    for _ in 0..8 {
        let f = f.clone();
        handles.push(tokio::spawn(async move {
            let req = AuthRequest {
                kind: Kind::Bearer,
                user: "",
                secret: f.legacy_token.as_bytes(),
                addr: ClientAddr::Local,
                via: Via::Http,
                service: "t",
                method: "GET",
                uri: "/",
            };
            f.engine.decide(&req).await
        }));
    }
    for h in handles {
        assert!(matches!(h.await.unwrap(), Decision::Allow { .. }));
    }
    assert_eq!(
        f.engine
            .metrics
            .argon2_verifications
            .load(Ordering::Relaxed),
        1
    );
    let stored = f.engine.store.token(&id).unwrap().unwrap().hash;
    assert!(stored.starts_with("$sha256$v=1$"), "{stored}");
    let token = Token::parse(&f.legacy_token).unwrap();
    assert_eq!(crate::token::sha256_verify(&token, &stored), Some(true));
}

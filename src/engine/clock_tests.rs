//! Time-dependent rules on a manual clock: expiry, the cache lifetime (never extended by
//! hits or by forged secrets) and the invalidation by the change operations, all without
//! sleeping.

use std::sync::Arc;

use super::change::NewToken;
use super::*;
use crate::clock::ManualClock;
use crate::store::SqliteStore;

const T0: i64 = 1_800_000_000;

fn engine(clock: Arc<ManualClock>) -> (Engine, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let text =
        "[syslog]\nenabled = false\n[password]\nbackend = \"none\"\n[cache]\nttl_seconds = 60\n";
    let config = Config::parse(text, std::path::Path::new("t")).unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("t.db")).unwrap());
    (Engine::with_clock(config, store, clock).unwrap(), dir)
}

const ROOT: Actor<'static> = Actor {
    user: "root",
    admin: true,
    via: Origin::Cli,
};

fn new_token(e: &Engine, expires_at: Option<i64>) -> String {
    let spec = NewToken {
        owner: "svc".into(),
        name: String::new(),
        expires_at,
        scopes: "read,write,login".into(),
        paths: String::new(),
        networks: String::new(),
    };
    e.insert_token(ROOT, &spec).unwrap().0.expose().to_string()
}

async fn ask(e: &Engine, secret: &str) -> Decision {
    let req = AuthRequest {
        kind: Kind::Bearer,
        user: "",
        secret: secret.as_bytes(),
        addr: ClientAddr::Local,
        via: Via::Http,
        service: "t",
        method: "GET",
        uri: "/",
    };
    e.decide(&req).await
}

fn allowed(d: &Decision) -> bool {
    matches!(d, Decision::Allow { .. })
}

#[tokio::test]
async fn decide_token_expires_at_its_time_on_the_clock() {
    let clock = Arc::new(ManualClock::at(T0));
    let (e, _dir) = engine(clock.clone());
    let token = new_token(&e, Some(T0 + 100));
    assert!(allowed(&ask(&e, &token).await));
    clock.advance(99);
    assert!(allowed(&ask(&e, &token).await));
    clock.advance(1);
    assert_eq!(
        ask(&e, &token).await,
        Decision::Unauthorized(Reason::Expired)
    );
}

#[tokio::test]
async fn cache_lifetime_is_counted_from_the_load_and_never_extended() {
    let clock = Arc::new(ManualClock::at(T0));
    let (e, _dir) = engine(clock.clone());
    let token = new_token(&e, None);
    assert!(allowed(&ask(&e, &token).await));
    // Removed behind the engine's back (as another host's change would be): the cached
    // record answers until its lifetime ends, hits and forged secrets notwithstanding.
    let id = token[4..12].to_string();
    e.store
        .delete_token(&id, &crate::audit::Event::new("token.delete", T0))
        .unwrap();
    let forged = crate::token::tests::forged(&id);
    for _ in 0..59 {
        clock.advance(1);
        assert!(allowed(&ask(&e, &token).await));
        assert_eq!(
            ask(&e, &forged).await,
            Decision::Unauthorized(Reason::InvalidToken)
        );
    }
    clock.advance(1);
    assert_eq!(
        ask(&e, &token).await,
        Decision::Unauthorized(Reason::InvalidToken),
        "60 s after the load the store is asked again"
    );
}

#[tokio::test]
async fn delete_through_the_core_applies_to_the_next_request() {
    let clock = Arc::new(ManualClock::at(T0));
    let (e, _dir) = engine(clock);
    let token = new_token(&e, None);
    assert!(allowed(&ask(&e, &token).await));
    e.delete_tokens(ROOT, &[token[4..12].to_string()]).unwrap();
    assert_eq!(
        ask(&e, &token).await,
        Decision::Unauthorized(Reason::InvalidToken)
    );
}

#[tokio::test]
async fn settings_change_keeps_the_cache_and_applies_at_once() {
    let clock = Arc::new(ManualClock::at(T0));
    let (e, _dir) = engine(clock);
    let token = new_token(&e, None);
    assert!(allowed(&ask(&e, &token).await));
    e.change_setting(ROOT, "allowed-networks", "10.0.0.0/8")
        .unwrap();
    assert_eq!(
        e.verifier.cache().len(),
        1,
        "a settings change must not flush the cache"
    );
    let req = AuthRequest {
        kind: Kind::Bearer,
        user: "",
        secret: token.as_bytes(),
        addr: ClientAddr::Ip("192.0.2.1".parse().unwrap()),
        via: Via::Http,
        service: "t",
        method: "GET",
        uri: "/",
    };
    assert_eq!(e.decide(&req).await, Decision::Forbidden(Reason::IpDenied));
}

#[tokio::test]
async fn decide_rotated_and_expired_token_is_rotated_as_its_listing_says() {
    let clock = Arc::new(ManualClock::at(T0));
    let (e, _dir) = engine(clock.clone());
    let token = new_token(&e, Some(T0 + 100));
    let id = crate::token::Token::parse(&token).unwrap().id().to_string();
    e.rotate(ROOT, &id, Some("10s"), None).unwrap();
    clock.advance(200);
    assert_eq!(
        ask(&e, &token).await,
        Decision::Unauthorized(Reason::Rotated)
    );
    let listed = e.token_for(ROOT, &id).unwrap();
    let state = crate::store::TokenState::at(listed.expires_at, listed.revoke_at, clock.now());
    assert_eq!(state, crate::store::TokenState::Rotated);
}

#[test]
fn session_ends_when_idle_past_its_limit_on_the_clock() {
    let clock = Arc::new(ManualClock::at(T0));
    let (e, _dir) = engine(clock.clone());
    let here = ClientAddr::Ip("192.0.2.7".parse().unwrap());
    let id = e.open_session("alice").unwrap();
    let idle = e.config().web.idle_minutes as i64 * 60;
    clock.advance(idle - 1);
    assert_eq!(
        e.session_user(&id, here).unwrap(),
        SessionCheck::User("alice".into())
    );
    // Each request starts the idle time again.
    clock.advance(idle - 1);
    assert_eq!(
        e.session_user(&id, here).unwrap(),
        SessionCheck::User("alice".into())
    );
    clock.advance(idle + 1);
    assert_eq!(e.session_user(&id, here).unwrap(), SessionCheck::Ended);
    let other = e.open_session("alice").unwrap();
    assert_ne!(other, id);
    e.end_session(&other).unwrap();
    assert_eq!(e.session_user(&other, here).unwrap(), SessionCheck::Ended);
}

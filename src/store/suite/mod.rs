//! The behaviour every [`Store`] backend must show, written against the trait only. A
//! backend runs the whole suite with [`store_suite!`], given an expression that makes a
//! fresh, empty store and something to keep alive while it is used (a temp dir, a
//! server): `store_suite!(fresh_postgres());`.

use super::{LastUsed, Store, TokenRecord};
use crate::audit::Event;

/// One `#[test]` per check of this module for the store made by `$make`.
/// `store_suite!(make)`: one `#[test]` per check. `store_suite!(in_one NAME, setup, make)`:
/// one `#[test]` named NAME that evaluates `setup` once (a server, stopped when the test
/// ends) and runs every check on its own fresh store from `make(&setup)`.
macro_rules! store_suite {
    (in_one $name:ident, $setup:expr, $make:path) => {
        $crate::store::suite::store_suite!(@list one $name $setup, $make);
    };
    ($make:expr) => {
        $crate::store::suite::store_suite!(@list each $make);
    };
    (@list $($how:tt)*) => {
        $crate::store::suite::store_suite!(@$($how)*;
            insert_list_delete_all_keeps_audit,
            insert_limited_refuses_over_max_without_event,
            delete_missing_records_nothing,
            rotate_marks_old_and_keeps_new,
            prune_deletes_ended_only,
            upgrade_verifier_is_compare_and_set,
            last_used_keeps_recent_and_skips_unknown,
            settings_roundtrip,
            paging_every_order_visits_each_row_once,
            paging_with_filter_and_cursor,
            audit_page_continues_before_cursor,
            failures_save_load_reset,
            failures_load_only_live_rows_within_bound,
            failures_expire_and_drop_bound_the_table,
            failures_update_is_read_modify_write,
            failures_update_serialises_concurrent_writers,
        );
    };
    (@each $make:expr; $($check:ident),* $(,)?) => {
        $(
            #[test]
            fn $check() {
                let (store, _keep) = $make;
                $crate::store::suite::$check(&store);
            }
        )*
    };
    (@one $name:ident $setup:expr, $make:path; $($check:ident),* $(,)?) => {
        #[test]
        fn $name() {
            let setup = $setup;
            $(
                eprintln!("store suite: {}", stringify!($check));
                let (store, _keep) = $make(&setup);
                $crate::store::suite::$check(&store);
            )*
        }
    };
}
pub(crate) use store_suite;

mod failures;
mod paging;
pub use failures::*;
pub use paging::*;

/// A token row with defaults; `n` spreads creation times.
pub fn record(id: &str, owner: &str) -> TokenRecord {
    TokenRecord {
        id: id.into(),
        owner: owner.into(),
        name: "n".into(),
        hash: "$argon2id$x".into(),
        created_at: 1,
        created_by: "root".into(),
        expires_at: None,
        last_used_at: None,
        last_used_ip: None,
        scopes: None,
        paths: String::new(),
        networks: String::new(),
        revoke_at: None,
        rotated_to: None,
        last_ips: String::new(),
    }
}

pub(super) fn event(name: &'static str, user: &str) -> Event {
    Event::new(name, 5).with("actor", "root").with("user", user)
}

pub(super) fn ids(rows: &[TokenRecord]) -> Vec<&str> {
    rows.iter().map(|t| t.id.as_str()).collect()
}

pub(super) fn events(store: &dyn Store) -> Vec<String> {
    let rows = store.audit(None, 0, 1000).unwrap();
    rows.into_iter().map(|r| r.event).collect()
}

pub fn insert_list_delete_all_keeps_audit(store: &dyn Store) {
    for (id, owner) in [
        ("aaaaaaaa", "alice"),
        ("bbbbbbbb", "alice"),
        ("cccccccc", "bob"),
    ] {
        store
            .insert_token(&record(id, owner), &event("token.create", owner))
            .unwrap();
    }
    assert_eq!(store.tokens(Some("alice")).unwrap().len(), 2);
    assert_eq!(store.tokens(None).unwrap().len(), 3);
    assert_eq!(store.counts().unwrap(), (3, 2));
    let mut e = event("token.delete_all", "alice");
    assert_eq!(store.delete_all("alice", &mut e).unwrap().len(), 2);
    assert_eq!(e.get("count"), Some("2"));
    assert!(store.token("aaaaaaaa").unwrap().is_none());
    assert_eq!(store.token("cccccccc").unwrap().unwrap().owner, "bob");
    let audit = store.audit(Some("alice"), 0, 100).unwrap();
    assert_eq!(audit[0].event, "token.delete_all");
    assert_eq!(audit[0].fields["count"], 2);
    assert_eq!(audit.len(), 3);
}

pub fn insert_limited_refuses_over_max_without_event(store: &dyn Store) {
    let mut expired = record("aaaaaaaa", "alice");
    expired.expires_at = Some(0);
    store
        .insert_token(&expired, &event("token.create", "alice"))
        .unwrap();
    let e = event("token.create", "alice");
    assert!(store
        .insert_token_limited(&record("bbbbbbbb", "alice"), &e, 1)
        .unwrap());
    assert!(!store
        .insert_token_limited(&record("cccccccc", "alice"), &e, 1)
        .unwrap());
    assert!(store.token("cccccccc").unwrap().is_none());
    assert!(store
        .insert_token_limited(&record("dddddddd", "bob"), &e, 1)
        .unwrap());
    assert_eq!(events(store).len(), 3);
}

pub fn delete_missing_records_nothing(store: &dyn Store) {
    store
        .insert_token(
            &record("aaaaaaaa", "alice"),
            &event("token.create", "alice"),
        )
        .unwrap();
    assert!(!store
        .delete_token("zzzzzzzz", &event("token.delete", "alice"))
        .unwrap());
    assert!(store
        .delete_token("aaaaaaaa", &event("token.delete", "alice"))
        .unwrap());
    assert_eq!(events(store), ["token.delete", "token.create"]);
}

pub fn rotate_marks_old_and_keeps_new(store: &dyn Store) {
    store
        .insert_token(
            &record("aaaaaaaa", "alice"),
            &event("token.create", "alice"),
        )
        .unwrap();
    let new = record("bbbbbbbb", "alice");
    store
        .rotate("aaaaaaaa", 99, &new, &event("token.rotate", "alice"))
        .unwrap();
    let old = store.token("aaaaaaaa").unwrap().unwrap();
    assert_eq!(
        (old.revoke_at, old.rotated_to.as_deref()),
        (Some(99), Some("bbbbbbbb"))
    );
    assert_eq!(store.token("bbbbbbbb").unwrap().unwrap(), new);
    assert_eq!(events(store)[0], "token.rotate");
}

pub fn prune_deletes_ended_only(store: &dyn Store) {
    let mut expired = record("aaaaaaaa", "alice");
    expired.expires_at = Some(10);
    let mut rotated = record("bbbbbbbb", "alice");
    rotated.revoke_at = Some(20);
    let mut later = record("cccccccc", "alice");
    later.expires_at = Some(1000);
    for t in [&expired, &rotated, &later] {
        store
            .insert_token(t, &event("token.create", "alice"))
            .unwrap();
    }
    let mut e = event("token.prune", "root");
    let mut gone = store.prune(100, &mut e).unwrap();
    gone.sort();
    assert_eq!(gone, ["aaaaaaaa", "bbbbbbbb"]);
    assert_eq!(e.get("count"), Some("2"));
    assert_eq!(ids(&store.tokens(None).unwrap()), ["cccccccc"]);
}

pub fn upgrade_verifier_is_compare_and_set(store: &dyn Store) {
    let up = event("token.upgrade", "alice");
    let add = event("token.create", "alice");
    store
        .insert_token(&record("aaaaaaaa", "alice"), &add)
        .unwrap();
    let upgrade = |old, new| store.upgrade_verifier("aaaaaaaa", old, new, &up).unwrap();
    assert!(!upgrade("$other", "$new"));
    assert!(upgrade("$argon2id$x", "$new"));
    assert!(!upgrade("$argon2id$x", "$newer"));
    assert!(!store
        .upgrade_verifier("zzzzzzzz", "$new", "$newer", &up)
        .unwrap());
    assert_eq!(store.token("aaaaaaaa").unwrap().unwrap().hash, "$new");
    assert_eq!(events(store), ["token.upgrade", "token.create"]);
    // A token deleted meanwhile stays deleted.
    store
        .delete_token("aaaaaaaa", &event("token.delete", "alice"))
        .unwrap();
    assert!(!upgrade("$new", "$newer"));
    assert!(store.token("aaaaaaaa").unwrap().is_none());
}

pub fn last_used_keeps_recent_and_skips_unknown(store: &dyn Store) {
    store
        .insert_token(
            &record("aaaaaaaa", "alice"),
            &event("token.create", "alice"),
        )
        .unwrap();
    let use_at = |at, ip: &str| LastUsed {
        id: "aaaaaaaa".into(),
        at,
        ip: Some(ip.into()),
        recent: vec![ip.into()],
    };
    let unknown = LastUsed {
        id: "zzzzzzzz".into(),
        ..use_at(1, "192.0.2.9")
    };
    store
        .record_last_used(&[use_at(7, "192.0.2.1"), unknown])
        .unwrap();
    store.record_last_used(&[use_at(9, "192.0.2.2")]).unwrap();
    let t = store.token("aaaaaaaa").unwrap().unwrap();
    assert_eq!(
        (t.last_used_at, t.last_used_ip.as_deref()),
        (Some(9), Some("192.0.2.2"))
    );
    assert_eq!(t.last_ips, "192.0.2.2,192.0.2.1");
    assert!(store.token("zzzzzzzz").unwrap().is_none());
}

pub fn settings_roundtrip(store: &dyn Store) {
    assert_eq!(
        store.settings().unwrap(),
        crate::settings::Settings::default()
    );
    store
        .set_setting("lockout-threshold", "3", &event("settings.change", "root"))
        .unwrap();
    store
        .set_setting("lockout-threshold", "4", &event("settings.change", "root"))
        .unwrap();
    assert_eq!(store.settings().unwrap().lockout_threshold, 4);
    assert_eq!(events(store), ["settings.change", "settings.change"]);
}

//! The store suite and the fleet-only behaviour against a real PostgreSQL server that the
//! test starts itself (tests/common/pg.rs).

use std::sync::atomic::{AtomicU32, Ordering};

use super::*;
use crate::config::{StoreBackend, StoreConfig};

#[path = "../../../tests/common/pg.rs"]
mod server;
use server::PgServer;

fn config_for(server: &PgServer, url: String) -> StoreConfig {
    StoreConfig {
        backend: StoreBackend::Postgres,
        url: Some(url),
        password_file: Some(server.password_file()),
        ..StoreConfig::default()
    }
}

/// A fresh, empty, migrated store in a new database of `server`.
fn fresh(server: &PgServer) -> (PgStore, ()) {
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!("suite_{}", N.fetch_add(1, Ordering::Relaxed));
    let url = server.database(&name);
    (PgStore::open(&config_for(server, url)).unwrap(), ())
}

crate::store::suite::store_suite!(in_one postgres_store_passes_the_store_suite, PgServer::start(), fresh);

#[test]
fn postgres_store_migrates_once_when_hosts_start_together() {
    let server = PgServer::start();
    let url = server.database("together");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = config_for(&server, url.clone());
            std::thread::spawn(move || PgStore::open(&c).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    let version = server.psql_in("together", "SELECT version FROM schema_version");
    assert_eq!(version.trim(), "4");
    let rows = server.psql_in("together", "SELECT COUNT(*) FROM schema_version");
    assert_eq!(rows.trim(), "1");
}

#[test]
fn postgres_store_wrong_password_names_the_database_not_the_secret() {
    let server = PgServer::start();
    let url = server.database("wrongpw");
    let dir = tempfile::tempdir().unwrap();
    let pw = dir.path().join("pw");
    std::fs::write(&pw, "not-the-password\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = StoreConfig {
        password_file: Some(pw),
        ..config_for(&server, url)
    };
    let err = PgStore::open(&config).err().unwrap().to_string();
    assert!(err.contains("database"), "{err}");
    assert!(!err.contains("not-the-password"), "{err}");
}

#[test]
fn postgres_store_change_log_names_each_change_in_order() {
    let server = PgServer::start();
    let (store, ()) = fresh(&server);
    let head = store.log_head().unwrap();
    let e = crate::store::suite::record("aaaaaaaa", "alice");
    let ev = Event::new("token.create", 1);
    store.insert_token(&e, &ev).unwrap();
    store.set_setting("lockout-threshold", "3", &ev).unwrap();
    store.delete_token("aaaaaaaa", &ev).unwrap();
    let (changes, last) = store.changes_after(head).unwrap();
    // The create names nothing to forget: a new id is in no cache.
    assert_eq!(changes.len(), 2);
    assert!(matches!(&changes[0], Applied::Settings(s) if s.lockout_threshold == 3));
    assert_eq!(changes[1], Applied::Token("aaaaaaaa".into()));
    assert!(store.changes_after(last).unwrap().0.is_empty());
}

#[test]
fn import_sqlite_twice_copies_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.db");
    let sqlite = crate::store::SqliteStore::open(&path).unwrap();
    let ev = |name| {
        Event::new(name, 7)
            .with("actor", "root")
            .with("user", "alice")
    };
    for id in ["aaaaaaaa", "bbbbbbbb"] {
        let mut t = crate::store::suite::record(id, "alice");
        t.hash = format!("$sha256$v=1$salt${id}");
        sqlite.insert_token(&t, &ev("token.create")).unwrap();
    }
    sqlite
        .set_setting("lockout-threshold", "7", &ev("settings.change"))
        .unwrap();
    drop(sqlite);
    let server = PgServer::start();
    let (store, ()) = fresh(&server);
    let first = store.import_sqlite(&path).unwrap();
    assert_eq!(
        first,
        Imported {
            tokens: 2,
            settings: 1,
            audit: 3
        }
    );
    let second = store.import_sqlite(&path).unwrap();
    assert_eq!(second, Imported::default());
    assert_eq!(store.counts().unwrap(), (2, 1));
    assert_eq!(
        store.token("bbbbbbbb").unwrap().unwrap().hash,
        "$sha256$v=1$salt$bbbbbbbb"
    );
    assert_eq!(store.settings().unwrap().lockout_threshold, 7);
    assert_eq!(store.audit(None, 0, 100).unwrap().len(), 3);
}

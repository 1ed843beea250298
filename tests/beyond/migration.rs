//! Schema migration 2 on a database written by a release without scopes: its tokens keep
//! every scope, its settings and audit trail survive. Its tokens are stored as argon2id
//! hashes with that release's default parameters: they still log in, and their first
//! successful use replaces the stored string by the current SHA-256 verifier.

use crate::common::Daemon;
use crate::nginx_harness::Nginx;
use crate::pam::{Outcome, Pam};
use crate::{assert_status, call, json, sqlite, TOKENS_ONLY};

/// The schema of version 1, exactly as that release created it.
const SCHEMA_V1: &str = "CREATE TABLE tokens (
        id TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        name TEXT NOT NULL,
        hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        expires_at INTEGER,
        last_used_at INTEGER,
        last_used_ip TEXT
    );
    CREATE INDEX tokens_owner ON tokens(owner);
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        time INTEGER NOT NULL,
        event TEXT NOT NULL,
        user TEXT,
        actor TEXT,
        fields TEXT NOT NULL
    );
    CREATE INDEX audit_user_time ON audit(user, time);
    CREATE INDEX audit_actor_time ON audit(actor, time);
    CREATE TABLE failures (
        user TEXT PRIMARY KEY,
        count INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        locked_until INTEGER
    );";

/// A real token and its hash as a release before the SHA-256 verifier stored it: argon2id
/// with that release's defaults (m=19456 KiB, t=2, p=1). (token, hash)
fn real_token() -> (String, String) {
    let token = apitokend::token::Token::generate().unwrap();
    let hash = crate::common::tokens::argon2_phc(token.expose(), 19456, 2);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    (token.expose().to_string(), hash)
}

/// Replaces the stopped daemon's database by one that release wrote: one token of alice's
/// (`id`, `hash`) last used from 192.0.2.9, a lockout threshold of 7 and one audit record.
fn write_v1_database(daemon: &Daemon, id: &str, hash: &str) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let path = format!("{}{suffix}", daemon.db_path().display());
        let _ = std::fs::remove_file(path);
    }
    sqlite(
        &daemon.db_path(),
        &format!(
            "{SCHEMA_V1}
             INSERT INTO tokens VALUES ('{id}', 'alice', 'from v1', '{hash}', 1700000000,
                 'root', NULL, 1700000100, '192.0.2.9');
             INSERT INTO settings VALUES ('lockout-threshold', '7');
             INSERT INTO audit (time, event, user, actor, fields) VALUES (1700000000,
                 'token.create', 'alice', 'root',
                 '{{\"actor\":\"root\",\"user\":\"alice\",\"token_id\":\"{id}\"}}');
             PRAGMA user_version = 1;"
        ),
    );
    std::fs::set_permissions(
        daemon.db_path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
}

/// Whether the audit list holds an `event` record for token `id`.
fn audited(daemon: &Daemon, event: &str, id: &str) -> (bool, serde_json::Value) {
    let audit = json(&daemon.cli(&["audit", "--json"]));
    let found = audit
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["event"] == event && e["token_id"] == id);
    (found, audit)
}

/// The migrated token lists with every scope and its old fields; the settings and the
/// audit trail survived; the schema is at its newest version.
fn assert_migrated(daemon: &Daemon, id: &str) {
    let listed = json(&daemon.cli(&["list", "--all", "--json"]));
    let t = &listed[0];
    assert_eq!(t["id"], id, "{listed}");
    assert_eq!(t["scopes"], "read,write,login", "{t}");
    assert_eq!(t["paths"], serde_json::json!([]), "{t}");
    assert_eq!(t["networks"], serde_json::json!([]), "{t}");
    assert_eq!(t["last_ip"], "192.0.2.9", "{t}");
    assert_eq!(t["state"], "active", "{t}");
    // The listing above also waited for the migrations: all four (the fourth counts
    // password checks in flight).
    assert_eq!(sqlite(&daemon.db_path(), "PRAGMA user_version;"), "4");
    assert_eq!(
        sqlite(
            &daemon.db_path(),
            &format!("SELECT scopes IS NULL FROM tokens WHERE id = '{id}';")
        ),
        "1",
        "migration must leave old tokens without a scope list"
    );

    let write = json(&daemon.cli(&["list", "--all", "--scope", "write", "--json"]));
    assert_eq!(write.as_array().unwrap().len(), 1, "{write}");
    let settings = json(&daemon.cli(&["settings", "--json"]));
    assert_eq!(settings["lockout-threshold"], 7, "{settings}");
    let (found, audit) = audited(daemon, "token.create", id);
    assert!(found, "{audit}");
}

/// The stored hash of token `id`.
fn stored(daemon: &Daemon, id: &str) -> String {
    sqlite(
        &daemon.db_path(),
        &format!("SELECT hash FROM tokens WHERE id = '{id}';"),
    )
}

/// The old token works for every method through nginx and through PAM.
fn assert_logs_in(daemon: &Daemon, token: &str) {
    let nginx = Nginx::start(&daemon.http_sock());
    for method in ["GET", "POST", "DELETE"] {
        assert_status(
            &call(&nginx, method, "/api/anything", token),
            200,
            &format!("{method} with a token from before scopes"),
        );
    }
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), token),
        Outcome::Success
    );
}

/// After a restart the upgraded verifier still answers on both front ends, and a second
/// use leaves it as it is.
fn assert_upgrade_kept(daemon: &mut Daemon, token: &str, id: &str, upgraded: &str) {
    // The upgraded verifier answers as the old one did, on every front end, also after a
    // restart (nothing but the stored string is left to check against).
    daemon.restart();
    let nginx = Nginx::start(&daemon.http_sock());
    assert_status(
        &call(&nginx, "GET", "/api/x", token),
        200,
        "after the upgrade",
    );
    let pam = Pam::shipped(&daemon.check_sock(), 3000, &[]);
    assert_eq!(
        pam.auth("alice", Some("192.0.2.10"), token),
        Outcome::Success
    );
    assert_eq!(
        stored(daemon, id),
        upgraded,
        "a second use must not rewrite it"
    );
}

#[test]
fn migration_v1_argon2_token_keeps_every_scope_and_is_upgraded_on_use() {
    let (token, hash) = real_token();
    let id = crate::id(&token);
    let mut daemon = Daemon::start_with(TOKENS_ONLY, &[]);
    // The sockets accept before the database is open: an answer means it is.
    daemon.cli_ok(&["status"]);
    daemon.kill();
    write_v1_database(&daemon, id, &hash);
    daemon.restart();
    assert_migrated(&daemon, id);
    assert_eq!(
        stored(&daemon, id),
        hash,
        "nothing may touch the hash before a use"
    );
    assert_logs_in(&daemon, &token);
    let upgraded = stored(&daemon, id);
    assert!(
        upgraded.starts_with("$sha256$v=1$"),
        "not upgraded after a successful use: {upgraded}"
    );
    assert!(
        !upgraded.contains(&token[13..]),
        "the secret reached the database"
    );
    let (found, audit) = audited(&daemon, "token.upgrade", id);
    assert!(found, "{audit}");
    assert_upgrade_kept(&mut daemon, &token, id, &upgraded);
}

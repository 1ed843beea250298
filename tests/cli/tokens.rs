//! Token lifecycle through the CLI: create, list, show, delete, delete --all, and what the
//! database keeps of it.

use crate::common::{ensure_user, stdout, Daemon};
use crate::{assert_code, assert_token_object, ids, json, secret_part, token_id};
use std::os::unix::fs::PermissionsExt;

#[test]
fn create_plain_prints_only_the_token() {
    let d = Daemon::start();
    let out = d.cli(&["create", "--name", "plain"]);
    assert_code(&out, 0);
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "stdout: {text:?}");
    let token = text.trim_end_matches('\n');
    assert!(
        token.starts_with("atk_") && token.len() == 4 + 8 + 1 + 32 + 6,
        "{token}"
    );
    let listed = json(&d.cli(&["list", "--json"]));
    assert_eq!(ids(&listed), vec![token_id(token).to_string()]);
}

#[test]
fn create_json_returns_token_object_with_token() {
    let d = Daemon::start();
    ensure_user("atk-cli-shape");
    let (token, v) = d.create_json(&[
        "--user",
        "atk-cli-shape",
        "--name",
        "ci job",
        "--expires",
        "30d",
    ]);
    assert_eq!(v["id"], token_id(&token));
    assert_eq!(v["user"], "atk-cli-shape");
    assert_eq!(v["name"], "ci job");
    assert_eq!(v["created_by"], "root");
    assert_eq!(v["state"], "active");
    assert!(v["expires"].is_string(), "{v}");
    assert!(v["last_used"].is_null() && v["last_ip"].is_null(), "{v}");
}

#[test]
fn list_json_has_spec_shape_and_no_secret() {
    let d = Daemon::start();
    let (token, _) = d.create_json(&["--name", "one"]);
    let out = d.cli(&["list", "--json"]);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret_part(&token)));
    let list = json(&out);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_token_object(&list[0]);
    assert_eq!(list[0]["name"], "one");
    assert_eq!(list[0]["user"], "root");
    assert!(
        list[0]["expires"].is_null(),
        "default max-validity is never: {list}"
    );
}

#[test]
fn list_human_is_an_aligned_table() {
    let d = Daemon::start();
    let token = d.create_token("root");
    let out = d.cli(&["list"]);
    assert_code(&out, 0);
    let text = stdout(&out);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let columns = [
        "ID",
        "USER",
        "NAME",
        "CREATED",
        "EXPIRES",
        "LAST USED",
        "LAST IP",
        "STATE",
    ];
    let mut at = 0;
    for col in columns {
        let pos = header[at..]
            .find(col)
            .unwrap_or_else(|| panic!("{col} missing or out of order: {header}"));
        at += pos + col.len();
    }
    let row = lines.next().unwrap();
    assert!(
        row.starts_with(token_id(&token)) && row.contains("never") && row.contains("active"),
        "{row}"
    );
    assert_eq!(
        header.find("USER"),
        row.find("root"),
        "USER column not aligned:\n{text}"
    );
    assert!(!text.contains(secret_part(&token)));
}

#[test]
fn show_json_returns_the_token_object() {
    let d = Daemon::start();
    let (token, _) = d.create_json(&["--name", "shown"]);
    let v = json(&d.cli(&["show", token_id(&token), "--json"]));
    assert_token_object(&v);
    assert_eq!(v["id"], token_id(&token));
    assert_eq!(v["name"], "shown");
    let human = d.cli(&["show", token_id(&token)]);
    assert_code(&human, 0);
    assert!(stdout(&human).contains("shown") && !stdout(&human).contains(secret_part(&token)));
}

#[test]
fn show_unknown_id_exits_not_found() {
    let d = Daemon::start();
    assert_code(&d.cli(&["show", "AAAAAAAA"]), 4);
    assert_code(&d.cli(&["delete", "AAAAAAAA"]), 4);
}

#[test]
fn delete_json_lists_deleted_ids_and_token_is_gone() {
    let d = Daemon::start();
    let a = d.create_token("root");
    let b = d.create_token("root");
    let keep = d.create_token("root");
    let v = json(&d.cli(&["delete", token_id(&a), token_id(&b), "--json"]));
    let mut deleted: Vec<&str> = v["deleted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    deleted.sort_unstable();
    let mut want = vec![token_id(&a), token_id(&b)];
    want.sort_unstable();
    assert_eq!(deleted, want);
    assert_eq!(
        ids(&json(&d.cli(&["list", "--json"]))),
        vec![token_id(&keep).to_string()]
    );
    assert_code(&d.cli(&["show", token_id(&a)]), 4);
}

#[test]
fn delete_whole_token_argument_deletes_by_id() {
    let d = Daemon::start();
    let t = d.create_token("root");
    let v = json(&d.cli(&["delete", &t, "--json"]));
    assert_eq!(v["deleted"], serde_json::json!([token_id(&t)]));
    assert_eq!(json(&d.cli(&["list", "--json"])), serde_json::json!([]));
}

#[test]
fn revoke_alias_deletes() {
    let d = Daemon::start();
    let t = d.create_token("root");
    assert_code(&d.cli(&["revoke", token_id(&t)]), 0);
    assert_eq!(json(&d.cli(&["list", "--json"])), serde_json::json!([]));
}

#[test]
fn delete_all_json_counts_and_spares_other_users() {
    let d = Daemon::start();
    ensure_user("atk-cli-delall");
    for _ in 0..3 {
        d.create_token("atk-cli-delall");
    }
    let other = d.create_token("root");
    let v = json(&d.cli(&["delete", "--all", "--user", "atk-cli-delall", "--json"]));
    assert_eq!(v["user"], "atk-cli-delall");
    assert_eq!(v["count"], 3);
    assert_eq!(
        json(&d.cli(&["list", "--user", "atk-cli-delall", "--json"])),
        serde_json::json!([])
    );
    assert_eq!(
        ids(&json(&d.cli(&["list", "--all", "--json"]))),
        vec![token_id(&other).to_string()]
    );
}

#[test]
fn delete_without_ids_is_usage_error() {
    let d = Daemon::start();
    assert_code(&d.cli(&["delete"]), 2);
    assert_code(&d.cli(&["delete", "--all"]), 2);
}

#[test]
fn help_of_every_subcommand_has_examples() {
    let d = Daemon::start();
    let subcommands = [
        "create", "list", "show", "delete", "settings", "allow-ip", "check-ip", "failures",
        "audit", "verify", "status",
    ];
    assert!(stdout(&d.cli(&["--help"])).contains("Examples:"));
    for sub in subcommands {
        let out = d.cli(&[sub, "--help"]);
        assert_code(&out, 0);
        assert!(
            stdout(&out).contains("Examples:"),
            "{sub} --help has no examples"
        );
    }
}

#[test]
fn list_few_hundred_tokens_returns_every_one() {
    let d = Daemon::start();
    ensure_user("atk-cli-many");
    let made: Vec<String> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..50)
                        .map(|_| d.create_token("atk-cli-many"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut want: Vec<String> = made.iter().map(|t| token_id(t).to_string()).collect();
    want.sort_unstable();
    let mut got = ids(&json(&d.cli(&["list", "--user", "atk-cli-many", "--json"])));
    got.sort_unstable();
    assert_eq!(got.len(), 400);
    assert_eq!(got, want);
    let human = d.cli(&["list", "--all"]);
    assert_code(&human, 0);
    assert_eq!(stdout(&human).lines().count(), 401);
}

#[test]
fn database_file_has_mode_0600_and_no_secret() {
    let d = Daemon::start();
    let tokens: Vec<String> = (0..3).map(|_| d.create_token("root")).collect();
    let mode = std::fs::metadata(d.db_path()).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "tokens.db mode {mode:o}");
    // SQLite keeps recent pages in -wal/-journal files next to the database; check them too.
    for entry in std::fs::read_dir(&d.state).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("tokens.db")
        {
            continue;
        }
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(
            mode & 0o077,
            0,
            "{} is readable by others: {mode:o}",
            path.display()
        );
        let bytes = std::fs::read(&path).unwrap();
        for token in &tokens {
            for needle in [
                token.as_str(),
                secret_part(token),
                &secret_part(token)[..32],
            ] {
                let found = bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
                assert!(!found, "{} holds a secret", path.display());
            }
        }
    }
}

#[test]
fn status_json_reports_version_uptime_and_counts() {
    let d = Daemon::start();
    ensure_user("atk-cli-status");
    d.create_token("atk-cli-status");
    d.create_token("root");
    let v = json(&d.cli(&["status", "--json"]));
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"), "{v}");
    assert!(v["uptime_seconds"].is_u64(), "{v}");
    assert_eq!(v["tokens"], 2, "{v}");
    assert_eq!(v["users"], 2, "{v}");
    let human = d.cli(&["status"]);
    assert_code(&human, 0);
    assert!(stdout(&human).contains("uptime"));
}

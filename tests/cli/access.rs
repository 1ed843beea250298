//! Who may do what (SPEC section 6): regular users manage their own tokens only; admins
//! (root and members of the admin group) act on anyone's tokens and on the settings.

use crate::common::{ensure_group_member, ensure_user, stderr, stdout, Daemon, ADMIN_GROUP};
use crate::{assert_code, ids, json, token_id};

#[test]
fn regular_user_manages_own_tokens() {
    let d = Daemon::start();
    let user = "atk-cli-own";
    ensure_user(user);
    let out = d.cli_as(user, &["create", "--name", "mine"]);
    assert_code(&out, 0);
    let token = stdout(&out);
    let list = json(&d.cli_as(user, &["list", "--json"]));
    assert_eq!(ids(&list), vec![token_id(&token).to_string()]);
    assert_eq!(list[0]["user"], user);
    assert_eq!(list[0]["created_by"], user);
    let shown = json(&d.cli_as(user, &["show", token_id(&token), "--json"]));
    assert_eq!(shown["user"], user);
    assert_code(&d.cli_as(user, &["delete", token_id(&token)]), 0);
    assert_eq!(
        json(&d.cli_as(user, &["list", "--json"])),
        serde_json::json!([])
    );
}

#[test]
fn regular_user_sees_only_own_tokens_in_list() {
    let d = Daemon::start();
    let user = "atk-cli-see";
    ensure_user(user);
    d.create_token("root");
    let mine = d.create_token(user);
    assert_eq!(
        ids(&json(&d.cli_as(user, &["list", "--json"]))),
        vec![token_id(&mine).to_string()]
    );
}

#[test]
fn regular_user_other_users_token_exits_permission_denied() {
    let d = Daemon::start();
    let user = "atk-cli-other";
    ensure_user(user);
    let roots = d.create_token("root");
    let id = token_id(&roots);
    let cases: [&[&str]; 6] = [
        &["delete", id],
        &["show", id],
        &["create", "--user", "root"],
        &["list", "--user", "root"],
        &["list", "--all"],
        &["delete", "--all", "--user", "root"],
    ];
    for args in cases {
        let out = d.cli_as(user, args);
        assert_code(&out, 3);
        assert!(
            stderr(&out).contains("admin"),
            "{args:?}: the message should say who may: {}",
            stderr(&out)
        );
    }
    assert_eq!(
        ids(&json(&d.cli(&["list", "--all", "--json"]))),
        vec![id.to_string()],
        "token survived"
    );
}

#[test]
fn regular_user_admin_commands_exit_permission_denied() {
    let d = Daemon::start();
    let user = "atk-cli-noadm";
    ensure_user(user);
    let cases: [&[&str]; 6] = [
        &["settings", "set", "max-validity", "1y"],
        &["allow-ip", "add", "10.0.0.0/8"],
        &["allow-ip", "clear"],
        &["failures"],
        &["failures", "reset", "root"],
        &["delete", "--all", "--user", user],
    ];
    for args in cases {
        let out = d.cli_as(user, args);
        assert_code(&out, 3);
        let said = stderr(&out);
        assert_eq!(
            said.lines().count(),
            1,
            "{args:?}: said more than once: {said}"
        );
    }
    let settings = json(&d.cli_as(user, &["settings", "--json"]));
    assert_eq!(
        settings["max-validity"], "never",
        "the refused change must not apply"
    );
}

#[test]
fn admin_group_member_changes_settings_and_others_tokens() {
    let d = Daemon::start();
    let admin = "atk-cli-admin1";
    let user = "atk-cli-victim";
    ensure_group_member(ADMIN_GROUP, admin);
    ensure_user(user);
    let v = json(&d.cli_as(admin, &["settings", "set", "max-validity", "1y", "--json"]));
    assert_eq!(v["max-validity"], "1y");
    assert_eq!(json(&d.cli(&["settings", "--json"]))["max-validity"], "1y");
    let out = d.cli_as(admin, &["create", "--user", user, "--name", "for victim"]);
    assert_code(&out, 0);
    let token = stdout(&out);
    let shown = json(&d.cli(&["show", token_id(&token), "--json"]));
    assert_eq!(shown["user"], user);
    assert_eq!(shown["created_by"], admin);
    assert_code(&d.cli_as(admin, &["delete", token_id(&token)]), 0);
    d.create_token(user);
    let all = json(&d.cli_as(admin, &["delete", "--all", "--user", user, "--json"]));
    assert_eq!(all["count"], 1);
}

/// `admin-only-create`: (setting, who runs `create`, for whom, expected exit status).
const ADMIN_ONLY_CREATE: [(&str, &str, Option<&str>, i32); 6] = [
    ("off", "atk-cli-aoc-user", None, 0),
    ("on", "atk-cli-aoc-user", None, 3),
    ("on", "atk-cli-aoc-admin", None, 0),
    ("on", "atk-cli-aoc-admin", Some("atk-cli-aoc-user"), 0),
    ("on", "root", Some("atk-cli-aoc-user"), 0),
    ("off", "atk-cli-aoc-user", None, 0),
];

#[test]
fn create_admin_only_create_table_decides_who_may() {
    let d = Daemon::start();
    ensure_user("atk-cli-aoc-user");
    ensure_group_member(ADMIN_GROUP, "atk-cli-aoc-admin");
    for (setting, actor, owner, want) in ADMIN_ONLY_CREATE {
        assert_code(
            &d.cli(&["settings", "set", "admin-only-create", setting]),
            0,
        );
        let mut args = vec!["create"];
        if let Some(owner) = owner {
            args.extend(["--user", owner]);
        }
        let out = if actor == "root" {
            d.cli(&args)
        } else {
            d.cli_as(actor, &args)
        };
        assert_eq!(
            crate::code(&out),
            want,
            "admin-only-create={setting}, {actor} creating for {owner:?}: {}",
            stderr(&out)
        );
        assert_eq!(
            stdout(&out).is_empty(),
            want != 0,
            "stdout must hold the token only on success"
        );
    }
}

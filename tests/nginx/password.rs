//! Passwords through nginx: the PAM fallback, `password-auth` off, and the lockout that
//! refuses even a valid token until an admin resets it.

use super::*;

/// A daemon whose password backend is PAM, with libpam redirected by pam_wrapper to a
/// service file that accepts `user`/`password` through pam_matrix.
fn start_with_pam_matrix(user: &str, password: &str) -> (Daemon, Nginx, tempfile::TempDir) {
    let (toml, env, pam_dir) = pam_matrix_backend(&[(user, password)]);
    let daemon = Daemon::start_with(&toml, &env_refs(&env));
    let nginx = Nginx::start(&daemon.http_sock());
    (daemon, nginx, pam_dir)
}

#[test]
fn nginx_password_fallback_through_pam_returns_200_with_password_method() {
    let user = unique_name("ngw");
    let password = "correct horse battery";
    let (_daemon, nginx, _pam) = start_with_pam_matrix(&user, password);
    let resp = nginx.api(Some(&basic(user.as_bytes(), password.as_bytes())));
    assert_allowed(&resp, &user, "password");
    assert_eq!(
        resp.echoed("token_id"),
        None,
        "a password login has no token id: {resp:?}"
    );
    assert_challenged(
        &nginx.api(Some(&basic(user.as_bytes(), b"wrong password"))),
        "wrong password",
    );
}

#[test]
fn nginx_password_auth_off_returns_403_for_password_and_wrong_token() {
    let user = unique_name("ngf");
    let password = "hunter2 hunter2";
    let (daemon, nginx, _pam) = start_with_pam_matrix(&user, password);
    let token = daemon.create_token(&user);
    let password_auth = basic(user.as_bytes(), password.as_bytes());
    assert_allowed(&nginx.api(Some(&password_auth)), &user, "password");

    daemon.cli_ok(&["settings", "set", "password-auth", "off"]);
    assert_forbidden(
        &nginx.api(Some(&password_auth)),
        "correct password while password-auth is off",
    );
    assert_forbidden(
        &nginx.api(Some(&basic(user.as_bytes(), b"wrong"))),
        "wrong password while off",
    );
    assert_forbidden(
        &nginx.api(Some(&bearer(&forged_token(token_id(&token))))),
        "wrong token while off",
    );
    assert_forbidden(
        &nginx.api(Some(&bearer(&bad_checksum(&token)))),
        "bad checksum while off",
    );
    assert_allowed(&nginx.api(Some(&bearer(&token))), &user, "token");
}

#[test]
fn nginx_lockout_after_threshold_returns_403_for_valid_token_until_reset() {
    let (daemon, nginx) = start_tokens_only();
    let user = unique_name("ngl");
    let token = daemon.create_token(&user);
    let valid = basic(user.as_bytes(), token.as_bytes());
    assert_allowed(&nginx.api(Some(&valid)), &user, "token");

    daemon.cli_ok(&["settings", "set", "lockout-threshold", "3"]);
    // Wrong passwords count; forged tokens for the user's own id do not (SPEC §13: a
    // public token id is not a weapon), so they cannot lock the owner out.
    let forged = forged_token(token_id(&token));
    assert_eq!(
        nginx
            .api(Some(&basic(user.as_bytes(), forged.as_bytes())))
            .status,
        401
    );
    let statuses: Vec<u16> = ["guess1", "guess2", "guess3"]
        .iter()
        .map(|p| {
            nginx
                .api(Some(&basic(user.as_bytes(), p.as_bytes())))
                .status
        })
        .collect();
    assert!(
        statuses[..2].iter().all(|s| *s == 401),
        "failures before the lock: {statuses:?}"
    );
    assert!(
        matches!(statuses[2], 401 | 403),
        "third failure: {statuses:?}"
    );
    assert_forbidden(
        &nginx.api(Some(&valid)),
        "valid cached token of a locked-out user",
    );
    assert_forbidden(
        &nginx.api(Some(&bearer(&token))),
        "valid bearer token of a locked-out user",
    );
    daemon.wait_syslog(&["event=user.lockout", &format!("user={user}")]);

    let failures = daemon.cli_json(&["failures", "--json"]);
    let entry = failures
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["user"] == user.as_str())
        .unwrap_or_else(|| panic!("{user} missing from failures: {failures}"));
    assert!(entry["failures"].as_u64().unwrap() >= 3, "{entry}");
    assert!(
        entry["locked_until"].is_string(),
        "not shown as locked: {entry}"
    );

    daemon.cli_ok(&["failures", "reset", &user]);
    assert_allowed(&nginx.api(Some(&valid)), &user, "token");
}

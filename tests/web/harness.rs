//! The web face's test harness: a daemon whose password backend is PAM redirected by
//! pam_wrapper to pam_matrix (known users and passwords, no host accounts needed), and a
//! small HTTP client for `web.sock` that keeps a session's cookie and CSRF token.
#![allow(dead_code)]

use serde_json::Value;
use std::path::PathBuf;

use crate::common::http::{unix_request, Response};
use crate::common::pam::{env_refs, pam_matrix_backend};
use crate::common::tokens::{basic, bearer};
use crate::common::Daemon;

/// root is an admin (uid 0); the others are not Unix accounts, so they are regular users.
pub const ROOT_PASSWORD: &str = "root web password";
pub const USER_PASSWORD: &str = "user web password";

/// A daemon with PAM passwords for root and `users`.
pub struct WebDaemon {
    pub daemon: Daemon,
    _pam: tempfile::TempDir,
}

impl WebDaemon {
    /// Starts one; `extra_toml` adds whole sections.
    pub fn start(users: &[&str], extra_toml: &str) -> WebDaemon {
        let mut passwords = vec![("root", ROOT_PASSWORD)];
        passwords.extend(users.iter().map(|u| (*u, USER_PASSWORD)));
        let (pam_toml, env, pam) = pam_matrix_backend(&passwords);
        let daemon = Daemon::start_with(&format!("{pam_toml}{extra_toml}"), &env_refs(&env));
        wait_web(&daemon);
        WebDaemon { daemon, _pam: pam }
    }

    pub fn web_sock(&self) -> PathBuf {
        self.daemon.runtime.join("web.sock")
    }

    /// One request to `web.sock`, from 127.0.0.1 (as nginx says) unless `X-Real-IP` is given.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Response {
        let mut all = headers.to_vec();
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("x-real-ip"))
        {
            all.push(("X-Real-IP", b"127.0.0.1"));
        }
        unix_request(&self.web_sock(), method, path, &all, body)
    }

    /// A JSON request with the given Authorization header value.
    pub fn with_auth(
        &self,
        method: &str,
        path: &str,
        auth: &[u8],
        body: Option<&Value>,
    ) -> Response {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers: Vec<(&str, &[u8])> = vec![("Authorization", auth)];
        if body.is_some() {
            headers.push(("Content-Type", b"application/json"));
        }
        self.call(method, path, &headers, text.as_bytes())
    }

    /// With a Bearer token.
    pub fn bearer(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Response {
        self.with_auth(method, path, &bearer(token), body)
    }

    /// With HTTP Basic.
    pub fn basic(
        &self,
        method: &str,
        path: &str,
        user: &str,
        secret: &str,
        body: Option<&Value>,
    ) -> Response {
        self.with_auth(
            method,
            path,
            &basic(user.as_bytes(), secret.as_bytes()),
            body,
        )
    }

    /// `POST /api/v1/session`.
    pub fn login_response(&self, user: &str, password: &str, extra: &[(&str, &[u8])]) -> Response {
        let body = serde_json::json!({ "user": user, "password": password }).to_string();
        let mut headers: Vec<(&str, &[u8])> = vec![("Content-Type", b"application/json")];
        headers.extend_from_slice(extra);
        self.call("POST", "/api/v1/session", &headers, body.as_bytes())
    }

    /// Logs in and returns the session.
    pub fn login(&self, user: &str, password: &str) -> Session {
        let resp = self.login_response(user, password, &[]);
        assert_eq!(resp.status, 201, "login as {user}: {resp:?}");
        Session::from_login(&resp)
    }

    /// A manage-scope token for `user`, made with the CLI as root.
    pub fn manage_token(&self, user: &str) -> String {
        self.daemon.cli_ok(&[
            "create", "--user", user, "--scope", "manage", "--name", "api",
        ])
    }
}

/// A logged-in session: its cookie and CSRF token.
#[derive(Clone)]
pub struct Session {
    pub cookie: String,
    pub csrf: String,
    pub set_cookie: String,
}

impl Session {
    pub fn from_login(resp: &Response) -> Session {
        let set_cookie = resp
            .header("set-cookie")
            .expect("a Set-Cookie header")
            .to_string();
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let csrf = json(resp)["csrf"].as_str().unwrap().to_string();
        Session {
            cookie,
            csrf,
            set_cookie,
        }
    }

    /// A request on this session with its CSRF token.
    pub fn send(&self, w: &WebDaemon, method: &str, path: &str, body: Option<&Value>) -> Response {
        self.send_csrf(w, method, path, body, Some(&self.csrf))
    }

    /// A request on this session with the given CSRF header (or none).
    pub fn send_csrf(
        &self,
        w: &WebDaemon,
        method: &str,
        path: &str,
        body: Option<&Value>,
        csrf: Option<&str>,
    ) -> Response {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        let mut headers: Vec<(&str, &[u8])> = vec![("Cookie", self.cookie.as_bytes())];
        if let Some(c) = csrf {
            headers.push(("X-CSRF-Token", c.as_bytes()));
        }
        if body.is_some() {
            headers.push(("Content-Type", b"application/json"));
        }
        w.call(method, path, &headers, text.as_bytes())
    }

    pub fn get(&self, w: &WebDaemon, path: &str) -> Response {
        self.send_csrf(w, "GET", path, None, None)
    }
}

/// The body as JSON.
#[track_caller]
pub fn json(resp: &Response) -> Value {
    resp.json()
}

/// The CLI's `--json` output, asserting that the command succeeded.
#[track_caller]
pub fn json_cli(w: &WebDaemon, args: &[&str]) -> Value {
    w.daemon.cli_json(args)
}

/// Asserts a JSON error with `status` and `code`.
#[track_caller]
pub fn assert_error(resp: &Response, status: u16, code: &str) {
    assert_eq!(resp.status, status, "{resp:?}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/json"),
        "{resp:?}"
    );
    assert_eq!(json(resp)["error"]["code"], code, "{resp:?}");
    assert!(json(resp)["error"]["message"]
        .as_str()
        .is_some_and(|m| !m.is_empty()));
}

/// Waits for `web.sock`: the common harness waits for http.sock and admin.sock only.
pub fn wait_web(daemon: &Daemon) {
    let sock = daemon.runtime.join("web.sock");
    let up = crate::common::eventually(std::time::Duration::from_secs(10), || {
        std::os::unix::net::UnixStream::connect(&sock).is_ok()
    });
    assert!(up, "web.sock not ready");
}

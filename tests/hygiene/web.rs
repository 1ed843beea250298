//! The web face with the known secrets: a password login, tokens made through the REST
//! API and the page (their creation answers are the one place they may appear), then
//! every page and listing after that, and the errors of wrong or misplaced secrets.

use super::*;

const JSON: (&str, &[u8]) = ("Content-Type", b"application/json");

/// A request to `web.sock` from 192.0.2.7, as nginx sends it.
fn web(
    daemon: &Daemon,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Response {
    let mut all: Vec<(&str, &[u8])> = vec![("X-Real-IP", b"192.0.2.7")];
    all.extend_from_slice(headers);
    unix_request(&daemon.runtime.join("web.sock"), method, path, &all, body)
}

fn json_field(resp: &Response, key: &str) -> String {
    resp.json()[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key}: {resp:?}"))
        .to_string()
}

/// A logged-in session.
struct WebSession {
    cookie: String,
    csrf: String,
}

impl WebSession {
    fn headers(&self) -> Vec<(&str, &[u8])> {
        vec![
            ("Cookie", self.cookie.as_bytes()),
            ("X-CSRF-Token", self.csrf.as_bytes()),
            JSON,
        ]
    }

    fn id(&self) -> Vec<u8> {
        self.cookie.split_once('=').unwrap().1.as_bytes().to_vec()
    }
}

/// Refused logins (searched), then the good one (only its body is searched: its
/// `Set-Cookie` carries the session id, a secret of its own).
fn log_in(
    daemon: &Daemon,
    hay: &mut Haystacks,
    user: &str,
    password: &str,
    token: &str,
) -> WebSession {
    let up = common::eventually(Duration::from_secs(10), || {
        UnixStream::connect(daemon.runtime.join("web.sock")).is_ok()
    });
    assert!(up, "web.sock not served");
    let login = |secret: &str| {
        let body = serde_json::json!({ "user": user, "password": secret }).to_string();
        web(daemon, "POST", "/api/v1/session", &[JSON], body.as_bytes())
    };
    for (what, secret) in [("wrong password", "not it"), ("a token as password", token)] {
        let resp = login(secret);
        assert!(resp.status >= 400, "{what}: {resp:?}");
        hay.add_response(&format!("web login with {what}"), &resp);
    }
    let ok = login(password);
    assert_eq!(ok.status, 201, "{ok:?}");
    hay.add("web login: body", ok.body.clone());
    let set_cookie = ok.header("set-cookie").unwrap();
    WebSession {
        cookie: set_cookie.split(';').next().unwrap().to_string(),
        csrf: json_field(&ok, "csrf"),
    }
}

/// Makes tokens through the REST API, the page's form and a rotation; returns them and
/// the id of the rotated one. Their creation answers are not searched.
fn create(daemon: &Daemon, s: &WebSession) -> (Vec<(&'static str, String)>, String) {
    let rest = web(
        daemon,
        "POST",
        "/api/v1/tokens",
        &s.headers(),
        br#"{"name":"web-rest"}"#,
    );
    assert_eq!(rest.status, 201, "{rest:?}");
    let form = format!("csrf={}&name=web-form&scope_read=on", s.csrf);
    let page = web(
        daemon,
        "POST",
        "/tokens",
        &[
            ("Cookie", s.cookie.as_bytes()),
            ("Content-Type", b"application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    );
    assert_eq!(page.status, 201, "{page:?}");
    let text = page.text();
    let form_token = text
        .split("id=\"new-token\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap();
    assert!(form_token.starts_with("atk_"), "{form_token}");
    let rotate = format!("/api/v1/tokens/{}/rotate", json_field(&rest, "id"));
    let rotated = web(daemon, "POST", &rotate, &s.headers(), b"{}");
    assert_eq!(rotated.status, 201, "{rotated:?}");
    let made = vec![
        ("web REST token", json_field(&rest, "token")),
        ("web form token", form_token.to_string()),
        ("web rotated token", json_field(&rotated, "token")),
    ];
    (made, json_field(&rotated, "id"))
}

/// A request's label, method, path, headers and body.
type Sent<'a> = (
    &'a str,
    &'a str,
    &'a str,
    Vec<(&'a str, &'a [u8])>,
    &'a [u8],
);

/// Secrets where they do not belong: each refused, none quoted back.
fn misplace(
    daemon: &Daemon,
    hay: &mut Haystacks,
    s: &WebSession,
    user: &str,
    tokens: &[String],
    id: &str,
) {
    let read_bearer = bearer(&tokens[1]);
    let user_token = basic(user.as_bytes(), tokens[2].as_bytes());
    let as_name = format!("{{\"name\":\"{}\"}}", tokens[0]);
    let rename = format!("/api/v1/tokens/{id}");
    let session = s.headers();
    let sent: [Sent; 3] = [
        (
            "a read token as Bearer",
            "GET",
            "/api/v1/tokens",
            vec![JSON, ("Authorization", &read_bearer)],
            b"",
        ),
        (
            "Basic user:token",
            "GET",
            "/api/v1/me",
            vec![JSON, ("Authorization", &user_token)],
            b"",
        ),
        (
            "a token as a name",
            "PATCH",
            &rename,
            session,
            as_name.as_bytes(),
        ),
    ];
    for (what, method, path, headers, body) in sent {
        let resp = web(daemon, method, path, &headers, body);
        assert!(resp.status >= 400, "{what}: {resp:?}");
        hay.add_response(&format!("web {what}"), &resp);
    }
}

/// Drives the web face; returns the secrets it made: the tokens created there and the
/// session id.
pub(super) fn exercise_web(
    daemon: &Daemon,
    hay: &mut Haystacks,
    user: &str,
    password: &str,
    tokens: &[String],
) -> Vec<(String, Vec<u8>)> {
    let s = log_in(daemon, hay, user, password, &tokens[0]);
    let (made, id) = create(daemon, &s);
    // Everything after the creations: pages, listings, the audit trail.
    let one = format!("/api/v1/tokens/{id}");
    for path in [
        "/",
        "/?tab=mine",
        "/?tab=audit",
        "/?tab=settings",
        "/api/v1/me",
        "/api/v1/tokens",
        &one,
        "/api/v1/audit?limit=1000",
    ] {
        let resp = web(daemon, "GET", path, &s.headers(), b"");
        assert_eq!(resp.status, 200, "{path}: {resp:?}");
        hay.add_response(&format!("web GET {path}"), &resp);
    }
    misplace(daemon, hay, &s, user, tokens, &id);
    let mut needles = vec![("the session id".to_string(), s.id())];
    for (label, t) in &made {
        needles.extend(token_needles(label, t));
    }
    needles
}

//! Through a real nginx configured with the shipped `packaging/nginx/apitokend-web.conf`,
//! verbatim but for the socket path: the prefix, the cookie's path, the client address
//! and the JSON errors all survive the proxy.

use serde_json::json;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Child;
use std::time::Duration;

use crate::common::http::{free_port, tcp_request, Response};
use crate::harness::{assert_error, json, WebDaemon, ROOT_PASSWORD};
use crate::nginx_harness;

const SHIPPED_SOCKET: &str = "/run/apitokend/web.sock";

/// nginx with the shipped web snippet in its one server block; stopped on drop.
pub struct WebNginx {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl WebNginx {
    pub fn start(web_sock: &Path) -> WebNginx {
        let snippet_path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("packaging/nginx/apitokend-web.conf");
        let snippet = std::fs::read_to_string(&snippet_path).unwrap();
        assert!(
            snippet.contains(SHIPPED_SOCKET),
            "the snippet no longer names {SHIPPED_SOCKET}"
        );
        let snippet = snippet.replace(SHIPPED_SOCKET, &web_sock.display().to_string());
        let dir = tempfile::Builder::new()
            .prefix("apitokend-webnginx")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let port = free_port();
        let d = dir.path().display();
        let user = nginx_harness::user_directive();
        let conf = format!(
            "worker_processes 1;\ndaemon off;\n{user}\npid {d}/nginx.pid;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 64; }}\nhttp {{\n access_log {d}/access.log;\n\
             client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n fastcgi_temp_path {d}/fcgi;\n\
             uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n server {{\n listen 127.0.0.1:{port};\n\
             {snippet}\n }}\n}}\n"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).unwrap();
        let child = nginx_harness::spawn(dir.path(), &path);
        let nginx = WebNginx { dir, port, child };
        let up = crate::common::eventually(Duration::from_secs(20), || {
            tcp_request(port, "GET", "/tokens/api/v1/openapi.json", &[], b"")
                .is_ok_and(|r| r.status == 200)
        });
        assert!(
            up,
            "nginx did not come up: {}",
            std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
        );
        nginx
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> Response {
        tcp_request(self.port, method, path, headers, body).unwrap()
    }
}

impl Drop for WebNginx {
    fn drop(&mut self) {
        nginx_harness::stop(&mut self.child);
    }
}

const JSON_CONTENT: (&str, &[u8]) = ("Content-Type", b"application/json");

/// A session cookie and its CSRF token, used through nginx.
struct Proxied<'a> {
    nginx: &'a WebNginx,
    cookie: String,
    csrf: String,
}

impl Proxied<'_> {
    /// Logs root in through nginx and checks the cookie nginx passes back.
    fn login(nginx: &WebNginx) -> Proxied<'_> {
        let login = nginx.call(
            "POST",
            "/tokens/api/v1/session",
            &[JSON_CONTENT],
            json!({"user": "root", "password": ROOT_PASSWORD})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(login.status, 201, "{login:?}");
        let set_cookie = login.header("set-cookie").unwrap().to_string();
        assert!(
            set_cookie.contains("Path=/tokens/")
                && set_cookie.contains("HttpOnly")
                && set_cookie.contains("SameSite=Strict")
                && !set_cookie.contains("Secure"),
            "{set_cookie}"
        );
        let cookie = set_cookie.split(';').next().unwrap().to_string();
        let csrf = json(&login)["csrf"].as_str().unwrap().to_string();
        Proxied {
            nginx,
            cookie,
            csrf,
        }
    }

    /// Sends the raw body with the cookie and the CSRF token.
    fn raw(&self, method: &str, path: &str, body: &[u8]) -> Response {
        self.nginx.call(
            method,
            path,
            &[
                JSON_CONTENT,
                ("Cookie", self.cookie.as_bytes()),
                ("X-CSRF-Token", self.csrf.as_bytes()),
            ],
            body,
        )
    }

    fn with(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> Response {
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        self.raw(method, path, text.as_bytes())
    }
}

#[test]
fn web_through_nginx_snippet_sessions_tokens_and_errors() {
    let w = WebDaemon::start(&[], "");
    let nginx = WebNginx::start(&w.web_sock());
    let p = Proxied::login(&nginx);
    let made = p.with(
        "POST",
        "/tokens/api/v1/tokens",
        Some(json!({"name": "via nginx"})),
    );
    assert_eq!(made.status, 201, "{made:?}");
    let id = json(&made)["id"].as_str().unwrap().to_string();
    let list = json(&p.with("GET", "/tokens/api/v1/tokens", None));
    assert_eq!(list["tokens"][0]["id"], id.as_str());
    client_address_is_the_one_nginx_saw(&w, &p);
    errors_keep_their_json(&p, &id);
    assert_eq!(
        p.with("DELETE", &format!("/tokens/api/v1/tokens/{id}"), None)
            .status,
        204
    );
    let out = p.with("DELETE", "/tokens/api/v1/session", None);
    assert_eq!(out.status, 204, "{out:?}");
    assert_error(
        &p.with("GET", "/tokens/api/v1/me", None),
        401,
        "unauthorized",
    );
    // A manage token over nginx, Bearer.
    let t = w.manage_token("root");
    let me = nginx.call(
        "GET",
        "/tokens/api/v1/me",
        &[("Authorization", &crate::common::tokens::bearer(&t))],
        b"",
    );
    assert_eq!(me.status, 200, "{me:?}");
}

/// The client address nginx saw is the one the daemon judged; a client's own X-Real-IP
/// is replaced by nginx.
fn client_address_is_the_one_nginx_saw(w: &WebDaemon, p: &Proxied) {
    assert!(w
        .daemon
        .cli(&["allow-ip", "add", "192.0.2.0/24"])
        .status
        .success());
    assert_error(&p.with("GET", "/tokens/api/v1/me", None), 403, "ip_denied");
    assert!(w.daemon.cli(&["allow-ip", "clear"]).status.success());
    assert!(w
        .daemon
        .cli(&["allow-ip", "add", "192.0.2.0/24"])
        .status
        .success());
    let spoof = p.nginx.call(
        "GET",
        "/tokens/api/v1/me",
        &[("Cookie", p.cookie.as_bytes()), ("X-Real-IP", b"192.0.2.1")],
        b"",
    );
    assert_error(&spoof, 403, "ip_denied");
    assert!(w.daemon.cli(&["allow-ip", "clear"]).status.success());
}

/// Errors keep their JSON through the proxy, the 413 included.
fn errors_keep_their_json(p: &Proxied, id: &str) {
    let big = format!("{{\"name\":\"{}\"}}", "a".repeat(70 * 1024));
    let r = p.raw("POST", "/tokens/api/v1/tokens", big.as_bytes());
    assert_error(&r, 413, "too_large");
    assert_error(
        &p.with(
            "POST",
            "/tokens/api/v1/tokens",
            Some(json!({"expires": "nope"})),
        ),
        400,
        "malformed",
    );
    let no_csrf = p.nginx.call(
        "DELETE",
        &format!("/tokens/api/v1/tokens/{id}"),
        &[("Cookie", p.cookie.as_bytes())],
        b"",
    );
    assert_error(&no_csrf, 403, "csrf");
}

//! python-requests and curl with credentials in `.netrc`, as scripts use tokens: through
//! the shipped nginx snippet, with the refusal reason passed on when the admin asks.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use crate::common::run::run_with_input;
use crate::common::Daemon;
use crate::nginx_harness::{Nginx, Options};
use crate::{require, shown, token};

const PYTHON: &str = "/usr/bin/python3";

/// A home directory with `.netrc` (mode 0600) holding `login user password secret`.
fn home_with_netrc(user: &str, secret: &str) -> tempfile::TempDir {
    let home = tempfile::Builder::new()
        .prefix("apitokend-netrc")
        .tempdir()
        .unwrap();
    let netrc = home.path().join(".netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login {user} password {secret}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&netrc, std::fs::Permissions::from_mode(0o600)).unwrap();
    home
}

/// `requests.request(method, url)` with the credentials from `$HOME/.netrc`; returns
/// the status and the X-Auth-Reason header (empty when absent).
fn python_requests(home: &Path, method: &str, url: &str) -> (u16, String) {
    require(PYTHON, "python3");
    let probe = Command::new(PYTHON)
        .args(["-c", "import requests"])
        .output()
        .unwrap();
    assert!(
        probe.status.success(),
        "python3 cannot import requests: `apt-get install python3-requests` (or `bash \
         tests/run.sh`): {}",
        shown(&probe)
    );
    let script = "import sys, requests\n\
                  r = requests.request(sys.argv[1], sys.argv[2], timeout=20)\n\
                  print(r.status_code, r.headers.get('X-Auth-Reason', ''))\n";
    let mut cmd = Command::new(PYTHON);
    cmd.args(["-", method, url])
        .env("HOME", home)
        .env_remove("NETRC");
    let out = run_with_input(&mut cmd, script.as_bytes());
    assert!(out.status.success(), "python: {}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let (status, reason) = text.split_once(' ').unwrap_or((&text, ""));
    (status.parse().unwrap(), reason.to_string())
}

fn start(daemon: &Daemon) -> Nginx {
    Nginx::start_with(
        &daemon.http_sock(),
        &Options {
            pass_reason: true,
            ..Options::default()
        },
    )
}

#[test]
fn python_requests_with_netrc_reads_with_read_token_and_is_told_why_not_write() {
    let daemon = Daemon::start_with(
        "[password]\nbackend = \"none\"\n[http]\nreason_header = true\n",
        &[],
    );
    let nginx = start(&daemon);
    let read = token(&daemon, "alice", "read");
    let home = home_with_netrc("alice", &read);
    let url = format!("http://127.0.0.1:{}/api/resource", nginx.port);
    assert_eq!(
        python_requests(home.path(), "GET", &url),
        (200, String::new())
    );
    assert_eq!(
        python_requests(home.path(), "POST", &url),
        (403, "scope".to_string())
    );
    daemon.cli_ok(&["delete", crate::common::tokens::token_id(&read)]);
    assert_eq!(
        python_requests(home.path(), "GET", &url),
        (401, "invalid_token".to_string())
    );
}

#[test]
fn curl_with_netrc_shows_the_reason_only_when_configured() {
    require("curl", "curl");
    for (reason_header, want) in [(false, None), (true, Some("x-auth-reason: scope"))] {
        let daemon = Daemon::start_with(
            &format!("[password]\nbackend = \"none\"\n[http]\nreason_header = {reason_header}\n"),
            &[],
        );
        let nginx = start(&daemon);
        let read = token(&daemon, "alice", "read");
        let home = home_with_netrc("alice", &read);
        let url = format!("http://127.0.0.1:{}/api/resource", nginx.port);
        let netrc = home.path().join(".netrc");
        let out = Command::new("curl")
            .args(["-sS", "-i", "-X", "DELETE", "--netrc-file"])
            .arg(&netrc)
            .arg(&url)
            .output()
            .unwrap();
        let head = String::from_utf8_lossy(&out.stdout).to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 403"), "curl: {}", shown(&out));
        match want {
            Some(line) => assert!(head.contains(line), "reason_header on: {head}"),
            None => assert!(!head.contains("x-auth-reason"), "reason_header off: {head}"),
        }
        let ok = Command::new("curl")
            .args(["-sS", "-f", "--netrc-file"])
            .arg(&netrc)
            .arg(&url)
            .output()
            .unwrap();
        assert!(
            ok.status.success(),
            "curl GET with a read token: {}",
            shown(&ok)
        );
        assert!(String::from_utf8_lossy(&ok.stdout).contains("user=alice"));
    }
}

//! The page in Debian's Chromium, driven by playwright-core (`tests/web/browser/page.mjs`)
//! through a real nginx with the shipped snippet: log in, create, copy, see it once,
//! revoke after the confirmation, an admin's setting change, a regular user's read-only
//! settings and the admin-only-create info box, every tab at 360 px. The script takes a
//! screenshot of each tab; `APITOKEND_WEB_SCREENSHOTS=$PWD/docs/web` keeps them there.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{WebDaemon, ROOT_PASSWORD, USER_PASSWORD};
use crate::nginx::WebNginx;

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/browser")
}

/// playwright-core from the lock file (`bash tests/run.sh` installs it; so does this,
/// when it is missing). Nothing is downloaded at run time: Chromium is Debian's.
fn ensure_node_packages() {
    let dir = browser_dir();
    if dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .output()
        .expect("cannot run npm; `bash tests/run.sh` installs Node's packages");
    assert!(
        out.status.success(),
        "npm ci failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn web_page_in_chromium_create_copy_once_revoke_settings_and_360px() {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian's chromium is missing; `bash tests/run.sh` installs it"
    );
    ensure_node_packages();
    let w = WebDaemon::start(&["alice"], "");
    let nginx = WebNginx::start(&w.web_sock());
    let shots = std::env::var_os("APITOKEND_WEB_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-screenshots"));
    let secrets = w.daemon.dir.path().join("browser-secrets");
    let out = Command::new("node")
        .arg(browser_dir().join("page.mjs"))
        .env(
            "BASE_URL",
            format!("http://127.0.0.1:{}/tokens/", nginx.port),
        )
        .env("ADMIN_USER", "root")
        .env("ADMIN_PASSWORD", ROOT_PASSWORD)
        .env("USER_NAME", "alice")
        .env("USER_PASSWORD", USER_PASSWORD)
        .env("SHOTS", &shots)
        .env("SECRETS_FILE", &secrets)
        .output()
        .expect("cannot run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success() && stdout.contains("browser: every check passed"),
        "the browser run failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    for tab in ["mine", "manager", "settings", "audit", "failures", "narrow"] {
        let png = std::fs::read(shots.join(format!("{tab}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{tab}.png is no PNG");
    }
    // What the browser did is what the daemon holds.
    let settings = crate::common::stdout(&w.daemon.cli(&["settings"]));
    assert!(
        settings
            .lines()
            .any(|l| l.contains("admin-only-create") && l.contains("on")),
        "{settings}"
    );
    let list = crate::common::stdout(&w.daemon.cli(&["list", "--all"]));
    assert!(
        !list.contains("laptop") && list.contains("ci-runner"),
        "{list}"
    );
    // The secrets the page showed reached no log: syslog and nginx's.
    let text = std::fs::read_to_string(&secrets).unwrap();
    let shown: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(shown.len(), 2, "{text}");
    let mut logs = w.daemon.syslog_lines().join("\n");
    for f in ["access.log", "error.log"] {
        logs.push_str(&std::fs::read_to_string(nginx.dir.path().join(f)).unwrap_or_default());
    }
    for s in shown {
        assert!(!logs.contains(&s[4..]), "a shown token reached a log");
    }
}

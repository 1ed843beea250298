//! The configuration file (SPEC §3): strict TOML where every key is optional, an unknown
//! key or a bad value is an error naming the key, and defaults depend on who runs the daemon.

use serde::Deserialize;
use std::path::{Path, PathBuf};

mod dirs;
mod typed;
pub use typed::Facility;

mod sections;
mod store;
pub use dirs::{ensure_dir, DirError};
pub use sections::{
    Argon2Config, CacheConfig, HttpConfig, PasswordBackend, PasswordConfig, SocketAccess,
    SyslogConfig, WebConfig,
};
pub use store::{StoreBackend, StoreConfig};

/// Where the packaged daemon looks when `--config` is not given.
pub const DEFAULT_PATH: &str = "/etc/apitokend/apitokend.toml";

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}: {key}: {message}")]
    Value {
        path: PathBuf,
        key: &'static str,
        message: String,
    },
}

/// The daemon's whole configuration with defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub state_dir: PathBuf,
    pub runtime_dir: PathBuf,
    /// Who may connect to the sockets the daemon binds itself.
    pub socket_access: SocketAccess,
    pub admin_group: String,
    pub realm: String,
    pub http: HttpConfig,
    pub password: PasswordConfig,
    pub syslog: SyslogConfig,
    pub argon2: Argon2Config,
    pub cache: CacheConfig,
    pub web: WebConfig,
    pub store: StoreConfig,
}

/// The file as written: every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    state_dir: Option<PathBuf>,
    runtime_dir: Option<PathBuf>,
    socket_access: Option<SocketAccess>,
    admin_group: Option<String>,
    realm: Option<String>,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    password: PasswordConfig,
    #[serde(default)]
    syslog: SyslogConfig,
    #[serde(default)]
    argon2: Argon2Config,
    #[serde(default)]
    cache: CacheConfig,
    #[serde(default)]
    web: WebConfig,
    #[serde(default)]
    store: StoreConfig,
}

/// The user-dependent default directories of SPEC §2.
pub fn default_dirs(uid: u32, env: &dyn Fn(&str) -> Option<String>) -> (PathBuf, PathBuf) {
    if uid == 0 {
        return (
            PathBuf::from("/var/lib/apitokend"),
            PathBuf::from("/run/apitokend"),
        );
    }
    let nonempty = |k: &str| env(k).filter(|v| !v.is_empty());
    let state = match (nonempty("XDG_STATE_HOME"), nonempty("HOME")) {
        (Some(s), _) => PathBuf::from(s).join("apitokend"),
        (None, Some(home)) => PathBuf::from(home).join(".local/state/apitokend"),
        (None, None) => PathBuf::from(format!("/tmp/apitokend-{uid}/state")),
    };
    let runtime = match nonempty("XDG_RUNTIME_DIR") {
        Some(r) => PathBuf::from(r).join("apitokend"),
        None => PathBuf::from(format!("/tmp/apitokend-{uid}")),
    };
    (state, runtime)
}

impl Config {
    /// Loads `path`; when `path` is `None`, the packaged default if it exists, else defaults.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None if Path::new(DEFAULT_PATH).exists() => PathBuf::from(DEFAULT_PATH),
            None => return Config::parse("", Path::new("(defaults)")),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
            path: path.clone(),
            source,
        })?;
        Config::parse(&text, &path)
    }

    /// Parses configuration text; `path` only names the file in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string() + &span_hint(text, e.span()),
        })?;
        let uid = nix::unistd::getuid().as_raw();
        let (state, runtime) = default_dirs(uid, &|k| std::env::var(k).ok());
        let config = Config {
            state_dir: raw.state_dir.unwrap_or(state),
            runtime_dir: raw.runtime_dir.unwrap_or(runtime),
            socket_access: raw.socket_access.unwrap_or(if uid == 0 {
                SocketAccess::Public
            } else {
                SocketAccess::Owner
            }),
            admin_group: raw.admin_group.unwrap_or_else(|| "apitoken-admin".into()),
            realm: raw.realm.unwrap_or_else(|| "apitokend".into()),
            http: raw.http,
            password: raw.password,
            syslog: raw.syslog,
            argon2: raw.argon2,
            cache: raw.cache,
            web: raw.web,
            store: raw.store,
        };
        config.validate(path)?;
        Ok(config)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let bad = |key: &'static str, message: String| ConfigError::Value {
            path: path.to_path_buf(),
            key,
            message,
        };
        if self.realm.contains('"') || self.realm.chars().any(char::is_control) {
            return Err(bad(
                "realm",
                "must not contain quotes or control characters".into(),
            ));
        }
        if !(1..=10_080).contains(&self.web.idle_minutes) {
            return Err(bad(
                "web.idle_minutes",
                "must be 1 to 10080 (a week)".into(),
            ));
        }
        if !(1..=8_760).contains(&self.web.max_hours) {
            return Err(bad("web.max_hours", "must be 1 to 8760 (a year)".into()));
        }
        let a = self.argon2;
        // Parallelism first: the memory bound below multiplies by it.
        if !(1..=16).contains(&a.parallelism) {
            return Err(bad("argon2.parallelism", "must be 1 to 16".into()));
        }
        if !(8..=4 * 1024 * 1024).contains(&a.memory_kib) || a.memory_kib < 8 * a.parallelism {
            return Err(bad(
                "argon2.memory_kib",
                "must be 8×parallelism to 4194304".into(),
            ));
        }
        if !(1..=100).contains(&a.iterations) {
            return Err(bad("argon2.iterations", "must be 1 to 100".into()));
        }
        if self.cache.max_entries > 10_000_000 {
            return Err(bad("cache.max_entries", "must be at most 10000000".into()));
        }
        if self.password.pam_service.is_empty() {
            return Err(bad("password.pam_service", "must not be empty".into()));
        }
        if let Some((key, message)) = self.store.problem() {
            return Err(bad(key, message));
        }
        Ok(())
    }
}

/// " (line N: `text`)" for a TOML error span, so the message shows the offending key.
fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(r) = span else { return String::new() };
    let start = r.start.min(text.len());
    let line_no = text[..start].matches('\n').count() + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or("").trim();
    let shown: String = line.chars().take(80).collect();
    format!(" (line {line_no}: `{shown}`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"))
    }

    #[test]
    fn parse_empty_gives_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.argon2.memory_kib, 19456);
        assert_eq!(c.password.backend, PasswordBackend::Pam);
        assert_eq!(c.cache.ttl_seconds, 60);
        assert_eq!(c.http.trusted_proxies.len(), 2);
    }

    #[test]
    fn parse_unknown_key_names_it() {
        let err = parse("[cache]\nttl = 5\n").unwrap_err().to_string();
        assert!(err.contains("ttl"), "{err}");
        let err = parse("colour = 1\n").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn parse_bad_value_names_key() {
        let err = parse("[syslog]\nfacility = \"kern2\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("syslog.facility"), "{err}");
        let err = parse("[password]\nbackend = \"ldap\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ldap") || err.contains("backend"), "{err}");
        let err = parse("[http]\nlisten = [\"nope\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("http.listen"), "{err}");
    }

    #[test]
    fn parse_reason_header_is_off_by_default_and_a_boolean() {
        assert!(!parse("").unwrap().http.reason_header);
        assert!(
            parse("[http]\nreason_header = true\n")
                .unwrap()
                .http
                .reason_header
        );
        let err = parse("[http]\nreason_header = \"yes\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("reason_header"), "{err}");
    }

    #[test]
    fn parse_shipped_example_with_every_key_uncommented_is_valid() {
        let text: String = include_str!("../../packaging/apitokend.toml")
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let c = parse(&text).unwrap();
        assert!(!c.http.reason_header);
    }

    #[test]
    fn parse_web_section_is_strict() {
        let c = parse("").unwrap();
        assert!(c.web.enabled);
        assert_eq!((c.web.idle_minutes, c.web.max_hours), (30, 12));
        let c = parse("[web]\nenabled = false\nidle_minutes = 5\n").unwrap();
        assert!(!c.web.enabled && c.web.idle_minutes == 5);
        for (text, key) in [
            ("[web]\nidle_minutes = 0\n", "web.idle_minutes"),
            ("[web]\nmax_hours = 0\n", "web.max_hours"),
            ("[web]\nlisten = [\"x\"]\n", "web.listen"),
            ("[web]\ncolour = 1\n", "colour"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn parse_listen_addresses_become_socket_addrs_or_an_error_naming_the_key() {
        let c = parse("[http]\nlisten = [\"[::1]:9180\"]\n[web]\nlisten = [\"127.0.0.1:9181\"]\n")
            .unwrap();
        assert_eq!(c.http.listen, vec!["[::1]:9180".parse().unwrap()]);
        assert_eq!(c.web.listen, vec!["127.0.0.1:9181".parse().unwrap()]);
        let err = parse("[web]\nlisten = [\"127.0.0.1:9181\", \"x\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("web.listen: \"x\" is not ADDRESS:PORT, e.g. \"127.0.0.1:9181\""),
            "{err}"
        );
    }

    #[test]
    fn parse_huge_parallelism_is_refused_not_overflowed() {
        // Found by the config_parse fuzz target: 8 × parallelism overflowed.
        let err = parse("[argon2]\nparallelism = 4294967295\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("argon2.parallelism"), "{err}");
    }

    #[test]
    fn default_dirs_non_root_use_xdg() {
        let env = |k: &str| match k {
            "XDG_STATE_HOME" => Some("/s".to_string()),
            "XDG_RUNTIME_DIR" => Some("/r".to_string()),
            _ => None,
        };
        assert_eq!(
            default_dirs(1000, &env),
            ("/s/apitokend".into(), "/r/apitokend".into())
        );
        let none = |_: &str| None;
        assert_eq!(
            default_dirs(1000, &none).1,
            PathBuf::from("/tmp/apitokend-1000")
        );
        assert_eq!(default_dirs(0, &env).0, PathBuf::from("/var/lib/apitokend"));
    }
}

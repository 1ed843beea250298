//! The `[store]` section (SPEC §12): which database holds tokens, settings, the audit trail
//! and failure counts. SQLite needs nothing; PostgreSQL needs a URL without a password and,
//! when the server asks for one, a `password_file`.

use serde::Deserialize;
use std::path::PathBuf;

/// Which database backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    /// One file in `state_dir`, for a single host (the default).
    #[default]
    Sqlite,
    /// One PostgreSQL database shared by every host of a fleet.
    Postgres,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// `postgresql://user@host[:port]/database[?sslmode=verify-full&sslrootcert=FILE]`.
    pub url: Option<String>,
    /// A file holding the database password (its first line), readable by the daemon only.
    pub password_file: Option<PathBuf>,
    pub pool_size: u32,
    /// How long cached tokens keep working after the last contact with the database.
    pub outage_grace_seconds: u64,
    /// A `password` key, refused with a message that points to `password_file`.
    #[serde(rename = "password")]
    pub password_given: Option<Present>,
}

/// A key that was written, whatever its value (which is never kept or shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present;

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde::de::IgnoredAny::deserialize(d).map(|_| Present)
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            backend: StoreBackend::Sqlite,
            url: None,
            password_file: None,
            pool_size: 8,
            outage_grace_seconds: 300,
            password_given: None,
        }
    }
}

/// True when `url` carries a password: in its credentials or as a `password` parameter
/// in its query. The credentials are found the way the store's URL parser
/// (tokio-postgres) finds them: everything before the first `@`, wherever it is, so a
/// password holding `/` or `?` (`user:pa/ss@db`) is one too.
fn has_password(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let in_credentials = rest
        .split_once('@')
        .is_some_and(|(credentials, _)| credentials.contains(':'));
    let query = rest.split_once('?').map_or("", |(_, q)| q);
    let in_query = query_keys(query).any(|k| k.eq_ignore_ascii_case("password"));
    in_credentials || in_query
}

/// The parameter names of a URL's query.
fn query_keys(query: &str) -> impl Iterator<Item = &str> {
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split('=').next().unwrap_or(""))
}

/// The value of the last `sslmode` parameter of `url`, if any.
fn sslmode(url: &str) -> Option<&str> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    query
        .split('&')
        .rev()
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == "sslmode")
        .map(|(_, v)| v)
}

impl StoreConfig {
    /// The first problem with this section, as (key, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        if self.password_given.is_some() {
            return Some((
                "store.password",
                "a password never goes in the configuration file; put it in a file readable by the daemon only and name that file in store.password_file".into(),
            ));
        }
        if !(1..=256).contains(&self.pool_size) {
            return Some(("store.pool_size", "must be 1 to 256".into()));
        }
        if self.outage_grace_seconds > 86_400 {
            return Some(("store.outage_grace_seconds", "must be at most 86400".into()));
        }
        match (self.backend, &self.url) {
            (StoreBackend::Sqlite, Some(_)) => Some((
                "store.url",
                "is only used with backend = \"postgres\"; SQLite lives in state_dir".into(),
            )),
            (StoreBackend::Sqlite, None) if self.password_file.is_some() => Some((
                "store.password_file",
                "is only used with backend = \"postgres\"".into(),
            )),
            (StoreBackend::Sqlite, None) => None,
            (StoreBackend::Postgres, None) => Some((
                "store.url",
                "is required with backend = \"postgres\", e.g. \"postgresql://apitokend@db.example.com/apitokend?sslmode=verify-full\"".into(),
            )),
            (StoreBackend::Postgres, Some(url)) => url_problem(url),
        }
    }
}

fn url_problem(url: &str) -> Option<(&'static str, String)> {
    if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        return Some((
            "store.url",
            "must start with postgresql:// (a key=value string is not accepted)".into(),
        ));
    }
    if has_password(url) {
        // The URL itself is not repeated: it holds the secret.
        return Some((
            "store.url",
            "contains a password; remove it from the URL and put it in the file named by store.password_file".into(),
        ));
    }
    if url.chars().any(char::is_control) {
        return Some(("store.url", "must not contain control characters".into()));
    }
    tls_problem(url)
}

/// A parameter the store would read differently from the database library, or an
/// `sslmode` that would connect in the clear although TLS was asked for.
fn tls_problem(url: &str) -> Option<(&'static str, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    // The library decodes `%XX` in names (`ssl%6Dode`) where the store's own TLS
    // parameters are matched as written: such a name would slip past TLS.
    if query_keys(query).any(|k| k.contains('%')) {
        return Some((
            "store.url",
            "has a percent-encoded parameter name; write it plainly (sslmode=, sslrootcert=)"
                .into(),
        ));
    }
    match sslmode(url) {
        None | Some("disable" | "require" | "verify-ca" | "verify-full") => None,
        Some(mode @ ("prefer" | "allow")) => Some((
            "store.url",
            format!(
                "sslmode={mode} would connect without TLS, where anyone on the network can read \
                 or change what the fleet is told; use sslmode=verify-full (or sslmode=disable \
                 for a database on this host)"
            ),
        )),
        Some(other) => Some((
            "store.url",
            format!("sslmode={other} is not one of disable, require, verify-ca, verify-full"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pg(url: &str) -> StoreConfig {
        StoreConfig {
            backend: StoreBackend::Postgres,
            url: Some(url.into()),
            ..StoreConfig::default()
        }
    }

    #[test]
    fn store_url_with_password_is_refused_without_echoing_it() {
        for url in [
            "postgresql://apitokend:hunter2@db/apitokend",
            "postgres://apitokend:hunter2@db:5432/apitokend?sslmode=require",
            "postgresql://apitokend@db/apitokend?sslmode=require&password=hunter2",
            "postgresql://db/apitokend?PASSWORD=hunter2",
            // The database library takes everything before the first `@` as credentials.
            "postgresql://apitokend:hunter2/x@db/apitokend",
            "postgresql://apitokend:hunter2?x@db/apitokend?sslmode=require",
        ] {
            let (key, message) = pg(url).problem().unwrap();
            assert_eq!(key, "store.url", "{url}");
            assert!(message.contains("password_file") && !message.contains("hunter2"));
        }
    }

    /// What the database library itself reads from `url` (without the TLS parameters
    /// the store takes out first): the test's ground truth.
    fn library_password(url: &str) -> bool {
        let plain = url.split_once('?').map_or(url, |(base, _)| base);
        let parsed: tokio_postgres::Config = plain.parse().unwrap();
        parsed.get_password().is_some()
    }

    #[test]
    fn store_url_password_is_found_where_the_database_library_finds_it() {
        for url in [
            "postgresql://apitokend:hunter2/x@db/apitokend",
            "postgresql://apitokend:pa/ss@db:5432/apitokend",
        ] {
            assert!(library_password(url), "{url}");
            assert_eq!(pg(url).problem().map(|p| p.0), Some("store.url"), "{url}");
        }
        let url = "postgresql://apitokend@db/apitokend?pass%77ord=hunter2";
        let (key, message) = pg(url).problem().unwrap();
        assert_eq!(key, "store.url");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn store_url_sslmode_that_would_fall_back_to_plain_text_is_refused() {
        for mode in ["prefer", "allow"] {
            let url = format!("postgresql://apitokend@db/apitokend?sslmode={mode}");
            let (key, message) = pg(&url).problem().unwrap();
            assert_eq!(key, "store.url");
            assert!(message.contains(&format!("sslmode={mode}")), "{message}");
        }
        for url in [
            "postgresql://apitokend@db/apitokend?ssl%6Dode=require",
            "postgresql://apitokend@db/apitokend?sslmode=verify-full&sslroot%63ert=/ca.pem",
            "postgresql://apitokend@db/apitokend?sslmode=maybe",
        ] {
            assert_eq!(pg(url).problem().map(|p| p.0), Some("store.url"), "{url}");
        }
        for mode in ["disable", "require", "verify-ca", "verify-full"] {
            let url = format!("postgresql://apitokend@db/apitokend?sslmode={mode}");
            assert_eq!(pg(&url).problem(), None, "{url}");
        }
    }

    #[test]
    fn store_url_without_password_is_accepted() {
        for url in [
            "postgresql://apitokend@db.example.com/apitokend?sslmode=verify-full",
            "postgresql://apitokend@[::1]:5432/apitokend",
            "postgres://127.0.0.1:5433/apitokend?user=apitokend&sslmode=disable",
        ] {
            assert_eq!(pg(url).problem(), None, "{url}");
        }
    }

    #[test]
    fn store_section_bounds_and_backend_mismatch() {
        let c = StoreConfig {
            pool_size: 0,
            ..pg("postgresql://db/x")
        };
        assert_eq!(c.problem().unwrap().0, "store.pool_size");
        let c = StoreConfig {
            url: None,
            ..pg("")
        };
        assert_eq!(c.problem().unwrap().0, "store.url");
        let c = StoreConfig {
            backend: StoreBackend::Sqlite,
            ..pg("postgresql://db/x")
        };
        assert_eq!(c.problem().unwrap().0, "store.url");
        assert_eq!(pg("host=db dbname=x").problem().unwrap().0, "store.url");
    }

    #[test]
    fn parse_store_section_strictly() {
        let parse =
            |text: &str| crate::config::Config::parse(text, std::path::Path::new("test.toml"));
        assert_eq!(parse("").unwrap().store, StoreConfig::default());
        let c = parse("[store]\nbackend = \"postgres\"\nurl = \"postgresql://apitokend@db/apitokend\"\npassword_file = \"/etc/apitokend/db-password\"\n").unwrap();
        assert_eq!(
            (c.store.backend, c.store.pool_size),
            (StoreBackend::Postgres, 8)
        );
        let err = parse("[store]\npassword = \"hunter2\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("password") && !err.contains("hunter2"),
            "{err}"
        );
        let err = parse("[store]\nbackend = \"postgres\"\nurl = \"postgresql://a:hunter2@db/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("store.url") && !err.contains("hunter2"),
            "{err}"
        );
        let err = parse("[store]\nbackend = \"mysql\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("mysql") || err.contains("backend"), "{err}");
    }
}

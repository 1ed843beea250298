//! What a token may be used for: scopes (`read`, `write`, `login`), HTTP path prefixes
//! and per-token networks. Tokens created before scopes existed carry no restriction.

use ipnet::IpNet;
use std::net::IpAddr;

mod path;
use path::under_prefix;
pub use path::{normalize_path, parse_prefix, parse_prefixes, MAX_PATHS, MAX_PATH_LEN};

/// Networks a token may carry at most.
pub const MAX_NETWORKS: usize = 16;

/// The scopes of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scopes {
    /// Requests that read ([`Access::of_http`]), through nginx and Apache.
    pub read: bool,
    /// Every request, through nginx and Apache.
    pub write: bool,
    /// PAM logins.
    pub login: bool,
    /// The web face's REST API (SPEC §11): the token acts as its owner there. Never a
    /// default and never implied for tokens made before it existed.
    pub manage: bool,
}

impl Scopes {
    /// What tokens from before scopes existed, and new tokens by default, get: every scope
    /// but `manage`, which is only ever given by asking for it.
    pub const ALL: Scopes = Scopes {
        read: true,
        write: true,
        login: true,
        manage: false,
    };

    /// No scope at all (what a damaged stored list narrows to).
    pub const NONE: Scopes = Scopes {
        read: false,
        write: false,
        login: false,
        manage: false,
    };

    /// Parses a comma- or space-separated list of `read`, `write`, `login`, `manage`.
    pub fn parse(text: &str) -> Result<Scopes, String> {
        let mut s = Scopes::NONE;
        for word in text.split([',', ' ']).filter(|w| !w.is_empty()) {
            match word {
                "read" => s.read = true,
                "write" => s.write = true,
                "login" => s.login = true,
                "manage" => s.manage = true,
                other => {
                    return Err(format!(
                        "unknown scope {other:?}; scopes are read, write, login and manage"
                    ))
                }
            }
        }
        if s == Scopes::NONE {
            return Err("name at least one scope: read, write, login or manage".into());
        }
        Ok(s)
    }

    /// `read,write,login` order, comma-separated.
    pub fn to_text(self) -> String {
        [
            (self.read, "read"),
            (self.write, "write"),
            (self.login, "login"),
            (self.manage, "manage"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, name)| *name)
        .collect::<Vec<_>>()
        .join(",")
    }

    /// Whether a request that does `access` is within these scopes.
    pub fn allows(self, access: Access) -> bool {
        self.allows_lazily(|| access)
    }

    /// [`Scopes::allows`] for an access that is only worked out when it matters (not for
    /// a `write` token, which may do anything): classifying a request costs more than
    /// the rest of a cached check.
    pub fn allows_lazily(self, access: impl FnOnce() -> Access) -> bool {
        self.write || (self.read && access() == Access::Read)
    }
}

/// What a request does to the application: the `read` scope covers reads only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

impl Access {
    /// What an HTTP request does. The one rule: GET, HEAD and OPTIONS read, and so does
    /// git's fetch (`POST …/git-upload-pack`, the smart HTTP protocol's only POST that
    /// changes nothing); everything else writes, including git's push
    /// (`…/info/refs?service=git-receive-pack` and `POST …/git-receive-pack`), so a push
    /// with a `read` token stops at its first request. A missing method counts as a
    /// write, so a front end that does not say fails closed.
    pub fn of_http(method: &str, uri: &str) -> Access {
        let method = method.to_ascii_uppercase();
        let path = normalize_path(uri).unwrap_or_default();
        let query = uri.split_once('?').map_or("", |(_, q)| q);
        let pushes = path.ends_with("/info/refs")
            && query.split('&').any(|p| p == "service=git-receive-pack");
        match method.as_str() {
            "GET" | "HEAD" | "OPTIONS" if !pushes => Access::Read,
            "POST" if path.ends_with("/git-upload-pack") => Access::Read,
            _ => Access::Write,
        }
    }

    /// The word the Apache snippet passes with `AuthExternalContext` (`read`, `write`);
    /// anything else, or nothing, is a write.
    pub fn from_word(word: &str) -> Access {
        match word {
            "read" => Access::Read,
            _ => Access::Write,
        }
    }
}

/// Everything that narrows where a token works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restrictions {
    pub scopes: Scopes,
    /// HTTP path prefixes; empty means any path.
    pub paths: Vec<String>,
    /// Networks the token may be used from, within `allowed-networks`; empty means no
    /// narrowing.
    pub networks: Vec<IpNet>,
}

impl Default for Restrictions {
    fn default() -> Self {
        Restrictions {
            scopes: Scopes::ALL,
            paths: Vec::new(),
            networks: Vec::new(),
        }
    }
}

impl Restrictions {
    /// Whether `ip` is inside the token's own networks (always, when it has none).
    pub fn allows_ip(&self, ip: Option<IpAddr>) -> bool {
        self.networks.is_empty()
            || ip.is_some_and(|ip| self.networks.iter().any(|n| n.contains(&ip.to_canonical())))
    }

    /// Whether `uri` (as nginx's `$request_uri` sends it) is under one of the prefixes.
    pub fn allows_path(&self, uri: &str) -> bool {
        if self.paths.is_empty() {
            return true;
        }
        match normalize_path(uri) {
            Some(path) => self.paths.iter().any(|p| under_prefix(&path, p)),
            None => false,
        }
    }
}

impl crate::store::TokenRecord {
    /// The stored restrictions; entries that no longer parse narrow to nothing rather than
    /// being ignored, so a damaged row fails closed.
    pub fn restrictions(&self) -> Restrictions {
        let scopes = match &self.scopes {
            None => Scopes::ALL,
            Some(text) => Scopes::parse(text).unwrap_or(Scopes::NONE),
        };
        let paths = self
            .paths
            .split(',')
            .filter(|p| !p.is_empty())
            .map(String::from)
            .collect();
        let mut networks: Vec<IpNet> = Vec::new();
        for n in self.networks.split(',').filter(|n| !n.is_empty()) {
            // An unparsable network becomes one that matches nothing useful (a host route
            // to the unspecified address), keeping the token narrowed.
            networks.push(
                n.parse()
                    .unwrap_or_else(|_| IpNet::from(IpAddr::from([0u8, 0, 0, 0]))),
            );
        }
        Restrictions {
            scopes,
            paths,
            networks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_manage_is_never_implied() {
        assert_eq!(Scopes::ALL.to_text(), "read,write,login");
        assert!(!Scopes::parse("read,write,login").unwrap().manage);
        let m = Scopes::parse("manage").unwrap();
        assert!(m.manage && !m.read && !m.write && !m.login);
        assert_eq!(
            Scopes::parse("read manage").unwrap().to_text(),
            "read,manage"
        );
    }

    #[test]
    fn parse_scopes_and_text() {
        assert_eq!(Scopes::parse("write,read").unwrap().to_text(), "read,write");
        assert!(Scopes::parse("admin").is_err());
        assert!(Scopes::parse("").is_err());
    }

    #[test]
    fn access_of_http_reads_are_get_head_options_and_git_fetch() {
        let cases = [
            ("GET", "/api/x", Access::Read),
            ("head", "/api/x", Access::Read),
            ("OPTIONS", "/", Access::Read),
            ("POST", "/api/x", Access::Write),
            ("DELETE", "/api/x", Access::Write),
            ("PROPFIND", "/dav/", Access::Write),
            ("", "/api/x", Access::Write),
            (
                "GET",
                "/git/r.git/info/refs?service=git-upload-pack",
                Access::Read,
            ),
            ("POST", "/git/r.git/git-upload-pack", Access::Read),
            (
                "GET",
                "/git/r.git/info/refs?service=git-receive-pack",
                Access::Write,
            ),
            ("POST", "/git/r.git/git-receive-pack", Access::Write),
            ("PUT", "/git/r.git/git-upload-pack", Access::Write),
            ("POST", "/git/r.git/git-upload-pack/x", Access::Write),
            ("POST", "/git/r.git//git-upload-pack", Access::Write),
        ];
        for (method, uri, want) in cases {
            assert_eq!(Access::of_http(method, uri), want, "{method} {uri}");
        }
    }

    #[test]
    fn allows_read_only_reads_for_read() {
        let read = Scopes::parse("read").unwrap();
        assert!(read.allows(Access::Read) && !read.allows(Access::Write));
        let write = Scopes::parse("write").unwrap();
        assert!(write.allows(Access::Read) && write.allows(Access::Write));
        let login = Scopes::parse("login").unwrap();
        assert!(!login.allows(Access::Read) && !login.allows(Access::Write));
    }

    #[test]
    fn access_from_word_only_read_reads() {
        assert_eq!(Access::from_word("read"), Access::Read);
        for w in ["write", "", "READ", "raed"] {
            assert_eq!(Access::from_word(w), Access::Write, "{w}");
        }
    }

    #[test]
    fn allows_path_matches_whole_segments() {
        let r = Restrictions {
            paths: vec!["/api/ci/".into()],
            ..Restrictions::default()
        };
        assert!(r.allows_path("/api/ci/build"));
        assert!(r.allows_path("/api/ci"));
        assert!(!r.allows_path("/api/cix"));
        assert!(!r.allows_path("/api/ci/../admin"));
        assert!(!r.allows_path("/api/ci/%2e%2e/admin"));
        let r = Restrictions {
            paths: vec!["/api/ci".into()],
            ..Restrictions::default()
        };
        assert!(r.allows_path("/api/ci/x") && !r.allows_path("/api/ci-admin"));
    }

    #[test]
    fn allows_ip_narrows() {
        let r = Restrictions {
            networks: vec!["10.0.0.0/8".parse().unwrap()],
            ..Restrictions::default()
        };
        assert!(r.allows_ip(Some("10.1.1.1".parse().unwrap())));
        assert!(!r.allows_ip(Some("192.0.2.1".parse().unwrap())));
        assert!(!r.allows_ip(None));
        assert!(Restrictions::default().allows_ip(None));
    }
}

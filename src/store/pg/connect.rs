//! From `[store]` to a connection pool: the URL (without a password), the password from
//! `password_file`, and TLS through rustls when the URL asks for it. `sslmode=require`,
//! `verify-ca` and `verify-full` all verify the server's certificate and name against
//! `sslrootcert` (a PEM file) or the system's roots: a fleet never talks to a server it
//! did not verify. Without `sslmode` (or with `disable`) the connection is plain, which
//! suits a Unix socket or loopback only; `prefer` and `allow`, which would fall back to
//! plain text, are refused (`config::store`).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use zeroize::Zeroizing;

use super::super::StoreError;
use crate::config::StoreConfig;

/// Where the system keeps its trusted certificate authorities (Debian).
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Everything needed to open connections to the database.
#[derive(Clone)]
pub(crate) struct Target {
    pub config: tokio_postgres::Config,
    /// `None`: plain connections.
    pub tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
    /// The certificate authorities TLS trusts (`sslrootcert` or the system's), for errors.
    pub roots: PathBuf,
}

impl Target {
    /// The server and database, for messages: `host:port/dbname` (no user, no password).
    pub fn describe(&self) -> String {
        use tokio_postgres::config::Host;
        let host = match self.config.get_hosts().first() {
            Some(Host::Tcp(h)) => h.clone(),
            Some(Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_string(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let db = self.config.get_dbname().unwrap_or("");
        format!("{host}:{port}/{db}")
    }
}

fn bad(detail: impl Into<String>) -> StoreError {
    StoreError::Config(detail.into())
}

/// The URL without its TLS parameters, and those parameters.
fn split_tls(url: &str) -> (String, Option<String>, Option<PathBuf>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_string(), None, None);
    };
    let (mut mode, mut root) = (None, None);
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.to_string()),
            Some(("sslrootcert", v)) => root = Some(PathBuf::from(v)),
            _ => kept.push(kv),
        }
    }
    let url = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    (url, mode, root)
}

/// The first line of `path`, which must not be readable by group or others.
pub(crate) fn read_password(path: &Path) -> Result<Zeroizing<String>, StoreError> {
    let shown = path.display();
    let meta =
        std::fs::metadata(path).map_err(|e| bad(format!("store.password_file {shown}: {e}")))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(bad(format!(
            "store.password_file {shown} is readable by others; chmod 600 it"
        )));
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| bad(format!("store.password_file {shown}: {e}")))?,
    );
    let line = text.lines().next().unwrap_or("");
    if line.is_empty() {
        return Err(bad(format!("store.password_file {shown} is empty")));
    }
    Ok(Zeroizing::new(line.to_string()))
}

fn tls_config(root: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StoreError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let path = root.unwrap_or(Path::new(SYSTEM_ROOTS));
    let shown = path.display();
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(format!("sslrootcert {shown}: {e}")))?;
    for cert in certs {
        let cert = cert.map_err(|e| bad(format!("sslrootcert {shown}: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| bad(format!("sslrootcert {shown}: {e}")))?;
    }
    if roots.is_empty() {
        return Err(bad(format!("sslrootcert {shown} holds no certificate")));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// Reads `[store]` into a connection target.
pub(crate) fn target(store: &StoreConfig) -> Result<Target, StoreError> {
    let url = store
        .url
        .as_deref()
        .ok_or_else(|| bad("store.url is not set"))?;
    let (url, mode, root) = split_tls(url);
    let mut config: tokio_postgres::Config =
        url.parse().map_err(|e| bad(format!("store.url: {e}")))?;
    if config.get_dbname().is_none() {
        return Err(bad("store.url names no database"));
    }
    config
        .application_name("apitokend")
        .connect_timeout(std::time::Duration::from_secs(5))
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(30));
    if let Some(file) = &store.password_file {
        config.password(read_password(file)?.as_bytes());
    }
    let roots = root.clone().unwrap_or_else(|| PathBuf::from(SYSTEM_ROOTS));
    let tls = match mode.as_deref() {
        None | Some("disable") => {
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            None
        }
        Some("require" | "verify-ca" | "verify-full") => {
            config.ssl_mode(tokio_postgres::config::SslMode::Require);
            Some(tls_config(root.as_deref())?)
        }
        Some(other) => {
            return Err(bad(format!(
                "store.url: sslmode={other} is not one of disable, require, verify-ca, verify-full"
            )))
        }
    };
    Ok(Target { config, tls, roots })
}

/// Says why TLS to the database failed when that is what `e` is (its source chain holds
/// a rustls error): the certificate's problem, in words that name what to check.
pub(crate) fn tls_refusal(
    e: &(dyn std::error::Error + 'static),
    target: &Target,
) -> Option<String> {
    let mut next = Some(e);
    while let Some(err) = next {
        let inner = err
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|i| i.downcast_ref::<rustls::Error>());
        if let Some(tls) = err.downcast_ref::<rustls::Error>().or(inner) {
            return Some(explain(tls, target));
        }
        next = err.source();
    }
    None
}

fn explain(e: &rustls::Error, target: &Target) -> String {
    use rustls::CertificateError as C;
    let roots = target.roots.display();
    let why = match e {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => {
            format!("is not signed by a certificate authority in sslrootcert {roots}")
        }
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => "does not name the host of store.url".to_string(),
        rustls::Error::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "has expired".to_string()
        }
        _ => "was not accepted".to_string(),
    };
    format!("TLS: the database server's certificate {why} ({e})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_tls_keeps_other_parameters() {
        let (url, mode, root) = split_tls(
            "postgresql://a@h/d?sslmode=verify-full&application_name=x&sslrootcert=/ca.pem",
        );
        assert_eq!(url, "postgresql://a@h/d?application_name=x");
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root, Some(PathBuf::from("/ca.pem")));
        assert_eq!(split_tls("postgresql://h/d").0, "postgresql://h/d");
    }

    #[test]
    fn password_file_readable_by_others_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        std::fs::write(&path, "s3cret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_password(&path).unwrap_err().to_string();
        assert!(
            err.contains("chmod 600") && !err.contains("s3cret"),
            "{err}"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_password(&path).unwrap().as_str(), "s3cret");
    }

    #[test]
    fn unknown_sslmode_is_refused() {
        let store = StoreConfig {
            backend: crate::config::StoreBackend::Postgres,
            url: Some("postgresql://a@h/d?sslmode=maybe".into()),
            ..StoreConfig::default()
        };
        let err = target(&store).err().unwrap().to_string();
        assert!(err.contains("sslmode=maybe"), "{err}");
    }
}

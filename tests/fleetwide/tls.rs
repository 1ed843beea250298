//! TLS to the database (SPEC §12 "TLS to the server is verified when the URL asks for
//! it"): a real PostgreSQL server with `ssl = on` and a certificate authority and server
//! certificate made here with the openssl command. A host verifying against the right CA
//! works over TLS; a wrong CA or a wrong host name is refused, and the daemon says why.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::common::pg::PgServer;
use crate::common::tokens::bearer;
use crate::common::Daemon;
use crate::refused::refused_start;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (bash tests/run.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate authority `name`.crt / `name`.key in `dir`.
fn make_ca(dir: &Path, name: &str) -> PathBuf {
    let (crt, key, subject) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("/CN={name}"),
    );
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ]
        .into_iter()
        .chain(["-keyout", &key, "-out", &crt, "-subj", &subject])
        .chain(["-addext", "basicConstraints=critical,CA:TRUE"])
        .chain(["-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        .collect::<Vec<_>>(),
    );
    dir.join(crt)
}

/// `server.crt` / `server.key` for 127.0.0.1 only, signed by the CA `ca`.
fn make_server_cert(dir: &Path, ca: &str) {
    let ext =
        "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n";
    std::fs::write(dir.join("server.ext"), ext).unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
        ]
        .into_iter()
        .chain(["-out", "server.csr", "-subj", "/CN=127.0.0.1"])
        .collect::<Vec<_>>(),
    );
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-days",
            "2",
            "-CA",
            &ca_crt,
        ]
        .into_iter()
        .chain(["-CAkey", &ca_key, "-CAcreateserial", "-out", "server.crt"])
        .chain(["-extfile", "server.ext"])
        .collect::<Vec<_>>(),
    );
}

/// Turns TLS on in the running server with the certificate of `make_server_cert`.
fn enable_ssl(server: &PgServer, dir: &Path) {
    for f in ["server.crt", "server.key"] {
        let path = dir.join(f);
        assert!(Command::new("chown")
            .arg("postgres:")
            .arg(&path)
            .status()
            .unwrap()
            .success());
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let d = dir.display();
    server.psql(&format!(
        "ALTER SYSTEM SET ssl_cert_file = '{d}/server.crt'"
    ));
    server.psql(&format!("ALTER SYSTEM SET ssl_key_file = '{d}/server.key'"));
    server.psql("ALTER SYSTEM SET ssl = on");
    server.psql("SELECT pg_reload_conf()");
    let on = crate::common::eventually(Duration::from_secs(10), || {
        server.psql("SHOW ssl").trim() == "on"
    });
    assert!(on, "the server did not turn ssl on");
}

#[test]
fn fleet_tls_to_the_database_is_verified_and_a_wrong_ca_or_name_is_refused_by_name() {
    let server = PgServer::start();
    let certs = tempfile::Builder::new()
        .prefix("apitokend-tls")
        .tempdir()
        .unwrap();
    let ca = make_ca(certs.path(), "fleet-ca");
    let wrong_ca = make_ca(certs.path(), "other-ca");
    make_server_cert(certs.path(), "fleet-ca");
    enable_ssl(&server, certs.path());
    let url = server.database("tls");
    let good = format!("{url}?sslmode=verify-full&sslrootcert={}", ca.display());
    let host = Daemon::start_with(&server.store_toml(&good), &[]);
    let token = host.create_token("root");
    let auth = crate::common::http::auth_as_nginx(
        &host.http_sock(),
        &bearer(&token),
        "127.0.0.1",
        "GET",
        "/",
    );
    assert_eq!(auth.status, 200);
    let encrypted = server.psql_in(
        "tls",
        "SELECT count(*) FILTER (WHERE ssl), count(*) FROM pg_stat_ssl
         JOIN pg_stat_activity USING (pid) WHERE application_name = 'apitokend'",
    );
    let (tls, all) = encrypted.trim().split_once('|').unwrap();
    assert!(
        all != "0" && tls == all,
        "connections with TLS | all: {encrypted}"
    );
    drop(host);
    for mode in ["verify-full", "require"] {
        let url = format!("{url}?sslmode={mode}&sslrootcert={}", wrong_ca.display());
        let err = refused_start(&server.store_toml(&url));
        eprintln!("sslmode={mode} with another CA: {err}");
        assert!(
            err.contains("certificate") && err.contains("other-ca.crt"),
            "{err}"
        );
    }
    // The certificate names 127.0.0.1 only; "localhost" is another name.
    let by_name = good.replace("127.0.0.1", "localhost");
    let err = refused_start(&server.store_toml(&by_name));
    eprintln!("a host name the certificate does not name: {err}");
    assert!(err.contains("certificate") && err.contains("name"), "{err}");
}

/// `sslmode=prefer` and `allow` would connect in the clear here (the store never tries TLS
/// without verifying it), and a percent-encoded `sslmode` name is read by the database
/// library but not by the store's TLS set-up: each is refused before anything is sent.
#[test]
fn fleet_sslmode_that_would_connect_in_plain_text_is_refused() {
    let server = PgServer::start();
    let url = server.database("plain");
    for query in ["sslmode=prefer", "sslmode=allow", "ssl%6Dode=require"] {
        let err = refused_start(&server.store_toml(&format!("{url}?{query}")));
        eprintln!("{query}: {err}");
        assert!(err.contains("store.url"), "{query}: {err}");
    }
    let plain = server.psql_in(
        "plain",
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'apitokend'",
    );
    assert_eq!(plain.trim(), "0", "connections made in plain text");
}

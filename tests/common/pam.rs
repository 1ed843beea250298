//! Real libpam without touching the system: pam_wrapper redirects it to a service
//! directory of the test's own, where pam_matrix knows the passwords the test chose.

use std::path::{Path, PathBuf};

/// The first `<lib dir>/<multiarch>/<rel>` that exists, e.g. `libpam_wrapper.so`.
pub fn find_multiarch_lib(rel: &str) -> PathBuf {
    for base in ["/usr/lib", "/lib"] {
        let Ok(entries) = std::fs::read_dir(base) else {
            continue;
        };
        for entry in entries.flatten() {
            let candidate = entry.path().join(rel);
            if entry.file_name().to_string_lossy().ends_with("-linux-gnu") && candidate.exists() {
                return candidate;
            }
        }
        let direct = Path::new(base).join(rel);
        if direct.exists() {
            return direct;
        }
    }
    panic!(
        "{rel} not found under /usr/lib/<multiarch>; `bash tests/run.sh` installs libpam-wrapper"
    );
}

/// Writes pam_matrix's password database: each `(user, password)` for `service`.
pub fn write_passdb(path: &Path, passwords: &[(&str, &str)], service: &str) {
    let text: String = passwords
        .iter()
        .map(|(u, p)| format!("{u}:{p}:{service}\n"))
        .collect();
    std::fs::write(path, text).unwrap();
}

/// The environment that points libpam at `services` (a pam_wrapper service directory).
pub fn pam_wrapper_env(services: &Path) -> Vec<(String, String)> {
    vec![
        (
            "LD_PRELOAD".to_string(),
            find_multiarch_lib("libpam_wrapper.so")
                .display()
                .to_string(),
        ),
        ("PAM_WRAPPER".to_string(), "1".to_string()),
        (
            "PAM_WRAPPER_SERVICE_DIR".to_string(),
            services.display().to_string(),
        ),
    ]
}

/// Writes `dir/passdb` with `passwords` and a service `apitokend` in `dir/services` that
/// checks them through pam_matrix; returns the service directory.
pub fn pam_matrix_service(dir: &Path, passwords: &[(&str, &str)]) -> PathBuf {
    let matrix = find_multiarch_lib("pam_wrapper/pam_matrix.so");
    let passdb = dir.join("passdb");
    write_passdb(&passdb, passwords, "apitokend");
    let services = dir.join("services");
    std::fs::create_dir(&services).unwrap();
    let line = |kind: &str| {
        format!(
            "{kind} required {} passdb={}\n",
            matrix.display(),
            passdb.display()
        )
    };
    std::fs::write(services.join("apitokend"), line("auth") + &line("account")).unwrap();
    services
}

/// The config section and environment of a daemon whose password backend is PAM, with
/// libpam redirected by pam_wrapper to a service that accepts each `(user, password)`
/// through pam_matrix. Keep the returned directory alive as long as the daemon.
pub fn pam_matrix_backend(
    passwords: &[(&str, &str)],
) -> (String, Vec<(String, String)>, tempfile::TempDir) {
    let pam_dir = tempfile::Builder::new()
        .prefix("apitokend-pam")
        .tempdir()
        .unwrap();
    let services = pam_matrix_service(pam_dir.path(), passwords);
    let toml = "[password]\nbackend = \"pam\"\npam_service = \"apitokend\"\n".to_string();
    (toml, pam_wrapper_env(&services), pam_dir)
}

/// `(name, value)` pairs borrowed, as [`super::Daemon::start_with`] takes them.
pub fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

//! The command lines of the `apitokend` daemon and the `apitoken-external` helper (clap
//! derive). They live in the library, next to [`crate::cli::Cli`], so that the manual
//! pages and shell completions are generated from the same definitions the binaries
//! parse (`src/bin/gen-docs.rs`, see docs/packaging.md).

use clap::Parser;
use std::path::PathBuf;

const DAEMON_EXAMPLES: &str = "Examples:\n  apitokend                                  # per-user directories, zero set-up\n  apitokend --config /etc/apitokend/apitokend.toml\n  apitokend --config /etc/apitokend/apitokend.toml --check-config";

/// Personal API token daemon for nginx auth_request, Apache and PAM.
#[derive(Debug, Parser)]
#[command(version, after_help = DAEMON_EXAMPLES)]
pub struct DaemonArgs {
    /// Configuration file (default: /etc/apitokend/apitokend.toml when it exists).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Validate the configuration and exit.
    #[arg(long)]
    pub check_config: bool,
    /// Copy a single host's SQLite database (tokens, settings, audit trail) into the
    /// PostgreSQL store of [store], then exit; running it again copies nothing twice.
    #[arg(long, value_name = "PATH")]
    pub import_sqlite: Option<PathBuf>,
}

/// Checks an Apache Basic-auth credential with apitokend (mod_authnz_external, pipe method).
#[derive(Debug, Parser)]
#[command(name = "apitoken-external", version)]
pub struct ExternalArgs {
    /// The daemon's check socket.
    #[arg(long, value_name = "PATH", default_value = "/run/apitokend/check.sock")]
    pub socket: PathBuf,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn daemon_args_definition_is_consistent() {
        DaemonArgs::command().debug_assert();
    }

    #[test]
    fn external_args_definition_is_consistent() {
        ExternalArgs::command().debug_assert();
    }

    #[test]
    fn daemon_args_check_config_parses() {
        let args =
            DaemonArgs::try_parse_from(["apitokend", "--config", "/c.toml", "--check-config"])
                .unwrap();
        assert_eq!(args.config, Some(PathBuf::from("/c.toml")));
        assert!(args.check_config);
    }

    #[test]
    fn external_args_without_socket_uses_run_path() {
        let args = ExternalArgs::try_parse_from(["apitoken-external"]).unwrap();
        assert_eq!(args.socket, PathBuf::from("/run/apitokend/check.sock"));
    }
}

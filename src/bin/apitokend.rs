//! The `apitokend` daemon: parse arguments, load the configuration, bind, run.

use clap::Parser;
use std::path::PathBuf;
use std::process::ExitCode;

use apitokend::config::Config;

/// Personal API token daemon for nginx auth_request, Apache and PAM.
#[derive(Parser)]
#[command(
    version,
    after_help = "Examples:\n  apitokend                                  # per-user directories, zero set-up\n  apitokend --config /etc/apitokend/apitokend.toml\n  apitokend --config /etc/apitokend/apitokend.toml --check-config"
)]
struct Args {
    /// Configuration file (default: /etc/apitokend/apitokend.toml when it exists).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Validate the configuration and exit.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("apitokend: {e}");
            return ExitCode::from(78);
        }
    };
    if args.check_config {
        println!("configuration ok");
        return ExitCode::SUCCESS;
    }
    match apitokend::server::main(config, args.config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apitokend: {e}");
            ExitCode::FAILURE
        }
    }
}

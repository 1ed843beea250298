//! The `apitokend` daemon: parse arguments, load the configuration, bind, run.
// Functions stay under 60 lines (clippy.toml), test code included.
#![warn(clippy::too_many_lines)]

use clap::Parser;
use std::process::ExitCode;

use apitokend::args::DaemonArgs;
use apitokend::config::Config;

fn main() -> ExitCode {
    let args = DaemonArgs::parse();
    let config = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("apitokend: {e}");
            return ExitCode::from(78);
        }
    };
    if let Some(path) = &args.import_sqlite {
        return import_sqlite(&config, path);
    }
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

/// `--import-sqlite PATH`: copies the file into the configured PostgreSQL store.
fn import_sqlite(config: &Config, path: &std::path::Path) -> ExitCode {
    if config.store.backend != apitokend::config::StoreBackend::Postgres {
        eprintln!(
            "apitokend: --import-sqlite needs [store] backend = \"postgres\" in the configuration"
        );
        return ExitCode::from(78);
    }
    let result =
        apitokend::store::PgStore::open(&config.store).and_then(|store| store.import_sqlite(path));
    match result {
        Ok(n) => {
            println!(
                "imported {} tokens, {} settings, {} audit records from {}",
                n.tokens,
                n.settings,
                n.audit,
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("apitokend: {e}");
            ExitCode::FAILURE
        }
    }
}

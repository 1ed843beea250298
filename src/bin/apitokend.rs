//! The `apitokend` daemon: parse arguments, load the configuration, bind, run.

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

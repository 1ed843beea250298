//! `apitoken`: the command line for users and admins (see `apitokend::cli`).

use std::process::ExitCode;

fn main() -> ExitCode {
    apitokend::cli::main()
}

//! `apitoken`: the command line for users and admins (see `apitokend::cli`).
// Functions stay under 60 lines (clippy.toml), test code included.
#![warn(clippy::too_many_lines)]

use std::process::ExitCode;

fn main() -> ExitCode {
    apitokend::cli::main()
}

//! SIGHUP: re-read the configuration file; a broken file changes nothing.

use std::path::Path;

use super::systemd::notify;
use crate::config::Config;
use crate::engine::Engine;

/// Re-reads the configuration file and applies what can change while running.
pub fn reload(engine: &Engine, path: Option<&Path>) {
    notify("RELOADING=1");
    // A reader bug must not take the running daemon down with it: a panic while reading
    // the file is a refused reload like any other error.
    let loaded = std::panic::catch_unwind(|| Config::load(path)).unwrap_or_else(|_| {
        Err(crate::config::ConfigError::Parse {
            path: path.map(Path::to_path_buf).unwrap_or_default(),
            message: "internal error while reading the file".into(),
        })
    });
    engine.reload(loaded);
    notify("READY=1");
}

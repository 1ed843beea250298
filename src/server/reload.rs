//! SIGHUP: re-read the configuration file; a broken file changes nothing.

use std::path::Path;

use super::systemd::notify;
use crate::audit::{Event, Severity};
use crate::config::Config;
use crate::engine::Engine;

/// Re-reads the configuration file and applies what can change while running.
pub fn reload(engine: &Engine, path: Option<&Path>) {
    notify("RELOADING=1");
    let now = crate::clock::now();
    // A reader bug must not take the running daemon down with it: a panic while reading
    // the file is a refused reload like any other error.
    let loaded = std::panic::catch_unwind(|| Config::load(path)).unwrap_or_else(|_| {
        Err(crate::config::ConfigError::Parse {
            path: path.map(Path::to_path_buf).unwrap_or_default(),
            message: "internal error while reading the file".into(),
        })
    });
    match loaded {
        Ok(config) => {
            let restart = engine.reload(config);
            let mut event = Event::new("config.reload", now).with("result", "ok");
            if !restart.is_empty() {
                event.push("restart_needed", restart.join(","));
                eprintln!(
                    "apitokend: configuration reloaded; restart to apply: {}",
                    restart.join(", ")
                );
            } else {
                eprintln!("apitokend: configuration reloaded");
            }
            engine.syslog().emit(&event, Severity::Info);
        }
        Err(e) => {
            eprintln!("apitokend: reload refused, the running configuration stays in force: {e}");
            let event = Event::new("config.reload", now)
                .with("result", "refused")
                .with("error", e.to_string());
            engine.syslog().emit(&event, Severity::Warning);
        }
    }
    notify("READY=1");
}

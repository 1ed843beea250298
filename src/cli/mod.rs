//! The `apitoken` command: parses arguments, sends one request to the admin socket,
//! prints the reply, and turns the outcome into an exit status.
//!
//! Layout:
//! - `args`: the clap grammar ([`Cli`]), with the examples shown by `--help`.
//! - `client`: socket resolution and the blocking request/reply exchange.
//! - `plan`: turns a parsed subcommand into a request, keeping secrets out of it.
//! - `render`: human output of every reply; `--json` prints the payload instead.
//! - `table`: aligned tables, key/value lists and terminal-safe text.

mod args;
mod client;
mod help;
mod listing;
mod plan;
mod render;
mod table;

pub use args::{
    AllowIpAction, AuditArgs, Cli, Command, CreateArgs, DeleteArgs, FailuresAction, ListArgs,
    SettingsAction,
};
pub use client::{resolve_socket, ClientError};

use apitoken_wire::admin::{Created, ErrorKind, Request, Response};
use clap::Parser;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use zeroize::Zeroizing;

/// Exit status when the daemon cannot be reached (sysexits `EX_UNAVAILABLE`).
pub const EXIT_UNREACHABLE: u8 = 69;
/// Exit status for a refused permission.
pub const EXIT_PERMISSION: u8 = 3;
/// Exit status for a missing token or user.
pub const EXIT_NOT_FOUND: u8 = 4;

/// Everything that ends `apitoken` with a non-zero status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The request did not succeed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The reply could not be shown.
    /// Standard input did not hold what the subcommand needs.
    #[error("{0}")]
    Input(String),
    /// Writing the output failed.
    #[error("cannot write output: {0}")]
    Output(#[source] io::Error),
}

impl CliError {
    /// The exit status of SPEC section 6; the one place errors become numbers.
    pub fn exit_status(&self) -> u8 {
        match self {
            CliError::Client(ClientError::Unreachable { .. } | ClientError::Untrusted { .. }) => {
                EXIT_UNREACHABLE
            }
            CliError::Client(ClientError::Daemon(e)) => match e.kind {
                ErrorKind::PermissionDenied => EXIT_PERMISSION,
                ErrorKind::NotFound => EXIT_NOT_FOUND,
                ErrorKind::Invalid
                | ErrorKind::Internal
                | ErrorKind::Limit
                | ErrorKind::OutOfBounds
                | ErrorKind::DatabaseUnavailable => 1,
            },
            CliError::Client(ClientError::Protocol { .. })
            | CliError::Input(_)
            | CliError::Output(_) => 1,
        }
    }

    /// What to tell the user on stderr: the problem, then how to fix it.
    pub fn message(&self, subcommand: &str) -> String {
        let problem = table::clean(&self.to_string());
        let fix = match self {
            CliError::Client(ClientError::Unreachable { .. }) => {
                "Start the daemon (systemctl start apitokend, or run apitokend), or point \
                 apitoken at its socket with --socket PATH or APITOKEN_SOCKET=PATH."
                    .to_string()
            }
            CliError::Client(ClientError::Untrusted { .. }) => {
                "Point apitoken at the daemon's own socket with --socket PATH or \
                 APITOKEN_SOCKET=PATH, and remove whatever another user planted on this path."
                    .to_string()
            }
            // A daemon message that already names a command carries its own fix, and a
            // refusal that already says who may is not said twice.
            CliError::Client(ClientError::Daemon(e)) if e.message.contains("apitoken ") => {
                String::new()
            }
            CliError::Client(ClientError::Daemon(e))
                if e.kind == ErrorKind::PermissionDenied && e.message.contains("admin") =>
            {
                String::new()
            }
            CliError::Client(ClientError::Daemon(e)) => match e.kind {
                ErrorKind::PermissionDenied => "This needs an administrator: root or a member \
                    of the daemon's admin_group."
                    .to_string(),
                ErrorKind::NotFound => {
                    "Run `apitoken list` to see the tokens you may act on.".to_string()
                }
                ErrorKind::Invalid | ErrorKind::Limit | ErrorKind::OutOfBounds => {
                    format!("See `apitoken {subcommand} --help`.")
                }
                ErrorKind::Internal => {
                    "See the daemon's log (journalctl -u apitokend).".to_string()
                }
                ErrorKind::DatabaseUnavailable => "Try again once the database answers; \
                    `curl --unix-socket /run/apitokend/http.sock http://localhost/health` \
                    shows its state."
                    .to_string(),
            },
            CliError::Client(ClientError::Protocol { .. }) => {
                "Make sure apitoken and apitokend come from the same release.".to_string()
            }
            CliError::Input(_) | CliError::Output(_) => String::new(),
        };
        if fix.is_empty() {
            format!("apitoken: {problem}")
        } else {
            format!("apitoken: {problem}\n{fix}")
        }
    }
}

/// Entry point of the `apitoken` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let name = plan::subcommand_name(&cli.command);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // Nothing more can be reported if stderr itself is gone. Messages may quote an
            // argument, and a token pasted into the wrong one is never echoed.
            let message = crate::token::redact_tokens(&err.message(name));
            let _ = writeln!(io::stderr(), "{message}");
            ExitCode::from(err.exit_status())
        }
    }
}

/// Runs one parsed command; returns 0, or 1 for a negative answer (denied, invalid).
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let socket = client::default_socket(cli.socket.as_deref());
    let request = plan::plan(cli.command)?;
    if let Request::ListPage { user, all, filter } = request {
        let listing = listing::Listing { user, all, filter };
        return listing::run(&socket, listing, cli.json);
    }
    let focus = render::focus(&request);
    let response = client::call(&socket, request)?;
    if let Response::Created(created) = response {
        return create(&created, cli.json);
    }
    let negative = render::is_negative(&response);
    let text = match cli.json {
        true => pretty(&response)?,
        false => render::human(focus.as_deref(), &response),
    };
    emit(&text)?;
    Ok(u8::from(negative))
}

/// `create` and `rotate`: the token alone on stdout, or the whole `Created` object with
/// `--json`.
fn create(created: &Created, json: bool) -> Result<u8, CliError> {
    let text = if json {
        let body = serde_json::to_string_pretty(created).map_err(|e| {
            CliError::Output(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        })?;
        Zeroizing::new(format!("{body}\n"))
    } else {
        Zeroizing::new(format!("{}\n", created.token.0.as_str()))
    };
    emit(&text)?;
    if !json && io::stderr().is_terminal() {
        let info = &created.info;
        let expires = info.expires.as_deref().unwrap_or("never");
        let note = format!(
            "Created token {} for {}, expires {}. It is shown only once: store it now.",
            info.id, info.user, expires
        );
        let _ = writeln!(io::stderr(), "{}", table::clean(&note));
    }
    Ok(0)
}

/// Writes to stdout; a closed pipe (`apitoken list | head`) is not an error.
/// Indented JSON with a final newline.
fn pretty(value: &impl serde::Serialize) -> Result<String, CliError> {
    serde_json::to_string_pretty(value)
        .map(|text| text + "\n")
        .map_err(|e| CliError::Output(io::Error::new(io::ErrorKind::InvalidData, e.to_string())))
}

fn emit(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CliError::Output(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apitoken_wire::admin::ErrorReply;

    #[test]
    fn exit_status_maps_every_error_kind() {
        let daemon = |kind| {
            CliError::Client(ClientError::Daemon(ErrorReply {
                kind,
                message: "m".into(),
            }))
        };
        assert_eq!(daemon(ErrorKind::PermissionDenied).exit_status(), 3);
        assert_eq!(daemon(ErrorKind::NotFound).exit_status(), 4);
        assert_eq!(daemon(ErrorKind::Invalid).exit_status(), 1);
        assert_eq!(daemon(ErrorKind::Internal).exit_status(), 1);
        let down = CliError::Client(ClientError::Unreachable {
            socket: "/s".into(),
            source: io::Error::from(io::ErrorKind::NotFound),
        });
        assert_eq!(down.exit_status(), 69);
        assert!(down.message("list").contains("/s") && down.message("list").contains("--socket"));
    }

    #[test]
    fn message_daemon_hint_is_not_repeated() {
        let reply = ErrorReply {
            kind: ErrorKind::NotFound,
            message: "no token with id \"x\"; see apitoken list".into(),
        };
        let err = CliError::Client(ClientError::Daemon(reply));
        assert_eq!(err.message("show").lines().count(), 1);
    }

    #[test]
    fn message_permission_denied_that_names_admins_is_said_once() {
        let said = |message: &str| {
            CliError::Client(ClientError::Daemon(ErrorReply {
                kind: ErrorKind::PermissionDenied,
                message: message.into(),
            }))
            .message("settings")
        };
        let once = said("permission denied: settings set is for admins (root or members of the admin group); ask an administrator");
        assert_eq!(once.lines().count(), 1, "{once}");
        let other = said("permission denied: token x belongs to another user");
        assert_eq!(other.lines().count(), 2, "{other}");
    }
}

//! The `apitoken` command: parses arguments, sends one request to the admin socket,
//! prints the reply, and turns the outcome into an exit status.
//!
//! Layout:
//! - `args`: the clap grammar ([`Cli`]), with the examples shown by `--help`.
//! - `client`: socket resolution and the blocking request/reply exchange.
//! - `render`: human output of every reply; `--json` prints the payload instead.
//! - `table`: aligned tables, key/value lists and terminal-safe text.

mod args;
mod client;
mod render;
mod table;

pub use args::{AllowIpAction, Cli, Command, FailuresAction, SettingsAction};
pub use client::{resolve_socket, ClientError};

use crate::admin::proto::{Created, ErrorKind, Request, Secret};
use clap::Parser;
use render::View;
use std::io::{self, BufRead, IsTerminal, Write};
use std::path::Path;
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
    #[error(transparent)]
    Shape(#[from] render::ShapeError),
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
            CliError::Client(ClientError::Unreachable { .. }) => EXIT_UNREACHABLE,
            CliError::Client(ClientError::Daemon(e)) => match e.kind {
                ErrorKind::PermissionDenied => EXIT_PERMISSION,
                ErrorKind::NotFound => EXIT_NOT_FOUND,
                ErrorKind::Invalid | ErrorKind::Internal => 1,
            },
            CliError::Client(ClientError::Protocol { .. })
            | CliError::Shape(_)
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
            CliError::Client(ClientError::Daemon(e)) => match e.kind {
                ErrorKind::PermissionDenied => "This needs an administrator: root or a member \
                    of the daemon's admin_group."
                    .to_string(),
                ErrorKind::NotFound => {
                    "Run `apitoken list` to see the tokens you may act on.".to_string()
                }
                ErrorKind::Invalid => format!("See `apitoken {subcommand} --help`."),
                ErrorKind::Internal => {
                    "See the daemon's log (journalctl -u apitokend).".to_string()
                }
            },
            CliError::Client(ClientError::Protocol { .. }) | CliError::Shape(_) => {
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
    let name = subcommand_name(&cli.command);
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            // Nothing more can be reported if stderr itself is gone.
            let _ = writeln!(io::stderr(), "{}", err.message(name));
            ExitCode::from(err.exit_status())
        }
    }
}

/// Runs one parsed command; returns 0, or 1 for a negative answer (denied, invalid).
pub fn run(cli: Cli) -> Result<u8, CliError> {
    let socket = client::default_socket(cli.socket.as_deref());
    if let Command::Create(a) = cli.command {
        let request = Request::Create {
            name: a.name,
            expires: a.expires,
            user: a.user,
        };
        return create(&socket, request, cli.json);
    }
    let (request, view) = plan(cli.command)?;
    let value: serde_json::Value = client::call(&socket, request)?;
    if cli.json {
        let text = serde_json::to_string_pretty(&value).map_err(|e| {
            CliError::Output(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
        })?;
        emit(&format!("{text}\n"))?;
        return Ok(u8::from(render::is_negative(&view, &value)));
    }
    let rendered = render::human(&view, &value)?;
    emit(&rendered.text)?;
    Ok(u8::from(rendered.negative))
}

/// `create`: the token alone on stdout, or the whole `Created` object with `--json`.
fn create(socket: &Path, request: Request, json: bool) -> Result<u8, CliError> {
    let created: Created = client::call(socket, request)?;
    let text = if json {
        let body = serde_json::to_string_pretty(&created).map_err(|e| {
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

/// The request for a subcommand and how its reply is shown.
fn plan(command: Command) -> Result<(Request, View), CliError> {
    Ok(match command {
        Command::Create(a) => (
            Request::Create {
                name: a.name,
                expires: a.expires,
                user: a.user,
            },
            View::Token,
        ),
        Command::List(a) => (
            Request::List {
                user: a.user,
                all: a.all,
            },
            View::TokenList,
        ),
        Command::Show { id } => (Request::Show { id: id_of(id) }, View::Token),
        Command::Delete(a) => match (a.all, a.user) {
            (true, Some(user)) => (Request::DeleteAll { user }, View::DeletedAll),
            _ => (
                Request::Delete {
                    ids: a.ids.into_iter().map(id_of).collect(),
                },
                View::Deleted,
            ),
        },
        Command::Settings { action: None } => (Request::Settings, View::Settings),
        Command::Settings {
            action: Some(SettingsAction::Set { key, value }),
        } => (
            Request::SettingsSet {
                key: key.clone(),
                value,
            },
            View::SettingChanged(key),
        ),
        Command::AllowIp { action } => (allow_ip(action), View::Networks),
        Command::CheckIp { address } => (Request::CheckIp { address }, View::IpCheck),
        Command::Failures {
            action: Some(FailuresAction::Reset { user }),
            ..
        } => (Request::FailuresReset { user }, View::FailuresReset),
        Command::Failures { user, action: None } => (Request::Failures { user }, View::Failures),
        Command::Audit(a) => (
            Request::Audit {
                user: a.user,
                since: a.since,
                limit: a.limit,
            },
            View::Audit,
        ),
        Command::Verify { user } => {
            if io::stdin().is_terminal() {
                let _ = write!(io::stderr(), "Token (it will be echoed; prefer a pipe): ");
            }
            let token = read_token(&mut io::stdin().lock())?;
            (
                Request::Verify {
                    user,
                    token: Secret(token),
                },
                View::Verify,
            )
        }
        Command::Status => (Request::Status, View::Status),
    })
}

/// The id of a whole token pasted where an id is expected (`apitoken revoke atk_…`), so the
/// secret part never leaves this process; anything else is passed on as given.
fn id_of(arg: String) -> String {
    let arg = Zeroizing::new(arg);
    match arg.strip_prefix("atk_") {
        Some(rest) if rest.as_bytes().get(8) == Some(&b'_') => rest[..8].to_string(),
        _ => arg.to_string(),
    }
}

fn allow_ip(action: AllowIpAction) -> Request {
    match action {
        AllowIpAction::List => Request::AllowIpList,
        AllowIpAction::Add { cidrs } => Request::AllowIpAdd { cidrs },
        AllowIpAction::Remove { cidrs } => Request::AllowIpRemove { cidrs },
        AllowIpAction::Clear => Request::AllowIpClear,
    }
}

/// Reads one line (the token) and drops its line ending; the buffer is wiped on drop.
fn read_token(input: &mut impl BufRead) -> Result<Zeroizing<String>, CliError> {
    let mut line = Zeroizing::new(String::new());
    input
        .read_line(&mut line)
        .map_err(|e| CliError::Input(format!("cannot read the token from standard input: {e}")))?;
    let len = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(len);
    if line.is_empty() {
        return Err(CliError::Input(
            "no token on standard input; pipe it in, e.g. `apitoken verify < token.txt`".into(),
        ));
    }
    Ok(line)
}

/// Writes to stdout; a closed pipe (`apitoken list | head`) is not an error.
fn emit(text: &str) -> Result<(), CliError> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(CliError::Output(e)),
        _ => Ok(()),
    }
}

fn subcommand_name(command: &Command) -> &'static str {
    match command {
        Command::Create(_) => "create",
        Command::List(_) => "list",
        Command::Show { .. } => "show",
        Command::Delete(_) => "delete",
        Command::Settings { .. } => "settings",
        Command::AllowIp { .. } => "allow-ip",
        Command::CheckIp { .. } => "check-ip",
        Command::Failures { .. } => "failures",
        Command::Audit(_) => "audit",
        Command::Verify { .. } => "verify",
        Command::Status => "status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::proto::ErrorReply;

    #[test]
    fn read_token_strips_line_ending() {
        let token = read_token(&mut io::Cursor::new("atk_abc\r\n")).unwrap();
        assert_eq!(token.as_str(), "atk_abc");
    }

    #[test]
    fn read_token_empty_input_is_error() {
        assert!(matches!(
            read_token(&mut io::Cursor::new("\n")),
            Err(CliError::Input(_))
        ));
    }

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
    fn id_of_whole_token_keeps_only_the_id() {
        assert_eq!(
            id_of("atk_AbCd1234_secretsecretsecretsecretsecretse0a1b2c".into()),
            "AbCd1234"
        );
        assert_eq!(id_of("atk_AbCd1234_".into()), "AbCd1234");
        assert_eq!(id_of("AbCd1234".into()), "AbCd1234");
        assert_eq!(id_of("atk_short".into()), "atk_short");
    }

    #[test]
    fn plan_delete_all_sends_delete_all() {
        let cli = Cli::try_parse_from(["apitoken", "delete", "--all", "--user", "bob"]).unwrap();
        let (request, view) = plan(cli.command).unwrap();
        assert!(matches!(request, Request::DeleteAll { ref user } if user == "bob"));
        assert_eq!(view, View::DeletedAll);
    }
}

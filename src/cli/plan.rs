//! From a parsed subcommand to the request sent and the way its reply is shown.
//!
//! Arguments that look like a whole token never reach the daemon: where an id is expected
//! only the token's public id is sent, and where a user name is expected it is refused.

use super::args::{AllowIpAction, Command, DeleteArgs, FailuresAction, ListArgs, SettingsAction};
use super::CliError;
use apitoken_wire::admin::{ListFilter, Request, Secret};
use std::io::{self, BufRead, IsTerminal, Write};
use zeroize::Zeroizing;

/// The request for a subcommand (its reply's type follows from it: see the wire crate).
pub fn plan(command: Command) -> Result<Request, CliError> {
    let request = request_for(command)?;
    if user_of(&request).is_some_and(token_shaped) {
        return Err(CliError::Input(
            "the user name given looks like a token, not a user name; nothing was sent. \
             Name the token's owner instead (see `apitoken list`)."
                .into(),
        ));
    }
    Ok(request)
}

fn request_for(command: Command) -> Result<Request, CliError> {
    Ok(match command {
        Command::Create(a) => Request::Create {
            name: a.name,
            expires: a.expires,
            user: a.user,
            scopes: (!a.scopes.is_empty()).then(|| a.scopes.join(",")),
            paths: a.paths,
            networks: a.networks,
        },
        Command::List(a) => list(a),
        Command::Rotate { id, grace, expires } => Request::Rotate {
            id: id_of(id),
            grace,
            expires,
        },
        Command::Prune { older_than } => Request::Prune { older_than },
        Command::Show { id } => Request::Show { id: id_of(id) },
        Command::Delete(a) => delete(a),
        Command::Settings { action: None } => Request::Settings,
        Command::Settings {
            action: Some(SettingsAction::Set { key, value }),
        } => Request::SettingsSet { key, value },
        Command::AllowIp { action } => allow_ip(action),
        Command::CheckIp { address } => Request::CheckIp { address },
        Command::Failures {
            action: Some(FailuresAction::Reset { user }),
            ..
        } => Request::FailuresReset { user },
        Command::Failures { user, action: None } => Request::Failures { user },
        Command::Audit(a) => Request::Audit {
            user: a.user,
            since: a.since,
            limit: a.limit,
            before: None,
        },
        Command::Verify { user } => verify(user)?,
        Command::Status => Request::Status,
    })
}

fn delete(a: DeleteArgs) -> Request {
    match (a.all, a.user) {
        (true, Some(user)) => Request::DeleteAll { user },
        _ => Request::Delete {
            ids: a.ids.into_iter().map(id_of).collect(),
        },
    }
}

fn list(a: ListArgs) -> Request {
    let filter = ListFilter {
        name: a.name,
        created_before: a.created_before,
        created_after: a.created_after,
        last_used_before: a.last_used_before,
        last_used_after: a.last_used_after,
        expires_before: a.expires_before,
        expiring: a.expiring,
        scope: a.scope,
        never_used: a.never_used,
        sort: a.sort,
        reverse: a.reverse,
        limit: a.limit,
        after: a.after,
    };
    Request::ListPage {
        user: a.user,
        all: a.all,
        filter,
    }
}

/// `verify`: the token comes from stdin, never from the command line.
fn verify(user: Option<String>) -> Result<Request, CliError> {
    if io::stdin().is_terminal() {
        let _ = write!(io::stderr(), "Token (it will be echoed; prefer a pipe): ");
    }
    let token = Secret(read_token(&mut io::stdin().lock())?);
    Ok(Request::Verify { user, token })
}

/// The user name a request carries, if any.
fn user_of(request: &Request) -> Option<&str> {
    match request {
        Request::Create { user, .. }
        | Request::List { user, .. }
        | Request::ListPage { user, .. }
        | Request::Failures { user }
        | Request::Audit { user, .. }
        | Request::Verify { user, .. } => user.as_deref(),
        Request::DeleteAll { user } | Request::FailuresReset { user } => Some(user),
        _ => None,
    }
}

/// Whether `arg` starts like a token: `atk_`, an 8-character id, `_`.
fn token_shaped(arg: &str) -> bool {
    arg.strip_prefix("atk_")
        .is_some_and(|rest| rest.as_bytes().get(8) == Some(&b'_'))
}

/// The id of a whole token pasted where an id is expected (`apitoken revoke atk_…`), so the
/// secret part never leaves this process; anything else is passed on as given.
fn id_of(arg: String) -> String {
    let arg = Zeroizing::new(arg);
    if token_shaped(&arg) {
        // Bytes 4..12 are the id; byte 12 is an ASCII `_`, so 12 is a char boundary.
        return arg[4..12].to_string();
    }
    arg.to_string()
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
pub fn read_token(input: &mut impl BufRead) -> Result<Zeroizing<String>, CliError> {
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

/// The subcommand's name, for messages that point at its `--help`.
pub fn subcommand_name(command: &Command) -> &'static str {
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
        Command::Rotate { .. } => "rotate",
        Command::Prune { .. } => "prune",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::Parser;

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
        let request = plan(cli.command).unwrap();
        assert!(matches!(request, Request::DeleteAll { ref user } if user == "bob"));
    }

    #[test]
    fn plan_token_as_user_name_is_refused() {
        let token = "atk_AbCd1234_secretsecretsecretsecretsecretse0a1b2c";
        for args in [
            vec!["apitoken", "failures", "reset", token],
            vec!["apitoken", "create", "--user", token],
            vec!["apitoken", "delete", "--all", "--user", token],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            assert!(matches!(plan(cli.command), Err(CliError::Input(_))));
        }
    }
}

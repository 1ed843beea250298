//! The command line grammar of `apitoken` (clap derive). Man pages and shell completions
//! are generated from [`Cli`], so every argument carries its help text here.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

const MAIN_EXAMPLES: &str = "\
Examples:
  apitoken create --name ci --expires 6m      # prints the new token once
  apitoken list
  apitoken delete 3fK9aB2x
  apitoken settings set max-validity 1y       # admins
  echo \"$TOKEN\" | apitoken verify

Exit status: 0 ok, 1 error, 2 usage, 3 permission denied, 4 not found,
69 daemon unreachable. The admin socket is --socket, else $APITOKEN_SOCKET,
else /run/apitokend/admin.sock if it exists, else $XDG_RUNTIME_DIR/apitokend/admin.sock
(or /tmp/apitokend-<uid>/admin.sock).";

const CREATE_EXAMPLES: &str = "\
Examples:
  apitoken create                              # longest validity allowed
  apitoken create --name deploy --expires 1y
  apitoken create --expires 30d
  apitoken create --expires 2026-12-31
  apitoken create --user www-api --name nginx  # admins: for another user
  TOKEN=$(apitoken create --name ci)

The token is printed once and cannot be shown again; only its id is kept.";

const LIST_EXAMPLES: &str = "\
Examples:
  apitoken list                 # your tokens
  apitoken list --user alice    # admins
  apitoken list --all --json    # admins: every token, for scripts

Times are UTC. Secrets are never shown.";

const SHOW_EXAMPLES: &str = "\
Examples:
  apitoken show 3fK9aB2x
  apitoken show 3fK9aB2x --json";

const DELETE_EXAMPLES: &str = "\
Examples:
  apitoken delete 3fK9aB2x
  apitoken revoke 3fK9aB2x 7Qe1LmZp
  apitoken delete --all --user alice   # admins: every token of alice

A deleted token stops working at once.";

const SETTINGS_EXAMPLES: &str = "\
Examples:
  apitoken settings
  apitoken settings set max-validity 1y
  apitoken settings set password-auth off
  apitoken settings set lockout-threshold 5

Keys: max-validity (never, 6m, 1y, 2y), password-auth (on, off),
admin-only-create (on, off), regular-users-use-tokens (on, off),
lockout-threshold (0 disables), lockout-window (e.g. 15m), lockout-duration (0 = until reset).
allowed-networks is changed with `apitoken allow-ip`.";

const ALLOW_IP_EXAMPLES: &str = "\
Examples:
  apitoken allow-ip list
  apitoken allow-ip add 10.0.0.0/8 192.168.1.7 2001:db8::/32
  apitoken allow-ip remove 192.168.1.7
  apitoken allow-ip clear          # empty list: every address is allowed";

const CHECK_IP_EXAMPLES: &str = "\
Examples:
  apitoken check-ip 10.1.2.3
  apitoken check-ip 2001:db8::1 --json

Exit status 0 when the address is allowed, 1 when it is not.";

const FAILURES_EXAMPLES: &str = "\
Examples:
  apitoken failures
  apitoken failures --user alice
  apitoken failures reset alice    # clears the count and any lock";

const AUDIT_EXAMPLES: &str = "\
Examples:
  apitoken audit                       # admins: everything; users: their own events
  apitoken audit --user alice --since 7d
  apitoken audit --since 1h --limit 20 --json";

const VERIFY_EXAMPLES: &str = "\
Examples:
  echo \"$TOKEN\" | apitoken verify
  apitoken verify --user alice < token.txt

Reads one token from standard input. Exit status 0 when it is valid, 1 when it is not.";

const STATUS_EXAMPLES: &str = "\
Examples:
  apitoken status
  apitoken status --json";

/// `apitoken`: manage personal API tokens through the apitokend admin socket.
#[derive(Debug, Parser)]
#[command(name = "apitoken", version, after_help = MAIN_EXAMPLES)]
#[command(about = "Create, list and revoke personal API tokens; manage apitokend settings")]
pub struct Cli {
    /// Print machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,

    /// Admin socket of apitokend [default: $APITOKEN_SOCKET, else
    /// /run/apitokend/admin.sock if it exists, else the per-user socket].
    #[arg(long, global = true, value_name = "PATH")]
    pub socket: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Every subcommand of `apitoken` (SPEC section 6).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a token and print it, alone, on stdout.
    #[command(after_help = CREATE_EXAMPLES)]
    Create(CreateArgs),
    /// List tokens (never their secrets).
    #[command(after_help = LIST_EXAMPLES)]
    List(ListArgs),
    /// Show one token.
    #[command(after_help = SHOW_EXAMPLES)]
    Show {
        /// Token id (the 8 characters after `atk_`).
        id: String,
    },
    /// Delete tokens; they stop working at once.
    #[command(visible_alias = "revoke", after_help = DELETE_EXAMPLES)]
    Delete(DeleteArgs),
    /// Show the system-wide settings, or change one (admins).
    #[command(after_help = SETTINGS_EXAMPLES, args_conflicts_with_subcommands = true)]
    Settings {
        /// Change a setting instead of showing them all.
        #[command(subcommand)]
        action: Option<SettingsAction>,
    },
    /// Show or change the allowed-networks list (admins).
    #[command(after_help = ALLOW_IP_EXAMPLES, subcommand_required = true)]
    AllowIp {
        /// Operation on the list.
        #[command(subcommand)]
        action: AllowIpAction,
    },
    /// Say whether an address may authenticate, and by which rule.
    #[command(after_help = CHECK_IP_EXAMPLES)]
    CheckIp {
        /// IPv4 or IPv6 address.
        address: String,
    },
    /// Show failed-login counts and locks (admins), or reset a user's.
    #[command(after_help = FAILURES_EXAMPLES, args_conflicts_with_subcommands = true)]
    Failures {
        /// Only this user.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
        /// Reset instead of showing.
        #[command(subcommand)]
        action: Option<FailuresAction>,
    },
    /// Show the audit trail (admins; other users see their own events).
    #[command(after_help = AUDIT_EXAMPLES)]
    Audit(AuditArgs),
    /// Check a token read from stdin: says valid, or why not.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify {
        /// The user the token must belong to.
        #[arg(long, value_name = "USER")]
        user: Option<String>,
    },
    /// Show the daemon's version, uptime and counts.
    #[command(after_help = STATUS_EXAMPLES)]
    Status,
}

/// Arguments of `create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Free text to recognise the token by (up to 100 characters).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// never, 6m, 1y, 2y, Nd (days) or YYYY-MM-DD [default: the longest allowed].
    #[arg(long, value_name = "VALIDITY")]
    pub expires: Option<String>,
    /// Owner of the token (admins only, for another user) [default: you].
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
}

/// Arguments of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Tokens of this user (admins, for another user).
    #[arg(long, value_name = "USER", conflicts_with = "all")]
    pub user: Option<String>,
    /// Tokens of every user (admins).
    #[arg(long)]
    pub all: bool,
}

/// Arguments of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Ids of the tokens to delete.
    #[arg(
        value_name = "ID",
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub ids: Vec<String>,
    /// Delete every token of --user (admins).
    #[arg(long, requires = "user")]
    pub all: bool,
    /// The user whose tokens --all deletes.
    #[arg(long, value_name = "USER", requires = "all")]
    pub user: Option<String>,
}

/// `settings set`.
#[derive(Debug, Subcommand)]
pub enum SettingsAction {
    /// Change one setting (admins).
    Set {
        /// Setting name, e.g. max-validity.
        key: String,
        /// New value, e.g. 1y.
        value: String,
    },
}

/// Operations of `allow-ip`.
#[derive(Debug, Subcommand)]
pub enum AllowIpAction {
    /// Print the list.
    List,
    /// Add addresses or CIDR ranges.
    Add {
        /// Addresses or ranges, IPv4 or IPv6.
        #[arg(value_name = "CIDR", required = true)]
        cidrs: Vec<String>,
    },
    /// Remove addresses or CIDR ranges.
    Remove {
        /// Addresses or ranges exactly as listed.
        #[arg(value_name = "CIDR", required = true)]
        cidrs: Vec<String>,
    },
    /// Empty the list, which allows every address.
    Clear,
}

/// `failures reset`.
#[derive(Debug, Subcommand)]
pub enum FailuresAction {
    /// Clear a user's failure count and lock (admins).
    Reset {
        /// The user to unlock.
        user: String,
    },
}

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Only events about this user.
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only events newer than this, e.g. 1h, 7d.
    #[arg(long, value_name = "DURATION")]
    pub since: Option<String>,
    /// At most this many events, newest first.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn delete_all_without_user_is_usage_error() {
        assert!(Cli::try_parse_from(["apitoken", "delete", "--all"]).is_err());
    }

    #[test]
    fn delete_ids_with_all_is_usage_error() {
        assert!(Cli::try_parse_from(["apitoken", "delete", "x", "--all", "--user", "a"]).is_err());
    }

    #[test]
    fn revoke_alias_parses_as_delete() {
        let cli = Cli::try_parse_from(["apitoken", "revoke", "abc"]).unwrap();
        assert!(
            matches!(cli.command, Command::Delete(DeleteArgs { ref ids, .. }) if ids == &["abc"])
        );
    }

    #[test]
    fn global_flags_after_subcommand_are_accepted() {
        let cli = Cli::try_parse_from(["apitoken", "status", "--json", "--socket", "/s"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.socket, Some(PathBuf::from("/s")));
    }

    #[test]
    fn list_user_and_all_conflict() {
        assert!(Cli::try_parse_from(["apitoken", "list", "--all", "--user", "a"]).is_err());
    }

    #[test]
    fn failures_reset_parses_user() {
        let cli = Cli::try_parse_from(["apitoken", "failures", "reset", "bob"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Failures { action: Some(FailuresAction::Reset { ref user }), .. } if user == "bob"
        ));
    }
}

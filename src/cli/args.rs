//! The command line grammar of `apitoken` (clap derive). Man pages and shell completions
//! are generated from [`Cli`], so every argument carries its help text here.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use super::help::*;

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
    #[command(after_help = settings_examples(), args_conflicts_with_subcommands = true)]
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
    /// Replace a token with a new one; print the new token alone on stdout.
    #[command(after_help = ROTATE_EXAMPLES)]
    Rotate {
        /// Token id (the 8 characters after `atk_`).
        id: String,
        /// How long the old token keeps working, e.g. 15m, 1h [default: 0, stop at once].
        #[arg(long, value_name = "DURATION")]
        grace: Option<String>,
        /// Validity of the new token, as for create [default: the longest allowed].
        #[arg(long, value_name = "VALIDITY")]
        expires: Option<String>,
    },
    /// Remove tokens that expired or were rotated away long ago (admins).
    #[command(after_help = PRUNE_EXAMPLES)]
    Prune {
        /// Age past expiry or rotation, e.g. 30d [default: the prune-after setting].
        #[arg(long, value_name = "DURATION")]
        older_than: Option<String>,
    },
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
    /// read (HTTP GET, HEAD, OPTIONS), write (every method), login (PAM, Apache helper),
    /// manage (the web face's REST API, acting as you); repeat or comma-separate
    /// [default: read, write and login; manage only when asked for].
    #[arg(long = "scope", value_name = "SCOPE", value_delimiter = ',')]
    pub scopes: Vec<String>,
    /// Limit HTTP use to paths under this prefix, e.g. /api/ci/ (repeatable).
    #[arg(long = "path", value_name = "PREFIX")]
    pub paths: Vec<String>,
    /// Limit use to these addresses or ranges, within allowed-networks (repeatable).
    #[arg(long = "allow-ip", value_name = "CIDR", num_args = 1..)]
    pub networks: Vec<String>,
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
    /// Only tokens whose name contains this text.
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Only tokens expiring within this duration, e.g. 14d.
    #[arg(long, value_name = "DURATION")]
    pub expiring: Option<String>,
    /// Only tokens created before this time.
    #[arg(long, value_name = "TIME")]
    pub created_before: Option<String>,
    /// Only tokens created after this time.
    #[arg(long, value_name = "TIME")]
    pub created_after: Option<String>,
    /// Only tokens last used before this time.
    #[arg(long, value_name = "TIME")]
    pub last_used_before: Option<String>,
    /// Only tokens last used after this time.
    #[arg(long, value_name = "TIME")]
    pub last_used_after: Option<String>,
    /// Only tokens expiring before this time.
    #[arg(long, value_name = "TIME")]
    pub expires_before: Option<String>,
    /// Only tokens with this scope (read, write or login).
    #[arg(long, value_name = "SCOPE")]
    pub scope: Option<String>,
    /// Only tokens never used.
    #[arg(long)]
    pub never_used: bool,
    /// Sort by created, expires, last-used, user, name or id [default: created].
    #[arg(long, value_name = "KEY", value_parser = ["created", "expires", "last-used", "user", "name", "id"])]
    pub sort: Option<String>,
    /// Reverse the order.
    #[arg(long)]
    pub reverse: bool,
    /// At most this many tokens; when more follow, `next: CURSOR` is written to stderr.
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// Continue a listing after this cursor (from `next:` of an earlier run with the same
    /// filters, --sort and --reverse).
    #[arg(long, value_name = "CURSOR")]
    pub after: Option<String>,
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

//! Example sections of `--help`, one per subcommand.

pub const MAIN_EXAMPLES: &str = "\
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

pub const CREATE_EXAMPLES: &str = "\
Examples:
  apitoken create                              # longest validity allowed
  apitoken create --name deploy --expires 1y
  apitoken create --expires 30d
  apitoken create --expires 2026-12-31
  apitoken create --user www-api --name nginx  # admins: for another user
  apitoken create --scope read --path /api/ci/ --allow-ip 10.0.0.0/8
  apitoken create --scope login                 # PAM and Apache only
  apitoken create --scope manage --name script  # the web face's REST API
  TOKEN=$(apitoken create --name ci)

The token is printed once and cannot be shown again; only its id is kept.";

pub const LIST_EXAMPLES: &str = "\
Examples:
  apitoken list                 # your tokens
  apitoken list --user alice    # admins
  apitoken list --all --json    # admins: every token, for scripts
  apitoken list --expiring 14d
  apitoken list --all --never-used --created-before 90d --sort created
  apitoken list --all --scope write --last-used-after 2026-01-01 --sort last-used --reverse

Times are UTC. Filter times are YYYY-MM-DD, RFC 3339, or a duration: 30d means 30 days
ago for --created-*/--last-used-*, and 30 days from now for --expires-before.
Secrets are never shown.";

pub const ROTATE_EXAMPLES: &str = "\
Examples:
  apitoken rotate 3fK9aB2x                 # the old token stops at once
  apitoken rotate 3fK9aB2x --grace 1h      # the old token keeps working for an hour
  NEW=$(apitoken rotate 3fK9aB2x --grace 15m)

Prints the new token alone. It keeps the name, owner, scopes, paths and networks of the
old one. Presenting the old token after its grace period is logged as token.reuse.";

pub const PRUNE_EXAMPLES: &str = "\
Examples:
  apitoken prune                   # older than the prune-after setting (default 30d)
  apitoken prune --older-than 7d

Removes tokens that expired, or were rotated away, longer ago than that (admins).";

pub const SHOW_EXAMPLES: &str = "\
Examples:
  apitoken show 3fK9aB2x
  apitoken show 3fK9aB2x --json";

pub const DELETE_EXAMPLES: &str = "\
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
  apitoken settings set lockout-threshold 5";

/// The examples of `settings`, then every key with its values, from the settings table.
pub fn settings_examples() -> String {
    let mut text = format!("{SETTINGS_EXAMPLES}\n\nKeys:");
    let mut width = "Keys:".len();
    for d in &crate::settings::SETTINGS {
        let item = format!("{} ({}),", d.key, d.values);
        if width + 1 + item.len() > 88 {
            text.push('\n');
            width = 0;
        } else {
            text.push(' ');
            width += 1;
        }
        text.push_str(&item);
        width += item.len();
    }
    text.pop();
    text.push('.');
    text
}

pub const ALLOW_IP_EXAMPLES: &str = "\
Examples:
  apitoken allow-ip list
  apitoken allow-ip add 10.0.0.0/8 192.168.1.7 2001:db8::/32
  apitoken allow-ip remove 192.168.1.7
  apitoken allow-ip clear          # empty list: every address is allowed";

pub const CHECK_IP_EXAMPLES: &str = "\
Examples:
  apitoken check-ip 10.1.2.3
  apitoken check-ip 2001:db8::1 --json

Exit status 0 when the address is allowed, 1 when it is not.";

pub const FAILURES_EXAMPLES: &str = "\
Examples:
  apitoken failures
  apitoken failures --user alice
  apitoken failures reset alice    # clears the count and any lock";

pub const AUDIT_EXAMPLES: &str = "\
Examples:
  apitoken audit                       # admins: everything; users: their own events
  apitoken audit --user alice --since 7d
  apitoken audit --since 1h --limit 20 --json";

pub const VERIFY_EXAMPLES: &str = "\
Examples:
  echo \"$TOKEN\" | apitoken verify
  apitoken verify --user alice < token.txt

Reads one token from standard input. Exit status 0 when it is valid, 1 when it is not.";

pub const STATUS_EXAMPLES: &str = "\
Examples:
  apitoken status
  apitoken status --json";

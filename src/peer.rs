//! Who is calling: Unix user names and admin status from uids (SO_PEERCRED is read by the
//! socket layer; this module turns a uid into a user and decides whether it is an admin).

use nix::unistd::{Gid, Group, Uid, User};

/// The caller of an admin request, as the kernel reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    /// The account name, or `uid:<n>` for a uid without one.
    pub user: String,
    pub admin: bool,
    /// Whether the request came through the web face rather than `admin.sock`: its
    /// changes are audited with `via=web`.
    pub web: bool,
}

/// Resolves a peer uid: root, the daemon's own uid and members of `admin_group` are admins.
pub fn identify(uid: u32, admin_group: &str) -> Peer {
    let account = User::from_uid(Uid::from_raw(uid)).ok().flatten();
    let admin = uid == 0
        || uid == nix::unistd::getuid().as_raw()
        || account
            .as_ref()
            .is_some_and(|u| in_group(&u.name, u.gid, admin_group));
    let user = account
        .map(|u| u.name)
        .unwrap_or_else(|| format!("uid:{uid}"));
    Peer {
        uid,
        user,
        admin,
        web: false,
    }
}

/// Whether the account `name` exists and is root or a member of `admin_group`
/// (the rule for token owners, SPEC §4).
pub fn is_admin_account(name: &str, admin_group: &str) -> bool {
    match User::from_name(name) {
        Ok(Some(u)) => u.uid.is_root() || in_group(&u.name, u.gid, admin_group),
        _ => false,
    }
}

/// The name NSS gives the account `typed` matches (LDAP and others may match names
/// regardless of case), or `None` when no account matches. Failure counts are kept
/// under it, so one account has one count however its name is typed.
pub fn account_name(typed: &str) -> Option<String> {
    User::from_name(typed).ok().flatten().map(|u| u.name)
}

fn in_group(name: &str, primary: Gid, group: &str) -> bool {
    match Group::from_name(group) {
        Ok(Some(g)) => g.gid == primary || g.mem.iter().any(|m| m == name),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_root_is_admin() {
        let p = identify(0, "no-such-group-xyz");
        assert!(p.admin);
        assert_eq!(p.user, "root");
    }

    #[test]
    fn identify_unknown_uid_is_named_by_number() {
        let p = identify(4_000_000_000, "no-such-group-xyz");
        assert_eq!(p.user, "uid:4000000000");
    }

    #[test]
    fn account_name_is_the_account_name_or_none() {
        assert_eq!(account_name("root").as_deref(), Some("root"));
        assert_eq!(account_name("no-such-user-xyz"), None);
    }

    #[test]
    fn is_admin_account_missing_user_is_false() {
        assert!(is_admin_account("root", "no-such-group-xyz"));
        assert!(!is_admin_account("no-such-user-xyz", "root"));
    }
}

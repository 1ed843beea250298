//! Connection slots of one socket, budgeted by the peer's uid (SO_PEERCRED at accept), so
//! that no local user can take the slots everyone else needs. Trusted peers — root, the
//! daemon's own uid and the http socket's group — draw from their own pool and never wait
//! behind others. Every other uid may hold `per_user_held` connections (out of a shared
//! `shared_held`), of which `per_user` are served at once; the rest wait for a turn of
//! that same uid, never for anyone else's. A connection over its budget is closed at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Who is trusted, and whether anyone else may connect at all.
#[derive(Debug, Clone, Default)]
pub struct Peers {
    /// The daemon's own uid.
    pub own_uid: u32,
    /// The gid of `[http] socket_group`, when set.
    pub group: Option<u32>,
    /// The uids of that group's listed members.
    pub members: Vec<u32>,
    /// `socket_access = "owner"`: only root and the daemon's uid (and the group on the
    /// http socket) may connect.
    pub owner_only: bool,
}

impl Peers {
    /// Whether a peer draws from the trusted pool.
    pub fn trusted(&self, uid: u32, gid: u32) -> bool {
        uid == 0 || uid == self.own_uid || self.group == Some(gid) || self.members.contains(&uid)
    }

    /// Resolves `[http] socket_group` and its members once, at start: the accept path
    /// never asks NSS (which may be LDAP and slow).
    pub fn from_config(config: &crate::config::Config) -> Peers {
        let own_uid = nix::unistd::getuid().as_raw();
        let group = config
            .http
            .socket_group
            .as_deref()
            .and_then(|name| nix::unistd::Group::from_name(name).ok().flatten());
        let members = group
            .as_ref()
            .map(|g| {
                g.mem
                    .iter()
                    .filter_map(|m| nix::unistd::User::from_name(m).ok().flatten())
                    .map(|u| u.uid.as_raw())
                    .collect()
            })
            .unwrap_or_default();
        Peers {
            own_uid,
            group: group.map(|g| g.gid.as_raw()),
            members,
            owner_only: config.socket_access == crate::config::SocketAccess::Owner,
        }
    }
}

/// The limits of one socket.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections of one untrusted uid served at once.
    pub per_user: usize,
    /// Connections one untrusted uid may hold at once, served or waiting for a turn.
    pub per_user_held: usize,
    /// Connections all untrusted uids together may hold at once.
    pub shared_held: usize,
    /// Connections trusted peers together may hold at once.
    pub trusted: usize,
}

#[derive(Debug)]
struct User {
    held: usize,
    /// Turns of this uid: `per_user` permits.
    turns: Arc<Semaphore>,
}

#[derive(Debug, Default)]
struct Counts {
    by_uid: HashMap<u32, User>,
    shared: usize,
    trusted: usize,
}

/// The slots of one socket.
#[derive(Debug)]
pub struct Budget {
    limits: Limits,
    peers: Peers,
    /// Whether the group counts as trusted on this socket even in owner-only mode.
    group_may_connect: bool,
    counts: Mutex<Counts>,
}

/// One admitted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    budget: Arc<Budget>,
    /// `None` for a trusted peer.
    uid: Option<u32>,
    /// The uid's turns, `None` for a trusted peer (always served at once).
    turns: Option<Arc<Semaphore>>,
}

impl Slot {
    /// Waits until this connection's uid has a turn free; a trusted peer never waits.
    /// Hold the permit while serving.
    pub async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        match &self.turns {
            None => None,
            // The semaphore is never closed, so `acquire_owned` only ever succeeds.
            Some(turns) => turns.clone().acquire_owned().await.ok(),
        }
    }
}

impl Budget {
    pub fn new(limits: Limits, peers: Peers, group_may_connect: bool) -> Arc<Budget> {
        Arc::new(Budget {
            limits,
            peers,
            group_may_connect,
            counts: Mutex::new(Counts::default()),
        })
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        // The counts stay consistent under a panic elsewhere: every update is one step.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for a peer with `uid`/`gid`, or `None` when it is over its budget or may
    /// not connect at all.
    pub fn admit(self: &Arc<Self>, uid: u32, gid: u32) -> Option<Slot> {
        let p = &self.peers;
        let owner = uid == 0 || uid == p.own_uid;
        let group = self.peers.trusted(uid, gid) && !owner;
        if p.owner_only && !owner && !(group && self.group_may_connect) {
            return None;
        }
        let mut c = self.counts();
        if self.peers.trusted(uid, gid) {
            if c.trusted >= self.limits.trusted {
                return None;
            }
            c.trusted += 1;
            return Some(Slot {
                budget: self.clone(),
                uid: None,
                turns: None,
            });
        }
        let mine = c.by_uid.get(&uid).map_or(0, |u| u.held);
        if mine >= self.limits.per_user_held || c.shared >= self.limits.shared_held {
            return None;
        }
        c.shared += 1;
        let per_user = self.limits.per_user;
        let user = c.by_uid.entry(uid).or_insert_with(|| User {
            held: 0,
            turns: Arc::new(Semaphore::new(per_user)),
        });
        user.held += 1;
        Some(Slot {
            budget: self.clone(),
            uid: Some(uid),
            turns: Some(user.turns.clone()),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.budget.counts();
        match self.uid {
            None => c.trusted = c.trusted.saturating_sub(1),
            Some(uid) => {
                c.shared = c.shared.saturating_sub(1);
                if let Some(u) = c.by_uid.get_mut(&uid) {
                    u.held -= 1;
                    if u.held == 0 {
                        c.by_uid.remove(&uid);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(owner_only: bool) -> Arc<Budget> {
        let peers = Peers {
            own_uid: 500,
            group: Some(33),
            members: vec![34],
            owner_only,
        };
        let limits = Limits {
            per_user: 1,
            per_user_held: 2,
            shared_held: 3,
            trusted: 4,
        };
        Budget::new(limits, peers, true)
    }

    #[test]
    fn admit_untrusted_uid_is_capped_per_user_and_freed_on_drop() {
        let b = budget(false);
        let a1 = b.admit(1000, 1000).unwrap();
        let _a2 = b.admit(1000, 1000).unwrap();
        assert!(b.admit(1000, 1000).is_none());
        assert!(
            b.admit(1001, 1001).is_some(),
            "another user has its own budget"
        );
        drop(a1);
        assert!(b.admit(1000, 1000).is_some());
    }

    #[tokio::test]
    async fn turn_waits_only_for_the_same_uid() {
        let b = budget(false);
        let first = b.admit(1000, 1000).unwrap();
        let second = b.admit(1000, 1000).unwrap();
        let other = b.admit(1001, 1001).unwrap();
        let held = first.turn().await;
        assert!(held.is_some());
        let wait = tokio::time::timeout(std::time::Duration::from_millis(50), second.turn());
        assert!(
            wait.await.is_err(),
            "a second connection of one uid waits its turn"
        );
        let now = tokio::time::timeout(std::time::Duration::from_millis(50), other.turn());
        assert!(now.await.is_ok(), "another uid does not wait behind it");
        drop(held);
        assert!(second.turn().await.is_some());
        let root = b.admit(0, 0).unwrap();
        assert!(
            root.turn().await.is_none(),
            "trusted peers have no turns to wait for"
        );
    }

    #[test]
    fn admit_trusted_peers_never_wait_behind_others() {
        let b = budget(false);
        let held: Vec<_> = (0..3).filter_map(|u| b.admit(1000 + u, 1000)).collect();
        assert_eq!(held.len(), 3);
        assert!(b.admit(2000, 2000).is_none(), "the shared pool is full");
        for (uid, gid) in [(0, 0), (500, 500), (77, 33), (34, 34)] {
            assert!(b.admit(uid, gid).is_some(), "uid {uid} gid {gid}");
        }
    }

    #[test]
    fn admit_owner_only_refuses_other_users() {
        let b = budget(true);
        assert!(b.admit(1000, 1000).is_none());
        assert!(b.admit(0, 0).is_some());
        assert!(b.admit(500, 500).is_some());
        assert!(b.admit(77, 33).is_some(), "the group may use this socket");
    }
}

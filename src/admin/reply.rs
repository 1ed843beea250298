//! What every admin operation shares: the typed reply, authorization by the peer's
//! identity, the actor of a change, and argument checks. (Operations live in `ops`,
//! `tokens` and `listing`, which all depend on this module and not on each other's.)

use super::proto::Response;
use super::Failure;
use crate::engine::{Actor, Origin};
use crate::peer::Peer;

/// A reply payload in its typed form: only the reply types of the wire crate convert into
/// a [`Response`], so no request is answered with an ad hoc shape.
pub(super) type Outcome = Result<Response, Failure>;

pub(super) fn to_value(v: impl Into<Response>) -> Outcome {
    Ok(v.into())
}

/// The actor of a change asked for on the admin socket.
pub(super) fn actor(peer: &Peer) -> Actor<'_> {
    Actor {
        user: &peer.user,
        via: if peer.web { Origin::Web } else { Origin::Cli },
    }
}

pub(super) fn require_admin(peer: &Peer, what: &str) -> Result<(), Failure> {
    if peer.admin {
        Ok(())
    } else {
        Err(Failure::denied(format!("permission denied: {what} is for admins (root or members of the admin group); ask an administrator")))
    }
}

pub(super) fn valid_user_name(name: &str) -> Result<(), Failure> {
    if name.starts_with(crate::token::PREFIX) {
        // Never echo it: it is probably a token pasted in the wrong place.
        return Err(Failure::invalid(
            "that looks like a token, not a user name; user names are 1-64 letters, digits and . _ @ - +",
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Failure::invalid(format!(
            "{name:?} is not a valid user name: use 1-64 letters, digits and . _ @ - +"
        )))
    }
}

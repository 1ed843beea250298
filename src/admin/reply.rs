//! What every admin operation shares: the typed reply, the actor of a request, and the
//! refusals of reads. (Operations live in `ops`, `tokens` and `listing`, which all depend
//! on this module and not on each other's; the rules of changes are the engine's.)

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

/// The actor of a request asked for on the admin socket or the web face.
pub fn actor(peer: &Peer) -> Actor<'_> {
    Actor {
        user: &peer.user,
        admin: peer.admin,
        via: if peer.web { Origin::Web } else { Origin::Cli },
    }
}

/// Refuses a read that is for admins (the engine's rule, as its changes apply it).
pub(super) fn require_admin(peer: &Peer, what: &str) -> Result<(), Failure> {
    Ok(actor(peer).require_admin(what)?)
}

/// Checks a user-name argument of a read (the engine's rule).
pub(super) fn valid_user_name(name: &str) -> Result<(), Failure> {
    Ok(crate::engine::valid_user_name(name)?)
}

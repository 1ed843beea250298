//! Renaming a token (the web face's `PATCH /api/v1/tokens/{id}`): the owner or an admin,
//! audited as `token.rename` by the core's change operation.

use super::reply::{actor, to_value, Outcome};
use super::tokens::{info, owned_token};
use super::Failure;
use crate::engine::{now, Engine};
use crate::peer::Peer;

/// Checks a token name: at most 100 characters, no control characters, nothing
/// token-shaped (the rule of `create`).
pub fn valid_name(name: &str) -> Result<(), Failure> {
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(Failure::invalid(
            "a name is at most 100 characters without control characters",
        ));
    }
    if crate::token::contains_token_shape(name) {
        // Never echoed: it is probably a token pasted into the wrong field.
        return Err(Failure::invalid(
            "the name looks like it contains a token (atk_...); names are stored and logged, so choose another",
        ));
    }
    Ok(())
}

pub fn rename(engine: &Engine, peer: &Peer, id: &str, name: &str) -> Outcome {
    valid_name(name)?;
    let t = owned_token(engine, peer, id)?;
    if !engine.rename_token(actor(peer), &t, name)? {
        return Err(Failure::not_found(format!("no token with id {id}")));
    }
    let renamed = crate::store::TokenRecord {
        name: name.to_string(),
        ..t
    };
    to_value(info(&renamed, now()))
}

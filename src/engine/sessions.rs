//! Web sessions (SPEC §11). A login the judge allowed opens one under a random 256-bit
//! id, which the store keeps only as its SHA-256; `[web] idle_minutes` and `max_hours`
//! end it. While it lasts, the rules of every credential (`allowed-networks`, lockout)
//! hold on each request, not just at login.
//!
//! Blocking (the store is): front ends call these from a blocking task.

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::{ClientAddr, Decision, Engine, OpError, Reason};
use crate::store::{SessionLimits, StoreError};
use crate::token::TokenError;

/// Where a session stands on one request.
#[derive(Debug, PartialEq, Eq)]
pub enum SessionCheck {
    /// Live: it acts as this user.
    User(String),
    /// Unknown, logged out, idle too long or past its maximum age.
    Ended,
    /// Live, but its user may not act now: [`Decision::Forbidden`] (`IpDenied`) or
    /// [`Decision::Locked`].
    Refused(Decision),
}

impl Engine {
    /// Opens a session for `user` (whom a login just proved); returns its id, which only
    /// the client keeps.
    pub fn open_session(&self, user: &str) -> Result<String, OpError> {
        let mut bytes = zeroize::Zeroizing::new([0u8; 32]);
        getrandom::getrandom(bytes.as_mut()).map_err(|_| TokenError::Random)?;
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes.as_ref());
        let now = self.clock.now();
        self.store
            .session_create(&id_hash(&id), user, now, self.session_limits())?;
        Ok(id)
    }

    /// The user session `id` acts as, its idle time started again.
    pub fn session_user(&self, id: &str, addr: ClientAddr) -> Result<SessionCheck, StoreError> {
        let now = self.clock.now();
        let Some(user) = self
            .store
            .session_touch(&id_hash(id), now, self.session_limits())?
        else {
            return Ok(SessionCheck::Ended);
        };
        if !addr.allowed_by(&self.settings()) {
            return Ok(SessionCheck::Refused(Decision::Forbidden(Reason::IpDenied)));
        }
        if self.lockout.is_locked(&user, now) {
            return Ok(SessionCheck::Refused(Decision::Locked));
        }
        Ok(SessionCheck::User(user))
    }

    /// Ends session `id` (logout); an unknown id is no error.
    pub fn end_session(&self, id: &str) -> Result<(), StoreError> {
        self.store.session_delete(&id_hash(id)).map(drop)
    }

    /// How long a session may stay idle and how long it may last at most (`[web]
    /// idle_minutes`, `max_hours`), in seconds.
    pub fn session_limits(&self) -> SessionLimits {
        let web = &self.config().web;
        SessionLimits {
            idle: web.idle_minutes as i64 * 60,
            max: web.max_hours as i64 * 3600,
        }
    }
}

/// What the store keeps of a session id.
fn id_hash(id: &str) -> String {
    format!("{:x}", Sha256::digest(id.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_keeps_the_hex_sha256_of_the_id() {
        assert_eq!(
            id_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

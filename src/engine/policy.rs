//! The rules a change must pass before it commits, written once: who may make it (SPEC
//! §6's table: users act on their own tokens, admins on any, and settings, failure
//! counts, delete-all and prune are admin-only) and what it may carry (user and token
//! names, validity within `max-validity`, `admin-only-create`, `user-tokens-read-only`,
//! scopes, path prefixes and networks). The operations of `ops` apply them, so no front
//! end can skip one; front ends call [`Actor::require_admin`] and [`valid_user_name`] for
//! what they only read.

use time::OffsetDateTime;

use super::change::{Actor, NewToken, OpError, Refusal};
use super::Engine;
use crate::scope::{parse_prefixes, Scopes};
use crate::settings::{ExpiryError, MaxValidity};
use crate::store::TokenRecord;

/// A token asked for, as the caller wrote it (`create`); the engine checks every field.
#[derive(Debug, Clone, Default)]
pub struct TokenRequest {
    /// The owner; the caller when not given.
    pub owner: Option<String>,
    pub name: Option<String>,
    /// A validity (`6m`, `2026-12-31`, `never`); the longest allowed when not given.
    pub expires: Option<String>,
    /// Comma-separated scopes; all when not given.
    pub scopes: Option<String>,
    pub paths: Vec<String>,
    pub networks: Vec<String>,
}

impl Actor<'_> {
    /// Refuses a non-admin caller; `what` names the thing refused.
    pub fn require_admin(&self, what: &str) -> Result<(), OpError> {
        if self.admin {
            Ok(())
        } else {
            Err(OpError::denied(format!("permission denied: {what} is for admins (root or members of the admin group); ask an administrator")))
        }
    }

    /// Whether the actor may create tokens (rotation included): admins always, others
    /// while `admin-only-create` is off.
    pub fn may_create(&self, engine: &Engine) -> bool {
        self.admin || !engine.settings().admin_only_create
    }

    /// Refuses token creation (`denial` says which) when [`Actor::may_create`] is false.
    fn require_creator(&self, engine: &Engine, denial: &str) -> Result<(), OpError> {
        if self.may_create(engine) {
            Ok(())
        } else {
            Err(OpError::denied(denial))
        }
    }
}

/// Checks a user-name argument: 1-64 letters, digits and `. _ @ - +`, never token-shaped.
pub fn valid_user_name(name: &str) -> Result<(), OpError> {
    if name.starts_with(crate::token::PREFIX) {
        // Never echo it: it is probably a token pasted in the wrong place.
        return Err(OpError::invalid(
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
        Err(OpError::invalid(format!(
            "{name:?} is not a valid user name: use 1-64 letters, digits and . _ @ - +"
        )))
    }
}

/// What is wrong with a token name, if anything; each operation words its own message.
enum NameProblem {
    /// Over 100 characters, or a control character.
    Shape,
    /// Token-shaped: probably a token pasted into the wrong field. Never echoed.
    TokenLike,
}

fn name_problem(name: &str) -> Option<NameProblem> {
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        Some(NameProblem::Shape)
    } else if crate::token::contains_token_shape(name) {
        Some(NameProblem::TokenLike)
    } else {
        None
    }
}

/// A duration argument (`30d`) in seconds, `default` when not given.
pub(super) fn duration_or(text: Option<&str>, default: u64) -> Result<u64, OpError> {
    match text {
        Some(d) => crate::settings::parse_duration(d).map_err(|e| OpError::invalid(e.0)),
        None => Ok(default),
    }
}

impl Engine {
    /// The validities a new token may ask for now (`max-validity`), shortest first.
    pub fn validity_choices(&self) -> Vec<&'static str> {
        MaxValidity::ALL
            .into_iter()
            .map(MaxValidity::name)
            .filter(|v| self.expiry(Some(v)).is_ok())
            .collect()
    }

    /// The expiry a new token asked with `validity` gets, refused past `max-validity`.
    fn expiry(&self, validity: Option<&str>) -> Result<Option<i64>, OpError> {
        let nanos = i128::from(self.clock.now_ms()) * 1_000_000;
        let now = OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|e| OpError::invalid(e.to_string()))?;
        let expiry = self
            .settings()
            .expiry_within(validity, now)
            .map_err(|e| match e {
                ExpiryError::Invalid(e) => OpError::invalid(e.0),
                ExpiryError::TooLong(e) => OpError::Refused(Refusal::OutOfBounds, e.0),
            })?;
        Ok(expiry.map(|t| t.unix_timestamp()))
    }

    /// Validated restrictions in their stored text form: (scopes, paths, networks).
    fn restrictions(
        &self,
        actor: Actor<'_>,
        owner: &str,
        req: &TokenRequest,
    ) -> Result<(String, String, String), OpError> {
        let mut scopes = match &req.scopes {
            Some(text) => Scopes::parse(text).map_err(OpError::invalid)?,
            None => Scopes::ALL,
        };
        // Regular users' own tokens may be forced to read-only by an admin.
        if self.settings().user_tokens_read_only && !actor.admin && owner == actor.user {
            let read = Scopes {
                read: true,
                ..Scopes::NONE
            };
            if req.scopes.is_some() && scopes != read {
                return Err(OpError::denied(
                    "permission denied: user-tokens-read-only is on, so your own tokens get the read scope only; use --scope read or ask an administrator",
                ));
            }
            scopes = read;
        }
        let paths = parse_prefixes(&req.paths).map_err(OpError::invalid)?;
        if req.networks.len() > crate::scope::MAX_NETWORKS {
            return Err(OpError::invalid(format!(
                "a token takes at most {} networks",
                crate::scope::MAX_NETWORKS
            )));
        }
        let networks = req
            .networks
            .iter()
            .map(|n| crate::settings::parse_network(n).map(|n| n.to_string()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| OpError::invalid(e.0))?;
        Ok((scopes.to_text(), paths.join(","), networks.join(",")))
    }

    /// The token `req` asks for, once every rule of creation allows it.
    pub(super) fn admit_token(
        &self,
        actor: Actor<'_>,
        req: &TokenRequest,
    ) -> Result<NewToken, OpError> {
        let owner = req.owner.clone().unwrap_or_else(|| actor.user.to_string());
        valid_user_name(&owner)?;
        if owner != actor.user {
            actor.require_admin("creating tokens for other users")?;
        }
        actor.require_creator(self, "permission denied: only admins may create tokens (admin-only-create is on); ask an administrator to create one for you")?;
        let name = req.name.clone().unwrap_or_default();
        match name_problem(&name) {
            Some(NameProblem::Shape) => return Err(OpError::invalid(
                "--name must be at most 100 characters without control characters",
            )),
            Some(NameProblem::TokenLike) => return Err(OpError::invalid(
                "--name looks like it contains a token (atk_...); names are stored and logged, so choose another",
            )),
            None => {}
        }
        let expires_at = self.expiry(req.expires.as_deref())?;
        let (scopes, paths, networks) = self.restrictions(actor, &owner, req)?;
        Ok(NewToken {
            owner,
            name,
            expires_at,
            scopes,
            paths,
            networks,
        })
    }

    /// The token `id` if `actor` may act on it: their own, or any for an admin.
    pub fn token_for(&self, actor: Actor<'_>, id: &str) -> Result<TokenRecord, OpError> {
        if !crate::token::is_valid_id(id) {
            // Not echoed: a string that is not an id may be a secret pasted by mistake.
            return Err(OpError::invalid("that is not a token id: ids are the 8 letters and digits after atk_; see apitoken list"));
        }
        let missing = || OpError::not_found(format!("no token with id {id}; see apitoken list"));
        let t = self.store.token(id)?.ok_or_else(missing)?;
        if t.owner != actor.user && !actor.admin {
            return Err(OpError::denied(format!(
                "permission denied: token {id} belongs to another user"
            )));
        }
        Ok(t)
    }

    /// The token a rotation of `id` replaces, its grace in seconds and the successor's
    /// expiry, once the rules of rotation allow it.
    pub(super) fn admit_rotation(
        &self,
        actor: Actor<'_>,
        id: &str,
        grace: Option<&str>,
        expires: Option<&str>,
    ) -> Result<(TokenRecord, u64, Option<i64>), OpError> {
        let old = self.token_for(actor, id)?;
        actor.require_creator(self, "permission denied: only admins may create tokens, rotation included (admin-only-create is on); ask an administrator")?;
        if old.revoke_at.is_some() {
            return Err(OpError::invalid(format!(
                "token {id} was already rotated to {}; rotate that one",
                old.rotated_to.unwrap_or_default()
            )));
        }
        let grace = duration_or(grace, 0)?;
        Ok((old, grace, self.expiry(expires)?))
    }

    /// The new name of token `id`, once the rules of renaming allow it.
    pub(super) fn admit_rename(
        &self,
        actor: Actor<'_>,
        id: &str,
        name: &str,
    ) -> Result<TokenRecord, OpError> {
        match name_problem(name) {
            Some(NameProblem::Shape) => Err(OpError::invalid(
                "a name is at most 100 characters without control characters",
            )),
            Some(NameProblem::TokenLike) => Err(OpError::invalid(
                "the name looks like it contains a token (atk_...); names are stored and logged, so choose another",
            )),
            None => self.token_for(actor, id),
        }
    }
}

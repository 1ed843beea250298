//! What a change operation is asked and answers, shared by the operations (`ops`) and
//! their rules (`policy`): who asks ([`Actor`], [`Origin`]), a token to create
//! ([`NewToken`]) and why a change was not made ([`OpError`], [`Refusal`]).

use crate::store::StoreError;
use crate::token::TokenError;

/// Which front end a change came through (the `via` of change events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The `apitoken` command on `admin.sock`.
    Cli,
    /// The REST API and page (SPEC §11).
    Web,
}

impl Origin {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Origin::Cli => "cli",
            Origin::Web => "web",
        }
    }
}

/// Who asks for a change.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The Unix user (admin socket) or the session's user (web).
    pub user: &'a str,
    /// Root, the daemon's own user or a member of `admin_group` (`peer::identify`).
    pub admin: bool,
    pub via: Origin,
}

/// The class of a refused change, which each front end maps to its status or exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// A malformed or contradictory argument.
    Invalid,
    /// Not allowed for this caller, or by a setting.
    Denied,
    /// No such token.
    NotFound,
    /// Over a limit the settings set (`max-validity`).
    OutOfBounds,
}

/// Why a change was not made.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{owner} already has {max} usable tokens, the maximum set by max-tokens-per-user; delete one first")]
    TooMany { owner: String, max: u32 },
    #[error("could not allocate a unique token id; try again")]
    Collision,
    /// Refused by a rule; the message names the problem and the fix.
    #[error("{1}")]
    Refused(Refusal, String),
}

impl OpError {
    pub(super) fn invalid(msg: impl Into<String>) -> OpError {
        OpError::Refused(Refusal::Invalid, msg.into())
    }
    pub(super) fn denied(msg: impl Into<String>) -> OpError {
        OpError::Refused(Refusal::Denied, msg.into())
    }
    pub(super) fn not_found(msg: impl Into<String>) -> OpError {
        OpError::Refused(Refusal::NotFound, msg.into())
    }
}

/// A token to create, every field validated (`policy`).
#[derive(Debug, Clone)]
pub struct NewToken {
    pub owner: String,
    pub name: String,
    pub expires_at: Option<i64>,
    pub scopes: String,
    pub paths: String,
    pub networks: String,
}

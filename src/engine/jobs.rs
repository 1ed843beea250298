//! The engine's daily work, blocking (the server schedules it on a blocking thread):
//! warning about tokens that expire soon. (The five-second upkeep is `housekeep`.)

use super::Engine;
use crate::audit::{Event, Severity};
use crate::store::{SortKey, StoreError, TokenFilter};

/// Days ahead that `token.expiring` warns about.
pub const EXPIRY_WARNING_DAYS: i64 = 14;

impl Engine {
    /// One `token.expiring` syslog line per token that expires within
    /// [`EXPIRY_WARNING_DAYS`] of `now` and has not been rotated away.
    pub fn warn_expiring(&self, now: i64) -> Result<(), StoreError> {
        let filter = TokenFilter {
            expires_after: Some(now),
            expires_before: Some(now + EXPIRY_WARNING_DAYS * 86_400),
            sort: SortKey::Expires,
            ..Default::default()
        };
        let tokens = self.store.tokens_filtered(&filter)?;
        for t in tokens.iter().filter(|t| t.revoke_at.is_none()) {
            let event = Event::new("token.expiring", now)
                .with("user", t.owner.as_str())
                .with("token_id", t.id.as_str())
                .with("name", t.name.as_str())
                .with(
                    "expires",
                    t.expires_at.map(crate::clock::rfc3339).unwrap_or_default(),
                );
            self.syslog.emit(&event, Severity::Warning);
        }
        Ok(())
    }
}

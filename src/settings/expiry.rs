//! The validity rule of SPEC §5: a new token's expiry, at most `max-validity` away.

use time::OffsetDateTime;

use super::{add_months, parse_validity, SettingError, Settings};

/// Why a validity was refused.
#[derive(Debug)]
pub enum ExpiryError {
    /// Not a validity, or in the past.
    Invalid(SettingError),
    /// Longer than `max-validity` allows; the message names the limit.
    TooLong(SettingError),
}

impl ExpiryError {
    /// The message, whichever the reason.
    pub fn into_inner(self) -> SettingError {
        match self {
            ExpiryError::Invalid(e) | ExpiryError::TooLong(e) => e,
        }
    }
}

impl Settings {
    /// The expiry for a new token asked with `validity` (`None` = the longest allowed),
    /// telling a malformed validity from one over the limit.
    pub fn expiry_within(
        &self,
        validity: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>, ExpiryError> {
        let limit = self.max_validity.months().map(|m| add_months(now, m));
        let wanted = match validity {
            None => return Ok(limit),
            Some(v) => parse_validity(v, now).map_err(ExpiryError::Invalid)?,
        };
        if wanted.is_some_and(|w| w <= now) {
            return Err(ExpiryError::Invalid(SettingError(
                "the expiry date must be in the future".into(),
            )));
        }
        let too_long = match (wanted, limit) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(w), Some(l)) => w > l,
        };
        if too_long {
            let max = self.max_validity.name();
            return Err(ExpiryError::TooLong(SettingError(format!(
                "validity {} exceeds the maximum of {max} set by max-validity; choose {max} or shorter",
                validity.unwrap_or_default()
            ))));
        }
        Ok(wanted)
    }
}

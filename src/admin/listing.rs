//! Listings of the admin socket: every fleet filter of docs/beyond.md, in one reply
//! (`list`) or in pages that continue from an opaque cursor (`list-page`).

use time::OffsetDateTime;

use super::proto::{ListFilter, TokenInfo, TokenPage, MAX_PAGE};
use super::reply::{require_admin, to_value, Outcome};
use super::tokens::info;
use super::Failure;
use crate::engine::Engine;
use crate::peer::Peer;
use crate::store::{Cursor, SortKey, TokenFilter};

/// A filter time: a date, an RFC 3339 time, or a duration counted from now (`sign` -1 for
/// the past, +1 for the future).
fn filter_time(text: &Option<String>, sign: i64, now: i64) -> Result<Option<i64>, Failure> {
    let Some(t) = text else { return Ok(None) };
    if let Ok(secs) = crate::settings::parse_duration(t) {
        return Ok(Some(now + sign * secs as i64));
    }
    if let Ok(d) = OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339) {
        return Ok(Some(d.unix_timestamp()));
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(t, &format)
        .map(|d| Some(d.midnight().assume_utc().unix_timestamp()))
        .map_err(|_| {
            Failure::invalid(format!(
                "{t:?} is not a time; use YYYY-MM-DD, an RFC 3339 time, or a duration such as 30d"
            ))
        })
}

fn token_filter(f: &ListFilter, owner: Option<String>, now: i64) -> Result<TokenFilter, Failure> {
    let sort = match f.sort.as_deref() {
        None => SortKey::Created,
        Some(name) => SortKey::from_name(name).ok_or_else(|| {
            Failure::invalid(format!(
                "cannot sort by {name:?}; use created, expires, last-used, user, name or id"
            ))
        })?,
    };
    let after = match &f.after {
        None => None,
        Some(text) => {
            let cursor = Cursor::decode(text).map_err(|e| Failure::invalid(e.0))?;
            cursor
                .check_order(sort, f.reverse)
                .map_err(|e| Failure::invalid(e.0))?;
            Some(cursor)
        }
    };
    if let Some(s) = &f.scope {
        if !matches!(s.as_str(), "read" | "write" | "login") {
            return Err(Failure::invalid(format!(
                "--scope takes one of read, write or login, not {s:?}"
            )));
        }
    }
    let mut filter = TokenFilter {
        owner,
        name: f.name.clone(),
        created_before: filter_time(&f.created_before, -1, now)?,
        created_after: filter_time(&f.created_after, -1, now)?,
        last_used_before: filter_time(&f.last_used_before, -1, now)?,
        last_used_after: filter_time(&f.last_used_after, -1, now)?,
        expires_before: filter_time(&f.expires_before, 1, now)?,
        expires_after: None,
        scope: f.scope.clone(),
        never_used: f.never_used,
        not_rotated: false,
        sort,
        descending: f.reverse,
        after,
        limit: f.limit,
    };
    if let Some(within) = filter_time(&f.expiring, 1, now)? {
        filter.expires_before = Some(filter.expires_before.map_or(within, |b| b.min(within)));
        filter.expires_after = Some(now);
        // A rotated token's expiry no longer matters: it stops when its grace ends.
        filter.not_rotated = true;
    }
    Ok(filter)
}

/// Whose tokens a listing shows, checking that the peer may see them.
fn owner_for(peer: &Peer, user: Option<String>, all: bool) -> Result<Option<String>, Failure> {
    let owner = match (all, user) {
        (true, _) => None,
        (false, Some(u)) => Some(u),
        (false, None) => Some(peer.user.clone()),
    };
    if owner.as_deref() != Some(peer.user.as_str()) {
        require_admin(peer, "listing other users' tokens")?;
    }
    Ok(owner)
}

/// The whole listing in one reply.
pub fn list(
    engine: &Engine,
    peer: &Peer,
    user: Option<String>,
    all: bool,
    filter: &ListFilter,
) -> Outcome {
    let owner = owner_for(peer, user, all)?;
    let now = engine.clock().now();
    let filter = token_filter(filter, owner, now)?;
    let tokens: Vec<TokenInfo> = engine
        .tokens(&filter)?
        .iter()
        .map(|t| info(t, now))
        .collect();
    to_value(tokens)
}

/// One page of a listing: at most `limit` (capped at [`MAX_PAGE`]) tokens after the
/// cursor, and the cursor of the next page when there is one. One row more than the page
/// is read to know whether another page follows.
pub fn list_page(
    engine: &Engine,
    peer: &Peer,
    user: Option<String>,
    all: bool,
    filter: &ListFilter,
) -> Outcome {
    let owner = owner_for(peer, user, all)?;
    let now = engine.clock().now();
    let mut filter = token_filter(filter, owner, now)?;
    let size = filter.limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
    filter.limit = Some(size + 1);
    let mut rows = engine.tokens(&filter)?;
    let more = rows.len() > size as usize;
    rows.truncate(size as usize);
    let next = match rows.last() {
        Some(last) if more => Some(Cursor::after(last, filter.sort, filter.descending).encode()),
        _ => None,
    };
    to_value(TokenPage {
        tokens: rows.iter().map(|t| info(t, now)).collect(),
        next,
    })
}

//! Listing queries, backend-neutral: token filters with their sort order and opaque
//! paging cursors, and audit queries.

use super::TokenRecord;

/// Sort orders for fleet listings; ties are broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Created,
    Expires,
    LastUsed,
    User,
    Name,
    Id,
}

/// Every sort key with its name (as `--sort` takes it) and its cursor letter.
const SORTS: [(SortKey, &str, char); 6] = [
    (SortKey::Created, "created", 'c'),
    (SortKey::Expires, "expires", 'e'),
    (SortKey::LastUsed, "last-used", 'l'),
    (SortKey::User, "user", 'u'),
    (SortKey::Name, "name", 'n'),
    (SortKey::Id, "id", 'i'),
];

impl SortKey {
    /// The key named `name` (`created`, `expires`, `last-used`, `user`, `name`, `id`).
    pub fn from_name(name: &str) -> Option<SortKey> {
        SORTS.iter().find(|s| s.1 == name).map(|s| s.0)
    }

    /// The name `--sort` takes.
    pub fn name(self) -> &'static str {
        SORTS
            .iter()
            .find(|s| s.0 == self)
            .map_or("created", |s| s.1)
    }

    fn letter(self) -> char {
        SORTS.iter().find(|s| s.0 == self).map_or('c', |s| s.2)
    }

    /// This key's value in `t`: a number (or none) for times, text otherwise.
    fn value_of(self, t: &TokenRecord) -> CursorKey {
        match self {
            SortKey::Created => CursorKey::Int(Some(t.created_at)),
            SortKey::Expires => CursorKey::Int(t.expires_at),
            SortKey::LastUsed => CursorKey::Int(t.last_used_at),
            SortKey::User => CursorKey::Text(t.owner.clone()),
            SortKey::Name => CursorKey::Text(t.name.clone()),
            SortKey::Id => CursorKey::Text(t.id.clone()),
        }
    }
}

/// Filters for token listings; every field narrows, `None` means no condition.
#[derive(Debug, Clone, Default)]
pub struct TokenFilter {
    pub owner: Option<String>,
    /// Substring of the name, case-insensitive.
    pub name: Option<String>,
    pub created_before: Option<i64>,
    pub created_after: Option<i64>,
    pub last_used_before: Option<i64>,
    pub last_used_after: Option<i64>,
    /// Tokens expiring before this time (never-expiring ones excluded).
    pub expires_before: Option<i64>,
    pub expires_after: Option<i64>,
    /// `read`, `write` or `login`: tokens that have it (tokens without scopes have all).
    pub scope: Option<String>,
    pub never_used: bool,
    /// Leave out tokens that were rotated away (in grace or past it).
    pub not_rotated: bool,
    pub sort: SortKey,
    pub descending: bool,
    /// Only rows after this one in the order above (the previous page's last row).
    pub after: Option<Cursor>,
    pub limit: Option<u32>,
}

/// The sort value of a cursor's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorKey {
    /// A time column; `None` for a row without one (never expires, never used).
    Int(Option<i64>),
    Text(String),
}

/// A position in a listing: the sort order it belongs to and the last row's sort value
/// and id. Its text form is opaque to users, stable across restarts and shell-safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub sort: SortKey,
    pub descending: bool,
    pub key: CursorKey,
    pub id: String,
}

/// A cursor that cannot be used: damaged, or taken from a listing in another order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CursorError(pub String);

fn hex(text: &str) -> String {
    text.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<String> {
    if text.len() % 2 != 0 {
        return None;
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

impl Cursor {
    /// The position just after `t` in a listing sorted by `sort`.
    pub fn after(t: &TokenRecord, sort: SortKey, descending: bool) -> Cursor {
        Cursor {
            sort,
            descending,
            key: sort.value_of(t),
            id: t.id.clone(),
        }
    }

    /// The text form: `<sort letter><a|d>.<value>.<id>`.
    pub fn encode(&self) -> String {
        let dir = if self.descending { 'd' } else { 'a' };
        let key = match &self.key {
            CursorKey::Int(None) => "-".to_string(),
            CursorKey::Int(Some(n)) => format!("i{n}"),
            CursorKey::Text(t) => format!("t{}", hex(t)),
        };
        format!("{}{dir}.{key}.{}", self.sort.letter(), self.id)
    }

    /// Parses a cursor's text form.
    pub fn decode(text: &str) -> Result<Cursor, CursorError> {
        let bad = || CursorError("that is not a cursor from apitoken list".into());
        let mut parts = text.split('.');
        let (Some(head), Some(key), Some(id), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let mut head = head.chars();
        let (Some(letter), Some(dir), None) = (head.next(), head.next(), head.next()) else {
            return Err(bad());
        };
        let sort = SORTS.iter().find(|s| s.2 == letter).ok_or_else(bad)?.0;
        let descending = match dir {
            'a' => false,
            'd' => true,
            _ => return Err(bad()),
        };
        let key = match (sort, key) {
            (SortKey::Created, "-") => return Err(bad()),
            (SortKey::Expires | SortKey::LastUsed, "-") => CursorKey::Int(None),
            (SortKey::Created | SortKey::Expires | SortKey::LastUsed, k) => {
                let n = k.strip_prefix('i').and_then(|n| n.parse().ok());
                CursorKey::Int(Some(n.ok_or_else(bad)?))
            }
            (_, k) => CursorKey::Text(k.strip_prefix('t').and_then(unhex).ok_or_else(bad)?),
        };
        if !crate::token::is_valid_id(id) {
            return Err(bad());
        }
        Ok(Cursor {
            sort,
            descending,
            key,
            id: id.to_string(),
        })
    }

    /// Refuses a cursor taken from a listing in another order.
    pub fn check_order(&self, sort: SortKey, descending: bool) -> Result<(), CursorError> {
        if self.sort == sort && self.descending == descending {
            return Ok(());
        }
        let dir = |d: bool| if d { " --reverse" } else { "" };
        Err(CursorError(format!(
            "that cursor continues a listing sorted by {}{}, not by {}{}; use the same --sort and --reverse",
            self.sort.name(),
            dir(self.descending),
            sort.name(),
            dir(descending)
        )))
    }
}

/// Which audit events to read, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Events whose user or actor is this user.
    pub user: Option<String>,
    /// Events at or after this time (unix seconds).
    pub since: i64,
    /// Only events older than this [`super::AuditRow::seq`] (the previous page's last).
    pub before: Option<i64>,
    pub limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> TokenRecord {
        TokenRecord {
            id: "3fK9aB2x".into(),
            owner: "al ice.é".into(),
            name: "deploy, \"prod\"".into(),
            hash: String::new(),
            created_at: 1_700_000_000,
            created_by: "root".into(),
            expires_at: None,
            last_used_at: Some(-5),
            last_used_ip: None,
            scopes: None,
            paths: String::new(),
            networks: String::new(),
            revoke_at: None,
            rotated_to: None,
            last_ips: String::new(),
        }
    }

    #[test]
    fn cursor_roundtrip_every_sort_and_direction() {
        for (sort, _, _) in SORTS {
            for descending in [false, true] {
                let c = Cursor::after(&record(), sort, descending);
                let text = c.encode();
                assert!(
                    text.chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ".-".contains(ch)),
                    "{text}"
                );
                assert_eq!(Cursor::decode(&text).unwrap(), c);
            }
        }
    }

    #[test]
    fn cursor_decode_garbage_is_error() {
        for text in [
            "",
            "x",
            "ca.i1",
            "ca.i1.3fK9aB2x.x",
            "za.i1.3fK9aB2x",
            "cx.i1.3fK9aB2x",
            "ca.-.3fK9aB2x",
            "ca.q1.3fK9aB2x",
            "ua.t6.3fK9aB2x",
            "ua.tzz.3fK9aB2x",
            "ca.i1.bad!",
            "ea.i1.atk_3fK9aB2x_secret",
        ] {
            assert!(Cursor::decode(text).is_err(), "{text}");
        }
    }

    #[test]
    fn cursor_check_order_names_both_orders() {
        let c = Cursor::after(&record(), SortKey::Name, true);
        assert!(c.check_order(SortKey::Name, true).is_ok());
        let err = c.check_order(SortKey::Created, false).unwrap_err().0;
        assert!(err.contains("sorted by name --reverse") && err.contains("not by created"));
    }
}

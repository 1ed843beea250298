//! Plain-text layout for human output: aligned tables, key/value lists, short times.
//!
//! Every value shown comes from the daemon and may hold text a user chose (token names),
//! so control characters are escaped before they can reach a terminal.

use std::fmt::Write as _;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// Column gap of every table.
const GAP: &str = "  ";

/// A table printed with each column as wide as its widest cell.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headers.
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; cells are escaped here, missing cells print empty.
    pub fn push(&mut self, cells: Vec<String>) {
        self.rows.push(cells.iter().map(|c| clean(c)).collect());
    }

    /// The table as text, one line per row, with a trailing newline.
    pub fn render(&self) -> String {
        self.render_with(&mut Vec::new(), true)
    }

    /// The table as text with columns at least `widths` wide, widening `widths` to fit
    /// these rows: a table printed in parts (pages of a listing) keeps the columns of the
    /// parts before, wider only where a later part needs it.
    pub fn render_with(&self, widths: &mut Vec<usize>, header: bool) -> String {
        widths.resize(self.headers.len(), 0);
        for (w, h) in widths.iter_mut().zip(&self.headers) {
            *w = (*w).max(h.chars().count());
        }
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(widths.len()) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        let first = if header { Some(&headers) } else { None };
        for row in first.into_iter().chain(&self.rows) {
            let mut line = String::new();
            for (i, width) in widths.iter().enumerate() {
                let cell = row.get(i).map(String::as_str).unwrap_or("");
                if i > 0 {
                    line.push_str(GAP);
                }
                let _ = write!(line, "{cell:<width$}");
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Key/value lines with the values aligned, e.g. `expires:    never`.
pub fn key_values(pairs: &[(&str, String)]) -> String {
    let width = pairs
        .iter()
        .map(|(k, _)| k.chars().count() + 1)
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{key}:");
        let _ = writeln!(out, "{label:<width$} {}", clean(value));
    }
    out
}

/// Escapes control characters (newlines, ANSI escapes) so text cannot rewrite a terminal.
pub fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM` UTC for tables; other text is shown as is.
pub fn short_time(value: &str) -> String {
    let format = format_description!("[year]-[month]-[day] [hour]:[minute]");
    OffsetDateTime::parse(value, &Rfc3339)
        .ok()
        .and_then(|t| t.to_offset(UtcOffset::UTC).format(&format).ok())
        .unwrap_or_else(|| value.to_string())
}

/// An optional time for tables, with `absent` when missing.
pub fn opt_time(value: Option<&str>, absent: &str) -> String {
    value.map_or_else(|| absent.to_string(), short_time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_render_aligns_columns() {
        let mut t = Table::new(&["ID", "NAME"]);
        t.push(vec!["a".into(), "first".into()]);
        t.push(vec!["longer".into(), "x".into()]);
        assert_eq!(t.render(), "ID      NAME\na       first\nlonger  x\n");
    }

    #[test]
    fn table_render_escapes_control_characters() {
        let mut t = Table::new(&["NAME"]);
        t.push(vec!["evil\x1b[2Jname\n".into()]);
        let text = t.render();
        assert!(!text.contains('\x1b'));
        assert_eq!(text.matches('\n').count(), 2);
    }

    #[test]
    fn short_time_rfc3339_is_shortened_to_minutes() {
        assert_eq!(short_time("2025-06-01T12:34:56Z"), "2025-06-01 12:34");
    }

    #[test]
    fn short_time_with_offset_is_converted_to_utc() {
        assert_eq!(short_time("2025-06-01T12:34:56+02:00"), "2025-06-01 10:34");
    }

    #[test]
    fn short_time_garbage_is_kept() {
        assert_eq!(short_time("soon"), "soon");
    }

    #[test]
    fn key_values_aligns_values() {
        let text = key_values(&[("id", "x".into()), ("expires", "never".into())]);
        assert_eq!(text, "id:      x\nexpires: never\n");
    }
}

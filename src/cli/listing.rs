//! `apitoken list`: pages fetched one request at a time and printed as they arrive, so a
//! listing of a whole fleet needs neither one huge reply nor the whole list in memory.
//! With `--limit N` at most N tokens are printed; when more follow, the cursor that
//! continues the listing is written to stderr as `next: CURSOR` (for `--after`).

use std::io::{self, Write};
use std::path::Path;

use super::table::{opt_time, short_time, Table};
use super::{client, CliError};
use apitoken_wire::admin::{ListFilter, Request, Response, TokenInfo, MAX_PAGE};

/// Tokens asked for per request while streaming a listing.
pub const PAGE: u32 = 1000;

/// What a listing asks for; the filter's `limit` is the most tokens to print in all.
pub struct Listing {
    pub user: Option<String>,
    pub all: bool,
    pub filter: ListFilter,
}

/// Prints a listing, page by page, as a table or as the JSON array of SPEC §6.
pub fn run(socket: &Path, listing: Listing, json: bool) -> Result<u8, CliError> {
    let mut remaining = listing.filter.limit;
    let mut after = listing.filter.after.clone();
    let mut out = Printer::new(json);
    loop {
        let size = remaining.map_or(PAGE, |r| r.min(PAGE)).min(MAX_PAGE);
        let request = Request::ListPage {
            user: listing.user.clone(),
            all: listing.all,
            filter: ListFilter {
                limit: Some(size),
                after: after.take(),
                ..listing.filter.clone()
            },
        };
        let page = match client::call(socket, request)? {
            Response::Page(page) => page,
            _ => return Err(CliError::Input("unexpected reply to a listing".into())),
        };
        if !out.rows(&page.tokens)? {
            // stdout was closed (`apitoken list | head`): nobody reads the rest.
            return Ok(0);
        }
        remaining = remaining.map(|r| r.saturating_sub(page.tokens.len() as u32));
        match page.next {
            Some(next) if remaining == Some(0) => {
                out.finish()?;
                let _ = writeln!(io::stderr(), "next: {next}");
                return Ok(0);
            }
            Some(next) if !page.tokens.is_empty() => after = Some(next),
            _ => break,
        }
    }
    out.finish()?;
    Ok(0)
}

/// Writes rows as they come: a table whose columns are as wide as the first page needs
/// (and widen for later pages), or the indented JSON array `serde_json` would print.
struct Printer {
    json: bool,
    count: usize,
    widths: Vec<usize>,
}

const HEADERS: [&str; 9] = [
    "ID",
    "USER",
    "NAME",
    "CREATED",
    "EXPIRES",
    "LAST USED",
    "LAST IP",
    "SCOPES",
    "STATE",
];

/// The table row of one token.
pub fn row(t: &TokenInfo) -> Vec<String> {
    vec![
        t.id.clone(),
        t.user.clone(),
        t.name.clone(),
        short_time(&t.created),
        opt_time(t.expires.as_deref(), "never"),
        opt_time(t.last_used.as_deref(), "-"),
        t.last_ip.clone().unwrap_or_else(|| "-".into()),
        t.scopes.clone(),
        t.state.clone(),
    ]
}

/// A whole listing as a table (or "No tokens.").
pub fn table(tokens: &[TokenInfo]) -> String {
    if tokens.is_empty() {
        return "No tokens.\n".into();
    }
    let mut table = Table::new(&HEADERS);
    for t in tokens {
        table.push(row(t));
    }
    table.render()
}

fn json_err(e: serde_json::Error) -> CliError {
    CliError::Output(io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
}

impl Printer {
    fn new(json: bool) -> Printer {
        Printer {
            json,
            count: 0,
            widths: Vec::new(),
        }
    }

    fn text(&mut self, tokens: &[TokenInfo]) -> Result<String, CliError> {
        if self.json {
            let mut text = String::new();
            for t in tokens {
                text.push_str(if self.count == 0 { "[\n" } else { ",\n" });
                let body = serde_json::to_string_pretty(t).map_err(json_err)?;
                let lines: Vec<String> = body.lines().map(|l| format!("  {l}")).collect();
                text.push_str(&lines.join("\n"));
                self.count += 1;
            }
            return Ok(text);
        }
        let mut table = Table::new(&HEADERS);
        for t in tokens {
            table.push(row(t));
        }
        let header = self.count == 0;
        self.count += tokens.len();
        Ok(table.render_with(&mut self.widths, header))
    }

    /// Prints a page; false when stdout is closed.
    fn rows(&mut self, tokens: &[TokenInfo]) -> Result<bool, CliError> {
        if tokens.is_empty() {
            return Ok(true);
        }
        let text = self.text(tokens)?;
        write_out(&text)
    }

    fn finish(&mut self) -> Result<bool, CliError> {
        let end = match (self.json, self.count) {
            (true, 0) => "[]\n",
            (true, _) => "\n]\n",
            (false, 0) => "No tokens.\n",
            (false, _) => return Ok(true),
        };
        write_out(end)
    }
}

/// Writes to stdout; a closed pipe is not an error, only the end of the listing.
fn write_out(text: &str) -> Result<bool, CliError> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(CliError::Output(e)),
        Ok(()) => Ok(true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(id: &str, name: &str) -> TokenInfo {
        TokenInfo {
            id: id.into(),
            user: "alice".into(),
            name: name.into(),
            created: "2026-01-01T00:00:00Z".into(),
            created_by: "root".into(),
            expires: None,
            last_used: None,
            last_ip: None,
            state: "active".into(),
            scopes: "read".into(),
            paths: vec!["/api/".into()],
            networks: Vec::new(),
            last_ips: Vec::new(),
            rotated_to: None,
            revoke_at: None,
        }
    }

    #[test]
    fn printer_json_in_pages_is_the_pretty_array() {
        let tokens = vec![
            info("AbCd1234", "a"),
            info("AbCd1235", "b"),
            info("AbCd1236", "c"),
        ];
        let mut p = Printer::new(true);
        let mut text = p.text(&tokens[..1]).unwrap();
        text.push_str(&p.text(&tokens[1..]).unwrap());
        text.push_str("\n]\n");
        assert_eq!(text, serde_json::to_string_pretty(&tokens).unwrap() + "\n");
    }

    #[test]
    fn printer_table_in_one_page_is_the_whole_table() {
        let tokens = vec![info("AbCd1234", "short"), info("AbCd1235", "a longer name")];
        let mut p = Printer::new(false);
        assert_eq!(p.text(&tokens).unwrap(), table(&tokens));
    }
}

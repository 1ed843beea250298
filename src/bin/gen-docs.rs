//! `gen-docs OUT_DIR`: writes the manual pages and shell completions of apitokend from
//! its clap definitions, for the Debian packages (packaging/build-debs.sh).
//!
//! Built only with `--features gen-docs` and never installed. Output:
//! - `OUT_DIR/man/`: `apitokend.8`, `apitoken-external.8`, `apitoken.1` and one
//!   `apitoken-SUBCOMMAND.1` per subcommand;
//! - `OUT_DIR/completions/{bash,zsh,fish}/`: completions of `apitoken` and `apitokend`,
//!   named as each shell's vendor directory expects them.
//!
//! `SOURCE_DATE_EPOCH`, when set, dates the pages, so the output is reproducible;
//! otherwise they carry today's date.
// Functions stay under 60 lines (clippy.toml), test code included.
#![warn(clippy::too_many_lines)]

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use apitokend::args::{DaemonArgs, ExternalArgs};
use apitokend::cli::Cli;
use clap::{Command, CommandFactory};
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Inline, Roff};
use clap_mangen::Man;

/// What a page adds to the clap definition: prose and the sections every Unix manual
/// page has that clap knows nothing about.
struct Extra {
    /// Paragraphs appended to the DESCRIPTION.
    description: &'static [&'static str],
    /// Sections of tagged paragraphs: (heading, [(tag, text)]).
    sections: &'static [(&'static str, &'static [(&'static str, &'static str)])],
    /// Pages named under SEE ALSO, e.g. `apitokend(8)`.
    see_also: &'static [&'static str],
}

const DAEMON: Extra = Extra {
    description: &[
        "apitokend decides whether a credential is good: a personal API token or, while \
         password logins are on, an account password. nginx asks over http.sock \
         (auth_request), the PAM module pam_apitoken.so and the Apache helper \
         apitoken-external over check.sock, and the apitoken command manages tokens and \
         settings over admin.sock, where every request is authorized by the caller's Unix \
         credentials.",
        "Under systemd the sockets are bound by apitokend.socket, apitokend-check.socket, \
         apitokend-admin.socket and apitokend-web.socket and handed to the daemon (socket activation). Run by a \
         user other than root without --config, it keeps its database and sockets in that \
         user's directories ($XDG_STATE_HOME/apitokend and $XDG_RUNTIME_DIR/apitokend).",
    ],
    sections: &[
        (
            "SIGNALS",
            &[
                ("SIGHUP", "Re-read the configuration file."),
                (
                    "SIGTERM, SIGINT",
                    "Finish the requests in flight, then exit.",
                ),
            ],
        ),
        (
            "EXIT STATUS",
            &[
                (
                    "0",
                    "Stopped cleanly, or --check-config found the configuration valid.",
                ),
                (
                    "1",
                    "The daemon could not start (a socket in use, a database it cannot open).",
                ),
                (
                    "78",
                    "The configuration file is unreadable or invalid; the message names the key.",
                ),
            ],
        ),
        (
            "FILES",
            &[
                (
                    "/etc/apitokend/apitokend.toml",
                    "Configuration; every key is optional.",
                ),
                (
                    "/var/lib/apitokend/tokens.db",
                    "Tokens (argon2id hashes only), settings, audit trail.",
                ),
                ("/run/apitokend/http.sock", "HTTP for nginx auth_request."),
                (
                    "/run/apitokend/check.sock",
                    "The PAM module and apitoken-external.",
                ),
                ("/run/apitokend/admin.sock", "The apitoken command."),
                (
                    "/etc/pam.d/apitokend",
                    "PAM service that checks account passwords ([password] pam_service).",
                ),
            ],
        ),
    ],
    see_also: &[
        "apitoken(1)",
        "apitoken-external(8)",
        "pam-auth-update(8)",
        "systemd.socket(5)",
    ],
};

const CLI: Extra = Extra {
    description: &[],
    sections: &[
        (
            "EXIT STATUS",
            &[
                ("0", "Success."),
                (
                    "1",
                    "Error; for check-ip and verify also \"not allowed\" and \"not valid\".",
                ),
                ("2", "Usage error."),
                ("3", "Permission denied: the action needs an administrator."),
                ("4", "No such token or user."),
                (
                    "69",
                    "The daemon is unreachable; the message names the socket tried.",
                ),
            ],
        ),
        (
            "ENVIRONMENT",
            &[
                (
                    "APITOKEN_SOCKET",
                    "Admin socket used when --socket is not given.",
                ),
                (
                    "XDG_RUNTIME_DIR",
                    "Where the per-user daemon's socket is looked for.",
                ),
            ],
        ),
        (
            "FILES",
            &[(
                "/run/apitokend/admin.sock",
                "Admin socket of the system daemon.",
            )],
        ),
    ],
    see_also: &["apitokend(8)"],
};

const SUBCOMMAND: Extra = Extra {
    description: &[],
    sections: &[],
    see_also: &[],
};

const EXTERNAL: Extra = Extra {
    description: &[
        "Apache's mod_authnz_external runs it for each Basic-auth login (pipe method): \
         it reads the user name and the secret, one per line, on standard input, and the \
         client address from $IP, asks apitokend over check.sock and answers with its exit \
         status. The same rules apply as for nginx, including the password fallback and \
         the read and write scopes, which the configuration names with \
         AuthExternalContext (login tokens are for PAM and refused here). Basic only: \
         Bearer tokens never reach the helper.",
        "In the Apache configuration: DefineExternalAuth apitoken pipe \
         /usr/lib/apitokend/apitoken-external (options may follow the path), then \
         AuthBasicProvider external and AuthExternal apitoken in the protected location. \
         Examples are in /usr/share/doc/apitokend/examples/apache/. The helper exits 0 \
         only when apitokend allows the login: --help, --version or any other argument \
         it does not know is a misconfiguration (exit 50, help on standard error), and \
         input with a third line or a user name with control characters is refused.",
    ],
    sections: &[
        (
            "EXIT STATUS",
            &[
                ("0", "Allowed."),
                ("1", "Invalid credentials, or input the helper refuses."),
                (
                    "3",
                    "Address not allowed, password logins off, or outside the token's scopes.",
                ),
                ("7", "User locked out."),
                (
                    "50",
                    "apitokend unreachable, or the helper is misconfigured.",
                ),
            ],
        ),
        (
            "ENVIRONMENT",
            &[
                ("IP", "Client address, checked against allowed-networks."),
                (
                    "URI",
                    "Requested URI, judged against a token's path prefixes.",
                ),
                (
                    "CONTEXT",
                    "From AuthExternalContext: read or write (unset: write; anything else \
                     is a misconfiguration).",
                ),
            ],
        ),
    ],
    see_also: &["apitokend(8)", "apitoken(1)"],
};

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: gen-docs OUT_DIR");
        return ExitCode::from(2);
    };
    match generate(&out) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("gen-docs: {}: {err}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path) -> io::Result<()> {
    let man = out.join("man");
    fs::create_dir_all(&man)?;
    let date = source_date();
    // As clap_mangen does: `help` is a subcommand at the prompt, never a page.
    let mut cli = Cli::command().disable_help_subcommand(true);
    cli.build();
    write_page(&man, &cli, "1", &date, &CLI, &subcommand_pages(&cli))?;
    write_subcommand_pages(&man, &cli, &date)?;
    write_page(&man, &DaemonArgs::command(), "8", &date, &DAEMON, &[])?;
    let external = ExternalArgs::command()
        .name("apitoken-external")
        .bin_name("apitoken-external");
    write_page(&man, &external, "8", &date, &EXTERNAL, &[])?;

    for (shell, dir) in [
        (Shell::Bash, "bash"),
        (Shell::Zsh, "zsh"),
        (Shell::Fish, "fish"),
    ] {
        let dir = out.join("completions").join(dir);
        fs::create_dir_all(&dir)?;
        for mut cmd in [Cli::command(), DaemonArgs::command()] {
            let name = cmd.get_name().to_string();
            let file = match shell {
                Shell::Bash => name.clone(),
                Shell::Zsh => format!("_{name}"),
                _ => format!("{name}.fish"),
            };
            let mut w = BufWriter::new(File::create(dir.join(file))?);
            clap_complete::generate(shell, &mut cmd, name, &mut w);
            w.flush()?;
        }
    }
    Ok(())
}

/// One page per subcommand, nested ones included (`apitoken-allow-ip-add.1`), each
/// pointing back at its parent's page.
fn write_subcommand_pages(dir: &Path, parent: &Command, date: &str) -> io::Result<()> {
    let parent_page = format!("{}(1)", page_name(parent));
    for sub in parent.get_subcommands().filter(|s| !s.is_hide_set()) {
        write_page(
            dir,
            sub,
            "1",
            date,
            &SUBCOMMAND,
            std::slice::from_ref(&parent_page),
        )?;
        write_subcommand_pages(dir, sub, date)?;
    }
    Ok(())
}

/// `apitoken-create(1)`, ... for the SEE ALSO of `apitoken(1)`.
fn subcommand_pages(cli: &Command) -> Vec<String> {
    cli.get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| format!("{}(1)", page_name(s)))
        .collect()
}

/// The page's name: `apitoken-allow-ip` for `apitoken allow-ip` once the tree is built.
fn page_name(cmd: &Command) -> String {
    cmd.get_display_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string()
}

/// `SOURCE_DATE_EPOCH` as `YYYY-MM-DD` (reproducible builds), else today. Never empty:
/// an empty date would shift the other `.TH` fields.
fn source_date() -> String {
    let t = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|secs| time::OffsetDateTime::from_unix_timestamp(secs).ok())
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    format!("{:04}-{:02}-{:02}", t.year(), u8::from(t.month()), t.day())
}

/// Renders one page: clap's sections, then EXAMPLES and NOTES from the `after_help`
/// text, then the sections of `extra`.
fn write_page(
    dir: &Path,
    cmd: &Command,
    section: &str,
    date: &str,
    extra: &Extra,
    more_see_also: &[String],
) -> io::Result<()> {
    let name = page_name(cmd);
    let man = Man::new(cmd.clone().disable_help_subcommand(true))
        .title(name.to_uppercase())
        .section(section)
        .date(date)
        .source(concat!("apitokend ", env!("CARGO_PKG_VERSION")))
        .manual("apitokend");
    let mut w = BufWriter::new(File::create(dir.join(format!("{name}.{section}")))?);
    man.render_title(&mut w)?;
    man.render_name_section(&mut w)?;
    man.render_synopsis_section(&mut w)?;
    man.render_description_section(&mut w)?;
    let mut roff = Roff::new();
    for paragraph in extra.description {
        roff.control("PP", []).text([roman(*paragraph)]);
    }
    roff.to_writer(&mut w)?;
    man.render_options_section(&mut w)?;
    if cmd.get_subcommands().next().is_some() {
        man.render_subcommands_section(&mut w)?;
    }
    let mut roff = Roff::new();
    if let Some(after) = cmd.get_after_help() {
        after_help(&mut roff, &after.to_string());
    }
    for (heading, items) in extra.sections {
        roff.control("SH", [*heading]);
        for (tag, text) in *items {
            roff.control("TP", [])
                .text([bold(*tag)])
                .text([roman(*text)]);
        }
    }
    let mut see_also: Vec<String> = extra.see_also.iter().map(|s| s.to_string()).collect();
    see_also.extend(more_see_also.iter().cloned());
    roff.control("SH", ["SEE ALSO"])
        .text(see_also_inlines(&see_also));
    roff.to_writer(&mut w)?;
    w.flush()
}

/// The `after_help` texts start with "Examples:" and a block of command lines, then
/// paragraphs of notes: the block becomes EXAMPLES (unfilled), the rest NOTES.
fn after_help(roff: &mut Roff, text: &str) {
    let mut blocks = text.split("\n\n");
    let Some(first) = blocks.next() else { return };
    let examples = first.strip_prefix("Examples:").unwrap_or(first);
    roff.control("SH", ["EXAMPLES"])
        .control("nf", [])
        .control("RS", ["4"]);
    for line in examples.lines().filter(|l| !l.trim().is_empty()) {
        roff.text([roman(line.trim_start())]);
    }
    roff.control("RE", []).control("fi", []);
    let notes: Vec<&str> = blocks.collect();
    if !notes.is_empty() {
        roff.control("SH", ["NOTES"]);
        for paragraph in notes {
            roff.control("PP", [])
                .text([roman(paragraph.replace('\n', " "))]);
        }
    }
}

/// `a(1), b(8)` with the page names in bold, as man-pages(7) asks.
fn see_also_inlines(pages: &[String]) -> Vec<Inline> {
    let mut inlines = Vec::new();
    for (i, page) in pages.iter().enumerate() {
        let (name, section) = page.split_once('(').unwrap_or((page, ""));
        inlines.push(bold(name));
        let sep = if i + 1 < pages.len() { ", " } else { "" };
        inlines.push(roman(format!("({section}{sep}")));
    }
    inlines
}

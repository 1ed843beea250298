//! `apitoken-external`: the helper Apache's `mod_authnz_external` runs (pipe method).
//!
//! Reads `user\nsecret\n` on stdin, the client address from `$IP`, the URI from `$URI` and
//! whether the request reads or writes from `$CONTEXT` (`AuthExternalContext read` or
//! `write`; unset counts as a write), asks apitokend over `check.sock`, and answers with
//! its exit code: 0 allowed (and only on the daemon's allow verdict), 1 invalid
//! credentials or refused input, 3 address not allowed, password logins off or outside
//! the token's scopes, 7 locked out, 50 daemon unreachable or misconfigured (including
//! `--help`, `--version` and unknown arguments). Nothing it prints contains the secret.
// Functions stay under 60 lines (clippy.toml), test code included.
#![warn(clippy::too_many_lines)]

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use apitoken_wire::check::{CheckRequest, Verdict, Via};
use apitokend::args::ExternalArgs;
use apitokend::check::client;
use clap::Parser;
use zeroize::Zeroizing;

/// Exit codes of SPEC section 9.
const EXIT_ALLOWED: u8 = 0;
const EXIT_INVALID: u8 = 1;
const EXIT_FORBIDDEN: u8 = 3;
const EXIT_LOCKED: u8 = 7;
const EXIT_UNAVAILABLE: u8 = 50;

/// Largest accepted input (user name, secret and newlines); more is refused unread.
const MAX_INPUT: usize = 4096;
/// How long one read or write to the daemon may take before Apache is answered 50.
const TIMEOUT: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    let cli = match ExternalArgs::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            // `--help`, `--version` and unknown arguments alike: a DefineExternalAuth line
            // with anything appended is a misconfiguration, and only an allow verdict from
            // the daemon may ever exit 0. Help goes to stderr (Apache's error log).
            eprint!("{}", err.render());
            return ExitCode::from(EXIT_UNAVAILABLE);
        }
    };
    let request = match request_from_apache() {
        Ok(request) => request,
        Err(code) => return ExitCode::from(code),
    };
    match client::ask(&cli.socket, &request, TIMEOUT) {
        Ok(reply) => {
            if reply.verdict != Verdict::Allow && !reply.reason.is_empty() {
                log_refusal(&request.user, &reply.reason);
            }
            ExitCode::from(exit_code(reply.verdict))
        }
        Err(err) => {
            eprintln!(
                "apitoken-external: cannot ask apitokend at {}: {err}",
                cli.socket.display()
            );
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
}

/// The check request from what mod_authnz_external passes: the credentials on stdin,
/// `CONTEXT`, `IP`, `URI` and `AUTHTYPE` in the environment. `Err` is the exit code of a
/// refusal, already explained on stderr.
fn request_from_apache() -> Result<CheckRequest, u8> {
    let access = match std::env::var("CONTEXT").as_deref() {
        Err(_) | Ok("") => String::new(),
        Ok(word @ ("read" | "write")) => word.to_string(),
        Ok(other) => {
            eprintln!(
                "apitoken-external: AuthExternalContext must be read or write, not {other:?}"
            );
            return Err(EXIT_UNAVAILABLE);
        }
    };
    let (user, secret) = read_credentials(&mut io::stdin().lock()).map_err(|why| {
        eprintln!("apitoken-external: refused input: {why}");
        EXIT_INVALID
    })?;
    Ok(CheckRequest {
        via: Via::External,
        user,
        secret: secret.to_vec(),
        rhost: std::env::var("IP").unwrap_or_default(),
        // mod_authnz_external always sets AUTHTYPE; anything else is a generic caller.
        service: if std::env::var_os("AUTHTYPE").is_some() {
            "apache"
        } else {
            "external"
        }
        .into(),
        uri: std::env::var("URI").unwrap_or_default(),
        access,
    })
}

/// Apache logs every refusal as a password mismatch; this line, just before it in the
/// error log, says why. The user name has no control characters; a token typed as the
/// user name is not repeated here.
fn log_refusal(user: &str, reason: &str) {
    let user = if user.contains("atk_") {
        "(token-shaped, not shown)".to_string()
    } else {
        format!("{user:?}")
    };
    eprintln!(
        "apitoken-external: user {user} refused: reason={}",
        reason.escape_default()
    );
}

/// The one mapping from the daemon's verdict to this front end's exit code.
fn exit_code(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Allow => EXIT_ALLOWED,
        Verdict::Unauthorized => EXIT_INVALID,
        Verdict::Forbidden => EXIT_FORBIDDEN,
        Verdict::Locked => EXIT_LOCKED,
        // `Ignore` is for the PAM front end only; receiving it means a broken daemon.
        Verdict::Ignore | Verdict::Error => EXIT_UNAVAILABLE,
    }
}

/// Reads `user\nsecret\n` (the final newline optional) into a buffer that is wiped on
/// drop. Refuses oversized input, a missing or empty user, a user name that is not UTF-8
/// or holds control characters, and anything after the second line: mod_authnz_external
/// writes the user name unchecked, so `alice\n<token>` as a Basic user name would
/// otherwise pass a token as the secret and put it into `REMOTE_USER` and the access log.
fn read_credentials(input: &mut impl Read) -> Result<(String, Zeroizing<Vec<u8>>), &'static str> {
    // Fixed-size, so the secret is never copied around by a growing buffer.
    let mut buf = Zeroizing::new(vec![0u8; MAX_INPUT + 1]);
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Err("cannot read stdin"),
        }
    }
    if filled > MAX_INPUT {
        return Err("more than 4096 bytes");
    }
    let data = &buf[..filled];
    let newline = data
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("no newline after the user name")?;
    let user = std::str::from_utf8(&data[..newline]).map_err(|_| "user name is not UTF-8")?;
    if user.is_empty() {
        return Err("empty user name");
    }
    if user.chars().any(char::is_control) {
        return Err("control character in the user name");
    }
    let rest = &data[newline + 1..];
    let secret = match rest.iter().position(|&b| b == b'\n') {
        None => rest,
        Some(end) if end + 1 == rest.len() => &rest[..end],
        Some(_) => return Err("more than two lines"),
    };
    Ok((user.to_string(), Zeroizing::new(secret.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Option<(String, Vec<u8>)> {
        read_credentials(&mut &input[..])
            .ok()
            .map(|(u, s)| (u, s.to_vec()))
    }

    #[test]
    fn read_credentials_two_lines_gives_user_and_secret() {
        assert_eq!(
            parse(b"alice\ns3cret\n"),
            Some(("alice".into(), b"s3cret".to_vec()))
        );
    }

    #[test]
    fn read_credentials_without_final_newline_is_accepted() {
        assert_eq!(
            parse(b"alice\ns3cret"),
            Some(("alice".into(), b"s3cret".to_vec()))
        );
    }

    #[test]
    fn read_credentials_empty_secret_is_kept_for_the_daemon() {
        assert_eq!(parse(b"alice\n\n"), Some(("alice".into(), Vec::new())));
    }

    #[test]
    fn read_credentials_malformed_input_is_refused() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"alice"), None);
        assert_eq!(parse(b"\nsecret\n"), None);
        assert_eq!(parse(b"\xff\xfe\nsecret\n"), None);
    }

    #[test]
    fn read_credentials_third_line_is_refused() {
        for input in [
            &b"alice\natk_token\nx\n"[..],
            b"alice\natk_token\nx",
            b"alice\nsecret\n\n",
        ] {
            assert_eq!(parse(input), None, "{:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn read_credentials_control_characters_in_user_are_refused() {
        for user in [
            "al\rice",
            "al\tice",
            "alice\u{7f}",
            "al\u{85}ice",
            "\u{1b}[31m",
        ] {
            let input = format!("{user}\nsecret\n");
            assert_eq!(parse(input.as_bytes()), None, "{user:?}");
        }
        assert!(parse("josé\nsecret\n".as_bytes()).is_some());
    }

    #[test]
    fn read_credentials_oversized_input_is_refused() {
        let mut big = b"alice\n".to_vec();
        big.resize(MAX_INPUT + 10, b'x');
        assert_eq!(parse(&big), None);
    }

    #[test]
    fn exit_code_each_verdict_maps_to_spec_code() {
        let table = [
            (Verdict::Allow, 0),
            (Verdict::Unauthorized, 1),
            (Verdict::Forbidden, 3),
            (Verdict::Locked, 7),
            (Verdict::Ignore, 50),
            (Verdict::Error, 50),
        ];
        for (verdict, code) in table {
            assert_eq!(exit_code(verdict), code, "{verdict:?}");
        }
    }
}

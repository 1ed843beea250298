//! `apitoken-external`: the helper Apache's `mod_authnz_external` runs (pipe method).
//!
//! Reads `user\nsecret\n` on stdin and the client address from `$IP` (and `$URI`), asks
//! apitokend over `check.sock`, and answers with its exit code: 0 allowed, 1 invalid
//! credentials, 3 address not allowed or password logins off, 7 locked out, 50 daemon
//! unreachable or misconfigured. Nothing it prints ever contains the secret.

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use apitokend::args::ExternalArgs;
use apitokend::check::client;
use apitokend::check::proto::{CheckRequest, Verdict, Via};
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
            let _ = err.print();
            // A bad DefineExternalAuth line is a misconfiguration, never a login failure.
            return ExitCode::from(if err.use_stderr() {
                EXIT_UNAVAILABLE
            } else {
                EXIT_ALLOWED
            });
        }
    };
    let Some((user, secret)) = read_credentials(&mut io::stdin().lock()) else {
        return ExitCode::from(EXIT_INVALID);
    };
    let request = CheckRequest {
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
    };
    match client::ask(&cli.socket, &request, TIMEOUT) {
        Ok(reply) => ExitCode::from(exit_code(reply.verdict)),
        Err(err) => {
            eprintln!(
                "apitoken-external: cannot ask apitokend at {}: {err}",
                cli.socket.display()
            );
            ExitCode::from(EXIT_UNAVAILABLE)
        }
    }
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
/// drop. `None` for oversized input, a missing or empty user, or a non-UTF-8 user name.
fn read_credentials(input: &mut impl Read) -> Option<(String, Zeroizing<Vec<u8>>)> {
    // Fixed-size, so the secret is never copied around by a growing buffer.
    let mut buf = Zeroizing::new(vec![0u8; MAX_INPUT + 1]);
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    if filled > MAX_INPUT {
        return None;
    }
    let data = &buf[..filled];
    let newline = data.iter().position(|&b| b == b'\n')?;
    let user = std::str::from_utf8(&data[..newline]).ok()?;
    if user.is_empty() {
        return None;
    }
    let rest = &data[newline + 1..];
    let secret = rest.split(|&b| b == b'\n').next().unwrap_or_default();
    Some((user.to_string(), Zeroizing::new(secret.to_vec())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Option<(String, Vec<u8>)> {
        read_credentials(&mut &input[..]).map(|(u, s)| (u, s.to_vec()))
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
    fn read_credentials_malformed_input_is_none() {
        assert_eq!(parse(b""), None);
        assert_eq!(parse(b"alice"), None);
        assert_eq!(parse(b"\nsecret\n"), None);
        assert_eq!(parse(b"\xff\xfe\nsecret\n"), None);
    }

    #[test]
    fn read_credentials_oversized_input_is_none() {
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

//! The module arguments from the PAM stack line (`socket=PATH timeout_ms=N ...`).

use std::path::PathBuf;
use std::time::Duration;

/// Where `check.sock` lives when the stack line does not say.
pub const DEFAULT_SOCKET: &str = "/run/apitokend/check.sock";
/// How long one question to the daemon may take when the stack line does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(3000);
/// The prompt used when the stack line does not say; a password works at it too.
pub const DEFAULT_PROMPT: &str = "Password: ";
/// Upper bound for `timeout_ms`: a login that waits longer than this is a hang.
const MAX_TIMEOUT_MS: u64 = 60_000;

/// What to do with a secret that an earlier module in the stack already read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FirstPass {
    /// Always prompt (the default, like `pam_unix` without options).
    Prompt,
    /// `try_first_pass`: use `PAM_AUTHTOK` if set, else prompt.
    Try,
    /// `use_first_pass`: use `PAM_AUTHTOK`; fail when it is not set.
    Use,
}

/// Parsed module arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub socket: PathBuf,
    pub timeout: Duration,
    pub first_pass: FirstPass,
    pub prompt: String,
    pub debug: bool,
    /// Arguments this module does not know; logged, then ignored like other modules do.
    pub unknown: Vec<String>,
}

/// A known argument with a value the module cannot use; the module refuses to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadArg(pub String);

impl std::fmt::Display for BadArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad module argument: {}", self.0)
    }
}

impl Default for Args {
    fn default() -> Self {
        Args {
            socket: PathBuf::from(DEFAULT_SOCKET),
            timeout: DEFAULT_TIMEOUT,
            first_pass: FirstPass::Prompt,
            prompt: DEFAULT_PROMPT.to_string(),
            debug: false,
            unknown: Vec::new(),
        }
    }
}

impl Args {
    /// Parses the arguments in stack order; a later argument overrides an earlier one.
    pub fn parse<'a>(argv: impl IntoIterator<Item = &'a str>) -> Result<Args, BadArg> {
        let mut args = Args::default();
        for arg in argv {
            match arg.split_once('=') {
                Some(("socket", path)) if !path.is_empty() => args.socket = PathBuf::from(path),
                Some(("timeout_ms", ms)) => args.timeout = parse_timeout(ms, arg)?,
                Some(("prompt", text)) => args.prompt = text.to_string(),
                Some(("socket", _)) => return Err(BadArg(arg.to_string())),
                _ => match arg {
                    "use_first_pass" => args.first_pass = FirstPass::Use,
                    "try_first_pass" => args.first_pass = FirstPass::Try,
                    "debug" => args.debug = true,
                    other => args.unknown.push(other.to_string()),
                },
            }
        }
        Ok(args)
    }
}

fn parse_timeout(ms: &str, arg: &str) -> Result<Duration, BadArg> {
    match ms.parse::<u64>() {
        Ok(n) if (1..=MAX_TIMEOUT_MS).contains(&n) => Ok(Duration::from_millis(n)),
        _ => Err(BadArg(arg.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_nothing_gives_defaults() {
        let args = Args::parse([]).unwrap();
        assert_eq!(args, Args::default());
        assert_eq!(args.socket, PathBuf::from("/run/apitokend/check.sock"));
        assert_eq!(args.timeout, Duration::from_millis(3000));
        assert_eq!(args.first_pass, FirstPass::Prompt);
    }

    #[test]
    fn parse_every_option_is_applied() {
        let args = Args::parse([
            "socket=/tmp/x.sock",
            "timeout_ms=250",
            "try_first_pass",
            "prompt=API token: ",
            "debug",
        ])
        .unwrap();
        assert_eq!(args.socket, PathBuf::from("/tmp/x.sock"));
        assert_eq!(args.timeout, Duration::from_millis(250));
        assert_eq!(args.first_pass, FirstPass::Try);
        assert_eq!(args.prompt, "API token: ");
        assert!(args.debug);
        assert!(args.unknown.is_empty());
    }

    #[test]
    fn parse_later_first_pass_option_wins() {
        let args = Args::parse(["try_first_pass", "use_first_pass"]).unwrap();
        assert_eq!(args.first_pass, FirstPass::Use);
    }

    #[test]
    fn parse_prompt_keeps_equals_signs() {
        let args = Args::parse(["prompt=a=b: "]).unwrap();
        assert_eq!(args.prompt, "a=b: ");
    }

    #[test]
    fn parse_unknown_argument_is_collected() {
        let args = Args::parse(["nullok", "use_frist_pass"]).unwrap();
        assert_eq!(args.unknown, ["nullok", "use_frist_pass"]);
        assert_eq!(args.first_pass, FirstPass::Prompt);
    }

    #[test]
    fn parse_bad_timeout_is_error() {
        for bad in [
            "timeout_ms=",
            "timeout_ms=abc",
            "timeout_ms=0",
            "timeout_ms=-5",
            "timeout_ms=600001",
        ] {
            assert_eq!(Args::parse([bad]), Err(BadArg(bad.to_string())), "{bad}");
        }
    }

    #[test]
    fn parse_empty_socket_is_error() {
        assert!(Args::parse(["socket="]).is_err());
    }
}

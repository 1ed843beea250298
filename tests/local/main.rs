//! Attacks by other local users, each run as a second real Unix account (`useradd`,
//! `runuser`) against the real daemon, PAM module, Apache helper and command line:
//! holding connections to every socket (`deny`), and planting a runtime directory, a relay
//! socket or a password oracle for a daemon not run as root (`planted`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(clippy::too_many_lines)]

#[path = "../common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "../pam/harness.rs"]
mod pam;

mod deny;
mod planted;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The attacker.
const MALLORY: &str = "proc-mallory";

/// Keeps `n` connections to a socket open as `user` for `secs` seconds, re-opening every
/// one the daemon closes (checked every 50 ms), with plain Perl (perl-base is on every
/// Debian machine). Stops on drop.
struct Holder {
    child: Child,
    /// How many connections were open once the holder first reached its target.
    held: usize,
}

const HOLD: &str = r#"
use strict; use IO::Socket::UNIX; use Socket;
my ($path, $n, $secs) = @ARGV;
my @s; my $end = time + $secs; my $told = 0;
$| = 1;
while (time < $end) {
    @s = grep { my $b; my $r = sysread($_, $b, 64); defined $r ? $r != 0 : $!{EAGAIN} } @s;
    while (@s < $n) {
        my $c = IO::Socket::UNIX->new(Type => SOCK_STREAM(), Peer => $path) or last;
        $c->blocking(0);
        push @s, $c;
    }
    if (!$told) { print scalar(@s), "\n"; $told = 1; }
    select(undef, undef, undef, 0.05);
}
"#;

impl Holder {
    fn start(user: &str, sock: &Path, n: usize, secs: u64) -> Holder {
        let mut child = Command::new("runuser")
            .args(["-u", user, "--", "perl", "-e", HOLD])
            .arg(sock)
            .arg(n.to_string())
            .arg(secs.to_string())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let held = line.trim().parse().unwrap_or(0);
        Holder { child, held }
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        // runuser passes SIGTERM on to the holder it started.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// How long a victim's check may take while the attack runs (SPEC §13).
const PROMPT: Duration = Duration::from_secs(1);

//! The login throttle as an attacker sees it: a local user may claim any `X-Real-IP` on
//! `web.sock` (believed on the Unix socket, SPEC §7), so the throttle's bounded table
//! must not become a way to hold back everyone else's login.

use crate::common::ensure_user;
use crate::harness::{WebDaemon, ROOT_PASSWORD};

/// Sends `n` malformed logins on one connection, each claiming another address, and
/// prints how they were answered (`<status>=<count>` pairs). Perl is in perl-base.
const FLOOD: &str = r#"
use IO::Socket::UNIX;
my ($path, $n) = @ARGV;
my $s = IO::Socket::UNIX->new(Peer => $path) or die "connect: $!";
my $body = '{"user":"","password":""}';
my %codes;
for my $i (0 .. $n - 1) {
    my $ip = sprintf("100.%d.%d.%d", 64 + (($i >> 16) % 64), ($i >> 8) & 255, $i & 255);
    print $s "POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        . "X-Real-IP: $ip\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
    my ($code) = (<$s> =~ m{^HTTP/1\.1 (\d+)}) or die "no status line";
    my $len = 0;
    while (my $h = <$s>) { last if $h eq "\r\n"; $len = $1 if $h =~ /^content-length:\s*(\d+)/i; }
    read($s, my $skip, $len);
    $codes{$code}++;
}
print join(" ", map { "$_=$codes{$_}" } sort keys %codes), "\n";
"#;

#[test]
fn no_local_user_can_deny_others_web_login_by_filling_the_throttle() {
    let w = WebDaemon::start(&[], "");
    let attacker = "apitokend-wflood";
    ensure_user(attacker);
    let sock = w.web_sock();
    let out = std::process::Command::new("runuser")
        .args(["-u", attacker, "--", "perl", "-e", FLOOD])
        .arg(&sock)
        .arg("10050")
        .output()
        .unwrap();
    let answers = String::from_utf8_lossy(&out.stdout).trim().to_string();
    println!("10,050 malformed logins from a second Unix user: {answers}");
    assert!(
        out.status.success() && answers.starts_with("400="),
        "{answers} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A login from an address that never tried (nginx's X-Real-IP) is still checked.
    let r = w.login_response("root", ROOT_PASSWORD, &[("X-Real-IP", b"203.0.113.77")]);
    assert_eq!(r.status, 201, "held back by someone else's flood: {r:?}");
    // And an address that used up its own minute is still throttled.
    for _ in 0..10 {
        w.login_response("root", "wrong", &[("X-Real-IP", b"203.0.113.78")]);
    }
    let r = w.login_response("root", ROOT_PASSWORD, &[("X-Real-IP", b"203.0.113.78")]);
    assert_eq!(r.status, 429, "{r:?}");
}

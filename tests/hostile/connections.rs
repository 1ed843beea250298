//! Many idle clients, slow clients, and a daemon out of file descriptors.

use super::*;
use std::sync::Mutex;

/// Tests that hold or limit file descriptors run one at a time: one of them lowers this
/// process's own limit while it starts a daemon.
static FD_HEAVY: Mutex<()> = Mutex::new(());

fn fd_lock() -> std::sync::MutexGuard<'static, ()> {
    FD_HEAVY.lock().unwrap_or_else(|p| p.into_inner())
}

/// User plus system CPU time of a process, in clock ticks (1/100 s on Linux).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The soft "Max open files" limit of a process.
fn fd_limit(pid: u32) -> (String, String) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let mut parts = line["Max open files".len()..].split_whitespace();
    (
        parts.next().unwrap().to_string(),
        parts.next().unwrap().to_string(),
    )
}

/// Sets the open-files limit of `pid` with util-linux `prlimit`.
fn set_fd_limit(pid: u32, soft: &str, hard: &str) {
    let ok = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={soft}:{hard}"))
        .status()
        .expect("cannot run prlimit (util-linux)")
        .success();
    assert!(ok, "prlimit --pid={pid} --nofile={soft}:{hard} failed");
}

/// Makes sure this test process may hold `n` more descriptors.
fn ensure_own_fd_room(n: u64) {
    let me = std::process::id();
    let (soft, hard) = fd_limit(me);
    let soft: u64 = soft.parse().unwrap_or(u64::MAX);
    if soft < n + 256 {
        set_fd_limit(me, &hard, &hard);
    }
    let (soft, _) = fd_limit(me);
    assert!(
        soft.parse::<u64>().unwrap_or(u64::MAX) >= n + 256,
        "this test needs {} descriptors; the hard limit is {hard}",
        n + 256
    );
}

/// Opens `n` idle connections spread over the given sockets. A connect that blocks
/// (the listen backlog is full because the daemon stopped accepting) ends the opening
/// after 5 s instead of hanging the test; the caller sees fewer connections.
fn hold_connections(socks: &[&Path], n: usize) -> Vec<UnixStream> {
    let socks: Vec<std::path::PathBuf> = socks.iter().map(|p| p.to_path_buf()).collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for i in 0..n {
            if tx
                .send(UnixStream::connect(&socks[i % socks.len()]))
                .is_err()
            {
                break;
            }
        }
    });
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(conn) => held.push(conn.unwrap()),
            Err(_) => {
                println!("connect blocked after {} connections", held.len());
                break;
            }
        }
    }
    held
}

#[test]
fn idle_connections_1500_across_sockets_daemon_still_serves() {
    let _fds = fd_lock();
    ensure_own_fd_room(1500);
    let t = Target::start("");
    let d = &t.daemon;
    let (soft, hard) = fd_limit(d.pid());
    println!("apitokend open-files limit: soft {soft}, hard {hard} (inherited from the test)");
    let held = hold_connections(&[&d.http_sock(), &d.check_sock(), &d.admin_sock()], 1500);
    t.assert_serving("1500 idle connections");
    let fds = std::fs::read_dir(format!("/proc/{}/fd", d.pid()))
        .unwrap()
        .count();
    println!("apitokend holds {fds} descriptors with 1500 idle clients");
    assert_rss(d, "1500 idle connections");
    drop(held);
}

/// Any local user can open connections to check.sock and admin.sock (mode 0666). Started
/// with the common soft limit of 1024 descriptors, the daemon must still answer nginx.
#[test]
fn idle_connections_1500_with_soft_fd_limit_1024_http_still_served() {
    let _fds = fd_lock();
    ensure_own_fd_room(1500);
    let me = std::process::id();
    let (own_soft, own_hard) = fd_limit(me);
    if own_hard.parse::<u64>().is_ok_and(|h| h < 4096) {
        panic!("the hard open-files limit is {own_hard}; this test needs at least 4096");
    }
    // The daemon inherits this process's limits: soft 1024 as from a login shell or an
    // init system without LimitNOFILE=, hard as before.
    set_fd_limit(me, "1024", &own_hard);
    let started = std::panic::catch_unwind(|| Target::start(""));
    set_fd_limit(me, &own_soft, &own_hard);
    let t = started.unwrap();
    let d = &t.daemon;
    let (soft, hard) = fd_limit(d.pid());
    println!("apitokend open-files limit: soft {soft}, hard {hard}");
    let held = hold_connections(&[&d.check_sock(), &d.admin_sock()], 1500);
    let started = Instant::now();
    let status = http_status(
        &d.http_sock(),
        &auth_request(&[("Authorization", &bearer(&t.token))]),
    );
    let took = started.elapsed();
    println!("http.sock /auth with 1500 idle local clients: {status:?} in {took:?}");
    drop(held);
    assert_eq!(status, Some(200));
    assert!(
        took < PROMPT,
        "nginx waited {took:?} for /auth while local users held 1500 connections \
         (daemon open-files limit {soft}/{hard})"
    );
}

#[test]
fn accept_at_fd_limit_backs_off_instead_of_spinning() {
    let _fds = fd_lock();
    let t = Target::start("");
    let d = &t.daemon;
    set_fd_limit(d.pid(), "128", "128");
    let held = hold_connections(&[&d.check_sock()], 200);
    // Wait until the daemon holds every descriptor it may, then measure two seconds.
    let at_limit = common::eventually(Duration::from_secs(10), || {
        std::fs::read_dir(format!("/proc/{}/fd", d.pid())).map_or(0, |fds| fds.count()) >= 127
    });
    assert!(at_limit, "the daemon never reached its descriptor limit");
    let before = cpu_ticks(d.pid());
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(d.pid()) - before;
    println!("apitokend CPU while out of descriptors: {used} ticks (1/100 s) in 2 s");
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(20);
    while http_status(&d.http_sock(), &auth_request(&[])) != Some(401) {
        assert!(
            Instant::now() < deadline,
            "no recovery after the clients left"
        );
    }
    t.assert_serving("descriptor exhaustion");
    assert!(
        used < 30,
        "the daemon burned {used}/200 ticks of CPU in 2 s while out of descriptors (accept loop spinning)"
    );
}

/// A slowloris client: connected, sending one byte a second, never finishing its request.
struct Slow {
    stream: UnixStream,
    closed_after: Option<Duration>,
}

/// Feeds one byte to each still-open slow client; records when the daemon hung up.
fn drip(slow: &mut [Slow], byte: u8, since: Instant) {
    for s in slow.iter_mut().filter(|s| s.closed_after.is_none()) {
        let mut probe = [0u8; 256];
        let hung_up = match s.stream.write_all(&[byte]) {
            Err(_) => true,
            Ok(()) => matches!(s.stream.read(&mut probe), Ok(0)),
        };
        if hung_up {
            s.closed_after = Some(since.elapsed());
        }
    }
}

fn open_slow(sock: &Path, n: usize, prefix: &[u8]) -> Vec<Slow> {
    (0..n)
        .map(|_| {
            let mut stream = UnixStream::connect(sock).unwrap();
            stream.write_all(prefix).unwrap();
            stream.set_nonblocking(true).unwrap();
            Slow {
                stream,
                closed_after: None,
            }
        })
        .collect()
}

#[test]
fn slowloris_clients_are_cut_off_and_daemon_keeps_serving() {
    let t = Target::start("");
    let d = &t.daemon;
    let since = Instant::now();
    let mut http = open_slow(&d.http_sock(), 60, b"GET /auth HTTP/1.1\r\nX-Slow: ");
    let mut chk = open_slow(&d.check_sock(), 30, &[0, 0, 0x10, 0]);
    let mut adm = open_slow(&d.admin_sock(), 30, &[0, 0, 0, 200, b'{']);
    // A byte a second for 14 s: past the daemon's 10 s header and request deadlines.
    for _ in 0..14 {
        let tick = Instant::now();
        drip(&mut http, b'a', since);
        drip(&mut chk, 0, since);
        drip(&mut adm, b' ', since);
        t.assert_serving("slowloris clients");
        std::thread::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed()));
    }
    for (name, group) in [("http", &http), ("check", &chk), ("admin", &adm)] {
        let open = group.iter().filter(|s| s.closed_after.is_none()).count();
        let latest = group.iter().filter_map(|s| s.closed_after).max();
        println!(
            "{name}.sock: {} slow clients, {open} still open after 14 s, last cut off at {latest:?}",
            group.len()
        );
        assert_eq!(open, 0, "{name}.sock keeps slowloris clients beyond 14 s");
    }
    assert_rss(d, "slowloris");
}

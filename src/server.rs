//! Binding the sockets (or taking them from systemd) and running the daemon until a
//! shutdown future resolves; in-flight requests then finish before `run` returns.

use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener as StdUnixListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, UnixListener};

use crate::config::Config;
use crate::engine::Engine;
use crate::http::PeerAddr;
use crate::store::{SqliteStore, Store};

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} is in use by a running apitokend; stop it first or choose another runtime_dir")]
    InUse(PathBuf),
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Engine(#[from] crate::engine::EngineError),
    #[error("{0}")]
    Token(#[from] crate::token::TokenError),
    #[error("{0}")]
    Other(#[from] std::io::Error),
    #[error("{0} belongs to another user or is writable by others; remove it or choose another directory")]
    Unsafe(PathBuf),
    #[error("socket group {0:?} does not exist; create it or change [http] socket_group")]
    NoGroup(String),
}

/// The sockets the daemon serves.
pub struct Listeners {
    pub http: StdUnixListener,
    pub check: StdUnixListener,
    pub admin: StdUnixListener,
    pub tcp: Vec<std::net::TcpListener>,
    /// `web.sock`; `None` with `[web] enabled = false` (or no `web` socket from systemd).
    pub web: Option<StdUnixListener>,
    /// `[web] listen`.
    pub web_tcp: Vec<std::net::TcpListener>,
}

fn bind_tcp(addrs: &[String]) -> Result<Vec<std::net::TcpListener>, ServerError> {
    addrs
        .iter()
        .map(|a| {
            std::net::TcpListener::bind(a).map_err(|source| ServerError::Io {
                path: a.into(),
                source,
            })
        })
        .collect()
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> ServerError + '_ {
    move |source| ServerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Creates `dir` with `mode` when missing. An existing directory must belong to this
/// user (or root) and be writable by nobody else: under `/tmp` another user could have
/// made it first to plant sockets.
fn ensure_dir(dir: &Path, mode: u32) -> Result<(), ServerError> {
    use std::os::unix::fs::MetadataExt;
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .map_err(io_err(dir))?;
    }
    let meta = std::fs::metadata(dir).map_err(io_err(dir))?;
    let me = nix::unistd::getuid().as_raw();
    if (meta.uid() != me && meta.uid() != 0) || meta.mode() & 0o022 != 0 {
        return Err(ServerError::Unsafe(dir.to_path_buf()));
    }
    Ok(())
}

/// Binds one Unix socket, replacing a stale file left by a crash but never a live socket.
fn bind_unix(
    path: &Path,
    mode: u32,
    group: Option<nix::unistd::Gid>,
) -> Result<StdUnixListener, ServerError> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(ServerError::InUse(path.to_path_buf()));
        }
        std::fs::remove_file(path).map_err(io_err(path))?;
    }
    let listener = StdUnixListener::bind(path).map_err(io_err(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io_err(path))?;
    if let Some(gid) = group {
        nix::unistd::chown(path, None, Some(gid)).map_err(|e| ServerError::Io {
            path: path.to_path_buf(),
            source: e.into(),
        })?;
    }
    Ok(listener)
}

/// Binds every socket of the configuration (SPEC §2 modes), creating the directories.
pub fn bind(config: &Config) -> Result<Listeners, ServerError> {
    ensure_dir(&config.runtime_dir, 0o755)?;
    let group = match &config.http.socket_group {
        Some(name) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .ok_or_else(|| ServerError::NoGroup(name.clone()))?
                .gid,
        ),
        None => None,
    };
    let http_mode = if group.is_some() { 0o660 } else { 0o666 };
    let run = &config.runtime_dir;
    let tcp = config
        .http
        .listen
        .iter()
        .map(|a| {
            std::net::TcpListener::bind(a).map_err(|source| ServerError::Io {
                path: a.to_string().into(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(Listeners {
        http: bind_unix(&run.join("http.sock"), http_mode, group)?,
        check: bind_unix(&run.join("check.sock"), 0o666, None)?,
        admin: bind_unix(&run.join("admin.sock"), 0o666, None)?,
        tcp,
        web: match config.web.enabled {
            true => Some(bind_unix(&run.join("web.sock"), http_mode, group)?),
            false => None,
        },
        web_tcp: match config.web.enabled {
            true => bind_tcp(&config.web.listen)?,
            false => Vec::new(),
        },
    })
}

/// Opens (and migrates) the database, creating `state_dir` when missing.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServerError> {
    if config.store.backend == crate::config::StoreBackend::Postgres {
        return Ok(Arc::new(crate::store::PgStore::open(&config.store)?));
    }
    ensure_dir(&config.state_dir, 0o700)?;
    Ok(Arc::new(SqliteStore::open(
        &config.state_dir.join("tokens.db"),
    )?))
}

/// Tells systemd about a state change when started with `Type=notify`.
pub fn notify(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = path.as_encoded_bytes();
    let _ = match bytes.strip_prefix(b"@") {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(name)
                .and_then(|a| sock.send_to_addr(state.as_bytes(), &a))
        }
        None => sock.send_to(state.as_bytes(), Path::new(&path)),
    };
}

/// What the signal handlers ask of a running daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Re-read the configuration file (SIGHUP).
    Reload,
    /// Finish requests in flight and exit (SIGTERM, SIGINT).
    Shutdown,
}

/// Runs the daemon on `listeners` until a [`Control::Shutdown`] arrives (or the channel
/// closes), then lets requests in flight finish (up to 10 s) and writes pending last-used
/// data. [`Control::Reload`] re-reads `config_path`; a broken file is reported and ignored.
pub async fn run(
    config: Config,
    config_path: Option<PathBuf>,
    listeners: Listeners,
    store: Arc<dyn Store>,
    mut control: tokio::sync::mpsc::Receiver<Control>,
) -> Result<(), ServerError> {
    let engine = Arc::new(Engine::new(config, store.clone())?);
    // A fleet's store applies other hosts' changes to this engine (SPEC §12).
    store.follow(engine.remote_sink());
    let graceful = Arc::new(GracefulShutdown::new());
    let alive = Arc::new(());
    let mut tasks = Vec::new();
    let http = UnixListener::from_std(nonblocking(listeners.http)?)?;
    tasks.push(tokio::spawn(accept_http_unix(
        http,
        engine.clone(),
        graceful.clone(),
    )));
    for l in listeners.tcp {
        l.set_nonblocking(true)?;
        tasks.push(tokio::spawn(accept_http_tcp(
            TcpListener::from_std(l)?,
            engine.clone(),
            graceful.clone(),
        )));
    }
    if let Some(web) = listeners.web {
        tasks.push(tokio::spawn(crate::web::serve::accept_unix(
            UnixListener::from_std(nonblocking(web)?)?,
            engine.clone(),
            graceful.clone(),
        )));
    }
    for l in listeners.web_tcp {
        l.set_nonblocking(true)?;
        tasks.push(tokio::spawn(crate::web::serve::accept_tcp(
            TcpListener::from_std(l)?,
            engine.clone(),
            graceful.clone(),
        )));
    }
    let check = UnixListener::from_std(nonblocking(listeners.check)?)?;
    tasks.push(tokio::spawn(accept_simple(
        check,
        engine.clone(),
        alive.clone(),
        |e, s| Box::pin(crate::check::serve(e, s)),
    )));
    let admin = UnixListener::from_std(nonblocking(listeners.admin)?)?;
    tasks.push(tokio::spawn(accept_simple(
        admin,
        engine.clone(),
        alive.clone(),
        |e, s| Box::pin(crate::admin::serve(e, s)),
    )));
    tasks.push(tokio::spawn(flush_last_used(engine.clone())));
    tasks.push(tokio::spawn(warn_expiring(engine.clone())));
    notify("READY=1");
    while let Some(Control::Reload) = control.recv().await {
        reload(&engine, config_path.as_deref());
    }
    notify("STOPPING=1");
    for t in &tasks {
        t.abort();
    }
    for t in tasks {
        let _ = t.await;
    }
    // A connection accepted just before the listeners closed may not have sent its
    // request yet; hyper treats it as idle and would close it unanswered. Give such
    // requests a moment to arrive before asking connections to finish.
    tokio::time::sleep(Duration::from_millis(250)).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    if let Ok(graceful) = Arc::try_unwrap(graceful) {
        let _ = tokio::time::timeout(Duration::from_secs(10), graceful.shutdown()).await;
    }
    while Arc::strong_count(&alive) > 1 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    write_last_used(&engine).await;
    Ok(())
}

fn nonblocking(l: StdUnixListener) -> std::io::Result<StdUnixListener> {
    l.set_nonblocking(true)?;
    Ok(l)
}

/// The HTTP/1.1 settings of every HTTP socket.
pub(crate) fn http1_builder() -> http1::Builder {
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        // nginx forwards up to 4 × 8 KiB of client headers by default; accept all of them.
        .max_buf_size(64 * 1024)
        .max_headers(256)
        .keep_alive(true);
    b
}

async fn accept_http_unix(
    listener: UnixListener,
    engine: Arc<Engine>,
    graceful: Arc<GracefulShutdown>,
) {
    let builder = http1_builder();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            accept_backoff().await;
            continue;
        };
        let engine = engine.clone();
        let svc = service_fn(move |req| crate::http::handle(engine.clone(), PeerAddr::Unix, req));
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(conn);
    }
}

async fn accept_http_tcp(
    listener: TcpListener,
    engine: Arc<Engine>,
    graceful: Arc<GracefulShutdown>,
) {
    let builder = http1_builder();
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            accept_backoff().await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let engine = engine.clone();
        let peer = PeerAddr::Tcp(addr.ip());
        let svc = service_fn(move |req| crate::http::handle(engine.clone(), peer, req));
        let conn = graceful.watch(builder.serve_connection(TokioIo::new(stream), svc));
        tokio::spawn(conn);
    }
}

/// After a failed accept (usually out of descriptors) wait a little instead of spinning;
/// the pending connection stays in the backlog.
async fn accept_backoff() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// Connections served at once on `check.sock` and on `admin.sock`; more wait in the
/// backlog, so local clients cannot take the descriptors nginx needs.
const MAX_LOCAL_CONNECTIONS: usize = 1024;

type ServeFn =
    fn(Arc<Engine>, tokio::net::UnixStream) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

async fn accept_simple(
    listener: UnixListener,
    engine: Arc<Engine>,
    alive: Arc<()>,
    serve: ServeFn,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_LOCAL_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((stream, _)) = listener.accept().await else {
            accept_backoff().await;
            continue;
        };
        let (engine, alive) = (engine.clone(), alive.clone());
        tokio::spawn(async move {
            serve(engine, stream).await;
            drop((alive, permit));
        });
    }
}

/// Runs the engine's upkeep (last-used data, old failure records) off the runtime.
async fn write_last_used(engine: &Arc<Engine>) {
    let e = engine.clone();
    let _ = tokio::task::spawn_blocking(move || e.housekeep()).await;
}

/// Days ahead that `token.expiring` warns about.
const EXPIRY_WARNING_DAYS: i64 = 14;

/// Once at start and then daily: one `token.expiring` syslog line per token that expires
/// within [`EXPIRY_WARNING_DAYS`].
async fn warn_expiring(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(Duration::from_secs(86_400));
    loop {
        tick.tick().await;
        let now = crate::engine::now();
        let filter = crate::store::TokenFilter {
            expires_after: Some(now),
            expires_before: Some(now + EXPIRY_WARNING_DAYS * 86_400),
            sort: crate::store::SortKey::Expires,
            ..Default::default()
        };
        let e = engine.clone();
        let Ok(Ok(tokens)) =
            tokio::task::spawn_blocking(move || e.store().tokens_filtered(&filter)).await
        else {
            eprintln!("apitokend: cannot list expiring tokens");
            continue;
        };
        for t in tokens.iter().filter(|t| t.revoke_at.is_none()) {
            let event = crate::audit::Event::new("token.expiring", now)
                .with("user", t.owner.as_str())
                .with("token_id", t.id.as_str())
                .with("name", t.name.as_str())
                .with(
                    "expires",
                    t.expires_at.map(crate::admin::rfc3339).unwrap_or_default(),
                );
            engine
                .syslog()
                .emit(&event, crate::audit::Severity::Warning);
        }
    }
}

async fn flush_last_used(engine: Arc<Engine>) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tick.tick().await;
        write_last_used(&engine).await;
    }
}

/// Takes the sockets systemd passed (`LISTEN_FDS`, named `http`, `check`, `admin` through
/// `LISTEN_FDNAMES`), or `None` when the daemon was not socket-activated.
#[allow(unsafe_code)]
pub fn from_systemd() -> Result<Option<Listeners>, ServerError> {
    use std::os::fd::FromRawFd;
    let ours = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
        == Some(std::process::id());
    let count: i32 = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    if !ours || count <= 0 {
        return Ok(None);
    }
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    let names: Vec<&str> = names.split(':').collect();
    let (mut http, mut check, mut admin, mut web) = (None, None, None, None);
    for i in 0..count {
        let fd = 3 + i;
        // SAFETY: systemd passes `count` open sockets starting at fd 3 to this process
        // (LISTEN_PID matched); each is taken over exactly once here.
        let listener = unsafe { StdUnixListener::from_raw_fd(fd) };
        match names.get(i as usize).copied() {
            Some("http") => http = Some(listener),
            Some("check") => check = Some(listener),
            Some("admin") => admin = Some(listener),
            Some("web") => web = Some(listener),
            other => eprintln!("apitokend: ignoring socket {fd} named {other:?} from systemd"),
        }
    }
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let missing = |name: &str| {
        ServerError::Other(std::io::Error::other(format!(
        "systemd passed no socket named {name:?}; check FileDescriptorName= in apitokend.socket"
    )))
    };
    Ok(Some(Listeners {
        http: http.ok_or_else(|| missing("http"))?,
        check: check.ok_or_else(|| missing("check"))?,
        admin: admin.ok_or_else(|| missing("admin"))?,
        tcp: Vec::new(),
        web,
        web_tcp: Vec::new(),
    }))
}

/// Process limits for a long-running server: the open-files soft limit raised to the hard
/// limit (one descriptor per client connection), and large allocations (argon2's
/// `memory_kib` per hash) always served by mmap so that they go back to the system when
/// freed, instead of staying in whichever thread's malloc arena ran the hash.
#[allow(unsafe_code)]
fn tune_process() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
    // SAFETY: mallopt only adjusts glibc malloc parameters; it is called before any
    // other thread exists, and a failure (return 0) just leaves the default.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1024 * 1024);
    }
}

/// The daemon's whole life: take or bind the sockets, serve until SIGTERM/SIGINT.
/// SIGHUP re-reads the configuration file; a broken file is reported and ignored.
pub fn main(config: Config, config_path: Option<PathBuf>) -> Result<(), ServerError> {
    // No core dumps or ptrace by other users: memory may hold tokens being verified.
    let _ = nix::sys::prctl::set_dumpable(false);
    tune_process();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // Signals are caught before any socket exists: a client (or a test) that saw the
    // socket and sends SIGTERM must get a clean exit, not the default action's death.
    let signals = {
        use tokio::signal::unix::{signal, SignalKind};
        let _context = runtime.enter();
        (
            signal(SignalKind::terminate())?,
            signal(SignalKind::interrupt())?,
            signal(SignalKind::hangup())?,
        )
    };
    // The database is ready before any socket is: a client that can connect can be served.
    let store = open_store(&config)?;
    let (mut listeners, bound) = match from_systemd()? {
        Some(l) => (l, Vec::new()),
        None => {
            let l = bind(&config)?;
            (l, SocketFiles::record(&config.runtime_dir))
        }
    };
    if listeners.tcp.is_empty() && !config.http.listen.is_empty() {
        for a in &config.http.listen {
            listeners
                .tcp
                .push(
                    std::net::TcpListener::bind(a).map_err(|source| ServerError::Io {
                        path: a.to_string().into(),
                        source,
                    })?,
                );
        }
    }
    if !config.web.enabled {
        listeners.web = None;
    } else if listeners.web_tcp.is_empty() {
        listeners.web_tcp = bind_tcp(&config.web.listen)?;
    }
    eprintln!(
        "apitokend {} serving {}/{{http,check,admin{}}}.sock, database {}/tokens.db",
        env!("CARGO_PKG_VERSION"),
        config.runtime_dir.display(),
        if listeners.web.is_some() { ",web" } else { "" },
        config.state_dir.display()
    );
    runtime.block_on(async move {
        let (mut term, mut int, mut hup) = signals;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            loop {
                let control = tokio::select! {
                    _ = term.recv() => Control::Shutdown,
                    _ = int.recv() => Control::Shutdown,
                    _ = hup.recv() => Control::Reload,
                };
                if tx.send(control).await.is_err() {
                    break;
                }
            }
        });
        run(config, config_path, listeners, store, rx).await
    })?;
    // A clean exit takes away the socket files it bound (systemd owns activated ones).
    SocketFiles::remove(&bound);
    Ok(())
}

/// The socket files this process bound, by device and inode, so that a clean exit
/// removes them and never a socket that a newer daemon has bound in their place since.
struct SocketFiles;

impl SocketFiles {
    fn record(runtime_dir: &Path) -> Vec<(PathBuf, u64, u64)> {
        use std::os::unix::fs::MetadataExt;
        ["http.sock", "check.sock", "admin.sock"]
            .iter()
            .map(|n| runtime_dir.join(n))
            .filter_map(|p| {
                let m = std::fs::symlink_metadata(&p).ok()?;
                Some((p, m.dev(), m.ino()))
            })
            .collect()
    }

    fn remove(bound: &[(PathBuf, u64, u64)]) {
        use std::os::unix::fs::MetadataExt;
        for (path, dev, ino) in bound {
            let same =
                std::fs::symlink_metadata(path).is_ok_and(|m| m.dev() == *dev && m.ino() == *ino);
            if same {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Re-reads the configuration file on SIGHUP; a broken file changes nothing.
fn reload(engine: &Engine, path: Option<&Path>) {
    notify("RELOADING=1");
    let now = crate::engine::now();
    // A reader bug must not take the running daemon down with it: a panic while reading
    // the file is a refused reload like any other error.
    let loaded = std::panic::catch_unwind(|| Config::load(path)).unwrap_or_else(|_| {
        Err(crate::config::ConfigError::Parse {
            path: path.map(Path::to_path_buf).unwrap_or_default(),
            message: "internal error while reading the file".into(),
        })
    });
    match loaded {
        Ok(config) => {
            let restart = engine.reload(config);
            let mut event = crate::audit::Event::new("config.reload", now).with("result", "ok");
            if !restart.is_empty() {
                event.push("restart_needed", restart.join(","));
                eprintln!(
                    "apitokend: configuration reloaded; restart to apply: {}",
                    restart.join(", ")
                );
            } else {
                eprintln!("apitokend: configuration reloaded");
            }
            engine.syslog().emit(&event, crate::audit::Severity::Info);
        }
        Err(e) => {
            eprintln!("apitokend: reload refused, the running configuration stays in force: {e}");
            let event = crate::audit::Event::new("config.reload", now)
                .with("result", "refused")
                .with("error", e.to_string());
            engine
                .syslog()
                .emit(&event, crate::audit::Severity::Warning);
        }
    }
    notify("READY=1");
}

//! The daemon's process: sockets bound or taken from systemd, an accept loop per socket,
//! the background jobs, reload on SIGHUP, and a shutdown that lets every handler finish.
//!
//! Layout:
//! - `bind`: binding the sockets (SPEC §2 modes), systemd hand-over, socket-file removal.
//! - `budget`: connection slots per peer uid.
//! - `accept`: the one accept loop of every socket and the connection services of
//!   `http`, `check` and `admin`; `web_conn`: those of `web` (hyper).
//! - `jobs`: when the engine's periodic work runs.
//! - `reload`: SIGHUP.
//! - `shutdown`: the broadcast and the drain.
//! - `systemd`: readiness notifications.

mod accept;
mod bind;
mod budget;
mod jobs;
mod reload;
mod systemd;
mod web_conn;

pub use bind::{bind, from_systemd, Listeners, SocketFile};
pub use systemd::notify;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::config::Config;
use crate::engine::Engine;
use crate::shutdown::Shutdown;
use crate::store::{SqliteStore, Store};
use budget::{Budget, Limits, Peers};

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
    #[error("{0}")]
    Dir(#[from] crate::config::DirError),
    #[error("socket group {0:?} does not exist; create it or change [http] socket_group")]
    NoGroup(String),
}

/// How long handlers may take to finish after the shutdown broadcast.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// Connection limits per socket (docs/decisions.md): `check.sock` and `admin.sock` serve
/// one short request per connection; `http.sock` holds nginx's keep-alive connections
/// (served at once, so its turns are not used).
const CHECK_LIMITS: Limits = Limits {
    per_user: 64,
    per_user_held: 1024,
    shared_held: 4096,
    trusted: 1024,
};
const ADMIN_LIMITS: Limits = Limits {
    per_user: 16,
    per_user_held: 1024,
    shared_held: 4096,
    trusted: 1024,
};
const HTTP_LIMITS: Limits = Limits {
    per_user: 1024,
    per_user_held: 1024,
    shared_held: 8192,
    trusted: usize::MAX,
};

/// Opens (and migrates) the database, creating `state_dir` when missing.
pub fn open_store(config: &Config) -> Result<Arc<dyn Store>, ServerError> {
    if config.store.backend == crate::config::StoreBackend::Postgres {
        return Ok(Arc::new(crate::store::PgStore::open(&config.store)?));
    }
    crate::config::ensure_dir(&config.state_dir, 0o700)?;
    Ok(Arc::new(SqliteStore::open(
        &config.state_dir.join("tokens.db"),
    )?))
}

/// What the signal handlers ask of a running daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Re-read the configuration file (SIGHUP).
    Reload,
    /// Finish requests in flight and exit (SIGTERM, SIGINT).
    Shutdown,
}

type Unix = mio::net::UnixListener;
type Tcp = mio::net::TcpListener;

fn unix(l: std::os::unix::net::UnixListener) -> std::io::Result<Unix> {
    l.set_nonblocking(true)?;
    Ok(mio::net::UnixListener::from_std(l))
}

fn tcp(l: std::net::TcpListener) -> std::io::Result<Tcp> {
    l.set_nonblocking(true)?;
    Ok(mio::net::TcpListener::from_std(l))
}

/// A listener's service: a Unix socket's is budgeted by peer uid, a TCP listener's has no
/// uid to budget by (`None`).
fn service<L: accept::Listen>(
    budget: Option<Arc<Budget>>,
    inline: bool,
    serve: impl Fn(
            L::Stream,
            crate::http::PeerAddr,
            Option<budget::Slot>,
            crate::shutdown::Handle,
        ) -> accept::Conn
        + Send
        + Sync
        + 'static,
) -> accept::Service<L> {
    accept::Service {
        budget,
        inline,
        serve: Box::new(serve),
    }
}

/// Starts an accept loop per socket, each holding a shutdown handle.
fn spawn_accept_loops(
    engine: &Arc<Engine>,
    listeners: Listeners,
    shutdown: &Shutdown,
) -> Result<(), ServerError> {
    let peers = Peers::from_config(&engine.config());
    let budget = |limits, group| Some(Budget::new(limits, peers.clone(), group));
    let e = || engine.clone();
    let h = || shutdown.handle();
    let http = service(budget(HTTP_LIMITS, true), true, accept::http::<Unix>(e()));
    tokio::spawn(accept::run(unix(listeners.http)?, http, h()));
    for l in listeners.tcp {
        let http = service(None, true, accept::http::<Tcp>(e()));
        tokio::spawn(accept::run(tcp(l)?, http, h()));
    }
    if let Some(l) = listeners.web {
        let web = service(budget(HTTP_LIMITS, true), false, web_conn::web::<Unix>(e()));
        tokio::spawn(accept::run(unix(l)?, web, h()));
    }
    for l in listeners.web_tcp {
        let web = service(None, false, web_conn::web::<Tcp>(e()));
        tokio::spawn(accept::run(tcp(l)?, web, h()));
    }
    let check = accept::local(e(), |e, s, c| Box::pin(crate::check::serve(e, s, c)));
    let check = service(budget(CHECK_LIMITS, false), false, check);
    tokio::spawn(accept::run(unix(listeners.check)?, check, h()));
    let admin = accept::local(e(), |e, s, c| Box::pin(crate::admin::serve(e, s, c)));
    let admin = service(budget(ADMIN_LIMITS, false), false, admin);
    tokio::spawn(accept::run(unix(listeners.admin)?, admin, h()));
    Ok(())
}

/// Runs the daemon on `listeners` until a [`Control::Shutdown`] arrives (or the channel
/// closes), then broadcasts the shutdown, lets handlers finish (up to 10 s) and writes
/// pending last-used data. [`Control::Reload`] re-reads `config_path`.
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
    let shutdown = Shutdown::new();
    spawn_accept_loops(&engine, listeners, &shutdown)?;
    tokio::spawn(jobs::flush_last_used(engine.clone(), shutdown.handle()));
    tokio::spawn(jobs::warn_expiring(engine.clone(), shutdown.handle()));
    notify("READY=1");
    while let Some(Control::Reload) = control.recv().await {
        reload::reload(&engine, config_path.as_deref());
    }
    notify("STOPPING=1");
    if !shutdown.drain(DRAIN_DEADLINE).await {
        eprintln!("apitokend: connections still open after 10 s are closed unanswered");
    }
    jobs::write_last_used(&engine).await;
    Ok(())
}

/// Process limits for a long-running server: the open-files soft limit raised to the hard
/// limit (one descriptor per client connection), large allocations returned to the
/// system, and no core dumps or ptrace by other users (memory may hold tokens).
fn tune_process() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let _ = nix::sys::prctl::set_dumpable(false);
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
    crate::system::return_large_allocations();
}

/// Takes the sockets from systemd, or binds them (then also `[http] listen`).
fn listeners(config: &Config) -> Result<Listeners, ServerError> {
    let mut listeners = match from_systemd()? {
        Some(l) => l,
        None => bind(config)?,
    };
    if listeners.tcp.is_empty() {
        listeners.tcp = bind::bind_tcp(&config.http.listen)?;
    }
    if !config.web.enabled {
        listeners.web = None;
    } else {
        listeners.web_tcp = bind::bind_tcp(&config.web.listen)?;
    }
    Ok(listeners)
}

/// The daemon's whole life: take or bind the sockets, serve until SIGTERM/SIGINT, and on
/// a clean exit remove the socket files it bound (never systemd's).
pub fn main(config: Config, config_path: Option<PathBuf>) -> Result<(), ServerError> {
    tune_process();
    // The database is ready before any socket is: a client that can connect can be served.
    let store = open_store(&config)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut files = Vec::new();
    let result = runtime.block_on(async {
        // Signal handlers before sockets: a SIGTERM sent as soon as a socket answers is a
        // clean exit, never the default action.
        let rx = signals()?;
        let mut listeners = listeners(&config)?;
        files = std::mem::take(&mut listeners.files);
        eprintln!(
            "apitokend {} serving {}/{{http,check,admin{}}}.sock, database {}/tokens.db",
            env!("CARGO_PKG_VERSION"),
            config.runtime_dir.display(),
            if listeners.web.is_some() { ",web" } else { "" },
            config.state_dir.display()
        );
        run(config, config_path, listeners, store, rx).await
    });
    // Blocking work still running (a hash past the drain deadline) is not waited for.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if result.is_ok() {
        bind::remove_socket_files(&files);
    }
    result
}

/// SIGTERM/SIGINT and SIGHUP as [`Control`] messages.
fn signals() -> std::io::Result<tokio::sync::mpsc::Receiver<Control>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut hup = signal(SignalKind::hangup())?;
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
    Ok(rx)
}

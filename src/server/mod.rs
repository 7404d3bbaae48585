//! Network front-ends: the RESP server (Redis's protocol) and the HTTP JSON
//! API with its dashboard, both on one tokio runtime and both running typed
//! commands through the same sessions and engine as the REPL.

mod admin;
mod client;
mod clients;
mod connection;
mod durability;
pub mod http;
mod info;
mod introspect;
mod reply;
pub mod resp;
mod transaction;

use crate::Db;
use clients::Clients;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The Redis version whose commands and replies inmem follows; HELLO and INFO
/// report it so clients enable the right features.
pub const REDIS_VERSION: &str = "7.0.0";

/// A client whose unparsed input grows past this is disconnected (Redis's
/// `client-query-buffer-limit`).
pub const QUERY_BUFFER_LIMIT: usize = 1 << 30;

/// How long a stopping server waits for connections to finish their replies.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How `inmem serve` listens.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    /// Address to bind (loopback by default).
    pub bind: String,
    /// RESP port (0 picks a free one).
    pub port: u16,
    /// Password clients must give with AUTH or HELLO.
    pub requirepass: Option<String>,
    /// Most simultaneous RESP clients.
    pub maxclients: usize,
    /// HTTP API port, when it is served.
    pub http_port: Option<u16>,
    /// Threads running connections.
    pub threads: usize,
}

/// How often the server looks whether a front-end met a log failure.
const FAILURE_CHECK: Duration = Duration::from_secs(1);

/// The default number of connection threads: one per core but one, which is
/// left to snapshots, the command log's writer and expiry.
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .saturating_sub(1)
        .max(1)
}

/// Why the server stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A listener could not be set up.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the network runtime: {0}")]
    Runtime(std::io::Error),
    /// The log failed under `always`, so the server stopped acknowledging.
    #[error(
        "the append-only log failed; the server stopped rather than acknowledge an unlogged write"
    )]
    LogFailed,
}

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    /// The database.
    pub db: Arc<Db>,
    /// How the server was started.
    pub settings: ServeSettings,
    /// Connected clients.
    pub clients: Clients,
    /// Set to true to stop the server.
    shutdown: watch::Sender<bool>,
    /// The RESP and HTTP ports actually bound.
    pub ports: (u16, Option<u16>),
    /// Unix seconds when the server started.
    pub started_unix: u64,
}

/// Runs the server until SHUTDOWN, SIGINT or SIGTERM. Prints one line to
/// stderr when listening: `inmem: serving RESP on ADDR` (and HTTP).
pub fn run(db: Arc<Db>, settings: ServeSettings) -> Result<(), ServeError> {
    // One thread runs every connection on the calling thread itself, as
    // Redis's event loop does, without a work-stealing scheduler's
    // cross-thread bookkeeping per wake-up.
    let mut builder = if settings.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(settings.threads);
        builder
    };
    let sleeping = db.clone();
    // Command-log lines are written by the connection thread while it has
    // nothing else to do, rather than by the log's own thread beside it.
    builder.on_thread_park(move || {
        if let Some(log) = sleeping.command_log() {
            log.write_here();
        }
    });
    let runtime = builder
        .enable_all()
        .thread_name("inmem-net")
        .build()
        .map_err(ServeError::Runtime)?;
    runtime.block_on(serve(db, settings))
}

async fn bind(host: &str, port: u16) -> Result<TcpListener, ServeError> {
    TcpListener::bind((host, port))
        .await
        .map_err(|source| ServeError::Listen {
            addr: format!("{host}:{port}"),
            source,
        })
}

async fn serve(db: Arc<Db>, settings: ServeSettings) -> Result<(), ServeError> {
    let listener = bind(&settings.bind, settings.port).await?;
    let resp_addr = listener.local_addr().map_err(|source| ServeError::Listen {
        addr: settings.bind.clone(),
        source,
    })?;
    let http = match settings.http_port {
        Some(port) => Some(bind(&settings.bind, port).await?),
        None => None,
    };
    let http_addr = http.as_ref().and_then(|l| l.local_addr().ok());
    let loopback = resp_addr.ip().is_loopback();
    if !loopback && settings.requirepass.is_none() {
        eprintln!(
            "inmem: warning: listening on {} without --requirepass: anyone who can reach this address can read and change every key",
            resp_addr.ip()
        );
    }
    let (shutdown, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        db: db.clone(),
        settings: settings.clone(),
        clients: Clients::default(),
        shutdown,
        ports: (resp_addr.port(), http_addr.map(|a| a.port())),
        started_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
    });
    let mut line = format!("inmem: serving RESP on {resp_addr}");
    if let Some(addr) = http_addr {
        line.push_str(&format!(", HTTP on http://{addr}"));
    }
    eprintln!("{line}");
    tracing::info!("{line}");
    spawn_signal_listener(shared.clone());
    let mut tasks = JoinSet::new();
    if let Some(listener) = http {
        let stopping = shared.shutdown.subscribe();
        tasks.spawn(http::serve(
            listener,
            db.clone(),
            http_settings(&settings),
            stopping,
        ));
    }
    let mut stopping = shared.shutdown.subscribe();
    // A log failure met by any front-end (an HTTP write, say) stops the
    // server too: nothing more may be acknowledged.
    let mut failure_check = tokio::time::interval(FAILURE_CHECK);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, addr)) => {
                    tasks.spawn(connection::serve(shared.clone(), stream, addr));
                }
                Err(e) => {
                    // Out of file descriptors and the like: pause, then go on.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = stopping.wait_for(|stop| *stop) => break,
            _ = failure_check.tick() => if db.fatal().is_some() {
                tracing::error!("the append-only log failed; the server is stopping");
                break;
            },
        }
    }
    drop(listener);
    shared.clients.kill_all();
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("some connections did not finish within {DRAIN_TIMEOUT:?}");
    }
    if db.fatal().is_some() {
        return Err(ServeError::LogFailed);
    }
    Ok(())
}

fn http_settings(settings: &ServeSettings) -> http::HttpSettings {
    http::HttpSettings {
        requirepass: settings.requirepass.clone(),
        ..http::HttpSettings::default()
    }
}

/// SIGINT and SIGTERM stop the server like SHUTDOWN does.
fn spawn_signal_listener(shared: Arc<Shared>) {
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut interrupt), Ok(mut terminate)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return;
        };
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
        let _ = shared.shutdown.send(true);
    });
}

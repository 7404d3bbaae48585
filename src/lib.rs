//! inmem: an in-memory key-value database with one command language behind
//! every front-end.
//!
//! Layout:
//! - [`command`]: the language — grammar (nom), command table, typed commands, replies.
//! - [`engine`]: the keyspace, TTL, transactions' overlays and operation semantics; no I/O.
//! - [`session`]: executes statements for one user: aliases, transactions, batches.
//! - [`alias`]: the alias table and `alias.json`.
//! - [`output`]: renders replies for terminals, scripts and `--json`.
//! - [`runner`]: runs script text through a session and reports errors by line.
//! - [`repl`]: the interactive prompt (rustyline).
//! - [`Db`]: an open database — the engine, the aliases and the background expiry thread.

pub mod alias;
pub mod command;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod output;
pub mod repl;
pub mod runner;
pub mod session;

use alias::Aliases;
use engine::{Clock, Engine, SystemClock};
use error::OpenError;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the background thread looks for expired keys.
const EXPIRY_INTERVAL: Duration = Duration::from_millis(100);

/// How many expired keys the background thread removes per hold of the lock,
/// so writers never wait long behind it.
const EXPIRY_BATCH: usize = 1000;

/// How to open a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// The data directory (created when missing).
    pub data_dir: PathBuf,
    /// Where time comes from; tests pass a manual clock.
    pub clock: Arc<dyn Clock>,
    /// Run the background thread that removes expired keys.
    pub active_expiry: bool,
}

impl Options {
    /// Defaults for a data directory: the system clock and active expiry on.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Options {
            data_dir: data_dir.into(),
            clock: Arc::new(SystemClock),
            active_expiry: true,
        }
    }
}

/// An open database.
#[derive(Debug)]
pub struct Db {
    engine: Arc<Engine>,
    aliases: Mutex<Aliases>,
    data_dir: PathBuf,
    /// Dropping it tells the expiry thread to stop.
    stop_expiry: Option<Sender<()>>,
    expiry_thread: Option<JoinHandle<()>>,
}

impl Db {
    /// Opens (creating when missing) the database in `options.data_dir`.
    pub fn open(options: Options) -> Result<Arc<Db>, OpenError> {
        let dir = &options.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| OpenError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let aliases = Aliases::load(dir)?;
        let engine = Arc::new(Engine::new(options.clock.clone()));
        let (stop_expiry, expiry_thread) = if options.active_expiry {
            let (stop, thread) = spawn_expiry(engine.clone());
            (Some(stop), Some(thread))
        } else {
            (None, None)
        };
        Ok(Arc::new(Db {
            engine,
            aliases: Mutex::new(aliases),
            data_dir: options.data_dir,
            stop_expiry,
            expiry_thread,
        }))
    }

    /// The engine holding the keyspace.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The alias table, locked.
    pub fn aliases(&self) -> MutexGuard<'_, Aliases> {
        self.aliases.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        drop(self.stop_expiry.take());
        if let Some(thread) = self.expiry_thread.take() {
            let _ = thread.join();
        }
    }
}

/// Active expiry: wakes every [`EXPIRY_INTERVAL`] and removes expired keys in
/// small locked batches until none are left, so a wave of deadlines is cleared
/// promptly without one long pause.
fn spawn_expiry(engine: Arc<Engine>) -> (Sender<()>, JoinHandle<()>) {
    let (stop, stopped) = mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("inmem-expiry".into())
        .spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EXPIRY_INTERVAL) {
                while engine.purge_expired(EXPIRY_BATCH) == EXPIRY_BATCH {}
            }
        })
        .expect("spawning a thread at start-up");
    (stop, thread)
}

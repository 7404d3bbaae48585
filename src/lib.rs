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
//! - [`input`]: script input read and split ahead by a thread of its own.
//! - [`repl`]: the interactive prompt (rustyline).
//! - [`stats`], [`config`], [`cmdlog`]: counters and latency, run-time settings, the command log.
//! - [`persist`]: the append-only log, snapshots, recovery, backup and JSON import/export.
//! - [`server`]: `inmem serve` — the RESP server and the HTTP JSON API with its dashboard.
//! - [`remote`]: `inmem --connect` — the REPL and scripts as a client of a Redis-protocol server.
//! - [`Db`]: an open database — engine, persistence, aliases and the background threads.

pub mod alias;
pub mod cmdlog;
pub mod command;
pub mod config;
pub mod engine;
pub mod error;
pub mod fsutil;
pub mod input;
pub mod output;
pub mod persist;
pub mod remote;
pub mod repl;
pub mod runner;
pub mod server;
pub mod session;
pub mod stats;

use alias::Aliases;
use engine::{Clock, Engine, SystemClock};
use error::OpenError;
use persist::Persistence;
use persist::recovery::Report;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the background thread looks for expired keys.
const EXPIRY_INTERVAL: Duration = Duration::from_millis(100);

/// How many expired keys the background thread removes per hold of the lock,
/// so writers never wait long behind it.
const EXPIRY_BATCH: usize = 1000;

/// How often the log is fsynced under `everysec`, and snapshots are considered.
const PERSIST_INTERVAL: Duration = Duration::from_secs(1);

/// How to open a database.
#[derive(Debug, Clone)]
pub struct Options {
    /// The data directory (created when missing).
    pub data_dir: PathBuf,
    /// Where time comes from; tests pass a manual clock.
    pub clock: Arc<dyn Clock>,
    /// Run the background thread that removes expired keys.
    pub active_expiry: bool,
    /// Run the background thread that fsyncs the log under `everysec`,
    /// retries a failed log, takes snapshots, pushes the command log and
    /// releases memory. Tests that must decide every fsync themselves turn
    /// it off: under `always`, even with snapshots off, its tick fsyncs
    /// records nobody has acknowledged yet and repairs a failed log.
    pub background_persistence: bool,
    /// Durability settings.
    pub persistence: persist::Settings,
    /// Capacity limits and eviction policy.
    pub limits: engine::Limits,
    /// The command log (`command.log`); `None` turns it off.
    pub command_log: Option<cmdlog::LogSettings>,
    /// Hands memory the allocator keeps after frees back to the operating
    /// system. The background thread calls it once after each stretch of
    /// writes, at the first tick that adds no record to the log; the binary
    /// passes its allocator's collect, since an allocator that returns memory
    /// only when it is next called would keep a burst's buffers while idle.
    pub release_memory: Option<fn()>,
}

impl Options {
    /// Defaults for a data directory: the system clock, active expiry, `everysec`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Options {
            data_dir: data_dir.into(),
            clock: Arc::new(SystemClock),
            active_expiry: true,
            background_persistence: true,
            persistence: persist::Settings::default(),
            limits: engine::Limits::default(),
            command_log: Some(cmdlog::LogSettings::default()),
            release_memory: None,
        }
    }
}

/// When the background thread releases memory: after a tick during which
/// no record was added to the log, once per stretch of writes. The first
/// quiet tick after a burst is when its transient buffers (the log's
/// unsynced bytes, grown tables) have just been freed and are least likely
/// to be needed again soon; ticks under steady writes never release, so a
/// busy database keeps reusing what it freed.
#[derive(Debug, Default)]
struct Quiet {
    /// The last record's sequence number at the last release.
    released_at: u64,
}

impl Quiet {
    /// Whether to release now, given the last record's sequence number
    /// before and after a tick.
    fn after_tick(&mut self, before: u64, after: u64) -> bool {
        let release = before == after && after != self.released_at;
        if release {
            self.released_at = after;
        }
        release
    }
}

type Notifier = Box<dyn Fn(&str) + Send>;

/// Tells background threads to stop, and wakes them; also wakes the
/// persistence thread early when the log has a backlog to fsync.
#[derive(Debug, Default)]
struct Stop {
    state: Mutex<StopState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct StopState {
    stopped: bool,
    /// The log asked for an fsync before the next tick.
    nudged: bool,
}

/// Why [`Stop::wait_for_work`] returned.
#[derive(Debug, PartialEq, Eq)]
enum Woken {
    Stopped,
    Nudged,
    TimedOut,
}

impl Stop {
    /// Waits up to `timeout`; true when asked to stop.
    fn wait(&self, timeout: Duration) -> bool {
        let (state, _) = self
            .wake
            .wait_timeout_while(lock(&self.state), timeout, |s| !s.stopped)
            .unwrap_or_else(|p| p.into_inner());
        state.stopped
    }

    /// Waits until `deadline`, a stop or a nudge, and says which came first
    /// (a stop wins over a nudge; a nudge is answered once).
    fn wait_for_work(&self, deadline: Instant) -> Woken {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (mut state, _) = self
            .wake
            .wait_timeout_while(lock(&self.state), timeout, |s| !s.stopped && !s.nudged)
            .unwrap_or_else(|p| p.into_inner());
        if state.stopped {
            Woken::Stopped
        } else if std::mem::take(&mut state.nudged) {
            Woken::Nudged
        } else {
            Woken::TimedOut
        }
    }

    /// Wakes the persistence thread for work before its next tick.
    fn nudge(&self) {
        lock(&self.state).nudged = true;
        self.wake.notify_all();
    }

    fn stop(&self) {
        lock(&self.state).stopped = true;
        self.wake.notify_all();
    }
}

/// An open database.
pub struct Db {
    engine: Arc<Engine>,
    persistence: Arc<Persistence>,
    aliases: Mutex<Aliases>,
    alias_version: Arc<AtomicU64>,
    acknowledgements: AtomicU64,
    data_dir: PathBuf,
    recovery: Report,
    stats: stats::Stats,
    command_log: Option<Arc<cmdlog::CommandLog>>,
    notifier: Arc<Mutex<Notifier>>,
    fatal: OnceLock<String>,
    stop: Arc<Stop>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db")
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Db {
    /// Opens (creating when missing) the database in `options.data_dir`:
    /// takes the directory's lock, loads aliases, recovers snapshot and log,
    /// and starts the background threads.
    pub fn open(options: Options) -> Result<Arc<Db>, OpenError> {
        let dir = &options.data_dir;
        std::fs::create_dir_all(dir).map_err(|source| OpenError::DataDir {
            path: dir.clone(),
            source,
        })?;
        let persistence = Arc::new(Persistence::open(dir, options.persistence.clone())?);
        let aliases = Aliases::load(dir)?;
        let engine = Arc::new(Engine::with_journal(
            options.clock.clone(),
            persistence.journal(),
        ));
        let recovery = persistence.recover(&engine)?;
        engine.set_limits(options.limits);
        let command_log = match &options.command_log {
            Some(settings) => Some(
                cmdlog::CommandLog::open(dir, settings.clone())
                    .map(Arc::new)
                    .map_err(|source| OpenError::DataDir {
                        path: dir.join(cmdlog::FILE_NAME),
                        source,
                    })?,
            ),
            None => None,
        };
        let db = Arc::new(Db {
            engine,
            persistence,
            alias_version: aliases.version(),
            acknowledgements: AtomicU64::new(0),
            aliases: Mutex::new(aliases),
            data_dir: options.data_dir.clone(),
            recovery,
            stats: stats::Stats::default(),
            command_log,
            notifier: Arc::new(Mutex::new(Box::new(|message: &str| {
                eprintln!("inmem: {message}")
            }))),
            fatal: OnceLock::new(),
            stop: Arc::new(Stop::default()),
            threads: Mutex::new(Vec::new()),
        });
        let stop = db.stop.clone();
        db.persistence.log().on_backlog(move || stop.nudge());
        let mut threads = Vec::new();
        if options.active_expiry {
            threads.push(spawn_expiry(db.engine.clone(), db.stop.clone()));
        }
        if options.background_persistence {
            threads.push(spawn_persistence(
                db.engine.clone(),
                db.persistence.clone(),
                db.command_log.clone(),
                db.stop.clone(),
                db.notifier.clone(),
                options.release_memory,
            ));
        }
        *lock(&db.threads) = threads;
        Ok(db)
    }

    /// The engine holding the keyspace.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The persistence layer.
    pub fn persistence(&self) -> &Persistence {
        &self.persistence
    }

    /// Operation counts and latency.
    pub fn stats(&self) -> &stats::Stats {
        &self.stats
    }

    /// The command log, when it is on.
    pub fn command_log(&self) -> Option<&cmdlog::CommandLog> {
        self.command_log.as_deref()
    }

    /// What recovery found at start.
    pub fn recovery(&self) -> &Report {
        &self.recovery
    }

    /// The alias table, locked.
    pub fn aliases(&self) -> MutexGuard<'_, Aliases> {
        lock(&self.aliases)
    }

    /// Moves on whenever the alias table changes (see [`Aliases::version`]);
    /// read without the table's lock.
    pub fn alias_version(&self) -> u64 {
        self.alias_version.load(Ordering::Acquire)
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Routes messages from background threads (snapshot and log failures)
    /// to `notify` instead of stderr; the REPL prints them above the prompt.
    pub fn set_notifier(&self, notify: impl Fn(&str) + Send + 'static) {
        *lock(&self.notifier) = Box::new(notify);
    }

    /// Makes every committed change safe to acknowledge. An error means the
    /// log failed under `appendfsync always`: nothing more may be acknowledged,
    /// and the front-end must stop.
    pub fn acknowledge(&self) -> Result<(), String> {
        self.acknowledgements.fetch_add(1, Ordering::Relaxed);
        if let Some(fatal) = self.fatal.get() {
            return Err(fatal.clone());
        }
        self.persistence
            .acknowledge()
            .map_err(|e| self.fatal.get_or_init(|| e).clone())
    }

    /// How many times [`Db::acknowledge`] has been called: a front-end
    /// timing statements back to back sees from it that output was written
    /// (and the log made safe) in between.
    pub fn acknowledgements(&self) -> u64 {
        self.acknowledgements.load(Ordering::Relaxed)
    }

    /// The failure that stopped acknowledgements, if any.
    pub fn fatal(&self) -> Option<String> {
        self.fatal.get().cloned()
    }

    /// Stops the background threads and writes and fsyncs the log.
    pub fn close(&self) -> Result<(), String> {
        self.stop.stop();
        for thread in lock(&self.threads).drain(..) {
            let _ = thread.join();
        }
        if let Some(log) = &self.command_log {
            log.flush();
        }
        self.persistence.close()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

/// Active expiry: wakes every [`EXPIRY_INTERVAL`] and removes expired keys in
/// small locked batches until none are left, so a wave of deadlines is cleared
/// promptly without one long pause.
fn spawn_expiry(engine: Arc<Engine>, stop: Arc<Stop>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("inmem-expiry".into())
        .spawn(move || {
            while !stop.wait(EXPIRY_INTERVAL) {
                while engine.purge_expired(EXPIRY_BATCH) == EXPIRY_BATCH {}
            }
        })
        .expect("spawning a thread at start-up")
}

/// The log syncer, snapshot scheduler, command-log pusher and memory releaser.
fn spawn_persistence(
    engine: Arc<Engine>,
    persistence: Arc<Persistence>,
    command_log: Option<Arc<cmdlog::CommandLog>>,
    stop: Arc<Stop>,
    notifier: Arc<Mutex<Notifier>>,
    release_memory: Option<fn()>,
) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("inmem-persist".into())
        .spawn(move || {
            let mut last_snapshot = Instant::now();
            let mut quiet = Quiet::default();
            let mut next_tick = Instant::now() + PERSIST_INTERVAL;
            loop {
                match stop.wait_for_work(next_tick) {
                    Woken::Stopped => break,
                    Woken::Nudged => {
                        // A backlog under `everysec`: fsync it now, tick as planned.
                        if let Some(message) = persistence.sync_log() {
                            (lock(&notifier))(&message);
                        }
                        continue;
                    }
                    Woken::TimedOut => next_tick = Instant::now() + PERSIST_INTERVAL,
                }
                if let Some(log) = &command_log {
                    log.send_pending();
                }
                let before = persistence.log().last_seq();
                if let Some(message) = persistence.tick(&engine, &mut last_snapshot) {
                    (lock(&notifier))(&message);
                }
                let after = persistence.log().last_seq();
                if let Some(release) = release_memory
                    && quiet.after_tick(before, after)
                {
                    release();
                }
            }
        })
        .expect("spawning a thread at start-up")
}

#[cfg(test)]
mod tests {
    use super::{Db, Options, PERSIST_INTERVAL, Quiet, Stop, Woken};
    use crate::persist::log::SYNC_BACKLOG;
    use std::time::{Duration, Instant};

    #[test]
    fn a_backlog_under_everysec_is_fsynced_before_the_next_tick() {
        let dir = tempfile::tempdir().unwrap();
        let mut options = Options::new(dir.path());
        options.active_expiry = false;
        options.command_log = None;
        options.persistence.snapshot_interval = Duration::ZERO;
        options.persistence.compact_threshold = 0;
        let opened = Instant::now();
        let db = Db::open(options).unwrap();
        let log = db.persistence().log();
        let value = vec![b'v'; 64 << 10];
        // Up to the write that rings the alarm, and no further: the fsync it
        // asks for then covers every record.
        while log.unsynced_bytes() < SYNC_BACKLOG {
            db.engine().put("0", b"key", &value).unwrap();
            db.acknowledge().unwrap();
        }
        let wanted = log.last_seq();
        let ready = Instant::now();
        let tick = opened + PERSIST_INTERVAL;
        while log.synced_seq() < wanted && Instant::now() < tick + PERSIST_INTERVAL {
            std::thread::sleep(Duration::from_millis(1));
        }
        let synced = Instant::now();
        assert!(log.synced_seq() >= wanted, "the backlog was never fsynced");
        // Only the alarm can have fsynced it before the first tick (unless
        // writing took so long that the tick came first).
        if ready + PERSIST_INTERVAL / 4 < tick {
            assert!(
                synced < tick,
                "fsynced {:?} after writing, not before the tick",
                synced - ready
            );
        }
    }

    #[test]
    fn a_nudge_wakes_the_persistence_wait_once_and_a_stop_wins() {
        let stop = Stop::default();
        let far = Instant::now() + Duration::from_secs(3600);
        stop.nudge();
        assert_eq!(stop.wait_for_work(far), Woken::Nudged);
        assert_eq!(stop.wait_for_work(Instant::now()), Woken::TimedOut);
        // A nudge does not end the other threads' waits; a stop does.
        stop.nudge();
        assert!(!stop.wait(Duration::ZERO));
        stop.stop();
        assert_eq!(stop.wait_for_work(far), Woken::Stopped);
        assert!(stop.wait(Duration::from_secs(3600)));
    }

    #[test]
    fn memory_is_released_once_per_stretch_of_writes_when_a_tick_adds_nothing() {
        let mut quiet = Quiet::default();
        // Nothing written yet: nothing to release.
        assert!(!quiet.after_tick(0, 0));
        // Records keep arriving during ticks: a busy log never releases.
        assert!(!quiet.after_tick(0, 500));
        assert!(!quiet.after_tick(500, 900));
        // The first tick that adds nothing releases, once.
        assert!(quiet.after_tick(900, 900));
        assert!(!quiet.after_tick(900, 900));
        // The next stretch of writes earns the next release.
        assert!(!quiet.after_tick(900, 901));
        assert!(quiet.after_tick(901, 901));
    }
}

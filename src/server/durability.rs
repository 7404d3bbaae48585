//! Acknowledgement for network clients: one thread makes the log safe for
//! everybody waiting (a write to the operating system, and an fsync under
//! `always`), so many connections share each write and each fsync (group
//! commit) and no async worker ever blocks on the disk.
//!
//! Before each fsync the thread gives the connections that the previous one
//! released a moment ([`GATHER`] at most) to come back with their next
//! write, so one fsync covers them all instead of the few that happened to
//! arrive first.
//!
//! The thread wakes one task on the runtime per fsync, the relay
//! ([`Syncer::relay`]), which passes the news on to the waiting connections.
//! A wake-up from another thread costs a system call (the runtime's event
//! loop is woken through an eventfd) per task woken, one from the relay on
//! the runtime's own thread costs a queue push.

use crate::Db;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest wait for released connections to come back before an fsync.
const GATHER: Duration = Duration::from_micros(500);

/// Why a wait is refused once the sync thread has ended.
const STOPPED: &str = "the acknowledgement thread stopped";

/// What the sync thread has made safe so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Durable {
    /// Every log record up to this sequence number is safe to acknowledge.
    pub seq: u64,
    /// Set when the log failed: nothing more may be acknowledged.
    pub failure: Option<String>,
}

#[derive(Debug, Default)]
struct Wanted {
    seq: u64,
    stop: bool,
    /// Connections waiting for an acknowledgement right now.
    waiting: usize,
    /// What the sync thread sleeps for, so a waiter wakes it only when it
    /// must (a wake-up is a system call even when nobody sleeps).
    asleep: Asleep,
}

/// What the sync thread is waiting for on its condition variable.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Asleep {
    /// It is not waiting: it writes, fsyncs, or is about to look again.
    #[default]
    No,
    /// A record to make safe.
    ForWork,
    /// This many connections waiting (or the end of the gathering time).
    ForGroup(usize),
}

impl Wanted {
    /// True when the sync thread sleeps and this state is what it waits for.
    fn wakes_syncer(&self) -> bool {
        match self.asleep {
            Asleep::No => false,
            Asleep::ForWork => true,
            Asleep::ForGroup(group) => self.waiting >= group,
        }
    }
}

/// The shared acknowledger.
#[derive(Debug)]
pub struct Syncer {
    wanted: Mutex<Wanted>,
    wake: Condvar,
    /// What the sync thread made safe (its sender is the thread's own).
    synced: watch::Receiver<Durable>,
    /// The same, passed on by the relay: the connections wait on this one.
    relayed: watch::Sender<Durable>,
}

impl Syncer {
    /// Starts the sync thread for `db`, and its relay on the current tokio
    /// runtime (so this must be called on one).
    pub fn start(db: Arc<Db>) -> Arc<Syncer> {
        let start = Durable {
            seq: db.persistence().log().last_seq(),
            failure: None,
        };
        let (done, synced) = watch::channel(start.clone());
        let syncer = Arc::new(Syncer {
            wanted: Mutex::new(Wanted::default()),
            wake: Condvar::new(),
            synced,
            relayed: watch::Sender::new(start),
        });
        let worker = syncer.clone();
        std::thread::Builder::new()
            .name("inmem-ack".into())
            .spawn(move || worker.run(&db, &done))
            .expect("spawning a thread at start-up");
        tokio::spawn(syncer.clone().relay());
        syncer
    }

    /// Passes each change the sync thread makes on to the waiting
    /// connections, until the thread ends; then refuses every later wait.
    async fn relay(self: Arc<Self>) {
        let mut synced = self.synced.clone();
        while synced.changed().await.is_ok() {
            let state = synced.borrow_and_update().clone();
            self.relayed.send_replace(state);
        }
        self.relayed.send_modify(|d| {
            d.failure.get_or_insert_with(|| STOPPED.to_string());
        });
    }

    fn lock(&self) -> MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(&self, db: &Db, done: &watch::Sender<Durable>) {
        // How many connections the last fsync covered.
        let mut last_group = 0;
        loop {
            let group = {
                let mut wanted = self.lock();
                while !wanted.stop && wanted.seq <= done.borrow().seq {
                    wanted.asleep = Asleep::ForWork;
                    wanted = self.wake.wait(wanted).unwrap_or_else(|p| p.into_inner());
                }
                let deadline = Instant::now() + GATHER;
                while !wanted.stop && wanted.waiting < last_group {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    wanted.asleep = Asleep::ForGroup(last_group);
                    wanted = self
                        .wake
                        .wait_timeout(wanted, left)
                        .unwrap_or_else(|p| p.into_inner())
                        .0;
                }
                wanted.asleep = Asleep::No;
                if wanted.stop {
                    return;
                }
                wanted.waiting
            };
            // Everything recorded before this point is covered by the barrier.
            let covered = db.persistence().log().last_seq();
            let failure = db.acknowledge().err();
            let failed = failure.is_some();
            done.send_modify(|d| {
                d.seq = d.seq.max(covered);
                if d.failure.is_none() {
                    d.failure = failure;
                }
            });
            if failed {
                return;
            }
            last_group = group;
        }
    }

    /// Waits until every record up to `seq` is safe to acknowledge.
    pub async fn wait(&self, seq: u64) -> Result<(), String> {
        // The thread's own state first: it may be ahead of the relay.
        if let Some(done) = settled(&self.synced.borrow(), seq) {
            return done;
        }
        let mut relayed = self.relayed.subscribe();
        let _counted = Waiting::new(self, seq);
        // The relayed state's sender lives in `self`, so waiting on it cannot
        // fail; once the sync thread ends the relay marks it failed.
        let outcome = match relayed.wait_for(|d| settled(d, seq).is_some()).await {
            Ok(state) => settled(&state, seq),
            Err(_) => None,
        };
        outcome.unwrap_or_else(|| Err(STOPPED.to_string()))
    }

    /// Stops the sync thread.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }
}

/// Whether `seq` is safe to acknowledge (`Ok`), never will be (`Err`), or
/// not yet (`None`).
fn settled(state: &Durable, seq: u64) -> Option<Result<(), String>> {
    match &state.failure {
        Some(failure) => Some(Err(failure.clone())),
        None if state.seq >= seq => Some(Ok(())),
        None => None,
    }
}

/// Counts one connection as waiting for as long as it lives (also when the
/// connection is dropped while it waits).
struct Waiting<'a>(&'a Syncer);

impl<'a> Waiting<'a> {
    fn new(syncer: &'a Syncer, seq: u64) -> Self {
        let mut wanted = syncer.lock();
        wanted.seq = wanted.seq.max(seq);
        wanted.waiting += 1;
        if wanted.wakes_syncer() {
            // Cleared here, so the waiters behind this one do not wake it again.
            wanted.asleep = Asleep::No;
            syncer.wake.notify_one();
        }
        Waiting(syncer)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut wanted = self.0.lock();
        wanted.waiting = wanted.waiting.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use crate::command::Op;
    use crate::persist::disk::SimDisk;
    use crate::persist::log::Fsync;
    use tokio::task::JoinHandle;

    const PATIENCE: Duration = Duration::from_secs(10);
    const CLIENTS: usize = 32;

    /// A database under `always` on a simulated disk, without background
    /// threads, its log segment started (one record written and synced).
    fn open(dir: &std::path::Path, disk: &SimDisk) -> Arc<Db> {
        let mut options = Options::new(dir);
        options.active_expiry = false;
        options.command_log = None;
        options.persistence.fsync = Fsync::Always;
        options.persistence.snapshot_interval = Duration::ZERO;
        options.persistence.compact_threshold = 0;
        options.persistence.disk = Arc::new(disk.clone());
        let db = Db::open(options).unwrap();
        put(&db, "first".into());
        db.acknowledge().unwrap();
        db
    }

    fn put(db: &Db, key: String) -> u64 {
        let op = Op::Put {
            key: key.into_bytes(),
            value: b"v".to_vec(),
            ttl_ms: None,
        };
        db.engine().run("0", &op).unwrap();
        db.persistence().log().last_seq()
    }

    /// Writes one record per client and starts each client's wait for it,
    /// while the fsync is held (and will fail when `fails`); returns once
    /// every client waits and the sync thread's fsync is in flight.
    async fn clients_waiting(
        db: &Arc<Db>,
        disk: &SimDisk,
        syncer: &Arc<Syncer>,
        fails: bool,
    ) -> Vec<JoinHandle<Result<(), String>>> {
        if fails {
            disk.fail_sync(1);
        }
        disk.hold_syncs();
        let waits: Vec<_> = (0..CLIENTS)
            .map(|i| {
                let seq = put(db, format!("k{i}"));
                let syncer = syncer.clone();
                tokio::spawn(async move { syncer.wait(seq).await })
            })
            .collect();
        let deadline = Instant::now() + PATIENCE;
        while syncer.lock().waiting < CLIENTS {
            assert!(Instant::now() < deadline, "the clients never waited");
            tokio::task::yield_now().await;
        }
        assert!(
            disk.wait_for_held_syncs(1, PATIENCE),
            "the fsync never started"
        );
        waits
    }

    async fn outcomes(waits: Vec<JoinHandle<Result<(), String>>>) -> Vec<Result<(), String>> {
        let mut outcomes = Vec::new();
        for wait in waits {
            let outcome = tokio::time::timeout(PATIENCE, wait).await;
            outcomes.push(outcome.expect("a client was never answered").unwrap());
        }
        outcomes
    }

    /// A database as [`open`] makes it, in a fresh directory on a fresh
    /// simulated disk, and a one-thread runtime (as the server runs on two
    /// cores) to wait on.
    fn setup() -> (tempfile::TempDir, SimDisk, Arc<Db>, tokio::runtime::Runtime) {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let db = open(dir.path(), &disk);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (dir, disk, db, runtime)
    }

    #[test]
    fn every_waiting_client_is_acknowledged_once_the_fsync_is_done() {
        let (dir, disk, db, runtime) = setup();
        runtime.block_on(async {
            let syncer = Syncer::start(db.clone());
            let waits = clients_waiting(&db, &disk, &syncer, false).await;
            // Nobody hears back while the fsync is in flight.
            tokio::time::sleep(Duration::from_millis(20)).await;
            assert!(waits.iter().all(|w| !w.is_finished()));
            disk.release_syncs();
            assert!(outcomes(waits).await.iter().all(Result::is_ok));
            // What is already safe is acknowledged without waiting.
            let seq = db.persistence().log().last_seq();
            assert_eq!(syncer.wait(seq).await, Ok(()));
            syncer.stop();
        });
        // Acknowledged means on disk: a power cut keeps every record.
        disk.cut_power(0).unwrap();
        drop(runtime);
        let deadline = Instant::now() + PATIENCE;
        while Arc::strong_count(&db) > 1 {
            assert!(Instant::now() < deadline, "the sync thread never ended");
            std::thread::sleep(Duration::from_millis(1));
        }
        drop(db);
        let db = open(dir.path(), &SimDisk::new());
        assert_eq!(db.engine().stored_len(), CLIENTS + 1);
    }

    #[test]
    fn a_failed_fsync_refuses_every_waiting_client_and_every_later_one() {
        let (_dir, disk, db, runtime) = setup();
        runtime.block_on(async {
            let syncer = Syncer::start(db.clone());
            let waits = clients_waiting(&db, &disk, &syncer, true).await;
            disk.release_syncs();
            let outcomes = outcomes(waits).await;
            assert!(
                outcomes
                    .iter()
                    .all(|o| o.as_ref().is_err_and(|e| e.contains("fsync failed"))),
                "{outcomes:?}"
            );
            // Once failed, nothing is acknowledged any more, whatever it waits for.
            let seq = db.persistence().log().last_seq();
            assert!(syncer.wait(seq).await.is_err());
        });
    }

    #[test]
    fn a_stopped_sync_thread_refuses_later_waits() {
        let (_dir, _disk, db, runtime) = setup();
        runtime.block_on(async {
            let syncer = Syncer::start(db.clone());
            syncer.stop();
            let seq = put(&db, "after".into());
            let outcome = tokio::time::timeout(PATIENCE, syncer.wait(seq)).await;
            assert!(outcome.expect("the wait never ended").is_err());
        });
    }
}

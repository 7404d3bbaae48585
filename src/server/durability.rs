//! Acknowledgement for network clients: one thread makes the log safe for
//! everybody waiting (a write to the operating system, and an fsync under
//! `always`), so many connections share each write and each fsync (group
//! commit) and no async worker ever blocks on the disk.
//!
//! Before each fsync the thread gives the connections that the previous one
//! released a moment ([`GATHER`] at most) to come back with their next
//! write, so one fsync covers them all instead of the few that happened to
//! arrive first.

use crate::Db;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Longest wait for released connections to come back before an fsync.
const GATHER: Duration = Duration::from_micros(500);

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
    done: watch::Sender<Durable>,
}

impl Syncer {
    /// Starts the sync thread for `db`.
    pub fn start(db: Arc<Db>) -> Arc<Syncer> {
        let last = db.persistence().log().last_seq();
        let (done, _) = watch::channel(Durable {
            seq: last,
            failure: None,
        });
        let syncer = Arc::new(Syncer {
            wanted: Mutex::new(Wanted::default()),
            wake: Condvar::new(),
            done,
        });
        let worker = syncer.clone();
        std::thread::Builder::new()
            .name("inmem-ack".into())
            .spawn(move || worker.run(&db))
            .expect("spawning a thread at start-up");
        syncer
    }

    fn lock(&self) -> MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn run(&self, db: &Db) {
        // How many connections the last fsync covered.
        let mut last_group = 0;
        loop {
            let group = {
                let mut wanted = self.lock();
                while !wanted.stop && wanted.seq <= self.done.borrow().seq {
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
            self.done.send_modify(|d| {
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
        let mut done = self.done.subscribe();
        if let Some(failure) = &done.borrow().failure {
            return Err(failure.clone());
        }
        if done.borrow().seq >= seq {
            return Ok(());
        }
        let _counted = Waiting::new(self, seq);
        let state = done
            .wait_for(|d| d.seq >= seq || d.failure.is_some())
            .await
            .map(|state| state.failure.clone())
            .map_err(|_| "the acknowledgement thread stopped".to_string());
        match state? {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    /// Stops the sync thread.
    pub fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
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

//! Acknowledgement for network clients: group commit on the connection's
//! own thread.
//!
//! A connection that has run writes first lets every connection already
//! ready on its thread run its commands, then makes the log safe: one write
//! to the operating system (and, under `always`, one fsync) covers the
//! records of all of them, and the connections after it find theirs safe
//! already, much as Redis's event loop writes its log once before it sleeps.
//! While that fsync runs the thread serves no one else, readers included
//! (unlike Redis, a read that ran before it has been answered already).
//! With several connection threads (`--threads`), a thread's queue is only
//! its own, so groups are smaller and threads fsync side by side, queueing
//! on the log.

use crate::Db;
use std::future::poll_fn;
use std::task::Poll;

/// Makes the log safe for the writes a connection has just run, together
/// with those of every connection ready on this thread. An error means the
/// log failed under `always`: nothing may be acknowledged, and the server
/// must stop.
pub async fn acknowledge(db: &Db) -> Result<(), String> {
    after_the_ready_tasks().await;
    db.acknowledge()
}

/// Lets every task already queued on this thread run first. A task that
/// wakes itself goes to the back of its thread's queue as it stands, while
/// `tokio::task::yield_now` lets the runtime look for new input first and
/// queues the tasks it wakes ahead, which would hold this reply back behind
/// their commands.
async fn after_the_ready_tasks() {
    let mut queued = false;
    poll_fn(|cx| {
        if queued {
            Poll::Ready(())
        } else {
            queued = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use crate::command::{Op, Reply};
    use crate::persist::disk::SimDisk;
    use crate::persist::log::Fsync;
    use std::collections::HashSet;
    use std::ops::Range;
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::{JoinHandle, ThreadId};
    use std::time::{Duration, Instant};
    use tokio::sync::mpsc;

    const PATIENCE: Duration = Duration::from_secs(10);
    /// Clients on one thread: enough for a group, few enough to stay quick.
    const CLIENTS: usize = 32;
    /// Clients spread over several threads, arriving in waves of [`WAVE`].
    const SPREAD_CLIENTS: usize = 64;
    const WAVE: usize = 8;
    /// How long clients that arrive while an fsync is held have to write
    /// and reach their acknowledgement, and the clients an fsync answered
    /// to look for their keys, before the next fsync goes on. A right
    /// answer passes whatever it is; only the odds of catching a wrong one
    /// depend on it.
    const SETTLE: Duration = Duration::from_millis(10);

    /// A database under `always` on a simulated disk, its log segment
    /// started (one record written and synced). Without background threads:
    /// the persistence thread's tick fsyncs records nobody has acknowledged
    /// yet, so it could take a held or failing fsync a test means for its
    /// clients, or repair the log after one failed.
    fn open(dir: &Path, disk: &SimDisk) -> Arc<Db> {
        let mut options = Options::new(dir);
        options.active_expiry = false;
        options.background_persistence = false;
        options.command_log = None;
        options.persistence.fsync = Fsync::Always;
        options.persistence.snapshot_interval = Duration::ZERO;
        options.persistence.compact_threshold = 0;
        options.persistence.disk = Arc::new(disk.clone());
        let db = Db::open(options).unwrap();
        put(&db, "first");
        db.acknowledge().unwrap();
        db
    }

    fn put(db: &Db, key: &str) {
        let op = Op::Put {
            key: key.as_bytes().to_vec(),
            value: b"v".to_vec(),
            ttl_ms: None,
        };
        db.engine().run("0", &op).unwrap();
    }

    fn has(db: &Db, key: &str) -> bool {
        let op = Op::Get(key.as_bytes().to_vec());
        matches!(db.engine().run("0", &op), Ok(Reply::Value(_)))
    }

    /// Client `i`'s key: all of the same length, so none is found inside another.
    fn key(i: usize) -> String {
        format!("key-{i:03}")
    }

    /// Whether `key` is in the log's fsynced bytes: a file on the simulated
    /// disk holds only what was synced to it (the rest is in the disk's memory).
    fn fsynced(dir: &Path, key: &str) -> bool {
        std::fs::read_dir(dir).unwrap().any(|entry| {
            let entry = entry.unwrap();
            entry.file_name().to_string_lossy().starts_with("log-")
                && std::fs::read(entry.path())
                    .unwrap()
                    .windows(key.len())
                    .any(|bytes| bytes == key.as_bytes())
        })
    }

    /// What one client saw.
    #[derive(Debug)]
    struct Answer {
        /// Which client (its key's number).
        client: usize,
        /// What [`acknowledge`] returned.
        outcome: Result<(), String>,
        /// Whether its key was in the log's fsynced bytes as it heard back.
        fsynced: bool,
        /// The runtime thread that ran it.
        thread: ThreadId,
    }

    /// Client `i`: writes its key and waits for its acknowledgement.
    async fn client(db: Arc<Db>, i: usize, answered: Arc<AtomicUsize>) -> Answer {
        put(&db, &key(i));
        let outcome = acknowledge(&db).await;
        let fsynced = outcome.is_ok() && fsynced(db.data_dir(), &key(i));
        answered.fetch_add(1, Ordering::SeqCst);
        Answer {
            client: i,
            outcome,
            fsynced,
            thread: std::thread::current().id(),
        }
    }

    /// Clients on a runtime in a thread of its own, built as the server
    /// builds it for `--threads`: the calling thread alone for one (as on
    /// two cores), else that many worker threads. They arrive from outside
    /// the runtime, as accepted connections do.
    struct Clients {
        arrivals: mpsc::UnboundedSender<Range<usize>>,
        arrived: usize,
        answered: Arc<AtomicUsize>,
        runtime: JoinHandle<Vec<Answer>>,
    }

    impl Clients {
        fn start(db: &Arc<Db>, threads: usize) -> Clients {
            let (arrivals, mut arriving) = mpsc::unbounded_channel::<Range<usize>>();
            let answered = Arc::new(AtomicUsize::new(0));
            let (db, counter) = (db.clone(), answered.clone());
            let runtime = std::thread::spawn(move || {
                let runtime = if threads <= 1 {
                    tokio::runtime::Builder::new_current_thread().build()
                } else {
                    tokio::runtime::Builder::new_multi_thread()
                        .worker_threads(threads)
                        .build()
                }
                .unwrap();
                runtime.block_on(async {
                    let mut clients = Vec::new();
                    while let Some(range) = arriving.recv().await {
                        for i in range {
                            clients.push(tokio::spawn(client(db.clone(), i, counter.clone())));
                        }
                    }
                    let mut answers = Vec::new();
                    for client in clients {
                        answers.push(client.await.unwrap());
                    }
                    answers
                })
            });
            Clients {
                arrivals,
                arrived: 0,
                answered,
                runtime,
            }
        }

        /// Clients `range` connect, each to write its key and wait.
        fn arrive(&mut self, range: Range<usize>) {
            self.arrived += range.len();
            self.arrivals.send(range).unwrap();
        }

        /// Whether every client that connected has heard back.
        fn all_answered(&self) -> bool {
            self.answered() == self.arrived
        }

        /// How many clients have heard back.
        fn answered(&self) -> usize {
            self.answered.load(Ordering::SeqCst)
        }

        /// What every client saw, once all have heard back.
        fn join(self) -> Vec<Answer> {
            drop(self.arrivals);
            self.runtime.join().unwrap()
        }
    }

    /// With syncs held, lets them go on one at a time until every client
    /// has heard back. While each is held, the next of `waves` arrives: the
    /// threads not in that fsync run those clients up to their
    /// acknowledgement, their records after it. And each goes on only once
    /// the clients the one before answered have looked for their keys, so
    /// no later fsync covers a record after a client was answered for it.
    fn fsyncs_one_at_a_time(
        disk: &SimDisk,
        clients: &mut Clients,
        mut waves: impl Iterator<Item = Range<usize>>,
    ) {
        loop {
            let deadline = Instant::now() + PATIENCE;
            while !disk.wait_for_held_syncs(1, Duration::from_millis(1)) {
                if clients.all_answered() {
                    match waves.next() {
                        Some(wave) => clients.arrive(wave),
                        None => return,
                    }
                }
                assert!(Instant::now() < deadline, "the clients stopped");
            }
            if let Some(wave) = waves.next() {
                clients.arrive(wave);
            }
            std::thread::sleep(SETTLE);
            let passed = disk.syncs();
            disk.let_syncs_through(1);
            while disk.syncs() == passed {
                assert!(
                    Instant::now() < deadline,
                    "the fsync let through stayed held"
                );
                std::thread::yield_now();
            }
        }
    }

    /// Releases held syncs when dropped: a failing test then ends instead
    /// of waiting for ever in the database's close.
    struct Released<'a>(&'a SimDisk);

    impl Drop for Released<'_> {
        fn drop(&mut self) {
            self.0.release_syncs();
        }
    }

    /// Cuts the power (no torn bytes) and reopens on a healthy disk: what
    /// was fsynced, and nothing else.
    fn power_cut_and_reopen(dir: &Path, disk: &SimDisk, db: Arc<Db>) -> Arc<Db> {
        disk.cut_power(0).unwrap();
        drop(db);
        open(dir, &SimDisk::new())
    }

    #[test]
    fn one_fsync_acknowledges_every_client_ready_on_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let db = open(dir.path(), &disk);
        let syncs_before = disk.syncs();
        let _released = Released(&disk);
        disk.hold_syncs();
        let mut clients = Clients::start(&db, 1);
        clients.arrive(0..CLIENTS);
        assert!(
            disk.wait_for_held_syncs(1, PATIENCE),
            "the fsync never started"
        );
        // Nobody hears back while the fsync is in flight.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(clients.answered(), 0);
        disk.release_syncs();
        let answers = clients.join();
        assert!(
            answers.iter().all(|a| a.outcome.is_ok() && a.fsynced),
            "{answers:?}"
        );
        assert_eq!(disk.syncs() - syncs_before, 1, "one fsync for all");
        // Acknowledged means on disk: a power cut keeps every record.
        let db = power_cut_and_reopen(dir.path(), &disk, db);
        assert_eq!(db.engine().stored_len(), CLIENTS + 1);
    }

    #[test]
    fn clients_on_several_threads_hear_back_only_once_their_own_records_are_fsynced() {
        for threads in [2, 4] {
            let dir = tempfile::tempdir().unwrap();
            let disk = SimDisk::new();
            let db = open(dir.path(), &disk);
            let syncs_before = disk.syncs();
            let released = Released(&disk);
            disk.hold_syncs();
            let mut clients = Clients::start(&db, threads);
            let mut waves = (0..SPREAD_CLIENTS).step_by(WAVE).map(|i| i..i + WAVE);
            clients.arrive(waves.next().unwrap());
            assert!(
                disk.wait_for_held_syncs(1, PATIENCE),
                "the fsync never started"
            );
            // No fsync has ended, so nobody may have heard back, while the
            // other threads run their clients up to their acknowledgement.
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(clients.answered(), 0, "{threads} threads");
            fsyncs_one_at_a_time(&disk, &mut clients, waves);
            drop(released);
            let answers = clients.join();
            assert_eq!(answers.len(), SPREAD_CLIENTS);
            // Later waves arrived while a thread was held in an fsync, so
            // other threads ran them.
            let ran_on: HashSet<ThreadId> = answers.iter().map(|a| a.thread).collect();
            assert!(ran_on.len() >= 2, "all clients ran on one thread");
            for answer in &answers {
                assert_eq!(answer.outcome, Ok(()), "{answer:?}, {threads} threads");
                // Not merely covered by a later fsync: in one that had
                // ended when the client heard back.
                assert!(
                    answer.fsynced,
                    "client {} heard back before its record was fsynced ({threads} threads)",
                    answer.client
                );
            }
            let fsyncs = disk.syncs() - syncs_before;
            assert!(
                (1..=SPREAD_CLIENTS as u64).contains(&fsyncs),
                "{fsyncs} fsyncs for {SPREAD_CLIENTS} clients on {threads} threads"
            );
            let db = power_cut_and_reopen(dir.path(), &disk, db);
            let lost: Vec<String> = (0..SPREAD_CLIENTS)
                .map(key)
                .filter(|k| !has(&db, k))
                .collect();
            assert!(lost.is_empty(), "lost: {lost:?} ({threads} threads)");
        }
    }

    #[test]
    fn a_failed_fsync_refuses_every_waiting_client_and_every_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let db = open(dir.path(), &disk);
        disk.fail_sync(1);
        let mut clients = Clients::start(&db, 1);
        clients.arrive(0..CLIENTS);
        let answers = clients.join();
        assert!(
            answers.iter().all(|a| a
                .outcome
                .as_ref()
                .is_err_and(|e| e.contains("fsync failed"))),
            "{answers:?}"
        );
        // The disk works again, but the failure stands: the log is not
        // repaired and fsynced on this front-end's behalf, and nothing more
        // is acknowledged.
        let syncs = disk.syncs();
        assert!(db.acknowledge().is_err_and(|e| e.contains("fsync failed")));
        assert_eq!(disk.syncs(), syncs, "no fsync after the failure");
    }
}

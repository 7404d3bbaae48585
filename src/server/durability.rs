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
    use crate::command::Op;
    use crate::persist::disk::SimDisk;
    use crate::persist::log::Fsync;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread::JoinHandle;
    use std::time::Duration;

    const PATIENCE: Duration = Duration::from_secs(10);
    const CLIENTS: usize = 32;

    /// A database under `always` on a simulated disk, without the expiry
    /// thread or the command log, its log segment started (one record
    /// written and synced).
    fn open(dir: &std::path::Path, disk: &SimDisk) -> Arc<Db> {
        let mut options = Options::new(dir);
        options.active_expiry = false;
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

    /// [`CLIENTS`] clients on a one-thread runtime (as the server runs on
    /// two cores) in a thread of its own, each writing a key and waiting for
    /// its acknowledgement; the thread returns their outcomes, and
    /// `answered` counts the clients that have heard back.
    fn clients(db: &Arc<Db>, answered: &Arc<AtomicUsize>) -> JoinHandle<Vec<Result<(), String>>> {
        let (db, answered) = (db.clone(), answered.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                let writes: Vec<_> = (0..CLIENTS)
                    .map(|i| {
                        let (db, answered) = (db.clone(), answered.clone());
                        tokio::spawn(async move {
                            put(&db, &format!("k{i}"));
                            let outcome = acknowledge(&db).await;
                            answered.fetch_add(1, Ordering::SeqCst);
                            outcome
                        })
                    })
                    .collect();
                let mut outcomes = Vec::new();
                for write in writes {
                    outcomes.push(write.await.unwrap());
                }
                outcomes
            })
        })
    }

    #[test]
    fn one_fsync_acknowledges_every_client_ready_on_the_thread() {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let db = open(dir.path(), &disk);
        let syncs_before = disk.syncs();
        disk.hold_syncs();
        let answered = Arc::new(AtomicUsize::new(0));
        let clients = clients(&db, &answered);
        assert!(
            disk.wait_for_held_syncs(1, PATIENCE),
            "the fsync never started"
        );
        // Nobody hears back while the fsync is in flight.
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(answered.load(Ordering::SeqCst), 0);
        disk.release_syncs();
        assert_eq!(clients.join().unwrap(), vec![Ok(()); CLIENTS]);
        assert_eq!(disk.syncs() - syncs_before, 1, "one fsync for all");
        // Acknowledged means on disk: a power cut keeps every record.
        disk.cut_power(0).unwrap();
        drop(db);
        let db = open(dir.path(), &SimDisk::new());
        assert_eq!(db.engine().stored_len(), CLIENTS + 1);
    }

    #[test]
    fn a_failed_fsync_refuses_every_waiting_client_and_every_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let db = open(dir.path(), &disk);
        disk.fail_sync(1);
        let answered = Arc::new(AtomicUsize::new(0));
        let outcomes = clients(&db, &answered).join().unwrap();
        assert!(
            outcomes
                .iter()
                .all(|o| o.as_ref().is_err_and(|e| e.contains("fsync failed"))),
            "{outcomes:?}"
        );
        // The disk works again, but the failure stands: the log is not
        // repaired and fsynced on this front-end's behalf, and nothing more
        // is acknowledged.
        let syncs = disk.syncs();
        assert!(db.acknowledge().is_err_and(|e| e.contains("fsync failed")));
        assert_eq!(disk.syncs(), syncs, "no fsync after the failure");
    }
}

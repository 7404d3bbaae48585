//! The log's fsync runs without the lock writers need: writes reach the
//! operating system while an fsync is in flight (held open on the simulated
//! disk), only what was written before an fsync began is counted as durable,
//! and a failed fsync racing with writes loses nothing once repaired, under
//! `everysec` and `always`. Every case ends with a power cut and recovery.

use inmem::command::{Op, Reply};
use inmem::engine::{Engine, SystemClock};
use inmem::error::CommandError;
use inmem::persist::disk::SimDisk;
use inmem::persist::log::{Fsync, segment_name, temp_segment_name};
use inmem::persist::snapshot::{Step, StepHook};
use inmem::persist::{Persistence, Settings, snapshot};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Long enough for any step of a healthy run; a step blocked behind a held
/// fsync never finishes, so the bound only decides how soon that is reported.
const PATIENCE: Duration = Duration::from_secs(10);

/// An open database without background threads: the test decides every flush.
struct Open {
    persistence: Arc<Persistence>,
    engine: Arc<Engine>,
}

fn open(dir: &Path, fsync: Fsync, disk: Option<&SimDisk>) -> Open {
    let (db, warnings) = open_hooked(dir, fsync, disk, Arc::new(|_| Ok(())));
    assert!(warnings.is_empty(), "{warnings:?}");
    db
}

/// Opens with `hook` called between snapshot steps; returns recovery's warnings too.
fn open_hooked(
    dir: &Path,
    fsync: Fsync,
    disk: Option<&SimDisk>,
    hook: Arc<StepHook>,
) -> (Open, Vec<String>) {
    let mut settings = Settings {
        fsync,
        snapshot_interval: Duration::ZERO,
        compact_threshold: 0,
        hook,
        ..Settings::default()
    };
    if let Some(disk) = disk {
        settings.disk = Arc::new(disk.clone());
    }
    let persistence = Arc::new(Persistence::open(dir, settings).unwrap());
    let engine = Arc::new(Engine::with_journal(
        Arc::new(SystemClock),
        persistence.journal(),
    ));
    let report = persistence.recover(&engine).unwrap();
    (
        Open {
            persistence,
            engine,
        },
        report.warnings,
    )
}

fn put(db: &Open, key: &str, value: &str) -> Result<Reply, CommandError> {
    db.engine.run(
        "0",
        &Op::Put {
            key: key.as_bytes().to_vec(),
            value: value.as_bytes().to_vec(),
            ttl_ms: None,
        },
    )
}

fn get(db: &Open, key: &str) -> Option<String> {
    match db
        .engine
        .run("0", &Op::Get(key.as_bytes().to_vec()))
        .unwrap()
    {
        Reply::Value(v) => Some(String::from_utf8(v).unwrap()),
        Reply::Nil => None,
        other => panic!("unexpected reply {other:?}"),
    }
}

/// Runs `f` on another thread; its result, or `None` if it did not finish in time.
fn finishes<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(PATIENCE).ok()
}

/// Starts `flush(true)` on another thread and waits until its fsync is held.
fn fsync_in_flight(db: &Open, sim: &SimDisk) -> mpsc::Receiver<Result<(), String>> {
    sim.hold_syncs();
    let (tx, rx) = mpsc::channel();
    let persistence = db.persistence.clone();
    std::thread::spawn(move || {
        let result = persistence.log().flush(true);
        // Released before reporting, so a reopen finds the directory unlocked.
        drop(persistence);
        let _ = tx.send(result);
    });
    assert!(
        sim.wait_for_held_syncs(1, PATIENCE),
        "the fsync never started"
    );
    rx
}

/// Waits until `cond` holds (another thread is making progress), or panics.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// Cuts the power (keeping no torn bytes), then reopens on the real disk.
fn power_cut_and_reopen(dir: &Path, sim: &SimDisk, db: Open) -> Open {
    sim.cut_power(0).unwrap();
    drop(db);
    open(dir, Fsync::Always, None)
}

#[test]
fn writes_reach_the_os_while_a_background_fsync_runs() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Everysec, Some(&sim));
    let segment = dir.path().join(segment_name(1));
    put(&db, "a", "1").unwrap();
    db.persistence.log().flush(true).unwrap();
    put(&db, "b", "2").unwrap();
    db.persistence.acknowledge().unwrap();
    let background = fsync_in_flight(&db, &sim);

    // The fsync is in flight: a writer records and acknowledges (writes to
    // the operating system) without waiting for it.
    let before = sim.unsynced_len(&segment);
    let writer = {
        let (engine, persistence) = (db.engine.clone(), db.persistence.clone());
        finishes(move || {
            let reply = engine.run(
                "0",
                &Op::Put {
                    key: b"c".to_vec(),
                    value: b"3".to_vec(),
                    ttl_ms: None,
                },
            );
            (reply.is_ok(), persistence.acknowledge())
        })
    };
    assert_eq!(
        writer,
        Some((true, Ok(()))),
        "a writer waited for an fsync it does not need"
    );
    assert!(
        sim.unsynced_len(&segment) > before,
        "the acknowledged record did not reach the operating system"
    );
    assert_eq!(
        db.persistence.log().synced_seq(),
        1,
        "nothing new is durable yet"
    );

    sim.release_syncs();
    assert_eq!(background.recv_timeout(PATIENCE), Ok(Ok(())));
    // Only what was written before the fsync began counts as durable.
    assert_eq!(db.persistence.log().synced_seq(), 2);
    db.persistence.log().flush(true).unwrap();
    assert_eq!(db.persistence.log().synced_seq(), 3);

    let db = power_cut_and_reopen(dir.path(), &sim, db);
    assert_eq!(get(&db, "a").as_deref(), Some("1"));
    assert_eq!(get(&db, "b").as_deref(), Some("2"));
    assert_eq!(get(&db, "c").as_deref(), Some("3"));
}

#[test]
fn under_always_the_next_group_is_written_during_an_fsync_and_acknowledged_only_once_synced() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Always, Some(&sim));
    let segment = dir.path().join(segment_name(1));
    put(&db, "a", "1").unwrap();
    db.persistence.acknowledge().unwrap();
    put(&db, "b", "2").unwrap();
    let first = fsync_in_flight(&db, &sim);

    // The next group: recorded and handed to the operating system while the
    // first group's fsync runs, but not acknowledged before its own fsync.
    put(&db, "c", "3").unwrap();
    let before = sim.unsynced_len(&segment);
    let (tx, second) = mpsc::channel();
    {
        let persistence = db.persistence.clone();
        std::thread::spawn(move || {
            let result = (persistence.acknowledge(), persistence.log().synced_seq());
            drop(persistence);
            let _ = tx.send(result);
        });
    }
    eventually("the second group to be written", || {
        sim.unsynced_len(&segment) > before
    });
    assert!(second.try_recv().is_err(), "acknowledged before its fsync");

    sim.release_syncs();
    assert_eq!(first.recv_timeout(PATIENCE), Ok(Ok(())));
    let (result, synced) = second.recv_timeout(PATIENCE).unwrap();
    assert_eq!(result, Ok(()));
    assert!(synced >= 3, "acknowledged c while only {synced} was synced");

    // Acknowledged means on disk: a power cut right now loses nothing.
    let db = power_cut_and_reopen(dir.path(), &sim, db);
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        assert_eq!(get(&db, k).as_deref(), Some(v), "{k}");
    }
}

#[test]
fn a_failed_background_fsync_while_writes_continue_is_repaired_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Everysec, Some(&sim));
    put(&db, "a", "1").unwrap();
    db.persistence.log().flush(true).unwrap();
    put(&db, "b", "2").unwrap();
    db.persistence.acknowledge().unwrap();
    sim.fail_sync(1);
    let background = fsync_in_flight(&db, &sim);

    // Writes go on while the doomed fsync is in flight.
    put(&db, "c", "3").unwrap();
    let persistence = db.persistence.clone();
    assert_eq!(finishes(move || persistence.acknowledge()), Some(Ok(())));

    sim.release_syncs();
    let failed = background.recv_timeout(PATIENCE).unwrap().unwrap_err();
    assert!(failed.contains("fsync failed"), "{failed}");
    // Refused until the log works again, with the failure named.
    assert!(matches!(
        put(&db, "d", "4"),
        Err(CommandError::LogUnavailable(m)) if m.contains("fsync failed")
    ));
    assert_eq!(db.persistence.log().synced_seq(), 1);

    // The retry rewrites everything after the last good fsync (the failed
    // one may have dropped those pages) and syncs it.
    db.persistence.log().flush(true).unwrap();
    assert_eq!(db.persistence.log().failure(), None);
    assert_eq!(db.persistence.log().synced_seq(), 3);
    put(&db, "d", "4").unwrap();
    db.persistence.log().flush(true).unwrap();

    let db = power_cut_and_reopen(dir.path(), &sim, db);
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        assert_eq!(get(&db, k).as_deref(), Some(v), "{k}");
    }
}

#[test]
fn under_always_a_write_acknowledged_after_another_groups_failed_fsync_is_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Always, Some(&sim));
    put(&db, "a", "1").unwrap();
    db.persistence.acknowledge().unwrap();
    put(&db, "b", "2").unwrap();
    sim.fail_sync(1);
    let first = fsync_in_flight(&db, &sim);
    put(&db, "c", "3").unwrap();
    let (tx, second) = mpsc::channel();
    {
        let persistence = db.persistence.clone();
        std::thread::spawn(move || {
            let result = persistence.acknowledge();
            drop(persistence);
            let _ = tx.send(result);
        });
    }
    sim.release_syncs();
    // b's group is not acknowledged: its fsync failed.
    let failed = first.recv_timeout(PATIENCE).unwrap().unwrap_err();
    assert!(failed.contains("fsync failed"), "{failed}");
    // c's group is acknowledged only once a repair rewrote and synced
    // everything after the last good fsync (the failed one may have dropped it).
    assert_eq!(second.recv_timeout(PATIENCE), Ok(Ok(())));
    assert_eq!(db.persistence.log().synced_seq(), 3);
    assert_eq!(db.persistence.log().failure(), None);

    let db = power_cut_and_reopen(dir.path(), &sim, db);
    for (k, v) in [("a", "1"), ("b", "2"), ("c", "3")] {
        assert_eq!(get(&db, k).as_deref(), Some(v), "{k}");
    }
}

#[test]
fn megabytes_of_unacknowledged_records_reach_the_disk_in_order_even_after_a_failed_write() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Everysec, Some(&sim));
    let pad = "v".repeat(1000);
    // About 3.5 MB of records wait in memory, nobody acknowledging; later
    // records overwrite earlier ones, so only replaying them in order gives
    // the right values.
    for i in 0..3500 {
        put(&db, &format!("k{}", i % 500), &format!("{i}:{pad}")).unwrap();
    }
    // The segment header and the first megabyte are written, the next write fails.
    sim.fail_write(3);
    assert!(db.persistence.log().flush(false).is_err());
    sim.heal();
    db.persistence.log().flush(true).unwrap();
    assert_eq!(
        sim.unsynced_len(&dir.path().join(segment_name(1))),
        0,
        "everything is synced"
    );
    let db = power_cut_and_reopen(dir.path(), &sim, db);
    for j in 0..500 {
        assert_eq!(
            get(&db, &format!("k{j}")),
            Some(format!("{}:{pad}", 3000 + j))
        );
    }
}

/// Writes about `megabytes` MB of records and hands them to the OS, unsynced.
fn unsynced_megabytes(db: &Open, megabytes: usize) {
    let pad = "v".repeat(1000);
    for i in 0..megabytes * 1000 {
        put(db, &format!("k{i}"), &pad).unwrap();
    }
    db.persistence.acknowledge().unwrap();
}

#[test]
fn a_snapshot_leaves_the_old_segment_fsynced() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Everysec, Some(&sim));
    let segment = dir.path().join(segment_name(1));
    unsynced_megabytes(&db, 2);
    assert!(sim.unsynced_len(&segment) > 1 << 20);
    db.persistence.save(&db.engine).unwrap();
    // The snapshot switched segments first, fsyncing the old one on its own
    // thread; the next segment is named and open.
    assert_eq!(sim.unsynced_len(&segment), 0);
    assert!(dir.path().join(segment_name(2)).exists());
    assert!(!dir.path().join(temp_segment_name(2)).exists());
    put(&db, "after", "1").unwrap();
    db.persistence.log().flush(true).unwrap();
    let db = power_cut_and_reopen(dir.path(), &sim, db);
    assert_eq!(get(&db, "after").as_deref(), Some("1"));
    assert!(get(&db, "k1999").is_some());
}

#[test]
fn a_failed_fsync_of_the_old_segment_stops_the_snapshot_and_refuses_writes_until_repaired() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Everysec, Some(&sim));
    unsynced_megabytes(&db, 2);
    // Sync 1 is the next segment's header, sync 2 the old segment.
    sim.fail_sync(2);
    let e = db.persistence.save(&db.engine).unwrap_err();
    assert!(
        e.contains("no snapshot while the log fails") && e.contains("fsync failed"),
        "{e}"
    );
    assert!(!dir.path().join(snapshot::FILE_NAME).exists());
    assert!(db.persistence.log().failure().is_some());
    // The next segment keeps its temporary name until the old one is durable.
    assert!(dir.path().join(temp_segment_name(2)).exists());
    assert!(!dir.path().join(segment_name(2)).exists());
    assert!(matches!(
        put(&db, "refused", "1"),
        Err(CommandError::LogUnavailable(_))
    ));
    sim.heal();
    db.persistence.log().flush(true).unwrap();
    assert!(dir.path().join(segment_name(2)).exists());
    assert!(!dir.path().join(temp_segment_name(2)).exists());
    put(&db, "accepted", "1").unwrap();
    db.persistence.save(&db.engine).unwrap();
    let db = power_cut_and_reopen(dir.path(), &sim, db);
    assert_eq!(get(&db, "accepted").as_deref(), Some("1"));
    assert_eq!(get(&db, "refused"), None);
    assert!(get(&db, "k1999").is_some());
}

#[test]
fn a_failure_to_prepare_the_next_segment_stops_the_snapshot_only() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let db = open(dir.path(), Fsync::Everysec, Some(&sim));
    put(&db, "before", "1").unwrap();
    db.persistence.acknowledge().unwrap();
    sim.fail_sync(1);
    let e = db.persistence.save(&db.engine).unwrap_err();
    assert!(e.contains("cannot start"), "{e}");
    assert!(db.persistence.log().failure().is_none());
    assert!(!dir.path().join(temp_segment_name(2)).exists());
    put(&db, "after", "1").unwrap();
    db.persistence.save(&db.engine).unwrap();
    let db = power_cut_and_reopen(dir.path(), &sim, db);
    assert_eq!(get(&db, "before").as_deref(), Some("1"));
    assert_eq!(get(&db, "after").as_deref(), Some("1"));
}

/// How a power cut in the middle of a segment switch ends.
#[derive(Debug, Clone, Copy, PartialEq)]
enum SwitchCut {
    /// Nothing unsynced survives: the old segment loses its tail.
    TailLost,
    /// Every written byte happens to reach the disk: the new segment is adopted.
    AllKept,
    /// As `AllKept`, but the old segment's last record is torn after all:
    /// the new segment's records must not be replayed after the hole.
    OldTorn,
}

/// Starts a save that stops with the old segment's fsync held, acknowledges
/// a write meanwhile, cuts the power there and reopens.
fn power_cut_during_a_switch(cut: SwitchCut) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = SimDisk::new();
    let armed = Arc::new(AtomicBool::new(false));
    let hook: Arc<StepHook> = {
        let (sim, armed) = (sim.clone(), armed.clone());
        Arc::new(move |step| {
            if step == Step::SegmentSwitched && armed.swap(false, Ordering::SeqCst) {
                sim.hold_syncs();
            }
            Ok(())
        })
    };
    let (db, _) = open_hooked(d, Fsync::Everysec, Some(&sim), hook);
    put(&db, "synced", "1").unwrap();
    db.persistence.log().flush(true).unwrap();
    put(&db, "tail", "2").unwrap();
    db.persistence.acknowledge().unwrap();
    armed.store(true, Ordering::SeqCst);
    let saving = {
        let (persistence, engine) = (db.persistence.clone(), db.engine.clone());
        std::thread::spawn(move || persistence.save(&engine).map(|_| ()))
    };
    assert!(
        sim.wait_for_held_syncs(1, PATIENCE),
        "the old segment's fsync never started"
    );
    let acknowledged = {
        let (persistence, engine) = (db.persistence.clone(), db.engine.clone());
        finishes(move || {
            let op = Op::Put {
                key: b"during".to_vec(),
                value: b"3".to_vec(),
                ttl_ms: None,
            };
            engine.run("0", &op).map_err(|e| e.to_string())?;
            persistence.acknowledge()
        })
    };
    assert_eq!(
        acknowledged,
        Some(Ok(())),
        "{cut:?}: the acknowledgement waited for the switch"
    );
    let temp = d.join(temp_segment_name(2));
    assert!(
        sim.unsynced_len(&temp) > 0,
        "{cut:?}: not in the new segment"
    );
    assert!(sim.unsynced_len(&d.join(segment_name(1))) > 0, "{cut:?}");
    sim.cut_power(if cut == SwitchCut::TailLost {
        0
    } else {
        usize::MAX
    })
    .unwrap();
    sim.release_syncs();
    assert!(
        saving.join().unwrap().is_err(),
        "{cut:?}: the power was off"
    );
    drop(db);
    if cut == SwitchCut::OldTorn {
        let old = d.join(segment_name(1));
        let len = std::fs::metadata(&old).unwrap().len();
        let file = std::fs::OpenOptions::new().write(true).open(&old).unwrap();
        file.set_len(len - 1).unwrap();
    }
    let (db, warnings) = open_hooked(d, Fsync::Always, None, Arc::new(|_| Ok(())));
    assert_eq!(get(&db, "synced").as_deref(), Some("1"), "{cut:?}");
    assert!(!temp.exists(), "{cut:?}");
    let kept = cut == SwitchCut::AllKept;
    assert_eq!(get(&db, "tail").is_some(), kept, "{cut:?}");
    assert_eq!(get(&db, "during").is_some(), kept, "{cut:?}");
    assert_eq!(d.join(segment_name(2)).exists(), kept, "{cut:?}");
    match cut {
        SwitchCut::AllKept | SwitchCut::TailLost => assert!(warnings.is_empty(), "{warnings:?}"),
        SwitchCut::OldTorn => {
            assert_eq!(warnings.len(), 2, "{warnings:?}");
            assert!(warnings[0].contains("cut a torn record"), "{warnings:?}");
            assert!(warnings[1].contains("segment switch"), "{warnings:?}");
        }
    }
    // Writing goes on after whatever recovery kept.
    put(&db, "next", "4").unwrap();
    db.persistence.acknowledge().unwrap();
    drop(db);
    let db = open(d, Fsync::Always, None);
    assert_eq!(get(&db, "next").as_deref(), Some("4"), "{cut:?}");
    assert_eq!(get(&db, "during").is_some(), kept, "{cut:?}");
}

#[test]
fn an_acknowledgement_during_a_segment_switch_waits_for_no_fsync_and_a_power_cut_keeps_a_prefix() {
    for cut in [SwitchCut::TailLost, SwitchCut::AllKept, SwitchCut::OldTorn] {
        power_cut_during_a_switch(cut);
    }
}

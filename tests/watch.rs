//! WATCH and EXEC in the engine: which changes to a watched key abort an EXEC
//! (checked against redis-server 7.0.15), EXEC's per-command errors, capacity,
//! optimistic increments from racing threads, and one log record per EXEC,
//! shown by recovery and by a power cut at every byte of that record.

use inmem::command::redis::global::GlobalOp;
use inmem::command::{Command, Op, Reply};
use inmem::engine::{Engine, Eviction, ExecOp, Limits, ManualClock, Mutation, WatchSet};
use inmem::error::CommandError;
use inmem::persist::disk::SimDisk;
use inmem::persist::log::Fsync;
use inmem::{Db, Options};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const START_MS: u64 = 1_700_000_000_000;

fn fresh() -> (Engine, ManualClock) {
    let clock = ManualClock::new(START_MS);
    (Engine::new(Arc::new(clock.clone())), clock)
}

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.into(),
        value: value.into(),
        ttl_ms: None,
    }
}

fn put_ttl(key: &str, value: &str, ttl_ms: i64) -> Op {
    Op::Put {
        key: key.into(),
        value: value.into(),
        ttl_ms: Some(ttl_ms),
    }
}

fn get(engine: &Engine, namespace: &str, key: &str) -> Option<String> {
    match engine.run(namespace, &Op::Get(key.into())).unwrap() {
        Reply::Value(v) => Some(String::from_utf8(v).unwrap()),
        Reply::Nil => None,
        other => panic!("{other:?}"),
    }
}

fn item(namespace: &str, op: Op) -> (String, ExecOp) {
    (namespace.to_string(), ExecOp::Op(op))
}

fn global(namespace: &str, op: GlobalOp) -> (String, ExecOp) {
    let queued = ExecOp::from_command(Command::Global(op)).unwrap();
    (namespace.to_string(), queued)
}

#[test]
fn only_keyspace_and_cross_namespace_commands_are_queueable() {
    assert!(matches!(
        ExecOp::from_command(Command::Op(Op::Size)),
        Ok(ExecOp::Op(Op::Size))
    ));
    assert!(matches!(
        ExecOp::from_command(Command::Global(GlobalOp::FlushAll)),
        Ok(ExecOp::Global(GlobalOp::FlushAll))
    ));
    assert!(matches!(
        ExecOp::from_command(Command::Begin),
        Err(Command::Begin)
    ));
}

/// Watches `k` in namespace 0, lets `meanwhile` run, then EXECs `SET done 1`:
/// true when the EXEC ran, false when it aborted.
fn exec_after(engine: &Engine, setup: &[Op], meanwhile: impl FnOnce(&Engine)) -> bool {
    for op in setup {
        engine.run("0", op).unwrap();
    }
    let mut watches = WatchSet::new();
    engine.watch(&mut watches, "0", b"k");
    meanwhile(engine);
    let outcome = engine
        .run_exec(&mut watches, &[item("0", put("done", "1"))])
        .unwrap();
    assert!(watches.is_empty(), "EXEC unwatches");
    assert_eq!(engine.watched_keys(), 0);
    let ran = outcome.is_some();
    assert_eq!(
        get(engine, "0", "done").is_some(),
        ran,
        "aborted means nothing ran"
    );
    ran
}

#[test]
fn a_write_by_another_connection_aborts_and_nothing_runs() {
    let (engine, _) = fresh();
    assert!(!exec_after(&engine, &[put("k", "1")], |e| {
        e.run("0", &put("k", "2")).unwrap();
    }));
    // Creating a key that was missing when watched is a change too.
    assert!(!exec_after(
        &engine,
        &[Op::Delete(vec![b"k".to_vec()])],
        |e| {
            e.run("0", &put("k", "new")).unwrap();
        }
    ));
    // So are incr, expire, persist and delete.
    for change in [
        Op::Incr {
            key: b"k".to_vec(),
            by: 1,
        },
        Op::Expire {
            key: b"k".to_vec(),
            ttl_ms: 10_000,
        },
        Op::Delete(vec![b"k".to_vec()]),
    ] {
        let (engine, _) = fresh();
        assert!(!exec_after(&engine, &[put("k", "1")], |e| {
            e.run("0", &change).unwrap();
        }));
    }
    let (engine, _) = fresh();
    assert!(!exec_after(&engine, &[put_ttl("k", "1", 60_000)], |e| {
        e.run("0", &Op::Persist(b"k".to_vec())).unwrap();
    }));
}

#[test]
fn writes_to_other_keys_or_namespaces_and_reads_do_not_abort() {
    let (engine, _) = fresh();
    assert!(exec_after(&engine, &[put("k", "1")], |e| {
        e.run("0", &put("other", "2")).unwrap();
        e.run("1", &put("k", "2")).unwrap();
        e.run("0", &Op::Get(b"k".to_vec())).unwrap();
        // A write that changes nothing (deleting a missing key) is no change.
        e.run("0", &Op::Delete(vec![b"nothing".to_vec()])).unwrap();
    }));
}

#[test]
fn the_watching_connections_own_write_aborts_too() {
    // As in Redis: WATCH k; SET k 2; MULTI; ...; EXEC answers nil.
    let (engine, _) = fresh();
    engine.run("0", &put("k", "1")).unwrap();
    let mut watches = WatchSet::new();
    engine.watch(&mut watches, "0", b"k");
    engine.run("0", &put("k", "2")).unwrap();
    let outcome = engine
        .run_exec(&mut watches, &[item("0", Op::Get(b"k".to_vec()))])
        .unwrap();
    assert_eq!(outcome, None);
}

#[test]
fn expiry_of_a_watched_key_aborts_even_before_it_is_purged() {
    let (engine, clock) = fresh();
    assert!(!exec_after(&engine, &[put_ttl("k", "1", 1000)], |_| {
        clock.advance(1000);
    }));
    let (engine, clock) = fresh();
    assert!(!exec_after(&engine, &[put_ttl("k", "1", 1000)], |e| {
        clock.advance(5000);
        assert_eq!(e.purge_expired(100), 1);
    }));
    // Not yet expired at EXEC: runs.
    let (engine, clock) = fresh();
    assert!(exec_after(&engine, &[put_ttl("k", "1", 1000)], |_| {
        clock.advance(999);
    }));
}

#[test]
fn a_key_already_expired_when_watched_changes_nothing_by_being_removed() {
    // redis-server 7.0.15: SET ex 1 PX 100; (wait); WATCH ex; FLUSHALL; EXEC runs.
    let (engine, clock) = fresh();
    engine.run("0", &put_ttl("k", "1", 100)).unwrap();
    clock.advance(300);
    assert!(exec_after(&engine, &[], |e| {
        e.run_global("1", &GlobalOp::FlushAll).unwrap();
    }));
    let (engine, clock) = fresh();
    engine.run("0", &put_ttl("k", "1", 100)).unwrap();
    clock.advance(300);
    assert!(exec_after(&engine, &[], |e| {
        assert_eq!(e.purge_expired(10), 1);
        e.run("0", &Op::Clear).unwrap();
    }));
}

/// Something another connection does between WATCH and EXEC.
type Action = dyn Fn(&Engine);

#[test]
fn flushdb_flushall_and_swapdb_abort_when_they_touch_the_key() {
    let flushdb = |e: &Engine| {
        e.run("0", &Op::Clear).unwrap();
    };
    let flushall = |e: &Engine| {
        e.run_global("5", &GlobalOp::FlushAll).unwrap();
    };
    let swapdb = |e: &Engine| {
        e.run_global("5", &GlobalOp::Swap("1".into(), "0".into()))
            .unwrap();
    };
    let actions: [(&str, &Action); 3] = [
        ("flushdb", &flushdb),
        ("flushall", &flushall),
        ("swapdb", &swapdb),
    ];
    for (name, action) in actions {
        // The watched key exists: removed (or swapped away).
        let (engine, _) = fresh();
        assert!(!exec_after(&engine, &[put("k", "1")], action), "{name}");
        // Neither namespace holds it: nothing changes for it, EXEC runs
        // (redis-server 7.0.15 agrees for FLUSHALL and SWAPDB).
        let (engine, _) = fresh();
        engine.run("1", &put("unrelated", "x")).unwrap();
        assert!(exec_after(&engine, &[], action), "{name}");
    }
    // SWAPDB brings in the key from the other namespace: a change.
    let (engine, _) = fresh();
    engine.run("1", &put("k", "from 1")).unwrap();
    assert!(!exec_after(&engine, &[], swapdb));
    // Swapping two other namespaces leaves it alone.
    let (engine, _) = fresh();
    engine.run("2", &put("k", "x")).unwrap();
    assert!(exec_after(&engine, &[put("k", "1")], |e| {
        e.run_global("0", &GlobalOp::Swap("2".into(), "3".into()))
            .unwrap();
    }));
}

#[test]
fn move_copy_and_eviction_of_the_key_abort() {
    let (engine, _) = fresh();
    assert!(!exec_after(&engine, &[put("k", "1")], |e| {
        let moved = GlobalOp::Move {
            key: b"k".to_vec(),
            to: "1".into(),
        };
        assert_eq!(e.run_global("0", &moved), Ok(Reply::Bool(true)));
    }));
    let (engine, _) = fresh();
    assert!(!exec_after(&engine, &[put("src", "1")], |e| {
        let copy = GlobalOp::Copy {
            source: b"src".to_vec(),
            destination: b"k".to_vec(),
            to: None,
            replace: false,
        };
        assert_eq!(e.run_global("0", &copy), Ok(Reply::Bool(true)));
    }));
    // A MOVE into namespace 0 of a key named k is a write to the watched key.
    let (engine, _) = fresh();
    engine.run("1", &put("k", "x")).unwrap();
    assert!(!exec_after(&engine, &[], |e| {
        let moved = GlobalOp::Move {
            key: b"k".to_vec(),
            to: "0".into(),
        };
        assert_eq!(e.run_global("1", &moved), Ok(Reply::Bool(true)));
    }));
    // Evicted to make room for another key.
    let (engine, _) = fresh();
    engine.set_limits(Limits {
        max_keys: Some(2),
        maxmemory: None,
        policy: Eviction::AllkeysLru,
    });
    assert!(!exec_after(
        &engine,
        &[put("k", "1"), put("fresh", "2")],
        |e| {
            e.run("0", &Op::Get(b"fresh".to_vec())).unwrap();
            e.run("0", &put("newcomer", "3")).unwrap();
            assert_eq!(get(e, "0", "k"), None, "k was evicted");
        }
    ));
}

#[test]
fn unwatch_and_dropping_the_set_forget_the_keys() {
    let (engine, _) = fresh();
    engine.run("0", &put("k", "1")).unwrap();
    let mut watches = WatchSet::new();
    engine.watch(&mut watches, "0", b"k");
    engine.watch(&mut watches, "0", b"k");
    engine.watch(&mut watches, "1", b"k");
    assert_eq!((watches.len(), engine.watched_keys()), (2, 2));
    assert!(watches.contains("1", b"k") && !watches.contains("2", b"k"));
    watches.clear();
    assert_eq!((watches.len(), engine.watched_keys()), (0, 0));
    engine.run("0", &put("k", "2")).unwrap();
    let outcome = engine
        .run_exec(&mut watches, &[item("0", Op::Get(b"k".to_vec()))])
        .unwrap();
    assert_eq!(outcome, Some(vec![Ok(Reply::Value(b"2".to_vec()))]));
    // The set can be used again after UNWATCH, and dropping it unwatches.
    let mut other = WatchSet::new();
    engine.watch(&mut watches, "0", b"k");
    engine.watch(&mut other, "0", b"k");
    assert_eq!(engine.watched_keys(), 2);
    drop(other);
    assert_eq!(engine.watched_keys(), 1);
    engine.run("0", &put("k", "3")).unwrap();
    assert_eq!(engine.run_exec(&mut watches, &[]).unwrap(), None);
}

#[test]
fn a_runtime_error_does_not_stop_the_commands_after_it() {
    // redis-server 7.0.15: SET s abc; MULTI; SET x 1; INCR s; SET y 2; EXEC
    // answers [OK, ERR value is not an integer or out of range, OK].
    let (engine, _) = fresh();
    engine.run("0", &put("s", "abc")).unwrap();
    let mut watches = WatchSet::new();
    let results = engine
        .run_exec(
            &mut watches,
            &[
                item("0", put("x", "1")),
                item(
                    "0",
                    Op::Incr {
                        key: b"s".to_vec(),
                        by: 1,
                    },
                ),
                global("0", GlobalOp::Swap("0".into(), "16".into())),
                item("0", put("y", "2")),
            ],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        results,
        vec![
            Ok(Reply::Ok),
            Err(CommandError::NotAnInteger),
            Ok(Reply::Ok),
            Ok(Reply::Ok)
        ]
    );
    // The swap with namespace "16" (only the Redis dialect limits indexes)
    // ran between x and y: x went to 16, y was written to the emptied 0.
    assert_eq!(get(&engine, "16", "x").as_deref(), Some("1"));
    assert_eq!(get(&engine, "16", "s").as_deref(), Some("abc"));
    assert_eq!(get(&engine, "0", "y").as_deref(), Some("2"));
    assert_eq!(get(&engine, "0", "x"), None);
}

#[test]
fn later_commands_see_earlier_ones_across_namespaces() {
    let (engine, _) = fresh();
    engine.run("0", &put("k", "1")).unwrap();
    let mut watches = WatchSet::new();
    engine.watch(&mut watches, "0", b"k");
    let moved = GlobalOp::Move {
        key: b"k".to_vec(),
        to: "1".into(),
    };
    let results = engine
        .run_exec(
            &mut watches,
            &[
                global("0", moved.clone()),
                item("1", Op::Get(b"k".to_vec())),
                item(
                    "1",
                    Op::Incr {
                        key: b"k".to_vec(),
                        by: 41,
                    },
                ),
                global("0", moved),
                item("0", Op::Exists(b"k".to_vec())),
            ],
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        results,
        vec![
            Ok(Reply::Bool(true)),
            Ok(Reply::Value(b"1".to_vec())),
            Ok(Reply::Int(42)),
            Ok(Reply::Bool(false)),
            Ok(Reply::Bool(false)),
        ]
    );
}

#[test]
fn exec_is_refused_whole_when_capacity_leaves_no_room() {
    let (engine, _) = fresh();
    engine.set_limits(Limits {
        max_keys: Some(1),
        maxmemory: None,
        policy: Eviction::Noeviction,
    });
    engine.run("0", &put("a", "1")).unwrap();
    let mut watches = WatchSet::new();
    engine.watch(&mut watches, "0", b"a");
    let refused = engine.run_exec(
        &mut watches,
        &[item("0", put("x", "1")), item("0", Op::Get(b"a".to_vec()))],
    );
    assert!(
        matches!(refused, Err(CommandError::OutOfMemory(_))),
        "{refused:?}"
    );
    assert!(watches.is_empty());
    assert_eq!(get(&engine, "0", "x"), None);
    // A read-only block needs no room.
    let ran = engine
        .run_exec(&mut watches, &[item("0", Op::Get(b"a".to_vec()))])
        .unwrap();
    assert_eq!(ran, Some(vec![Ok(Reply::Value(b"1".to_vec()))]));
}

#[test]
fn optimistic_increments_from_racing_threads_lose_nothing() {
    let engine = Arc::new(Engine::new(Arc::new(ManualClock::new(START_MS))));
    engine.run("0", &put("counter", "0")).unwrap();
    const THREADS: usize = 4;
    const EACH: usize = 200;
    let aborted: usize = (0..THREADS)
        .map(|_| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut aborted = 0;
                let mut watches = WatchSet::new();
                for _ in 0..EACH {
                    loop {
                        // WATCH counter; GET counter; MULTI; SET counter n+1; EXEC
                        engine.watch(&mut watches, "0", b"counter");
                        let n: u64 = get(&engine, "0", "counter").unwrap().parse().unwrap();
                        // Give the other threads a chance to get in between.
                        std::thread::yield_now();
                        let set = item("0", put("counter", &(n + 1).to_string()));
                        match engine.run_exec(&mut watches, &[set]).unwrap() {
                            Some(_) => break,
                            None => aborted += 1,
                        }
                    }
                }
                aborted
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .sum();
    assert_eq!(
        get(&engine, "0", "counter"),
        Some((THREADS * EACH).to_string()),
        "{aborted} EXECs aborted and were retried"
    );
    assert_eq!(engine.watched_keys(), 0);
}

// ---------------------------------------------------------------------------
// One log record per EXEC.

fn options(dir: &Path, clock: &ManualClock) -> Options {
    let mut options = Options::new(dir);
    options.clock = Arc::new(clock.clone());
    options.active_expiry = false;
    options.persistence.snapshot_interval = Duration::ZERO;
    options.persistence.compact_threshold = 0;
    options.command_log = None;
    options
}

/// Every live key of namespaces 0, 1 and 2 as (namespace, key, value, deadline).
fn all(db: &Db) -> Vec<(String, String, String, Option<u64>)> {
    let mut out = Vec::new();
    for ns in ["0", "1", "2"] {
        for (key, entry) in db.engine().entries(ns) {
            out.push((
                ns.to_string(),
                String::from_utf8(key).unwrap(),
                String::from_utf8(entry.value.to_vec()).unwrap(),
                entry.expires_at,
            ));
        }
    }
    out
}

/// An EXEC changing three namespaces (and swapping two).
fn spanning_exec() -> Vec<(String, ExecOp)> {
    vec![
        item("0", put("a", "new")),
        item("1", put("b", "new")),
        global(
            "0",
            GlobalOp::Move {
                key: b"m".to_vec(),
                to: "2".into(),
            },
        ),
        item(
            "1",
            Op::Incr {
                key: b"n".to_vec(),
                by: 5,
            },
        ),
        global("0", GlobalOp::Swap("1".into(), "2".into())),
        item("2", Op::Delete(vec![b"gone".to_vec()])),
    ]
}

fn seed(db: &Db) {
    let engine = db.engine();
    engine
        .commit(
            "0",
            vec![
                Mutation::put(&b"a"[..], &b"old"[..], None),
                Mutation::put(&b"m"[..], &b"moved"[..], Some(START_MS + 50_000)),
            ],
        )
        .unwrap();
    engine
        .commit(
            "1",
            vec![
                Mutation::put(&b"n"[..], &b"1"[..], None),
                Mutation::put(&b"gone"[..], &b"x"[..], None),
            ],
        )
        .unwrap();
}

#[test]
fn an_exec_across_namespaces_is_one_record_that_recovery_replays() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(options(dir.path(), &clock)).unwrap();
    seed(&db);
    let before = db.persistence().log().records();
    let results = db
        .engine()
        .run_exec(&mut WatchSet::new(), &spanning_exec())
        .unwrap()
        .unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(db.persistence().log().records(), before + 1, "one record");
    let expected = all(&db);
    assert_eq!(
        expected,
        vec![
            ("0".into(), "a".into(), "new".into(), None),
            (
                "1".into(),
                "m".into(),
                "moved".into(),
                Some(START_MS + 50_000)
            ),
            ("2".into(), "b".into(), "new".into(), None),
            ("2".into(), "n".into(), "6".into(), None),
        ]
    );
    db.close().unwrap();
    drop(db);
    let db = Db::open(options(dir.path(), &clock)).unwrap();
    assert_eq!(all(&db), expected);
    assert_eq!(db.recovery().records, 3, "two seeds and the EXEC");
}

#[test]
fn a_power_cut_inside_an_exec_record_applies_all_of_it_or_none() {
    let clock = ManualClock::new(START_MS);
    // Seeds acknowledged under `always`, then the EXEC's record handed to the
    // OS but not synced when the power goes, `torn` bytes of it surviving.
    let run = |torn: usize| {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let mut opts = options(dir.path(), &clock);
        opts.persistence.fsync = Fsync::Always;
        opts.persistence.disk = Arc::new(disk.clone());
        let db = Db::open(opts).unwrap();
        seed(&db);
        db.acknowledge().unwrap();
        let acknowledged = all(&db);
        let size = segment_len(dir.path());
        db.engine()
            .run_exec(&mut WatchSet::new(), &spanning_exec())
            .unwrap()
            .unwrap();
        let after = all(&db);
        db.persistence().log().flush(false).unwrap();
        disk.cut_power(torn).unwrap();
        db.close().unwrap();
        drop(db);
        (dir, acknowledged, after, size)
    };
    let (dir, _, after, size) = run(usize::MAX);
    let record = segment_len(dir.path()) - size;
    let db = Db::open(options(dir.path(), &clock)).unwrap();
    assert_eq!(all(&db), after, "the whole record survived");
    drop(db);
    assert!(record > 100, "{record}");
    for torn in 0..record as usize {
        let (dir, acknowledged, after, _) = run(torn);
        assert_ne!(acknowledged, after);
        let db = Db::open(options(dir.path(), &clock)).unwrap();
        assert_eq!(all(&db), acknowledged, "torn after {torn} bytes");
        assert_eq!(db.recovery().warnings.len(), usize::from(torn > 0));
    }
}

fn segment_len(dir: &Path) -> u64 {
    std::fs::metadata(dir.join("log-0000000001.aof"))
        .map(|m| m.len())
        .unwrap_or(0)
}

//! Commands across namespaces (Redis's MOVE, COPY, SWAPDB, FLUSHALL): their
//! semantics as redis-server 7.0.15 shows them, through the engine, a session
//! and the binary; one log record each, replayed by recovery; all or nothing
//! under a power cut at every byte of that record and under `kill -9`; and
//! snapshots taken while namespaces are swapped or flushed.

use assert_cmd::Command;
use inmem::command::redis::global::GlobalOp;
use inmem::command::{Op, Reply, grammar};
use inmem::engine::{Engine, EntryRef, ManualClock, Mutation, PartitionSink};
use inmem::error::{CommandError, OpenError};
use inmem::persist::disk::SimDisk;
use inmem::persist::lock::LockError;
use inmem::persist::log::Fsync;
use inmem::persist::snapshot;
use inmem::session::Session;
use inmem::{Db, Options};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const START_MS: u64 = 1_700_000_000_000;
const SEGMENT_1: &str = "log-0000000001.aof";

fn fresh() -> (Engine, ManualClock) {
    let clock = ManualClock::new(START_MS);
    (Engine::new(Arc::new(clock.clone())), clock)
}

fn put(key: &str, value: &str, ttl_ms: Option<i64>) -> Op {
    Op::Put {
        key: key.into(),
        value: value.into(),
        ttl_ms,
    }
}

fn moved(key: &str, to: &str) -> GlobalOp {
    GlobalOp::Move {
        key: key.into(),
        to: to.into(),
    }
}

fn copy(source: &str, destination: &str, to: Option<&str>, replace: bool) -> GlobalOp {
    GlobalOp::Copy {
        source: source.into(),
        destination: destination.into(),
        to: to.map(String::from),
        replace,
    }
}

fn swap(a: &str, b: &str) -> GlobalOp {
    GlobalOp::Swap(a.into(), b.into())
}

/// A namespace's live keys: key -> (value, deadline).
fn keys_of(engine: &Engine, namespace: &str) -> BTreeMap<String, (String, Option<u64>)> {
    engine
        .entries(namespace)
        .into_iter()
        .map(|(k, e)| {
            (
                String::from_utf8(k).unwrap(),
                (String::from_utf8(e.value.to_vec()).unwrap(), e.expires_at),
            )
        })
        .collect()
}

fn entry(value: &str, at: Option<u64>) -> (String, Option<u64>) {
    (value.to_string(), at)
}

// ---------------------------------------------------------------------------
// Semantics.

#[test]
fn move_carries_the_deadline_and_never_overwrites() {
    let (engine, clock) = fresh();
    engine.run("0", &put("a", "1", Some(100_000))).unwrap();
    engine.run("0", &put("b", "0's", None)).unwrap();
    engine.run("1", &put("b", "1's", None)).unwrap();
    // The same database is an error even for a missing key (checked first).
    for key in ["a", "missing"] {
        assert_eq!(
            engine.run_global("0", &moved(key, "0")),
            Err(CommandError::SameObject)
        );
    }
    assert_eq!(
        engine.run_global("0", &moved("a", "1")),
        Ok(Reply::Bool(true))
    );
    assert_eq!(keys_of(&engine, "0").get("a"), None);
    assert_eq!(
        keys_of(&engine, "1").get("a"),
        Some(&entry("1", Some(START_MS + 100_000)))
    );
    assert_eq!(
        engine.run_global("0", &moved("missing", "1")),
        Ok(Reply::Bool(false))
    );
    // Present in the target: nothing moves.
    assert_eq!(
        engine.run_global("0", &moved("b", "1")),
        Ok(Reply::Bool(false))
    );
    assert_eq!(keys_of(&engine, "0")["b"], entry("0's", None));
    assert_eq!(keys_of(&engine, "1")["b"], entry("1's", None));
    // An expired key is missing, as source and as target.
    engine.run("0", &put("old", "x", Some(10))).unwrap();
    engine.run("1", &put("b2", "stale", Some(10))).unwrap();
    engine.run("0", &put("b2", "fresh", None)).unwrap();
    clock.advance(10);
    assert_eq!(
        engine.run_global("0", &moved("old", "1")),
        Ok(Reply::Bool(false))
    );
    assert_eq!(
        engine.run_global("0", &moved("b2", "1")),
        Ok(Reply::Bool(true))
    );
    assert_eq!(keys_of(&engine, "1")["b2"], entry("fresh", None));
    // Any namespace can be the source (the session's current one).
    assert_eq!(
        engine.run_global("1", &moved("b2", "app")),
        Ok(Reply::Bool(true))
    );
    assert_eq!(keys_of(&engine, "app")["b2"], entry("fresh", None));
}

#[test]
fn copy_within_and_across_namespaces_keeps_the_deadline() {
    let (engine, _) = fresh();
    engine.run("0", &put("a", "1", Some(5_000))).unwrap();
    assert_eq!(
        engine.run_global("0", &copy("a", "a", None, false)),
        Err(CommandError::SameObject)
    );
    assert_eq!(
        engine.run_global("0", &copy("a", "a", Some("0"), true)),
        Err(CommandError::SameObject)
    );
    assert_eq!(
        engine.run_global("0", &copy("missing", "missing", None, false)),
        Err(CommandError::SameObject)
    );
    assert_eq!(
        engine.run_global("0", &copy("a", "b", None, false)),
        Ok(Reply::Bool(true))
    );
    let at = Some(START_MS + 5_000);
    assert_eq!(keys_of(&engine, "0")["b"], entry("1", at));
    assert_eq!(
        engine.run_global("0", &copy("a", "a", Some("1"), false)),
        Ok(Reply::Bool(true))
    );
    assert_eq!(keys_of(&engine, "1")["a"], entry("1", at));
    // An existing destination is kept unless REPLACE.
    engine.run("0", &put("a", "2", None)).unwrap();
    assert_eq!(
        engine.run_global("0", &copy("a", "b", None, false)),
        Ok(Reply::Bool(false))
    );
    assert_eq!(keys_of(&engine, "0")["b"], entry("1", at));
    assert_eq!(
        engine.run_global("0", &copy("a", "b", None, true)),
        Ok(Reply::Bool(true))
    );
    assert_eq!(keys_of(&engine, "0")["b"], entry("2", None));
    assert_eq!(
        engine.run_global("0", &copy("missing", "b", None, true)),
        Ok(Reply::Bool(false))
    );
    assert_eq!(
        keys_of(&engine, "0")["a"],
        entry("2", None),
        "source untouched"
    );
}

#[test]
fn swapdb_exchanges_whole_namespaces_and_flushall_empties_them_all() {
    let (engine, _) = fresh();
    engine.run("0", &put("a", "0", None)).unwrap();
    engine.run("0", &put("t", "0", Some(60_000))).unwrap();
    engine.run("1", &put("b", "1", None)).unwrap();
    let (zero, one) = (keys_of(&engine, "0"), keys_of(&engine, "1"));
    assert_eq!(engine.run_global("7", &swap("0", "1")), Ok(Reply::Ok));
    assert_eq!(
        (keys_of(&engine, "0"), keys_of(&engine, "1")),
        (one, zero.clone())
    );
    // With a namespace that does not exist yet, and with itself.
    assert_eq!(engine.run_global("0", &swap("1", "9")), Ok(Reply::Ok));
    assert!(keys_of(&engine, "1").is_empty());
    assert_eq!(keys_of(&engine, "9"), zero);
    assert_eq!(engine.run_global("0", &swap("9", "9")), Ok(Reply::Ok));
    assert_eq!(keys_of(&engine, "9"), zero);
    // Writes after a swap land in the namespace now under that name.
    engine.run("9", &Op::Delete(vec![b"a".to_vec()])).unwrap();
    assert_eq!(keys_of(&engine, "9").len(), 1);

    engine.run("app", &put("c", "x", None)).unwrap();
    assert_eq!(engine.run_global("0", &GlobalOp::FlushAll), Ok(Reply::Ok));
    assert_eq!(engine.stored_len(), 0);
    for ns in ["0", "1", "9", "app"] {
        assert!(keys_of(&engine, ns).is_empty(), "{ns}");
    }
    assert!(
        engine.namespace_stats().is_empty(),
        "emptied namespaces are forgotten"
    );
}

fn session_db(dir: &Path, clock: &ManualClock) -> Arc<Db> {
    open_db(options(dir, clock))
}

/// Opens a database, waiting while the lock is held by this very process: a
/// child that another test is spawning holds a copy of every open file (the
/// lock's included) until it execs.
fn open_db(options: Options) -> Arc<Db> {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Db::open(options.clone()) {
            Ok(db) => return db,
            Err(OpenError::Lock(LockError::Held { pid, .. }))
                if pid == std::process::id().to_string()
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("open failed: {e}"),
        }
    }
}

fn run(session: &mut Session, text: &str) -> Result<Reply, String> {
    let statements = grammar::parse(text).unwrap();
    assert_eq!(statements.len(), 1, "{text}");
    session
        .execute(&statements[0], text)
        .map_err(|e| e.error.to_string())
}

#[test]
fn sessions_run_them_in_their_namespace_but_not_inside_a_transaction() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let db = session_db(dir.path(), &clock);
    let mut session = Session::new(db.clone());
    run(&mut session, "use 3").unwrap();
    run(&mut session, "put k v").unwrap();
    assert_eq!(run(&mut session, "MOVE k 0"), Ok(Reply::Bool(true)));
    assert_eq!(run(&mut session, "move k 0"), Ok(Reply::Bool(false)));
    assert_eq!(
        run(&mut session, "move k 3"),
        Err("source and destination objects are the same".into())
    );
    assert_eq!(
        run(&mut session, "move k 16"),
        Err("DB index is out of range".into())
    );
    assert_eq!(
        run(&mut session, "copy k k db x"),
        Err("value is not an integer or out of range".into())
    );
    assert_eq!(
        run(&mut session, "swapdb 0 x"),
        Err("invalid second DB index".into())
    );
    assert_eq!(
        run(&mut session, "flushall now"),
        Err("syntax error".into())
    );
    assert_eq!(run(&mut session, "swapdb 0 3"), Ok(Reply::Ok));
    assert_eq!(run(&mut session, "get k"), Ok(Reply::Value(b"v".to_vec())));
    run(&mut session, "begin").unwrap();
    let refused = run(&mut session, "flushall").unwrap_err();
    assert!(
        refused.contains("not allowed inside a transaction"),
        "{refused}"
    );
    run(&mut session, "rollback").unwrap();
    assert_eq!(run(&mut session, "get k"), Ok(Reply::Value(b"v".to_vec())));
}

// ---------------------------------------------------------------------------
// The binary, and recovery replaying the new record kinds.

fn inmem(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("inmem").unwrap();
    cmd.arg("--data-dir").arg(dir).arg("--json");
    cmd
}

fn lines(dir: &Path, statements: &str) -> Vec<String> {
    let out = inmem(dir).args(["-c", statements]).output().unwrap();
    assert!(
        out.status.success(),
        "{statements}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

#[test]
fn the_binary_runs_them_and_a_restart_replays_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(
        lines(
            d,
            "put a 1; put b 2; put c 3 3600; use 1; put z 26; use 0; \
             move a 1; copy c c db 2; copy b b2; swapdb 1 2; move b 1"
        ),
        [
            "\"OK\"", "\"OK\"", "\"OK\"", "\"OK\"", "\"OK\"", "\"OK\"", "true", "true", "true",
            "\"OK\"", "true"
        ]
    );
    // Each run is a new process: everything below was recovered from the log.
    assert_eq!(
        lines(d, "items; use 1; items; use 2; items; ttl c"),
        [
            r#"[["b2","2"],["c","3"]]"#,
            "\"OK\"",
            r#"[["b","2"],["c","3"]]"#,
            "\"OK\"",
            r#"[["a","1"],["z","26"]]"#,
            "-2"
        ]
    );
    let out = inmem(d).args(["-c", "move b2 16"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("DB index is out of range"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(lines(d, "flushall async"), ["\"OK\""]);
    assert_eq!(
        lines(d, "size; use 1; size; use 2; size"),
        ["0", "\"OK\"", "0", "\"OK\"", "0"]
    );
}

fn options(dir: &Path, clock: &ManualClock) -> Options {
    let mut options = Options::new(dir);
    options.clock = Arc::new(clock.clone());
    options.active_expiry = false;
    options.persistence.snapshot_interval = Duration::ZERO;
    options.persistence.compact_threshold = 0;
    options.command_log = None;
    options
}

/// Every namespace's live keys, by namespace.
type State = BTreeMap<String, BTreeMap<String, (String, Option<u64>)>>;

fn state(engine: &Engine) -> State {
    engine
        .namespace_stats()
        .into_iter()
        .map(|ns| (ns.name.clone(), keys_of(engine, &ns.name)))
        .filter(|(_, keys)| !keys.is_empty())
        .collect()
}

/// (namespace length field, payload length) of every record of a segment,
/// read with the documented frame layout.
fn records(path: &Path) -> Vec<(u16, usize)> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"INMEMLOG");
    let mut pos = 16;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        let payload = &bytes[pos + 8..pos + 8 + len];
        assert_eq!(
            crc32fast::hash(payload),
            u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap())
        );
        out.push((u16::from_le_bytes([payload[8], payload[9]]), len));
        pos += 8 + len;
    }
    out
}

#[test]
fn each_command_is_one_record_and_recovery_replays_the_new_kinds() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let db = session_db(dir.path(), &clock);
    let engine = db.engine();
    let load: Vec<Mutation> = (0..1000)
        .map(|i| Mutation::put(format!("k{i}").into_bytes(), &b"value"[..], None))
        .collect();
    engine.commit("0", load).unwrap();
    engine.run("1", &put("t", "x", Some(60_000))).unwrap();
    // Each command and the records it adds.
    let steps: [(&str, GlobalOp, u64); 8] = [
        ("0", moved("k1", "1"), 1),
        ("0", moved("nothing", "1"), 0),
        ("1", copy("t", "t", Some("2"), false), 1),
        ("0", copy("k2", "k2-copy", None, false), 1),
        ("0", swap("0", "2"), 1),
        ("0", swap("3", "3"), 0),
        ("2", moved("k3", "0"), 1),
        ("0", swap("1", "2"), 1),
    ];
    for (namespace, op, added) in &steps {
        let before = db.persistence().log().records();
        engine.run_global(namespace, op).unwrap();
        assert_eq!(db.persistence().log().records() - before, *added, "{op:?}");
    }
    let expected = state(engine);
    assert_eq!(expected["0"].keys().collect::<Vec<_>>(), ["k3", "t"]);
    assert_eq!(
        expected["1"].len(),
        999,
        "k0..k999 but k1 and k3, and k2-copy"
    );
    assert_eq!(expected["2"].keys().collect::<Vec<_>>(), ["k1", "t"]);
    db.close().unwrap();
    drop(db);
    // The record kinds, from the file: short bodies name their namespace;
    // MOVE (two namespaces) and SWAPDB use the multi-group marker, and a
    // swap of 1000 keys takes a few bytes, not a rewrite of every key.
    let found = records(&dir.path().join(SEGMENT_1));
    assert_eq!(found.len(), 8);
    let markers: Vec<bool> = found.iter().map(|(name_len, _)| *name_len == 0).collect();
    assert_eq!(
        markers,
        [false, false, true, false, false, true, true, true]
    );
    assert!(found[5].1 < 40, "a swap record: {} bytes", found[5].1);

    let db = session_db(dir.path(), &clock);
    assert_eq!(state(db.engine()), expected);
    assert_eq!(db.recovery().records, 8);
    // FLUSHALL: one record clearing every namespace, replayed too.
    let before = db.persistence().log().records();
    db.engine().run_global("5", &GlobalOp::FlushAll).unwrap();
    assert_eq!(db.persistence().log().records(), before + 1);
    db.engine().run("2", &put("after", "flush", None)).unwrap();
    let expected = state(db.engine());
    db.close().unwrap();
    drop(db);
    let db = session_db(dir.path(), &clock);
    assert_eq!(state(db.engine()), expected);
    assert_eq!(expected.len(), 1);
}

#[test]
fn a_version_1_segment_is_still_read() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let db = session_db(dir.path(), &clock);
    db.engine().run("0", &put("a", "1", None)).unwrap();
    db.engine().run("app", &put("b", "2", Some(1000))).unwrap();
    db.engine()
        .run_atomic("0", &[put("c", "3", None), Op::Delete(vec![b"a".to_vec()])])
        .unwrap();
    let expected = state(db.engine());
    db.close().unwrap();
    drop(db);
    // Single-namespace records are laid out as in version 1: relabel the
    // segment as version 1, as inmem 0.1.0 wrote it.
    let path = dir.path().join(SEGMENT_1);
    let mut bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes[8..12], 2u32.to_le_bytes());
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());
    std::fs::write(&path, bytes).unwrap();
    let db = session_db(dir.path(), &clock);
    assert_eq!(state(db.engine()), expected);
    assert_eq!(db.recovery().records, 3);
    // New records go to a new, version 2 segment; both replay.
    db.engine().run_global("0", &swap("0", "app")).unwrap();
    let expected = state(db.engine());
    db.close().unwrap();
    drop(db);
    let second = std::fs::read(dir.path().join("log-0000000002.aof")).unwrap();
    assert_eq!(second[8..12], 2u32.to_le_bytes());
    let db = session_db(dir.path(), &clock);
    assert_eq!(state(db.engine()), expected);
    assert_eq!(db.recovery().records, 4);
}

// ---------------------------------------------------------------------------
// All or nothing under crashes.

/// Seeds three namespaces (acknowledged under `always`), then runs `op` whose
/// record is handed to the OS but not synced when the power goes, keeping
/// `torn` bytes of it. Returns the directory, the state before and after
/// `op`, and the segment's length before it.
fn power_cut(op: &GlobalOp, torn: usize) -> (tempfile::TempDir, State, State, u64) {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let disk = SimDisk::new();
    let mut opts = options(dir.path(), &clock);
    opts.persistence.fsync = Fsync::Always;
    opts.persistence.disk = Arc::new(disk.clone());
    let db = open_db(opts);
    for (ns, key) in [("0", "a"), ("0", "b"), ("1", "c"), ("2", "d")] {
        db.engine().run(ns, &put(key, ns, Some(90_000))).unwrap();
    }
    db.acknowledge().unwrap();
    let before = state(db.engine());
    let size = std::fs::metadata(dir.path().join(SEGMENT_1)).unwrap().len();
    db.engine().run_global("0", op).unwrap();
    let after = state(db.engine());
    assert_ne!(before, after, "{op:?} changes something");
    db.persistence().log().flush(false).unwrap();
    disk.cut_power(torn).unwrap();
    db.close().unwrap();
    drop(db);
    (dir, before, after, size)
}

#[test]
fn a_power_cut_inside_a_move_swapdb_or_flushall_record_applies_all_or_none() {
    let clock = ManualClock::new(START_MS);
    for op in [
        moved("a", "1"),
        swap("0", "2"),
        GlobalOp::FlushAll,
        copy("a", "x", Some("2"), false),
    ] {
        let (dir, _, after, size) = power_cut(&op, usize::MAX);
        let record = std::fs::metadata(dir.path().join(SEGMENT_1)).unwrap().len() - size;
        let db = open_db(options(dir.path(), &clock));
        assert_eq!(state(db.engine()), after, "{op:?}: the whole record");
        drop(db);
        for torn in 0..record as usize {
            let (dir, before, _, _) = power_cut(&op, torn);
            let db = open_db(options(dir.path(), &clock));
            assert_eq!(state(db.engine()), before, "{op:?} torn after {torn} bytes");
            assert_eq!(db.recovery().warnings.len(), usize::from(torn > 0));
        }
    }
}

/// What the kill test's model knows: which keys are in namespace 0 and 1.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Model {
    zero: BTreeSet<String>,
    one: BTreeSet<String>,
}

impl Model {
    /// Applies a statement run in namespace 0; its `--json` reply.
    fn apply(&mut self, statement: &str) -> String {
        if statement == "swapdb 0 1" {
            std::mem::swap(&mut self.zero, &mut self.one);
            return "\"OK\"".into();
        }
        let key = statement.split(' ').nth(1).unwrap_or_default();
        let moves = self.zero.contains(key) && !self.one.contains(key);
        if moves {
            self.zero.remove(key);
            self.one.insert(key.to_string());
        }
        moves.to_string()
    }
}

fn namespaces_via_binary(dir: &Path) -> Model {
    let out = lines(dir, "keys; use 1; keys");
    let parse = |line: &str| -> BTreeSet<String> { serde_json::from_str(line).unwrap() };
    Model {
        zero: parse(&out[0]),
        one: parse(&out[2]),
    }
}

#[test]
fn kill_9_during_moves_and_swaps_keeps_each_key_in_exactly_one_namespace() {
    use std::os::unix::process::ExitStatusExt;
    const KEYS: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let puts: String = (0..KEYS).map(|i| format!("put k{i} v; ")).collect();
    lines(d, &puts);
    let all: BTreeSet<String> = (0..KEYS).map(|i| format!("k{i}")).collect();
    let mut base = Model {
        zero: all.clone(),
        one: BTreeSet::new(),
    };
    let mut rng = 0x5EED_u64;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for round in 0..6 {
        let statements: Vec<String> = (0..3000)
            .map(|_| {
                if next(4) == 0 {
                    "swapdb 0 1".to_string()
                } else {
                    format!("move k{} 1", next(KEYS as u64))
                }
            })
            .collect();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("inmem"))
            .arg("--data-dir")
            .arg(d)
            .args(["--appendfsync", "always", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let acked = Arc::new(AtomicU64::new(0));
        let reader = {
            let stdout = child.stdout.take().unwrap();
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut replies = Vec::new();
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    replies.push(line);
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                replies
            })
        };
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let mut stdin = child.stdin.take().unwrap();
            let (statements, stop) = (statements.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut sent = 0;
                for statement in &statements {
                    if stop.load(Ordering::SeqCst) || writeln!(stdin, "{statement}").is_err() {
                        break;
                    }
                    sent += 1;
                }
                // Keep stdin open until the kill: end of input would exit cleanly.
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                sent
            })
        };
        while acked.load(Ordering::SeqCst) < 50 + round * 100 {
            std::thread::sleep(Duration::from_micros(200));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        let replies = reader.join().unwrap();
        let sent: usize = writer.join().unwrap();
        assert_eq!(status.signal(), Some(9), "round {round}");
        // Every reply matches the model.
        let mut model = base.clone();
        for (statement, reply) in statements.iter().zip(&replies) {
            assert_eq!(&model.apply(statement), reply, "round {round}: {statement}");
        }
        let got = namespaces_via_binary(d);
        let union: BTreeSet<String> = got.zero.union(&got.one).cloned().collect();
        assert_eq!(union, all, "round {round}: no key lost");
        assert!(
            got.zero.is_disjoint(&got.one),
            "round {round}: no key in both"
        );
        // The state is the model after every acknowledged statement and
        // perhaps some sent after them, never part of one.
        let mut n = replies.len();
        while model != got && n < sent {
            model.apply(&statements[n]);
            n += 1;
        }
        assert_eq!(
            model,
            got,
            "round {round}: {} acknowledged, {sent} sent",
            replies.len()
        );
        base = got;
    }
}

// ---------------------------------------------------------------------------
// Snapshots during SWAPDB and FLUSHALL.

/// Collects what a snapshot receives: namespace -> key -> value.
#[derive(Clone, Default)]
struct Collect(Arc<Mutex<BTreeMap<String, BTreeMap<String, String>>>>);

impl PartitionSink for Collect {
    fn dump(&mut self, namespace: &str, entries: &mut dyn Iterator<Item = (&[u8], EntryRef<'_>)>) {
        let mut image = self.0.lock().unwrap();
        let ns = image.entry(namespace.to_string()).or_default();
        for (key, entry) in entries {
            let fresh = ns.insert(
                String::from_utf8(key.to_vec()).unwrap(),
                String::from_utf8(entry.value.to_vec()).unwrap(),
            );
            assert!(fresh.is_none(), "a key dumped twice");
        }
    }
}

fn image_of(engine: &Engine) -> BTreeMap<String, BTreeMap<String, String>> {
    state(engine)
        .into_iter()
        .map(|(ns, keys)| (ns, keys.into_iter().map(|(k, (v, _))| (k, v)).collect()))
        .collect()
}

#[test]
fn a_snapshot_sees_swapped_and_flushed_namespaces_as_they_were_when_it_began() {
    for op in [swap("0", "1"), swap("1", "new"), GlobalOp::FlushAll] {
        let (engine, _) = fresh();
        for i in 0..3000 {
            engine.run("0", &put(&format!("a{i}"), "A", None)).unwrap();
            engine.run("1", &put(&format!("b{i}"), "B", None)).unwrap();
        }
        let at_start = image_of(&engine);
        let sink = Collect::default();
        let start = engine.begin_snapshot(Box::new(sink.clone())).unwrap();
        assert_eq!(start.keys, 6000);
        // Part of it is copied, then the namespaces change under it.
        let mut taker = sink.clone();
        for _ in 0..30 {
            let taken = engine.take_pending(10);
            assert_eq!(taken.len(), 10);
            taken.iter().for_each(|p| p.dump_to(&mut taker));
        }
        engine.run_global("0", &op).unwrap();
        engine.run("0", &put("a1", "changed", None)).unwrap();
        engine.run("1", &put("b1", "changed", None)).unwrap();
        engine
            .take_pending(usize::MAX)
            .iter()
            .for_each(|p| p.dump_to(&mut taker));
        assert!(engine.take_pending(1).is_empty());
        engine.end_snapshot();
        assert_eq!(*sink.0.lock().unwrap(), at_start, "{op:?}");
    }
}

#[test]
fn writes_to_the_partition_the_snapshot_thread_is_serializing_stay_out_of_the_snapshot() {
    let (engine, _) = fresh();
    for i in 0..20_000 {
        engine.run("0", &put(&format!("a{i}"), "A", None)).unwrap();
    }
    let at_start = image_of(&engine);
    let sink = Collect::default();
    engine.begin_snapshot(Box::new(sink.clone())).unwrap();
    // The snapshot thread has taken a partition and not serialized it yet.
    let [taken] = <[_; 1]>::try_from(engine.take_pending(1)).unwrap();
    let mut keys = Collect::default();
    taken.dump_to(&mut keys);
    let keys: Vec<String> = keys.0.lock().unwrap()["0"].keys().cloned().collect();
    assert!(keys.len() >= 3, "the partition holds {} keys", keys.len());
    // Writers change it meanwhile, then change every key and empty the namespace.
    engine.run("0", &put(&keys[0], "changed", None)).unwrap();
    engine
        .run("0", &put(&keys[1], "expiring", Some(1)))
        .unwrap();
    engine
        .run(
            "0",
            &Op::Delete(keys[2..].iter().map(|k| k.as_bytes().into()).collect()),
        )
        .unwrap();
    engine.run_global("0", &GlobalOp::FlushAll).unwrap();
    assert_eq!(state(&engine), BTreeMap::new());
    let mut taker = sink.clone();
    taken.dump_to(&mut taker);
    drop(taken);
    engine
        .take_pending(usize::MAX)
        .iter()
        .for_each(|p| p.dump_to(&mut taker));
    engine.end_snapshot();
    assert_eq!(*sink.0.lock().unwrap(), at_start);
}

#[test]
fn a_snapshot_written_while_namespaces_are_swapped_is_one_moment_and_reopens() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = session_db(d, &clock);
    for (ns, letter) in [("0", "A"), ("1", "B")] {
        let load: Vec<Mutation> = (0..20_000)
            .map(|i| {
                Mutation::put(
                    format!("{letter}{i:05}").into_bytes(),
                    letter.as_bytes(),
                    None,
                )
            })
            .collect();
        db.engine().commit(ns, load).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicU64::new(0));
    let swapper = {
        let (db, stop, swaps) = (db.clone(), stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                db.engine().run_global("0", &swap("0", "1")).unwrap();
                swaps.fetch_add(1, Ordering::SeqCst);
                std::thread::yield_now();
            }
        })
    };
    while swaps.load(Ordering::SeqCst) < 3 {
        std::thread::yield_now();
    }
    let before_save = swaps.load(Ordering::SeqCst);
    let written = db.persistence().save(db.engine()).unwrap();
    let after_save = swaps.load(Ordering::SeqCst);
    assert!(
        after_save > before_save,
        "swaps ran while the snapshot was written"
    );
    while swaps.load(Ordering::SeqCst) < after_save + 3 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::SeqCst);
    swapper.join().unwrap();
    assert_eq!(written.keys, 40_000);
    // In the image, each namespace holds one letter's keys, whole.
    let bytes = std::fs::read(d.join(snapshot::FILE_NAME)).unwrap();
    let mut letters: BTreeMap<String, BTreeSet<u8>> = BTreeMap::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    snapshot::read(&bytes, &mut |(ns, entries)| {
        *counts.entry(ns.clone()).or_default() += entries.len();
        letters
            .entry(ns)
            .or_default()
            .extend(entries.iter().map(|(k, v, _)| {
                assert_eq!(k[0], v[0], "a key keeps its value");
                v[0]
            }));
    })
    .unwrap();
    assert_eq!(counts.values().collect::<Vec<_>>(), [&20_000, &20_000]);
    assert!(letters.values().all(|l| l.len() == 1), "{letters:?}");
    assert_ne!(letters["0"], letters["1"]);
    // The snapshot plus the swaps logged after it give the final state.
    let expected = state(db.engine());
    db.close().unwrap();
    drop(db);
    let db = session_db(d, &clock);
    assert_eq!(state(db.engine()), expected);
    assert_eq!(db.recovery().snapshot_keys, 40_000);
}

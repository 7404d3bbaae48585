//! The durability layer end to end: torn log tails at every byte, corruption
//! anywhere else, `check` and `repair`, crashes at every step of a snapshot,
//! compaction, the lock file, TTLs across restarts with a moved clock,
//! backup/restore, JSON import/export and namespaces.
//!
//! Files are damaged by hand with the byte layout of docs/format.md, which the
//! helpers below read back independently of the code under test.

use assert_cmd::Command;
use inmem::command::{Op, Reply, grammar};
use inmem::engine::{Entry, ManualClock};
use inmem::error::OpenError;
use inmem::persist::lock::LockError;
use inmem::persist::snapshot::{Step, StepHook};
use inmem::session::Session;
use inmem::{Db, Options};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const START_MS: u64 = 1_700_000_000_000;
const SEGMENT_1: &str = "log-0000000001.aof";
const SEGMENT_2: &str = "log-0000000002.aof";
const SEGMENT_3: &str = "log-0000000003.aof";
const SEGMENT_4: &str = "log-0000000004.aof";
const LOG_HEADER: u64 = 16;
const SNAPSHOT_HEADER: usize = 48;

// ---------------------------------------------------------------------------
// Opening databases and running statements.

fn options(dir: &Path, clock: &ManualClock) -> Options {
    let mut options = Options::new(dir);
    options.clock = Arc::new(clock.clone());
    options.active_expiry = false;
    // Nothing happens behind the test's back: no timed or size-driven snapshots.
    options.persistence.snapshot_interval = Duration::ZERO;
    options.persistence.compact_threshold = 0;
    // These tests compare directory listings byte for byte; the command log
    // has its own tests.
    options.command_log = None;
    options
}

/// A thread running `step(db, i)` for i = 0, 1, 2, ... until stopped,
/// counting the steps done.
struct Writer {
    stop: Arc<AtomicBool>,
    writes: Arc<AtomicU64>,
    thread: std::thread::JoinHandle<()>,
}

impl Writer {
    fn spawn(db: &Arc<Db>, step: impl Fn(&Db, u64) + Send + 'static) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let writes = Arc::new(AtomicU64::new(0));
        let thread = {
            let (db, stop, writes) = (db.clone(), stop.clone(), writes.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    step(&db, i);
                    i += 1;
                    writes.store(i, Ordering::SeqCst);
                }
            })
        };
        Writer {
            stop,
            writes,
            thread,
        }
    }

    fn count(&self) -> u64 {
        self.writes.load(Ordering::SeqCst)
    }

    /// Waits until `n` steps are done.
    fn wait_for(&self, n: u64) {
        while self.count() < n {
            std::thread::yield_now();
        }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
    }
}

fn open(dir: &Path, clock: &ManualClock) -> Arc<Db> {
    open_with(options(dir, clock))
}

fn open_with(options: Options) -> Arc<Db> {
    // Tests run in parallel and some spawn the binary: a child forked while a
    // test's LOCK file was open shares that lock until it execs, so a reopen
    // right after a close may briefly find the lock held by this very process.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Db::open(options.clone()) {
            Ok(db) => return db,
            Err(OpenError::Lock(LockError::Held { pid, .. }))
                if pid == std::process::id().to_string() && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("open failed: {e}"),
        }
    }
}

/// Opening must fail; returns the error.
fn open_err(options: Options) -> OpenError {
    match Db::open(options) {
        Ok(_) => panic!("open must be refused"),
        Err(e) => e,
    }
}

/// Closes a database the way a clean exit does and releases its lock.
fn close(db: Arc<Db>) {
    db.close().unwrap();
    assert_eq!(Arc::strong_count(&db), 1, "a session still holds the db");
    drop(db);
}

/// Runs every statement of `text` in one session; any error fails the test.
fn exec(db: &Arc<Db>, text: &str) -> Vec<Reply> {
    let mut session = Session::new(db.clone());
    let statements = grammar::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    statements
        .iter()
        .map(|s| {
            session
                .execute(s, text)
                .unwrap_or_else(|e| panic!("{text}: {}", e.error))
        })
        .collect()
}

/// Runs one statement; its reply or error message.
fn try_exec(db: &Arc<Db>, text: &str) -> Result<Reply, String> {
    let mut session = Session::new(db.clone());
    let statements = grammar::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(statements.len(), 1, "{text}");
    session
        .execute(&statements[0], text)
        .map_err(|e| e.error.to_string())
}

/// Key, value and deadline of every live key of a namespace, sorted by key.
type Items = Vec<(String, String, Option<u64>)>;

fn items_in(db: &Db, namespace: &str) -> Items {
    db.engine()
        .entries(namespace)
        .into_iter()
        .map(|(k, e)| {
            (
                String::from_utf8(k).unwrap(),
                String::from_utf8(e.value.to_vec()).unwrap(),
                e.expires_at,
            )
        })
        .collect()
}

fn items(db: &Db) -> Items {
    items_in(db, "0")
}

fn item(key: &str, value: &str, at: Option<u64>) -> (String, String, Option<u64>) {
    (key.into(), value.into(), at)
}

/// The namespaces tests write to.
const NAMESPACES: [&str; 3] = ["0", "ns1", "ns2"];

/// Every namespace's entries (non-empty ones only).
fn state(db: &Db) -> BTreeMap<&'static str, Vec<(Vec<u8>, Entry)>> {
    NAMESPACES
        .iter()
        .map(|ns| (*ns, db.engine().entries(ns)))
        .filter(|(_, entries)| !entries.is_empty())
        .collect()
}

fn put(key: &str, value: &str) -> Op {
    Op::Put {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        ttl_ms: None,
    }
}

// ---------------------------------------------------------------------------
// Files.

/// Every file of a directory except the lock, by name.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file() && e.file_name() != "LOCK")
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn names(dir: &Path) -> Vec<String> {
    files(dir).into_keys().collect()
}

fn segment_names(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.starts_with("log-") && n.ends_with(".aof"))
        .collect()
}

/// Segments holding at least one record: a snapshot starts the next segment
/// when it begins, which holds only its header until something is written.
fn segments_with_records(dir: &Path) -> Vec<String> {
    segment_names(dir)
        .into_iter()
        .filter(|n| !frames(&dir.join(n)).is_empty())
        .collect()
}

fn temp_names(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".snapshot-"))
        .collect()
}

/// Replaces `to` with a copy of every file of `from`.
fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for (name, bytes) in files(from) {
        std::fs::write(to.join(name), bytes).unwrap();
    }
}

fn flip(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[offset as usize] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

fn set_len(path: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(len)
        .unwrap();
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().len()
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

/// One log record as read back by the test: where it is and what it holds.
#[derive(Debug, Clone, Copy)]
struct Frame {
    offset: u64,
    end: u64,
    seq: u64,
    mutations: u32,
}

impl Frame {
    fn payload_len(&self) -> u64 {
        self.end - self.offset - 8
    }
}

/// The records of a clean log segment.
fn frames(path: &Path) -> Vec<Frame> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"INMEMLOG", "{}", path.display());
    assert_eq!(u32_at(&bytes, 8), 2, "version");
    let mut pos = LOG_HEADER as usize;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let len = u32_at(&bytes, pos) as usize;
        let payload = &bytes[pos + 8..pos + 8 + len];
        assert_eq!(crc32fast::hash(payload), u32_at(&bytes, pos + 4));
        let ns_len = usize::from(u16::from_le_bytes([payload[8], payload[9]]));
        out.push(Frame {
            offset: pos as u64,
            end: (pos + 8 + len) as u64,
            seq: u64_at(payload, 0),
            mutations: u32_at(payload, 10 + ns_len),
        });
        pos += 8 + len;
    }
    out
}

/// One snapshot chunk as read back by the test.
#[derive(Debug, Clone)]
struct Chunk {
    offset: usize,
    namespace: String,
    /// Key, value, deadline (0 = none).
    entries: Vec<(String, String, u64)>,
}

#[derive(Debug)]
struct Snap {
    seq: u64,
    keys: u64,
    chunks: Vec<Chunk>,
    trailer: usize,
}

fn read_snapshot(path: &Path) -> Snap {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"INMEMSNP");
    assert_eq!(crc32fast::hash(&bytes[..40]), u32_at(&bytes, 40));
    let (seq, keys) = (u64_at(&bytes, 24), u64_at(&bytes, 32));
    let mut pos = SNAPSHOT_HEADER;
    let mut chunks = Vec::new();
    loop {
        let len = u32_at(&bytes, pos);
        if len == u32::MAX {
            assert_eq!(bytes.len(), pos + 24, "trailer ends the file");
            let total: usize = chunks.iter().map(|c: &Chunk| c.entries.len()).sum();
            assert_eq!(u64_at(&bytes, pos + 8), chunks.len() as u64);
            assert_eq!(u64_at(&bytes, pos + 16), total as u64);
            return Snap {
                seq,
                keys,
                chunks,
                trailer: pos,
            };
        }
        let payload = &bytes[pos + 8..pos + 8 + len as usize];
        assert_eq!(crc32fast::hash(payload), u32_at(&bytes, pos + 4));
        let ns_len = usize::from(u16::from_le_bytes([payload[0], payload[1]]));
        let namespace = String::from_utf8(payload[2..2 + ns_len].to_vec()).unwrap();
        let count = u32_at(payload, 2 + ns_len);
        let mut at = 6 + ns_len;
        let mut entries = Vec::new();
        let text = |at: &mut usize| {
            let n = u32_at(payload, *at) as usize;
            let s = String::from_utf8(payload[*at + 4..*at + 4 + n].to_vec()).unwrap();
            *at += 4 + n;
            s
        };
        for _ in 0..count {
            let key = text(&mut at);
            let value = text(&mut at);
            entries.push((key, value, u64_at(payload, at)));
            at += 8;
        }
        assert_eq!(at, payload.len());
        chunks.push(Chunk {
            offset: pos,
            namespace,
            entries,
        });
        pos += 8 + len as usize;
    }
}

/// The message recovery gives for damage, up to the reason.
fn damaged_at(path: &Path, offset: u64) -> String {
    format!("{}: damaged at offset {offset}: ", path.display())
}

/// Opening must fail with corruption of `path` at `offset`, leaving every file as it was.
fn assert_refused(options: Options, path: &Path, offset: u64, reason: &str) {
    let dir = options.data_dir.clone();
    let before = files(&dir);
    let err = open_err(options);
    let message = err.to_string();
    match &err {
        OpenError::Corrupt(c) => {
            assert_eq!((c.path.as_path(), c.offset), (path, offset), "{message}");
            assert!(c.reason.contains(reason), "{message}");
        }
        other => panic!("expected corruption, got {other}"),
    }
    assert!(message.starts_with(&damaged_at(path, offset)), "{message}");
    assert!(message.contains("inmem repair"), "{message}");
    assert_eq!(files(&dir), before, "refusing changes nothing: {message}");
}

// ---------------------------------------------------------------------------
// 1. Torn tails.

/// Writes a log whose last record is a transaction of five mutations; returns
/// the state before and after that record.
fn write_history(dir: &Path, clock: &ManualClock) -> (Items, Items) {
    let db = open(dir, clock);
    exec(&db, "put a 1; put b 2 100; incr n 5");
    // A batch is one record of three mutations.
    exec(&db, "batch -c \"put c 3; delete a; incr n\"");
    let before = items(&db);
    exec(
        &db,
        "begin; put d 4 50; put b two; delete c; incr n 10; expire b 30; commit",
    );
    let after = items(&db);
    close(db);
    (before, after)
}

#[test]
fn a_torn_last_record_is_cut_at_every_byte_and_appends_continue() {
    let clock = ManualClock::new(START_MS);
    let base = tempfile::tempdir().unwrap();
    let (before, after) = write_history(base.path(), &clock);
    assert_eq!(
        before,
        [
            item("b", "2", Some(START_MS + 100_000)),
            item("c", "3", None),
            item("n", "6", None),
        ]
    );
    assert_eq!(
        after,
        [
            item("b", "two", Some(START_MS + 30_000)),
            item("d", "4", Some(START_MS + 50_000)),
            item("n", "16", None),
        ]
    );
    let records = frames(&base.path().join(SEGMENT_1));
    assert_eq!(
        records
            .iter()
            .map(|f| (f.seq, f.mutations))
            .collect::<Vec<_>>(),
        [(1, 1), (2, 1), (3, 1), (4, 3), (5, 5)],
        "one record per statement, batch and commit"
    );
    let last = *records.last().unwrap();
    let full = file_len(&base.path().join(SEGMENT_1));
    assert_eq!(last.end, full);

    // The whole log reopens to the state after the transaction.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    copy_dir(base.path(), &dir);
    let db = open(&dir, &clock);
    assert_eq!(items(&db), after);
    assert!(db.recovery().warnings.is_empty());
    close(db);

    for cut in last.offset..full {
        copy_dir(base.path(), &dir);
        let segment = dir.join(SEGMENT_1);
        set_len(&segment, cut);
        let db = open(&dir, &clock);
        assert_eq!(
            items(&db),
            before,
            "cut at {cut}: the transaction is all or nothing"
        );
        assert_eq!(db.recovery().records, 4, "cut at {cut}");
        let dropped = cut - last.offset;
        if dropped == 0 {
            // The file ends on a record boundary: nothing is torn.
            assert!(db.recovery().warnings.is_empty(), "cut at {cut}");
        } else {
            let reason = if dropped < 8 {
                "record header is cut short".to_string()
            } else {
                format!("record of {} bytes is cut short", last.payload_len())
            };
            assert_eq!(
                db.recovery().warnings,
                [format!(
                    "{}: cut a torn record at offset {} ({reason}; {dropped} bytes dropped)",
                    segment.display(),
                    last.offset
                )],
                "cut at {cut}"
            );
        }
        assert_eq!(file_len(&segment), last.offset, "physically cut at {cut}");
        // Append, stop, recover; append again and crash tearing that
        // record too, recover; append once more.
        exec(&db, &format!("put after {cut}; incr n"));
        let appended = items(&db);
        close(db);
        let db = open(&dir, &clock);
        assert!(db.recovery().warnings.is_empty(), "cut at {cut}");
        assert_eq!(items(&db), appended, "cut at {cut}");
        exec(&db, "put again 1");
        close(db);
        let third = dir.join(SEGMENT_3);
        set_len(&third, file_len(&third) - 1);
        let db = open(&dir, &clock);
        assert_eq!(items(&db), appended, "cut at {cut}");
        let warnings = &db.recovery().warnings;
        assert!(
            warnings.len() == 1
                && warnings[0].starts_with(&format!(
                    "{}: cut a torn record at offset {LOG_HEADER} (",
                    third.display()
                )),
            "{warnings:?}"
        );
        exec(&db, "put again 2");
        let again = items(&db);
        close(db);
        let db = open(&dir, &clock);
        assert_eq!(items(&db), again, "cut at {cut}");
        assert!(
            again.contains(&item("after", &cut.to_string(), None))
                && again.contains(&item("again", "2", None))
                && again.contains(&item("n", "7", None)),
            "{again:?}"
        );
        assert_eq!(
            segment_names(&dir),
            [SEGMENT_1, SEGMENT_2, SEGMENT_3, SEGMENT_4],
            "each start writes a new segment"
        );
        close(db);
    }
}

#[test]
fn a_bad_checksum_in_the_last_record_is_a_torn_tail() {
    let clock = ManualClock::new(START_MS);
    let base = tempfile::tempdir().unwrap();
    let (before, _) = write_history(base.path(), &clock);
    let last = *frames(&base.path().join(SEGMENT_1)).last().unwrap();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    // Every byte of the checksum and of the payload.
    for at in last.offset + 4..last.end {
        copy_dir(base.path(), &dir);
        let segment = dir.join(SEGMENT_1);
        flip(&segment, at);
        let db = open(&dir, &clock);
        assert_eq!(items(&db), before, "flipped byte {at}");
        assert_eq!(
            db.recovery().warnings,
            [format!(
                "{}: cut a torn record at offset {} (record checksum mismatch; {} bytes dropped)",
                segment.display(),
                last.offset,
                last.end - last.offset
            )],
            "flipped byte {at}"
        );
        assert_eq!(file_len(&segment), last.offset);
        exec(&db, "put after 1");
        close(db);
        let db = open(&dir, &clock);
        assert!(items(&db).contains(&item("after", "1", None)));
        close(db);
    }
}

#[test]
fn strict_recovery_refuses_a_torn_tail_and_changes_nothing() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let (before, _) = write_history(dir.path(), &clock);
    let segment = dir.path().join(SEGMENT_1);
    let last = *frames(&segment).last().unwrap();
    set_len(&segment, last.end - 3);
    let mut strict = options(dir.path(), &clock);
    strict.persistence.strict_recovery = true;
    assert_refused(
        strict,
        &segment,
        last.offset,
        &format!(
            "record of {} bytes is cut short (torn tail; --strict-recovery refuses to cut it)",
            last.payload_len()
        ),
    );
    assert_eq!(file_len(&segment), last.end - 3);
    // Without --strict-recovery the same directory opens, cut.
    let db = open(dir.path(), &clock);
    assert_eq!(items(&db), before);
    assert_eq!(db.recovery().warnings.len(), 1);
    close(db);
}

#[test]
fn a_zero_filled_tail_is_cut_like_a_torn_record() {
    let clock = ManualClock::new(START_MS);
    let base = tempfile::tempdir().unwrap();
    let (_, after) = write_history(base.path(), &clock);
    let len = file_len(&base.path().join(SEGMENT_1));
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let segment = dir.join(SEGMENT_1);
    // A crash can save a file's new length but not its last blocks.
    for zeros in [1u64, 7, 8, 9, 100, 4096] {
        copy_dir(base.path(), &dir);
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes.resize((len + zeros) as usize, 0);
        std::fs::write(&segment, bytes).unwrap();
        let db = open(&dir, &clock);
        assert_eq!(items(&db), after, "{zeros} zeros");
        let reason = if zeros < 8 {
            "record header is cut short"
        } else {
            "zero-filled tail"
        };
        assert_eq!(
            db.recovery().warnings,
            [format!(
                "{}: cut a torn record at offset {len} ({reason}; {zeros} bytes dropped)",
                segment.display()
            )],
        );
        assert_eq!(file_len(&segment), len);
        close(db);
    }
    // Zeros with a record after them are damage, not a tail.
    copy_dir(base.path(), &dir);
    let last = *frames(&segment).last().unwrap();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.splice(
        last.offset as usize..last.offset as usize,
        [0u8; 16].iter().copied(),
    );
    std::fs::write(&segment, bytes).unwrap();
    assert_refused(options(&dir, &clock), &segment, last.offset, "bad record");
}

#[test]
fn a_power_cut_keeps_every_acknowledged_write_under_appendfsync_always() {
    use inmem::persist::disk::SimDisk;
    use inmem::persist::log::Fsync;
    let clock = ManualClock::new(START_MS);
    // Acknowledged writes, then a transaction written but not yet synced when
    // the power goes, with `torn` bytes of it reaching the disk anyway.
    let run = |torn: usize| -> (tempfile::TempDir, Items, Items) {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let mut opts = options(dir.path(), &clock);
        opts.persistence.fsync = Fsync::Always;
        opts.persistence.disk = Arc::new(disk.clone());
        let db = open_with(opts);
        for i in 0..5 {
            exec(&db, &format!("put k{i} v{i}"));
            db.acknowledge().unwrap();
        }
        let acknowledged = items(&db);
        exec(
            &db,
            "begin; put x 1; put y 2 60; delete k0; incr k9; commit",
        );
        let unacknowledged = items(&db);
        db.persistence().log().flush(false).unwrap();
        disk.cut_power(torn).unwrap();
        close(db);
        (dir, acknowledged, unacknowledged)
    };
    let (dir, _, all) = run(usize::MAX);
    let last = *frames(&dir.path().join(SEGMENT_1)).last().unwrap();
    assert_eq!((last.seq, last.mutations), (6, 4));
    let record = (last.end - last.offset) as usize;
    let db = open(dir.path(), &clock);
    assert_eq!(items(&db), all);
    close(db);
    for torn in 0..record {
        let (dir, acknowledged, _) = run(torn);
        let segment = dir.path().join(SEGMENT_1);
        assert_eq!(file_len(&segment), last.offset + torn as u64);
        let db = open(dir.path(), &clock);
        assert_eq!(items(&db), acknowledged, "torn after {torn} bytes");
        assert_eq!(db.recovery().warnings.len(), usize::from(torn > 0));
        assert_eq!(file_len(&segment), last.offset);
        close(db);
    }
}

#[test]
fn a_killed_process_keeps_every_acknowledged_write() {
    for policy in ["always", "everysec", "no"] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("inmem"))
            .arg("--data-dir")
            .arg(d)
            .args(["--appendfsync", policy])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut send = |statement: &str, answer: &str| {
            writeln!(stdin, "{statement}").unwrap();
            stdin.flush().unwrap();
            assert_eq!(
                lines.next().unwrap().unwrap(),
                answer,
                "{policy}: {statement}"
            );
        };
        for i in 0..20 {
            send(&format!("put k{i:02} {i}"), "OK");
        }
        send("incr k00 100", "100");
        send("delete k01", "1");
        send("batch -c \"put a 1; put b 2\"", "OK");
        assert_eq!(lines.next().unwrap().unwrap(), "OK");
        // Every answer was shown, so every write was acknowledged: SIGKILL now.
        child.kill().unwrap();
        child.wait().unwrap();
        let clock = ManualClock::new(START_MS);
        let db = open(d, &clock);
        let mut expected: Items = (2..20)
            .map(|i| item(&format!("k{i:02}"), &i.to_string(), None))
            .collect();
        expected.push(item("k00", "100", None));
        expected.push(item("a", "1", None));
        expected.push(item("b", "2", None));
        expected.sort();
        assert_eq!(items(&db), expected, "{policy}");
        assert!(db.recovery().warnings.is_empty(), "{policy}");
        close(db);
    }
}

// ---------------------------------------------------------------------------
// 2. Damage anywhere else.

/// Two segments: records 1-3 in the first, 4-7 in the second.
fn two_segments(dir: &Path, clock: &ManualClock) {
    let db = open(dir, clock);
    exec(&db, "put a 1; put b 2; batch -c \"put c 3; put d 4\"");
    close(db);
    let db = open(dir, clock);
    exec(&db, "put e 5; put f 6; delete a; put g 7");
    close(db);
}

#[test]
fn any_flipped_byte_of_an_earlier_record_refuses_start_with_file_and_offset() {
    let clock = ManualClock::new(START_MS);
    let base = tempfile::tempdir().unwrap();
    two_segments(base.path(), &clock);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    // Records in the middle of the last segment (where a torn tail could be
    // cut) and the last record of a segment that is not the last.
    let last_segment = frames(&base.path().join(SEGMENT_2));
    let first_segment = frames(&base.path().join(SEGMENT_1));
    let targets = [
        (SEGMENT_2, last_segment[0]),
        (SEGMENT_2, last_segment[2]),
        (SEGMENT_1, first_segment[0]),
        (SEGMENT_1, *first_segment.last().unwrap()),
    ];
    for (name, record) in targets {
        for at in record.offset..record.end {
            copy_dir(base.path(), &dir);
            let path = dir.join(name);
            flip(&path, at);
            eprintln!("{name} record at {} flipping {at}", record.offset);
            // A flipped length may look like a record that runs past the end;
            // the records after it show it is not a torn tail.
            assert_refused(options(&dir, &clock), &path, record.offset, "");
        }
    }
}

#[test]
fn a_damaged_segment_header_refuses_start() {
    let clock = ManualClock::new(START_MS);
    let base = tempfile::tempdir().unwrap();
    two_segments(base.path(), &clock);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    for name in [SEGMENT_1, SEGMENT_2] {
        for at in 0..8 {
            copy_dir(base.path(), &dir);
            flip(&dir.join(name), at);
            assert_refused(
                options(&dir, &clock),
                &dir.join(name),
                0,
                "not an inmem log segment (bad magic bytes)",
            );
        }
        copy_dir(base.path(), &dir);
        let path = dir.join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
        std::fs::write(&path, bytes).unwrap();
        assert_refused(
            options(&dir, &clock),
            &path,
            8,
            "format version 3 is not supported (this build reads versions 1 to 2)",
        );
    }
}

/// A snapshot of 60 keys in several chunks, then two records after it.
fn snapshot_with_log(dir: &Path, clock: &ManualClock) -> Items {
    let db = open(dir, clock);
    let puts: String = (0..60).map(|i| format!("put k{i:02} v{i}\n")).collect();
    exec(&db, &puts);
    exec(&db, "save");
    exec(&db, "put late 1; delete k00");
    let state = items(&db);
    close(db);
    state
}

#[test]
fn a_damaged_snapshot_refuses_start() {
    let clock = ManualClock::new(START_MS);
    let base = tempfile::tempdir().unwrap();
    let expected = snapshot_with_log(base.path(), &clock);
    let snap = read_snapshot(&base.path().join("snapshot.db"));
    assert_eq!((snap.seq, snap.keys), (60, 60));
    assert!(snap.chunks.len() >= 3, "{} chunks", snap.chunks.len());
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().join("data");
    let path = dir.join("snapshot.db");

    copy_dir(base.path(), &dir);
    let db = open(&dir, &clock);
    assert_eq!(items(&db), expected);
    assert_eq!(
        (db.recovery().snapshot_keys, db.recovery().records),
        (60, 2)
    );
    close(db);

    // A flipped byte in any chunk: its length, checksum or payload.
    let chunk = &snap.chunks[1];
    let end = snap.chunks[2].offset;
    for at in chunk.offset..end {
        copy_dir(base.path(), &dir);
        flip(&path, at as u64);
        assert_refused(options(&dir, &clock), &path, chunk.offset as u64, "");
    }
    copy_dir(base.path(), &dir);
    flip(&path, (chunk.offset + 20) as u64);
    assert_refused(
        options(&dir, &clock),
        &path,
        chunk.offset as u64,
        "chunk checksum mismatch",
    );
    // The header: magic, version, and any other field (its checksum).
    copy_dir(base.path(), &dir);
    flip(&path, 3);
    assert_refused(
        options(&dir, &clock),
        &path,
        0,
        "not an inmem snapshot (bad magic bytes)",
    );
    copy_dir(base.path(), &dir);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[8..12].copy_from_slice(&7u32.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    assert_refused(
        options(&dir, &clock),
        &path,
        0,
        "format version 7 is not supported (this build reads version 1)",
    );
    for at in [16, 24, 32, 40] {
        copy_dir(base.path(), &dir);
        flip(&path, at);
        assert_refused(options(&dir, &clock), &path, 0, "header checksum mismatch");
    }
    copy_dir(base.path(), &dir);
    set_len(&path, 30);
    assert_refused(
        options(&dir, &clock),
        &path,
        0,
        "file is 30 bytes, shorter than its header",
    );
    // A trailer cut anywhere.
    let len = file_len(&base.path().join("snapshot.db"));
    for cut in snap.trailer as u64..len {
        copy_dir(base.path(), &dir);
        set_len(&path, cut);
        let reason = if cut - snap.trailer as u64 >= 8 {
            "trailer is cut short"
        } else {
            "file ends before the trailer"
        };
        assert_refused(options(&dir, &clock), &path, snap.trailer as u64, reason);
    }
    // A damaged trailer, and bytes after it.
    copy_dir(base.path(), &dir);
    flip(&path, len - 1);
    assert_refused(
        options(&dir, &clock),
        &path,
        snap.trailer as u64,
        "trailer checksum mismatch",
    );
    copy_dir(base.path(), &dir);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.push(0);
    std::fs::write(&path, &bytes).unwrap();
    assert_refused(options(&dir, &clock), &path, len, "bytes after the trailer");
}

// ---------------------------------------------------------------------------
// 3. `inmem check` and `inmem repair`.

fn inmem(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("inmem").unwrap();
    cmd.arg("--data-dir").arg(dir).env("NO_COLOR", "1");
    cmd
}

fn stdout(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The one `.damaged-<timestamp>` copy of `name`.
fn damaged_copy(dir: &Path, name: &str) -> PathBuf {
    let prefix = format!("{name}.damaged-");
    let copies: Vec<String> = names(dir)
        .into_iter()
        .filter(|n| {
            n.strip_prefix(&prefix)
                .is_some_and(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    assert_eq!(copies.len(), 1, "{:?}", names(dir));
    dir.join(&copies[0])
}

#[test]
fn check_lists_a_segment_an_unfinished_switch_left_and_start_up_settles_it() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    snapshot_with_log(d, &clock);
    two_segments(d, &clock);
    // A segment under its temporary name, as a crash between a switch and
    // the naming of the new segment leaves it (here a copy of segment 4:
    // records the sequence already holds).
    let size_before = stdout(inmem(d).args(["-c", "size"]), 0);
    let temp = d.join("log-0000000005.aof.new");
    std::fs::copy(d.join(SEGMENT_4), &temp).unwrap();
    let before = files(d);
    let out = stdout(inmem(d).arg("check"), 0);
    assert_eq!(files(d), before, "check changed a file");
    assert!(
        out.ends_with(&format!(
            "{}: left by a segment switch that did not finish (4 records, 66..=69); start-up adopts it when the segment before it is whole, else drops it\n",
            temp.display()
        )),
        "{out}"
    );
    // Start-up settles it (adopted under its own name), and check no longer lists it.
    let size = stdout(inmem(d).args(["-c", "size"]), 0);
    assert!(!temp.exists());
    assert_eq!(
        size, size_before,
        "records already replayed changed the keyspace"
    );
    let out = stdout(inmem(d).arg("check"), 0);
    assert!(!out.contains(".new"), "{out}");
    assert!(
        out.ends_with(&format!(
            "{}: ok: 4 records, 66..=69\n",
            d.join("log-0000000005.aof").display()
        )),
        "{out}"
    );
}

#[test]
fn check_reports_ok_torn_and_damaged_files() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let empty = d.join("empty");
    assert_eq!(
        stdout(inmem(&empty).arg("check"), 0),
        format!("{}: no snapshot or log files\n", empty.display())
    );
    snapshot_with_log(d, &clock);
    two_segments(d, &clock);
    // Segment 1 was trimmed by the snapshot; 2 holds records 61-62, 3 and 4
    // the two sessions of two_segments.
    assert_eq!(segment_names(d), [SEGMENT_2, SEGMENT_3, SEGMENT_4]);
    // check only reads.
    let check = |code: i32| {
        let before = files(d);
        let out = stdout(inmem(d).arg("check"), code);
        assert_eq!(files(d), before, "check changed a file");
        out
    };
    let p = |name: &str| d.join(name).display().to_string();
    let ok = format!(
        "{}: ok: snapshot of 60 keys covering record 60, format 1\n\
         {}: ok: 2 records, 61..=62\n\
         {}: ok: 3 records, 63..=65\n\
         {}: ok: 4 records, 66..=69\n",
        p("snapshot.db"),
        p(SEGMENT_2),
        p(SEGMENT_3),
        p(SEGMENT_4),
    );
    assert_eq!(check(0), ok);

    let last = d.join(SEGMENT_4);
    let records = frames(&last);
    let tail = *records.last().unwrap();
    set_len(&last, tail.end - 1);
    let torn = ok.replace(
        &format!("{}: ok: 4 records, 66..=69\n", p(SEGMENT_4)),
        &format!(
            "{}: torn last record at offset {} (record of {} bytes is cut short); start-up will cut it\n",
            p(SEGMENT_4),
            tail.offset,
            tail.payload_len()
        ),
    );
    assert_eq!(check(0), torn);

    let middle = frames(&d.join(SEGMENT_3))[1];
    flip(&d.join(SEGMENT_3), middle.offset + 12);
    let damaged = torn.replace(
        &format!("{}: ok: 3 records, 63..=65\n", p(SEGMENT_3)),
        &format!(
            "{}: DAMAGED at offset {}: record checksum mismatch\n",
            p(SEGMENT_3),
            middle.offset
        ),
    ) + "run 'inmem repair' to keep a copy of each damaged file and cut it at the damage\n";
    assert_eq!(check(1), damaged);

    let snap = read_snapshot(&d.join("snapshot.db"));
    flip(&d.join("snapshot.db"), snap.chunks[0].offset as u64 + 9);
    let out = check(1);
    assert!(
        out.starts_with(&format!(
            "{}: DAMAGED at offset {}: chunk checksum mismatch\n",
            p("snapshot.db"),
            SNAPSHOT_HEADER
        )),
        "{out}"
    );
}

#[test]
fn repair_keeps_a_copy_cuts_at_the_damage_and_sets_later_segments_aside() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_segments(d, &clock);
    let first = d.join(SEGMENT_1);
    let second = d.join(SEGMENT_2);
    let records = frames(&first);
    let original = std::fs::read(&first).unwrap();
    let second_bytes = std::fs::read(&second).unwrap();
    // Damage record 2 ("put b 2"): records 2 and 3 and all of segment 2 go.
    flip(&first, records[1].offset + 10);
    let damaged = std::fs::read(&first).unwrap();
    let dropped = original.len() as u64 - records[1].offset;
    let out = stdout(inmem(d).arg("repair"), 0);
    let copy = damaged_copy(d, SEGMENT_1);
    let aside = damaged_copy(d, SEGMENT_2);
    assert_eq!(
        out,
        format!(
            "{}: cut at offset {} (record checksum mismatch); {dropped} bytes dropped, copy in {}\n\
             {}: set aside as {} (follows a damaged segment)\n",
            first.display(),
            records[1].offset,
            copy.display(),
            second.display(),
            aside.display()
        )
    );
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        damaged,
        "the copy is the damaged file"
    );
    assert_eq!(std::fs::read(&aside).unwrap(), second_bytes);
    assert_eq!(
        std::fs::read(&first).unwrap(),
        original[..records[1].offset as usize]
    );
    assert!(!second.exists());
    let db = open(d, &clock);
    assert_eq!(
        items(&db),
        [item("a", "1", None)],
        "the records before the damage"
    );
    assert!(db.recovery().warnings.is_empty());
    exec(&db, "put z 26");
    close(db);
    let db = open(d, &clock);
    assert_eq!(items(&db), [item("a", "1", None), item("z", "26", None)]);
    close(db);
    assert_eq!(
        stdout(inmem(d).arg("repair"), 0),
        format!("{}: nothing to repair\n", d.display())
    );
}

#[test]
fn repair_cuts_a_torn_tail_and_a_damaged_header_segment() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_segments(d, &clock);
    let second = d.join(SEGMENT_2);
    let tail = *frames(&second).last().unwrap();
    set_len(&second, tail.end - 2);
    let out = stdout(inmem(d).arg("repair"), 0);
    assert!(
        out.starts_with(&format!(
            "{}: cut at offset {} (record of {} bytes is cut short); {} bytes dropped, copy in ",
            second.display(),
            tail.offset,
            tail.payload_len(),
            tail.end - 2 - tail.offset
        )),
        "{out}"
    );
    assert_eq!(file_len(&second), tail.offset);
    damaged_copy(d, SEGMENT_2);
    // A segment whose header is damaged holds nothing usable: it is removed
    // (a copy kept), and the database opens with the earlier segments.
    flip(&second, 0);
    let out = stdout(inmem(d).arg("repair"), 0);
    assert!(
        out.contains("cut at offset 0 (not an inmem log segment (bad magic bytes))"),
        "{out}"
    );
    assert!(!second.exists());
    let db = open(d, &clock);
    assert_eq!(
        items(&db),
        [
            item("a", "1", None),
            item("b", "2", None),
            item("c", "3", None),
            item("d", "4", None)
        ]
    );
    close(db);
}

#[test]
fn repair_of_a_damaged_snapshot_keeps_its_good_chunks() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    snapshot_with_log(d, &clock);
    let path = d.join("snapshot.db");
    let snap = read_snapshot(&path);
    let bad = &snap.chunks[2];
    flip(&path, bad.offset as u64 + 12);
    let damaged = std::fs::read(&path).unwrap();
    let kept: Vec<_> = snap.chunks[..2]
        .iter()
        .flat_map(|c| c.entries.clone())
        .collect();
    let out = stdout(inmem(d).arg("repair"), 0);
    let copy = damaged_copy(d, "snapshot.db");
    assert_eq!(
        out,
        format!(
            "{}: kept {} keys before offset {} (chunk checksum mismatch); copy in {}\n",
            path.display(),
            kept.len(),
            bad.offset,
            copy.display()
        )
    );
    assert_eq!(std::fs::read(&copy).unwrap(), damaged);
    let repaired = read_snapshot(&path);
    assert_eq!(
        (repaired.seq, repaired.keys, repaired.chunks.len()),
        (60, kept.len() as u64, 2)
    );
    let db = open(d, &clock);
    // The good chunks' keys, then the log after the snapshot (put late, delete k00).
    let mut expected: Items = kept
        .iter()
        .filter(|(k, _, _)| k != "k00")
        .map(|(k, v, _)| item(k, v, None))
        .collect();
    expected.push(item("late", "1", None));
    expected.sort();
    assert_eq!(items(&db), expected);
    close(db);
    assert_eq!(
        stdout(inmem(d).arg("check"), 0).matches(": ok: ").count(),
        2
    );
}

#[test]
fn repair_of_a_snapshot_with_a_cut_trailer_keeps_every_chunk() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let expected = snapshot_with_log(d, &clock);
    let path = d.join("snapshot.db");
    let snap = read_snapshot(&path);
    set_len(&path, snap.trailer as u64 + 10);
    let out = stdout(inmem(d).arg("repair"), 0);
    let copy = damaged_copy(d, "snapshot.db");
    assert_eq!(
        out,
        format!(
            "{}: kept 60 keys before offset {} (trailer is cut short); copy in {}\n",
            path.display(),
            snap.trailer,
            copy.display()
        )
    );
    let repaired = read_snapshot(&path);
    assert_eq!((repaired.seq, repaired.keys), (60, 60));
    assert_eq!(repaired.chunks.len(), snap.chunks.len());
    let db = open(d, &clock);
    assert_eq!(items(&db), expected);
    close(db);
}

#[test]
fn repair_of_a_snapshot_with_an_unreadable_header_lets_the_database_open() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    snapshot_with_log(d, &clock);
    let path = d.join("snapshot.db");
    flip(&path, 0);
    let out = stdout(inmem(d).arg("repair"), 0);
    let copy = damaged_copy(d, "snapshot.db");
    assert_eq!(
        out,
        format!(
            "{}: unreadable header (not an inmem snapshot (bad magic bytes)); its keys are lost, \
             replaced by an empty snapshot covering records up to 60 so the log after it replays; \
             copy in {}\n",
            path.display(),
            copy.display()
        )
    );
    let snap = read_snapshot(&path);
    assert_eq!((snap.seq, snap.keys, snap.chunks.len()), (60, 0, 0));
    // The snapshot's keys are lost with its header, but the log after it
    // (records 61 and 62) is still there and must be usable.
    let db = open(d, &clock);
    assert_eq!(items(&db), [item("late", "1", None)]);
    close(db);
    assert_eq!(
        stdout(inmem(d).arg("check"), 0).matches(": ok: ").count(),
        2
    );
}

// ---------------------------------------------------------------------------
// 4. Crashes while a snapshot is written.

/// A hook that fails once, at `step`, when armed, and leaves a temporary file
/// behind as a crash at that moment would.
fn crash_hook(dir: PathBuf, step: Step, armed: Arc<AtomicBool>) -> Arc<StepHook> {
    Arc::new(move |at: Step| {
        if at == step && armed.swap(false, Ordering::SeqCst) {
            let temps = temp_names(&dir);
            if at == Step::TempSynced {
                assert_eq!(temps.len(), 1, "the complete temporary file");
                std::fs::copy(dir.join(&temps[0]), dir.join(".snapshot-1-2.tmp"))?;
            } else {
                assert!(temps.is_empty(), "{temps:?}");
                std::fs::write(dir.join(".snapshot-1-2.tmp"), b"half a snapshot")?;
            }
            return Err(std::io::Error::other(format!("injected crash at {at:?}")));
        }
        Ok(())
    })
}

#[test]
fn a_crash_at_any_snapshot_step_loses_and_duplicates_nothing() {
    for step in [
        Step::TempSynced,
        Step::Renamed,
        Step::DirSynced,
        Step::LogTrimmed,
    ] {
        let clock = ManualClock::new(START_MS);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let armed = Arc::new(AtomicBool::new(false));
        let mut opts = options(d, &clock);
        opts.persistence.hook = crash_hook(d.to_path_buf(), step, armed.clone());
        let db = open_with(opts);
        // Counters reveal a record applied twice; puts and deletes reveal one lost.
        exec(
            &db,
            "put a 1; put b 2; put gone 0; incr ctr 1; put ttl x 100",
        );
        exec(&db, "save");
        assert_eq!(read_snapshot(&d.join("snapshot.db")).seq, 5);
        exec(&db, "put b 20; delete gone; incr ctr 10; put c 3");
        armed.store(true, Ordering::SeqCst);
        let err = try_exec(&db, "save").unwrap_err();
        assert_eq!(err, format!("injected crash at {step:?}"), "{step:?}");
        let status = db.persistence().status();
        assert_eq!(status.saved_seq, 5, "{step:?}");
        assert!(matches!(status.result, Some(Err(_))), "{step:?}");
        let renamed = step != Step::TempSynced;
        assert_eq!(
            read_snapshot(&d.join("snapshot.db")).seq,
            if renamed { 9 } else { 5 },
            "{step:?}"
        );
        exec(&db, "incr ctr 100; put d 4; delete a");
        let expected = items(&db);
        assert_eq!(
            expected,
            [
                item("b", "20", None),
                item("c", "3", None),
                item("ctr", "111", None),
                item("d", "4", None),
                item("ttl", "x", Some(START_MS + 100_000)),
            ],
            "{step:?}"
        );
        close(db);
        assert_eq!(temp_names(d), [".snapshot-1-2.tmp"], "{step:?}");
        // Before the log was trimmed, the segment the new snapshot covers is
        // still there: its records must be skipped, not replayed again.
        assert_eq!(
            d.join(SEGMENT_2).exists(),
            step != Step::LogTrimmed,
            "{step:?}"
        );

        let db = open(d, &clock);
        assert_eq!(items(&db), expected, "{step:?}");
        assert!(db.recovery().warnings.is_empty(), "{step:?}");
        assert!(temp_names(d).is_empty(), "{step:?}: {:?}", temp_names(d));
        let written = db.persistence().save(db.engine()).unwrap();
        assert_eq!((written.seq, written.keys), (12, 5), "{step:?}");
        assert!(
            segment_names(d).is_empty(),
            "{step:?}: {:?}",
            segment_names(d)
        );
        exec(&db, "incr ctr 1000; put e 5");
        let expected = items(&db);
        close(db);
        let db = open(d, &clock);
        assert_eq!(items(&db), expected, "{step:?}");
        assert_eq!(
            (db.recovery().snapshot_keys, db.recovery().records),
            (5, 2),
            "{step:?}"
        );
        close(db);
    }
}

#[test]
fn a_snapshot_taken_while_writers_run_is_consistent_and_reopens_to_the_final_state() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = open(d, &clock);
    let load: Vec<_> = (0..30_000)
        .map(|i| inmem::engine::Mutation::Put {
            key: format!("key:{i:05}").into_bytes().into(),
            value: format!("v{i}").into_bytes().into(),
            expires_at: None,
        })
        .collect();
    db.engine().commit("0", load).unwrap();
    db.engine().run("ns1", &put("other", "ns")).unwrap();
    let writer = Writer::spawn(&db, |db, i| {
        let n = i.to_string();
        // A pair written atomically: any consistent image holds equal values.
        db.engine()
            .run_atomic("0", &[put("pair:a", &n), put("pair:b", &n)])
            .unwrap();
        db.engine()
            .run("0", &put(&format!("key:{:05}", i * 7 % 30_000), &n))
            .unwrap();
        db.engine()
            .run(
                "0",
                &Op::Delete(vec![format!("key:{:05}", i * 13 % 30_000).into_bytes()]),
            )
            .unwrap();
        db.engine()
            .run("ns1", &put(&format!("n{}", i % 50), &n))
            .unwrap();
    });
    writer.wait_for(10);
    let at_start = writer.count();
    let written = db.persistence().save(db.engine()).unwrap();
    let during = writer.count() - at_start;
    writer.wait_for(writer.count() + 50);
    writer.stop();
    assert!(during > 0, "the writer ran while the snapshot was written");

    let snap = read_snapshot(&d.join("snapshot.db"));
    assert_eq!(snap.seq, written.seq);
    assert_eq!(snap.keys, written.keys);
    let pair = |k: &str| {
        snap.chunks
            .iter()
            .filter(|c| c.namespace == "0")
            .flat_map(|c| &c.entries)
            .find(|(key, _, _)| key == k)
            .map(|(_, v, _)| v.clone())
    };
    assert_eq!(pair("pair:a"), pair("pair:b"), "the image is one moment");
    assert!(pair("pair:a").is_some());

    let expected = state(&db);
    assert_eq!(expected.len(), 2);
    close(db);
    let db = open(d, &clock);
    assert_eq!(state(&db), expected);
    assert!(
        db.recovery().records > 0,
        "records after the snapshot were replayed"
    );
    close(db);
}

/// Copies the data directory's files (not its lock) to `to`: what a process
/// killed at this moment would leave, every write being in the OS.
fn copy_files(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        if entry.file_name() != "LOCK" {
            std::fs::copy(entry.path(), to.join(entry.file_name()))?;
        }
    }
    Ok(())
}

fn switch_temp_names(dir: &Path) -> Vec<String> {
    names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".aof.new"))
        .collect()
}

#[test]
fn a_crash_at_any_segment_switch_step_loses_and_duplicates_nothing() {
    for step in [
        Step::SegmentPrepared,
        Step::SegmentSwitched,
        Step::SegmentNamed,
    ] {
        let clock = ManualClock::new(START_MS);
        let dir = tempfile::tempdir().unwrap();
        let crashed = tempfile::tempdir().unwrap();
        let d = dir.path();
        let live: Arc<std::sync::OnceLock<std::sync::Weak<Db>>> = Arc::default();
        let armed = Arc::new(AtomicBool::new(false));
        let mut opts = options(d, &clock);
        opts.persistence.fsync = inmem::persist::log::Fsync::Everysec;
        opts.persistence.hook = {
            let (live, armed, from, to) = (
                live.clone(),
                armed.clone(),
                d.to_path_buf(),
                crashed.path().to_path_buf(),
            );
            Arc::new(move |at: Step| {
                if at != step || !armed.swap(false, Ordering::SeqCst) {
                    return Ok(());
                }
                // A writer acknowledges in the middle of the switch...
                if let Some(db) = live.get().and_then(std::sync::Weak::upgrade) {
                    exec(&db, "incr ctr 1000; put mid 1");
                    db.acknowledge().map_err(std::io::Error::other)?;
                }
                // ...then the process dies.
                copy_files(&from, &to)?;
                Err(std::io::Error::other(format!("injected crash at {at:?}")))
            })
        };
        let db = open_with(opts);
        live.set(Arc::downgrade(&db)).unwrap();
        exec(&db, "put a 1; put gone 0; incr ctr 1");
        db.acknowledge().unwrap();
        armed.store(true, Ordering::SeqCst);
        let err = try_exec(&db, "save").unwrap_err();
        assert!(
            err.contains(&format!("injected crash at {step:?}")),
            "{err}"
        );
        // The live database goes on: a flush finishes the switch if the
        // failure stopped it there (the background thread would retry).
        db.persistence().log().flush(true).unwrap();
        exec(&db, "delete gone; incr ctr 10");
        let expected = items(&db);
        close(db);
        assert!(switch_temp_names(d).is_empty(), "{step:?}: {:?}", names(d));
        let db = open(d, &clock);
        assert_eq!(items(&db), expected, "{step:?}");
        assert!(db.recovery().warnings.is_empty(), "{step:?}");
        close(db);

        let db = open(crashed.path(), &clock);
        assert_eq!(
            items(&db),
            [
                item("a", "1", None),
                item("ctr", "1001", None),
                item("gone", "0", None),
                item("mid", "1", None),
            ],
            "{step:?}"
        );
        assert!(db.recovery().warnings.is_empty(), "{step:?}");
        assert!(
            switch_temp_names(crashed.path()).is_empty(),
            "{step:?}: {:?}",
            names(crashed.path())
        );
        exec(&db, "incr ctr 1");
        close(db);
        let db = open(crashed.path(), &clock);
        assert_eq!(items(&db)[1], item("ctr", "1002", None), "{step:?}");
        close(db);
    }
}

// ---------------------------------------------------------------------------
// 5. Compaction.

#[test]
fn compact_drops_the_segments_the_snapshot_covers() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    two_segments(d, &clock);
    assert_eq!(segment_names(d), [SEGMENT_1, SEGMENT_2]);
    let db = open(d, &clock);
    exec(&db, "put h 8");
    assert_eq!(try_exec(&db, "compact"), Ok(Reply::Ok));
    assert_eq!(
        names(d),
        [SEGMENT_4, "snapshot.db"],
        "every segment before the one the snapshot started is covered"
    );
    assert!(segments_with_records(d).is_empty());
    assert_eq!(read_snapshot(&d.join("snapshot.db")).seq, 8);
    exec(&db, "put i 9; delete b; incr n");
    db.acknowledge().unwrap();
    assert_eq!(names(d), [SEGMENT_4, "snapshot.db"]);
    let expected = items(&db);
    close(db);
    let log = frames(&d.join(SEGMENT_4));
    assert_eq!(
        log.iter().map(|f| f.seq).collect::<Vec<_>>(),
        [9, 10, 11],
        "only records written after the snapshot"
    );
    let db = open(d, &clock);
    assert_eq!(items(&db), expected);
    assert_eq!((db.recovery().snapshot_keys, db.recovery().records), (7, 3));
    close(db);
}

#[test]
fn the_log_is_compacted_automatically_past_the_threshold() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut opts = options(d, &clock);
    opts.persistence.compact_threshold = 4096;
    let db = open_with(opts.clone());
    exec(&db, "put small 1; put other 2");
    let big = "x".repeat(5000);
    assert!(db.persistence().log().bytes_since_checkpoint() < 4096);
    // One record takes the log past the threshold at once.
    exec(&db, &format!("put big {big}"));
    assert!(
        db.persistence().log().bytes_since_checkpoint() >= 4096 || d.join("snapshot.db").exists()
    );
    // Run the background duty now rather than waiting for it (if the
    // background thread got there first, this finds nothing to do).
    assert_eq!(
        db.persistence().tick(db.engine(), &mut Instant::now()),
        None
    );
    let status = db.persistence().status();
    assert_eq!(status.saved_seq, 3);
    assert!(matches!(status.result, Some(Ok(w)) if w.seq == 3 && w.keys == 3));
    assert_eq!(names(d), [SEGMENT_2, "snapshot.db"]);
    assert!(segments_with_records(d).is_empty());
    assert!(db.persistence().log().bytes_since_checkpoint() < 4096);

    // The background thread does the same on its own within a few seconds.
    exec(&db, "put after 1");
    exec(&db, &format!("put big2 {big}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while db.persistence().status().saved_seq < 5 {
        assert!(Instant::now() < deadline, "no automatic compaction");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(read_snapshot(&d.join("snapshot.db")).seq, 5);
    assert_eq!(segment_names(d), [SEGMENT_3]);
    assert!(segments_with_records(d).is_empty());
    exec(&db, "put last 1");
    let expected = items(&db);
    close(db);
    let db = open_with(opts);
    assert_eq!(items(&db), expected);
    assert_eq!((db.recovery().snapshot_keys, db.recovery().records), (5, 1));
    close(db);
}

#[test]
fn a_backup_does_not_postpone_automatic_compaction() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let mut opts = options(&d, &clock);
    opts.persistence.compact_threshold = 4096;
    let db = open_with(opts);
    let value = "x".repeat(3000);
    exec(&db, &format!("put a {value}"));
    exec(
        &db,
        &format!("backup {}", dir.path().join("b.db").display()),
    );
    exec(&db, &format!("put b {value}"));
    db.acknowledge().unwrap();
    let log_bytes: u64 = segment_names(&d).iter().map(|n| file_len(&d.join(n))).sum();
    assert!(log_bytes > 6000, "{log_bytes}");
    db.persistence().tick(db.engine(), &mut Instant::now());
    assert_eq!(
        db.persistence().status().saved_seq,
        2,
        "{log_bytes} log bytes are past the 4096-byte threshold, but {} are counted",
        db.persistence().log().bytes_since_checkpoint()
    );
    close(db);
}

// ---------------------------------------------------------------------------
// 6. The lock file.

#[test]
fn a_second_open_of_the_same_directory_is_refused_with_the_holders_pid() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = open(d, &clock);
    exec(&db, "put a 1");
    db.acknowledge().unwrap();
    let before = files(d);
    let err = open_err(options(d, &clock));
    assert!(matches!(err, OpenError::Lock(_)), "{err}");
    assert_eq!(
        err.to_string(),
        format!(
            "data directory {} is in use by another inmem process (pid {})",
            d.display(),
            std::process::id()
        )
    );
    // The binary is refused too, and says who holds the directory.
    inmem(d)
        .args(["-c", "put b 2"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "inmem: data directory {} is in use by another inmem process (pid {})\n",
            d.display(),
            std::process::id()
        ));
    inmem(d)
        .arg("repair")
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "is in use by another inmem process",
        ));
    assert_eq!(files(d), before, "nothing was touched");
    exec(&db, "put c 3");
    close(db);
    let db = open(d, &clock);
    assert_eq!(items(&db), [item("a", "1", None), item("c", "3", None)]);
    close(db);
}

#[test]
fn a_second_inmem_process_exits_2_while_the_first_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut first = std::process::Command::new(assert_cmd::cargo::cargo_bin("inmem"))
        .arg("--data-dir")
        .arg(d)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = first.stdin.take().unwrap();
    let mut lines = BufReader::new(first.stdout.take().unwrap()).lines();
    writeln!(stdin, "put a 1").unwrap();
    stdin.flush().unwrap();
    assert_eq!(
        lines.next().unwrap().unwrap(),
        "OK",
        "the first process is up"
    );
    inmem(d)
        .args(["-c", "put b 2"])
        .assert()
        .code(2)
        .stdout("")
        .stderr(format!(
            "inmem: data directory {} is in use by another inmem process (pid {})\n",
            d.display(),
            first.id()
        ));
    writeln!(stdin, "put c 3\nkeys").unwrap();
    drop(stdin);
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert_eq!(rest, ["OK", "a", "c"]);
    assert!(first.wait().unwrap().success());
    inmem(d).arg("check").assert().success();
    inmem(d)
        .args(["-c", "items"])
        .assert()
        .success()
        .stdout("a\t1\nc\t3\n");
}

// ---------------------------------------------------------------------------
// 7. TTLs across a restart.

#[test]
fn deadlines_are_absolute_across_a_restart() {
    for snapshot in [false, true] {
        let clock = ManualClock::new(START_MS);
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let db = open(d, &clock);
        exec(
            &db,
            "put long v 100; put short v 10; put px v px 29999; put edge v 30; put forever v; \
             put gone v 5; put persisted v 10; put extended v 10",
        );
        if snapshot {
            exec(&db, "save");
        }
        clock.advance(5_000);
        // Changed in the log while the snapshot still holds the old deadlines.
        exec(
            &db,
            "persist persisted; expire extended 100; expire short 60",
        );
        close(db);
        // Down for 25 seconds: now START + 30 s.
        clock.advance(25_000);
        let db = open(d, &clock);
        assert_eq!(
            items(&db),
            [
                item("extended", "v", Some(START_MS + 105_000)),
                item("forever", "v", None),
                item("long", "v", Some(START_MS + 100_000)),
                item("persisted", "v", None),
                item("short", "v", Some(START_MS + 65_000)),
            ],
            "snapshot: {snapshot}"
        );
        assert_eq!(
            db.engine().stored_len(),
            5,
            "snapshot: {snapshot}: keys that expired while down were removed, not just hidden"
        );
        let r = |t: &str| try_exec(&db, t).unwrap();
        assert_eq!(r("ttl long"), Reply::Int(70));
        assert_eq!(r("ttl short"), Reply::Int(35));
        assert_eq!(r("ttl forever"), Reply::Int(-1));
        assert_eq!(
            r("ttl edge"),
            Reply::Int(-2),
            "a deadline equal to now has passed"
        );
        assert_eq!(r("get px"), Reply::Nil);
        assert_eq!(r("get gone"), Reply::Nil);
        // Saved again, the expired keys are not written back.
        exec(&db, "save");
        let snap = read_snapshot(&d.join("snapshot.db"));
        assert_eq!(snap.keys, 5, "snapshot: {snapshot}");
        close(db);
        clock.advance(40_000);
        let db = open(d, &clock);
        assert_eq!(
            items(&db),
            [
                item("extended", "v", Some(START_MS + 105_000)),
                item("forever", "v", None),
                item("long", "v", Some(START_MS + 100_000)),
                item("persisted", "v", None),
            ],
            "snapshot: {snapshot}"
        );
        close(db);
    }
}

// ---------------------------------------------------------------------------
// 8. Backup and restore; export and import.

#[test]
fn backup_while_writing_then_restore_replaces_everything() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let backup = dir.path().join("backup.db");
    let db = open(&d, &clock);
    let load: Vec<_> = (0..20_000)
        .map(|i| inmem::engine::Mutation::Put {
            key: format!("key:{i:05}").into_bytes().into(),
            value: b"v".to_vec().into(),
            expires_at: (i % 2 == 0).then_some(START_MS + 1_000_000),
        })
        .collect();
    db.engine().commit("0", load).unwrap();
    db.engine().run("ns1", &put("in-ns1", "1")).unwrap();
    let writer = Writer::spawn(&db, |db, i| {
        let n = i.to_string();
        db.engine()
            .run_atomic("0", &[put("pair:a", &n), put("pair:b", &n)])
            .unwrap();
        db.engine().run("0", &put(&format!("new:{i}"), &n)).unwrap();
    });
    writer.wait_for(10);
    assert_eq!(
        try_exec(&db, &format!("backup {}", backup.display())),
        Ok(Reply::Ok)
    );
    writer.wait_for(writer.count() + 20);
    writer.stop();
    assert!(temp_names(dir.path()).is_empty());
    assert!(
        !d.join("snapshot.db").exists(),
        "a backup is not a snapshot"
    );

    // What the backup holds, read independently.
    let snap = read_snapshot(&backup);
    let mut in_backup: BTreeMap<String, Items> = BTreeMap::new();
    for chunk in &snap.chunks {
        for (k, v, at) in &chunk.entries {
            in_backup
                .entry(chunk.namespace.clone())
                .or_default()
                .push(item(k, v, (*at != 0).then_some(*at)));
        }
    }
    in_backup.values_mut().for_each(|v| v.sort());
    let zero = &in_backup["0"];
    let value = |k: &str| {
        zero.iter()
            .find(|(key, _, _)| key == k)
            .map(|i| i.1.clone())
    };
    assert_eq!(value("pair:a"), value("pair:b"), "the backup is one moment");
    assert_eq!(in_backup["ns1"], [item("in-ns1", "1", None)]);
    assert!(zero.contains(&item("key:00000", "v", Some(START_MS + 1_000_000))));
    let written_after: Vec<_> = items(&db)
        .into_iter()
        .filter(|i| !zero.contains(i))
        .collect();
    assert!(!written_after.is_empty(), "writes went on after the backup");

    // A damaged backup is refused and changes nothing.
    let damaged = dir.path().join("damaged.db");
    let mut bytes = std::fs::read(&backup).unwrap();
    let at = snap.chunks[3].offset + 30;
    bytes[at] ^= 0xff;
    std::fs::write(&damaged, &bytes).unwrap();
    db.acknowledge().unwrap();
    let (state_before, files_before) = (state(&db), files(&d));
    let err = try_exec(&db, &format!("restore {}", damaged.display())).unwrap_err();
    assert_eq!(
        err,
        format!(
            "{}: damaged at offset {}: chunk checksum mismatch",
            damaged.display(),
            snap.chunks[3].offset
        )
    );
    assert_eq!(state(&db), state_before);
    assert_eq!(files(&d), files_before);

    // A good one replaces everything: keys written after it disappear.
    exec(&db, "put extra 1");
    exec(&db, "save");
    exec(&db, "put extra2 1");
    let keys = zero.len() + 1;
    assert_eq!(
        try_exec(&db, &format!("restore {}", backup.display())),
        Ok(Reply::Int(keys as i64))
    );
    assert_eq!(items(&db), *zero);
    assert_eq!(items_in(&db, "ns1"), in_backup["ns1"]);
    assert_eq!(try_exec(&db, "get extra"), Ok(Reply::Nil));
    assert!(
        segments_with_records(&d).is_empty(),
        "the restored snapshot covers the whole log: {:?}",
        segment_names(&d)
    );
    exec(&db, "put after-restore 1");
    let expected = state(&db);
    close(db);
    let db = open(&d, &clock);
    assert_eq!(state(&db), expected);
    assert_eq!(db.recovery().records, 1);
    close(db);
}

#[test]
fn backup_and_restore_accept_a_bare_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::cargo_bin("inmem").unwrap();
    cmd.current_dir(dir.path())
        .args(["--data-dir", "data", "-c"])
        .arg("put a 1; backup b.db; put c 3; restore b.db; keys; export e.json; import e.json")
        .assert()
        .success()
        .stdout("OK\nOK\nOK\n1\na\n1\n1\n")
        .stderr("");
    assert_eq!(read_snapshot(&dir.path().join("b.db")).keys, 1);
    assert!(temp_names(dir.path()).is_empty());
}

fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn import_is_one_atomic_record_and_export_round_trips() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("data");
    let db = open(&d, &clock);
    exec(&db, "put existing 1; put username old");
    let seeds = write_file(
        dir.path(),
        "seed.json",
        r#"{"session:abc": {"value": "user_data", "expires_at": 1739456789.5},
            "username": {"value": "john_doe", "expires_at": null},
            "stale": {"value": "x", "expires_at": 1600000000},
            "binary": {"value": {"base64": "/wA="}}}"#,
    );
    let plain = write_file(
        dir.path(),
        "plain.json",
        r#"{"key1": "value1", "key2": "value2"}"#,
    );
    assert_eq!(
        try_exec(&db, &format!("import {}", seeds.display())),
        Ok(Reply::Int(3)),
        "the entry already expired is skipped"
    );
    assert_eq!(
        try_exec(&db, &format!("import {}", plain.display())),
        Ok(Reply::Int(2))
    );
    db.acknowledge().unwrap();
    let log = frames(&d.join(SEGMENT_1));
    assert_eq!(
        log.iter().map(|f| (f.seq, f.mutations)).collect::<Vec<_>>(),
        [(1, 1), (2, 1), (3, 3), (4, 2)],
        "each import is one record"
    );

    // Malformed files import nothing, and say where.
    let before = (items_in_lossy(&db), files(&d));
    let broken = write_file(dir.path(), "broken.json", "{\"a\": \"1\",\n \"b\" 2}");
    let err = try_exec(&db, &format!("import {}", broken.display())).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "{}: malformed JSON at line 2, column 6",
            broken.display()
        )),
        "{err}"
    );
    // Valid JSON with one bad entry: the good entries are not imported either.
    let half = write_file(dir.path(), "half.json", r#"{"a": "1", "b": 3, "c": "2"}"#);
    let err = try_exec(&db, &format!("import {}", half.display())).unwrap_err();
    assert!(err.contains("key \"b\""), "{err}");
    db.acknowledge().unwrap();
    assert_eq!((items_in_lossy(&db), files(&d)), before);

    let expected = [
        item("binary", "", None),
        item("existing", "1", None),
        item("key1", "value1", None),
        item("key2", "value2", None),
        item("session:abc", "user_data", Some(1_739_456_789_500)),
        item("username", "john_doe", None),
    ];
    let check = |db: &Db| {
        let mut got = items_in_lossy(db);
        got.sort();
        assert_eq!(got, expected);
        let binary = db
            .engine()
            .entries("0")
            .into_iter()
            .find(|(k, _)| k == b"binary");
        assert_eq!(&*binary.unwrap().1.value, b"\xff\x00");
    };
    check(&db);
    // Export, then import into an empty database: the same content.
    let exported = dir.path().join("out.json");
    assert_eq!(
        try_exec(&db, &format!("export {}", exported.display())),
        Ok(Reply::Int(6))
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&exported).unwrap()).unwrap();
    assert_eq!(
        doc["session:abc"],
        serde_json::json!({"value": "user_data", "expires_at": 1739456789.5})
    );
    assert_eq!(
        doc["binary"],
        serde_json::json!({"value": {"base64": "/wA="}, "expires_at": null})
    );
    close(db);
    let db = open(&d, &clock);
    check(&db);
    close(db);

    let other = dir.path().join("other");
    let db = open(&other, &clock);
    assert_eq!(
        try_exec(&db, &format!("import {}", exported.display())),
        Ok(Reply::Int(6))
    );
    close(db);
    let db = open(&other, &clock);
    check(&db);
    assert_eq!(db.recovery().records, 1);
    close(db);
}

/// Like [`items`], but shows non-UTF-8 values as empty strings.
fn items_in_lossy(db: &Db) -> Items {
    db.engine()
        .entries("0")
        .into_iter()
        .map(|(k, e)| {
            (
                String::from_utf8(k).unwrap(),
                String::from_utf8(e.value.to_vec()).unwrap_or_default(),
                e.expires_at,
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// 9. Namespaces.

#[test]
fn namespaces_survive_snapshots_log_replay_and_torn_tails() {
    let clock = ManualClock::new(START_MS);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = open(d, &clock);
    let engine = db.engine();
    engine.run("0", &put("k", "default")).unwrap();
    engine.run("ns1", &put("k", "one")).unwrap();
    engine
        .run(
            "ns1",
            &Op::Put {
                key: b"t".to_vec(),
                value: b"ttl".to_vec(),
                ttl_ms: Some(60_000),
            },
        )
        .unwrap();
    db.persistence().save(engine).unwrap();
    // After the snapshot: a new namespace, and changes to the others.
    engine
        .run_atomic("ns2", &[put("a", "1"), put("b", "2")])
        .unwrap();
    engine.run("ns1", &Op::Delete(vec![b"k".to_vec()])).unwrap();
    assert_eq!(engine.run("ns1", &Op::Clear), Ok(Reply::Ok));
    engine.run("ns1", &put("after-clear", "x")).unwrap();
    let expected = state(&db);
    assert_eq!(
        expected.keys().copied().collect::<Vec<_>>(),
        ["0", "ns1", "ns2"]
    );
    assert_eq!(items_in(&db, "ns1"), [item("after-clear", "x", None)]);
    close(db);
    let db = open(d, &clock);
    assert_eq!(state(&db), expected);
    // A torn last record of ns1 leaves the other namespaces alone.
    close(db);
    let segment = d.join(SEGMENT_2);
    let last = *frames(&segment).last().unwrap();
    set_len(&segment, last.end - 1);
    let db = open(d, &clock);
    let mut torn = expected.clone();
    torn.remove("ns1");
    let got = state(&db);
    assert_eq!(got.get("0"), torn.get("0"));
    assert_eq!(got.get("ns2"), torn.get("ns2"));
    assert_eq!(
        got.get("ns1"),
        None,
        "ns1 was cleared; its last put was torn"
    );
    close(db);
}

//! Durability promises under crashes, power loss and I/O errors:
//!
//! - `kill -9` of the real binary at random moments, under `always` (every
//!   acknowledged write survives) and `everysec` (recovery succeeds with a
//!   prefix of the statements; no gaps, never half a batch);
//! - power loss on the simulated disk ([`SimDisk::cut_power`]) with torn tails:
//!   `always` keeps every acknowledged write (also with concurrent writers
//!   sharing fsyncs), `everysec` loses what came after the last fsync, a torn
//!   record is cut with a warning and never served, and a clean close loses
//!   nothing under any policy;
//! - injected write and fsync failures and a full disk, at every I/O step of a
//!   workload that spans two log segments and a snapshot;
//! - the binary under `always` exits 3 when the real file system refuses a
//!   log write (RLIMIT_FSIZE);
//! - a proptest model of put/delete/incr/expire/persist/ttl/transactions/batch/
//!   save/compact/restart/power cut against a `HashMap`, with a manual clock.
//!
//! Random choices come from a seeded xorshift; set `CRASH_SEED` to replay a run.

use inmem::command::Reply;
use inmem::command::grammar;
use inmem::engine::ManualClock;
use inmem::persist::disk::{Disk, DiskFile, SimDisk};
use inmem::persist::log::{Fsync, HEADER_LEN, MAGIC, segment_number};
use inmem::session::Session;
use inmem::{Db, Options};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_inmem");

// ---------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------

/// xorshift64*: small, seeded, good enough to pick kill points and workloads.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The seed for this run: `CRASH_SEED` or a fixed default, mixed with a per-test salt.
fn seed(salt: u64) -> u64 {
    let base = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x1EE7_C0DE);
    base ^ salt.wrapping_mul(0x1000_0000_01B3)
}

/// Options for library tests: no background expiry or snapshots racing the test.
fn options(dir: &Path, fsync: Fsync, disk: Option<Arc<dyn Disk>>) -> Options {
    let mut options = Options::new(dir);
    options.active_expiry = false;
    options.persistence.fsync = fsync;
    options.persistence.snapshot_interval = Duration::from_secs(3600);
    options.persistence.compact_threshold = 0;
    if let Some(disk) = disk {
        options.persistence.disk = disk;
    }
    options
}

/// Opens a database, waiting while the lock is held by this very process: a
/// child that another test thread is spawning holds a copy of every open file
/// (the lock's included) until it execs.
fn open_db(options: Options) -> Result<Arc<Db>, inmem::error::OpenError> {
    let ours = format!("(pid {})", std::process::id());
    let started = Instant::now();
    loop {
        match Db::open(options.clone()) {
            Err(e)
                if e.to_string().contains(&ours) && started.elapsed() < Duration::from_secs(5) =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            result => return result,
        }
    }
}

/// Runs every statement of `text` in `session`; the last reply, or the first error.
fn exec(session: &mut Session, text: &str) -> Result<Reply, String> {
    let statements = grammar::parse(text).map_err(|e| e.to_string())?;
    let mut last = Reply::Nil;
    for statement in &statements {
        last = session
            .execute(statement, text)
            .map_err(|e| e.error.to_string())?;
    }
    Ok(last)
}

type State = BTreeMap<String, String>;

/// The default namespace's live keys and values.
fn state_of(db: &Db) -> State {
    db.engine()
        .entries("0")
        .into_iter()
        .map(|(k, e)| {
            (
                String::from_utf8(k).unwrap(),
                String::from_utf8(e.value.to_vec()).unwrap(),
            )
        })
        .collect()
}

/// Log segment files in `dir`, oldest first.
fn segment_files(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut found: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.unwrap();
            let n = segment_number(e.file_name().to_str()?)?;
            Some((n, e.path()))
        })
        .collect();
    found.sort();
    found
}

fn segment_sizes(dir: &Path) -> BTreeMap<u64, u64> {
    segment_files(dir)
        .into_iter()
        .map(|(n, p)| (n, std::fs::metadata(p).unwrap().len()))
        .collect()
}

/// Reads every log record's sequence number with an independent parser of
/// the documented frame format, asserting that every segment has a good
/// header, every record is complete with a good checksum (nothing torn or
/// damaged in the middle or at the end), and the numbers run on without
/// gaps or duplicates across segments.
fn scan_log(dir: &Path) -> Vec<u64> {
    let mut seqs: Vec<u64> = Vec::new();
    for (_, path) in segment_files(dir) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            bytes.len() >= HEADER_LEN,
            "{}: short header",
            path.display()
        );
        assert_eq!(&bytes[..8], MAGIC, "{}: bad magic", path.display());
        let mut pos = HEADER_LEN;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            assert!(rest.len() >= 8, "{}: torn frame at {pos}", path.display());
            let len = u32::from_le_bytes(rest[0..4].try_into().unwrap()) as usize;
            let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap());
            assert!(
                rest.len() >= 8 + len,
                "{}: torn record at {pos}",
                path.display()
            );
            let payload = &rest[8..8 + len];
            assert_eq!(
                crc32fast::hash(payload),
                crc,
                "{}: bad checksum at {pos}",
                path.display()
            );
            seqs.push(u64::from_le_bytes(payload[0..8].try_into().unwrap()));
            pos += 8 + len;
        }
    }
    for pair in seqs.windows(2) {
        assert_eq!(
            pair[1],
            pair[0] + 1,
            "log records must run on without gaps or duplicates: {seqs:?}"
        );
    }
    seqs
}

// ---------------------------------------------------------------------------
// The write workload shared by the crash, power and fault tests
// ---------------------------------------------------------------------------

/// One statement of the workload and its effect on a model.
#[derive(Debug, Clone)]
enum Stmt {
    Put(String, String),
    Incr(String, i64),
    Delete(String),
    /// A multi-statement `batch -c "..."`: all of it or none.
    Batch(Vec<Stmt>),
    Save,
}

impl Stmt {
    fn text(&self) -> String {
        match self {
            Stmt::Put(k, v) => format!("put {k} {v}"),
            Stmt::Incr(k, by) => format!("incr {k} {by}"),
            Stmt::Delete(k) => format!("delete {k}"),
            Stmt::Batch(inner) => format!(
                "batch -c \"{}\"",
                inner.iter().map(Stmt::text).collect::<Vec<_>>().join("; ")
            ),
            Stmt::Save => "save".into(),
        }
    }

    /// Key/value writes the statement makes (a batch counts each of its parts).
    fn writes(&self) -> usize {
        match self {
            Stmt::Batch(inner) => inner.len(),
            Stmt::Save => 0,
            _ => 1,
        }
    }

    /// Applies the statement to the model; returns its reply as `--json` prints it.
    fn apply(&self, state: &mut State, touched: &mut Vec<String>) -> Value {
        match self {
            Stmt::Put(k, v) => {
                state.insert(k.clone(), v.clone());
                touched.push(k.clone());
                json!("OK")
            }
            Stmt::Incr(k, by) => {
                let n = state.get(k).map_or(0, |v| v.parse::<i64>().unwrap()) + by;
                state.insert(k.clone(), n.to_string());
                touched.push(k.clone());
                json!(n)
            }
            Stmt::Delete(k) => {
                touched.push(k.clone());
                json!(i64::from(state.remove(k).is_some()))
            }
            Stmt::Batch(inner) => {
                Value::Array(inner.iter().map(|s| s.apply(state, touched)).collect())
            }
            Stmt::Save => json!("OK"),
        }
    }
}

fn apply_all(base: &State, stmts: &[Stmt]) -> State {
    let mut state = base.clone();
    for stmt in stmts {
        stmt.apply(&mut state, &mut Vec::new());
    }
    state
}

/// Generates puts, incrs, deletes, batches and (optionally) saves; keys carry
/// a prefix so rounds on one data directory do not collide, except the shared
/// counters `ctr` and `bctr`.
struct Workload {
    prefix: String,
    next: usize,
    puts: Vec<String>,
    saves: bool,
}

impl Workload {
    fn new(prefix: impl Into<String>, saves: bool) -> Self {
        Workload {
            prefix: prefix.into(),
            next: 0,
            puts: Vec::new(),
            saves,
        }
    }

    fn put(&mut self, i: usize, rng: &mut Rng) -> Stmt {
        let key = format!("{}k{i}", self.prefix);
        self.puts.push(key.clone());
        Stmt::Put(key, format!("v{i}x{:x}", rng.below(1 << 20)))
    }

    fn statement(&mut self, rng: &mut Rng) -> Stmt {
        let i = self.next;
        self.next += 1;
        let p = &self.prefix;
        match rng.below(100) {
            0..=54 => self.put(i, rng),
            55..=69 => Stmt::Incr("ctr".into(), 1),
            70..=84 => Stmt::Batch(vec![
                Stmt::Put(format!("{p}b{i}x"), format!("x{i}")),
                Stmt::Put(format!("{p}b{i}y"), format!("y{i}")),
                Stmt::Incr("bctr".into(), 1),
                Stmt::Incr(format!("{p}b{i}z"), 5),
            ]),
            85..=97 if !self.puts.is_empty() => {
                let j = rng.below(self.puts.len() as u64) as usize;
                Stmt::Delete(self.puts[j].clone())
            }
            98..=99 if self.saves => Stmt::Save,
            _ => self.put(i, rng),
        }
    }
}

/// The first `L` in `lo..=hi` such that `base` plus the first `L` statements is
/// exactly `got`. Tracks the set of differing keys so each step costs only the
/// keys it touches.
fn matching_prefix(
    base: &State,
    stmts: &[Stmt],
    lo: usize,
    hi: usize,
    got: &State,
) -> Option<usize> {
    let mut model = apply_all(base, &stmts[..lo]);
    let mut diff: BTreeSet<String> = model
        .iter()
        .filter(|(k, v)| got.get(*k) != Some(*v))
        .map(|(k, _)| k.clone())
        .chain(got.keys().filter(|k| !model.contains_key(*k)).cloned())
        .collect();
    if diff.is_empty() {
        return Some(lo);
    }
    for (l, stmt) in stmts.iter().enumerate().take(hi).skip(lo) {
        let mut touched = Vec::new();
        stmt.apply(&mut model, &mut touched);
        for key in touched {
            if model.get(&key) == got.get(&key) {
                diff.remove(&key);
            } else {
                diff.insert(key);
            }
        }
        if diff.is_empty() {
            return Some(l + 1);
        }
    }
    None
}

/// Explains a failed prefix match: the keys where `got` differs from the model
/// after `at` statements.
fn explain(base: &State, stmts: &[Stmt], at: usize, got: &State) -> String {
    let model = apply_all(base, &stmts[..at]);
    let keys: BTreeSet<&String> = model.keys().chain(got.keys()).collect();
    let diffs: Vec<String> = keys
        .into_iter()
        .filter(|k| model.get(*k) != got.get(*k))
        .take(10)
        .map(|k| format!("{k}: expected {:?}, found {:?}", model.get(k), got.get(k)))
        .collect();
    format!("after {at} statements: {}", diffs.join("; "))
}

// ---------------------------------------------------------------------------
// 1. kill -9 of the real process
// ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct KillStats {
    kill_points: usize,
    acked_statements: usize,
    acked_writes: usize,
    unacked_but_recovered: usize,
    torn_warnings: usize,
}

/// Reads the whole default namespace through `inmem -c items --json`.
fn items_via_binary(dir: &Path) -> (State, String) {
    let out = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir)
        .args(["--json", "-c", "items"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "restart after the crash failed: {:?}\n{stderr}",
        out.status
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let pairs: Value = serde_json::from_str(text.trim()).unwrap();
    let state = pairs
        .as_array()
        .unwrap()
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_string(),
                pair[1].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (state, stderr)
}

/// Runs `rounds` kill points on one data directory: each round starts the
/// binary (which recovers what the previous rounds left), feeds it statements,
/// kills it with SIGKILL at a random moment and checks the restarted state.
fn kill_rounds(policy: &str, rounds: usize, seed: u64) -> KillStats {
    use std::os::unix::process::ExitStatusExt;
    const PER_ROUND: usize = 4000;
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed);
    let mut base = State::new();
    let mut stats = KillStats::default();
    for round in 0..rounds {
        let mut workload = Workload::new(format!("r{round}"), true);
        let stmts: Vec<Stmt> = (0..PER_ROUND)
            .map(|_| workload.statement(&mut rng))
            .collect();
        let texts: Vec<String> = stmts.iter().map(|s| format!("{}\n", s.text())).collect();
        // How many statements may be in flight: 1 is strictly one at a time;
        // larger windows make the binary group many replies per fsync.
        let window = [1, 3, 16, 64, 512][rng.below(5) as usize];
        let mut child = Command::new(BIN)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--appendfsync", policy, "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let acked = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let stdout = child.stdout.take().unwrap();
            let acked = acked.clone();
            std::thread::spawn(move || {
                let mut lines = Vec::new();
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    lines.push(line);
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                lines
            })
        };
        let writer = {
            let mut stdin = child.stdin.take().unwrap();
            let (acked, stop) = (acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut attempted = 0;
                for (n, text) in texts.iter().enumerate() {
                    while n - acked.load(Ordering::SeqCst) >= window && !stop.load(Ordering::SeqCst)
                    {
                        std::thread::sleep(Duration::from_micros(100));
                    }
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    attempted = n + 1;
                    if stdin.write_all(text.as_bytes()).is_err() {
                        break;
                    }
                }
                // Keep stdin open until the kill: end of input would let it exit cleanly.
                while !stop.load(Ordering::SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
                attempted
            })
        };
        if rng.chance(15) {
            // Sometimes during start-up or recovery.
            std::thread::sleep(Duration::from_millis(rng.range(0, 30)));
        } else {
            let started = Instant::now();
            while acked.load(Ordering::SeqCst) == 0 && started.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_millis(rng.range(0, 250)));
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        stop.store(true, Ordering::SeqCst);
        let lines = reader.join().unwrap();
        let attempted = writer.join().unwrap();
        let mut writer_stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut writer_stderr)
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the process must die by SIGKILL, not exit ({status:?}): {writer_stderr}"
        );
        let acked = lines.len();
        let context = format!(
            "{policy} round {round} (seed {seed}, window {window}): {acked} acknowledged, {attempted} sent"
        );
        assert!(acked <= attempted, "{context}");
        // Every printed line is the right reply to its statement.
        let mut model = base.clone();
        for (i, line) in lines.iter().enumerate() {
            let expected = stmts[i].apply(&mut model, &mut Vec::new());
            let got: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{context}: line {i} {line:?}: {e}"));
            assert_eq!(got, expected, "{context}: reply to {:?}", stmts[i].text());
        }
        let (got, check_stderr) = items_via_binary(dir.path());
        // The recovered state is the state after some prefix of the statements
        // (so no gaps and never half a batch) that includes every acknowledged one.
        // Under everysec too: a killed process loses nothing it handed to the OS.
        let len = matching_prefix(&base, &stmts, acked, attempted, &got).unwrap_or_else(|| {
            panic!(
                "{context}: recovered state is no prefix of the statements that \
                 includes the acknowledged ones; {}\nstderr: {check_stderr}",
                explain(&base, &stmts, acked, &got)
            )
        });
        stats.kill_points += 1;
        stats.acked_statements += acked;
        stats.acked_writes += stmts[..acked].iter().map(Stmt::writes).sum::<usize>();
        stats.unacked_but_recovered += len - acked;
        stats.torn_warnings += writer_stderr.matches("cut a torn record").count()
            + check_stderr.matches("cut a torn record").count();
        base = got;
    }
    // After all the kills, every file is intact.
    let check = Command::new(BIN)
        .arg("--data-dir")
        .arg(dir.path())
        .arg("check")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    stats
}

#[test]
fn kill_9_under_always_keeps_every_acknowledged_write() {
    let stats = kill_rounds("always", 20, seed(1));
    eprintln!("kill -9 under always: {stats:?}");
    assert_eq!(stats.kill_points, 20);
    assert!(
        stats.acked_statements > 200,
        "too few acknowledged writes to mean anything: {stats:?}"
    );
}

#[test]
fn kill_9_under_everysec_recovers_a_prefix() {
    let stats = kill_rounds("everysec", 12, seed(2));
    eprintln!("kill -9 under everysec: {stats:?}");
    assert!(stats.acked_statements > 200, "{stats:?}");
}

// ---------------------------------------------------------------------------
// 2. Power loss on the simulated disk
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct PowerOutcome {
    acked: usize,
    durable: usize,
    recovered: usize,
    warned: bool,
}

/// Writes through a session (acknowledging each statement as a front-end
/// does), cuts the power keeping `torn` bytes of each file's unsynced tail,
/// and reopens on the real disk.
fn power_cut_case(policy: Fsync, torn: usize, with_save: bool, seed: u64) -> PowerOutcome {
    let dir = tempfile::tempdir().unwrap();
    let disk = SimDisk::new();
    let mut rng = Rng::new(seed);
    let mut workload = Workload::new("", false);
    let mut stmts = Vec::new();
    let opened = Instant::now();
    let db = open_db(options(dir.path(), policy, Some(Arc::new(disk.clone())))).unwrap();
    let mut session = Session::new(db.clone());
    let mut run = |stmt: Stmt, ack: bool, stmts: &mut Vec<Stmt>| {
        exec(&mut session, &stmt.text()).unwrap();
        stmts.push(stmt);
        if ack {
            db.acknowledge().unwrap();
        }
    };
    for _ in 0..rng.range(10, 30) {
        run(workload.statement(&mut rng), true, &mut stmts);
    }
    if with_save {
        // A snapshot trims the first segment; later records go to a new one.
        run(Stmt::Save, true, &mut stmts);
        for _ in 0..rng.range(3, 12) {
            run(workload.statement(&mut rng), true, &mut stmts);
        }
    }
    // What the background syncer would do once a second under everysec.
    db.persistence().log().flush(true).unwrap();
    let durable = stmts.len();
    for _ in 0..rng.range(5, 20) {
        run(workload.statement(&mut rng), true, &mut stmts);
    }
    let acked = stmts.len();
    // Committed but not acknowledged: handed to the OS, not synced.
    for _ in 0..rng.range(2, 6) {
        run(workload.statement(&mut rng), false, &mut stmts);
    }
    db.persistence().log().flush(false).unwrap();
    let elapsed = opened.elapsed();
    disk.cut_power(torn).unwrap();
    let sizes_before = segment_sizes(dir.path());
    drop(session);
    drop(db);

    let context = format!("{policy:?} torn={torn} save={with_save} seed={seed}");
    let db = open_db(options(dir.path(), policy, None))
        .unwrap_or_else(|e| panic!("{context}: recovery after the power cut failed: {e}"));
    let warnings = db.recovery().warnings.clone();
    let got = state_of(&db);
    drop(db);
    let sizes_after = segment_sizes(dir.path());
    let lo = if policy == Fsync::Always {
        acked
    } else {
        durable
    };
    let recovered =
        matching_prefix(&State::new(), &stmts, lo, stmts.len(), &got).unwrap_or_else(|| {
            panic!(
                "{context}: state after the power cut is no prefix including the first {lo} \
                 statements; {}",
                explain(&State::new(), &stmts, lo, &got)
            )
        });
    // A cut was made exactly when a warning says so, and the warning names it.
    let shrank = sizes_after != sizes_before;
    assert_eq!(
        !warnings.is_empty(),
        shrank,
        "{context}: warnings {warnings:?}, sizes {sizes_before:?} -> {sizes_after:?}"
    );
    for warning in &warnings {
        assert!(
            warning.contains("cut a torn record"),
            "{context}: {warning}"
        );
    }
    if torn == 0 {
        assert!(warnings.is_empty(), "{context}: {warnings:?}");
    }
    if torn == 1 || torn == 7 {
        // Less than a frame header of the unsynced tail survived: always torn.
        assert_eq!(warnings.len(), 1, "{context}: {warnings:?}");
    }
    if policy == Fsync::Everysec && torn < 8 && elapsed < Duration::from_millis(900) {
        // No background fsync ran since our simulated one (the first comes
        // after a second), so acknowledged writes after it are really gone.
        assert_eq!(recovered, durable, "{context}");
        assert!(recovered < acked, "{context}: nothing was lost");
    }
    // The torn part is gone for good: the next start is clean and identical.
    let db = open_db(options(dir.path(), policy, None)).unwrap();
    assert!(
        db.recovery().warnings.is_empty(),
        "{context}: {:?}",
        db.recovery().warnings
    );
    assert_eq!(state_of(&db), got, "{context}");
    drop(db);
    scan_log(dir.path());
    PowerOutcome {
        acked,
        durable,
        recovered,
        warned: !warnings.is_empty(),
    }
}

fn power_cuts(policy: Fsync, salt: u64) -> Vec<PowerOutcome> {
    let mut rng = Rng::new(seed(salt));
    let mut torns = vec![0, 1, 7, 13, 40, 1 << 20];
    torns.extend((0..4).map(|_| rng.range(2, 300) as usize));
    let mut outcomes = Vec::new();
    for (i, torn) in torns.into_iter().enumerate() {
        for with_save in [false, true] {
            outcomes.push(power_cut_case(
                policy,
                torn,
                with_save,
                seed(salt * 1000 + i as u64 * 2 + u64::from(with_save)),
            ));
        }
    }
    outcomes
}

#[test]
fn power_loss_under_always_keeps_every_acknowledged_write() {
    let outcomes = power_cuts(Fsync::Always, 3);
    for o in &outcomes {
        assert!(o.recovered >= o.acked, "{o:?}");
    }
    assert!(
        outcomes.iter().any(|o| o.warned),
        "no torn tail was produced"
    );
    let acked: usize = outcomes.iter().map(|o| o.acked).sum();
    eprintln!(
        "power loss under always: {} cuts, {acked} acknowledged statements verified",
        outcomes.len()
    );
}

#[test]
fn power_loss_under_everysec_loses_only_the_unsynced_tail() {
    let outcomes = power_cuts(Fsync::Everysec, 4);
    for o in &outcomes {
        assert!(o.recovered >= o.durable, "{o:?}");
    }
    // The difference from `always` is real: acknowledged writes were lost.
    let lost: usize = outcomes
        .iter()
        .map(|o| o.acked.saturating_sub(o.recovered))
        .sum();
    assert!(lost > 0, "{outcomes:?}");
    eprintln!(
        "power loss under everysec: {} cuts, {lost} acknowledged statements lost after the last fsync",
        outcomes.len()
    );
}

/// Group commit under `always`: several sessions write and acknowledge at once
/// while the power is cut at a random moment. Every write acknowledged before
/// the cut survives; each writer's writes survive as a prefix; batches are whole.
#[test]
fn power_loss_during_concurrent_group_commit_keeps_acknowledged_writes() {
    const WRITERS: usize = 4;
    let mut rng = Rng::new(seed(7));
    let mut verified = 0;
    for round in 0..10 {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let db = open_db(options(
            dir.path(),
            Fsync::Always,
            Some(Arc::new(disk.clone())),
        ))
        .unwrap();
        let acked: Arc<Vec<AtomicUsize>> =
            Arc::new((0..WRITERS).map(|_| AtomicUsize::new(0)).collect());
        let stop = Arc::new(AtomicBool::new(false));
        // Writer w's i-th statement: a put, or every third one a batch of two.
        let stmt = |w: usize, i: usize| {
            if i % 3 == 2 {
                Stmt::Batch(vec![
                    Stmt::Put(format!("w{w}b{i}x"), format!("{i}")),
                    Stmt::Put(format!("w{w}b{i}y"), format!("{i}")),
                ])
            } else {
                Stmt::Put(format!("w{w}k{i}"), format!("v{i}"))
            }
        };
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (db, acked, stop) = (db.clone(), acked.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut session = Session::new(db.clone());
                    let mut i = 0;
                    while !stop.load(Ordering::SeqCst) {
                        exec(&mut session, &stmt(w, i).text()).unwrap();
                        db.acknowledge().unwrap();
                        i += 1;
                        acked[w].store(i, Ordering::SeqCst);
                    }
                    i
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rng.range(10, 120)));
        // Read before cutting: an acknowledgement that finishes after the cut
        // has synced nothing and is not counted.
        let before: Vec<usize> = acked.iter().map(|a| a.load(Ordering::SeqCst)).collect();
        disk.cut_power(rng.range(0, 200) as usize).unwrap();
        stop.store(true, Ordering::SeqCst);
        let sent: Vec<usize> = writers.into_iter().map(|t| t.join().unwrap()).collect();
        drop(db);
        let db = open_db(options(dir.path(), Fsync::Always, None))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        let mut got = state_of(&db);
        drop(db);
        for w in 0..WRITERS {
            let stmts: Vec<Stmt> = (0..sent[w]).map(|i| stmt(w, i)).collect();
            let (k, b) = (format!("w{w}k"), format!("w{w}b"));
            let mine: State = got
                .iter()
                .filter(|(key, _)| key.starts_with(&k) || key.starts_with(&b))
                .map(|(key, v)| (key.clone(), v.clone()))
                .collect();
            got.retain(|key, _| !mine.contains_key(key));
            assert!(
                matching_prefix(&State::new(), &stmts, before[w], sent[w], &mine).is_some(),
                "round {round}, writer {w}: {} acknowledged before the cut; {}",
                before[w],
                explain(&State::new(), &stmts, before[w], &mine)
            );
            verified += before[w];
        }
        assert!(got.is_empty(), "round {round}: unexpected keys {got:?}");
    }
    eprintln!("group commit power cuts: {verified} acknowledged statements verified");
    assert!(verified > 0);
}

/// `Db::close` "writes and fsyncs the log" (so do SIGINT/SIGTERM and the end of
/// input): after a clean close, a power cut loses nothing, whatever the policy.
#[test]
fn a_clean_close_is_durable_under_every_policy() {
    for policy in [Fsync::Always, Fsync::Everysec, Fsync::No] {
        let dir = tempfile::tempdir().unwrap();
        let disk = SimDisk::new();
        let db = open_db(options(dir.path(), policy, Some(Arc::new(disk.clone())))).unwrap();
        let mut session = Session::new(db.clone());
        let mut rng = Rng::new(seed(6));
        let mut workload = Workload::new("", false);
        let stmts: Vec<Stmt> = (0..20).map(|_| workload.statement(&mut rng)).collect();
        for stmt in &stmts {
            exec(&mut session, &stmt.text()).unwrap();
            db.acknowledge().unwrap();
        }
        db.close().unwrap();
        disk.cut_power(0).unwrap();
        drop(session);
        drop(db);
        let db = open_db(options(dir.path(), policy, None)).unwrap();
        assert_eq!(
            state_of(&db),
            apply_all(&State::new(), &stmts),
            "{policy:?}: a clean close must leave everything on disk"
        );
    }
}

// ---------------------------------------------------------------------------
// 3. I/O errors: failed writes, failed fsyncs, a full disk
// ---------------------------------------------------------------------------

/// One I/O call seen by [`Probe`].
#[derive(Debug, Clone)]
struct Event {
    op: &'static str,
    file: String,
    ok: bool,
    /// The workload statement running when it happened.
    stmt: usize,
}

/// A disk that records every call to the simulated disk beneath it, so a test
/// knows which file and which statement an injected fault landed on.
#[derive(Debug, Clone)]
struct Probe {
    inner: SimDisk,
    events: Arc<Mutex<Vec<Event>>>,
    stmt: Arc<AtomicUsize>,
    /// Files renamed while open (a log segment prepared under a temporary
    /// name): later I/O on them is recorded under the new name.
    renamed: Arc<Mutex<BTreeMap<String, String>>>,
}

struct ProbeFile {
    inner: Box<dyn DiskFile>,
    file: String,
    probe: Probe,
}

impl Probe {
    fn new(inner: SimDisk) -> Self {
        Probe {
            inner,
            events: Arc::default(),
            stmt: Arc::default(),
            renamed: Arc::default(),
        }
    }

    fn record<T>(&self, op: &'static str, file: &str, result: &std::io::Result<T>) {
        let renamed = self.renamed.lock().unwrap().get(file).cloned();
        self.events.lock().unwrap().push(Event {
            op,
            file: renamed.unwrap_or_else(|| file.to_string()),
            ok: result.is_ok(),
            stmt: self.stmt.load(Ordering::SeqCst),
        });
    }

    fn failures(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| !e.ok)
            .cloned()
            .collect()
    }
}

impl Disk for Probe {
    fn create(&self, path: &Path) -> std::io::Result<Box<dyn DiskFile>> {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let result = self.inner.create(path);
        self.record("create", &file, &result);
        Ok(Box::new(ProbeFile {
            inner: result?,
            file,
            probe: self.clone(),
        }))
    }

    fn rename(&self, from: &Path, to: &Path) -> std::io::Result<()> {
        let file = from.file_name().unwrap().to_string_lossy().into_owned();
        let result = self.inner.rename(from, to);
        self.record("rename", &file, &result);
        if result.is_ok() {
            let to = to.file_name().unwrap().to_string_lossy().into_owned();
            self.renamed.lock().unwrap().insert(file, to);
        }
        result
    }
}

impl DiskFile for ProbeFile {
    fn write_all(&self, bytes: &[u8]) -> std::io::Result<()> {
        let result = self.inner.write_all(bytes);
        self.probe.record("write", &self.file, &result);
        result
    }
    fn sync(&self) -> std::io::Result<()> {
        let result = self.inner.sync();
        self.probe.record("sync", &self.file, &result);
        result
    }
    fn truncate(&self, len: u64) -> std::io::Result<()> {
        let result = self.inner.truncate(len);
        self.probe.record("truncate", &self.file, &result);
        result
    }
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    Write(u64),
    Sync(u64),
    Space(u64),
}

impl Fault {
    fn inject(self, disk: &SimDisk) {
        match self {
            Fault::Write(n) => disk.fail_write(n),
            Fault::Sync(n) => disk.fail_sync(n),
            Fault::Space(bytes) => disk.set_space(bytes),
        }
    }
}

/// A fixed workload spanning two log segments with a snapshot between them.
fn fault_workload() -> Vec<Stmt> {
    let mut rng = Rng::new(seed(5));
    let mut workload = Workload::new("", false);
    let mut stmts: Vec<Stmt> = (0..6).map(|_| workload.statement(&mut rng)).collect();
    stmts.push(Stmt::Batch(vec![
        Stmt::Put("bx".into(), "1".into()),
        Stmt::Incr("ctr".into(), 10),
        Stmt::Put("by".into(), "2".into()),
    ]));
    stmts.push(Stmt::Save);
    stmts.extend((0..6).map(|_| workload.statement(&mut rng)));
    stmts.push(Stmt::Incr("ctr".into(), 100));
    stmts
}

/// A log segment (a segment being prepared under its temporary name is part
/// of a snapshot; its I/O is counted as the log's once it is named).
fn is_log(file: &str) -> bool {
    segment_number(file).is_some()
}

/// What one injected fault did.
#[derive(Debug)]
struct FaultOutcome {
    /// The failed I/O calls.
    failures: Vec<Event>,
    /// Statements committed (everysec) or acknowledged (always).
    committed: usize,
}

/// Under `always`: the acknowledgement of exactly the statement whose log I/O
/// failed returns an error and sets `fatal`; everything acknowledged before
/// survives a reopen.
fn always_fault_case(fault: Fault) -> FaultOutcome {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let probe = Probe::new(sim.clone());
    let db = open_db(options(
        dir.path(),
        Fsync::Always,
        Some(Arc::new(probe.clone())),
    ))
    .unwrap();
    let mut session = Session::new(db.clone());
    let stmts = fault_workload();
    fault.inject(&sim);
    let context = format!("always, {fault:?}");
    let mut acked = 0;
    let mut attempted = 0;
    let mut ack_error = None;
    for (i, stmt) in stmts.iter().enumerate() {
        probe.stmt.store(i, Ordering::SeqCst);
        attempted = i + 1;
        match exec(&mut session, &stmt.text()) {
            Ok(_) => {}
            Err(e) => {
                if save_failed_with_the_log(&context, i, stmt, &e) {
                    // The log's I/O failed in the segment switch the
                    // snapshot starts with: the save reports it, and nothing
                    // more is acknowledged, as after a failed acknowledgement.
                    assert!(
                        e.contains("cannot write the append-only log in"),
                        "{context}: unclear message: {e}"
                    );
                    ack_error = Some(i);
                    break;
                }
                assert!(db.fatal().is_none(), "{context}");
                continue;
            }
        }
        match db.acknowledge() {
            Ok(()) => acked = i + 1,
            Err(e) => {
                assert_eq!(db.fatal().as_deref(), Some(e.as_str()), "{context}");
                assert!(
                    e.contains("cannot write the append-only log in"),
                    "{context}: unclear message: {e}"
                );
                ack_error = Some(i);
                break; // the front-end stops: nothing more may be acknowledged
            }
        }
    }
    let failures = probe.failures();
    let first_log_failure = failures.iter().find(|e| is_log(&e.file)).map(|e| e.stmt);
    assert_eq!(
        ack_error, first_log_failure,
        "{context}: the acknowledgement of exactly the statement whose log I/O failed must \
         fail; failures {failures:?}"
    );
    if ack_error.is_none() {
        assert!(db.fatal().is_none(), "{context}");
    } else {
        // This front-end stopped, and once `Db::acknowledge` has failed it
        // refuses for good. A
        // library embedder that acknowledges through the persistence layer
        // itself goes on once the disk works again: the retry repairs the
        // log, and what it acknowledges then survives alongside the rest.
        probe.stmt.store(stmts.len(), Ordering::SeqCst);
        sim.heal();
        if let Some(fatal) = db.fatal() {
            assert_eq!(
                db.acknowledge(),
                Err(fatal),
                "{context}: the failure stands"
            );
        }
        db.persistence()
            .log()
            .flush(true)
            .unwrap_or_else(|e| panic!("{context}: retry after heal: {e}"));
        let mut other = Session::new(db.clone());
        exec(&mut other, "put other session").unwrap();
        db.persistence()
            .acknowledge()
            .unwrap_or_else(|e| panic!("{context}: other session: {e}"));
    }
    probe.stmt.store(usize::MAX, Ordering::SeqCst);
    drop(session);
    drop(db);
    let db = open_db(options(dir.path(), Fsync::Always, None))
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    let mut got = state_of(&db);
    if ack_error.is_some() {
        assert_eq!(
            got.remove("other").as_deref(),
            Some("session"),
            "{context}: the other session's acknowledged write was lost"
        );
    }
    assert!(
        matching_prefix(&State::new(), &stmts, acked, attempted, &got).is_some(),
        "{context}: an acknowledged write was lost or a later one is half there; {}",
        explain(&State::new(), &stmts, acked, &got)
    );
    drop(db);
    scan_log(dir.path());
    FaultOutcome {
        failures,
        committed: acked,
    }
}

/// How an everysec fault case ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    /// `db.close()`.
    Close,
    /// An fsync (as the background syncer does), then the power is cut.
    PowerCut,
}

/// Under `everysec`: after the failure writes are refused with a clear error;
/// after `heal()` and a flush they are accepted again; a clean close (or a
/// power cut after everything was synced) and reopen has every committed
/// statement exactly once and no warnings.
fn everysec_fault_case(fault: Fault, ending: Ending) -> FaultOutcome {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimDisk::new();
    let probe = Probe::new(sim.clone());
    let opened = Instant::now();
    let db = open_db(options(
        dir.path(),
        Fsync::Everysec,
        Some(Arc::new(probe.clone())),
    ))
    .unwrap();
    let log = db.persistence().log();
    let mut session = Session::new(db.clone());
    let stmts = fault_workload();
    fault.inject(&sim);
    let context = format!("everysec, {fault:?}, {ending:?}");
    let mut committed = Vec::new();
    let mut refusals = 0;
    // After a failure, a write is refused with a clear error until the disk
    // is healed and a flush repairs the log; then it is accepted.
    let see_refusal = |session: &mut Session, committed: &mut Vec<Stmt>, label: &str| {
        let probe_write = Stmt::Put(format!("refused{label}"), "x".into());
        let e = exec(session, &probe_write.text()).map_or_else(
            |e| e,
            |_| {
                panic!(
                    "{context}: a write was accepted after the log failed ({:?} after open)",
                    opened.elapsed()
                )
            },
        );
        assert!(
            e.contains("cannot write the append-only log in")
                && e.contains("writes are refused until it works again"),
            "{context}: unclear refusal: {e}"
        );
        if let Fault::Space(_) = fault {
            assert!(
                log.flush(true).is_err(),
                "{context}: the disk is still full"
            );
            assert!(exec(session, &probe_write.text()).is_err(), "{context}");
        }
        sim.heal();
        log.flush(true)
            .unwrap_or_else(|e| panic!("{context}: flush after heal: {e}"));
        assert!(log.failure().is_none(), "{context}");
        exec(session, &probe_write.text())
            .unwrap_or_else(|e| panic!("{context}: write after heal: {e}"));
        committed.push(probe_write);
    };
    for (i, stmt) in stmts.iter().enumerate() {
        probe.stmt.store(i, Ordering::SeqCst);
        if log.failure().is_some() {
            see_refusal(&mut session, &mut committed, &i.to_string());
            refusals += 1;
        }
        match exec(&mut session, &stmt.text()) {
            Ok(_) => committed.push(stmt.clone()),
            Err(e) => {
                if save_failed_with_the_log(&context, i, stmt, &e) {
                    // The segment switch the snapshot starts with failed
                    // the log (the next acknowledgement would repair it).
                    see_refusal(&mut session, &mut committed, &format!("{i}save"));
                    refusals += 1;
                }
            }
        }
        db.acknowledge()
            .unwrap_or_else(|e| panic!("{context}: everysec acknowledges: {e}"));
        if i % 3 == 2 && log.failure().is_none() {
            // The background syncer's fsync, on our schedule; may fail. (Not
            // while failed: its retry would repair before we see a refusal.)
            let _ = log.flush(true);
        }
    }
    if log.failure().is_some() {
        // The fault hit the last statement.
        see_refusal(&mut session, &mut committed, "end");
        refusals += 1;
    }
    let failures = probe.failures();
    if failures.iter().any(|e| is_log(&e.file)) {
        assert!(refusals > 0, "{context}: {failures:?}");
    }
    probe.stmt.store(usize::MAX, Ordering::SeqCst);
    match ending {
        Ending::Close => db
            .close()
            .unwrap_or_else(|e| panic!("{context}: close: {e}")),
        Ending::PowerCut => {
            log.flush(true).unwrap();
            // Everything is synced: even a generous torn tail must add nothing.
            sim.cut_power(1 << 20).unwrap();
        }
    }
    drop(session);
    drop(db);
    let db = open_db(options(dir.path(), Fsync::Everysec, None))
        .unwrap_or_else(|e| panic!("{context}: reopen failed: {e}"));
    assert!(
        db.recovery().warnings.is_empty(),
        "{context}: {:?}",
        db.recovery().warnings
    );
    let got = state_of(&db);
    drop(db);
    assert_eq!(
        got,
        apply_all(&State::new(), &committed),
        "{context}: committed statements must be there exactly once"
    );
    scan_log(dir.path());
    FaultOutcome {
        failures,
        committed: committed.len(),
    }
}

/// Fails the 1st, 2nd, 3rd, ... call until a run finishes without the fault
/// firing; returns how many fault points were exercised and where they landed.
fn sweep(make: fn(u64) -> Fault, case: &dyn Fn(Fault) -> FaultOutcome) -> (u64, BTreeSet<String>) {
    let mut places = BTreeSet::new();
    for n in 1..200 {
        let outcome = case(make(n));
        if outcome.failures.is_empty() {
            return (n - 1, places);
        }
        assert!(outcome.committed > 0 || n < 4, "{n}: {outcome:?}");
        for e in outcome.failures {
            let kind = if is_log(&e.file) { "log" } else { "snapshot" };
            places.insert(format!("{kind} {}", e.op));
        }
    }
    panic!("the workload never finished without a fault");
}

fn assert_covered(label: &str, points: u64, places: &BTreeSet<String>, expected: &[&str]) {
    eprintln!("{label}: {points} fault points, landing in {places:?}");
    for place in expected {
        assert!(places.contains(*place), "{label}: never hit {place}");
    }
}

#[test]
fn failed_writes_and_fsyncs_under_always_fail_the_acknowledgement() {
    let (w, places) = sweep(Fault::Write, &always_fault_case);
    assert_covered(
        "always, failed write",
        w,
        &places,
        &["log write", "snapshot write"],
    );
    assert!(w >= 16, "header, 15 records and the snapshot: {w}");
    let (s, places) = sweep(Fault::Sync, &always_fault_case);
    assert_covered(
        "always, failed fsync",
        s,
        &places,
        &["log sync", "snapshot sync"],
    );
    assert!(s >= 17, "{s}");
}

#[test]
fn failed_writes_and_fsyncs_under_everysec_refuse_writes_until_healed() {
    for ending in [Ending::Close, Ending::PowerCut] {
        let (w, places) = sweep(Fault::Write, &|f| everysec_fault_case(f, ending));
        assert_covered(
            &format!("everysec, failed write, {ending:?}"),
            w,
            &places,
            &["log write", "snapshot write"],
        );
        let (s, places) = sweep(Fault::Sync, &|f| everysec_fault_case(f, ending));
        assert_covered(
            &format!("everysec, failed fsync, {ending:?}"),
            s,
            &places,
            &["log sync", "snapshot sync"],
        );
    }
}

#[test]
fn a_full_disk_behaves_like_a_failed_write() {
    let mut places = BTreeSet::new();
    let mut bytes = 0;
    let mut points = 0;
    loop {
        let always = always_fault_case(Fault::Space(bytes));
        let everysec = everysec_fault_case(Fault::Space(bytes), Ending::Close);
        let cut = everysec_fault_case(Fault::Space(bytes), Ending::PowerCut);
        if always.failures.is_empty() && everysec.failures.is_empty() {
            break;
        }
        points += 1;
        for e in always
            .failures
            .iter()
            .chain(&everysec.failures)
            .chain(&cut.failures)
        {
            let kind = if is_log(&e.file) { "log" } else { "snapshot" };
            places.insert(format!("{kind} {}", e.op));
        }
        // Land on the header, inside records and at their edges, and in the snapshot.
        bytes += if bytes < 40 { 7 } else { 23 };
    }
    assert_covered(
        "full disk",
        points,
        &places,
        &["log write", "snapshot write"],
    );
}

/// The binary itself: with the file size limited (RLIMIT_FSIZE, SIGXFSZ
/// ignored) the kernel refuses log writes with EFBIG; under `always` inmem must
/// stop with exit code 3 and a clear message, having printed only replies
/// whose writes are durable.
#[cfg(target_os = "linux")]
#[test]
fn binary_under_always_exits_3_when_the_log_cannot_be_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir.path())
        .args(["--appendfsync", "always", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    limit_file_size(&mut command);
    let mut child = command.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stmts = Vec::new();
    let mut acked = 0;
    for i in 0..2000 {
        let stmt = Stmt::Put(format!("key{i:04}"), format!("value-{i:04}"));
        if writeln!(stdin, "{}", stmt.text()).is_err() {
            break;
        }
        stmts.push(stmt);
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        assert_eq!(line.trim(), "\"OK\"");
        acked += 1;
    }
    drop(stdin);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(3), "{status:?}: {stderr}");
    assert!(
        stderr.contains("stopping: cannot write the append-only log in")
            && stderr.contains("File too large")
            && stderr.contains("the last reply was not acknowledged"),
        "{stderr}"
    );
    assert!(acked > 10 && acked < 2000, "{acked} writes acknowledged");
    let (got, restart_stderr) = items_via_binary(dir.path());
    assert!(
        matching_prefix(&State::new(), &stmts, acked, stmts.len(), &got).is_some(),
        "an acknowledged write was lost; {}\n{restart_stderr}",
        explain(&State::new(), &stmts, acked, &got)
    );
    eprintln!(
        "binary under always: exit 3 after {acked} acknowledged writes; restart: {}",
        restart_stderr.trim()
    );
}

/// Limits the files `command` writes to 4 KiB (RLIMIT_FSIZE, SIGXFSZ
/// ignored), so the kernel refuses longer log writes with EFBIG.
#[cfg(target_os = "linux")]
fn limit_file_size(command: &mut Command) {
    use std::os::unix::process::CommandExt;

    #[repr(C)]
    struct RLimit {
        cur: u64,
        max: u64,
    }
    unsafe extern "C" {
        fn setrlimit(resource: i32, limit: *const RLimit) -> i32;
        fn signal(signum: i32, handler: usize) -> usize;
    }
    const RLIMIT_FSIZE: i32 = 1;
    const SIGXFSZ: i32 = 25;
    const SIG_IGN: usize = 1;
    const LIMIT: u64 = 4096;

    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        command.pre_exec(|| {
            signal(SIGXFSZ, SIG_IGN);
            let limit = RLimit {
                cur: LIMIT,
                max: LIMIT,
            };
            if setrlimit(RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// The server under `always`: a log failure met by an HTTP write (not a
/// RESP connection) stops the whole server with exit code 3 too, rather
/// than leaving it running and refusing every later write.
#[cfg(target_os = "linux")]
#[test]
fn server_under_always_exits_3_when_an_http_write_cannot_be_logged() {
    use std::net::TcpStream;

    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(BIN);
    command
        .arg("--data-dir")
        .arg(dir.path())
        .args([
            "--appendfsync",
            "always",
            "serve",
            "--port",
            "0",
            "--http-port",
            "0",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    limit_file_size(&mut command);
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.contains("HTTP on http://") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no listening line"
        );
    }
    let http = line.trim().rsplit_once("http://").unwrap().1.to_string();
    let mut statuses = Vec::new();
    for i in 0..2000 {
        let body = format!("{{\"value\": \"value-{i:04}\"}}");
        let request = format!(
            "PUT /v1/keys/key{i:04} HTTP/1.1\r\nHost: {http}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let Ok(mut stream) = TcpStream::connect(&http) else {
            break; // the server has stopped
        };
        let mut response = String::new();
        if stream.write_all(request.as_bytes()).is_err()
            || stream.read_to_string(&mut response).is_err()
        {
            break;
        }
        let status = response.split(' ').nth(1).unwrap_or("").to_string();
        let refused = status == "503";
        statuses.push(status);
        if refused {
            break;
        }
    }
    assert_eq!(
        statuses.last().map(String::as_str),
        Some("503"),
        "{statuses:?}"
    );
    assert!(statuses.len() > 10, "{statuses:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server kept running after the log failed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert_eq!(status.code(), Some(3), "{status:?}: {rest}");
}

/// Found by the model test: a key saved in snapshot.db with a deadline, then
/// made permanent (`persist`) or given a later deadline (`expire`) after the
/// snapshot, must not disappear at restart once its *old* deadline has passed.
/// (Recovery used to drop expired snapshot entries before replaying the log,
/// so the later Persist/Expire record found no key.)
#[test]
fn a_deadline_changed_after_a_snapshot_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let open = || {
        let mut options = options(dir.path(), Fsync::Everysec, None);
        options.clock = Arc::new(clock.clone());
        open_db(options).unwrap()
    };
    let db = open();
    let mut session = Session::new(db.clone());
    for text in [
        "put a 1 1",
        "put b 2 1",
        "save",
        "persist a",
        "expire b 100",
    ] {
        exec(&mut session, text).unwrap();
    }
    clock.advance(2000);
    assert_eq!(exec(&mut session, "get a"), Ok(Reply::Value(b"1".to_vec())));
    assert_eq!(exec(&mut session, "ttl b"), Ok(Reply::Int(98)));
    drop(session);
    drop(db);
    let db = open();
    let mut session = Session::new(db.clone());
    assert_eq!(
        exec(&mut session, "get a"),
        Ok(Reply::Value(b"1".to_vec())),
        "persisted after the snapshot, lost at restart"
    );
    assert_eq!(
        exec(&mut session, "ttl b"),
        Ok(Reply::Int(98)),
        "deadline extended after the snapshot, lost at restart"
    );
}

// ---------------------------------------------------------------------------
// 4. Model test
// ---------------------------------------------------------------------------

mod model {
    use super::*;
    use inmem::engine::Clock;
    use proptest::prelude::*;

    const START_MS: u64 = 1_700_000_000_000;
    const KEYS: u8 = 5;

    #[derive(Debug, Clone)]
    enum Val {
        Int(i64),
        Word(u8),
    }

    impl Val {
        fn text(&self) -> String {
            match self {
                Val::Int(n) => n.to_string(),
                Val::Word(w) => format!("w{w}"),
            }
        }
    }

    #[derive(Debug, Clone)]
    enum Ttl {
        Seconds(u64),
        Millis(u64),
    }

    /// A keyspace operation: runs as a statement, in a transaction or in a batch.
    #[derive(Debug, Clone)]
    enum KeyOp {
        Put(u8, Val, Option<Ttl>),
        Delete(Vec<u8>),
        Incr(u8, i64),
        Expire(u8, i64),
        Persist(u8),
        Get(u8),
        Ttl(u8),
    }

    #[derive(Debug, Clone)]
    enum Step {
        Key(KeyOp),
        Advance(u64),
        Begin,
        Commit,
        Rollback,
        Batch(Vec<KeyOp>),
        Save,
        Compact,
        Restart,
        PowerCut(usize),
    }

    fn key(k: u8) -> String {
        format!("k{k}")
    }

    impl KeyOp {
        fn text(&self) -> String {
            match self {
                KeyOp::Put(k, v, None) => format!("put {} {}", key(*k), v.text()),
                KeyOp::Put(k, v, Some(Ttl::Seconds(s))) => {
                    format!("put {} {} {s}", key(*k), v.text())
                }
                KeyOp::Put(k, v, Some(Ttl::Millis(ms))) => {
                    format!("put {} {} px {ms}", key(*k), v.text())
                }
                KeyOp::Delete(keys) => format!(
                    "delete {}",
                    keys.iter().map(|k| key(*k)).collect::<Vec<_>>().join(" ")
                ),
                KeyOp::Incr(k, by) => format!("incr {} {by}", key(*k)),
                KeyOp::Expire(k, s) => format!("expire {} {s}", key(*k)),
                KeyOp::Persist(k) => format!("persist {}", key(*k)),
                KeyOp::Get(k) => format!("get {}", key(*k)),
                KeyOp::Ttl(k) => format!("ttl {}", key(*k)),
            }
        }

        fn writes(&self) -> bool {
            !matches!(self, KeyOp::Get(_) | KeyOp::Ttl(_))
        }
    }

    /// Key -> (value, absolute deadline in ms).
    type Map = HashMap<String, (String, Option<u64>)>;

    fn live(map: &Map, k: &str, now: u64) -> Option<(String, Option<u64>)> {
        map.get(k)
            .filter(|(_, at)| at.is_none_or(|at| at > now))
            .cloned()
    }

    /// What the engine promises for one operation at time `now`.
    fn apply(op: &KeyOp, map: &mut Map, now: u64) -> Result<Reply, ()> {
        Ok(match op {
            KeyOp::Put(k, v, ttl) => {
                let at = ttl.as_ref().map(|t| match t {
                    Ttl::Seconds(s) => now + s * 1000,
                    Ttl::Millis(ms) => now + ms,
                });
                map.insert(key(*k), (v.text(), at));
                Reply::Ok
            }
            KeyOp::Delete(keys) => {
                let mut count = 0;
                for k in keys.iter().collect::<BTreeSet<_>>() {
                    if live(map, &key(*k), now).is_some() {
                        map.remove(&key(*k));
                        count += 1;
                    }
                }
                Reply::Int(count)
            }
            KeyOp::Incr(k, by) => {
                let (value, at) = match live(map, &key(*k), now) {
                    Some((v, at)) => (v.parse::<i64>().map_err(|_| ())?, at),
                    None => (0, None),
                };
                let next = value.checked_add(*by).ok_or(())?;
                map.insert(key(*k), (next.to_string(), at));
                Reply::Int(next)
            }
            KeyOp::Expire(k, s) => match live(map, &key(*k), now) {
                None => Reply::Bool(false),
                Some(_) if *s <= 0 => {
                    map.remove(&key(*k));
                    Reply::Bool(true)
                }
                Some((v, _)) => {
                    map.insert(key(*k), (v, Some(now + (*s as u64) * 1000)));
                    Reply::Bool(true)
                }
            },
            KeyOp::Persist(k) => match live(map, &key(*k), now) {
                Some((v, Some(_))) => {
                    map.insert(key(*k), (v, None));
                    Reply::Bool(true)
                }
                _ => Reply::Bool(false),
            },
            KeyOp::Get(k) => match live(map, &key(*k), now) {
                Some((v, _)) => Reply::Value(v.into_bytes()),
                None => Reply::Nil,
            },
            // Seconds left, rounded to the nearest; -1 without a deadline, -2 missing.
            KeyOp::Ttl(k) => Reply::Int(match live(map, &key(*k), now) {
                None => -2,
                Some((_, None)) => -1,
                Some((_, Some(at))) => ((at - now + 500) / 1000) as i64,
            }),
        })
    }

    /// Runs operations as one atomic group, as commit and batch do.
    fn apply_group(ops: &[KeyOp], map: &mut Map, now: u64) -> Result<Vec<Reply>, ()> {
        let mut scratch = map.clone();
        let replies = ops
            .iter()
            .map(|op| apply(op, &mut scratch, now))
            .collect::<Result<Vec<_>, _>>()?;
        *map = scratch;
        Ok(replies)
    }

    struct Model {
        map: Map,
        /// The open transaction: its writes so far and its view of the keyspace.
        transaction: Option<(Vec<KeyOp>, Map)>,
    }

    impl Model {
        fn live_entries(&self, now: u64) -> BTreeMap<String, (String, Option<u64>)> {
            self.map
                .iter()
                .filter(|(_, (_, at))| at.is_none_or(|at| at > now))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        }

        fn step(&mut self, step: &Step, now: u64) -> Result<Reply, ()> {
            match step {
                Step::Key(op) => match &mut self.transaction {
                    None => apply(op, &mut self.map, now),
                    Some((writes, view)) => {
                        let reply = apply(op, view, now)?;
                        if op.writes() {
                            writes.push(op.clone());
                        }
                        Ok(reply)
                    }
                },
                Step::Begin if self.transaction.is_some() => Err(()),
                Step::Begin => {
                    self.transaction = Some((Vec::new(), self.map.clone()));
                    Ok(Reply::Ok)
                }
                // Commit runs the writes again, at commit time, atomically.
                Step::Commit => {
                    let (writes, _) = self.transaction.take().ok_or(())?;
                    apply_group(&writes, &mut self.map, now).map(|_| Reply::Ok)
                }
                Step::Rollback => self.transaction.take().map(|_| Reply::Ok).ok_or(()),
                Step::Batch(_) if self.transaction.is_some() => Err(()),
                Step::Batch(ops) => apply_group(ops, &mut self.map, now).map(Reply::Batch),
                Step::Save | Step::Compact => Ok(Reply::Ok),
                Step::Advance(_) | Step::Restart | Step::PowerCut(_) => {
                    unreachable!("not a statement")
                }
            }
        }

        fn statement(step: &Step) -> Option<String> {
            Some(match step {
                Step::Key(op) => op.text(),
                Step::Begin => "begin".into(),
                Step::Commit => "commit".into(),
                Step::Rollback => "rollback".into(),
                Step::Batch(ops) => format!(
                    "batch -c \"{}\"",
                    ops.iter().map(KeyOp::text).collect::<Vec<_>>().join("; ")
                ),
                Step::Save => "save".into(),
                Step::Compact => "compact".into(),
                Step::Advance(_) | Step::Restart | Step::PowerCut(_) => return None,
            })
        }
    }

    fn key_op() -> impl Strategy<Value = KeyOp> {
        let k = 0..KEYS;
        let val = prop_oneof![(-5i64..20).prop_map(Val::Int), (0u8..3).prop_map(Val::Word)];
        let ttl = prop_oneof![
            2 => Just(None),
            1 => (1u64..4).prop_map(|s| Some(Ttl::Seconds(s))),
            1 => (1u64..3000).prop_map(|ms| Some(Ttl::Millis(ms))),
        ];
        prop_oneof![
            4 => (k.clone(), val, ttl).prop_map(|(k, v, t)| KeyOp::Put(k, v, t)),
            2 => proptest::collection::vec(k.clone(), 1..4).prop_map(KeyOp::Delete),
            3 => (k.clone(), -3i64..4).prop_map(|(k, by)| KeyOp::Incr(k, by)),
            2 => (k.clone(), -1i64..4).prop_map(|(k, s)| KeyOp::Expire(k, s)),
            1 => k.clone().prop_map(KeyOp::Persist),
            1 => k.clone().prop_map(KeyOp::Get),
            1 => k.prop_map(KeyOp::Ttl),
        ]
    }

    fn step(power_cuts: bool) -> impl Strategy<Value = Step> {
        let cut = if power_cuts { 2 } else { 0 };
        prop_oneof![
            12 => key_op().prop_map(Step::Key),
            3 => (0u64..2500).prop_map(Step::Advance),
            2 => Just(Step::Begin),
            2 => Just(Step::Commit),
            1 => Just(Step::Rollback),
            2 => proptest::collection::vec(key_op(), 1..4).prop_map(Step::Batch),
            1 => Just(Step::Save),
            1 => Just(Step::Compact),
            2 => Just(Step::Restart),
            cut => (0usize..64).prop_map(Step::PowerCut),
        ]
    }

    struct Live {
        db: Arc<Db>,
        session: Session,
        disk: Option<SimDisk>,
    }

    fn open(dir: &Path, clock: &ManualClock, always: bool) -> Live {
        let disk = always.then(SimDisk::new);
        let policy = if always {
            Fsync::Always
        } else {
            Fsync::Everysec
        };
        let mut options = options(
            dir,
            policy,
            disk.clone().map(|d| Arc::new(d) as Arc<dyn Disk>),
        );
        options.clock = Arc::new(clock.clone());
        let db = open_db(options).unwrap();
        assert!(
            db.recovery().warnings.is_empty(),
            "{:?}",
            db.recovery().warnings
        );
        Live {
            session: Session::new(db.clone()),
            db,
            disk,
        }
    }

    fn run(steps: &[Step], always: bool) -> Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(START_MS);
        let mut live = open(dir.path(), &clock, always);
        let mut model = Model {
            map: Map::new(),
            transaction: None,
        };
        for (i, step) in steps.iter().enumerate() {
            match step {
                Step::Advance(ms) => clock.advance(*ms),
                Step::Restart | Step::PowerCut(_) => {
                    if let (Step::PowerCut(torn), Some(disk)) = (step, &live.disk) {
                        disk.cut_power(*torn).unwrap();
                    }
                    drop(live);
                    live = open(dir.path(), &clock, always);
                    model.transaction = None; // the session ended
                }
                _ => {
                    let text = Model::statement(step).unwrap();
                    let now = clock.now_ms();
                    let expected = model.step(step, now);
                    let got = exec(&mut live.session, &text);
                    match (&expected, &got) {
                        (Ok(e), Ok(g)) => prop_assert_eq!(e, g, "step {}: {}", i, text),
                        (Err(()), Err(_)) => {}
                        _ => prop_assert!(
                            false,
                            "step {i}: {text}: model says {expected:?}, inmem says {got:?}"
                        ),
                    }
                    // Front-ends acknowledge before showing a reply.
                    prop_assert!(live.db.acknowledge().is_ok());
                }
            }
            let now = clock.now_ms();
            let engine: BTreeMap<String, (String, Option<u64>)> = live
                .db
                .engine()
                .entries("0")
                .into_iter()
                .map(|(k, e)| {
                    (
                        String::from_utf8(k).unwrap(),
                        (String::from_utf8(e.value.to_vec()).unwrap(), e.expires_at),
                    )
                })
                .collect();
            prop_assert_eq!(
                engine,
                model.live_entries(now),
                "after step {}: {:?}",
                i,
                step
            );
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Clean restarts under everysec, with snapshots and compaction.
        #[test]
        fn model_survives_saves_and_restarts(steps in proptest::collection::vec(step(false), 1..40)) {
            run(&steps, false)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 64,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Under always on the simulated disk, a power cut after any
        /// acknowledged statement loses nothing.
        #[test]
        fn model_survives_power_cuts_under_always(steps in proptest::collection::vec(step(true), 1..40)) {
            run(&steps, true)?;
        }
    }
}

/// Checks that statement `i`, which failed with `error`, is a snapshot: the
/// only statement that may fail without the log failing. True when its
/// failure is the log's (its segment switch failed the log).
fn save_failed_with_the_log(context: &str, i: usize, stmt: &Stmt, error: &str) -> bool {
    assert!(
        matches!(stmt, Stmt::Save) && error.contains("snapshot"),
        "{context}: statement {i} ({}) failed: {error}",
        stmt.text()
    );
    error.contains("while the log fails")
}

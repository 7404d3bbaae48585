//! The cost of LRU bookkeeping and of latency histograms on the put/get path:
//! the same statements through three sessions, one per configuration
//! (baseline with both off, LRU on, histogram on).
//!
//! Run: `cargo bench --bench overhead` (about 30 s).
//!
//! This machine's speed drifts within minutes, so the configurations are
//! never measured one after another: every criterion sample of every
//! benchmark runs all three, interleaved in slices of `SLICE` statements
//! whose order rotates, and criterion is handed the time of the benchmark's
//! own configuration. Criterion's lines for different configurations still
//! come from different seconds, so do not compare them with each other; the
//! bench ends with a table that does: per operation, each configuration's
//! mean time per statement over the same samples, and the overhead as
//! "+x%", the median of the per-sample ratios to baseline, with their
//! interquartile range and count.

use criterion::Criterion;
use inmem::command::grammar;
use inmem::engine::{Eviction, Limits};
use inmem::session::Session;
use inmem::{Db, Options};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// Keys in each database.
const KEYS: usize = 100_000;

/// Statements a configuration runs before the next one takes its turn.
const SLICE: u64 = 1_000;

/// Samples with fewer statements per configuration (criterion's first
/// warm-up calls) give no ratio.
const MIN_ITERS: u64 = SLICE;

/// The configurations: name, eviction policy, latency tracking. The first is
/// the baseline the others are compared with.
const CONFIGS: [(&str, Eviction, bool); 3] = [
    ("baseline", Eviction::Noeviction, false),
    ("lru", Eviction::AllkeysLru, false),
    ("histogram", Eviction::Noeviction, true),
];

/// A session on a fresh database holding KEYS keys.
fn session(policy: Eviction, latency: bool) -> (TempDir, Session) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut options = Options::new(dir.path());
    options.active_expiry = false;
    options.persistence.snapshot_interval = Duration::ZERO;
    options.persistence.compact_threshold = 0;
    // The command log would dilute the two costs measured here.
    options.command_log = None;
    // A policy with no limit set never evicts; only its bookkeeping runs.
    options.limits = Limits {
        max_keys: None,
        maxmemory: None,
        policy,
    };
    let db = Db::open(options).expect("open");
    db.stats().set_latency_tracking(latency);
    let mut s = Session::new(db);
    for i in 0..KEYS {
        let text = format!("put key:{i} value:{i}");
        let st = grammar::parse(&text).expect("parse");
        s.execute(&st[0], &text).expect("put");
    }
    (dir, s)
}

/// Every seventh key's `put` or `get` statement, with its source text.
fn statements(op: &str) -> Vec<(String, grammar::Statement)> {
    (0..KEYS)
        .step_by(7)
        .map(|i| {
            let text = if op == "put" {
                format!("put key:{i} value:{i}")
            } else {
                format!("get key:{i}")
            };
            let st = grammar::parse(&text).expect("parse").remove(0);
            (text, st)
        })
        .collect()
}

/// The three sessions of one operation, run interleaved.
struct Trio {
    sessions: Vec<(TempDir, Session)>,
    statements: Vec<(String, grammar::Statement)>,
    /// Each session's position in `statements` (they stay in step).
    next: [usize; 3],
    /// Which configuration goes first in the next slice.
    turn: usize,
    /// Per sample of at least MIN_ITERS: statements per configuration and
    /// each configuration's time.
    samples: Vec<(u64, [Duration; 3])>,
}

impl Trio {
    /// The three sessions and the `op` statements they will run.
    fn new(op: &str) -> Self {
        Trio {
            sessions: CONFIGS.iter().map(|&(_, p, l)| session(p, l)).collect(),
            statements: statements(op),
            next: [0; 3],
            turn: 0,
            samples: Vec::new(),
        }
    }

    /// Runs `iters` statements in each configuration, in slices whose order
    /// rotates; returns each configuration's time.
    fn sample(&mut self, iters: u64) -> [Duration; 3] {
        let mut spent = [Duration::ZERO; 3];
        let mut left = iters;
        while left > 0 {
            let n = left.min(SLICE);
            for k in 0..3 {
                let c = (self.turn + k) % 3;
                let start = Instant::now();
                self.run(c, n);
                spent[c] += start.elapsed();
            }
            self.turn = (self.turn + 1) % 3;
            left -= n;
        }
        if iters >= MIN_ITERS {
            self.samples.push((iters, spent));
        }
        spent
    }

    /// Runs `n` statements through configuration `c`'s session.
    fn run(&mut self, c: usize, n: u64) {
        let s = &mut self.sessions[c].1;
        for _ in 0..n {
            let (text, st) = &self.statements[self.next[c]];
            black_box(s.execute(st, text).expect("execute"));
            self.next[c] = (self.next[c] + 1) % self.statements.len();
        }
    }

    /// The final table's lines for operation `op`: each configuration's mean
    /// time per statement over all samples and, for the features, the
    /// median and interquartile range of the per-sample ratio to baseline.
    fn report(&self, op: &str) -> Vec<String> {
        let statements: u64 = self.samples.iter().map(|(n, _)| n).sum();
        if statements == 0 {
            return vec![format!("{op}: no samples")];
        }
        let mean_ns = |c: usize| {
            let total: Duration = self.samples.iter().map(|(_, t)| t[c]).sum();
            total.as_nanos() as f64 / statements as f64
        };
        let mut lines = vec![format!("{op} {:<9} {:4.0} ns", "baseline", mean_ns(0))];
        for (c, feature) in [(1, "LRU"), (2, "histogram")] {
            let mut ratios: Vec<f64> = self
                .samples
                .iter()
                .map(|(_, t)| t[c].as_secs_f64() / t[0].as_secs_f64())
                .collect();
            ratios.sort_by(f64::total_cmp);
            let percent = |q: f64| {
                let at = ((ratios.len() - 1) as f64 * q).round() as usize;
                (ratios[at] - 1.0) * 100.0
            };
            lines.push(format!(
                "{op} {feature:<9} {:4.0} ns  {:+5.1}%  (IQR {:+.1}% .. {:+.1}%, {} samples)",
                mean_ns(c),
                percent(0.5),
                percent(0.25),
                percent(0.75),
                ratios.len()
            ));
        }
        lines
    }
}

fn main() {
    let mut c = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1))
        .configure_from_args();
    let mut table = Vec::new();
    for op in ["put", "get"] {
        let mut trio = Trio::new(op);
        let mut group = c.benchmark_group(format!("overhead/{op}"));
        for (i, (name, _, _)) in CONFIGS.iter().enumerate() {
            group.bench_function(*name, |b| b.iter_custom(|iters| trio.sample(iters)[i]));
        }
        group.finish();
        table.extend(trio.report(op));
    }
    c.final_summary();
    println!("\noverhead over baseline, all configurations interleaved (mean time per");
    println!("statement; median and IQR of the per-sample ratios to baseline):");
    for line in table {
        println!("  {line}");
    }
}

//! Operation counts and per-command latency (HDR histograms), for `stats`.

use hdrhistogram::Histogram;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Slowest latency a histogram tracks exactly (longer ones are clamped).
const MAX_TRACKED_NS: u64 = 60_000_000_000;

/// Latency percentiles of one command, in microseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Latency {
    /// Command name.
    pub command: &'static str,
    /// Statements measured.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Mean.
    pub mean: f64,
}

/// Executed statements of one command that took as long and finished at the
/// same instant (most often just one), as [`Stats::record_all`] takes them.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    /// Command name.
    pub command: &'static str,
    /// How long each took.
    pub elapsed: Duration,
    /// When they finished.
    pub finished: Instant,
    /// How many statements this stands for.
    pub count: u64,
}

#[derive(Debug)]
struct Tracking {
    ops: u64,
    /// A histogram per command, in the order commands were first seen.
    latency: Vec<(&'static str, Histogram<u64>)>,
    /// Where the last command recorded is in `latency`: statements mostly
    /// repeat the command before them.
    last: usize,
    /// Whole seconds since start of the current window, and its count.
    second: u64,
    this_second: u64,
    last_second: u64,
}

/// Counters for one open database.
#[derive(Debug)]
pub struct Stats {
    started: Instant,
    tracking: Mutex<Tracking>,
    /// Per-command latency histograms are kept only while this is set.
    latency_tracking: AtomicBool,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            tracking: Mutex::new(Tracking {
                ops: 0,
                latency: Vec::new(),
                last: 0,
                second: 0,
                this_second: 0,
                last_second: 0,
            }),
            latency_tracking: AtomicBool::new(true),
        }
    }
}

impl Tracking {
    /// The histogram of `command`, created on its first statement.
    fn histogram(&mut self, command: &'static str) -> &mut Histogram<u64> {
        let same = |name: &str| std::ptr::eq(name, command) || name == command;
        let at = match self.latency.get(self.last) {
            Some((name, _)) if same(name) => self.last,
            _ => match self.latency.iter().position(|(name, _)| same(name)) {
                Some(at) => at,
                None => {
                    let histogram = Histogram::new_with_bounds(1, MAX_TRACKED_NS, 2)
                        .expect("valid histogram bounds");
                    self.latency.push((command, histogram));
                    self.latency.len() - 1
                }
            },
        };
        self.last = at;
        &mut self.latency[at].1
    }
}

impl Stats {
    fn lock(&self) -> std::sync::MutexGuard<'_, Tracking> {
        self.tracking.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one executed statement of `command` that took `elapsed`.
    pub fn record(&self, command: &'static str, elapsed: Duration) {
        self.record_at(command, elapsed, Instant::now());
    }

    /// [`Stats::record`] for a statement that finished at `finished` (a
    /// caller that has just read the clock saves reading it again).
    pub fn record_at(&self, command: &'static str, elapsed: Duration, finished: Instant) {
        self.record_all(&[Sample {
            command,
            elapsed,
            finished,
            count: 1,
        }]);
    }

    /// Records statements, in order, under one hold of the lock (script mode
    /// hands over a run of statements at once).
    pub fn record_all(&self, samples: &[Sample]) {
        let latency = self.latency_tracking.load(Ordering::Relaxed);
        let mut t = self.lock();
        // The second since start that the last sample fell in, and the
        // instants it spans: the next samples mostly fall in it too.
        let mut window: Option<(u64, Range<Instant>)> = None;
        for sample in samples {
            let now_second = match &window {
                Some((second, during)) if during.contains(&sample.finished) => *second,
                _ => {
                    let second = sample
                        .finished
                        .saturating_duration_since(self.started)
                        .as_secs();
                    let from = self.started.checked_add(Duration::from_secs(second));
                    window = from.and_then(|from| {
                        Some((second, from..from.checked_add(Duration::from_secs(1))?))
                    });
                    second
                }
            };
            t.ops += sample.count;
            roll(&mut t, now_second);
            t.this_second += sample.count;
            if latency {
                let nanos = u64::try_from(sample.elapsed.as_nanos())
                    .unwrap_or(u64::MAX)
                    .clamp(1, MAX_TRACKED_NS);
                // Clamped into the histogram's range, so recording cannot fail.
                let _ = t.histogram(sample.command).record_n(nanos, sample.count);
            }
        }
    }

    /// Turns per-command latency histograms on or off (`config set latency-tracking`).
    pub fn set_latency_tracking(&self, on: bool) {
        self.latency_tracking.store(on, Ordering::Relaxed);
    }

    /// True while latency histograms are kept.
    pub fn latency_tracking(&self) -> bool {
        self.latency_tracking.load(Ordering::Relaxed)
    }

    /// Statements executed since start (or the last reset).
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// Statements executed during the last whole second.
    pub fn ops_per_sec(&self) -> u64 {
        let now_second = self.started.elapsed().as_secs();
        let mut t = self.lock();
        roll(&mut t, now_second);
        t.last_second
    }

    /// Time since the database was opened.
    pub fn uptime(&self) -> Duration {
        self.started.elapsed()
    }

    /// Percentiles per command, by name.
    pub fn latency(&self) -> Vec<Latency> {
        let micros = |ns: u64| ns as f64 / 1000.0;
        let mut latency: Vec<Latency> = self
            .lock()
            .latency
            .iter()
            .map(|(command, h)| Latency {
                command,
                count: h.len(),
                p50: micros(h.value_at_quantile(0.50)),
                p95: micros(h.value_at_quantile(0.95)),
                p99: micros(h.value_at_quantile(0.99)),
                mean: h.mean() / 1000.0,
            })
            .collect();
        latency.sort_unstable_by_key(|l| l.command);
        latency
    }

    /// Clears counts and histograms.
    pub fn reset(&self) {
        let mut t = self.lock();
        t.ops = 0;
        t.latency.clear();
        t.this_second = 0;
        t.last_second = 0;
    }
}

/// Moves the per-second window forward to `now_second`.
fn roll(t: &mut Tracking, now_second: u64) {
    if now_second != t.second {
        t.last_second = if now_second == t.second + 1 {
            t.this_second
        } else {
            0
        };
        t.second = now_second;
        t.this_second = 0;
    }
}

/// The `stats` reply: totals, per-namespace figures, log and snapshot state,
/// and latency per command.
pub fn report(db: &crate::Db) -> crate::command::Reply {
    use crate::command::Reply;
    let int = |n: u64| Reply::Int(i64::try_from(n).unwrap_or(i64::MAX));
    let namespaces = db.engine().namespace_stats();
    let sum =
        |f: &dyn Fn(&crate::engine::NamespaceStats) -> u64| namespaces.iter().map(f).sum::<u64>();
    let keys = sum(&|n| n.keys);
    let expiring = sum(&|n| n.expiring).min(keys);
    let hits = sum(&|n| n.counters.hits);
    let misses = sum(&|n| n.counters.misses);
    let ratio = if hits + misses == 0 {
        0.0
    } else {
        hits as f64 / (hits + misses) as f64
    };
    let stats = db.stats();
    let log = db.persistence().log();
    let status = db.persistence().status();
    let last_snapshot = match &status.result {
        None => Reply::Nil,
        Some(Ok(w)) => Reply::Map(vec![
            ("at_unix_ms".into(), int(status.at_ms)),
            ("ok".into(), Reply::Bool(true)),
            ("keys".into(), int(w.keys)),
            ("bytes".into(), int(w.bytes)),
            ("millis".into(), int(w.millis)),
        ]),
        Some(Err(e)) => Reply::Map(vec![
            ("at_unix_ms".into(), int(status.at_ms)),
            ("ok".into(), Reply::Bool(false)),
            ("error".into(), Reply::Value(e.clone().into_bytes())),
        ]),
    };
    let per_namespace = namespaces
        .iter()
        .filter(|n| n.keys > 0 || n.counters != crate::engine::Counters::default())
        .map(|n| {
            (
                n.name.clone(),
                Reply::Map(vec![
                    ("keys".into(), int(n.keys)),
                    ("expiring_keys".into(), int(n.expiring.min(n.keys))),
                    ("hits".into(), int(n.counters.hits)),
                    ("misses".into(), int(n.counters.misses)),
                    ("evictions".into(), int(n.counters.evictions)),
                    ("expired".into(), int(n.counters.expired)),
                ]),
            )
        })
        .collect();
    let latency = stats
        .latency()
        .into_iter()
        .map(|l| {
            (
                l.command.to_string(),
                Reply::Map(vec![
                    ("count".into(), int(l.count)),
                    ("p50".into(), Reply::Float(l.p50)),
                    ("p95".into(), Reply::Float(l.p95)),
                    ("p99".into(), Reply::Float(l.p99)),
                ]),
            )
        })
        .collect();
    Reply::Map(vec![
        ("keys".into(), int(keys)),
        ("persistent_keys".into(), int(keys - expiring)),
        ("expiring_keys".into(), int(expiring)),
        ("hits".into(), int(hits)),
        ("misses".into(), int(misses)),
        ("hit_ratio".into(), Reply::Float(ratio)),
        ("evictions".into(), int(sum(&|n| n.counters.evictions))),
        ("expired".into(), int(sum(&|n| n.counters.expired))),
        ("memory_estimate_bytes".into(), int(sum(&|n| n.bytes))),
        (
            "resident_bytes".into(),
            resident_bytes().map_or(Reply::Nil, int),
        ),
        ("ops".into(), int(stats.ops())),
        ("ops_per_sec".into(), int(stats.ops_per_sec())),
        ("uptime_seconds".into(), int(stats.uptime().as_secs())),
        (
            "log_bytes_since_snapshot".into(),
            int(log.bytes_since_checkpoint()),
        ),
        ("log_records_written".into(), int(log.records())),
        (
            "log_failure".into(),
            log.failure()
                .map_or(Reply::Nil, |e| Reply::Value(e.into_bytes())),
        ),
        ("last_snapshot".into(), last_snapshot.clone()),
        // Every snapshot compacts the log, so the two are the same event.
        ("last_compaction".into(), last_snapshot),
        ("namespaces".into(), Reply::Map(per_namespace)),
        ("latency_us".into(), Reply::Map(latency)),
    ])
}

/// Resident memory of this process in bytes (Linux), if known.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_percentiles_and_counts() {
        let stats = Stats::default();
        for us in 1..=100 {
            stats.record("get", Duration::from_micros(us));
        }
        stats.record("put", Duration::from_millis(2));
        let latency = stats.latency();
        assert_eq!(latency.len(), 2);
        let get = &latency[0];
        assert_eq!((get.command, get.count), ("get", 100));
        assert!((49.0..=51.0).contains(&get.p50), "{}", get.p50);
        assert!((94.0..=96.5).contains(&get.p95), "{}", get.p95);
        assert!((98.0..=100.5).contains(&get.p99), "{}", get.p99);
        assert_eq!(stats.ops(), 101);
        stats.reset();
        assert_eq!(stats.ops(), 0);
        assert!(stats.latency().is_empty());
    }

    #[test]
    fn record_at_counts_in_the_second_it_is_given() {
        let stats = Stats::default();
        let second = |n: u64| stats.started + Duration::from_secs(n);
        for _ in 0..3 {
            stats.record_at("put", Duration::from_micros(5), second(0));
        }
        stats.record_at("put", Duration::from_micros(5), second(1));
        {
            let t = stats.lock();
            assert_eq!((t.second, t.last_second, t.this_second), (1, 3, 1));
        }
        // A second without statements empties the window.
        stats.record_at("get", Duration::from_micros(5), second(3));
        let t = stats.lock();
        assert_eq!((t.second, t.last_second, t.this_second), (3, 0, 1));
        assert_eq!(t.ops, 5);
    }

    #[test]
    fn resident_memory_is_known_on_linux() {
        assert!(resident_bytes().is_some_and(|b| b > 0));
    }
}

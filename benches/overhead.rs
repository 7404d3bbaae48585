//! The cost of LRU bookkeeping and of latency histograms on the put/get path:
//! the same statements through a session with each feature off and on.
//! Run: cargo bench --bench overhead

use criterion::{Criterion, criterion_group, criterion_main};
use inmem::command::grammar;
use inmem::engine::{Eviction, Limits};
use inmem::session::Session;
use inmem::{Db, Options};
use std::hint::black_box;
use std::time::Duration;

const KEYS: usize = 100_000;

/// A session on a fresh database holding KEYS keys.
fn session(policy: Eviction, latency: bool) -> (tempfile::TempDir, Session) {
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

fn statements(prefix: &str) -> Vec<(String, grammar::Statement)> {
    (0..KEYS)
        .step_by(7)
        .map(|i| {
            let text = if prefix == "put" {
                format!("put key:{i} value:{i}")
            } else {
                format!("get key:{i}")
            };
            let st = grammar::parse(&text).expect("parse").remove(0);
            (text, st)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("overhead");
    group
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let cases = [
        ("baseline", Eviction::Noeviction, false),
        ("lru", Eviction::AllkeysLru, false),
        ("histogram", Eviction::Noeviction, true),
    ];
    for op in ["put", "get"] {
        let stmts = statements(op);
        for (name, policy, latency) in cases {
            let (_dir, mut s) = session(policy, latency);
            let mut next = stmts.iter().cycle();
            group.bench_function(format!("{op}/{name}"), |b| {
                b.iter(|| {
                    let (text, st) = next.next().expect("cycle");
                    black_box(s.execute(st, text).expect("execute"));
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

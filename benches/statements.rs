//! Statement throughput: parsing alone, parse + execute through a `Session`
//! (`put` and `get`), and the whole script path (`Runner::run_text` on text,
//! `Runner::run_reader` on input as script mode reads it).
//!
//! Run with `cargo bench --bench statements`; see `bench/statements.sh` for the
//! end-to-end binary measurement.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use inmem::command::grammar;
use inmem::output::Format;
use inmem::runner::{Flow, Runner, Settings};
use inmem::session::Session;
use inmem::{Db, Options};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;
use tempfile::TempDir;

/// How many distinct keys the `put`/`get` benchmarks cycle over.
const KEYS: usize = 100_000;

/// Statements per chunk in the runner benchmark.
const CHUNK: usize = 1_000;

/// A database in a fresh temporary directory, without the expiry thread.
/// The directory lives as long as the returned guard.
fn open_db() -> (TempDir, Arc<Db>) {
    let dir = tempfile::tempdir().expect("create temp dir");
    let mut options = Options::new(dir.path());
    options.active_expiry = false;
    let db = Db::open(options).expect("open db");
    (dir, db)
}

/// Parses and executes one statement line, panicking on any error.
fn run_line(session: &mut Session, line: &str) {
    let statements = grammar::parse(line).expect("parse");
    for statement in &statements {
        let reply = session.execute(statement, line).expect("execute");
        black_box(reply);
    }
}

fn put_lines() -> Vec<String> {
    (0..KEYS)
        .map(|i| format!("put key:{i} value:{i}"))
        .collect()
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Elements(1));
    let line = "put key:123456 value:123456";
    group.bench_function("put", |b| {
        b.iter(|| grammar::parse(black_box(line)).expect("parse"))
    });
    group.finish();
}

fn session(c: &mut Criterion) {
    let mut group = c.benchmark_group("session");
    group.throughput(Throughput::Elements(1));

    let puts = put_lines();
    {
        let (_dir, db) = open_db();
        let mut session = Session::new(db);
        let mut next = 0;
        group.bench_function("put", |b| {
            b.iter(|| {
                run_line(&mut session, &puts[next]);
                next = (next + 1) % KEYS;
            })
        });
    }

    {
        let (_dir, db) = open_db();
        let mut session = Session::new(db);
        for line in &puts {
            run_line(&mut session, line);
        }
        let gets: Vec<String> = (0..KEYS).map(|i| format!("get key:{i}")).collect();
        let mut next = 0;
        group.bench_function("get", |b| {
            b.iter(|| {
                run_line(&mut session, &gets[next]);
                next = (next + 1) % KEYS;
            })
        });
    }
    group.finish();
}

fn runner(c: &mut Criterion) {
    let mut group = c.benchmark_group("runner");
    group.throughput(Throughput::Elements(CHUNK as u64));

    // KEYS / CHUNK chunks of CHUNK lines each, together covering every key once.
    let chunks: Vec<String> = put_lines()
        .chunks(CHUNK)
        .map(|lines| {
            let mut text = lines.join("\n");
            text.push('\n');
            text
        })
        .collect();

    let (_dir, db) = open_db();
    let settings = Settings {
        format: Format::Plain,
        bail: false,
        echo: false,
    };
    let mut runner = Runner::new(Session::new(db), settings, std::io::sink());
    let mut next = 0;
    group.bench_function("run_text_put_1000", |b| {
        b.iter(|| {
            let flow = runner.run_text(&chunks[next], 1, None);
            debug_assert_eq!(flow, Flow::Continue);
            next = (next + 1) % chunks.len();
            flow
        })
    });
    assert_eq!(runner.failures(), 0, "runner reported failed statements");

    // The same chunks read as script mode reads its input (plain lines run
    // straight from the reader's buffer).
    let mut next = 0;
    group.bench_function("run_reader_put_1000", |b| {
        b.iter(|| {
            let flow = runner.run_reader(chunks[next].as_bytes(), None);
            debug_assert_eq!(flow, Flow::Continue);
            next = (next + 1) % chunks.len();
            flow
        })
    });
    assert_eq!(runner.failures(), 0, "runner reported failed statements");
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .without_plots()
}

criterion_group! {
    name = benches;
    config = config();
    targets = parse, session, runner
}
criterion_main!(benches);

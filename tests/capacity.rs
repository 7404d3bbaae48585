//! Namespaces, capacity limits with each eviction policy, and statistics
//! checked against known workloads.

use inmem::command::Reply;
use inmem::command::grammar;
use inmem::engine::{Eviction, Limits, ManualClock};
use inmem::session::Session;
use inmem::{Db, Options};
use std::sync::Arc;

const START_MS: u64 = 1_700_000_000_000;

fn open(dir: &std::path::Path, clock: &ManualClock, limits: Limits) -> Arc<Db> {
    let mut options = Options::new(dir);
    options.clock = Arc::new(clock.clone());
    options.active_expiry = false;
    options.limits = limits;
    options.persistence.snapshot_interval = std::time::Duration::ZERO;
    Db::open(options).unwrap()
}

fn run(s: &mut Session, text: &str) -> Result<Reply, String> {
    let statements = grammar::parse(text).map_err(|e| e.to_string())?;
    s.execute(&statements[0], text)
        .map_err(|e| e.error.to_string())
}

fn ok(s: &mut Session, text: &str) -> Reply {
    run(s, text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn keys(s: &mut Session) -> Vec<String> {
    match ok(s, "keys") {
        Reply::List(keys) => keys
            .into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect(),
        other => panic!("{other:?}"),
    }
}

fn field<'a>(reply: &'a Reply, path: &[&str]) -> &'a Reply {
    let mut at = reply;
    for name in path {
        let Reply::Map(fields) = at else {
            panic!("{name}: not a map in {reply:?}")
        };
        at = &fields
            .iter()
            .find(|(k, _)| k == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .1;
    }
    at
}

fn limits(max_keys: u64, policy: Eviction) -> Limits {
    Limits {
        max_keys: Some(max_keys),
        maxmemory: None,
        policy,
    }
}

#[test]
fn namespaces_are_isolated_across_restart_and_transactions() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    {
        let db = open(dir.path(), &clock, Limits::default());
        let mut a = Session::new(db.clone());
        let mut b = Session::new(db.clone());
        ok(&mut a, "put k default");
        ok(&mut b, "use app1");
        assert_eq!(b.namespace(), "app1");
        ok(&mut b, "put k app1");
        ok(&mut b, "begin");
        assert!(
            run(&mut b, "use app2")
                .unwrap_err()
                .contains("not allowed inside a transaction")
        );
        ok(&mut b, "put only app1");
        ok(&mut b, "clear");
        ok(&mut b, "put after-clear 1");
        ok(&mut b, "commit");
        assert_eq!(ok(&mut a, "get k"), Reply::Value(b"default".to_vec()));
        assert_eq!(keys(&mut a), ["k"]);
        assert_eq!(keys(&mut b), ["after-clear"]);
        assert_eq!(
            ok(&mut a, "namespaces"),
            Reply::Map(vec![
                ("0".into(), Reply::Int(1)),
                ("app1".into(), Reply::Int(1))
            ])
        );
    }
    let db = open(dir.path(), &clock, Limits::default());
    let mut s = Session::new(db);
    assert_eq!(keys(&mut s), ["k"]);
    ok(&mut s, "use app1");
    assert_eq!(keys(&mut s), ["after-clear"]);
    assert_eq!(ok(&mut s, "dropns app1"), Reply::Int(1));
    assert_eq!(keys(&mut s), Vec::<String>::new());
    ok(&mut s, "use 0");
    assert_eq!(
        ok(&mut s, "namespaces"),
        Reply::Map(vec![("0".into(), Reply::Int(1))])
    );
}

#[test]
fn batch_refuses_use() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path(), &ManualClock::new(START_MS), Limits::default());
    let mut s = Session::new(db);
    let err = run(&mut s, "batch -c \"put a 1; use x\"").unwrap_err();
    assert!(err.contains("'use' is not allowed inside a batch"), "{err}");
}

#[test]
fn noeviction_refuses_new_keys_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(
        dir.path(),
        &ManualClock::new(START_MS),
        limits(3, Eviction::Noeviction),
    );
    let mut s = Session::new(db.clone());
    for k in ["a", "b", "c"] {
        ok(&mut s, &format!("put {k} 1"));
    }
    let err = run(&mut s, "put d 1").unwrap_err();
    assert_eq!(
        err,
        "out of memory: max-keys 3 reached and policy noeviction has no key to evict"
    );
    assert!(run(&mut s, "incr new").is_err());
    assert!(
        run(&mut s, "batch -c \"delete a; put d 1\"").is_err(),
        "a batch adding keys is refused"
    );
    assert_eq!(keys(&mut s), ["a", "b", "c"]);
    // Overwriting, deleting and reading still work at the limit.
    ok(&mut s, "put a 2");
    ok(&mut s, "incr b");
    assert_eq!(ok(&mut s, "delete c"), Reply::Int(1));
    ok(&mut s, "put d 1");
    assert_eq!(keys(&mut s), ["a", "b", "d"]);
}

#[test]
fn allkeys_lru_evicts_the_least_recently_used_key_each_time() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(
        dir.path(),
        &ManualClock::new(START_MS),
        limits(3, Eviction::AllkeysLru),
    );
    let mut s = Session::new(db.clone());
    ok(&mut s, "put a 1");
    ok(&mut s, "put b 1");
    ok(&mut s, "put c 1");
    // Uses within the same second still order: a read of a makes b the oldest.
    ok(&mut s, "get a");
    ok(&mut s, "put d 1");
    assert_eq!(keys(&mut s), ["a", "c", "d"]);
    ok(&mut s, "exists c");
    ok(&mut s, "expire a 100");
    ok(&mut s, "put e 1");
    assert_eq!(
        keys(&mut s),
        ["a", "c", "e"],
        "d was the least recently used"
    );
    let stats = ok(&mut s, "stats");
    assert_eq!(field(&stats, &["evictions"]), &Reply::Int(2));
}

#[test]
fn volatile_policies_only_evict_keys_with_a_ttl() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let db = open(dir.path(), &clock, limits(4, Eviction::VolatileLru));
    let mut s = Session::new(db.clone());
    ok(&mut s, "put keep1 1");
    ok(&mut s, "put t1 1 100");
    ok(&mut s, "put keep2 1");
    ok(&mut s, "put t2 1 50");
    ok(&mut s, "get t1");
    ok(&mut s, "put new1 1");
    assert_eq!(
        keys(&mut s),
        ["keep1", "keep2", "new1", "t1"],
        "t2 was the LRU volatile key"
    );
    ok(&mut s, "put new2 1");
    assert_eq!(keys(&mut s), ["keep1", "keep2", "new1", "new2"]);
    let err = run(&mut s, "put new3 1").unwrap_err();
    assert!(
        err.contains("policy volatile-lru has no key to evict"),
        "{err}"
    );

    ok(&mut s, "config set eviction volatile-ttl");
    ok(&mut s, "delete new1 new2");
    ok(&mut s, "put far 1 1000");
    ok(&mut s, "put near 1 10");
    ok(&mut s, "get near");
    ok(&mut s, "put x 1");
    assert_eq!(
        keys(&mut s),
        ["far", "keep1", "keep2", "x"],
        "the nearest deadline goes first"
    );
}

#[test]
fn allkeys_random_keeps_the_count_at_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(
        dir.path(),
        &ManualClock::new(START_MS),
        limits(100, Eviction::AllkeysRandom),
    );
    let mut s = Session::new(db.clone());
    for i in 0..1000 {
        ok(&mut s, &format!("put k{i} v"));
    }
    assert_eq!(ok(&mut s, "size"), Reply::Int(100));
    assert!(
        keys(&mut s).contains(&"k999".to_string()),
        "the newest key is never the victim"
    );
    assert_eq!(
        field(&ok(&mut s, "stats"), &["evictions"]),
        &Reply::Int(900)
    );
}

#[test]
fn evictions_are_logged_so_recovery_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let before = {
        let db = open(dir.path(), &clock, limits(50, Eviction::AllkeysLru));
        let mut s = Session::new(db);
        for i in 0..200 {
            ok(&mut s, &format!("put k{i} v{i}"));
            ok(&mut s, &format!("get k{}", i / 2));
        }
        keys(&mut s)
    };
    assert_eq!(before.len(), 50);
    let db = open(dir.path(), &clock, Limits::default());
    let mut s = Session::new(db);
    assert_eq!(keys(&mut s), before);
}

#[test]
fn maxmemory_evicts_by_estimated_size() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_keys: None,
        maxmemory: Some(10_000),
        policy: Eviction::AllkeysLru,
    };
    let db = open(dir.path(), &ManualClock::new(START_MS), limits);
    let mut s = Session::new(db.clone());
    let big = "x".repeat(900);
    for i in 0..40 {
        ok(&mut s, &format!("put k{i} {big}"));
    }
    let used = match field(&ok(&mut s, "stats"), &["memory_estimate_bytes"]) {
        Reply::Int(n) => *n,
        other => panic!("{other:?}"),
    };
    assert!(used <= 10_000 + 1_000, "{used}");
    assert!(keys(&mut s).contains(&"k39".to_string()));
    ok(&mut s, "config set maxmemory 0");
    ok(&mut s, &format!("put more {big}"));
    assert!(
        run(&mut s, "config set eviction sometimes")
            .unwrap_err()
            .contains("unknown eviction policy")
    );
    assert!(
        run(&mut s, "config set appendfsync always")
            .unwrap_err()
            .contains("set at start-up")
    );
}

/// How close sampled LRU comes to exact LRU: of the keys it evicts, the share
/// that exact LRU would also have evicted by the end of the run.
#[test]
fn sampled_lru_is_close_to_exact_lru() {
    let dir = tempfile::tempdir().unwrap();
    let capacity = 1_000u64;
    let db = open(
        dir.path(),
        &ManualClock::new(START_MS),
        limits(capacity, Eviction::AllkeysLru),
    );
    let mut s = Session::new(db.clone());
    // Exact LRU model: key -> last use.
    let mut last_use = std::collections::HashMap::new();
    let mut tick = 0u64;
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for i in 0..5_000u64 {
        ok(&mut s, &format!("put k{i} v"));
        tick += 1;
        last_use.insert(format!("k{i}"), tick);
        // Re-read a random recent key, so recency differs from insertion order.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let back = i.saturating_sub(rng % 800);
        if last_use.contains_key(&format!("k{back}"))
            && ok(&mut s, &format!("exists k{back}")) == Reply::Bool(true)
        {
            tick += 1;
            last_use.insert(format!("k{back}"), tick);
        }
    }
    let kept: std::collections::HashSet<String> = keys(&mut s).into_iter().collect();
    assert_eq!(kept.len() as u64, capacity);
    let mut by_recency: Vec<(&String, &u64)> = last_use.iter().collect();
    by_recency.sort_by_key(|(_, t)| std::cmp::Reverse(**t));
    let exact: std::collections::HashSet<&String> = by_recency
        .iter()
        .take(capacity as usize)
        .map(|(k, _)| *k)
        .collect();
    let agree = kept.iter().filter(|k| exact.contains(k)).count();
    let share = agree as f64 / capacity as f64;
    println!(
        "sampled LRU kept {agree} of the {capacity} keys exact LRU keeps ({:.1}%)",
        share * 100.0
    );
    assert!(
        share >= 0.80,
        "only {:.1}% agreement with exact LRU",
        share * 100.0
    );
}

#[test]
fn stats_count_a_known_workload_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let db = open(dir.path(), &clock, limits(4, Eviction::AllkeysLru));
    let mut s = Session::new(db.clone());
    ok(&mut s, "put a 1");
    ok(&mut s, "put b 1 10");
    ok(&mut s, "put c 1 20");
    ok(&mut s, "get a"); // hit
    ok(&mut s, "get a"); // hit
    ok(&mut s, "get zz"); // miss
    ok(&mut s, "exists b"); // hit
    ok(&mut s, "ttl nope"); // miss
    ok(&mut s, "use other");
    ok(&mut s, "get a"); // miss (other namespace)
    ok(&mut s, "put d 1");
    ok(&mut s, "put e 1"); // evicts c, the least recently used
    clock.advance(15_000);
    assert_eq!(db.engine().purge_expired(100), 1); // b expired
    let stats = ok(&mut s, "stats");
    assert_eq!(field(&stats, &["hits"]), &Reply::Int(3));
    assert_eq!(field(&stats, &["misses"]), &Reply::Int(3));
    assert_eq!(field(&stats, &["hit_ratio"]), &Reply::Float(0.5));
    assert_eq!(field(&stats, &["evictions"]), &Reply::Int(1));
    assert_eq!(field(&stats, &["expired"]), &Reply::Int(1));
    assert_eq!(field(&stats, &["keys"]), &Reply::Int(3));
    assert_eq!(field(&stats, &["expiring_keys"]), &Reply::Int(0));
    assert_eq!(field(&stats, &["persistent_keys"]), &Reply::Int(3));
    assert_eq!(field(&stats, &["namespaces", "0", "hits"]), &Reply::Int(3));
    assert_eq!(
        field(&stats, &["namespaces", "other", "misses"]),
        &Reply::Int(1)
    );
    assert_eq!(
        field(&stats, &["latency_us", "get", "count"]),
        &Reply::Int(4)
    );
    assert!(matches!(field(&stats, &["latency_us", "put", "p99"]), Reply::Float(x) if *x > 0.0));
    assert_eq!(ok(&mut s, "stats reset"), Reply::Ok);
    let stats = ok(&mut s, "stats");
    assert_eq!(field(&stats, &["hits"]), &Reply::Int(0));
    assert_eq!(field(&stats, &["evictions"]), &Reply::Int(0));
    assert_eq!(
        field(&stats, &["latency_us", "stats", "count"]),
        &Reply::Int(1)
    );
}

/// Settings changed together take effect together or not at all, and
/// changes made at the same moment from several threads are all kept.
#[test]
fn config_changes_are_all_or_nothing_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(1_000);
    let db = open(dir.path(), &clock, limits(0, Eviction::Noeviction));
    let refused = inmem::config::set_all(&db, &[("max-keys", "5"), ("eviction", "sometimes")]);
    assert!(refused.is_err());
    assert_eq!(db.engine().limits(), limits(0, Eviction::Noeviction));
    // One thread changes max-keys, the other maxmemory, over and over: the
    // other's changes never undo one (each thread sees its own value stay).
    let threads: Vec<_> = [("max-keys", 6_000), ("maxmemory", 90_000)]
        .into_iter()
        .map(|(name, last)| {
            let db = db.clone();
            std::thread::spawn(move || {
                for n in (last - 5_000)..=last {
                    inmem::config::set_all(&db, &[(name, &n.to_string())]).unwrap();
                    let limits = db.engine().limits();
                    let mine = if name == "max-keys" {
                        limits.max_keys
                    } else {
                        limits.maxmemory
                    };
                    assert_eq!(mine, Some(n), "{name} {n} was undone");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let limits = db.engine().limits();
    assert_eq!(
        (limits.max_keys, limits.maxmemory),
        (Some(6_000), Some(90_000))
    );
}

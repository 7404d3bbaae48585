//! Redis's generic key commands through the library face, as the RESP server
//! runs them (a session executing built commands) and as the engine runs them
//! (live keyspace and transactions), with a manual clock; plus a few runs of
//! the binary. Expected replies and error texts were checked against
//! redis-server 7.0.15.

use assert_cmd::Command as Bin;
use inmem::command::redis;
use inmem::command::{Command, Op, Reply, grammar};
use inmem::engine::{Changes, Engine, ManualClock};
use inmem::session::Session;
use inmem::{Db, Options};
use std::collections::HashSet;
use std::sync::Arc;

const START_MS: u64 = 1_700_000_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    session: Session,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let mut options = Options::new(dir.path());
    options.clock = Arc::new(clock.clone());
    options.active_expiry = false;
    let db = Db::open(options).unwrap();
    Fixture {
        _dir: dir,
        clock,
        session: Session::new(db),
    }
}

/// Splits a command line on spaces (tests use no quoting).
fn argv(line: &str) -> Vec<Vec<u8>> {
    line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
}

/// Builds a Redis command as the RESP server does: lookup, arity, builder.
fn build(line: &str) -> Result<(&'static str, Command), String> {
    let args = argv(line);
    let spec = redis::lookup(&args[0]).ok_or_else(|| format!("unknown {line}"))?;
    if !spec.accepts(args.len()) {
        return Err(redis::arity_error(spec).to_string());
    }
    let built = redis::build(spec, &args[1..]).expect("a keyspace command");
    built.map(|c| (spec.name, c)).map_err(|e| e.to_string())
}

impl Fixture {
    /// Runs one Redis command line; the reply or the error's text.
    fn redis(&mut self, line: &str) -> Result<Reply, String> {
        let (name, command) = build(line)?;
        self.session
            .execute_command(name, command, &argv(line))
            .map_err(|e| e.to_string())
    }

    fn ok(&mut self, line: &str) -> Reply {
        self.redis(line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn err(&mut self, line: &str) -> String {
        match self.redis(line) {
            Ok(reply) => panic!("{line}: expected an error, got {reply:?}"),
            Err(e) => e,
        }
    }

    /// Runs one of inmem's own statements (put, begin, commit, ...).
    fn inmem(&mut self, text: &str) -> Reply {
        let statements = grammar::parse(text).unwrap();
        self.session
            .execute(&statements[0], text)
            .unwrap_or_else(|e| panic!("{text}: {}", e.error))
    }

    fn int(&mut self, line: &str) -> i64 {
        match self.ok(line) {
            Reply::Int(n) => n,
            other => panic!("{line}: {other:?}"),
        }
    }

    /// Walks a whole SCAN with the given options; every step's keys.
    fn scan_all(&mut self, options: &str) -> Vec<Vec<Vec<u8>>> {
        let mut cursor = 0;
        let mut steps = Vec::new();
        loop {
            let (next, keys) = scan_reply(self.ok(&format!("scan {cursor}{options}")));
            steps.push(keys);
            if next == 0 {
                return steps;
            }
            cursor = next;
        }
    }
}

fn scan_reply(reply: Reply) -> (u64, Vec<Vec<u8>>) {
    match reply {
        Reply::Array(parts) => match parts.as_slice() {
            [Reply::Value(cursor), Reply::List(keys)] => (
                std::str::from_utf8(cursor).unwrap().parse().unwrap(),
                keys.clone(),
            ),
            other => panic!("not a scan reply: {other:?}"),
        },
        other => panic!("not a scan reply: {other:?}"),
    }
}

fn value(v: &str) -> Reply {
    Reply::Value(v.as_bytes().to_vec())
}

fn list(items: &[&str]) -> Reply {
    Reply::List(items.iter().map(|s| s.as_bytes().to_vec()).collect())
}

fn status(word: &str) -> Reply {
    Reply::Status(word.into())
}

fn names(keys: impl IntoIterator<Item = Vec<u8>>) -> HashSet<String> {
    keys.into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect()
}

#[test]
fn del_and_unlink_count_each_existing_key_once() {
    let mut f = fixture();
    for key in ["a", "b", "c"] {
        f.inmem(&format!("put {key} 1"));
    }
    assert_eq!(f.ok("del a a zz"), Reply::Int(1));
    assert_eq!(f.ok("UNLINK b c b"), Reply::Int(2));
    assert_eq!(f.ok("del a"), Reply::Int(0));
    assert_eq!(f.ok("dbsize"), Reply::Int(0));
    assert_eq!(f.err("del"), "wrong number of arguments for 'del' command");
}

#[test]
fn exists_counts_every_mention() {
    let mut f = fixture();
    f.inmem("put a 1");
    f.inmem("put b 1 px 10");
    assert_eq!(f.ok("exists a a a b"), Reply::Int(4));
    assert_eq!(f.ok("exists zz a zz"), Reply::Int(1));
    f.clock.advance(10);
    assert_eq!(f.ok("exists a b"), Reply::Int(1), "an expired key is gone");
}

#[test]
fn type_names_string_or_none() {
    let mut f = fixture();
    f.inmem("put a 1 px 5");
    assert_eq!(f.ok("type a"), status("string"));
    assert_eq!(f.ok("type zz"), status("none"));
    f.clock.advance(5);
    assert_eq!(f.ok("type a"), status("none"));
}

#[test]
fn keys_lists_glob_matches_sorted_and_skips_expired() {
    let mut f = fixture();
    for key in ["hello", "hallo", "hxllo", "a*b", "axb", "user:1/2"] {
        f.inmem(&format!("put {key} v"));
    }
    f.inmem("put hullo v px 1");
    f.clock.advance(1);
    assert_eq!(
        f.ok("keys *"),
        list(&["a*b", "axb", "hallo", "hello", "hxllo", "user:1/2"])
    );
    assert_eq!(f.ok("keys h?llo"), list(&["hallo", "hello", "hxllo"]));
    assert_eq!(f.ok("keys h[^e]llo"), list(&["hallo", "hxllo"]));
    assert_eq!(f.ok("keys h[ae]llo"), list(&["hallo", "hello"]));
    assert_eq!(f.ok("keys a\\*b"), list(&["a*b"]));
    assert_eq!(f.ok("keys user:*"), list(&["user:1/2"]));
    assert_eq!(f.ok("keys nothing*"), list(&[]));
}

#[test]
fn rename_moves_the_value_and_its_deadline() {
    let mut f = fixture();
    f.inmem("put a 1");
    f.inmem("put b 2 px 100000");
    // The new name loses its own deadline: it takes a's (none).
    assert_eq!(f.ok("rename a b"), Reply::Ok);
    assert_eq!(f.inmem("get b"), value("1"));
    assert_eq!(f.ok("exists a"), Reply::Int(0));
    assert_eq!(f.ok("ttl b"), Reply::Int(-1));
    // A deadline travels with the value.
    f.inmem("put c 3");
    assert_eq!(f.ok("pexpire c 5000"), Reply::Bool(true));
    assert_eq!(f.ok("rename c d"), Reply::Ok);
    assert_eq!(f.ok("pttl d"), Reply::Int(5000));
    f.clock.advance(5000);
    assert_eq!(f.ok("exists d"), Reply::Int(0));
}

#[test]
fn rename_onto_itself_and_missing_keys() {
    let mut f = fixture();
    f.inmem("put a 1 px 700");
    assert_eq!(f.ok("rename a a"), Reply::Ok);
    assert_eq!(f.ok("renamenx a a"), Reply::Bool(false));
    assert_eq!(f.ok("pttl a"), Reply::Int(700), "nothing changed");
    assert_eq!(f.err("rename zz a"), "no such key");
    assert_eq!(f.err("renamenx zz a"), "no such key");
    assert_eq!(f.err("rename zz zz"), "no such key");
    f.clock.advance(700);
    assert_eq!(f.err("rename a b"), "no such key", "an expired key is gone");
}

#[test]
fn renamenx_only_takes_a_free_name() {
    let mut f = fixture();
    f.inmem("put c 1");
    f.inmem("put x 2");
    assert_eq!(f.ok("renamenx c x"), Reply::Bool(false));
    assert_eq!(f.inmem("get x"), value("2"));
    assert_eq!(f.ok("renamenx c y"), Reply::Bool(true));
    assert_eq!(f.inmem("get y"), value("1"));
    assert_eq!(f.ok("exists c"), Reply::Int(0));
    // An expired key does not hold its name.
    f.inmem("put old 1 px 1");
    f.clock.advance(1);
    assert_eq!(f.ok("renamenx y old"), Reply::Bool(true));
    assert_eq!(f.ok("ttl old"), Reply::Int(-1));
}

#[test]
fn the_expire_family_sets_absolute_deadlines() {
    let mut f = fixture();
    for key in ["a", "b", "c", "d"] {
        f.inmem(&format!("put {key} 1"));
    }
    assert_eq!(f.ok("expire a 10"), Reply::Bool(true));
    assert_eq!(f.ok("pexpire b 1500"), Reply::Bool(true));
    let at_s = START_MS / 1000 + 20;
    assert_eq!(f.ok(&format!("expireat c {at_s}")), Reply::Bool(true));
    assert_eq!(
        f.ok(&format!("pexpireat d {}", START_MS + 2500)),
        Reply::Bool(true)
    );
    assert_eq!(f.int("ttl a"), 10);
    assert_eq!(f.int("pttl a"), 10_000);
    assert_eq!(f.int("pexpiretime a"), (START_MS + 10_000) as i64);
    assert_eq!(f.int("expiretime a"), (START_MS / 1000 + 10) as i64);
    assert_eq!(f.int("pexpiretime c"), (at_s * 1000) as i64);
    assert_eq!(f.int("expiretime c"), at_s as i64);
    assert_eq!(f.int("pttl d"), 2500);
    assert_eq!(f.ok("expire zz 10"), Reply::Bool(false));
    f.clock.advance(1500);
    assert_eq!(f.ok("exists b"), Reply::Int(0));
    assert_eq!(f.int("ttl d"), 1);
    f.clock.advance(1000);
    assert_eq!(f.ok("exists a b c d"), Reply::Int(2));
}

#[test]
fn ttl_rounds_seconds_to_the_nearest() {
    let mut f = fixture();
    f.inmem("put a 1");
    assert_eq!(f.int("ttl a"), -1);
    assert_eq!(f.int("pttl a"), -1);
    assert_eq!(f.int("expiretime a"), -1);
    assert_eq!(f.int("pexpiretime a"), -1);
    for line in ["ttl zz", "pttl zz", "expiretime zz", "pexpiretime zz"] {
        assert_eq!(f.int(line), -2, "{line}");
    }
    f.ok("pexpire a 1500");
    assert_eq!(f.int("ttl a"), 2);
    f.clock.advance(1);
    assert_eq!(f.int("ttl a"), 1);
    assert_eq!(f.int("pttl a"), 1499);
    // EXPIRETIME rounds the same way: a deadline ending in 500 ms rounds up.
    f.ok(&format!("pexpireat a {}", START_MS + 10_500));
    assert_eq!(f.int("expiretime a"), (START_MS / 1000) as i64 + 11);
    f.ok(&format!("pexpireat a {}", START_MS + 10_499));
    assert_eq!(f.int("expiretime a"), (START_MS / 1000) as i64 + 10);
}

#[test]
fn the_farthest_deadlines_redis_allows() {
    let mut f = fixture();
    f.inmem("put a 1");
    assert_eq!(f.ok("expireat a 9223372036854775"), Reply::Bool(true));
    assert_eq!(f.int("pexpiretime a"), 9_223_372_036_854_775_000);
    assert_eq!(f.ok("pexpireat a 9223372036854775807"), Reply::Bool(true));
    assert_eq!(f.int("pexpiretime a"), i64::MAX);
    assert_eq!(f.int("expiretime a"), 9_223_372_036_854_776);
    assert_eq!(f.int("pttl a"), i64::MAX - START_MS as i64);
    assert_eq!(
        f.err("expire a 9223372036854775"),
        "invalid expire time in 'expire' command",
        "the deadline would pass i64::MAX ms"
    );
    assert_eq!(
        f.err("expire a 9223372036854776"),
        "invalid expire time in 'expire' command"
    );
    assert_eq!(
        f.err("pexpire a 9223372036854775807"),
        "invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        f.err("expireat a 9223372036854776"),
        "invalid expire time in 'expireat' command"
    );
    assert_eq!(
        f.err("expire a -9223372036854776"),
        "invalid expire time in 'expire' command"
    );
    // The range is checked before the key is looked up.
    assert_eq!(
        f.err("expire zz 9223372036854775"),
        "invalid expire time in 'expire' command"
    );
    assert_eq!(f.int("pexpiretime a"), i64::MAX, "errors change nothing");
}

#[test]
fn a_deadline_not_in_the_future_deletes_the_key() {
    let mut f = fixture();
    let cases = [
        "expire a -1",
        "expire a 0",
        "pexpire a 0",
        "expireat a 100",
        "pexpireat a 0",
        "pexpireat a -9223372036854775808",
        "pexpire a -9223372036854775808",
    ];
    for line in cases {
        f.inmem("put a 1");
        assert_eq!(f.ok(line), Reply::Bool(true), "{line}");
        assert_eq!(f.ok("exists a"), Reply::Int(0), "{line}");
    }
    // Exactly now is already past.
    f.inmem("put a 1");
    assert_eq!(f.ok(&format!("pexpireat a {START_MS}")), Reply::Bool(true));
    assert_eq!(f.ok("exists a"), Reply::Int(0));
    f.inmem("put a 1");
    assert_eq!(
        f.ok(&format!("pexpireat a {}", START_MS + 1)),
        Reply::Bool(true)
    );
    assert_eq!(f.int("pttl a"), 1);
}

#[test]
fn expire_conditions_follow_redis_7() {
    let mut f = fixture();
    f.inmem("put a 1");
    // Without a TTL: XX and GT refuse, LT and NX accept.
    assert_eq!(f.ok("expire a 100 xx"), Reply::Bool(false));
    assert_eq!(f.ok("expire a 100 gt"), Reply::Bool(false));
    assert_eq!(f.ok("expire a 100 xx gt"), Reply::Bool(false));
    assert_eq!(f.ok("expire a 100 xx lt"), Reply::Bool(false));
    assert_eq!(f.int("ttl a"), -1);
    assert_eq!(f.ok("expire a 100 lt"), Reply::Bool(true));
    assert_eq!(f.int("ttl a"), 100);
    f.ok("persist a");
    assert_eq!(f.ok("expire a 10 NX"), Reply::Bool(true));
    assert_eq!(f.int("ttl a"), 10);
    // With a TTL: NX refuses, XX accepts, GT and LT compare strictly.
    assert_eq!(f.ok("expire a 20 nx"), Reply::Bool(false));
    assert_eq!(f.ok("expire a 10 gt"), Reply::Bool(false));
    assert_eq!(f.ok("expire a 10 lt"), Reply::Bool(false));
    assert_eq!(f.ok("expire a 20 gt"), Reply::Bool(true));
    assert_eq!(f.int("ttl a"), 20);
    assert_eq!(f.ok("expire a 5 gt"), Reply::Bool(false));
    assert_eq!(f.ok("expire a 5 xx lt"), Reply::Bool(true));
    assert_eq!(f.int("ttl a"), 5);
    assert_eq!(f.ok("pexpire a 6000 XX GT"), Reply::Bool(true));
    assert_eq!(f.int("pttl a"), 6000);
    assert_eq!(f.ok("expire a 30 xx"), Reply::Bool(true));
    assert_eq!(f.int("ttl a"), 30);
    // A past deadline still has to pass the condition before it deletes.
    assert_eq!(f.ok("expire a -5 gt"), Reply::Bool(false));
    assert_eq!(f.ok("expire a -5 nx"), Reply::Bool(false));
    assert_eq!(f.ok("exists a"), Reply::Int(1));
    assert_eq!(f.ok("expire a -5 lt"), Reply::Bool(true));
    assert_eq!(f.ok("exists a"), Reply::Int(0));
    // Without a TTL a past deadline passes LT and NX, but not XX or GT.
    f.inmem("put b 1");
    assert_eq!(f.ok("expire b 0 xx"), Reply::Bool(false));
    assert_eq!(f.ok("expire b -5 gt"), Reply::Bool(false));
    assert_eq!(f.ok("exists b"), Reply::Int(1));
    assert_eq!(f.ok("expire b -1 lt"), Reply::Bool(true));
    assert_eq!(f.ok("exists b"), Reply::Int(0));
    f.inmem("put b 1");
    assert_eq!(f.ok("expire b -5 nx"), Reply::Bool(true));
    assert_eq!(f.ok("exists b"), Reply::Int(0));
}

#[test]
fn expire_errors_come_in_redis_order() {
    let mut f = fixture();
    f.inmem("put a 1");
    let nx = "NX and XX, GT or LT options at the same time are not compatible";
    for line in [
        "expire a 10 nx xx",
        "expire a 10 nx gt",
        "pexpire a 10 lt nx",
    ] {
        assert_eq!(f.err(line), nx, "{line}");
    }
    assert_eq!(
        f.err("expireat a 10 gt lt"),
        "GT and LT options at the same time are not compatible"
    );
    assert_eq!(f.err("expire a 10 foo"), "Unsupported option foo");
    // Options are checked before the time, and both before the key.
    assert_eq!(f.err("expire zz abc Foo"), "Unsupported option Foo");
    assert_eq!(f.err("expire zz 10 nx xx"), nx);
    assert_eq!(
        f.err("expire zz abc"),
        "value is not an integer or out of range"
    );
    assert_eq!(
        f.err("pexpire a 1.5"),
        "value is not an integer or out of range"
    );
    assert_eq!(
        f.err("expire a"),
        "wrong number of arguments for 'expire' command"
    );
    assert_eq!(f.int("ttl a"), -1, "errors change nothing");
}

#[test]
fn persist_removes_an_expiry() {
    let mut f = fixture();
    f.inmem("put a 1 px 100");
    f.inmem("put b 1");
    assert_eq!(f.ok("persist a"), Reply::Bool(true));
    assert_eq!(f.ok("persist a"), Reply::Bool(false));
    assert_eq!(f.ok("persist b"), Reply::Bool(false));
    assert_eq!(f.ok("persist zz"), Reply::Bool(false));
    f.clock.advance(1000);
    assert_eq!(f.ok("exists a"), Reply::Int(1));
}

#[test]
fn dbsize_and_flushdb_stay_in_their_namespace() {
    let mut f = fixture();
    f.inmem("put a 1");
    f.inmem("put b 1 px 10");
    f.inmem("use other");
    f.inmem("put c 1");
    f.inmem("use 0");
    assert_eq!(f.ok("dbsize"), Reply::Int(2));
    f.clock.advance(10);
    assert_eq!(
        f.ok("dbsize"),
        Reply::Int(1),
        "expired keys are not counted"
    );
    assert_eq!(f.err("flushdb foo"), "syntax error");
    assert_eq!(f.err("flushdb async sync"), "syntax error");
    assert_eq!(f.ok("dbsize"), Reply::Int(1));
    assert_eq!(f.ok("FLUSHDB Async"), Reply::Ok);
    assert_eq!(f.ok("dbsize"), Reply::Int(0));
    assert_eq!(f.ok("flushdb sync"), Reply::Ok);
    assert_eq!(f.ok("flushdb"), Reply::Ok);
    f.inmem("use other");
    assert_eq!(f.ok("dbsize"), Reply::Int(1));
    assert_eq!(f.ok("randomkey"), value("c"));
}

#[test]
fn scan_walks_every_key_and_ends_with_cursor_zero() {
    let mut f = fixture();
    let mut all = HashSet::new();
    for i in 0..1000 {
        f.inmem(&format!("put key:{i} v"));
        all.insert(format!("key:{i}"));
    }
    let steps = f.scan_all("");
    // COUNT is 10 by default; positions do not collide, so each step but the
    // last answers exactly 10 keys.
    assert_eq!(steps.len(), 100);
    assert!(steps.iter().all(|keys| keys.len() == 10));
    let seen: Vec<Vec<u8>> = steps.into_iter().flatten().collect();
    assert_eq!(seen.len(), 1000, "each key exactly once");
    assert_eq!(names(seen), all);
    // A COUNT larger than the keyspace finishes in one step.
    let (next, keys) = scan_reply(f.ok("scan 0 count 5000"));
    assert_eq!((next, keys.len()), (0, 1000));
}

#[test]
fn scan_on_an_empty_or_tiny_keyspace() {
    let mut f = fixture();
    assert_eq!(scan_reply(f.ok("scan 0")), (0, vec![]));
    f.inmem("put a 1");
    f.inmem("put b 1");
    let (next, keys) = scan_reply(f.ok("scan 0"));
    assert_eq!(next, 0);
    assert_eq!(names(keys), names([b"a".to_vec(), b"b".to_vec()]));
    // An empty cursor is 0, as strtoul reads it.
    assert_eq!(scan_reply(f.ok("scan  count 100")).0, 0);
}

#[test]
fn scan_returns_every_key_present_throughout_while_others_come_and_go() {
    let mut f = fixture();
    let mut stable = HashSet::new();
    for i in 0..3000 {
        f.inmem(&format!("put stable:{i} v"));
        stable.insert(format!("stable:{i}"));
    }
    for i in 0..1000 {
        f.inmem(&format!("put doomed:{i} v"));
    }
    let mut ever = stable.clone();
    ever.extend((0..1000).map(|i| format!("doomed:{i}")));
    let mut seen = Vec::new();
    let mut cursor = 0;
    let mut step = 0;
    loop {
        let count = [1, 7, 50, 200][step % 4];
        let (next, keys) = scan_reply(f.ok(&format!("scan {cursor} count {count}")));
        seen.extend(keys);
        // Between steps: new keys arrive, old ones leave, a few expire.
        for j in 0..20 {
            let n = step * 20 + j;
            f.inmem(&format!("put new:{n} v"));
            ever.insert(format!("new:{n}"));
            if n < 1000 {
                f.ok(&format!("del doomed:{n}"));
            }
        }
        f.inmem(&format!("put brief:{step} v px 1"));
        ever.insert(format!("brief:{step}"));
        f.clock.advance(1);
        step += 1;
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let seen_names = names(seen.clone());
    assert!(
        stable.is_subset(&seen_names),
        "missing {:?}",
        stable.difference(&seen_names).take(5).collect::<Vec<_>>()
    );
    assert!(seen_names.is_subset(&ever), "a key that never existed");
    assert!(
        !seen_names.iter().any(|k| k.starts_with("brief:")),
        "expired keys are never answered"
    );
    // Stable keys are answered once each: positions never move.
    let stable_answers = seen.iter().filter(|k| k.starts_with(b"stable:")).count();
    assert_eq!(stable_answers, stable.len());
    assert!(step > 20, "the walk took many steps ({step})");
}

#[test]
fn scan_filters_by_match_and_type_after_examining() {
    let mut f = fixture();
    for i in 0..300 {
        f.inmem(&format!("put user:{i} v"));
        f.inmem(&format!("put item:{i} v"));
    }
    let users: Vec<Vec<u8>> = f
        .scan_all(" match user:* count 20")
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(users.len(), 300);
    assert!(users.iter().all(|k| k.starts_with(b"user:")));
    // MATCH filters what a step examined, so steps may come back short.
    let steps = f.scan_all(" match user:1* count 20");
    assert!(steps.iter().any(|keys| keys.len() < 20));
    assert_eq!(steps.iter().flatten().count(), 111);
    for kind in ["string", "STRING", "String"] {
        let all = f.scan_all(&format!(" type {kind} count 1000"));
        assert_eq!(all.iter().flatten().count(), 600, "{kind}");
    }
    for kind in ["list", "hash", "foo"] {
        let steps = f.scan_all(&format!(" count 100 type {kind}"));
        assert!(steps.len() > 1, "the walk still advances");
        assert_eq!(steps.iter().flatten().count(), 0, "{kind}");
    }
    // Later options override earlier ones.
    let one = f.scan_all(" match user:1 match user:2 count 1000");
    assert_eq!(one.concat(), vec![b"user:2".to_vec()]);
}

#[test]
fn scan_argument_errors() {
    let mut f = fixture();
    for (line, error) in [
        ("scan abc", "invalid cursor"),
        ("scan 0x1", "invalid cursor"),
        ("scan -", "invalid cursor"),
        ("scan 18446744073709551616", "invalid cursor"),
        ("scan abc foo", "invalid cursor"),
        ("scan 0 count 0", "syntax error"),
        ("scan 0 count -1", "syntax error"),
        (
            "scan 0 count abc",
            "value is not an integer or out of range",
        ),
        ("scan 0 match", "syntax error"),
        ("scan 0 match a count", "syntax error"),
        ("scan 0 foo bar", "syntax error"),
        ("scan", "wrong number of arguments for 'scan' command"),
    ] {
        assert_eq!(f.err(line), error, "{line}");
    }
}

#[test]
fn scan_accepts_any_cursor_without_panicking() {
    let mut f = fixture();
    for i in 0..5000 {
        f.inmem(&format!("put big:{i} v"));
    }
    // Cursors taken from a walk of a large keyspace...
    let mut cursors = Vec::new();
    let mut cursor = 0;
    loop {
        let (next, _) = scan_reply(f.ok(&format!("scan {cursor} count 100")));
        if next == 0 {
            break;
        }
        cursors.push(next);
        cursor = next;
    }
    assert!(cursors.len() > 10);
    // ...and arbitrary ones, used on a much smaller keyspace.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..200 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cursors.push(x);
    }
    cursors.extend([1, u64::MAX, u64::MAX - 1, 1 << 54, (1 << 54) - 1, 1 << 63]);
    assert_eq!(f.ok("flushdb"), Reply::Ok);
    for i in 0..5 {
        f.inmem(&format!("put small:{i} v"));
    }
    for cursor in cursors {
        let mut cursor = cursor;
        let mut steps = 0;
        // Every walk goes forward and finishes.
        while cursor != 0 {
            let (next, keys) = scan_reply(f.ok(&format!("scan {cursor}")));
            assert!(keys.iter().all(|k| k.starts_with(b"small:")));
            assert!(next == 0 || next > cursor, "{cursor} -> {next}");
            cursor = next;
            steps += 1;
        }
        assert!(steps <= 5);
    }
    assert_eq!(scan_reply(f.ok("scan -1")), (0, vec![]));
}

#[test]
fn scan_in_a_transaction_sees_its_own_writes() {
    let mut f = fixture();
    for i in 0..500 {
        f.inmem(&format!("put base:{i} v"));
    }
    f.inmem("begin");
    for i in 0..100 {
        f.inmem(&format!("put mine:{i} v"));
        f.ok(&format!("del base:{i}"));
    }
    f.inmem("put base:200 changed");
    let seen: Vec<Vec<u8>> = f.scan_all(" count 7").into_iter().flatten().collect();
    let mut expected: HashSet<String> = (100..500).map(|i| format!("base:{i}")).collect();
    expected.extend((0..100).map(|i| format!("mine:{i}")));
    assert_eq!(seen.len(), 500, "each key once");
    assert_eq!(names(seen), expected);
    assert_eq!(f.ok("dbsize"), Reply::Int(500));
    assert_eq!(f.ok("flushdb"), Reply::Ok);
    f.inmem("put after 1");
    assert_eq!(f.scan_all("").concat(), vec![b"after".to_vec()]);
    assert_eq!(f.ok("randomkey"), value("after"));
    f.inmem("rollback");
    assert_eq!(f.ok("dbsize"), Reply::Int(500));
}

#[test]
fn randomkey_answers_nil_when_no_key_lives() {
    let mut f = fixture();
    assert_eq!(f.ok("randomkey"), Reply::Nil);
    for i in 0..100 {
        f.inmem(&format!("put k{i} v px 10"));
    }
    f.clock.advance(10);
    assert_eq!(f.ok("randomkey"), Reply::Nil, "only expired keys are held");
    // One live key among many expired ones is always the one answered.
    f.inmem("put alive v");
    for _ in 0..20 {
        assert_eq!(f.ok("randomkey"), value("alive"));
    }
}

#[test]
fn randomkey_samples_a_large_keyspace() {
    let mut f = fixture();
    for i in 0..20_000 {
        f.inmem(&format!("put k{i} v"));
    }
    let mut picked = HashSet::new();
    for _ in 0..200 {
        let Reply::Value(key) = f.ok("randomkey") else {
            panic!("a key was expected");
        };
        assert_eq!(
            f.ok(&format!("exists {}", String::from_utf8_lossy(&key))),
            Reply::Int(1)
        );
        picked.insert(key);
    }
    assert!(picked.len() > 150, "only {} distinct keys", picked.len());
}

#[test]
fn randomkey_in_a_transaction_sees_its_own_writes() {
    let mut f = fixture();
    f.inmem("put base v");
    f.inmem("begin");
    f.ok("del base");
    assert_eq!(f.ok("randomkey"), Reply::Nil);
    f.inmem("put mine v");
    for _ in 0..10 {
        assert_eq!(f.ok("randomkey"), value("mine"));
    }
    f.inmem("rollback");
    assert_eq!(f.ok("randomkey"), value("base"));
}

#[test]
fn key_writes_in_a_transaction_apply_at_commit() {
    let mut f = fixture();
    f.inmem("put a 1");
    f.inmem("put gone 1");
    f.inmem("begin");
    assert_eq!(f.ok("rename a b"), Reply::Ok);
    assert_eq!(f.ok("pexpire b 1000"), Reply::Bool(true));
    assert_eq!(f.ok("unlink gone"), Reply::Int(1));
    assert_eq!(f.int("pttl b"), 1000);
    assert_eq!(f.ok("type a"), status("none"));
    f.inmem("commit");
    assert_eq!(f.ok("exists a b gone"), Reply::Int(1));
    assert_eq!(f.int("pttl b"), 1000);
}

/// The engine alone: the live keyspace and a transaction's overlay, driven
/// with ops built from Redis command lines.
#[test]
fn engine_scan_and_overlay_agree_on_one_walk() {
    let clock = ManualClock::new(START_MS);
    let engine = Engine::new(Arc::new(clock.clone()));
    let op = |line: &str| match build(line) {
        Ok((_, Command::Op(op))) => op,
        other => panic!("{line}: {other:?}"),
    };
    for i in 0..2000 {
        engine
            .run(
                "0",
                &Op::Put {
                    key: format!("k{i}").into_bytes(),
                    value: b"v".to_vec(),
                    ttl_ms: None,
                },
            )
            .unwrap();
    }
    let mut changes = Changes::default();
    for i in 0..50 {
        engine
            .run_in("0", &op(&format!("del k{i}")), &mut changes)
            .unwrap();
        engine
            .run_in("0", &op(&format!("rename k{} t{i}", i + 50)), &mut changes)
            .unwrap();
    }
    let mut cursor = 0;
    let mut in_tx = Vec::new();
    let mut live = Vec::new();
    loop {
        let step = op(&format!("scan {cursor} count 33"));
        let (next, keys) = scan_reply(engine.run_in("0", &step, &mut changes).unwrap());
        let (live_next, live_keys) = scan_reply(engine.run("0", &step).unwrap());
        assert_eq!(next, live_next, "the overlay walks the same steps");
        in_tx.extend(keys);
        live.extend(live_keys);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    assert_eq!(in_tx.len(), 1950, "50 deleted, 50 renamed");
    let in_tx = names(in_tx);
    assert!((0..100).all(|i| !in_tx.contains(&format!("k{i}"))));
    assert!((0..50).all(|i| in_tx.contains(&format!("t{i}"))));
    assert_eq!(live.len(), 2000, "nothing was committed");
}

#[test]
fn the_binary_runs_key_commands() {
    let dir = tempfile::tempdir().unwrap();
    let run = |script: &str| {
        Bin::cargo_bin("inmem")
            .unwrap()
            .arg("--data-dir")
            .arg(dir.path())
            .env("NO_COLOR", "1")
            .arg("-c")
            .arg(script)
            .assert()
    };
    run("set a 1; rename a b; type b; pexpire b 100000 nx; pttl b")
        .success()
        .stdout(predicates::str::is_match(r"^OK\nOK\nstring\ntrue\n(100000|99\d{3})\n$").unwrap());
    // The next process finds the renamed key with its deadline.
    run("type a; type b; pexpire b 5 nx; expiretime b; renamenx b b; dbsize")
        .success()
        .stdout(predicates::str::is_match(r"^none\nstring\nfalse\n\d{10}\nfalse\n1\n$").unwrap());
    run("rename zz b")
        .failure()
        .stderr(predicates::str::contains("no such key"));
    run("set c 1; scan 0 count 100 match c; flushdb; dbsize; randomkey")
        .success()
        .stdout("OK\n0\nc\nOK\n0\n(nil)\n");
}

//! The executor through the library face: every command, TTL with a moved
//! clock, transactions, batches and aliases, as a session sees them.

use inmem::command::Reply;
use inmem::command::grammar;
use inmem::engine::ManualClock;
use inmem::error::CommandError;
use inmem::session::Session;
use inmem::{Db, Options};
use std::sync::Arc;

const START_MS: u64 = 1_700_000_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    db: Arc<Db>,
    clock: ManualClock,
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
        db,
        clock,
    }
}

/// Runs one statement and returns its reply or error message.
fn run(session: &mut Session, text: &str) -> Result<Reply, String> {
    let statements = grammar::parse(text).map_err(|e| e.to_string())?;
    assert_eq!(statements.len(), 1, "one statement expected in {text:?}");
    session
        .execute(&statements[0], text)
        .map_err(|e| e.error.to_string())
}

fn ok(session: &mut Session, text: &str) -> Reply {
    run(session, text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn value(v: &str) -> Reply {
    Reply::Value(v.as_bytes().to_vec())
}

fn list(items: &[&str]) -> Reply {
    Reply::List(items.iter().map(|s| s.as_bytes().to_vec()).collect())
}

fn pairs(items: &[(&str, &str)]) -> Reply {
    Reply::Pairs(
        items
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.as_bytes().to_vec()))
            .collect(),
    )
}

#[test]
fn basic_commands() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    assert_eq!(ok(&mut s, "put b 2"), Reply::Ok);
    assert_eq!(ok(&mut s, "put a 1"), Reply::Ok);
    assert_eq!(ok(&mut s, "get a"), value("1"));
    assert_eq!(ok(&mut s, "get zz"), Reply::Nil);
    assert_eq!(ok(&mut s, "exists a"), Reply::Bool(true));
    assert_eq!(ok(&mut s, "exists zz"), Reply::Bool(false));
    assert_eq!(ok(&mut s, "size"), Reply::Int(2));
    assert_eq!(ok(&mut s, "keys"), list(&["a", "b"]));
    assert_eq!(ok(&mut s, "values"), list(&["1", "2"]));
    assert_eq!(ok(&mut s, "items"), pairs(&[("a", "1"), ("b", "2")]));
    assert_eq!(ok(&mut s, "delete a zz a"), Reply::Int(1));
    assert_eq!(
        ok(&mut s, "PUT c 3"),
        Reply::Ok,
        "command words ignore case"
    );
    assert_eq!(ok(&mut s, "keys"), list(&["b", "c"]));
    assert_eq!(ok(&mut s, "clear"), Reply::Ok);
    assert_eq!(ok(&mut s, "size"), Reply::Int(0));
    assert_eq!(ok(&mut s, "keys"), list(&[]));
}

#[test]
fn keys_and_find() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    for (k, v) in [
        ("user:1", "ann"),
        ("user:22", "bob"),
        ("admin", "ann"),
        ("user:x", "cy"),
    ] {
        ok(&mut s, &format!("put {k} {v}"));
    }
    assert_eq!(
        ok(&mut s, "keys user:*"),
        list(&["user:1", "user:22", "user:x"])
    );
    assert_eq!(ok(&mut s, "find -k admin"), list(&["admin"]));
    assert_eq!(ok(&mut s, "find -k adm"), list(&[]), "no flag means exact");
    assert_eq!(ok(&mut s, "find -k -l user:?"), list(&["user:1", "user:x"]));
    assert_eq!(
        ok(&mut s, r"find -k -r ^user:\d+$"),
        list(&["user:1", "user:22"])
    );
    assert_eq!(
        ok(&mut s, "find -v ann"),
        pairs(&[("admin", "ann"), ("user:1", "ann")])
    );
    assert_eq!(
        ok(&mut s, "find --value --like b*"),
        pairs(&[("user:22", "bob")])
    );
    assert_eq!(ok(&mut s, "find -v -r ^c"), pairs(&[("user:x", "cy")]));
    let err = run(&mut s, "find -k -r (unclosed").unwrap_err();
    assert!(err.starts_with("invalid regex:"), "{err}");
    let err = run(&mut s, "find -x a").unwrap_err();
    assert!(err.contains("unknown flag '-x'"), "{err}");
    let err = run(&mut s, "find -l a").unwrap_err();
    assert!(err.contains("needs -k"), "{err}");
}

#[test]
fn incr_and_decr() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    assert_eq!(ok(&mut s, "incr n"), Reply::Int(1));
    assert_eq!(ok(&mut s, "incr n 10"), Reply::Int(11));
    assert_eq!(ok(&mut s, "decr n 20"), Reply::Int(-9));
    assert_eq!(ok(&mut s, "decr n"), Reply::Int(-10));
    assert_eq!(ok(&mut s, "get n"), value("-10"));
    ok(&mut s, "put word abc");
    assert_eq!(
        run(&mut s, "incr word").unwrap_err(),
        "value is not an integer or out of range"
    );
    ok(&mut s, &format!("put big {}", i64::MAX));
    assert_eq!(
        run(&mut s, "incr big").unwrap_err(),
        "increment or decrement would overflow"
    );
    assert_eq!(
        ok(&mut s, "get big"),
        value(&i64::MAX.to_string()),
        "unchanged"
    );
    let err = run(&mut s, "incr n x").unwrap_err();
    assert!(
        err.contains("expected an integer for the amount, found 'x'"),
        "{err}"
    );
    let err = run(&mut s, &format!("decr n {}", i64::MIN)).unwrap_err();
    assert!(err.contains("overflow"), "{err}");
}

#[test]
fn ttl_with_a_moved_clock() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    ok(&mut s, "put short v 10");
    ok(&mut s, "put fine v px 1500");
    ok(&mut s, "put forever v");
    assert_eq!(ok(&mut s, "ttl short"), Reply::Int(10));
    assert_eq!(ok(&mut s, "ttl fine"), Reply::Int(2), "1.5 s rounds to 2");
    assert_eq!(ok(&mut s, "ttl forever"), Reply::Int(-1));
    assert_eq!(ok(&mut s, "ttl missing"), Reply::Int(-2));
    f.clock.advance(1500);
    assert_eq!(
        ok(&mut s, "get fine"),
        Reply::Nil,
        "expired exactly at its deadline"
    );
    assert_eq!(ok(&mut s, "ttl short"), Reply::Int(9));
    f.clock.advance(8499);
    assert_eq!(ok(&mut s, "get short"), value("v"));
    f.clock.advance(1);
    // Expired keys are never returned, counted or matched, even before removal.
    assert_eq!(ok(&mut s, "get short"), Reply::Nil);
    assert_eq!(ok(&mut s, "exists short"), Reply::Bool(false));
    assert_eq!(ok(&mut s, "size"), Reply::Int(1));
    assert_eq!(ok(&mut s, "keys"), list(&["forever"]));
    assert_eq!(ok(&mut s, "find -k -l *"), list(&["forever"]));
    assert_eq!(ok(&mut s, "ttl short"), Reply::Int(-2));
    assert_eq!(
        f.db.engine().stored_len(),
        3,
        "lazy: still held until purged"
    );
    assert_eq!(f.db.engine().purge_expired(100), 2);
    assert_eq!(f.db.engine().stored_len(), 1);
}

#[test]
fn held_statements_share_a_clock_reading_for_at_most_a_millisecond() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    ok(&mut s, "put k v px 1000");
    s.hold_records();
    assert_eq!(ok(&mut s, "get k"), value("v"));
    f.clock.advance(5_000);
    // Started more than a millisecond after the statement that read the
    // clock: it reads the clock again, and the key has expired.
    std::thread::sleep(std::time::Duration::from_millis(2));
    assert_eq!(ok(&mut s, "get k"), Reply::Nil);
    s.release_records();
    ok(&mut s, "put j v px 1000");
    s.hold_records();
    assert_eq!(ok(&mut s, "get j"), value("v"));
    f.clock.advance(5_000);
    // Records no longer held: the next statement reads the clock afresh.
    s.release_records();
    assert_eq!(ok(&mut s, "get j"), Reply::Nil);
}

#[test]
fn expire_persist_and_put_resets_ttl() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    ok(&mut s, "put k v");
    assert_eq!(ok(&mut s, "expire k 5"), Reply::Bool(true));
    assert_eq!(ok(&mut s, "ttl k"), Reply::Int(5));
    assert_eq!(ok(&mut s, "expire missing 5"), Reply::Bool(false));
    assert_eq!(ok(&mut s, "persist k"), Reply::Bool(true));
    assert_eq!(ok(&mut s, "persist k"), Reply::Bool(false));
    assert_eq!(ok(&mut s, "ttl k"), Reply::Int(-1));
    ok(&mut s, "put k v 5");
    ok(&mut s, "put k w");
    assert_eq!(
        ok(&mut s, "ttl k"),
        Reply::Int(-1),
        "put without TTL clears it"
    );
    ok(&mut s, "put k 1 5");
    ok(&mut s, "incr k");
    assert_eq!(ok(&mut s, "ttl k"), Reply::Int(5), "incr keeps the TTL");
    assert_eq!(ok(&mut s, "expire k 0"), Reply::Bool(true));
    assert_eq!(
        ok(&mut s, "exists k"),
        Reply::Bool(false),
        "expire 0 deletes"
    );
    ok(&mut s, "put k v");
    assert_eq!(ok(&mut s, "expire k -3"), Reply::Bool(true));
    assert_eq!(ok(&mut s, "get k"), Reply::Nil);
    for bad in [
        "put k v 0",
        "put k v -1",
        "put k v px 0",
        "put k v sec 5",
        "put k v abc",
    ] {
        assert!(run(&mut s, bad).is_err(), "{bad} should fail");
    }
    ok(&mut s, "put k v ex 2");
    assert_eq!(ok(&mut s, "ttl k"), Reply::Int(2));
    let err = run(&mut s, "expire k 99999999999999999").unwrap_err();
    assert!(err.contains("out of range"), "{err}");
}

#[test]
fn active_expiry_thread_removes_expired_keys() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(START_MS);
    let mut options = Options::new(dir.path());
    options.clock = Arc::new(clock.clone());
    let db = Db::open(options).unwrap();
    let mut s = Session::new(db.clone());
    for i in 0..2500 {
        ok(&mut s, &format!("put k{i} v 1"));
    }
    ok(&mut s, "put keep v");
    clock.advance(1000);
    // The thread wakes every 100 ms of real time; wait for it without assuming a speed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while db.engine().stored_len() > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(db.engine().stored_len(), 1);
    assert_eq!(ok(&mut s, "keys"), list(&["keep"]));
}

#[test]
fn transactions_are_private_until_commit() {
    let f = fixture();
    let mut a = Session::new(f.db.clone());
    let mut b = Session::new(f.db.clone());
    ok(&mut a, "put x 1");
    ok(&mut a, "put gone 1");
    assert_eq!(ok(&mut a, "begin"), Reply::Ok);
    assert!(a.in_transaction());
    ok(&mut a, "put y 2");
    ok(&mut a, "incr x");
    ok(&mut a, "delete gone");
    // The transaction reads its own writes...
    assert_eq!(ok(&mut a, "get x"), value("2"));
    assert_eq!(ok(&mut a, "keys"), list(&["x", "y"]));
    assert_eq!(ok(&mut a, "size"), Reply::Int(2));
    // ...and nobody else sees them.
    assert_eq!(ok(&mut b, "get x"), value("1"));
    assert_eq!(ok(&mut b, "keys"), list(&["gone", "x"]));
    assert_eq!(ok(&mut a, "commit"), Reply::Ok);
    assert!(!a.in_transaction());
    assert_eq!(ok(&mut b, "items"), pairs(&[("x", "2"), ("y", "2")]));
}

#[test]
fn rollback_and_misuse() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    assert_eq!(
        run(&mut s, "commit").unwrap_err(),
        "no transaction is open (use 'begin' first)"
    );
    assert!(run(&mut s, "rollback").is_err());
    ok(&mut s, "begin");
    assert!(run(&mut s, "begin").unwrap_err().contains("already open"));
    ok(&mut s, "put a 1");
    ok(&mut s, "clear");
    ok(&mut s, "put b 1");
    assert_eq!(ok(&mut s, "keys"), list(&["b"]));
    assert_eq!(ok(&mut s, "rollback"), Reply::Ok);
    assert_eq!(ok(&mut s, "size"), Reply::Int(0));
    ok(&mut s, "begin");
    ok(&mut s, "put a 1");
    ok(&mut s, "get a");
    assert_eq!(s.end(), Some(1), "leaving discards the one write");
    assert_eq!(ok(&mut s, "exists a"), Reply::Bool(false));
    assert!(
        run(&mut s, "begin").is_ok(),
        "a new transaction can open after end"
    );
    assert!(
        run(&mut s, "batch -c \"get a\"")
            .unwrap_err()
            .contains("not allowed inside a transaction")
    );
}

#[test]
fn commit_is_all_or_nothing_when_the_world_changed() {
    let f = fixture();
    let mut a = Session::new(f.db.clone());
    let mut b = Session::new(f.db.clone());
    ok(&mut a, "put n 1");
    ok(&mut a, "begin");
    ok(&mut a, "put first yes");
    ok(&mut a, "incr n");
    // Another session makes the counter a word before the commit re-runs it.
    ok(&mut b, "put n word");
    let err = run(&mut a, "commit").unwrap_err();
    assert_eq!(
        err,
        "statement 2 (incr n) failed: value is not an integer or out of range; nothing was applied"
    );
    assert_eq!(ok(&mut b, "exists first"), Reply::Bool(false));
    assert!(
        !a.in_transaction(),
        "a failed commit closes the transaction"
    );
}

#[test]
fn batch_is_atomic_and_reports_each_result() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    let reply = ok(
        &mut s,
        "batch -c \"put a 1 10000; put b 1 10000; get a; get b;\"",
    );
    assert_eq!(
        reply,
        Reply::Batch(vec![Reply::Ok, Reply::Ok, value("1"), value("1")])
    );
    let err = run(&mut s, "batch -c \"put c 1; incr a; put d x; incr d\"").unwrap_err();
    assert_eq!(
        err,
        "statement 4 (incr d) failed: value is not an integer or out of range; nothing was applied"
    );
    assert_eq!(
        ok(&mut s, "keys"),
        list(&["a", "b"]),
        "nothing of the failed batch applied"
    );
    let err = run(&mut s, "batch -c \"put c 1; begin\"").unwrap_err();
    assert!(
        err.contains("'begin' is not allowed inside a batch"),
        "{err}"
    );
    let err = run(&mut s, "batch -c \"put c 1; nope\"").unwrap_err();
    assert!(
        err.contains("statement 2 (nope) failed: unknown command 'nope'"),
        "{err}"
    );
    let err = run(&mut s, "batch -x \"put c 1\"").unwrap_err();
    assert!(err.contains("expected -c or -f"), "{err}");
    let err = run(&mut s, "batch -c \"put c \\\"open\"").unwrap_err();
    assert!(err.contains("unclosed"), "{err}");
    assert_eq!(ok(&mut s, "exists c"), Reply::Bool(false));
}

#[test]
fn batch_from_files_runs_them_in_sorted_order() {
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("2-second.cmd"), "incr n 10\nget n\n").unwrap();
    std::fs::write(dir.path().join("1-first.cmd"), "put n 1\n").unwrap();
    let mut s = Session::new(f.db.clone());
    let pattern = format!("{}/*.cmd", dir.path().display());
    let reply = ok(
        &mut s,
        &format!("batch -f {}", grammar::quote_word(pattern.as_bytes())),
    );
    assert_eq!(
        reply,
        Reply::Batch(vec![Reply::Ok, Reply::Int(11), value("11")])
    );
    let err = run(
        &mut s,
        &format!("batch -f {}/none*.cmd", dir.path().display()),
    )
    .unwrap_err();
    assert!(err.contains("no file matches"), "{err}");
}

#[test]
fn aliases_expand_and_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = Db::open(Options::new(dir.path())).unwrap();
        let mut s = Session::new(db);
        ok(&mut s, "set a 1");
        assert_eq!(ok(&mut s, "get a"), value("1"), "set is put by default");
        ok(&mut s, "alias k keys");
        ok(&mut s, "alias fv find -v");
        assert_eq!(ok(&mut s, "k"), list(&["a"]));
        assert_eq!(ok(&mut s, "fv 1"), pairs(&[("a", "1")]));
        assert!(
            run(&mut s, "alias get keys")
                .unwrap_err()
                .contains("cannot shadow")
        );
        assert_eq!(
            ok(&mut s, "show-alias"),
            Reply::Map(vec![
                ("fv".into(), value("find -v")),
                ("k".into(), value("keys")),
                ("set".into(), value("put")),
            ])
        );
    }
    let db = Db::open(Options::new(dir.path())).unwrap();
    let mut s = Session::new(db);
    assert_eq!(
        ok(&mut s, "k"),
        list(&["a"]),
        "the alias and the data survived"
    );
    ok(&mut s, "unalias k");
    assert!(
        run(&mut s, "k")
            .unwrap_err()
            .contains("unknown command 'k'")
    );
    ok(&mut s, "reset-alias");
    assert_eq!(
        ok(&mut s, "show-alias"),
        Reply::Map(vec![("set".into(), value("put"))])
    );
}

#[test]
fn help_and_errors_name_the_word_at_fault() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    let Reply::Text(all) = ok(&mut s, "help") else {
        panic!()
    };
    assert!(all.contains("put <key> <value>") && all.contains("Aliases: set = put"));
    let Reply::Text(one) = ok(&mut s, "help find") else {
        panic!()
    };
    assert!(one.contains("Example: find -k -r"));
    assert!(run(&mut s, "help nope").is_err());
    let text = "put k v abc";
    let statement = &grammar::parse(text).unwrap()[0];
    let err = s.execute(statement, text).unwrap_err();
    assert_eq!(err.offset, Some(8), "the TTL word is blamed");
    assert!(matches!(err.error, CommandError::BadArgument(_)));
    let text = "get a b";
    let err = s
        .execute(&grammar::parse(text).unwrap()[0], text)
        .unwrap_err();
    assert_eq!(
        err.error.to_string(),
        "wrong number of arguments for 'get': usage: get <key>"
    );
    assert_eq!(ok(&mut s, "exit"), Reply::Exit);
    assert_eq!(ok(&mut s, "QUIT"), Reply::Exit);
    assert_eq!(ok(&mut s, "source x.cmd"), Reply::Source("x.cmd".into()));
}

#[test]
fn binary_keys_and_values_are_kept_exactly() {
    let f = fixture();
    let mut s = Session::new(f.db.clone());
    ok(&mut s, r#"put "k\x00\xff" "v\nw\xfe""#);
    assert_eq!(
        ok(&mut s, r#"get "k\x00\xff""#),
        Reply::Value(b"v\nw\xfe".to_vec())
    );
    assert_eq!(ok(&mut s, "keys"), Reply::List(vec![b"k\x00\xff".to_vec()]));
}

//! Redis's string commands through the engine, a session and the binary.
//! Expected replies and error texts were checked against redis-server 7.0.15
//! (see `matches_redis_server` to repeat the comparison).

use assert_cmd::Command as Bin;
use inmem::command::redis;
use inmem::command::{Command, Op, Reply};
use inmem::engine::{Engine, ManualClock};
use inmem::session::Session;
use inmem::{Db, Options};
use std::sync::Arc;

const START_MS: u64 = 1_700_000_000_000;

fn engine() -> (Engine, ManualClock) {
    let clock = ManualClock::new(START_MS);
    (Engine::new(Arc::new(clock.clone())), clock)
}

/// Builds a Redis command from its words, arity checked as front-ends do.
fn build(words: &[Vec<u8>]) -> Result<Op, String> {
    let spec = redis::lookup(&words[0]).ok_or("unknown command")?;
    if !spec.accepts(words.len()) {
        return Err(redis::arity_error(spec).to_string());
    }
    match redis::build(spec, &words[1..]).ok_or("not a keyspace command")? {
        Ok(Command::Op(op)) => Ok(op),
        Ok(other) => Err(format!("not an operation: {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs one command given as raw words.
fn run_words(engine: &Engine, words: &[&[u8]]) -> Result<Reply, String> {
    let words: Vec<Vec<u8>> = words.iter().map(|w| w.to_vec()).collect();
    engine.run("0", &build(&words)?).map_err(|e| e.to_string())
}

/// Runs one command whose words are separated by spaces.
fn run(engine: &Engine, text: &str) -> Result<Reply, String> {
    let words: Vec<&[u8]> = text.split(' ').map(str::as_bytes).collect();
    run_words(engine, &words)
}

fn ok(engine: &Engine, text: &str) -> Reply {
    run(engine, text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn err(engine: &Engine, text: &str) -> String {
    match run(engine, text) {
        Ok(reply) => panic!("{text}: expected an error, got {reply:?}"),
        Err(e) => e,
    }
}

fn v(text: &str) -> Reply {
    Reply::Value(text.as_bytes().to_vec())
}

fn int(n: i64) -> Reply {
    Reply::Int(n)
}

fn pair(a: i64, b: i64) -> Reply {
    Reply::Array(vec![int(a), int(b)])
}

/// Milliseconds the key has left, -1 without a TTL, -2 when missing.
fn pttl(engine: &Engine, key: &str) -> i64 {
    let now = engine.now();
    let entries = engine.entries("0");
    match entries.iter().find(|(k, _)| k == key.as_bytes()) {
        None => -2,
        Some((_, entry)) => entry.expires_at.map_or(-1, |at| (at - now) as i64),
    }
}

const SYNTAX: &str = "syntax error";
const NOT_INT: &str = "value is not an integer or out of range";

#[test]
fn set_conditions_and_get() {
    let (e, _) = engine();
    assert_eq!(ok(&e, "set k v1"), Reply::Ok);
    assert_eq!(ok(&e, "set k v2 nx"), Reply::Nil);
    assert_eq!(ok(&e, "get k"), v("v1"));
    assert_eq!(ok(&e, "set k v2 xx"), Reply::Ok);
    assert_eq!(ok(&e, "set missing v xx"), Reply::Nil);
    assert_eq!(ok(&e, "get missing"), Reply::Nil);
    assert_eq!(ok(&e, "set k v3 GET"), v("v2"));
    assert_eq!(ok(&e, "set new v get"), Reply::Nil);
    // GET with a failing NX still answers the old value and changes nothing.
    assert_eq!(ok(&e, "set k v4 nx get"), v("v3"));
    assert_eq!(ok(&e, "get k"), v("v3"));
    assert_eq!(ok(&e, "set k v5 xx get get"), v("v3"));
    assert_eq!(ok(&e, "set fresh 1 NX nx"), Reply::Ok);
    assert_eq!(ok(&e, "set k v6 EX 10 ex 10"), Reply::Ok);
}

#[test]
fn set_errors_in_redis_order() {
    let (e, _) = engine();
    for bad in [
        "set k v ex 10 px 10",
        "set k v nx xx",
        "set k v keepttl ex 10",
        "set k v ex",
        "set k v foo",
        // Syntax is checked before the expiry's number.
        "set k v ex abc nx xx",
        "set k v nx xx ex abc",
    ] {
        assert_eq!(err(&e, bad), SYNTAX, "{bad}");
    }
    assert_eq!(err(&e, "set k v ex abc"), NOT_INT);
    assert_eq!(err(&e, "set k v px +5"), NOT_INT);
    for bad in [
        "set k v ex 0",
        "set k v ex -1",
        "set k v px 0",
        "set k v ex 9223372036854775807",
        "set k v px 9223372036854775807",
        "set k v pxat 0",
        "set k v exat -5",
    ] {
        assert_eq!(
            err(&e, bad),
            "invalid expire time in 'set' command",
            "{bad}"
        );
    }
    // The error comes before the condition is looked at, and nothing is stored.
    assert_eq!(
        err(&e, "set k v nx ex 0"),
        "invalid expire time in 'set' command"
    );
    assert_eq!(ok(&e, "get k"), Reply::Nil);
    assert_eq!(
        err(&e, "set k"),
        "wrong number of arguments for 'set' command"
    );
}

#[test]
fn set_ttl_rules() {
    let (e, clock) = engine();
    ok(&e, "set k v ex 10");
    assert_eq!(pttl(&e, "k"), 10_000);
    ok(&e, "set k v px 1500");
    assert_eq!(pttl(&e, "k"), 1_500);
    ok(&e, "set k v keepttl");
    assert_eq!(pttl(&e, "k"), 1_500);
    ok(&e, "set k v");
    assert_eq!(pttl(&e, "k"), -1, "a plain SET drops the TTL");
    let at = START_MS / 1000 + 100;
    ok(&e, &format!("set k v exat {at}"));
    assert_eq!(pttl(&e, "k"), (at * 1000 - START_MS) as i64);
    ok(&e, &format!("set k v pxat {}", START_MS + 42));
    assert_eq!(pttl(&e, "k"), 42);
    clock.advance(41);
    assert_eq!(ok(&e, "get k"), v("v"));
    clock.advance(1);
    assert_eq!(ok(&e, "get k"), Reply::Nil);
    // A deadline already past is accepted and leaves no key.
    ok(&e, "set k v");
    assert_eq!(ok(&e, "set k v2 exat 1"), Reply::Ok);
    assert_eq!(ok(&e, "get k"), Reply::Nil);
    assert_eq!(pttl(&e, "k"), -2);
    // Relative TTLs count from when the command runs.
    clock.advance(5_000);
    ok(&e, "setex s 3 v");
    assert_eq!(pttl(&e, "s"), 3_000);
    ok(&e, "psetex p 250 v");
    assert_eq!(pttl(&e, "p"), 250);
    clock.advance(250);
    assert_eq!(ok(&e, "get p"), Reply::Nil);
    assert_eq!(ok(&e, "get s"), v("v"));
}

#[test]
fn writers_keep_or_drop_the_ttl() {
    let (e, _) = engine();
    for (setup, write) in [
        ("set n 5 ex 100", "append n 1"),
        ("set n 5 ex 100", "setrange n 0 7"),
        ("set n 5 ex 100", "incr n"),
        ("set n 5 ex 100", "decrby n 3"),
        ("set n 5 ex 100", "incrbyfloat n 1.5"),
        ("set n 5 ex 100", "setbit n 0 1"),
    ] {
        ok(&e, setup);
        ok(&e, write);
        assert_eq!(pttl(&e, "n"), 100_000, "{write} keeps the TTL");
    }
    for write in ["getset n 1", "set n 1", "mset n 1"] {
        ok(&e, "set n 5 ex 100");
        ok(&e, write);
        assert_eq!(pttl(&e, "n"), -1, "{write} drops the TTL");
    }
    ok(&e, "set n 5 ex 100");
    assert_eq!(ok(&e, "set n 6 xx keepttl"), Reply::Ok);
    assert_eq!(pttl(&e, "n"), 100_000);
}

#[test]
fn setnx_setex_psetex_getset() {
    let (e, _) = engine();
    assert_eq!(ok(&e, "setnx k 1"), Reply::Bool(true));
    assert_eq!(ok(&e, "setnx k 2"), Reply::Bool(false));
    assert_eq!(ok(&e, "getset k 3"), v("1"));
    assert_eq!(ok(&e, "getset other 3"), Reply::Nil);
    assert_eq!(ok(&e, "get other"), v("3"));
    assert_eq!(ok(&e, "setex k 10 v"), Reply::Ok);
    assert_eq!(
        err(&e, "setex k 0 v"),
        "invalid expire time in 'setex' command"
    );
    assert_eq!(err(&e, "setex k abc v"), NOT_INT);
    assert_eq!(
        err(&e, "psetex k -5 v"),
        "invalid expire time in 'psetex' command"
    );
    assert_eq!(ok(&e, "get k"), v("v"));
    assert_eq!(
        err(&e, "setnx k"),
        "wrong number of arguments for 'setnx' command"
    );
}

#[test]
fn getdel_and_getex() {
    let (e, clock) = engine();
    ok(&e, "set k v ex 100");
    assert_eq!(ok(&e, "getex k"), v("v"));
    assert_eq!(pttl(&e, "k"), 100_000);
    assert_eq!(ok(&e, "getex k persist"), v("v"));
    assert_eq!(pttl(&e, "k"), -1);
    assert_eq!(ok(&e, "getex k px 5000"), v("v"));
    assert_eq!(pttl(&e, "k"), 5_000);
    assert_eq!(ok(&e, "getex k ex 7"), v("v"));
    assert_eq!(pttl(&e, "k"), 7_000);
    assert_eq!(ok(&e, &format!("getex k pxat {}", START_MS + 9)), v("v"));
    assert_eq!(pttl(&e, "k"), 9);
    assert_eq!(
        ok(&e, &format!("getex k exat {}", START_MS / 1000 + 20)),
        v("v")
    );
    assert_eq!(pttl(&e, "k"), 20_000);
    // An absolute time already past deletes the key after answering it.
    assert_eq!(ok(&e, "getex k exat 1"), v("v"));
    assert_eq!(ok(&e, "get k"), Reply::Nil);
    // Redis checks the number only when the key exists.
    assert_eq!(ok(&e, "getex nokey ex 0"), Reply::Nil);
    assert_eq!(ok(&e, "getex nokey ex abc"), Reply::Nil);
    ok(&e, "set k v");
    assert_eq!(
        err(&e, "getex k ex 0"),
        "invalid expire time in 'getex' command"
    );
    assert_eq!(
        err(&e, "getex k exat 0"),
        "invalid expire time in 'getex' command"
    );
    assert_eq!(err(&e, "getex k px abc"), NOT_INT);
    assert_eq!(err(&e, "getex k persist ex 10"), SYNTAX);
    assert_eq!(err(&e, "getex nokey foo"), SYNTAX);
    assert_eq!(pttl(&e, "k"), -1);
    ok(&e, "set k v px 10");
    clock.advance(10);
    assert_eq!(
        ok(&e, "getex k persist"),
        Reply::Nil,
        "expired keys are missing"
    );
    ok(&e, "set k v");
    assert_eq!(ok(&e, "getdel k"), v("v"));
    assert_eq!(ok(&e, "getdel k"), Reply::Nil);
    assert_eq!(e.entries("0").len(), 0);
}

#[test]
fn mset_msetnx_mget() {
    let (e, _) = engine();
    assert_eq!(ok(&e, "mset a 1 b 2 a 3"), Reply::Ok);
    assert_eq!(
        ok(&e, "mget a b nokey a"),
        Reply::Array(vec![v("3"), v("2"), Reply::Nil, v("3")])
    );
    assert_eq!(ok(&e, "msetnx a 9 c 9"), Reply::Bool(false));
    assert_eq!(ok(&e, "get c"), Reply::Nil, "MSETNX writes all or nothing");
    assert_eq!(ok(&e, "msetnx c 1 d 2 c 3"), Reply::Bool(true));
    assert_eq!(ok(&e, "mget c d"), Reply::Array(vec![v("3"), v("2")]));
    assert_eq!(
        err(&e, "mset a 1 b"),
        "wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        err(&e, "msetnx a"),
        "wrong number of arguments for 'msetnx' command"
    );
    assert_eq!(
        err(&e, "mget"),
        "wrong number of arguments for 'mget' command"
    );
}

#[test]
fn append_strlen_and_binary_values() {
    let (e, _) = engine();
    assert_eq!(ok(&e, "append k abc"), int(3));
    assert_eq!(ok(&e, "append k de"), int(5));
    assert_eq!(ok(&e, "get k"), v("abcde"));
    assert_eq!(ok(&e, "strlen k"), int(5));
    assert_eq!(ok(&e, "strlen nokey"), int(0));
    assert_eq!(run_words(&e, &[b"append", b"bin", b"\x00\xff"]), Ok(int(2)));
    assert_eq!(run_words(&e, &[b"append", b"bin", b"\x00"]), Ok(int(3)));
    assert_eq!(
        run_words(&e, &[b"getrange", b"bin", b"1", b"-1"]),
        Ok(Reply::Value(vec![0xff, 0]))
    );
    // APPEND of nothing still creates the key.
    assert_eq!(run_words(&e, &[b"append", b"empty", b""]), Ok(int(0)));
    assert_eq!(ok(&e, "get empty"), v(""));
    assert_eq!(ok(&e, "strlen empty"), int(0));
}

#[test]
fn getrange_and_substr() {
    let (e, _) = engine();
    ok(&e, "set s Hello_World");
    for (range, want) in [
        ("0 4", "Hello"),
        ("-3 -1", "rld"),
        ("5 2", ""),
        ("-100 -50", "H"),
        ("0 100", "Hello_World"),
        ("-1 -5", ""),
        ("20 30", ""),
        ("10 10", "d"),
        ("-100 0", "H"),
        ("0 -100", "H"),
    ] {
        assert_eq!(ok(&e, &format!("getrange s {range}")), v(want), "{range}");
        assert_eq!(ok(&e, &format!("substr s {range}")), v(want), "{range}");
    }
    assert_eq!(ok(&e, "getrange nokey 0 -1"), v(""));
    ok(&e, "set n 1");
    assert_eq!(ok(&e, "getrange n 0 -1"), v("1"));
    assert_eq!(err(&e, "getrange nokey 0 abc"), NOT_INT);
    assert_eq!(
        err(&e, "getrange s 0"),
        "wrong number of arguments for 'getrange' command"
    );
}

#[test]
fn setrange_pads_and_limits() {
    let (e, _) = engine();
    assert_eq!(ok(&e, "setrange k 2 ab"), int(4));
    assert_eq!(ok(&e, "get k"), Reply::Value(b"\0\0ab".to_vec()));
    assert_eq!(ok(&e, "setrange k 1 XYZW"), int(5));
    assert_eq!(ok(&e, "get k"), Reply::Value(b"\0XYZW".to_vec()));
    assert_eq!(ok(&e, "setrange k 0 -"), int(5));
    assert_eq!(ok(&e, "get k"), Reply::Value(b"-XYZW".to_vec()));
    // Setting nothing answers the length and creates nothing.
    assert_eq!(
        run_words(&e, &[b"setrange", b"nokey", b"5", b""]),
        Ok(int(0))
    );
    assert_eq!(ok(&e, "get nokey"), Reply::Nil);
    assert_eq!(
        run_words(&e, &[b"setrange", b"k", b"536870911", b""]),
        Ok(int(5))
    );
    assert_eq!(
        err(&e, "setrange k 536870912 x"),
        "string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(
        err(&e, "setrange k 9223372036854775807 x"),
        "string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(err(&e, "setrange k -1 x"), "offset is out of range");
    assert_eq!(err(&e, "setrange k abc x"), NOT_INT);
    assert_eq!(ok(&e, "get k"), Reply::Value(b"-XYZW".to_vec()));
}

#[test]
fn counters() {
    let (e, _) = engine();
    assert_eq!(ok(&e, "incr n"), int(1));
    assert_eq!(ok(&e, "incrby n 41"), int(42));
    assert_eq!(ok(&e, "decr n"), int(41));
    assert_eq!(ok(&e, "decrby n 50"), int(-9));
    assert_eq!(ok(&e, "incrby n -1"), int(-10));
    assert_eq!(ok(&e, "get n"), v("-10"));
    assert_eq!(ok(&e, "decrby fresh -5"), int(5));
    ok(&e, "set n 9223372036854775807");
    assert_eq!(err(&e, "incr n"), "increment or decrement would overflow");
    ok(&e, "set n -9223372036854775808");
    assert_eq!(err(&e, "decr n"), "increment or decrement would overflow");
    assert_eq!(
        err(&e, "decrby n -9223372036854775808"),
        "decrement would overflow"
    );
    assert_eq!(ok(&e, "get n"), v("-9223372036854775808"));
    for stored in [
        "01",
        "-0",
        " 1",
        "1 ",
        "abc",
        "1.5",
        "",
        "00000000000000000000001",
    ] {
        run_words(&e, &[b"set", b"bad", stored.as_bytes()]).unwrap();
        assert_eq!(err(&e, "incr bad"), NOT_INT, "{stored:?}");
    }
    assert_eq!(err(&e, "incrby n 1.5"), NOT_INT);
    assert_eq!(err(&e, "incrby n +1"), NOT_INT);
    assert_eq!(err(&e, "incrby n 99999999999999999999"), NOT_INT);
}

#[test]
fn incrbyfloat_formats_like_redis() {
    let (e, _) = engine();
    ok(&e, "set f 10");
    assert_eq!(ok(&e, "incrbyfloat f 0.5"), v("10.5"));
    assert_eq!(ok(&e, "incrbyfloat f 5.0e3"), v("5010.5"));
    assert_eq!(ok(&e, "incrbyfloat f -5010.5"), v("0"));
    assert_eq!(ok(&e, "get f"), v("0"));
    ok(&e, "set f 3");
    // Redis adds in 80-bit long double, which keeps this digit.
    assert_eq!(
        ok(&e, "incrbyfloat f 0.0000000000000001"),
        v("3.0000000000000001")
    );
    assert_eq!(
        ok(&e, "incrbyfloat new 1.23456789012345678"),
        v("1.23456789012345678")
    );
    assert_eq!(
        ok(&e, "incrbyfloat g 0.000003814697265625"),
        v("0.00000381469726562")
    );
    assert_eq!(ok(&e, "incrbyfloat g 0x1p-3"), v("0.12500381469726562"));
    ok(&e, "set h 0x10");
    assert_eq!(ok(&e, "incrbyfloat h 1"), v("17"));
    ok(&e, "set h 1.5e2");
    assert_eq!(ok(&e, "incrbyfloat h 0"), v("150"));
    assert_eq!(ok(&e, "incrbyfloat h +1.5"), v("151.5"));
    assert_eq!(ok(&e, "incrbyfloat h .5"), v("152"));
    assert_eq!(ok(&e, "incrbyfloat h -0.0"), v("152"));
    assert_eq!(ok(&e, "incrbyfloat big 1e20"), v("100000000000000000000"));
    assert_eq!(ok(&e, "incrbyfloat big 1e-20"), v("100000000000000000000"));
    let huge = ok(&e, "incrbyfloat huge 1e400");
    let Reply::Value(digits) = huge else {
        panic!("{huge:?}")
    };
    assert_eq!(digits.len(), 401);
    assert!(digits.starts_with(b"100000000000000000002818806839475865"));
}

#[test]
fn incrbyfloat_errors() {
    let (e, _) = engine();
    ok(&e, "set f 5");
    for bad in ["abc", "nan", "1e", " 1", "", "1e5000", "1e-5000", "0x"] {
        assert_eq!(
            run_words(&e, &[b"incrbyfloat", b"f", bad.as_bytes()]),
            Err("value is not a valid float".into()),
            "{bad:?}"
        );
    }
    assert_eq!(
        err(&e, "incrbyfloat f inf"),
        "increment would produce NaN or Infinity"
    );
    assert_eq!(
        err(&e, "incrbyfloat f -Infinity"),
        "increment would produce NaN or Infinity"
    );
    ok(&e, "set f 1e4932");
    assert_eq!(
        err(&e, "incrbyfloat f 1e4932"),
        "increment would produce NaN or Infinity"
    );
    ok(&e, "set f abc");
    assert_eq!(err(&e, "incrbyfloat f 1"), "value is not a valid float");
    assert_eq!(ok(&e, "get f"), v("abc"));
}

#[test]
fn lcs_modes() {
    let (e, _) = engine();
    ok(&e, "mset key1 ohmytext key2 mynewtext");
    assert_eq!(ok(&e, "lcs key1 key2"), v("mytext"));
    assert_eq!(ok(&e, "lcs key1 key2 LEN"), int(6));
    assert_eq!(ok(&e, "lcs key1 key2 len len"), int(6));
    assert_eq!(ok(&e, "lcs key1 key2 withmatchlen"), v("mytext"));
    let idx = |matches: Vec<Reply>, len: i64| {
        Reply::Map(vec![
            ("matches".into(), Reply::Array(matches)),
            ("len".into(), int(len)),
        ])
    };
    assert_eq!(
        ok(&e, "lcs key1 key2 idx"),
        idx(
            vec![
                Reply::Array(vec![pair(4, 7), pair(5, 8)]),
                Reply::Array(vec![pair(2, 3), pair(0, 1)]),
            ],
            6
        )
    );
    assert_eq!(
        ok(&e, "lcs key1 key2 idx minmatchlen 4 withmatchlen"),
        idx(vec![Reply::Array(vec![pair(4, 7), pair(5, 8), int(4)])], 6)
    );
    assert_eq!(
        ok(&e, "lcs key1 key2 IDX WITHMATCHLEN"),
        idx(
            vec![
                Reply::Array(vec![pair(4, 7), pair(5, 8), int(4)]),
                Reply::Array(vec![pair(2, 3), pair(0, 1), int(2)]),
            ],
            6
        )
    );
    // A negative minimum counts as none.
    assert_eq!(
        ok(&e, "lcs key1 key2 minmatchlen -5 idx"),
        ok(&e, "lcs key1 key2 idx")
    );
    assert_eq!(ok(&e, "lcs nokey key2"), v(""));
    assert_eq!(ok(&e, "lcs nokey nokey2 idx"), idx(vec![], 0));
    assert_eq!(
        err(&e, "lcs key1 key2 len idx"),
        "If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(err(&e, "lcs key1 key2 foo"), SYNTAX);
    assert_eq!(err(&e, "lcs nokey key2 foo"), SYNTAX);
    assert_eq!(err(&e, "lcs key1 key2 minmatchlen"), SYNTAX);
    assert_eq!(err(&e, "lcs key1 key2 minmatchlen abc"), NOT_INT);
    let big = vec![b'a'; 12_000];
    run_words(&e, &[b"mset", b"x", &big, b"y", &big]).unwrap();
    assert_eq!(
        err(&e, "lcs x y len"),
        "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len"
    );
}

#[test]
fn setbit_and_getbit() {
    let (e, _) = engine();
    assert_eq!(ok(&e, "setbit b 7 1"), int(0));
    assert_eq!(ok(&e, "setbit b 7 1"), int(1));
    assert_eq!(ok(&e, "get b"), Reply::Value(vec![1]));
    assert_eq!(ok(&e, "setbit b 8 1"), int(0));
    assert_eq!(ok(&e, "get b"), Reply::Value(vec![1, 0x80]));
    assert_eq!(ok(&e, "setbit b 7 0"), int(1));
    assert_eq!(ok(&e, "get b"), Reply::Value(vec![0, 0x80]));
    assert_eq!(ok(&e, "getbit b 8"), int(1));
    assert_eq!(ok(&e, "getbit b 9"), int(0));
    assert_eq!(ok(&e, "getbit b 4294967295"), int(0));
    assert_eq!(ok(&e, "getbit nokey 3"), int(0));
    // Clearing a bit past the end still grows the string, as in Redis.
    assert_eq!(ok(&e, "setbit z 20 0"), int(0));
    assert_eq!(ok(&e, "get z"), Reply::Value(vec![0, 0, 0]));
    for bad in [
        "setbit b 4294967296 1",
        "setbit b -1 1",
        "setbit b abc 1",
        "getbit b -1",
        "getbit b 4294967296",
    ] {
        assert_eq!(
            err(&e, bad),
            "bit offset is not an integer or out of range",
            "{bad}"
        );
    }
    assert_eq!(
        err(&e, "setbit b 1 2"),
        "bit is not an integer or out of range"
    );
    assert_eq!(
        err(&e, "setbit b 1 x"),
        "bit is not an integer or out of range"
    );
}

#[test]
fn bitcount_ranges() {
    let (e, _) = engine();
    ok(&e, "set mykey foobar");
    for (args, want) in [
        ("", 26),
        (" 0 0", 4),
        (" 1 1", 6),
        (" 1 1 byte", 6),
        (" 5 30 bit", 17),
        (" 5 30 BIT", 17),
        (" -5 -1 bit", 2),
        (" -1 -100", 0),
        (" 0 -100 bit", 0),
        (" -100 100", 26),
    ] {
        assert_eq!(
            ok(&e, &format!("bitcount mykey{args}")),
            int(want),
            "{args}"
        );
    }
    assert_eq!(err(&e, "bitcount mykey 0"), SYNTAX);
    assert_eq!(err(&e, "bitcount mykey 0 1 foo"), SYNTAX);
    assert_eq!(err(&e, "bitcount mykey 0 1 bit extra"), SYNTAX);
    assert_eq!(err(&e, "bitcount mykey a 1"), NOT_INT);
    // Redis 7.0 answers 0 for a missing key before looking at the range.
    assert_eq!(ok(&e, "bitcount nokey 0 1 foo"), int(0));
    assert_eq!(ok(&e, "bitcount nokey"), int(0));
}

#[test]
fn bitpos_ranges() {
    let (e, _) = engine();
    run_words(&e, &[b"set", b"k", b"\xff\xf0\x00"]).unwrap();
    for (args, want) in [
        ("0", 12),
        ("1", 0),
        ("1 2", -1),
        ("1 2 -1 byte", -1),
        ("0 7 15 bit", 12),
        ("0 8 -1 BIT", 12),
        ("1 -2", 8),
        ("1 9 15 bit", 9),
        ("0 1 0", -1),
    ] {
        assert_eq!(ok(&e, &format!("bitpos k {args}")), int(want), "{args}");
    }
    run_words(&e, &[b"set", b"ff", b"\xff\xff"]).unwrap();
    assert_eq!(ok(&e, "bitpos ff 0"), int(16));
    assert_eq!(ok(&e, "bitpos ff 0 0"), int(16));
    assert_eq!(ok(&e, "bitpos ff 0 0 -1"), int(-1));
    assert_eq!(ok(&e, "bitpos ff 0 0 -1 bit"), int(-1));
    assert_eq!(ok(&e, "bitpos ff 1 5 1"), int(-1));
    assert_eq!(ok(&e, "bitpos nokey 0"), int(0));
    assert_eq!(ok(&e, "bitpos nokey 1"), int(-1));
    assert_eq!(ok(&e, "bitpos nokey 0 a"), int(0));
    assert_eq!(err(&e, "bitpos ff 0 0 1 foo"), SYNTAX);
    assert_eq!(err(&e, "bitpos ff 0 0 abc foo"), SYNTAX);
    assert_eq!(err(&e, "bitpos ff 0 abc 1 foo"), NOT_INT);
    assert_eq!(err(&e, "bitpos ff 0 a"), NOT_INT);
    assert_eq!(err(&e, "bitpos ff 2"), "The bit argument must be 1 or 0.");
    assert_eq!(
        err(&e, "bitpos nokey 3"),
        "The bit argument must be 1 or 0."
    );
    ok(&e, "set empty x");
    run_words(&e, &[b"set", b"empty", b""]).unwrap();
    assert_eq!(ok(&e, "bitpos empty 0"), int(-1));
}

#[test]
fn transactions_see_their_own_string_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = Options::new(dir.path());
    options.clock = Arc::new(ManualClock::new(START_MS));
    options.active_expiry = false;
    let db = Db::open(options).unwrap();
    let mut s = Session::new(db.clone());
    let mut run = |text: &str| {
        let statements = inmem::command::grammar::parse(text).unwrap();
        s.execute(&statements[0], text)
            .map_err(|e| e.error.to_string())
    };
    assert_eq!(run("begin"), Ok(Reply::Ok));
    assert_eq!(run("mset a 1 b 2"), Ok(Reply::Ok));
    assert_eq!(run("incrby a 10"), Ok(int(11)));
    assert_eq!(run("append b x"), Ok(int(2)));
    assert_eq!(run("msetnx a 0 c 0"), Ok(Reply::Bool(false)));
    assert_eq!(
        run("mget a b c"),
        Ok(Reply::Array(vec![v("11"), v("2x"), Reply::Nil]))
    );
    assert_eq!(run("getdel b"), Ok(v("2x")));
    assert_eq!(
        db.engine().entries("0").len(),
        0,
        "nothing visible before commit"
    );
    assert_eq!(run("commit"), Ok(Reply::Ok));
    let entries = db.engine().entries("0");
    assert_eq!(entries.len(), 1);
    assert_eq!(&*entries[0].1.value, b"11");
    // Redis's SET is shadowed by the default alias `set = put`; without it, SET is Redis's.
    assert_eq!(run("unalias set"), Ok(Reply::Ok));
    assert_eq!(run("set a 5 xx get"), Ok(v("11")));
    assert_eq!(run("get a"), Ok(v("5")));
}

/// The binary on a fresh data directory.
fn inmem(dir: &tempfile::TempDir) -> Bin {
    let mut cmd = Bin::cargo_bin("inmem").unwrap();
    cmd.arg("--data-dir").arg(dir.path()).env("NO_COLOR", "1");
    cmd
}

#[test]
fn binary_runs_set_nx_and_get() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args([
            "-c",
            "unalias set; set a 1 nx; set a 2 nx; get a; setnx a 3",
        ])
        .assert()
        .success()
        .stdout("OK\nOK\n(nil)\n1\nfalse\n");
}

#[test]
fn binary_runs_mget_and_incrbyfloat() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args([
            "-c",
            "mset a 1 c 3; mget a nokey c; incrbyfloat f 10; incrbyfloat f 0.5; incrbyfloat f 5.0e3",
        ])
        .assert()
        .success()
        .stdout("OK\n1\n(nil)\n3\n10\n10.5\n5010.5\n");
    // The value was stored as formatted and survives a restart.
    inmem(&dir)
        .args(["-c", "get f; strlen f"])
        .assert()
        .success()
        .stdout("5010.5\n6\n");
}

#[test]
fn binary_reports_redis_errors() {
    let dir = tempfile::tempdir().unwrap();
    inmem(&dir)
        .args(["-c", "incrbyfloat f abc"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("value is not a valid float"));
    inmem(&dir)
        .args(["-c", "getrange k 0"])
        .assert()
        .failure()
        .stderr(predicates::str::contains(
            "wrong number of arguments for 'getrange' command",
        ));
}

/// Runs the same commands here and on a real Redis, comparing replies. Run
/// with `INMEM_REDIS_URL=unix:///tmp/x.sock cargo test --test strings -- --ignored`.
#[test]
#[ignore = "needs a redis-server; set INMEM_REDIS_URL"]
fn matches_redis_server() {
    let words =
        |text: &str| -> Vec<Vec<u8>> { text.split(' ').map(|w| w.as_bytes().to_vec()).collect() };
    let lines = |script: &'static str| {
        script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(words)
            .collect::<Vec<_>>()
    };
    let mut commands = lines(SCRIPT);
    commands.push(vec![
        b"set".to_vec(),
        b"bin".to_vec(),
        b"\xff\xf0\x00\x01".to_vec(),
    ]);
    commands.extend(lines(BINARY_SCRIPT));
    compare_with_redis(&commands);
}

/// Random INCRBYFLOAT increments, LCS pairs and bit ranges (from a fixed
/// seed), compared with a real Redis like `matches_redis_server`.
#[test]
#[ignore = "needs a redis-server; set INMEM_REDIS_URL"]
fn matches_redis_server_on_generated_cases() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut commands: Vec<Vec<Vec<u8>>> = Vec::new();
    let word = |parts: &[&[u8]]| parts.iter().map(|p| p.to_vec()).collect::<Vec<_>>();
    for i in 0..400 {
        let digits: String = (0..1 + next(22))
            .map(|_| char::from(b'0' + next(10) as u8))
            .collect();
        let point = next(digits.len() as u64 + 1) as usize;
        let mut number = format!("{}.{}", &digits[..point], &digits[point..]);
        if next(3) == 0 {
            number.push_str(&format!("e{}", next(61) as i64 - 30));
        }
        if next(2) == 0 {
            number.insert(0, '-');
        }
        let key = format!("f{}", i % 7);
        commands.push(word(&[b"incrbyfloat", key.as_bytes(), number.as_bytes()]));
    }
    for _ in 0..150 {
        let mut text =
            |len: u64| -> Vec<u8> { (0..next(len)).map(|_| b"abcx"[next(4) as usize]).collect() };
        let (a, b) = (text(30), text(30));
        commands.push(word(&[b"mset", b"la", &a, b"lb", &b]));
        commands.push(word(&[b"lcs", b"la", b"lb"]));
        commands.push(word(&[b"lcs", b"la", b"lb", b"idx", b"withmatchlen"]));
        let min = next(4).to_string();
        commands.push(word(&[
            b"lcs",
            b"lb",
            b"la",
            b"idx",
            b"minmatchlen",
            min.as_bytes(),
        ]));
    }
    for _ in 0..200 {
        let bytes: Vec<u8> = (0..next(6))
            .map(|_| [0x00, 0xff, 0x0f, 0xf0, 0x81, next(256) as u8][next(6) as usize])
            .collect();
        commands.push(word(&[b"set", b"bits", &bytes]));
        let (start, end) = (
            (next(60) as i64 - 30).to_string(),
            (next(60) as i64 - 30).to_string(),
        );
        let unit: &[u8] = [&b"bit"[..], b"byte"][next(2) as usize];
        let bit = next(2).to_string();
        commands.push(word(&[
            b"bitcount",
            b"bits",
            start.as_bytes(),
            end.as_bytes(),
            unit,
        ]));
        commands.push(word(&[
            b"bitpos",
            b"bits",
            bit.as_bytes(),
            start.as_bytes(),
            end.as_bytes(),
            unit,
        ]));
        commands.push(word(&[
            b"bitpos",
            b"bits",
            bit.as_bytes(),
            start.as_bytes(),
        ]));
        commands.push(word(&[b"bitpos", b"bits", bit.as_bytes()]));
        commands.push(word(&[
            b"getrange",
            b"bits",
            start.as_bytes(),
            end.as_bytes(),
        ]));
    }
    compare_with_redis(&commands);
}

/// Runs `commands` on a fresh engine and on the Redis at `INMEM_REDIS_URL`
/// (flushed first), asserting equal replies and equal error texts.
fn compare_with_redis(commands: &[Vec<Vec<u8>>]) {
    let url = std::env::var("INMEM_REDIS_URL").expect("INMEM_REDIS_URL names a redis-server");
    let client = ::redis::Client::open(url).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = ::redis::cmd("FLUSHALL").query(&mut con).unwrap();
    let (e, _) = engine();
    for words in commands {
        let mut cmd = ::redis::cmd(std::str::from_utf8(&words[0]).unwrap());
        for w in &words[1..] {
            cmd.arg(w.as_slice());
        }
        let theirs = cmd.query::<::redis::Value>(&mut con);
        let ours = build(words).and_then(|op| e.run("0", &op).map_err(|e| e.to_string()));
        let text = String::from_utf8_lossy(&words.join(&b' ')).into_owned();
        match (theirs, ours) {
            (Ok(theirs), Ok(ours)) => assert_eq!(to_resp(&ours), theirs, "{text}"),
            (Err(theirs), Err(ours)) => {
                let want = theirs.detail().unwrap_or_default().to_string();
                let code = theirs.code().unwrap_or_default();
                let full = if code == "ERR" {
                    want
                } else {
                    format!("{code} {want}")
                };
                assert_eq!(ours, full, "{text}");
            }
            (theirs, ours) => panic!("{text}: redis {theirs:?}, inmem {ours:?}"),
        }
    }
}

/// A reply as a RESP2 client receives it.
fn to_resp(reply: &Reply) -> ::redis::Value {
    use ::redis::Value as R;
    match reply {
        Reply::Ok => R::Okay,
        Reply::Nil => R::Nil,
        Reply::Value(bytes) => R::BulkString(bytes.clone()),
        Reply::Int(n) => R::Int(*n),
        Reply::Bool(b) => R::Int(i64::from(*b)),
        Reply::Array(items) => R::Array(items.iter().map(to_resp).collect()),
        Reply::Map(fields) => R::Array(
            fields
                .iter()
                .flat_map(|(k, v)| [R::BulkString(k.clone().into_bytes()), to_resp(v)])
                .collect(),
        ),
        other => panic!("no RESP form expected for {other:?}"),
    }
}

const SCRIPT: &str = "
    set k v1
    set k v2 nx
    set k v3 xx get
    set k v4 nx get
    set missing v xx
    set k v ex 10 px 10
    set k v nx xx
    set k v ex 0
    set k v ex abc
    set k v ex abc nx xx
    set k v keepttl ex 10
    set k v ex 9223372036854775807
    set k v px 9223372036854775807
    set k v pxat 0
    set k v exat 1
    get k
    set k v EX 10 ex 10
    set k v get get
    setnx k 1
    setnx k2 1
    getset k2 2
    getset k3 2
    setex k 0 v
    setex k abc v
    psetex k -5 v
    getex k ex 0
    getex k persist ex 10
    getex k foo
    getex nokey ex 0
    getex nokey ex abc
    getex k persist
    getex k px 100000
    getex k exat 1
    get k
    getdel k2
    getdel k2
    mset a 1 b 2 a 3
    mset a 1 b
    msetnx a 1 z 2
    msetnx y 1 z 2 y 3
    mget a b nokey y z
    append ap abc
    append ap de
    strlen ap
    strlen nokey
    set s Hello_World
    getrange s -3 -1
    getrange s 5 2
    getrange s -100 -50
    getrange s 0 100
    getrange s -1 -5
    getrange s 20 30
    getrange nokey 0 1
    getrange s 0 abc
    substr s 0 -1
    setrange s -1 x
    setrange s 536870912 x
    setrange nk 2 ab
    get nk
    setrange s 3 LLO
    get s
    incr n
    incrby n 41
    decr n
    decrby n 50
    decrby n -9223372036854775808
    incrby n 9223372036854775807
    incrby n 01
    incrby n -0
    set n 01
    incr n
    set n -0
    incr n
    set n 9223372036854775807
    incr n
    set f 10
    incrbyfloat f 0.5
    incrbyfloat f 5.0e3
    incrbyfloat f -5010.5
    set f 3
    incrbyfloat f 0.0000000000000001
    incrbyfloat f abc
    incrbyfloat f inf
    incrbyfloat f nan
    incrbyfloat f 1e5000
    incrbyfloat f 0x1p-3
    incrbyfloat g 0.000003814697265625
    incrbyfloat g 1.23456789012345678
    incrbyfloat h 1e400
    set h 1e308
    incrbyfloat h 1e308
    set h 0x10
    incrbyfloat h 1
    incrbyfloat h 1e-17
    incrbyfloat h -17.00000000000000001
    incrbyfloat h -1e-30
    incrbyfloat h 123456789.123456789
    mset key1 ohmytext key2 mynewtext
    lcs key1 key2
    lcs key1 key2 len
    lcs key1 key2 idx
    lcs key1 key2 idx minmatchlen 4 withmatchlen
    lcs key1 key2 idx withmatchlen
    lcs key1 key2 len idx
    lcs key1 key2 foo
    lcs key1 key2 minmatchlen abc
    lcs nokey key2
    lcs nokey nokey2 idx
    mset l1 abcabcabcxyz l2 xxabcyzabcabz
    lcs l1 l2 idx withmatchlen
    lcs l2 l1 idx minmatchlen 2
    lcs l1 l2
    setbit b 7 1
    setbit b 7 0
    setbit b 100 1
    setbit b 4294967296 1
    setbit b 1 2
    getbit b 100
    getbit b -1
    getbit nokey 5
    set mykey foobar
    bitcount mykey
    bitcount mykey 1 1
    bitcount mykey 5 30 bit
    bitcount mykey -5 -1 bit
    bitcount mykey -1 -100
    bitcount mykey 0
    bitcount mykey 0 1 foo
    bitcount mykey a 1
    bitcount nokey 0 1 foo
    bitpos mykey 1
    bitpos mykey 0
    bitpos mykey 1 2
    bitpos mykey 0 -3 -1
    bitpos mykey 1 9 40 bit
    bitpos mykey 0 9 12 bit
    bitpos mykey 2
    bitpos nokey 0
    bitpos nokey 1
    bitpos mykey 0 0 abc foo
    bitpos mykey 0 abc 1 foo
";

const BINARY_SCRIPT: &str = "
    bitpos bin 0
    bitpos bin 1 1
    bitpos bin 0 7 15 bit
    bitpos bin 0 8 -1 bit
    bitpos bin 1 2 -1 byte
    bitpos bin 1 17 31 bit
    bitpos bin 0 0 1
    bitcount bin 3 27 bit
    bitcount bin -2 -1
    getrange bin -2 -1
    append bin \u{0}
    strlen bin
";

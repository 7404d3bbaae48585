//! The same commands sent to `inmem serve` and to Debian's redis-server 7
//! must get the same replies, byte for byte (errors included): once as inline
//! commands over raw TCP, once through the `redis` crate. Skipped with a
//! printed reason when redis-server is missing, unless REQUIRE_REDIS=1.

mod support;

use inmem::server::resp::Frame;
use std::process::{Child, Command, Stdio};
use support::{Raw, Server, have};

/// A redis-server on a free port, stopped on drop.
struct Redis {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    fn start() -> Redis {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        // Owned by the guard from here on, so it is killed and reaped on every path.
        let redis = Redis {
            child,
            port,
            _dir: dir,
        };
        let up = (0..100).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(50));
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
        assert!(up, "redis-server did not start");
        redis
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to compare a reply.
#[derive(Clone, Copy, PartialEq)]
enum Compare {
    /// Byte for byte.
    Exact,
    /// Arrays compared as sorted (hash-ordered replies such as KEYS).
    Unordered,
}

fn normalise(frame: Frame, compare: Compare) -> Frame {
    match (frame, compare) {
        (Frame::Array(mut items), Compare::Unordered) => {
            items.sort_by_key(|f| format!("{f:?}"));
            Frame::Array(items)
        }
        (frame, _) => frame,
    }
}

/// Commands whose replies must agree, one per line; `~` first marks an unordered reply.
const SCRIPT: &str = r#"
SET k v
GET k
SET k v2 NX
SET k v2 XX GET
SET k v EX 0
SET k v EX 10 PX 10
SET k v KEEPTTL EX 10
SET k v NX XX
SET k v EX notanumber
SET k v EX 100 GET
TTL k
SET k v2 KEEPTTL
TTL k
SETNX k x
SETNX n x
GETSET k z
GETDEL k
GETDEL k
APPEND a hello
APPEND a " world"
STRLEN a
STRLEN nosuch
GETRANGE a 0 4
GETRANGE a -5 -1
GETRANGE a 100 200
GETRANGE a 5 2
SUBSTR a 1 3
SETRANGE a 6 WORLD
GET a
SETRANGE b 5 x
GET b
SETRANGE b -1 x
INCR c
INCRBY c 10
DECR c
DECRBY c 5
INCRBY c x
INCR a
INCRBY c 9223372036854775807
INCRBYFLOAT f 10.5
INCRBYFLOAT f 5.0e3
INCRBYFLOAT f -5030
INCRBYFLOAT f 3.0000000000000001
INCRBYFLOAT a 1
INCRBYFLOAT f abc
MSET x 1 y 2
MGET x y nosuch
MSETNX x 3 z 4
MSETNX z 4 w 5
MSET x
SETBIT bits 7 1
SETBIT bits 7 0
SETBIT bits 7 2
SETBIT bits -1 1
GETBIT bits 7
GETBIT bits 100
BITCOUNT bits
SET s foobar
BITCOUNT s
BITCOUNT s 1 1
BITCOUNT s 5 30 BIT
BITCOUNT s 0 -1 BYTE
BITCOUNT s 0
BITPOS s 1
BITPOS s 0
BITPOS s 1 2 -1 BYTE
BITPOS s 1 7 15 BIT
BITPOS nosuch 0
BITPOS nosuch 1
SET l1 ohmytext
SET l2 mynewtext
LCS l1 l2
LCS l1 l2 LEN
LCS l1 l2 IDX
LCS l1 l2 IDX MINMATCHLEN 4 WITHMATCHLEN
SETEX e 100 v
TTL e
SETEX e 0 v
PSETEX e -5 v
GETEX e PERSIST
TTL e
GETEX e EX 50
TTL e
GETEX nosuch
DEL x y nosuch
EXISTS z z w nosuch
UNLINK w
TYPE z
TYPE nosuch
RENAME z z2
RENAME nosuch q
RENAME z2 z2
SET k2 taken
RENAMENX z2 k2
RENAMENX z2 k3
EXPIRE k3 100
EXPIRE k3 100 NX
EXPIRE k3 200 XX
EXPIRE k3 50 GT
EXPIRE k3 500 GT
EXPIRE k3 600 LT
TTL k3
EXPIRE k3 10 NX XX
EXPIRE k3 10 GT LT
EXPIRE k3 abc
EXPIRE nosuch 10
PERSIST k3
PERSIST k3
TTL k3
EXPIRE k3 100 LT
TTL k3
EXPIREAT k3 1
EXISTS k3
PEXPIRETIME k2
EXPIRETIME nosuch
OBJECT IDLETIME nosuch
OBJECT FREQ nosuch
OBJECT FREQ k2
OBJECT IDLETIME
OBJECT FREQ k2 extra
~KEYS *
~KEYS ?
~KEYS [kl]*
DBSIZE
COPY k2 k4
COPY k2 k4
COPY k2 k4 REPLACE
COPY k2 k2
COPY nosuch k5
COPY k2 k5 DB 1
MOVE k4 1
MOVE k4 1
MOVE k2 0
MOVE k2 99
SELECT 1
~KEYS *
SELECT 0
SWAPDB 0 1
~KEYS *
SWAPDB 0 1
SWAPDB 0 99
FLUSHDB
DBSIZE
SELECT 1
DBSIZE
FLUSHALL
DBSIZE
SELECT 0
GET
SET
GETRANGE a 0
"#;

#[test]
fn inmem_answers_like_redis_server() {
    if !have("redis-server") {
        return;
    }
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let inmem = Server::start(dir.path(), &[]);
    let mut theirs = Raw::connect(redis.port);
    let mut ours = inmem.raw();
    let mut differences = Vec::new();
    let mut compared = 0;
    for line in SCRIPT.lines().filter(|l| !l.trim().is_empty()) {
        let (compare, text) = match line.strip_prefix('~') {
            Some(rest) => (Compare::Unordered, rest),
            None => (Compare::Exact, line),
        };
        // Both servers read the line as an inline command, with Redis's quoting.
        let request = format!("{text}\r\n");
        theirs.send(request.as_bytes());
        ours.send(request.as_bytes());
        let expected = normalise(theirs.read(), compare);
        let got = normalise(ours.read(), compare);
        compared += 1;
        if expected != got {
            differences.push(format!(
                "{text}\n    redis: {expected:?}\n    inmem: {got:?}"
            ));
        }
    }
    assert!(compared > 100);
    assert!(
        differences.is_empty(),
        "{} of {compared} replies differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

/// Splits a script line into arguments: spaces separate, double quotes group.
fn split(line: &str) -> Vec<String> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in line.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                started = true;
            }
            ' ' if !quoted => {
                if started {
                    args.push(std::mem::take(&mut current));
                    started = false;
                }
            }
            c => {
                current.push(c);
                started = true;
            }
        }
    }
    if started {
        args.push(current);
    }
    args
}

/// A reply as the `redis` crate reports it: a value, or the server's error text.
fn query(con: &mut redis::Connection, args: &[String]) -> Result<redis::Value, String> {
    let mut cmd = redis::cmd(&args[0]);
    for arg in &args[1..] {
        cmd.arg(arg);
    }
    cmd.query::<redis::Value>(con)
        .map_err(|e| format!("{} {}", e.code().unwrap_or("?"), e.detail().unwrap_or("")))
}

fn sorted(value: Result<redis::Value, String>, compare: Compare) -> Result<redis::Value, String> {
    match (value, compare) {
        (Ok(redis::Value::Array(mut items)), Compare::Unordered) => {
            items.sort_by_key(|v| format!("{v:?}"));
            Ok(redis::Value::Array(items))
        }
        (other, _) => other,
    }
}

#[test]
fn the_redis_crate_gets_the_same_replies_from_both() {
    if !have("redis-server") {
        return;
    }
    let redis = Redis::start();
    let dir = tempfile::tempdir().unwrap();
    let inmem = Server::start(dir.path(), &[]);
    let open = |port: u16| {
        redis::Client::open(format!("redis://127.0.0.1:{port}/"))
            .unwrap()
            .get_connection()
            .unwrap()
    };
    let mut theirs = open(redis.port);
    let mut ours = open(inmem.port);
    let mut differences = Vec::new();
    let mut compared = 0;
    for line in SCRIPT.lines().filter(|l| !l.trim().is_empty()) {
        let (compare, text) = match line.strip_prefix('~') {
            Some(rest) => (Compare::Unordered, rest),
            None => (Compare::Exact, line),
        };
        let args = split(text);
        let expected = sorted(query(&mut theirs, &args), compare);
        let got = sorted(query(&mut ours, &args), compare);
        compared += 1;
        if expected != got {
            differences.push(format!(
                "{text}\n    redis: {expected:?}\n    inmem: {got:?}"
            ));
        }
    }
    assert!(compared > 100);
    assert!(
        differences.is_empty(),
        "{} of {compared} replies differ:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

//! `inmem serve` as a real process, driven by real clients: the `redis`
//! crate, raw TCP, redis-cli and redis-benchmark.

mod support;

use inmem::server::resp::Frame;
use redis::Commands;
use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};
use support::{Server, bulk, dir, error, have, simple};

#[test]
fn connection_commands_answer_as_redis_does() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["PING"]), simple("PONG"));
    assert_eq!(raw.call(&["ping", "hi"]), bulk("hi"));
    assert_eq!(raw.call(&["ECHO", "x y"]), bulk("x y"));
    assert_eq!(
        raw.call(&["foo", "a", "b"]),
        error("ERR unknown command 'foo', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        raw.call(&["get"]),
        error("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        raw.call(&["ping", "a", "b"]),
        error("ERR wrong number of arguments for 'ping' command")
    );
    assert_eq!(
        raw.call(&["SELECT", "16"]),
        error("ERR DB index is out of range")
    );
    assert_eq!(
        raw.call(&["SELECT", "x"]),
        error("ERR value is not an integer or out of range")
    );
    assert_eq!(
        raw.call(&["HELLO", "4"]),
        error("NOPROTO unsupported protocol version")
    );
    assert_eq!(
        raw.call(&["AUTH", "x"]),
        error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
        )
    );
    assert_eq!(raw.call(&["CLIENT", "GETNAME"]), Frame::Null);
    assert_eq!(
        raw.call(&["CLIENT", "SETNAME", "a b"]),
        error("ERR Client names cannot contain spaces, newlines or special characters.")
    );
    assert_eq!(raw.call(&["CLIENT", "SETNAME", "worker"]), simple("OK"));
    assert_eq!(raw.call(&["CLIENT", "GETNAME"]), bulk("worker"));
    assert_eq!(
        raw.call(&["CLIENT", "KILL", "1.2.3.4:5"]),
        error("ERR No such client")
    );
    assert_eq!(
        raw.call(&["OBJECT", "foo"]),
        error("ERR unknown subcommand 'foo'. Try OBJECT HELP.")
    );
    assert_eq!(raw.call(&["QUIT"]), simple("OK"));
    assert!(raw.is_closed());
}

#[test]
fn strings_keys_and_expiry_work_through_the_redis_crate() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut con = server.connect();
    let _: () = con.set("greeting", "hello").unwrap();
    let value: String = con.get("greeting").unwrap();
    assert_eq!(value, "hello");
    let missing: Option<String> = con.get("nope").unwrap();
    assert_eq!(missing, None);
    let n: i64 = con.incr("counter", 5).unwrap();
    assert_eq!(n, 5);
    let deleted: i64 = con.del(&["greeting", "nope"]).unwrap();
    assert_eq!(deleted, 1);
    let binary = vec![0u8, 255, 13, 10, 0];
    let _: () = con.set(&binary[..], &binary[..]).unwrap();
    let back: Vec<u8> = con.get(&binary[..]).unwrap();
    assert_eq!(back, binary);
    // Expiry with absolute times: no sleeping.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let _: () = con.set("later", "x").unwrap();
    let _: () = con.set("gone", "x").unwrap();
    let set: bool = redis::cmd("PEXPIREAT")
        .arg("later")
        .arg(now_ms + 3_600_000)
        .query(&mut con)
        .unwrap();
    assert!(set);
    let set: bool = redis::cmd("PEXPIREAT")
        .arg("gone")
        .arg(now_ms - 1)
        .query(&mut con)
        .unwrap();
    assert!(set);
    let ttl: i64 = con.ttl("later").unwrap();
    assert!((3590..=3600).contains(&ttl), "ttl {ttl}");
    let exists: bool = con.exists("gone").unwrap();
    assert!(!exists);
    // counter, the binary key and "later"; "greeting" was deleted and "gone" expired.
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 3);
}

#[test]
fn pipelined_commands_get_replies_in_order() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut con = server.connect();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        pipe.cmd("SET").arg(format!("k{i}")).arg(i).ignore();
    }
    for i in 0..2000 {
        pipe.cmd("GET").arg(format!("k{i}"));
    }
    let values: Vec<i64> = pipe.query(&mut con).unwrap();
    assert_eq!(values, (0..2000).collect::<Vec<i64>>());
    // Many requests in one write, raw: answered in order.
    let mut raw = server.raw();
    let mut bytes = Vec::new();
    for i in 0..100 {
        bytes.extend_from_slice(
            format!("*2\r\n$3\r\nGET\r\n${}\r\nk{i}\r\n", format!("k{i}").len()).as_bytes(),
        );
    }
    raw.send(&bytes);
    for i in 0..100 {
        assert_eq!(raw.read(), bulk(&i.to_string()));
    }
}

#[test]
fn inline_commands_work_as_typed_through_telnet() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    raw.send(b"SET name \"two words\"\r\nGET name\r\n\r\nPING\n");
    assert_eq!(raw.read(), simple("OK"));
    assert_eq!(raw.read(), bulk("two words"));
    assert_eq!(raw.read(), simple("PONG"));
}

#[test]
fn select_keeps_namespaces_apart() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SET", "k", "zero"]), simple("OK"));
    assert_eq!(raw.call(&["SELECT", "1"]), simple("OK"));
    assert_eq!(raw.call(&["GET", "k"]), Frame::Null);
    assert_eq!(raw.call(&["SET", "k", "one"]), simple("OK"));
    assert_eq!(raw.call(&["SELECT", "0"]), simple("OK"));
    assert_eq!(raw.call(&["GET", "k"]), bulk("zero"));
    let mut other = server.raw();
    assert_eq!(other.call(&["SELECT", "1"]), simple("OK"));
    assert_eq!(other.call(&["GET", "k"]), bulk("one"));
    assert_eq!(other.call(&["DBSIZE"]), Frame::Integer(1));
}

#[test]
fn a_password_guards_every_command_until_auth() {
    let dir = dir();
    let server = Server::start(dir.path(), &["--requirepass", "s3cret"]);
    let mut raw = server.raw();
    assert_eq!(
        raw.call(&["GET", "a"]),
        error("NOAUTH Authentication required.")
    );
    assert_eq!(
        raw.call(&["AUTH", "wrong"]),
        error("WRONGPASS invalid username-password pair or user is disabled.")
    );
    assert_eq!(raw.call(&["AUTH", "s3cret"]), simple("OK"));
    assert_eq!(raw.call(&["SET", "a", "1"]), simple("OK"));
    let mut hello = server.raw();
    match hello.call(&["HELLO", "3", "AUTH", "default", "s3cret"]) {
        Frame::Map(fields) => assert!(fields.contains(&(bulk("proto"), Frame::Integer(3)))),
        other => panic!("HELLO answered {other:?}"),
    }
    assert_eq!(hello.call(&["GET", "a"]), bulk("1"));
    let client =
        redis::Client::open(format!("redis://:s3cret@127.0.0.1:{}/", server.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let value: String = con.get("a").unwrap();
    assert_eq!(value, "1");
}

#[test]
fn resp3_after_hello_3_sends_maps_and_nulls() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    raw.command(&[b"HELLO", b"3"]);
    assert!(matches!(raw.read(), Frame::Map(_)));
    raw.command(&[b"GET", b"missing"]);
    raw.stream.flush().unwrap();
    assert_eq!(raw.read(), Frame::Null);
    match raw.call(&["CONFIG", "GET", "maxmemory"]) {
        Frame::Map(pairs) => assert_eq!(pairs, vec![(bulk("maxmemory"), bulk("0"))]),
        other => panic!("CONFIG GET answered {other:?} in RESP3"),
    }
}

#[test]
fn multi_exec_and_watch_across_two_connections() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "x", "1"]), simple("QUEUED"));
    assert_eq!(a.call(&["INCR", "x"]), simple("QUEUED"));
    assert_eq!(
        b.call(&["GET", "x"]),
        Frame::Null,
        "nothing runs before EXEC"
    );
    assert_eq!(
        a.call(&["EXEC"]),
        Frame::Array(vec![simple("OK"), Frame::Integer(2)])
    );
    // A watched key changed by another connection aborts EXEC.
    assert_eq!(a.call(&["WATCH", "x"]), simple("OK"));
    assert_eq!(b.call(&["SET", "x", "changed"]), simple("OK"));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "x", "mine"]), simple("QUEUED"));
    assert_eq!(a.call(&["EXEC"]), Frame::NullArray);
    assert_eq!(b.call(&["GET", "x"]), bulk("changed"));
    // Watching an unrelated key does not abort.
    assert_eq!(a.call(&["WATCH", "y"]), simple("OK"));
    assert_eq!(b.call(&["SET", "x", "again"]), simple("OK"));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "x", "mine"]), simple("QUEUED"));
    assert_eq!(a.call(&["EXEC"]), Frame::Array(vec![simple("OK")]));
    // A queueing error discards the whole transaction.
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["SET", "z", "1"]), simple("QUEUED"));
    assert!(matches!(a.call(&["NOSUCH"]), Frame::Error(_)));
    assert_eq!(
        a.call(&["EXEC"]),
        error("EXECABORT Transaction discarded because of previous errors.")
    );
    assert_eq!(b.call(&["EXISTS", "z"]), Frame::Integer(0));
    // A runtime error inside EXEC does not stop the other commands.
    assert_eq!(a.call(&["SET", "text", "abc"]), simple("OK"));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(a.call(&["INCR", "text"]), simple("QUEUED"));
    assert_eq!(a.call(&["SET", "after", "1"]), simple("QUEUED"));
    assert_eq!(
        a.call(&["EXEC"]),
        Frame::Array(vec![
            error("ERR value is not an integer or out of range"),
            simple("OK")
        ])
    );
    assert_eq!(a.call(&["EXEC"]), error("ERR EXEC without MULTI"));
    assert_eq!(a.call(&["DISCARD"]), error("ERR DISCARD without MULTI"));
    assert_eq!(a.call(&["MULTI"]), simple("OK"));
    assert_eq!(
        a.call(&["MULTI"]),
        error("ERR MULTI calls can not be nested")
    );
    assert_eq!(
        a.call(&["WATCH", "x"]),
        error("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(a.call(&["DISCARD"]), simple("OK"));
}

/// Runs `work` on `clients` connections to the server on `port` at once,
/// one thread each (given its number), and waits for all of them.
fn on_connections(port: u16, clients: usize, work: fn(usize, &mut redis::Connection)) {
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            std::thread::spawn(move || {
                let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
                let mut con = client.get_connection().unwrap();
                work(t, &mut con);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn many_concurrent_clients_write_without_loss() {
    let dir = dir();
    // Several connection threads, so connections really run in parallel.
    let server = Server::start(dir.path(), &["--threads", "4"]);
    on_connections(server.port, 32, |t, con| {
        for i in 0..200 {
            let _: () = con.set(format!("t{t}:{i}"), i).unwrap();
            let _: i64 = con.incr("shared", 1).unwrap();
        }
    });
    let mut con = server.connect();
    let total: i64 = con.get("shared").unwrap();
    assert_eq!(total, 32 * 200);
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 32 * 200 + 1);
}

#[test]
fn concurrent_clients_under_always_are_all_answered_and_survive_kill_9() {
    // One connection thread (the default on two cores), where the group
    // commit waits for the other ready connections, and two, where threads
    // fsync side by side.
    for threads in ["1", "2"] {
        let dir = dir();
        let args = ["--appendfsync", "always", "--threads", threads];
        let server = Server::start(dir.path(), &args);
        on_connections(server.port, 16, |t, con| {
            for i in 0..150 {
                let _: () = con.set(format!("t{t}:{i}"), i).unwrap();
            }
        });
        // Every reply above was an acknowledgement: each write was fsynced first.
        assert!(!server.signal("KILL").success());
        let server = Server::start(dir.path(), &[]);
        let mut con = server.connect();
        let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
        assert_eq!(size, 16 * 150, "{threads} threads");
        for t in 0..16 {
            let last: i64 = con.get(format!("t{t}:149")).unwrap();
            assert_eq!(last, 149, "{threads} threads");
        }
    }
}

#[test]
fn thousands_of_connections_are_served_at_once() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut open: Vec<support::Raw> = (0..2000).map(|_| server.raw()).collect();
    for raw in &mut open {
        raw.command(&[b"PING"]);
    }
    for raw in &mut open {
        assert_eq!(raw.read(), simple("PONG"));
    }
    let mut raw = server.raw();
    match raw.call(&["INFO", "clients"]) {
        Frame::Verbatim { text, .. } | Frame::Bulk(text) => {
            let text = String::from_utf8(text).unwrap();
            assert!(text.contains("connected_clients:2001"), "{text}");
        }
        other => panic!("INFO answered {other:?}"),
    }
}

#[test]
fn maxclients_turns_away_extra_connections() {
    let dir = dir();
    let server = Server::start(dir.path(), &["--maxclients", "2"]);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(a.call(&["PING"]), simple("PONG"));
    assert_eq!(b.call(&["PING"]), simple("PONG"));
    let mut c = server.raw();
    assert_eq!(c.read(), error("ERR max number of clients reached"));
    assert!(c.is_closed());
    drop(a);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut d = server.raw();
    assert_eq!(d.call(&["PING"]), simple("PONG"));
}

#[test]
fn malformed_frames_close_only_that_connection_and_change_nothing() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut good = server.raw();
    assert_eq!(good.call(&["SET", "k", "before"]), simple("OK"));
    let cases: [(&[u8], &str); 4] = [
        (b"*1\r\n+x\r\n", "ERR Protocol error: expected '$', got '+'"),
        (
            b"*99999999999\r\n",
            "ERR Protocol error: invalid multibulk length",
        ),
        (
            b"*1\r\n$999999999999\r\n",
            "ERR Protocol error: invalid bulk length",
        ),
        (
            b"SET k \"unbalanced\r\n",
            "ERR Protocol error: unbalanced quotes in request",
        ),
    ];
    for (bytes, message) in cases {
        let mut bad = server.raw();
        let mut request = bytes.to_vec();
        // A valid write after the bad frame must not run.
        request.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nafter\r\n");
        bad.send(&request);
        assert_eq!(bad.read(), error(message));
        assert!(bad.is_closed(), "connection closed after {message}");
    }
    // An endless inline line is cut at 64 KiB.
    let mut long = server.raw();
    let _ = long.stream.write_all(&vec![b'a'; 70 * 1024]);
    assert_eq!(
        long.read(),
        error("ERR Protocol error: too big inline request")
    );
    assert_eq!(good.call(&["GET", "k"]), bulk("before"));
}

#[test]
fn half_sent_and_byte_by_byte_frames_wait_without_blocking_others() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut slow = server.raw();
    let request = b"*3\r\n$3\r\nSET\r\n$4\r\nslow\r\n$5\r\nvalue\r\n";
    // Half a frame, then another client is served meanwhile.
    slow.send(&request[..10]);
    let mut other = server.raw();
    assert_eq!(other.call(&["SET", "fast", "1"]), simple("OK"));
    for byte in &request[10..] {
        slow.send(std::slice::from_ref(byte));
    }
    assert_eq!(slow.read(), simple("OK"));
    assert_eq!(other.call(&["GET", "slow"]), bulk("value"));
}

#[test]
fn info_config_and_command_describe_the_server() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    raw.call(&["SET", "a", "1"]);
    let Frame::Bulk(info) = raw.call(&["INFO", "all"]) else {
        panic!("INFO is a bulk string in RESP2");
    };
    let info = String::from_utf8(info).unwrap();
    for section in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Keyspace",
        "# Commandstats",
    ] {
        assert!(info.contains(section), "{section} missing from INFO");
    }
    assert!(info.contains("db0:keys=1,expires=0"), "{info}");
    assert!(info.contains("cmdstat_set:calls=1"), "{info}");
    assert_eq!(
        raw.call(&["CONFIG", "GET", "maxmemory-policy"]),
        Frame::Array(vec![bulk("maxmemory-policy"), bulk("noeviction")])
    );
    assert_eq!(
        raw.call(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]),
        simple("OK")
    );
    assert_eq!(
        raw.call(&["CONFIG", "GET", "maxmemory-policy"]),
        Frame::Array(vec![bulk("maxmemory-policy"), bulk("allkeys-lru")])
    );
    assert_eq!(
        raw.call(&["CONFIG", "SET", "nosuch", "1"]),
        error("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'")
    );
    let Frame::Integer(count) = raw.call(&["COMMAND", "COUNT"]) else {
        panic!()
    };
    let Frame::Array(list) = raw.call(&["COMMAND", "LIST"]) else {
        panic!()
    };
    assert_eq!(count as usize, list.len());
    for name in ["get", "set", "scan", "multi", "find", "move"] {
        assert!(list.contains(&bulk(name)), "COMMAND LIST lacks {name}");
    }
    let Frame::Array(info) = raw.call(&["COMMAND", "INFO", "get"]) else {
        panic!()
    };
    let Frame::Array(get) = &info[0] else {
        panic!()
    };
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], Frame::Integer(2));
    assert_eq!(
        raw.call(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        Frame::Array(vec![bulk("a"), bulk("b")])
    );
    assert!(matches!(
        raw.call(&["COMMAND", "DOCS", "set"]),
        Frame::Array(_)
    ));
    let Frame::Array(time) = raw.call(&["TIME"]) else {
        panic!()
    };
    assert_eq!(time.len(), 2);
    assert_eq!(raw.call(&["OBJECT", "ENCODING", "a"]), bulk("int"));
    assert!(matches!(raw.call(&["MEMORY", "USAGE", "a"]), Frame::Integer(n) if n > 2));
    assert_eq!(raw.call(&["SAVE"]), simple("OK"));
    assert!(matches!(raw.call(&["LASTSAVE"]), Frame::Integer(n) if n > 1_600_000_000));
}

#[test]
fn client_list_and_kill_see_other_connections() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut a = server.raw();
    let mut b = server.raw();
    assert_eq!(b.call(&["CLIENT", "SETNAME", "victim"]), simple("OK"));
    let Frame::Integer(b_id) = b.call(&["CLIENT", "ID"]) else {
        panic!()
    };
    assert_eq!(b.call(&["GET", "missing"]), Frame::Null);
    let Frame::Bulk(list) = a.call(&["CLIENT", "LIST"]) else {
        panic!()
    };
    let list = String::from_utf8(list).unwrap();
    let line_of = |id: &str| {
        list.lines()
            .find(|line| line.starts_with(&format!("id={id} ")))
            .unwrap_or_else(|| panic!("no client {id} in {list}"))
            .to_string()
    };
    let b_line = line_of(&b_id.to_string());
    assert!(
        b_line.contains("name=victim") && b_line.contains(" cmd=get "),
        "the other client's last command is shown: {b_line}"
    );
    let Frame::Integer(a_id) = a.call(&["CLIENT", "ID"]) else {
        panic!()
    };
    let Frame::Bulk(mine) = a.call(&["CLIENT", "INFO"]) else {
        panic!()
    };
    let mine = String::from_utf8(mine).unwrap();
    assert!(
        mine.starts_with(&format!("id={a_id} ")) && mine.contains(" cmd=client|info "),
        "a client sees its current command: {mine}"
    );
    assert_eq!(
        a.call(&["CLIENT", "KILL", "ID", &b_id.to_string()]),
        Frame::Integer(1)
    );
    assert!(b.is_closed());
    assert_eq!(a.call(&["PING"]), simple("PONG"));
}

#[test]
fn data_survives_shutdown_sigterm_and_kill_9() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SET", "a", "1"]), simple("OK"));
    raw.command(&[b"SHUTDOWN"]);
    assert!(raw.is_closed());
    assert!(server.wait().success());

    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["GET", "a"]), bulk("1"));
    assert_eq!(raw.call(&["SET", "b", "2"]), simple("OK"));
    assert!(server.signal("TERM").success());

    let server = Server::start(dir.path(), &["--appendfsync", "always"]);
    let mut con = server.connect();
    for i in 0..500 {
        let _: () = con.set(format!("acked{i}"), i).unwrap();
    }
    let status = server.signal("KILL");
    assert!(!status.success());

    let server = Server::start(dir.path(), &[]);
    let mut con = server.connect();
    let b: String = con.get("b").unwrap();
    assert_eq!(b, "2");
    for i in 0..500 {
        let v: i64 = con.get(format!("acked{i}")).unwrap();
        assert_eq!(v, i, "acknowledged write acked{i} survived kill -9");
    }
}

#[test]
fn redis_cli_and_redis_benchmark_work_against_inmem() {
    if !have("redis-cli") || !have("redis-benchmark") {
        return;
    }
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let port = server.port.to_string();
    let out = Command::new("sh")
        .args([
            "-c",
            &format!("printf 'SET a 1\\nGET a\\nINCR a\\n' | redis-cli -p {port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "OK\n1\n2\n");
    let out = Command::new("redis-benchmark")
        .args(["-p", &port, "-t", "set,get", "-n", "20000", "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SET:") && text.contains("GET:"), "{text}");
    let mut con = server.connect();
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert!(size >= 1, "benchmark keys were stored");
}

#[test]
fn server_and_inmem_commands_through_the_redis_crate() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut con = server.connect();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let echo: String = redis::cmd("ECHO").arg("hi").query(&mut con).unwrap();
    assert_eq!(echo, "hi");
    let _: () = redis::cmd("CLIENT")
        .arg("SETNAME")
        .arg("tester")
        .query(&mut con)
        .unwrap();
    let name: String = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, "tester");
    let _: () = con.set("user:1", "alice").unwrap();
    let _: () = con.set("user:2", "bob").unwrap();
    let _: () = con.set("order:1", "42").unwrap();
    // inmem's own commands keep their REPL meaning over RESP.
    let found: Vec<String> = redis::cmd("FIND")
        .arg("-k")
        .arg("-l")
        .arg("user:*")
        .query(&mut con)
        .unwrap();
    assert_eq!(found, vec!["user:1", "user:2"]);
    let size: i64 = redis::cmd("SIZE").query(&mut con).unwrap();
    assert_eq!(size, 3);
    let _: () = redis::cmd("PUT").arg("p").arg("v").query(&mut con).unwrap();
    let v: String = con.get("p").unwrap();
    assert_eq!(v, "v");
    let _: () = redis::cmd("USE").arg("app").query(&mut con).unwrap();
    let in_app: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(in_app, 0, "USE switched to the empty namespace 'app'");
    // RESET returns to namespace 0 and forgets the name.
    let reset: String = redis::cmd("RESET").query(&mut con).unwrap();
    assert_eq!(reset, "RESET");
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut con).unwrap();
    assert_eq!(name, None);
    let back: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(back, 4);
    // Types inmem does not have answer Redis's unknown-command error.
    let err = redis::cmd("HSET")
        .arg("h")
        .arg("f")
        .arg("v")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("unknown command 'HSET'"), "{err}");
    let info: String = redis::cmd("INFO").arg("keyspace").query(&mut con).unwrap();
    assert!(info.contains("db0:keys=4"), "{info}");
    let config: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("appendonly")
        .query(&mut con)
        .unwrap();
    assert_eq!(config, vec!["appendonly", "yes"]);
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(&mut con)
        .unwrap();
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(&mut con)
        .unwrap();
    assert!(
        !stats.contains("cmdstat_set"),
        "RESETSTAT cleared the command stats: {stats}"
    );
    let started: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    assert_eq!(started, "Background saving started");
    let started: String = redis::cmd("BGREWRITEAOF").query(&mut con).unwrap();
    assert_eq!(started, "Background append only file rewriting started");
    let (secs, micros): (String, String) = redis::cmd("TIME").query(&mut con).unwrap();
    assert!(secs.parse::<u64>().unwrap() > 1_600_000_000);
    assert!(micros.parse::<u32>().unwrap() < 1_000_000);
    let encoding: String = redis::cmd("OBJECT")
        .arg("ENCODING")
        .arg("user:1")
        .query(&mut con)
        .unwrap();
    assert_eq!(encoding, "embstr");
    let usage: i64 = redis::cmd("MEMORY")
        .arg("USAGE")
        .arg("user:1")
        .query(&mut con)
        .unwrap();
    assert!(usage >= "user:1alice".len() as i64);
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    assert!(count > 80, "COMMAND COUNT {count}");
    // The snapshot the background save wrote is there after a moment.
    let snapshot = dir.path().join("snapshot.db");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !snapshot.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(snapshot.exists(), "BGSAVE wrote snapshot.db");
}

#[test]
fn shutdown_answers_the_requests_before_it_then_exits_cleanly() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    let mut batch = Vec::new();
    for i in 0..100 {
        let key = format!("k{i}");
        batch.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len()).as_bytes(),
        );
    }
    batch.extend_from_slice(b"*1\r\n$8\r\nSHUTDOWN\r\n*1\r\n$4\r\nPING\r\n");
    raw.send(&batch);
    for _ in 0..100 {
        assert_eq!(raw.read(), simple("OK"));
    }
    assert!(raw.is_closed(), "nothing after SHUTDOWN is answered");
    assert!(server.wait().success());
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["DBSIZE"]), Frame::Integer(100));
}

#[test]
fn a_pipeline_shows_in_stats_at_once_and_every_command_reaches_the_log() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    // One write: the records of the keyspace commands are handed over in a
    // batch, yet INFO in the same batch counts them, and GET's hit and miss.
    let mut batch = Vec::new();
    batch.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$4\r\nseen\r\n$1\r\nv\r\n");
    batch.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$4\r\nseen\r\n");
    batch.extend_from_slice(b"*2\r\n$3\r\nget\r\n$6\r\nabsent\r\n");
    batch.extend_from_slice(b"*2\r\n$4\r\nINFO\r\n$12\r\ncommandstats\r\n");
    batch.extend_from_slice(b"*2\r\n$4\r\nINFO\r\n$5\r\nstats\r\n");
    raw.send(&batch);
    assert_eq!(raw.read(), simple("OK"));
    assert_eq!(raw.read(), bulk("v"));
    assert_eq!(raw.read(), Frame::Null);
    let Frame::Bulk(stats) = raw.read() else {
        panic!("INFO answers a bulk string");
    };
    let stats = String::from_utf8(stats).unwrap();
    assert!(stats.contains("cmdstat_set:calls=1,"), "{stats}");
    assert!(stats.contains("cmdstat_get:calls=2,"), "{stats}");
    let Frame::Bulk(info) = raw.read() else {
        panic!("INFO answers a bulk string");
    };
    let info = String::from_utf8(info).unwrap();
    assert!(info.contains("keyspace_hits:1\r\n"), "{info}");
    assert!(info.contains("keyspace_misses:1\r\n"), "{info}");
    // Many pipelined writes, then a clean stop: every one is in the command log.
    let mut batch = Vec::new();
    for i in 0..500 {
        let key = format!("log{i}");
        batch.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n", key.len()).as_bytes(),
        );
    }
    raw.send(&batch);
    for _ in 0..500 {
        assert_eq!(raw.read(), simple("OK"));
    }
    // While the server runs, the lines reach the file too, as `tail -f`
    // would see them (written by the server thread when it goes idle, or
    // pushed within a second).
    let path = dir.path().join("command.log");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&path).is_ok_and(|log| log.contains(" SET log499 ")) {
        assert!(
            Instant::now() < deadline,
            "the lines never reached the file"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(server.signal("TERM").success());
    let log = std::fs::read_to_string(&path).unwrap();
    for i in 0..500 {
        assert!(log.contains(&format!(" SET log{i} ")), "log{i} missing");
    }
    assert!(log.contains(" get absent\n"), "{log}");
}

/// Requests whose command-log lines and statistics a pipelined batch must
/// record as when they are sent one by one: GET hits and misses (the fast
/// path), wrong arity, errors from the engine, connection commands, a
/// transaction and another namespace.
const MIXED_REQUESTS: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["GET", "a"],
    &["get", "missing"],
    &["GET"],
    &["GET", "a", "extra"],
    &["INCR", "a"],
    &["GET", "a"],
    &["SET", "b", "x"],
    &["INCR", "b"],
    &["PING"],
    &["MULTI"],
    &["GET", "b"],
    &["GET", "nothing"],
    &["EXEC"],
    &["DEL", "a"],
    &["GET", "a"],
    &["SELECT", "1"],
    &["GET", "b"],
    &["SET", "c", "2"],
    &["GET", "c"],
    &["SELECT", "0"],
    &["GET", "b"],
    &["CONFIG", "SET", "max-keys", "2"],
    &["SET", "b", "replaced"],
    &["SET", "full", "v"],
    &["GET", "full"],
];

/// Sends [`MIXED_REQUESTS`] to a fresh server, all in one write or one at
/// a time, and returns the replies, INFO's per-command calls and keyspace
/// hits and misses, and the command log (timestamps and run times left out).
fn run_mixed_requests(pipelined: bool) -> (Vec<Frame>, Vec<String>, Vec<String>) {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    let encode = |args: &[&str]| {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        out
    };
    let mut replies = Vec::new();
    if pipelined {
        raw.send(
            &MIXED_REQUESTS
                .iter()
                .flat_map(|r| encode(r))
                .collect::<Vec<u8>>(),
        );
        replies.extend(MIXED_REQUESTS.iter().map(|_| raw.read()));
    } else {
        for request in MIXED_REQUESTS {
            raw.send(&encode(request));
            replies.push(raw.read());
        }
    }
    let mut stats = Vec::new();
    for section in ["commandstats", "stats"] {
        let Frame::Bulk(info) = raw.call(&["INFO", section]) else {
            panic!("INFO answers a bulk string");
        };
        let info = String::from_utf8(info).unwrap();
        stats.extend(info.lines().filter_map(|line| {
            let calls = line
                .strip_prefix("cmdstat_")
                .map(|l| l.split(",usec=").next());
            match calls {
                Some(calls) => calls.map(str::to_string),
                None => line.starts_with("keyspace_").then(|| line.to_string()),
            }
        }));
    }
    assert!(server.signal("TERM").success());
    let log = std::fs::read_to_string(dir.path().join("command.log")).unwrap();
    let lines = log
        .lines()
        .map(|line| {
            let mut words: Vec<&str> = line.split(' ').skip(1).collect();
            let elapsed = words.iter().position(|w| {
                w.strip_suffix("us")
                    .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            });
            words.remove(elapsed.expect("a run time in every line"));
            words.join(" ")
        })
        .collect();
    (replies, stats, lines)
}

#[test]
fn a_pipelined_batch_records_the_same_log_lines_and_stats_as_one_by_one() {
    let (replies, stats, lines) = run_mixed_requests(false);
    assert_eq!(replies[1], bulk("1"));
    assert_eq!(replies[2], Frame::Null);
    assert!(matches!(&replies[3], Frame::Error(e) if e.contains("wrong number")));
    assert!(stats.iter().any(|s| s == "get:calls=10"), "{stats:?}");
    assert!(
        lines.iter().any(|l| l == "ns=0 ok get missing"),
        "{lines:?}"
    );
    assert!(lines.iter().any(|l| l == "ns=1 ok GET c"), "{lines:?}");
    // Over the key limit (noeviction): SET without options fails as Redis's does.
    let over = &replies[MIXED_REQUESTS.len() - 2];
    assert!(
        matches!(over, Frame::Error(e) if e.starts_with("OOM")),
        "{over:?}"
    );
    assert_eq!(replies[MIXED_REQUESTS.len() - 3], simple("OK"));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("ns=0 err: ") && l.ends_with(" SET full <arguments hidden>")),
        "{lines:?}"
    );
    let pipelined = run_mixed_requests(true);
    assert_eq!(pipelined.0, replies);
    assert_eq!(pipelined.1, stats);
    assert_eq!(pipelined.2, lines);
}

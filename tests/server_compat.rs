//! Replies of `inmem serve` that a differential audit against redis-server
//! 7.0.15 found different, each checked here against the reply Redis gives.

mod support;

use inmem::server::resp::Frame;
use redis::Commands;
use support::{Raw, Server, bulk, dir, error, field, info, simple};

const WRONGPASS: &str = "WRONGPASS invalid username-password pair or user is disabled.";
const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn is_hello_map(frame: &Frame, proto: i64) -> bool {
    matches!(frame, Frame::Map(fields) if fields.contains(&(bulk("proto"), Frame::Integer(proto))))
}

#[test]
fn auth_without_a_password_accepts_the_default_user_as_redis_does() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    // The default user has nopass: any password is accepted for it.
    assert_eq!(raw.call(&["AUTH", "default", "anything"]), simple("OK"));
    assert_eq!(
        raw.call(&["AUTH", "anything"]),
        error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"
        )
    );
    assert_eq!(raw.call(&["AUTH", "other", "pass"]), error(WRONGPASS));
    assert_eq!(
        raw.call(&["AUTH", "a", "b", "c"]),
        error("ERR syntax error")
    );
    assert!(is_hello_map(
        &raw.call(&["HELLO", "3", "AUTH", "default", "x"]),
        3
    ));
    assert_eq!(
        raw.call(&["HELLO", "3", "AUTH", "other", "x"]),
        error(WRONGPASS)
    );
    // The option is quoted as sent.
    assert_eq!(
        raw.call(&["HELLO", "2", "AUTH"]),
        error("ERR Syntax error in HELLO option 'AUTH'")
    );
    assert_eq!(
        raw.call(&["HELLO", "2", "SetName"]),
        error("ERR Syntax error in HELLO option 'SetName'")
    );
    // The redis crate sends AUTH with a user name when the URL has one.
    let client =
        redis::Client::open(format!("redis://default:x@127.0.0.1:{}/", server.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = con.set("k", "v").unwrap();
    let value: String = con.get("k").unwrap();
    assert_eq!(value, "v");
}

#[test]
fn auth_with_requirepass_answers_each_form_as_redis_does() {
    let dir = dir();
    let server = Server::start(dir.path(), &["--requirepass", "sekret"]);
    let mut raw = server.raw();
    // Arity is checked before authentication.
    assert_eq!(
        raw.call(&["GET"]),
        error("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(raw.call(&["AUTH", "default", "x"]), error(WRONGPASS));
    assert_eq!(raw.call(&["AUTH", "other", "sekret"]), error(WRONGPASS));
    assert_eq!(
        raw.call(&["AUTH", "a", "b", "c"]),
        error("ERR syntax error")
    );
    assert_eq!(
        raw.call(&["EXEC"]),
        error("EXECABORT Transaction discarded because of: NOAUTH Authentication required.")
    );
    assert_eq!(
        raw.call(&["HELLO", "2"]),
        error(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time"
        )
    );
    // A bad option fails the whole HELLO before the credentials are tried.
    assert_eq!(
        raw.call(&["HELLO", "2", "AUTH", "default", "sekret", "BAD"]),
        error("ERR Syntax error in HELLO option 'BAD'")
    );
    assert_eq!(
        raw.call(&["PING"]),
        error("NOAUTH Authentication required.")
    );
    assert_eq!(raw.call(&["AUTH", "default", "sekret"]), simple("OK"));
    assert_eq!(raw.call(&["PING"]), simple("PONG"));
}

#[test]
fn refused_exec_discard_and_multi_inside_multi_as_redis_does() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    // A refused EXEC ends the transaction and says why.
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(raw.call(&["SET", "a", "1"]), simple("QUEUED"));
    assert_eq!(
        raw.call(&["EXEC", "x"]),
        error(
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
        )
    );
    assert_eq!(raw.call(&["PING"]), simple("PONG"), "no longer in MULTI");
    assert_eq!(raw.call(&["EXISTS", "a"]), Frame::Integer(0));
    // A refused DISCARD or MULTI flags the transaction, which stays open.
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(
        raw.call(&["DISCARD", "x"]),
        error("ERR wrong number of arguments for 'discard' command")
    );
    assert_eq!(raw.call(&["PING"]), simple("QUEUED"));
    assert_eq!(
        raw.call(&["MULTI", "x"]),
        error("ERR wrong number of arguments for 'multi' command")
    );
    assert_eq!(raw.call(&["EXEC"]), error(EXECABORT));
    // Outside MULTI a refused EXEC is worded the same way.
    assert_eq!(
        raw.call(&["EXEC", "x"]),
        error(
            "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
        )
    );
    // Nested MULTI and WATCH inside MULTI are refused without aborting.
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(
        raw.call(&["MULTI"]),
        error("ERR MULTI calls can not be nested")
    );
    assert_eq!(
        raw.call(&["WATCH", "a"]),
        error("ERR WATCH inside MULTI is not allowed")
    );
    assert_eq!(raw.call(&["SET", "a", "2"]), simple("QUEUED"));
    assert_eq!(raw.call(&["EXEC"]), Frame::Array(vec![simple("OK")]));
}

#[test]
fn no_multi_commands_are_refused_inside_multi_and_abort_exec() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    for command in [&["SHUTDOWN"][..], &["SHUTDOWN", "NOSAVE"], &["SAVE"]] {
        assert_eq!(raw.call(&["MULTI"]), simple("OK"));
        assert_eq!(raw.call(&["SET", "a", "1"]), simple("QUEUED"));
        assert_eq!(
            raw.call(command),
            error("ERR Command not allowed inside a transaction"),
            "{command:?}"
        );
        assert_eq!(raw.call(&["EXEC"]), error(EXECABORT));
    }
    // The server is still up and nothing ran.
    assert_eq!(server.raw().call(&["EXISTS", "a"]), Frame::Integer(0));
}

#[test]
fn over_maxmemory_multi_refuses_to_queue_and_exec_aborts() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SET", "a", "1"]), simple("OK"));
    assert_eq!(raw.call(&["CONFIG", "SET", "maxmemory", "1"]), simple("OK"));
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(raw.call(&["SET", "f", "1"]), error(OOM));
    assert_eq!(
        raw.call(&["GET", "a"]),
        error(OOM),
        "every command, in MULTI"
    );
    assert_eq!(raw.call(&["EXEC"]), error(EXECABORT));
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(raw.call(&["PING"]), error(OOM));
    assert_eq!(raw.call(&["DISCARD"]), simple("OK"));
    // Outside MULTI reads still work.
    assert_eq!(raw.call(&["GET", "a"]), bulk("1"));
    assert_eq!(raw.call(&["CONFIG", "SET", "maxmemory", "0"]), simple("OK"));
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(raw.call(&["SET", "f", "1"]), simple("QUEUED"));
    assert_eq!(raw.call(&["EXEC"]), Frame::Array(vec![simple("OK")]));
    // Memory running out after queueing: EXEC of a write is refused, with
    // the reason, and the transaction is gone.
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(raw.call(&["SET", "g", "1"]), simple("QUEUED"));
    let mut other = server.raw();
    assert_eq!(
        other.call(&["CONFIG", "SET", "maxmemory", "1"]),
        simple("OK")
    );
    assert_eq!(
        raw.call(&["EXEC"]),
        error(&format!(
            "EXECABORT Transaction discarded because of: {OOM}"
        ))
    );
    assert_eq!(raw.call(&["EXISTS", "g"]), Frame::Integer(0));
    // A read-only transaction is not refused at EXEC.
    assert_eq!(
        other.call(&["CONFIG", "SET", "maxmemory", "0"]),
        simple("OK")
    );
    assert_eq!(raw.call(&["MULTI"]), simple("OK"));
    assert_eq!(raw.call(&["GET", "a"]), simple("QUEUED"));
    assert_eq!(
        other.call(&["CONFIG", "SET", "maxmemory", "1"]),
        simple("OK")
    );
    assert_eq!(raw.call(&["EXEC"]), Frame::Array(vec![bulk("1")]));
}

/// Sends each command without waiting for replies.
fn send_all(raw: &mut Raw, commands: &[&[&str]]) {
    for command in commands {
        let args: Vec<&[u8]> = command.iter().map(|a| a.as_bytes()).collect();
        raw.command(&args);
    }
}

#[test]
fn client_reply_off_and_skip_drop_replies_as_redis_does() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    // OFF: nothing at all (errors included) until ON, which answers OK.
    send_all(
        &mut raw,
        &[
            &["CLIENT", "REPLY", "OFF"],
            &["PING"],
            &["NOSUCH"],
            &["GET"],
            &["SET", "k", "v"],
            &["GET", "k"],
            &["CLIENT", "REPLY", "SKIP"],
            &["CLIENT", "REPLY", "ON"],
            &["PING", "after-on"],
        ],
    );
    assert_eq!(raw.read(), simple("OK"));
    assert_eq!(raw.read(), bulk("after-on"));
    // SKIP: its own reply and the next one are dropped.
    send_all(
        &mut raw,
        &[
            &["CLIENT", "REPLY", "SKIP"],
            &["GET", "k"],
            &["PING", "a"],
            &["CLIENT", "REPLY", "SKIP"],
            &["CLIENT", "REPLY", "SKIP"],
            &["PING", "b"],
            &["PING", "c"],
            &["CLIENT", "REPLY", "SKIP"],
            &["CLIENT", "REPLY", "ON"],
            &["PING", "d"],
        ],
    );
    assert_eq!(raw.read(), bulk("a"));
    assert_eq!(raw.read(), bulk("c"));
    assert_eq!(raw.read(), simple("OK"));
    assert_eq!(raw.read(), bulk("d"));
    // RESET turns replies back on, unless SKIP silenced it.
    send_all(
        &mut raw,
        &[
            &["CLIENT", "REPLY", "OFF"],
            &["RESET"],
            &["CLIENT", "REPLY", "SKIP"],
            &["RESET"],
            &["PING", "e"],
        ],
    );
    assert_eq!(raw.read(), simple("RESET"));
    assert_eq!(raw.read(), bulk("e"));
    // SKIP run by EXEC: the EXEC reply is sent (Redis sends it too), the
    // next one is dropped.
    send_all(
        &mut raw,
        &[
            &["MULTI"],
            &["CLIENT", "REPLY", "SKIP"],
            &["SET", "k", "v"],
            &["EXEC"],
            &["PING", "f"],
            &["PING", "g"],
        ],
    );
    assert_eq!(raw.read(), simple("OK"));
    assert_eq!(raw.read(), simple("QUEUED"));
    assert_eq!(raw.read(), simple("QUEUED"));
    assert_eq!(raw.read(), Frame::Array(vec![Frame::Null, simple("OK")]));
    assert_eq!(raw.read(), bulk("g"));
    // The writes made while silent happened.
    assert_eq!(raw.call(&["GET", "k"]), bulk("v"));
}

#[test]
fn client_reply_no_evict_and_no_touch_check_their_argument() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    for sub in ["REPLY", "NO-EVICT", "NO-TOUCH"] {
        assert_eq!(
            raw.call(&["CLIENT", sub, "maybe"]),
            error("ERR syntax error"),
            "{sub}"
        );
        assert_eq!(
            raw.call(&["CLIENT", sub]),
            error(&format!(
                "ERR wrong number of arguments for 'client|{}' command",
                sub.to_ascii_lowercase()
            ))
        );
    }
    assert_eq!(raw.call(&["CLIENT", "NO-EVICT", "on"]), simple("OK"));
    assert_eq!(raw.call(&["CLIENT", "NO-EVICT", "OFF"]), simple("OK"));
    assert_eq!(raw.call(&["CLIENT", "REPLY", "on"]), simple("OK"));
}

/// COMMAND INFO's ACL categories of `name`.
fn categories(raw: &mut Raw, name: &str) -> Vec<String> {
    match raw.call(&["COMMAND", "INFO", name]) {
        Frame::Array(rows) => match rows.first() {
            Some(Frame::Array(row)) => match row.get(6) {
                Some(Frame::Array(cats) | Frame::Set(cats)) => cats
                    .iter()
                    .map(|c| match c {
                        Frame::Simple(text) => text.clone(),
                        other => panic!("category {other:?}"),
                    })
                    .collect(),
                other => panic!("categories {other:?}"),
            },
            other => panic!("row {other:?}"),
        },
        other => panic!("COMMAND INFO answered {other:?}"),
    }
}

#[test]
fn command_info_lists_redis_acl_categories() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    // Each as redis-server 7.0.15 lists it.
    let expected: &[(&str, &[&str])] = &[
        ("get", &["@read", "@string", "@fast"]),
        ("set", &["@write", "@string", "@slow"]),
        ("append", &["@write", "@string", "@fast"]),
        ("setbit", &["@write", "@bitmap", "@slow"]),
        ("bitcount", &["@read", "@bitmap", "@slow"]),
        ("del", &["@keyspace", "@write", "@slow"]),
        ("expire", &["@keyspace", "@write", "@fast"]),
        ("keys", &["@keyspace", "@read", "@slow", "@dangerous"]),
        ("flushall", &["@keyspace", "@write", "@slow", "@dangerous"]),
        ("swapdb", &["@keyspace", "@write", "@fast", "@dangerous"]),
        ("dbsize", &["@keyspace", "@read", "@fast"]),
        ("ping", &["@fast", "@connection"]),
        ("auth", &["@fast", "@connection"]),
        ("command", &["@slow", "@connection"]),
        ("multi", &["@fast", "@transaction"]),
        ("exec", &["@slow", "@transaction"]),
        ("shutdown", &["@admin", "@slow", "@dangerous"]),
        ("lastsave", &["@admin", "@fast", "@dangerous"]),
        ("info", &["@slow", "@dangerous"]),
        ("time", &["@fast"]),
        ("client", &["@slow"]),
        ("object", &["@slow"]),
    ];
    for (name, cats) in expected {
        assert_eq!(categories(&mut raw, name), *cats, "{name}");
    }
}

#[test]
fn command_subcommands_check_arity_and_filter_as_redis_does() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(
        raw.call(&["COMMAND", "COUNT", "x"]),
        error("ERR wrong number of arguments for 'command|count' command")
    );
    for call in [
        &["COMMAND", "GETKEYS", "get"][..],
        &["COMMAND", "GETKEYS", "ping"],
    ] {
        assert_eq!(
            raw.call(call),
            error("ERR wrong number of arguments for 'command|getkeys' command")
        );
    }
    assert_eq!(
        raw.call(&["COMMAND", "GETKEYS", "ping", "x"]),
        error("ERR The command has no key arguments")
    );
    assert_eq!(
        raw.call(&["COMMAND", "GETKEYS", "get", "a", "b"]),
        error("ERR Invalid number of arguments specified for command")
    );
    assert_eq!(
        raw.call(&["COMMAND", "GETKEYS", "nosuch", "a"]),
        error("ERR Invalid command specified")
    );
    assert_eq!(
        raw.call(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        Frame::Array(vec![bulk("a"), bulk("b")])
    );
    let names = |frame: Frame| -> Vec<String> {
        match frame {
            Frame::Array(items) => {
                let mut names: Vec<String> = items
                    .into_iter()
                    .map(|f| match f {
                        Frame::Bulk(b) => String::from_utf8(b).unwrap(),
                        other => panic!("name {other:?}"),
                    })
                    .collect();
                names.sort();
                names
            }
            other => panic!("COMMAND LIST answered {other:?}"),
        }
    };
    assert_eq!(
        names(raw.call(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "GET*"])),
        ["get", "getbit", "getdel", "getex", "getrange", "getset"]
    );
    assert_eq!(
        names(raw.call(&["COMMAND", "LIST", "filterby", "aclcat", "TRANSACTION"])),
        ["discard", "exec", "multi", "unwatch", "watch"]
    );
    assert_eq!(
        raw.call(&["COMMAND", "LIST", "FILTERBY", "MODULE", "x"]),
        Frame::Array(vec![])
    );
    for call in [
        &["COMMAND", "LIST", "x"][..],
        &["COMMAND", "LIST", "FILTERBY"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN"],
        &["COMMAND", "LIST", "FILTERBY", "PATTERN", "x", "y"],
        &["COMMAND", "LIST", "FILTERBY", "FOO", "x"],
    ] {
        assert_eq!(raw.call(call), error("ERR syntax error"), "{call:?}");
    }
    match raw.call(&["COMMAND", "HELP"]) {
        Frame::Array(lines) => assert_eq!(
            lines.first(),
            Some(&simple(
                "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
            ))
        ),
        other => panic!("COMMAND HELP answered {other:?}"),
    }
    assert_eq!(
        raw.call(&["COMMAND", "HELP", "x"]),
        error("ERR wrong number of arguments for 'command|help' command")
    );
}

#[test]
fn unknown_subcommands_are_quoted_as_sent() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    for command in ["CLIENT", "OBJECT", "CONFIG", "MEMORY", "COMMAND"] {
        assert_eq!(
            raw.call(&[command, "FoO"]),
            error(&format!(
                "ERR unknown subcommand 'FoO'. Try {command} HELP."
            )),
        );
    }
}

#[test]
fn client_list_names_subcommands_in_full() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut other = server.raw();
    assert_eq!(other.call(&["CLIENT", "SETNAME", "other"]), simple("OK"));
    assert!(matches!(
        other.call(&["CONFIG", "GET", "maxmemory"]),
        Frame::Array(_)
    ));
    let mut raw = server.raw();
    let listing = match raw.call(&["CLIENT", "LIST"]) {
        Frame::Bulk(text) | Frame::Verbatim { text, .. } => String::from_utf8(text).unwrap(),
        other => panic!("CLIENT LIST answered {other:?}"),
    };
    let line = |name: &str| {
        listing
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} in {listing}"))
            .to_string()
    };
    assert!(
        line("name=other ").contains(" cmd=config|get "),
        "{listing}"
    );
    assert!(line("name= ").contains(" cmd=client|list "), "{listing}");
}

#[test]
fn unknown_command_quotes_arguments_up_to_redis_limit() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    let words: Vec<String> = std::iter::once("FOO".to_string())
        .chain((0..60).map(|i| format!("arg{i}")))
        .collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    // As redis-server 7.0.15 answers: 128 bytes of quoted arguments, the
    // last one cut short.
    assert_eq!(
        raw.call(&words),
        error(
            "ERR unknown command 'FOO', with args beginning with: 'arg0' 'arg1' 'arg2' 'arg3' 'arg4' 'arg5' 'arg6' 'arg7' 'arg8' 'arg9' 'arg10' 'arg11' 'arg12' 'arg13' 'arg14' 'arg15' 'arg16' 'ar' "
        )
    );
    raw.command(&[b"FOO", b"a\x00b"]);
    assert_eq!(
        raw.read(),
        error("ERR unknown command 'FOO', with args beginning with: 'a' ")
    );
}

/// INFO's keyspace hits and misses, as `(hits, misses)`.
fn hits_and_misses(raw: &mut Raw) -> (u64, u64) {
    let (_, fields) = info(raw, &["stats"]);
    let count = |name| field(&fields, name).trim().parse().unwrap();
    (count("keyspace_hits"), count("keyspace_misses"))
}

#[test]
fn every_read_of_a_key_counts_a_hit_or_a_miss_as_redis_counts_it() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(raw.call(&["SET", "a", "hello"]), simple("OK"));
    assert_eq!(raw.call(&["CONFIG", "RESETSTAT"]), simple("OK"));
    // Each command, and the counts after it, as redis-server 7.0.15 gave
    // them (reads count each key they look up; writes count nothing).
    let expected: &[(&[&str], (u64, u64))] = &[
        (&["EXISTS", "a", "nokey"], (1, 1)),
        (&["TTL", "nokey"], (1, 2)),
        (&["PTTL", "a"], (2, 2)),
        (&["TYPE", "a"], (3, 2)),
        (&["STRLEN", "a"], (4, 2)),
        (&["GETRANGE", "a", "0", "1"], (5, 2)),
        (&["MGET", "a", "nokey", "a"], (7, 3)),
        (&["LCS", "a", "nokey"], (8, 4)),
        (&["GETBIT", "a", "3"], (9, 4)),
        (&["BITCOUNT", "a"], (10, 4)),
        (&["BITPOS", "a", "1"], (11, 4)),
        (&["GETEX", "a"], (12, 4)),
        (&["SET", "a", "world", "GET"], (13, 4)),
        (&["GET", "nokey"], (13, 5)),
        (&["INCR", "n"], (13, 5)),
        (&["APPEND", "a", "x"], (13, 5)),
        (&["SETRANGE", "a", "0", "y"], (13, 5)),
        (&["SETNX", "a", "z"], (13, 5)),
        (&["GETDEL", "nokey"], (13, 6)),
        (&["EXPIRE", "a", "100"], (13, 6)),
        (&["PERSIST", "a"], (13, 6)),
    ];
    for (command, counts) in expected {
        raw.call(command);
        assert_eq!(hits_and_misses(&mut raw), *counts, "after {command:?}");
    }
}

#[test]
fn role_and_wait_answer_as_a_master_without_replicas() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(
        raw.call(&["ROLE"]),
        Frame::Array(vec![
            bulk("master"),
            Frame::Integer(0),
            Frame::Array(vec![])
        ])
    );
    assert_eq!(
        raw.call(&["ROLE", "x"]),
        error("ERR wrong number of arguments for 'role' command")
    );
    assert_eq!(raw.call(&["WAIT", "0", "0"]), Frame::Integer(0));
    // No replica will ever acknowledge: answered at once, not after the timeout.
    let started = std::time::Instant::now();
    assert_eq!(raw.call(&["WAIT", "1", "60000"]), Frame::Integer(0));
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(
        raw.call(&["WAIT", "a", "0"]),
        error("ERR value is not an integer or out of range")
    );
    assert_eq!(
        raw.call(&["WAIT", "0", "a"]),
        error("ERR timeout is not an integer or out of range")
    );
    assert_eq!(
        raw.call(&["WAIT", "0", "-1"]),
        error("ERR timeout is negative")
    );
    // The redis crate's view of ROLE.
    let mut con = server.connect();
    let role: (String, i64, Vec<String>) = redis::cmd("ROLE").query(&mut con).unwrap();
    assert_eq!(role, ("master".to_string(), 0, vec![]));
}

#[test]
fn cluster_commands_answer_that_cluster_support_is_disabled() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    let disabled = error("ERR This instance has cluster support disabled");
    for command in [
        &["CLUSTER", "INFO"][..],
        &["CLUSTER", "slots"],
        &["CLUSTER", "KEYSLOT", "k"],
        &["CLUSTER", "MEET", "127.0.0.1", "7000"],
        &["READONLY"],
        &["READWRITE"],
    ] {
        assert_eq!(raw.call(command), disabled, "{command:?}");
    }
    assert_eq!(
        raw.call(&["CLUSTER", "INFO", "x"]),
        error("ERR wrong number of arguments for 'cluster|info' command")
    );
    assert_eq!(
        raw.call(&["CLUSTER", "MEET", "a"]),
        error("ERR wrong number of arguments for 'cluster|meet' command")
    );
    assert_eq!(
        raw.call(&["CLUSTER", "FoO"]),
        error("ERR unknown subcommand 'FoO'. Try CLUSTER HELP.")
    );
    assert_eq!(
        raw.call(&["READONLY", "x"]),
        error("ERR wrong number of arguments for 'readonly' command")
    );
}

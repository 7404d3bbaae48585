//! Server administration over RESP (CLIENT KILL and LIST filters, SHUTDOWN,
//! BGSAVE, MEMORY, OBJECT, CONFIG, INFO), checked against the replies
//! redis-server 7.0 gives to the same requests.

mod support;

use inmem::server::resp::Frame;
use support::{Server, dir, error, field, info, simple, text};

fn id_of(raw: &mut support::Raw) -> i64 {
    match raw.call(&["CLIENT", "ID"]) {
        Frame::Integer(id) => id,
        other => panic!("CLIENT ID answered {other:?}"),
    }
}

/// The ids at the start of CLIENT LIST lines.
fn listed_ids(list: &str) -> Vec<i64> {
    list.lines()
        .map(|line| {
            let id = line
                .strip_prefix("id=")
                .and_then(|rest| rest.split(' ').next())
                .unwrap_or_else(|| panic!("bad line {line}"));
            id.parse().expect("numeric id")
        })
        .collect()
}

#[test]
fn client_kill_filters_spare_the_caller_and_refuse_bad_values() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut me = server.raw();
    let mut other = server.raw();
    let my_id = id_of(&mut me);
    let other_id = id_of(&mut other);
    for (args, answer) in [
        (
            vec!["CLIENT", "KILL", "TYPE", "foo"],
            error("ERR Unknown client type 'foo'"),
        ),
        (
            vec!["CLIENT", "KILL", "USER", "nobody"],
            error("ERR No such user 'nobody'"),
        ),
        (
            vec!["CLIENT", "KILL", "SKIPME", "maybe"],
            error("ERR syntax error"),
        ),
        (
            vec!["CLIENT", "KILL", "MAXAGE", "10"],
            error("ERR syntax error"),
        ),
        (
            vec!["CLIENT", "KILL", "ID", "1", "TYPE"],
            error("ERR syntax error"),
        ),
        (
            vec!["CLIENT", "KILL", "ID", "0"],
            error("ERR client-id should be greater than 0"),
        ),
        (
            vec!["CLIENT", "KILL", "ID", "abc"],
            error("ERR client-id should be greater than 0"),
        ),
        (vec!["CLIENT", "KILL", "ID"], error("ERR No such client")),
        (vec!["CLIENT", "KILL", "TYPE", "master"], Frame::Integer(0)),
        (vec!["CLIENT", "KILL", "TYPE", "replica"], Frame::Integer(0)),
        (vec!["CLIENT", "KILL", "TYPE", "slave"], Frame::Integer(0)),
        (vec!["CLIENT", "KILL", "TYPE", "pubsub"], Frame::Integer(0)),
        (
            vec!["CLIENT", "KILL", "ID", &my_id.to_string()],
            Frame::Integer(0),
        ),
        (
            vec!["CLIENT", "KILL", "SKIPME", "yes", "ID", &my_id.to_string()],
            Frame::Integer(0),
        ),
    ] {
        assert_eq!(me.call(&args), answer, "{args:?}");
        assert_eq!(other.call(&["PING"]), simple("PONG"), "{args:?}");
    }
    assert_eq!(me.call(&["PING"]), simple("PONG"));
    // The new form spares the caller by default: only the other one goes.
    assert_eq!(
        me.call(&["CLIENT", "KILL", "TYPE", "Normal", "USER", "default"]),
        Frame::Integer(1)
    );
    assert!(other.is_closed());
    assert_eq!(me.call(&["PING"]), simple("PONG"));
    let mut third = server.raw();
    let third_id = id_of(&mut third);
    assert_ne!(third_id, other_id);
    // SKIPME no counts and closes the caller too, after its reply.
    assert_eq!(
        me.call(&["CLIENT", "KILL", "SKIPME", "no"]),
        Frame::Integer(2)
    );
    assert!(third.is_closed());
    assert!(me.is_closed());
}

#[test]
fn client_kill_old_form_closes_the_caller_after_ok() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut me = server.raw();
    let Frame::Bulk(info) = me.call(&["CLIENT", "INFO"]) else {
        panic!("CLIENT INFO is a bulk string");
    };
    let info = String::from_utf8(info).unwrap();
    let addr = info
        .split(' ')
        .find_map(|field| field.strip_prefix("addr="))
        .expect("addr field")
        .to_string();
    assert_eq!(me.call(&["CLIENT", "KILL", &addr]), simple("OK"));
    assert!(me.is_closed());
}

#[test]
fn client_list_filters_by_type_and_id() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut me = server.raw();
    let mut other = server.raw();
    let my_id = id_of(&mut me);
    let other_id = id_of(&mut other);
    let all = listed_ids(&text(me.call(&["CLIENT", "LIST"])));
    assert_eq!(all, vec![my_id, other_id]);
    assert_eq!(
        listed_ids(&text(me.call(&["CLIENT", "LIST", "TYPE", "normal"]))),
        vec![my_id, other_id]
    );
    assert_eq!(text(me.call(&["CLIENT", "LIST", "TYPE", "pubsub"])), "");
    assert_eq!(text(me.call(&["CLIENT", "LIST", "TYPE", "MASTER"])), "");
    assert_eq!(
        listed_ids(&text(me.call(&[
            "CLIENT",
            "LIST",
            "ID",
            &other_id.to_string(),
            "99999",
            "-5",
            &my_id.to_string()
        ]))),
        vec![other_id, my_id]
    );
    for (args, answer) in [
        (vec!["CLIENT", "LIST", "x"], "ERR syntax error"),
        (vec!["CLIENT", "LIST", "TYPE"], "ERR syntax error"),
        (vec!["CLIENT", "LIST", "ID"], "ERR syntax error"),
        (
            vec!["CLIENT", "LIST", "TYPE", "normal", "x"],
            "ERR syntax error",
        ),
        (
            vec!["CLIENT", "LIST", "TYPE", "foo"],
            "ERR Unknown client type 'foo'",
        ),
        (
            vec!["CLIENT", "LIST", "ID", "1", "abc"],
            "ERR Invalid client ID",
        ),
    ] {
        assert_eq!(me.call(&args), error(answer), "{args:?}");
    }
}

#[test]
fn shutdown_bgsave_and_memory_usage_refuse_bad_arguments() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    raw.call(&["SET", "a", "1"]);
    for (args, answer) in [
        (vec!["SHUTDOWN", "NOSAVE", "SAVE"], "ERR syntax error"),
        (vec!["SHUTDOWN", "save", "nosave"], "ERR syntax error"),
        (vec!["SHUTDOWN", "ABORT", "NOW"], "ERR syntax error"),
        (vec!["SHUTDOWN", "NOSAVE", "ABORT"], "ERR syntax error"),
        (vec!["SHUTDOWN", "foo"], "ERR syntax error"),
        (vec!["SHUTDOWN", "ABORT"], "ERR No shutdown in progress."),
        (vec!["BGSAVE", "x"], "ERR syntax error"),
        (vec!["BGSAVE", "SCHEDULE", "x"], "ERR syntax error"),
        (
            vec!["MEMORY", "USAGE"],
            "ERR wrong number of arguments for 'memory|usage' command",
        ),
        (vec!["MEMORY", "USAGE", "a", "SAMPLES"], "ERR syntax error"),
        (
            vec!["MEMORY", "USAGE", "a", "SAMPLES", "-1"],
            "ERR syntax error",
        ),
        (
            vec!["MEMORY", "USAGE", "a", "SAMPLES", "x"],
            "ERR value is not an integer or out of range",
        ),
        (vec!["MEMORY", "USAGE", "a", "b"], "ERR syntax error"),
    ] {
        assert_eq!(raw.call(&args), error(answer), "{args:?}");
    }
    assert!(matches!(
        raw.call(&["MEMORY", "USAGE", "a", "SAMPLES", "0", "samples", "9"]),
        Frame::Integer(n) if n > 2
    ));
    assert_eq!(
        raw.call(&["BGSAVE", "schedule"]),
        simple("Background saving started")
    );
    // Still running after all the refused SHUTDOWNs.
    assert_eq!(raw.call(&["PING"]), simple("PONG"));
    raw.command(&[b"SHUTDOWN", b"NOSAVE", b"NOW", b"FORCE"]);
    assert!(raw.is_closed());
    assert!(server.wait().success());
}

/// A `CONFIG GET` answer as name/value pairs (RESP2 sends a flat array).
fn config_get(raw: &mut support::Raw, names: &[&str]) -> Vec<(String, String)> {
    let mut args = vec!["CONFIG", "GET"];
    args.extend_from_slice(names);
    let Frame::Array(items) = raw.call(&args) else {
        panic!("CONFIG GET answers an array");
    };
    items
        .chunks(2)
        .map(|pair| (text(pair[0].clone()), text(pair[1].clone())))
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

#[test]
fn config_set_applies_or_refuses_every_parameter_it_shows() {
    let dir = dir();
    let server = Server::start(dir.path(), &["--snapshot-interval", "0"]);
    let mut raw = server.raw();
    let failed = |name: &str, why: &str| {
        error(&format!(
            "ERR CONFIG SET failed (possibly related to argument '{name}') - {why}"
        ))
    };
    for (args, answer) in [
        (
            vec!["CONFIG", "SET", "Maxmemory", "1", "maxmemory", "2"],
            failed("maxmemory", "duplicate parameter"),
        ),
        (
            vec!["CONFIG", "SET", "MAXMEMORY", "1", "MAXMEMORY", "2"],
            failed("MAXMEMORY", "duplicate parameter"),
        ),
        (
            vec!["CONFIG", "SET", "MAXMEMORY", "abc"],
            failed("maxmemory", "argument must be a memory value"),
        ),
        (
            vec!["CONFIG", "SET", "maxmemory", "-1"],
            failed("maxmemory", "argument must be a memory value"),
        ),
        (
            vec!["CONFIG", "SET", "maxmemory", "abc", "nosuch", "2"],
            error("ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"),
        ),
        (
            vec!["CONFIG", "SET", "maxmemory", "1", "port", "abc"],
            failed("port", "argument couldn't be parsed into an integer"),
        ),
        (
            vec!["CONFIG", "SET", "databases", "4"],
            failed("databases", "can't set immutable config"),
        ),
        (
            vec!["CONFIG", "SET", "dir", "/tmp"],
            failed("dir", "can't set protected config"),
        ),
        (
            vec!["CONFIG", "SET", "maxclients", "0"],
            failed(
                "maxclients",
                "argument must be between 1 and 4294967295 inclusive",
            ),
        ),
        (
            vec!["CONFIG", "SET", "appendonly", "maybe"],
            failed("appendonly", "argument must be 'yes' or 'no'"),
        ),
        (
            vec!["CONFIG", "SET", "appendfsync", "foo"],
            failed(
                "appendfsync",
                "argument(s) must be one of the following: everysec, always, no",
            ),
        ),
        (
            vec!["CONFIG", "SET", "maxmemory-policy", "foo"],
            failed(
                "maxmemory-policy",
                "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction",
            ),
        ),
        (
            vec!["CONFIG", "SET", "notify-keyspace-events", "Q"],
            failed(
                "notify-keyspace-events",
                "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.",
            ),
        ),
        (
            vec!["CONFIG", "SET", "save", "60"],
            failed("save", "Invalid save parameters"),
        ),
        (
            vec!["CONFIG", "SET", "timeout", "-1"],
            failed(
                "timeout",
                "argument must be between 0 and 2147483647 inclusive",
            ),
        ),
        (
            vec!["CONFIG", "SET", "hz", "-5"],
            failed("hz", "argument must be between 0 and 2147483647 inclusive"),
        ),
        // An alias is named as used, in lower case.
        (
            vec!["CONFIG", "SET", "SLAVE-read-only", "maybe"],
            failed("slave-read-only", "argument must be 'yes' or 'no'"),
        ),
        // A bad value after a good one: the good one does not apply either.
        (
            vec!["CONFIG", "SET", "maxmemory", "1", "eviction", "bogus"],
            failed(
                "eviction",
                "inmem has no bogus eviction; it offers noeviction, allkeys-lru, volatile-lru, allkeys-random, volatile-ttl",
            ),
        ),
        (
            vec![
                "CONFIG",
                "SET",
                "max-keys",
                "1",
                "latency-tracking",
                "maybe",
            ],
            failed("latency-tracking", "argument must be 'yes' or 'no'"),
        ),
    ] {
        assert_eq!(raw.call(&args), answer, "{args:?}");
    }
    // Nothing of a refused CONFIG SET took effect.
    assert_eq!(
        config_get(&mut raw, &["maxmemory", "max-keys", "eviction"]),
        pairs(&[
            ("maxmemory", "0"),
            ("max-keys", "0"),
            ("eviction", "noeviction")
        ])
    );
    // Every parameter CONFIG GET shows is one CONFIG SET knows: set to the
    // value shown, it is accepted or refused for a reason, never unknown.
    for (name, value) in config_get(&mut raw, &["*"]) {
        let answer = raw.call(&["CONFIG", "SET", &name, &value]);
        if let Frame::Error(message) = &answer {
            assert!(
                message.starts_with(&format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - "
                )),
                "CONFIG SET {name} {value}: {message}"
            );
        } else {
            assert_eq!(answer, simple("OK"), "CONFIG SET {name} {value}");
        }
    }
    // What inmem does anyway is accepted...
    for (name, value) in [
        ("appendonly", "yes"),
        ("timeout", "0"),
        ("notify-keyspace-events", ""),
        ("save", ""),
        ("appendfsync", "everysec"),
        ("maxmemory-samples", "5"),
        ("slave-read-only", "yes"),
        ("hz", "10"),
    ] {
        assert_eq!(
            raw.call(&["CONFIG", "SET", name, value]),
            simple("OK"),
            "{name}"
        );
    }
    // ... and anything else is refused with what inmem does instead.
    for (name, value) in [
        ("appendonly", "no"),
        ("timeout", "10"),
        ("notify-keyspace-events", "KEA"),
        ("save", "900 1"),
        ("appendfsync", "always"),
        ("maxmemory-samples", "10"),
        ("replica-read-only", "no"),
        ("maxmemory-policy", "allkeys-lfu"),
        ("maxmemory-policy", "volatile-random"),
        ("requirepass", "secret"),
    ] {
        let Frame::Error(message) = raw.call(&["CONFIG", "SET", name, value]) else {
            panic!("CONFIG SET {name} {value} was not refused");
        };
        assert!(
            message.starts_with(&format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - inmem "
            )),
            "{message}"
        );
    }
    assert_eq!(raw.call(&["PING"]), simple("PONG"), "no password was set");
    // Settings inmem has take effect, several at once.
    assert_eq!(
        raw.call(&[
            "CONFIG",
            "SET",
            "maxmemory",
            "1kb",
            "maxmemory-policy",
            "ALLKEYS-RANDOM",
            "maxclients",
            "2"
        ]),
        simple("OK")
    );
    assert_eq!(
        config_get(&mut raw, &["maxmemory", "maxmemory-policy", "maxclients"]),
        pairs(&[
            ("maxmemory", "1024"),
            ("maxmemory-policy", "allkeys-random"),
            ("maxclients", "2")
        ])
    );
    let mut second = server.raw();
    assert_eq!(second.call(&["PING"]), simple("PONG"));
    let mut third = server.raw();
    assert_eq!(third.read(), error("ERR max number of clients reached"));
    let Frame::Bulk(info) = raw.call(&["INFO", "clients"]) else {
        panic!("INFO is a bulk string");
    };
    assert!(
        String::from_utf8(info)
            .unwrap()
            .contains("maxclients:2\r\n")
    );
}

#[test]
fn config_get_echoes_plain_names_and_shows_what_tools_ask_for() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    assert_eq!(
        config_get(&mut raw, &["MaxMemory", "maxmemory", "Hz"]),
        pairs(&[("MaxMemory", "0"), ("Hz", "10")])
    );
    assert_eq!(
        config_get(
            &mut raw,
            &[
                "cluster-enabled",
                "replica-read-only",
                "notify-keyspace-events"
            ]
        ),
        pairs(&[
            ("cluster-enabled", "no"),
            ("replica-read-only", "yes"),
            ("notify-keyspace-events", "")
        ])
    );
    assert_eq!(
        config_get(&mut raw, &["*READ-ONLY"]),
        pairs(&[("replica-read-only", "yes"), ("slave-read-only", "yes")])
    );
    assert_eq!(
        raw.call(&["CONFIG", "REWRITE"]),
        error("ERR The server is running without a config file")
    );
}

/// The lines of a HELP reply, which Redis sends as status strings.
fn help_lines(frame: Frame) -> Vec<String> {
    let Frame::Array(lines) = frame else {
        panic!("HELP answers an array, got {frame:?}");
    };
    lines
        .into_iter()
        .map(|line| match line {
            Frame::Simple(text) => text,
            other => panic!("a help line is a status string, got {other:?}"),
        })
        .collect()
}

#[test]
fn help_and_unknown_subcommands_answer_as_redis_does() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    for (command, subcommands) in [
        ("CONFIG", vec!["GET", "SET", "RESETSTAT", "REWRITE"]),
        ("OBJECT", vec!["ENCODING", "FREQ", "IDLETIME", "REFCOUNT"]),
        ("MEMORY", vec!["USAGE"]),
        (
            "CLIENT",
            vec![
                "GETNAME", "ID", "INFO", "KILL", "LIST", "NO-EVICT", "NO-TOUCH", "REPLY",
                "SETINFO", "SETNAME",
            ],
        ),
    ] {
        let lines = help_lines(raw.call(&[command, "HELP"]));
        assert_eq!(
            lines[0],
            format!("{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        );
        assert_eq!(lines[lines.len() - 2..], ["HELP", "    Prints this help."]);
        for sub in subcommands {
            assert!(
                lines.iter().any(|l| l.starts_with(sub)),
                "{command} HELP lacks {sub}"
            );
        }
        let lower = command.to_ascii_lowercase();
        assert_eq!(
            raw.call(&[command, "help", "x"]),
            error(&format!(
                "ERR wrong number of arguments for '{lower}|help' command"
            ))
        );
        assert_eq!(
            raw.call(&[command, "FOO", "a", "b"]),
            error(&format!(
                "ERR unknown subcommand 'FOO'. Try {command} HELP."
            ))
        );
        assert_eq!(
            raw.call(&[command, "Foo"]),
            error(&format!(
                "ERR unknown subcommand 'Foo'. Try {command} HELP."
            ))
        );
    }
}

#[test]
fn info_has_replication_and_cluster_sections_in_redis_order() {
    let dir = dir();
    let server = Server::start(dir.path(), &[]);
    let mut raw = server.raw();
    for db in ["10", "2", "0"] {
        assert_eq!(raw.call(&["SELECT", db]), simple("OK"));
        assert_eq!(raw.call(&["SET", "k", "v"]), simple("OK"));
    }
    let (headings, fields) = info(&mut raw, &[]);
    assert_eq!(
        headings,
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "Cluster",
            "Keyspace"
        ]
    );
    let run_id = field(&fields, "run_id");
    assert!(
        run_id.len() == 40 && run_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{run_id}"
    );
    assert_eq!(field(&fields, "hz"), "10");
    assert_eq!(field(&fields, "role"), "master");
    assert_eq!(field(&fields, "connected_slaves"), "0");
    assert_eq!(field(&fields, "master_failover_state"), "no-failover");
    assert_eq!(field(&fields, "master_repl_offset"), "0");
    assert_eq!(field(&fields, "master_replid").len(), 40);
    assert_ne!(field(&fields, "master_replid"), run_id);
    assert_eq!(field(&fields, "cluster_enabled"), "0");
    assert_eq!(field(&fields, "mem_allocator"), "mimalloc");
    let dbs: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k.starts_with("db"))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(dbs, ["db0", "db2", "db10"]);
    let (headings, _) = info(&mut raw, &["all"]);
    assert_eq!(
        headings[headings.len() - 4..],
        ["Replication", "Commandstats", "Cluster", "Keyspace"]
    );
    let (headings, fields) = info(&mut raw, &["REPLICATION"]);
    assert_eq!(headings, ["Replication"]);
    assert_eq!(field(&fields, "second_repl_offset"), "-1");
    let (_, again) = info(&mut raw, &["server"]);
    assert_eq!(field(&again, "run_id"), run_id, "one id per server run");
}

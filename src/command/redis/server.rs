//! Redis's connection, server and transaction commands, which the RESP
//! front-end answers itself (they need the connection's state).

use super::RedisSpec;

/// A row without key arguments.
const fn row(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    group: &'static str,
    syntax: &'static str,
    summary: &'static str,
) -> RedisSpec {
    RedisSpec::row(name, arity, flags, (0, 0, 0), group, syntax, summary)
}

const CONN: &[&str] = &[
    "noscript",
    "loading",
    "stale",
    "fast",
    "no_auth",
    "allow_busy",
];
const FAST: &[&str] = &["loading", "stale", "fast"];
const ADMIN: &[&str] = &["admin", "noscript", "no_async_loading"];
/// A command whose subcommands carry the flags: Redis lists none for it.
const CONTAINER: &[&str] = &[];
const TX: &[&str] = &["noscript", "loading", "stale", "fast", "allow_busy"];

/// The connection, server and transaction commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[
    row(
        "ping",
        -1,
        &["fast"],
        "connection",
        "[message]",
        "Answers PONG, or echoes the message.",
    ),
    row(
        "echo",
        2,
        FAST,
        "connection",
        "message",
        "Answers the message.",
    ),
    row(
        "quit",
        -1,
        CONN,
        "connection",
        "",
        "Closes the connection after answering OK.",
    ),
    row(
        "hello",
        -1,
        CONN,
        "connection",
        "[protover [AUTH username password] [SETNAME clientname]]",
        "Picks RESP2 or RESP3, optionally authenticates and names the connection; answers server facts.",
    ),
    row(
        "auth",
        -2,
        CONN,
        "connection",
        "[username] password",
        "Authenticates the connection.",
    ),
    row(
        "select",
        2,
        FAST,
        "connection",
        "index",
        "Switches to the namespace named by the index.",
    ),
    row(
        "client",
        -2,
        CONTAINER,
        "connection",
        "ID | SETNAME name | GETNAME | LIST | INFO | KILL ...",
        "Names, lists, describes or closes connections.",
    ),
    row(
        "command",
        -1,
        &["loading", "stale"],
        "server",
        "[COUNT | LIST | INFO [name ...] | DOCS [name ...] | GETKEYS command [arg ...]]",
        "Describes the commands this server understands.",
    ),
    row(
        "reset",
        1,
        CONN,
        "connection",
        "",
        "Returns the connection to its initial state.",
    ),
    row(
        "info",
        -1,
        &["loading", "stale"],
        "server",
        "[section ...]",
        "Reports server, clients, memory, persistence, stats, keyspace and commandstats.",
    ),
    row(
        "config",
        -2,
        CONTAINER,
        "server",
        "GET parameter [parameter ...] | SET parameter value | RESETSTAT",
        "Reads or changes settings, or zeroes the statistics.",
    ),
    row(
        "save",
        1,
        &["admin", "noscript", "no_async_loading", "no_multi"],
        "server",
        "",
        "Writes snapshot.db now and waits for it.",
    ),
    row(
        "bgsave",
        -1,
        ADMIN,
        "server",
        "[SCHEDULE]",
        "Writes snapshot.db in the background.",
    ),
    row(
        "bgrewriteaof",
        1,
        ADMIN,
        "server",
        "",
        "Compacts the log in the background (a snapshot that drops the records it covers).",
    ),
    row(
        "lastsave",
        1,
        FAST,
        "server",
        "",
        "Unix time of the last successful snapshot.",
    ),
    row(
        "role",
        1,
        &["noscript", "loading", "stale", "fast"],
        "server",
        "",
        "The server's part in replication: always a master with no replicas.",
    ),
    row(
        "wait",
        3,
        &["noscript"],
        "generic",
        "numreplicas timeout",
        "Replicas that acknowledged the connection's writes: 0 at once, as inmem has no replicas.",
    ),
    row(
        "cluster",
        -2,
        CONTAINER,
        "cluster",
        "subcommand [argument ...]",
        "Cluster commands: inmem is not a cluster, so each answers that cluster support is disabled.",
    ),
    row(
        "readonly",
        1,
        FAST,
        "cluster",
        "",
        "Cluster replica reads: answers that cluster support is disabled.",
    ),
    row(
        "readwrite",
        1,
        FAST,
        "cluster",
        "",
        "Ends cluster replica reads: answers that cluster support is disabled.",
    ),
    row(
        "time",
        1,
        FAST,
        "server",
        "",
        "The server's time: seconds and microseconds.",
    ),
    row(
        "shutdown",
        -1,
        &[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "allow_busy",
        ],
        "server",
        "[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]",
        "Stops accepting, finishes replies in flight, flushes the log and exits.",
    ),
    RedisSpec {
        first_key: 2,
        last_key: 2,
        step: 1,
        ..row(
            "object",
            -2,
            CONTAINER,
            "generic",
            "ENCODING key | FREQ key | IDLETIME key | REFCOUNT key",
            "Describes how a key's value is held, and the seconds since it was last used.",
        )
    },
    RedisSpec {
        first_key: 2,
        last_key: 2,
        step: 1,
        ..row(
            "memory",
            -2,
            CONTAINER,
            "server",
            "USAGE key [SAMPLES count]",
            "Estimated bytes a key and its value take.",
        )
    },
    row(
        "multi",
        1,
        TX,
        "transactions",
        "",
        "Starts queueing commands for EXEC.",
    ),
    row(
        "exec",
        1,
        &["noscript", "loading", "stale", "skip_slowlog"],
        "transactions",
        "",
        "Runs the queued commands atomically.",
    ),
    row(
        "discard",
        1,
        TX,
        "transactions",
        "",
        "Drops the queued commands.",
    ),
    RedisSpec {
        first_key: 1,
        last_key: -1,
        step: 1,
        ..row(
            "watch",
            -2,
            TX,
            "transactions",
            "key [key ...]",
            "Makes the next EXEC fail if any of these keys change.",
        )
    },
    row(
        "unwatch",
        1,
        TX,
        "transactions",
        "",
        "Forgets every watched key.",
    ),
];

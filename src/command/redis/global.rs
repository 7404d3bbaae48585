//! Redis commands that may span namespaces: MOVE, COPY, SWAPDB, FLUSHALL.
//!
//! Redis's numbered databases are inmem's namespaces: database `n` is the
//! namespace named by the decimal index `n` (`"0"` is the default namespace).

use super::{RedisSpec, parse_int};
use crate::command::Command;
use crate::error::CommandError;

/// How many numbered databases the Redis commands address (indexes
/// `0..DATABASES`), as Redis's default `databases 16`. inmem's namespaces
/// themselves are unbounded; only the Redis dialect is limited.
pub const DATABASES: i64 = 16;

/// The cross-namespace commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[
    RedisSpec {
        name: "move",
        arity: 3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        group: "generic",
        syntax: "key db",
        summary: "Move a key to another database, unless it is there already.",
    },
    RedisSpec {
        name: "copy",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 2,
        step: 1,
        group: "generic",
        syntax: "source destination [DB destination-db] [REPLACE]",
        summary: "Copy a key's value and time to live to another key, in this or another database.",
    },
    RedisSpec {
        name: "swapdb",
        arity: 3,
        flags: &["write", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "server",
        syntax: "index1 index2",
        summary: "Exchange the contents of two databases.",
    },
    RedisSpec {
        name: "flushall",
        arity: -1,
        flags: &["write"],
        first_key: 0,
        last_key: 0,
        step: 0,
        group: "server",
        syntax: "[ASYNC | SYNC]",
        summary: "Delete every key of every database.",
    },
];

/// An operation that may span namespaces. Databases are already resolved to
/// namespace names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalOp {
    /// MOVE: move a key of the current namespace to `to` (only if it is absent there).
    Move {
        /// The key.
        key: Vec<u8>,
        /// The destination namespace.
        to: String,
    },
    /// COPY: copy a key, with its time to live, to a key of the current or another namespace.
    Copy {
        /// The key copied.
        source: Vec<u8>,
        /// The key written.
        destination: Vec<u8>,
        /// The destination namespace; `None` is the current one.
        to: Option<String>,
        /// Overwrite an existing destination.
        replace: bool,
    },
    /// SWAPDB: exchange the contents of two namespaces.
    Swap(String, String),
    /// FLUSHALL: remove every key of every namespace.
    FlushAll,
}

impl GlobalOp {
    /// True when the operation may create a key (so it needs room under a limit).
    pub fn may_add_key(&self) -> bool {
        matches!(self, GlobalOp::Copy { .. })
    }
}

/// The namespace of Redis database `index`, or Redis's error for an index
/// that is not an integer (`value is not an integer or out of range`), is
/// outside the 32-bit range, or is not below [`DATABASES`]
/// (`DB index is out of range`). SELECT, MOVE and COPY use these rules.
pub fn db_namespace(index: &[u8]) -> Result<String, CommandError> {
    let n = canonical_int(index)?;
    if i32::try_from(n).is_err() {
        return Err(CommandError::IntOutOfRange);
    }
    namespace_in_range(n)
}

/// An integer in Redis's strict form: no sign but `-`, no leading zeros, no `-0`.
fn canonical_int(bytes: &[u8]) -> Result<i64, CommandError> {
    parse_int(bytes)
        .ok()
        .filter(|n| n.to_string().as_bytes() == bytes)
        .ok_or(CommandError::NotAnInteger)
}

fn namespace_in_range(n: i64) -> Result<String, CommandError> {
    if (0..DATABASES).contains(&n) {
        Ok(n.to_string())
    } else {
        Err(CommandError::DbIndexOutOfRange)
    }
}

/// SWAPDB's index: any unreadable index is `invalid <which> DB index`.
fn swap_index(index: &[u8], which: &'static str) -> Result<String, CommandError> {
    let n = canonical_int(index)
        .ok()
        .filter(|n| i32::try_from(*n).is_ok())
        .ok_or(CommandError::InvalidDbIndex(which))?;
    namespace_in_range(n)
}

/// Redis's `syntax error`.
fn syntax_error() -> CommandError {
    CommandError::BadArgument("syntax error".into())
}

/// Builds a cross-namespace command from its arguments (arity already checked).
pub fn build(spec: &'static RedisSpec, args: &[Vec<u8>]) -> Result<Command, CommandError> {
    let op = match (spec.name, args) {
        ("move", [key, db]) => GlobalOp::Move {
            key: key.clone(),
            to: db_namespace(db)?,
        },
        ("copy", [source, destination, options @ ..]) => {
            let mut to = None;
            let mut replace = false;
            let mut rest = options.iter();
            // Options are read left to right; the first bad one is reported.
            while let Some(word) = rest.next() {
                if word.eq_ignore_ascii_case(b"replace") {
                    replace = true;
                } else if word.eq_ignore_ascii_case(b"db") {
                    let db = rest.next().ok_or_else(syntax_error)?;
                    to = Some(db_namespace(db)?);
                } else {
                    return Err(syntax_error());
                }
            }
            GlobalOp::Copy {
                source: source.clone(),
                destination: destination.clone(),
                to,
                replace,
            }
        }
        ("swapdb", [first, second]) => {
            GlobalOp::Swap(swap_index(first, "first")?, swap_index(second, "second")?)
        }
        ("flushall", []) => GlobalOp::FlushAll,
        ("flushall", [mode])
            if mode.eq_ignore_ascii_case(b"sync") || mode.eq_ignore_ascii_case(b"async") =>
        {
            GlobalOp::FlushAll
        }
        ("flushall", _) => return Err(syntax_error()),
        _ => return Err(CommandError::RedisArity(spec.name)),
    };
    Ok(Command::Global(op))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::redis::lookup;

    fn run(words: &[&str]) -> Result<GlobalOp, String> {
        let spec = lookup(words[0].as_bytes()).ok_or("unknown")?;
        if !spec.accepts(words.len()) {
            return Err(CommandError::RedisArity(spec.name).to_string());
        }
        let args: Vec<Vec<u8>> = words[1..].iter().map(|w| w.as_bytes().to_vec()).collect();
        match build(spec, &args) {
            Ok(Command::Global(op)) => Ok(op),
            Ok(other) => Err(format!("not a global op: {other:?}")),
            Err(e) => Err(e.to_string()),
        }
    }

    fn copy(to: Option<&str>, replace: bool) -> GlobalOp {
        GlobalOp::Copy {
            source: b"a".to_vec(),
            destination: b"b".to_vec(),
            to: to.map(String::from),
            replace,
        }
    }

    #[test]
    fn move_resolves_the_database_with_redis_errors() {
        assert_eq!(
            run(&["MOVE", "k", "15"]),
            Ok(GlobalOp::Move {
                key: b"k".to_vec(),
                to: "15".into()
            })
        );
        // Error texts as redis-server 7.0.15 sends them (after "ERR ").
        let range = "DB index is out of range";
        assert_eq!(run(&["move", "k", "16"]), Err(range.into()));
        assert_eq!(run(&["move", "k", "-1"]), Err(range.into()));
        let not_int = "value is not an integer or out of range";
        assert_eq!(run(&["move", "k", "x"]), Err(not_int.into()));
        assert_eq!(run(&["move", "k", "1.5"]), Err(not_int.into()));
        assert_eq!(
            run(&["move", "k", "99999999999999999999"]),
            Err(not_int.into())
        );
        assert_eq!(
            run(&["move", "k", "99999999999999"]),
            Err("value is out of range, value must between -2147483648 and 2147483647".into())
        );
        assert_eq!(
            run(&["move", "k"]),
            Err("wrong number of arguments for 'move' command".into())
        );
    }

    #[test]
    fn copy_reads_options_left_to_right() {
        assert_eq!(run(&["copy", "a", "b"]), Ok(copy(None, false)));
        assert_eq!(
            run(&["copy", "a", "b", "db", "3", "REPLACE"]),
            Ok(copy(Some("3"), true))
        );
        assert_eq!(
            run(&["copy", "a", "b", "replace", "replace", "DB", "1", "db", "2"]),
            Ok(copy(Some("2"), true))
        );
        assert_eq!(run(&["copy", "a", "b", "foo"]), Err("syntax error".into()));
        assert_eq!(run(&["copy", "a", "b", "db"]), Err("syntax error".into()));
        assert_eq!(
            run(&["copy", "a", "b", "db", "16"]),
            Err("DB index is out of range".into())
        );
        assert_eq!(
            run(&["copy", "a", "b", "db", "x"]),
            Err("value is not an integer or out of range".into())
        );
        // The first problem met is the one reported.
        assert_eq!(
            run(&["copy", "a", "b", "db", "16", "foo"]),
            Err("DB index is out of range".into())
        );
        assert_eq!(
            run(&["copy", "a", "b", "foo", "db", "16"]),
            Err("syntax error".into())
        );
    }

    #[test]
    fn swapdb_names_the_bad_index() {
        assert_eq!(
            run(&["swapdb", "0", "15"]),
            Ok(GlobalOp::Swap("0".into(), "15".into()))
        );
        assert_eq!(
            run(&["swapdb", "x", "0"]),
            Err("invalid first DB index".into())
        );
        assert_eq!(
            run(&["swapdb", "0", "x"]),
            Err("invalid second DB index".into())
        );
        assert_eq!(
            run(&["swapdb", "99999999999999", "0"]),
            Err("invalid first DB index".into())
        );
        assert_eq!(
            run(&["swapdb", "0", "16"]),
            Err("DB index is out of range".into())
        );
        assert_eq!(
            run(&["swapdb", "0", "-1"]),
            Err("DB index is out of range".into())
        );
    }

    #[test]
    fn flushall_takes_one_optional_mode() {
        assert_eq!(run(&["flushall"]), Ok(GlobalOp::FlushAll));
        assert_eq!(run(&["FLUSHALL", "Async"]), Ok(GlobalOp::FlushAll));
        assert_eq!(run(&["flushall", "sync"]), Ok(GlobalOp::FlushAll));
        assert_eq!(run(&["flushall", "foo"]), Err("syntax error".into()));
        assert_eq!(
            run(&["flushall", "sync", "async"]),
            Err("syntax error".into())
        );
    }

    #[test]
    fn table_rows_match_redis_command_info() {
        let info = |name: &str| {
            let s = lookup(name.as_bytes()).unwrap();
            (s.arity, s.flags, s.first_key, s.last_key, s.step, s.group)
        };
        // As `COMMAND INFO` of redis-server 7.0.15 lists them.
        assert_eq!(
            info("move"),
            (3, &["write", "fast"][..], 1, 1, 1, "generic")
        );
        assert_eq!(
            info("copy"),
            (-3, &["write", "denyoom"][..], 1, 2, 1, "generic")
        );
        assert_eq!(
            info("swapdb"),
            (3, &["write", "fast"][..], 0, 0, 0, "server")
        );
        assert_eq!(info("flushall"), (-1, &["write"][..], 0, 0, 0, "server"));
        assert!(COMMANDS.iter().all(|s| s.writes() && !s.summary.is_empty()));
    }

    #[test]
    fn db_namespace_is_the_decimal_index() {
        assert_eq!(db_namespace(b"0"), Ok("0".into()));
        assert_eq!(db_namespace(b"9"), Ok("9".into()));
        // redis-server 7.0.15 refuses these for SELECT: not an integer.
        for bad in [&b"-0"[..], b"007", b"01", b"+1", b" 1", b""] {
            assert_eq!(
                db_namespace(bad),
                Err(CommandError::NotAnInteger),
                "{bad:?}"
            );
        }
        assert_eq!(
            run(&["swapdb", "01", "0"]),
            Err("invalid first DB index".into())
        );
    }
}

//! Redis's generic key commands within one namespace: DEL, UNLINK, EXISTS,
//! TYPE, KEYS, SCAN, RANDOMKEY, RENAME, RENAMENX, the EXPIRE and TTL families,
//! PERSIST, DBSIZE and FLUSHDB.
//!
//! Building checks everything Redis checks before it looks at the keyspace,
//! in Redis's order, so the first error a client sees is Redis's. Checks that
//! need the current time (an expiry overflowing past it) are the executor's.

use super::{RedisSpec, parse_int};
use crate::command::{Command, Op};
use crate::error::CommandError;
use std::cmp::Ordering;

/// A row of the table: one key range, group `generic` unless given.
const fn row(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    syntax: &'static str,
    summary: &'static str,
) -> RedisSpec {
    RedisSpec::row(name, arity, flags, keys, "generic", syntax, summary)
}

const NONE: (i32, i32, i32) = (0, 0, 0);
const ONE: (i32, i32, i32) = (1, 1, 1);
const ALL: (i32, i32, i32) = (1, -1, 1);
const TWO: (i32, i32, i32) = (1, 2, 1);
const W: &[&str] = &["write"];
const WF: &[&str] = &["write", "fast"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];

/// The key commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[
    row(
        "del",
        -2,
        W,
        ALL,
        "key [key ...]",
        "Deletes keys; answers how many existed.",
    ),
    row(
        "unlink",
        -2,
        WF,
        ALL,
        "key [key ...]",
        "Deletes keys like DEL; answers how many existed.",
    ),
    row(
        "exists",
        -2,
        RF,
        ALL,
        "key [key ...]",
        "Counts the named keys that exist, a repeated name once per mention.",
    ),
    row(
        "type",
        2,
        RF,
        ONE,
        "key",
        "Names the type of a key's value, or none for a missing key.",
    ),
    row(
        "keys",
        2,
        R,
        NONE,
        "pattern",
        "Lists every key matching a glob pattern, sorted.",
    ),
    row(
        "scan",
        -2,
        R,
        NONE,
        "cursor [MATCH pattern] [COUNT count] [TYPE type]",
        "Walks the keys a few at a time; answers the next cursor and a batch of keys.",
    ),
    row(
        "randomkey",
        1,
        R,
        NONE,
        "",
        "Answers a key picked at random, or nil when there is none.",
    ),
    row(
        "rename",
        3,
        W,
        TWO,
        "key newkey",
        "Gives a key a new name, replacing any key already called so.",
    ),
    row(
        "renamenx",
        3,
        WF,
        TWO,
        "key newkey",
        "Gives a key a new name only if that name is free.",
    ),
    row(
        "expire",
        -3,
        WF,
        ONE,
        "key seconds [NX | XX | GT | LT]",
        "Sets a key to expire in some seconds.",
    ),
    row(
        "pexpire",
        -3,
        WF,
        ONE,
        "key milliseconds [NX | XX | GT | LT]",
        "Sets a key to expire in some milliseconds.",
    ),
    row(
        "expireat",
        -3,
        WF,
        ONE,
        "key unix-time-seconds [NX | XX | GT | LT]",
        "Sets a key to expire at a Unix time in seconds.",
    ),
    row(
        "pexpireat",
        -3,
        WF,
        ONE,
        "key unix-time-milliseconds [NX | XX | GT | LT]",
        "Sets a key to expire at a Unix time in milliseconds.",
    ),
    row(
        "ttl",
        2,
        RF,
        ONE,
        "key",
        "Seconds a key has left to live; -1 without expiry, -2 when missing.",
    ),
    row(
        "pttl",
        2,
        RF,
        ONE,
        "key",
        "Milliseconds a key has left to live; -1 without expiry, -2 when missing.",
    ),
    row(
        "expiretime",
        2,
        RF,
        ONE,
        "key",
        "The Unix time in seconds at which a key expires; -1 without expiry, -2 when missing.",
    ),
    row(
        "pexpiretime",
        2,
        RF,
        ONE,
        "key",
        "The Unix time in milliseconds at which a key expires; -1 without expiry, -2 when missing.",
    ),
    row(
        "persist",
        2,
        WF,
        ONE,
        "key",
        "Removes a key's expiry; answers whether it had one.",
    ),
    RedisSpec {
        group: "server",
        ..row(
            "dbsize",
            1,
            RF,
            NONE,
            "",
            "Counts the keys of the current namespace.",
        )
    },
    RedisSpec {
        group: "server",
        ..row(
            "flushdb",
            -1,
            W,
            NONE,
            "[ASYNC | SYNC]",
            "Deletes every key of the current namespace.",
        )
    },
];

/// A key operation on one namespace.
#[derive(Debug, Clone)]
pub enum KeyOp {
    /// DEL and UNLINK: deletes keys, answers how many existed (a repeated name once).
    Del(Vec<Vec<u8>>),
    /// EXISTS: how many of the names exist, a repeated name counted each time.
    Exists(Vec<Vec<u8>>),
    /// TYPE: `string` or `none`.
    Type(Vec<u8>),
    /// KEYS: every live key matching a glob, sorted.
    Keys(Vec<u8>),
    /// SCAN: one step of a cursor walk.
    Scan(Scan),
    /// RANDOMKEY: a live key picked at random.
    RandomKey,
    /// RENAME and RENAMENX.
    Rename {
        /// The key renamed.
        from: Vec<u8>,
        /// Its new name.
        to: Vec<u8>,
        /// RENAMENX: only when `to` does not exist.
        nx: bool,
    },
    /// The EXPIRE family.
    Expire(Expire),
    /// TTL, PTTL, EXPIRETIME and PEXPIRETIME.
    Ttl {
        /// The key.
        key: Vec<u8>,
        /// Answer in milliseconds rather than seconds.
        millis: bool,
        /// Answer the Unix deadline rather than the time left.
        absolute: bool,
    },
    /// PERSIST: removes a key's expiry.
    Persist(Vec<u8>),
    /// DBSIZE: live keys of the namespace.
    DbSize,
    /// FLUSHDB: deletes every key of the namespace.
    FlushDb,
}

/// SCAN's arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// Where the walk resumes; 0 starts it.
    pub cursor: u64,
    /// MATCH: only keys matching this glob are answered (`*` is dropped).
    pub pattern: Option<Vec<u8>>,
    /// COUNT: about how many keys to examine (at least 1; Redis's default is 10).
    pub count: usize,
    /// TYPE: only keys whose value has this type (any case) are answered.
    pub kind: Option<Vec<u8>>,
}

/// An EXPIRE-family command with its options checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expire {
    /// The command's name, for its error message.
    pub command: &'static str,
    /// The key.
    pub key: Vec<u8>,
    /// The time argument as given.
    pub when: i64,
    /// `when` is in seconds (EXPIRE, EXPIREAT) rather than milliseconds.
    pub seconds: bool,
    /// `when` is relative to now (EXPIRE, PEXPIRE) rather than a Unix time.
    pub relative: bool,
    /// NX (`Some(false)`): only a key without expiry; XX (`Some(true)`): only one with.
    pub has_expiry: Option<bool>,
    /// GT (`Greater`) or LT (`Less`): how the new deadline must compare with the
    /// current one. A key without expiry counts as expiring never.
    pub compare: Option<Ordering>,
}

impl KeyOp {
    /// The single key the operation reads or writes, if it has exactly one.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            KeyOp::Del(keys) | KeyOp::Exists(keys) => match keys.as_slice() {
                [key] => Some(key),
                _ => None,
            },
            KeyOp::Type(key) | KeyOp::Persist(key) | KeyOp::Ttl { key, .. } => Some(key),
            KeyOp::Expire(expire) => Some(&expire.key),
            KeyOp::Keys(_)
            | KeyOp::Scan(_)
            | KeyOp::RandomKey
            | KeyOp::Rename { .. }
            | KeyOp::DbSize
            | KeyOp::FlushDb => None,
        }
    }

    /// True when the operation may create a key. None does: RENAME creates
    /// its new name only by removing the old one.
    pub fn may_add_key(&self) -> bool {
        false
    }

    /// Calls `f` with each key the operation reads, as Redis counts them
    /// in its keyspace hits and misses (EXISTS, TYPE and the TTL family).
    pub fn for_each_read_key(&self, mut f: impl FnMut(&[u8])) {
        match self {
            KeyOp::Exists(keys) => keys.iter().for_each(|key| f(key)),
            KeyOp::Type(key) | KeyOp::Ttl { key, .. } => f(key),
            KeyOp::Del(_)
            | KeyOp::Keys(_)
            | KeyOp::Scan(_)
            | KeyOp::RandomKey
            | KeyOp::Rename { .. }
            | KeyOp::Expire(_)
            | KeyOp::Persist(_)
            | KeyOp::DbSize
            | KeyOp::FlushDb => {}
        }
    }

    /// True when the operation may change the keyspace.
    pub fn writes(&self) -> bool {
        matches!(
            self,
            KeyOp::Del(_)
                | KeyOp::Rename { .. }
                | KeyOp::Expire(_)
                | KeyOp::Persist(_)
                | KeyOp::FlushDb
        )
    }
}

/// Builds a key command from its arguments (the name excluded).
pub fn build(spec: &'static RedisSpec, args: &[Vec<u8>]) -> Result<Command, CommandError> {
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or(CommandError::RedisArity(spec.name))
    };
    if !spec.accepts(args.len() + 1) {
        return Err(CommandError::RedisArity(spec.name));
    }
    let op = match spec.name {
        "del" | "unlink" => KeyOp::Del(args.to_vec()),
        "exists" => KeyOp::Exists(args.to_vec()),
        "type" => KeyOp::Type(arg(0)?),
        "keys" => KeyOp::Keys(arg(0)?),
        "scan" => KeyOp::Scan(scan(args)?),
        "randomkey" => KeyOp::RandomKey,
        "rename" | "renamenx" => KeyOp::Rename {
            from: arg(0)?,
            to: arg(1)?,
            nx: spec.name == "renamenx",
        },
        "expire" | "pexpire" | "expireat" | "pexpireat" => KeyOp::Expire(expire(spec, args)?),
        "ttl" | "pttl" | "expiretime" | "pexpiretime" => KeyOp::Ttl {
            key: arg(0)?,
            millis: spec.name.starts_with('p'),
            absolute: spec.name.ends_with("time"),
        },
        "persist" => KeyOp::Persist(arg(0)?),
        "dbsize" => KeyOp::DbSize,
        "flushdb" => match args {
            [] => KeyOp::FlushDb,
            [mode] if mode.eq_ignore_ascii_case(b"async") || mode.eq_ignore_ascii_case(b"sync") => {
                KeyOp::FlushDb
            }
            _ => return Err(CommandError::Syntax),
        },
        other => return Err(CommandError::UnknownCommand(other.to_string())),
    };
    Ok(Command::Op(Op::Key(op)))
}

/// SCAN's default COUNT, as Redis's.
const DEFAULT_COUNT: usize = 10;

fn scan(args: &[Vec<u8>]) -> Result<Scan, CommandError> {
    let (cursor, options) = args.split_first().ok_or(CommandError::RedisArity("scan"))?;
    let mut scan = Scan {
        cursor: parse_cursor(cursor)?,
        pattern: None,
        count: DEFAULT_COUNT,
        kind: None,
    };
    // Options come in pairs; a later one overrides an earlier one, as in Redis.
    let mut rest = options;
    while let [name, value, tail @ ..] = rest {
        if name.eq_ignore_ascii_case(b"count") {
            let count = parse_int(value)?;
            if count < 1 {
                return Err(CommandError::Syntax);
            }
            scan.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else if name.eq_ignore_ascii_case(b"match") {
            scan.pattern = (value.as_slice() != b"*").then(|| value.clone());
        } else if name.eq_ignore_ascii_case(b"type") {
            scan.kind = Some(value.clone());
        } else {
            return Err(CommandError::Syntax);
        }
        rest = tail;
    }
    if !rest.is_empty() {
        return Err(CommandError::Syntax);
    }
    Ok(scan)
}

/// A SCAN cursor as C's `strtoul` reads it, which is what Redis accepts: an
/// optional sign and decimal digits (a minus wraps around), or nothing at all
/// for 0; no spaces, nothing after, nothing past 64 bits.
fn parse_cursor(bytes: &[u8]) -> Result<u64, CommandError> {
    if bytes.is_empty() {
        return Ok(0);
    }
    let (negative, digits) = match bytes {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CommandError::InvalidCursor);
    }
    let value = std::str::from_utf8(digits)
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or(CommandError::InvalidCursor)?;
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// The EXPIRE family: options are checked before the time, as Redis does.
fn expire(spec: &'static RedisSpec, args: &[Vec<u8>]) -> Result<Expire, CommandError> {
    let [key, when, options @ ..] = args else {
        return Err(CommandError::RedisArity(spec.name));
    };
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for option in options {
        let flag = match option.to_ascii_lowercase().as_slice() {
            b"nx" => &mut nx,
            b"xx" => &mut xx,
            b"gt" => &mut gt,
            b"lt" => &mut lt,
            _ => {
                return Err(CommandError::UnsupportedOption(
                    String::from_utf8_lossy(option).into_owned(),
                ));
            }
        };
        *flag = true;
    }
    if nx && (xx || gt || lt) {
        return Err(CommandError::ExpireNxWithOthers);
    }
    if gt && lt {
        return Err(CommandError::ExpireGtWithLt);
    }
    Ok(Expire {
        command: spec.name,
        key: key.clone(),
        when: parse_int(when)?,
        seconds: !spec.name.starts_with('p'),
        relative: !spec.name.ends_with("at"),
        has_expiry: if nx {
            Some(false)
        } else if xx {
            Some(true)
        } else {
            None
        },
        compare: if gt {
            Some(Ordering::Greater)
        } else if lt {
            Some(Ordering::Less)
        } else {
            None
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<u8>> {
        text.split_whitespace()
            .map(|w| w.as_bytes().to_vec())
            .collect()
    }

    fn spec(name: &str) -> &'static RedisSpec {
        COMMANDS.iter().find(|s| s.name == name).unwrap()
    }

    fn key_op(name: &str, args: &str) -> Result<KeyOp, CommandError> {
        match build(spec(name), &words(args))? {
            Command::Op(Op::Key(op)) => Ok(op),
            other => panic!("{name} built {other:?}"),
        }
    }

    #[test]
    fn every_row_builds_from_its_smallest_call() {
        for spec in COMMANDS {
            let n = spec.arity.unsigned_abs() as usize - 1;
            // Numeric arguments where the family needs them, names elsewhere.
            let args: Vec<Vec<u8>> = (0..n)
                .map(|i| {
                    if i == 1 && spec.name.contains("expire") || spec.name == "scan" {
                        b"0".to_vec()
                    } else {
                        format!("k{i}").into_bytes()
                    }
                })
                .collect();
            let built = build(spec, &args);
            assert!(
                matches!(built, Ok(Command::Op(Op::Key(_)))),
                "{}: {built:?}",
                spec.name
            );
            assert_eq!(
                build(spec, &args[..n.saturating_sub(1)]).is_err(),
                n > 0,
                "{} with too few arguments",
                spec.name
            );
            let group = if matches!(spec.name, "dbsize" | "flushdb") {
                "server"
            } else {
                "generic"
            };
            assert_eq!(spec.group, group, "{}", spec.name);
            assert!(
                spec.flags.contains(&"write") != spec.flags.contains(&"readonly"),
                "{}",
                spec.name
            );
        }
        assert_eq!(COMMANDS.len(), 20);
    }

    #[test]
    fn table_flags_agree_with_the_ops() {
        for spec in COMMANDS {
            let n = spec.arity.unsigned_abs() as usize - 1;
            let args = vec![b"1".to_vec(); n];
            let Ok(Command::Op(op)) = build(spec, &args) else {
                panic!("{} did not build", spec.name);
            };
            assert_eq!(op.writes(), spec.writes(), "{}", spec.name);
            assert!(!op.may_add_key(), "{}", spec.name);
            // Every row called with one key per key argument; RENAME has two.
            assert_eq!(
                op.key().is_some(),
                spec.first_key == 1 && spec.last_key != 2,
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn cursors_are_read_as_strtoul_reads_them() {
        assert_eq!(parse_cursor(b""), Ok(0));
        assert_eq!(parse_cursor(b"+0"), Ok(0));
        assert_eq!(parse_cursor(b"-0"), Ok(0));
        assert_eq!(parse_cursor(b"42"), Ok(42));
        assert_eq!(parse_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(parse_cursor(b"18446744073709551615"), Ok(u64::MAX));
        for bad in [
            &b"18446744073709551616"[..],
            b" 0",
            b"0 ",
            b"abc",
            b"0x1",
            b"-",
            b"+",
            b"1.0",
        ] {
            assert_eq!(
                parse_cursor(bad),
                Err(CommandError::InvalidCursor),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn scan_options_follow_redis() {
        let Ok(KeyOp::Scan(scan)) = key_op("scan", "7 match a* COUNT 5 type String") else {
            panic!("scan did not build");
        };
        assert_eq!(
            scan,
            Scan {
                cursor: 7,
                pattern: Some(b"a*".to_vec()),
                count: 5,
                kind: Some(b"String".to_vec()),
            }
        );
        let Ok(KeyOp::Scan(scan)) = key_op("scan", "0 match a match * count 3 count 4") else {
            panic!("scan did not build");
        };
        assert_eq!((scan.pattern, scan.count), (None, 4));
        for (args, error) in [
            ("0 count 0", CommandError::Syntax),
            ("0 count -1", CommandError::Syntax),
            ("0 count abc", CommandError::NotAnInteger),
            ("0 match", CommandError::Syntax),
            ("0 match a count", CommandError::Syntax),
            ("0 foo bar", CommandError::Syntax),
            ("abc foo", CommandError::InvalidCursor),
        ] {
            assert_eq!(key_op("scan", args).err(), Some(error), "{args}");
        }
    }

    #[test]
    fn expire_options_are_checked_before_the_time() {
        for (args, error) in [
            ("k 10 nx xx", CommandError::ExpireNxWithOthers),
            ("k 10 nx gt", CommandError::ExpireNxWithOthers),
            ("k 10 lt nx", CommandError::ExpireNxWithOthers),
            ("k 10 gt lt", CommandError::ExpireGtWithLt),
            ("k abc Foo", CommandError::UnsupportedOption("Foo".into())),
            ("k abc nx", CommandError::NotAnInteger),
        ] {
            assert_eq!(key_op("expire", args).err(), Some(error), "{args}");
        }
        let Ok(KeyOp::Expire(expire)) = key_op("pexpireat", "k 5 XX gt") else {
            panic!("pexpireat did not build");
        };
        assert_eq!(
            expire,
            Expire {
                command: "pexpireat",
                key: b"k".to_vec(),
                when: 5,
                seconds: false,
                relative: false,
                has_expiry: Some(true),
                compare: Some(Ordering::Greater),
            }
        );
    }

    #[test]
    fn flushdb_takes_one_optional_mode() {
        assert!(key_op("flushdb", "ASYNC").is_ok());
        assert!(key_op("flushdb", "sync").is_ok());
        assert_eq!(key_op("flushdb", "foo").err(), Some(CommandError::Syntax));
        assert_eq!(
            key_op("flushdb", "async sync").err(),
            Some(CommandError::Syntax)
        );
    }
}

//! Redis's string commands: SET and its family, ranges, counters, bits, LCS.
//!
//! Building checks what Redis checks before it looks at the key; errors that
//! Redis only reports for an existing key are kept for the executor to raise.

use super::{RedisSpec, parse_int};
use crate::command::{Command, Op};
use crate::error::CommandError;

/// A row of the table; every string command has one key range and group `string`.
const fn row(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    syntax: &'static str,
    summary: &'static str,
) -> RedisSpec {
    RedisSpec::row(name, arity, flags, keys, "string", syntax, summary)
}

const ONE: (i32, i32, i32) = (1, 1, 1);
const WD: &[&str] = &["write", "denyoom"];
const WF: &[&str] = &["write", "fast"];
const WDF: &[&str] = &["write", "denyoom", "fast"];
const R: &[&str] = &["readonly"];
const RF: &[&str] = &["readonly", "fast"];

/// The string commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[
    row(
        "set",
        -3,
        WD,
        ONE,
        "key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]",
        "Stores a string, optionally only if the key is missing or present, with a time to live.",
    ),
    row(
        "get",
        2,
        RF,
        ONE,
        "key",
        "Answers the string stored at a key.",
    ),
    row(
        "getdel",
        2,
        WF,
        ONE,
        "key",
        "Answers a key's string and deletes the key.",
    ),
    row(
        "getex",
        -2,
        WF,
        ONE,
        "key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]",
        "Answers a key's string and changes or removes its time to live.",
    ),
    row(
        "getset",
        3,
        WDF,
        ONE,
        "key value",
        "Stores a string and answers the one it replaced.",
    ),
    row(
        "setnx",
        3,
        WDF,
        ONE,
        "key value",
        "Stores a string only when the key is missing.",
    ),
    row(
        "setex",
        4,
        WD,
        ONE,
        "key seconds value",
        "Stores a string that lives for some seconds.",
    ),
    row(
        "psetex",
        4,
        WD,
        ONE,
        "key milliseconds value",
        "Stores a string that lives for some milliseconds.",
    ),
    row(
        "mset",
        -3,
        WD,
        (1, -1, 2),
        "key value [key value ...]",
        "Stores several strings at once.",
    ),
    row(
        "msetnx",
        -3,
        WD,
        (1, -1, 2),
        "key value [key value ...]",
        "Stores several strings only when none of the keys exists.",
    ),
    row(
        "mget",
        -2,
        RF,
        (1, -1, 1),
        "key [key ...]",
        "Answers the strings of several keys.",
    ),
    row(
        "append",
        3,
        WDF,
        ONE,
        "key value",
        "Adds bytes at the end of a string; answers its new length.",
    ),
    row(
        "strlen",
        2,
        RF,
        ONE,
        "key",
        "Answers the length of a key's string.",
    ),
    row(
        "getrange",
        4,
        R,
        ONE,
        "key start end",
        "Answers a slice of a string; negative indexes count from the end.",
    ),
    row(
        "substr",
        4,
        R,
        ONE,
        "key start end",
        "Old name of GETRANGE.",
    ),
    row(
        "setrange",
        4,
        WD,
        ONE,
        "key offset value",
        "Overwrites part of a string at an offset, padding with zero bytes.",
    ),
    row("incr", 2, WDF, ONE, "key", "Adds one to an integer string."),
    row(
        "decr",
        2,
        WDF,
        ONE,
        "key",
        "Subtracts one from an integer string.",
    ),
    row(
        "incrby",
        3,
        WDF,
        ONE,
        "key increment",
        "Adds an amount to an integer string.",
    ),
    row(
        "decrby",
        3,
        WDF,
        ONE,
        "key decrement",
        "Subtracts an amount from an integer string.",
    ),
    row(
        "incrbyfloat",
        3,
        WDF,
        ONE,
        "key increment",
        "Adds a decimal amount to a number string.",
    ),
    row(
        "lcs",
        -3,
        R,
        (1, 2, 1),
        "key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]",
        "Answers the longest common subsequence of two strings, its length or where it matches.",
    ),
    row(
        "setbit",
        4,
        WD,
        ONE,
        "key offset value",
        "Sets or clears one bit of a string; answers the old bit.",
    ),
    row(
        "getbit",
        3,
        RF,
        ONE,
        "key offset",
        "Answers one bit of a string.",
    ),
    row(
        "bitcount",
        -2,
        R,
        ONE,
        "key [start end [BYTE | BIT]]",
        "Counts the set bits of a string or of a range.",
    ),
    row(
        "bitpos",
        -3,
        R,
        ONE,
        "key bit [start [end [BYTE | BIT]]]",
        "Answers the position of the first set or clear bit.",
    ),
];

/// How an expiry argument counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiryUnit {
    /// `EX`: seconds from now.
    Seconds,
    /// `PX`: milliseconds from now.
    Millis,
    /// `EXAT`: a Unix time in seconds.
    UnixSeconds,
    /// `PXAT`: a Unix time in milliseconds.
    UnixMillis,
}

/// An expiry as given; Redis checks its number when the command runs (and,
/// for GETEX, only when the key exists), so it is kept unparsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    /// How the amount counts.
    pub unit: ExpiryUnit,
    /// The amount's bytes.
    pub amount: Vec<u8>,
    /// The command named in `invalid expire time` errors.
    pub command: &'static str,
}

/// What SET does with the key's time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetTtl {
    /// Drop it (plain SET).
    Drop,
    /// Keep it (`KEEPTTL`).
    Keep,
    /// Replace it.
    Expire(Expiry),
}

/// SET's condition on the key's existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    /// Always store.
    Always,
    /// `NX`: only when the key is missing.
    Missing,
    /// `XX`: only when the key exists.
    Exists,
}

/// What GETEX does with the key's time to live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetExTtl {
    /// Leave it.
    Unchanged,
    /// `PERSIST`: remove it.
    Persist,
    /// Replace it.
    Expire(Expiry),
}

/// Whether bit ranges count bytes or bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeUnit {
    /// `BYTE` (the default).
    Byte,
    /// `BIT`.
    Bit,
}

/// BITCOUNT's optional range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitRange {
    /// First index, negative from the end.
    pub start: i64,
    /// Last index (inclusive), negative from the end.
    pub end: i64,
    /// What the indexes count.
    pub unit: RangeUnit,
}

/// BITPOS's optional range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BitPosRange {
    /// First index, negative from the end.
    pub start: i64,
    /// Last index (inclusive); `None` searches to the end of the string.
    pub end: Option<i64>,
    /// What the indexes count.
    pub unit: RangeUnit,
}

/// What LCS answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LcsMode {
    /// The subsequence itself.
    Subsequence,
    /// `LEN`: its length.
    Len,
    /// `IDX`: the matching ranges and the length.
    Idx {
        /// Ranges shorter than this are left out.
        min_len: u64,
        /// `WITHMATCHLEN`: each range carries its length.
        with_len: bool,
    },
}

/// A string operation on one namespace's keys.
#[derive(Debug, Clone)]
pub enum StrOp {
    /// SET, GETSET, SETEX, PSETEX.
    Set {
        /// Key.
        key: Vec<u8>,
        /// New value.
        value: Vec<u8>,
        /// Existence condition.
        condition: Condition,
        /// Time-to-live handling.
        ttl: SetTtl,
        /// Answer the old value (`GET`).
        get: bool,
    },
    /// SETNX: answers whether it stored.
    SetNx {
        /// Key.
        key: Vec<u8>,
        /// New value.
        value: Vec<u8>,
    },
    /// GETDEL.
    GetDel(Vec<u8>),
    /// GETEX.
    GetEx {
        /// Key.
        key: Vec<u8>,
        /// Time-to-live change.
        ttl: GetExTtl,
    },
    /// MSET.
    MSet(Vec<(Vec<u8>, Vec<u8>)>),
    /// MSETNX.
    MSetNx(Vec<(Vec<u8>, Vec<u8>)>),
    /// MGET.
    MGet(Vec<Vec<u8>>),
    /// APPEND.
    Append {
        /// Key.
        key: Vec<u8>,
        /// Bytes to add.
        value: Vec<u8>,
    },
    /// STRLEN.
    StrLen(Vec<u8>),
    /// GETRANGE and SUBSTR.
    GetRange {
        /// Key.
        key: Vec<u8>,
        /// First byte, negative from the end.
        start: i64,
        /// Last byte (inclusive), negative from the end.
        end: i64,
    },
    /// SETRANGE.
    SetRange {
        /// Key.
        key: Vec<u8>,
        /// Where the bytes go (not negative).
        offset: u64,
        /// The bytes.
        value: Vec<u8>,
    },
    /// INCR, DECR, INCRBY, DECRBY.
    IncrBy {
        /// Key.
        key: Vec<u8>,
        /// Amount to add.
        by: i64,
    },
    /// INCRBYFLOAT; the increment is checked with the stored value.
    IncrByFloat {
        /// Key.
        key: Vec<u8>,
        /// The increment's bytes.
        by: Vec<u8>,
    },
    /// LCS.
    Lcs {
        /// First key.
        a: Vec<u8>,
        /// Second key.
        b: Vec<u8>,
        /// What to answer.
        mode: LcsMode,
    },
    /// SETBIT.
    SetBit {
        /// Key.
        key: Vec<u8>,
        /// Bit offset, below 2^32.
        offset: u64,
        /// The new bit.
        bit: bool,
    },
    /// GETBIT.
    GetBit {
        /// Key.
        key: Vec<u8>,
        /// Bit offset, below 2^32.
        offset: u64,
    },
    /// BITCOUNT; a bad range is only an error when the key exists.
    BitCount {
        /// Key.
        key: Vec<u8>,
        /// The range, or why it is invalid.
        range: Result<Option<BitRange>, CommandError>,
    },
    /// BITPOS; a bad range is only an error when the key exists.
    BitPos {
        /// Key.
        key: Vec<u8>,
        /// The bit looked for.
        bit: bool,
        /// The range, or why it is invalid.
        range: Result<Option<BitPosRange>, CommandError>,
    },
}

impl StrOp {
    /// The single key the operation reads or writes, if it has exactly one.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            StrOp::Set { key, .. }
            | StrOp::SetNx { key, .. }
            | StrOp::GetDel(key)
            | StrOp::GetEx { key, .. }
            | StrOp::Append { key, .. }
            | StrOp::StrLen(key)
            | StrOp::GetRange { key, .. }
            | StrOp::SetRange { key, .. }
            | StrOp::IncrBy { key, .. }
            | StrOp::IncrByFloat { key, .. }
            | StrOp::SetBit { key, .. }
            | StrOp::GetBit { key, .. }
            | StrOp::BitCount { key, .. }
            | StrOp::BitPos { key, .. } => Some(key),
            StrOp::MSet(pairs) | StrOp::MSetNx(pairs) => match pairs.as_slice() {
                [(key, _)] => Some(key),
                _ => None,
            },
            StrOp::MGet(keys) => match keys.as_slice() {
                [key] => Some(key),
                _ => None,
            },
            StrOp::Lcs { .. } => None,
        }
    }

    /// True when the operation may create a key.
    pub fn may_add_key(&self) -> bool {
        matches!(
            self,
            StrOp::Set { .. }
                | StrOp::SetNx { .. }
                | StrOp::MSet(_)
                | StrOp::MSetNx(_)
                | StrOp::Append { .. }
                | StrOp::SetRange { .. }
                | StrOp::IncrBy { .. }
                | StrOp::IncrByFloat { .. }
                | StrOp::SetBit { .. }
        )
    }

    /// Calls `f` with each key the operation reads, as Redis counts them
    /// in its keyspace hits and misses: the reads of GET-like commands,
    /// not the look-up a write makes of the key it changes.
    pub fn for_each_read_key(&self, mut f: impl FnMut(&[u8])) {
        match self {
            StrOp::Set { key, get: true, .. }
            | StrOp::GetDel(key)
            | StrOp::GetEx { key, .. }
            | StrOp::StrLen(key)
            | StrOp::GetRange { key, .. }
            | StrOp::GetBit { key, .. }
            | StrOp::BitCount { key, .. }
            | StrOp::BitPos { key, .. } => f(key),
            StrOp::MGet(keys) => keys.iter().for_each(|key| f(key)),
            StrOp::Lcs { a, b, .. } => {
                f(a);
                f(b);
            }
            StrOp::Set { get: false, .. }
            | StrOp::SetNx { .. }
            | StrOp::MSet(_)
            | StrOp::MSetNx(_)
            | StrOp::Append { .. }
            | StrOp::SetRange { .. }
            | StrOp::IncrBy { .. }
            | StrOp::IncrByFloat { .. }
            | StrOp::SetBit { .. } => {}
        }
    }

    /// True when the operation may change the keyspace.
    pub fn writes(&self) -> bool {
        self.may_add_key() || matches!(self, StrOp::GetDel(_) | StrOp::GetEx { .. })
    }
}

/// Builds a string command from its arguments (arity already checked).
pub fn build(spec: &'static RedisSpec, args: &[Vec<u8>]) -> Result<Command, CommandError> {
    let arg = |i: usize| {
        args.get(i)
            .cloned()
            .ok_or(CommandError::RedisArity(spec.name))
    };
    let key = arg(0)?;
    let op = match spec.name {
        // A SET without options is exactly inmem's put (the engine's fast path).
        "set" if args.len() == 2 => {
            return Ok(Command::Op(Op::Put {
                key,
                value: arg(1)?,
                ttl_ms: None,
            }));
        }
        "set" => set(key, arg(1)?, &args[2..])?,
        // inmem's own read has exactly GET's meaning (and counts hits and misses).
        "get" => return Ok(Command::Op(Op::Get(key))),
        "getdel" => StrOp::GetDel(key),
        "getex" => StrOp::GetEx {
            key,
            ttl: getex_ttl(&args[1..])?,
        },
        "getset" => StrOp::Set {
            key,
            value: arg(1)?,
            condition: Condition::Always,
            ttl: SetTtl::Drop,
            get: true,
        },
        "setnx" => StrOp::SetNx {
            key,
            value: arg(1)?,
        },
        "setex" | "psetex" => {
            let unit = if spec.name == "setex" {
                ExpiryUnit::Seconds
            } else {
                ExpiryUnit::Millis
            };
            StrOp::Set {
                key,
                value: arg(2)?,
                condition: Condition::Always,
                ttl: SetTtl::Expire(Expiry {
                    unit,
                    amount: arg(1)?,
                    command: spec.name,
                }),
                get: false,
            }
        }
        "mset" | "msetnx" => {
            if !args.len().is_multiple_of(2) {
                return Err(CommandError::RedisArity(spec.name));
            }
            let pairs = args
                .chunks_exact(2)
                .map(|pair| (pair[0].clone(), pair[1].clone()))
                .collect();
            if spec.name == "mset" {
                StrOp::MSet(pairs)
            } else {
                StrOp::MSetNx(pairs)
            }
        }
        "mget" => StrOp::MGet(args.to_vec()),
        "append" => StrOp::Append {
            key,
            value: arg(1)?,
        },
        "strlen" => StrOp::StrLen(key),
        "getrange" | "substr" => StrOp::GetRange {
            key,
            start: parse_int(&arg(1)?)?,
            end: parse_int(&arg(2)?)?,
        },
        "setrange" => StrOp::SetRange {
            key,
            offset: u64::try_from(parse_int(&arg(1)?)?)
                .map_err(|_| CommandError::OffsetOutOfRange)?,
            value: arg(2)?,
        },
        "incr" => StrOp::IncrBy { key, by: 1 },
        "decr" => StrOp::IncrBy { key, by: -1 },
        "incrby" => StrOp::IncrBy {
            key,
            by: parse_int(&arg(1)?)?,
        },
        "decrby" => StrOp::IncrBy {
            key,
            by: parse_int(&arg(1)?)?
                .checked_neg()
                .ok_or(CommandError::DecrementOverflow)?,
        },
        "incrbyfloat" => StrOp::IncrByFloat { key, by: arg(1)? },
        "lcs" => StrOp::Lcs {
            a: key,
            b: arg(1)?,
            mode: lcs_mode(&args[2..])?,
        },
        "setbit" => StrOp::SetBit {
            key,
            offset: bit_offset(&arg(1)?)?,
            bit: match parse_int(&arg(2)?) {
                Ok(0) => false,
                Ok(1) => true,
                _ => return Err(CommandError::BitValue),
            },
        },
        "getbit" => StrOp::GetBit {
            key,
            offset: bit_offset(&arg(1)?)?,
        },
        "bitcount" => StrOp::BitCount {
            key,
            range: bitcount_range(&args[1..]),
        },
        "bitpos" => StrOp::BitPos {
            key,
            bit: match parse_int(&arg(1)?)? {
                0 => false,
                1 => true,
                _ => return Err(CommandError::BitArgument),
            },
            range: bitpos_range(&args[2..]),
        },
        _ => return Err(CommandError::UnknownCommand(spec.name.to_string())),
    };
    Ok(Command::Op(Op::Str(op)))
}

fn is(word: &[u8], option: &str) -> bool {
    word.eq_ignore_ascii_case(option.as_bytes())
}

/// SET's options. Each may repeat, but conflicting ones are a syntax error.
fn set(key: Vec<u8>, value: Vec<u8>, options: &[Vec<u8>]) -> Result<StrOp, CommandError> {
    let mut condition = Condition::Always;
    let mut ttl = SetTtl::Drop;
    let mut get = false;
    let mut i = 0;
    while i < options.len() {
        let word = &options[i];
        if is(word, "nx") && condition != Condition::Exists {
            condition = Condition::Missing;
        } else if is(word, "xx") && condition != Condition::Missing {
            condition = Condition::Exists;
        } else if is(word, "get") {
            get = true;
        } else if is(word, "keepttl") && matches!(ttl, SetTtl::Drop | SetTtl::Keep) {
            ttl = SetTtl::Keep;
        } else if let Some(unit) = expiry_unit(word)
            .filter(|unit| match &ttl {
                SetTtl::Drop => true,
                SetTtl::Keep => false,
                SetTtl::Expire(e) => e.unit == *unit,
            })
            .filter(|_| i + 1 < options.len())
        {
            i += 1;
            ttl = SetTtl::Expire(Expiry {
                unit,
                amount: options[i].clone(),
                command: "set",
            });
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(StrOp::Set {
        key,
        value,
        condition,
        ttl,
        get,
    })
}

fn expiry_unit(word: &[u8]) -> Option<ExpiryUnit> {
    [
        ("ex", ExpiryUnit::Seconds),
        ("px", ExpiryUnit::Millis),
        ("exat", ExpiryUnit::UnixSeconds),
        ("pxat", ExpiryUnit::UnixMillis),
    ]
    .into_iter()
    .find(|(name, _)| is(word, name))
    .map(|(_, unit)| unit)
}

/// GETEX's options: one expiry or PERSIST (an option may repeat).
fn getex_ttl(options: &[Vec<u8>]) -> Result<GetExTtl, CommandError> {
    let mut ttl = GetExTtl::Unchanged;
    let mut i = 0;
    while i < options.len() {
        let word = &options[i];
        if is(word, "persist") && matches!(ttl, GetExTtl::Unchanged | GetExTtl::Persist) {
            ttl = GetExTtl::Persist;
        } else if let Some(unit) = expiry_unit(word)
            .filter(|unit| match &ttl {
                GetExTtl::Unchanged => true,
                GetExTtl::Persist => false,
                GetExTtl::Expire(e) => e.unit == *unit,
            })
            .filter(|_| i + 1 < options.len())
        {
            i += 1;
            ttl = GetExTtl::Expire(Expiry {
                unit,
                amount: options[i].clone(),
                command: "getex",
            });
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    Ok(ttl)
}

/// LCS's options, checked in order, then LEN with IDX refused.
fn lcs_mode(options: &[Vec<u8>]) -> Result<LcsMode, CommandError> {
    let (mut len, mut idx, mut with_len, mut min_len) = (false, false, false, 0);
    let mut i = 0;
    while i < options.len() {
        let word = &options[i];
        if is(word, "idx") {
            idx = true;
        } else if is(word, "len") {
            len = true;
        } else if is(word, "withmatchlen") {
            with_len = true;
        } else if is(word, "minmatchlen") && i + 1 < options.len() {
            i += 1;
            min_len = u64::try_from(parse_int(&options[i])?).unwrap_or(0);
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    match (len, idx) {
        (true, true) => Err(CommandError::LcsLenAndIdx),
        (_, true) => Ok(LcsMode::Idx { min_len, with_len }),
        (true, false) => Ok(LcsMode::Len),
        (false, false) => Ok(LcsMode::Subsequence),
    }
}

/// Highest bit offset: Redis keeps strings within 512 MiB, that is 2^32 bits.
const MAX_BIT_OFFSET: u64 = (1 << 32) - 1;

fn bit_offset(word: &[u8]) -> Result<u64, CommandError> {
    parse_int(word)
        .ok()
        .and_then(|n| u64::try_from(n).ok())
        .filter(|&n| n <= MAX_BIT_OFFSET)
        .ok_or(CommandError::BitOffset)
}

fn range_unit(word: &[u8]) -> Result<RangeUnit, CommandError> {
    if is(word, "bit") {
        Ok(RangeUnit::Bit)
    } else if is(word, "byte") {
        Ok(RangeUnit::Byte)
    } else {
        Err(CommandError::Syntax)
    }
}

/// BITCOUNT's `[start end [BYTE | BIT]]`.
fn bitcount_range(rest: &[Vec<u8>]) -> Result<Option<BitRange>, CommandError> {
    match rest {
        [] => Ok(None),
        [start, end, unit @ ..] if unit.len() <= 1 => {
            let start = parse_int(start)?;
            let end = parse_int(end)?;
            let unit = unit
                .first()
                .map_or(Ok(RangeUnit::Byte), |u| range_unit(u))?;
            Ok(Some(BitRange { start, end, unit }))
        }
        _ => Err(CommandError::Syntax),
    }
}

/// BITPOS's `[start [end [BYTE | BIT]]]`, checked in Redis's order: start,
/// unit, end.
fn bitpos_range(rest: &[Vec<u8>]) -> Result<Option<BitPosRange>, CommandError> {
    let Some((start, rest)) = rest.split_first() else {
        return Ok(None);
    };
    if rest.len() > 2 {
        return Err(CommandError::Syntax);
    }
    let start = parse_int(start)?;
    let unit = rest.get(1).map_or(Ok(RangeUnit::Byte), |u| range_unit(u))?;
    let end = rest.first().map(|e| parse_int(e)).transpose()?;
    Ok(Some(BitPosRange { start, end, unit }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<Vec<u8>> {
        text.split_whitespace()
            .map(|w| w.as_bytes().to_vec())
            .collect()
    }

    fn built_op(text: &str) -> Result<Op, CommandError> {
        let all = words(text);
        let spec = super::super::lookup(&all[0]).expect("a string command");
        assert!(spec.accepts(all.len()), "{text}: arity");
        match build(spec, &all[1..])? {
            Command::Op(op) => Ok(op),
            other => panic!("{text}: built {other:?}"),
        }
    }

    fn built(text: &str) -> Result<StrOp, CommandError> {
        match built_op(text)? {
            Op::Str(op) => Ok(op),
            other => panic!("{text}: built {other:?}"),
        }
    }

    #[test]
    fn every_row_builds_a_sample() {
        let samples = [
            "set k v",
            "get k",
            "getdel k",
            "getex k persist",
            "getset k v",
            "setnx k v",
            "setex k 10 v",
            "psetex k 10 v",
            "mset a 1 b 2",
            "msetnx a 1 b 2",
            "mget a b",
            "append k v",
            "strlen k",
            "getrange k 0 -1",
            "substr k 0 -1",
            "setrange k 3 v",
            "incr k",
            "decr k",
            "incrby k 5",
            "decrby k 5",
            "incrbyfloat k 1.5",
            "lcs a b idx",
            "setbit k 7 1",
            "getbit k 7",
            "bitcount k 0 -1 bit",
            "bitpos k 1 0 -1 byte",
        ];
        for spec in COMMANDS {
            let sample = samples
                .iter()
                .find(|s| s.split(' ').next() == Some(spec.name))
                .unwrap_or_else(|| panic!("no sample for {}", spec.name));
            let op = built_op(sample).unwrap_or_else(|e| panic!("{sample}: {e}"));
            assert_eq!(op.writes(), spec.writes(), "{sample}");
            assert_eq!(spec.group, "string");
        }
        assert_eq!(samples.len(), COMMANDS.len());
        assert!(matches!(built_op("get k"), Ok(Op::Get(key)) if key == b"k"));
    }

    #[test]
    fn set_options_combine_as_in_redis() {
        let ok = |t: &str| built(t).unwrap_or_else(|e| panic!("{t}: {e}"));
        let syntax = |t: &str| assert_eq!(built(t).unwrap_err(), CommandError::Syntax, "{t}");
        for bad in [
            "set k v ex 10 px 10",
            "set k v nx xx",
            "set k v keepttl ex 10",
            "set k v ex 10 keepttl",
            "set k v ex",
            "set k v foo",
            "set k v ex abc nx xx",
            "set k v pxat 5 exat 5",
        ] {
            syntax(bad);
        }
        let StrOp::Set {
            condition,
            ttl,
            get,
            ..
        } = ok("set k v EX 10 ex 20 NX nx GET")
        else {
            panic!("not a set");
        };
        assert_eq!(condition, Condition::Missing);
        assert!(get);
        assert_eq!(
            ttl,
            SetTtl::Expire(Expiry {
                unit: ExpiryUnit::Seconds,
                amount: b"20".to_vec(),
                command: "set",
            })
        );
        // The amount is checked when the command runs, not here.
        assert!(built("set k v px abc").is_ok());
        assert!(built("set k v keepttl keepttl xx").is_ok());
    }

    #[test]
    fn getex_options() {
        assert_eq!(
            built("getex k persist ex 10").unwrap_err(),
            CommandError::Syntax
        );
        assert_eq!(built("getex k foo").unwrap_err(), CommandError::Syntax);
        assert_eq!(built("getex k ex").unwrap_err(), CommandError::Syntax);
        let StrOp::GetEx { ttl, .. } = built("getex k pxat abc").unwrap() else {
            panic!("not getex");
        };
        assert!(matches!(
            ttl,
            GetExTtl::Expire(Expiry {
                unit: ExpiryUnit::UnixMillis,
                ..
            })
        ));
    }

    #[test]
    fn argument_errors() {
        let err = |t: &str| built(t).unwrap_err().to_string();
        assert_eq!(
            err("mset a 1 b"),
            "wrong number of arguments for 'mset' command"
        );
        assert_eq!(
            err("msetnx a 1 b"),
            "wrong number of arguments for 'msetnx' command"
        );
        assert_eq!(
            err("getrange k 0 x"),
            "value is not an integer or out of range"
        );
        assert_eq!(err("setrange k -1 x"), "offset is out of range");
        assert_eq!(
            err("setrange k x x"),
            "value is not an integer or out of range"
        );
        assert_eq!(
            err("decrby k -9223372036854775808"),
            "decrement would overflow"
        );
        assert_eq!(
            err("incrby k 1.5"),
            "value is not an integer or out of range"
        );
        assert_eq!(
            err("setbit k 4294967296 1"),
            "bit offset is not an integer or out of range"
        );
        assert_eq!(
            err("setbit k -1 1"),
            "bit offset is not an integer or out of range"
        );
        assert_eq!(
            err("getbit k x"),
            "bit offset is not an integer or out of range"
        );
        assert_eq!(
            err("setbit k 4294967295 2"),
            "bit is not an integer or out of range"
        );
        assert_eq!(err("bitpos k 2"), "The bit argument must be 1 or 0.");
        assert_eq!(err("bitpos k x"), "value is not an integer or out of range");
        assert_eq!(
            err("lcs a b len idx"),
            "If you want both the length and indexes, please just use IDX."
        );
        assert_eq!(err("lcs a b foo"), "syntax error");
        assert_eq!(err("lcs a b minmatchlen"), "syntax error");
        assert_eq!(
            err("lcs a b minmatchlen x"),
            "value is not an integer or out of range"
        );
    }

    #[test]
    fn ranges_keep_their_errors_for_the_executor() {
        let range = |t: &str| match built(t).unwrap() {
            StrOp::BitCount { range, .. } => range.map(|r| r.map(|r| (r.start, r.end, r.unit))),
            other => panic!("{other:?}"),
        };
        assert_eq!(range("bitcount k"), Ok(None));
        assert_eq!(
            range("bitcount k 1 -2 BIT"),
            Ok(Some((1, -2, RangeUnit::Bit)))
        );
        assert_eq!(range("bitcount k 0"), Err(CommandError::Syntax));
        assert_eq!(range("bitcount k 0 1 foo"), Err(CommandError::Syntax));
        assert_eq!(range("bitcount k 0 1 bit x"), Err(CommandError::Syntax));
        assert_eq!(range("bitcount k a 1 foo"), Err(CommandError::NotAnInteger));
        let pos = |t: &str| match built(t).unwrap() {
            StrOp::BitPos { range, .. } => range,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            pos("bitpos k 0 3"),
            Ok(Some(BitPosRange {
                start: 3,
                end: None,
                unit: RangeUnit::Byte
            }))
        );
        // Redis checks the unit before the end.
        assert_eq!(pos("bitpos k 0 0 abc foo"), Err(CommandError::Syntax));
        assert_eq!(pos("bitpos k 0 abc 1 foo"), Err(CommandError::NotAnInteger));
        assert_eq!(pos("bitpos k 0 0 1 bit x"), Err(CommandError::Syntax));
    }

    #[test]
    fn keys_and_write_flags() {
        assert_eq!(built("mset a 1").unwrap().key(), Some(&b"a"[..]));
        assert_eq!(built("mset a 1 b 2").unwrap().key(), None);
        assert_eq!(built("lcs a b").unwrap().key(), None);
        assert_eq!(built("getbit k 1").unwrap().key(), Some(&b"k"[..]));
        assert!(built("getdel k").unwrap().writes());
        assert!(!built("getdel k").unwrap().may_add_key());
        assert!(built("getex k").unwrap().writes());
        assert!(!built("mget a b").unwrap().writes());
        assert!(built("setrange k 0 x").unwrap().may_add_key());
    }
}

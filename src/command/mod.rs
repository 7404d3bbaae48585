//! The command language: the grammar that turns text into words, the command
//! table, typed commands built from words, and replies.

pub mod grammar;
pub mod help;
pub mod plain;
pub mod redis;
pub mod reply;
pub mod spec;

use crate::error::CommandError;
use grammar::{AsWord, Word};
use regex::bytes::{Regex, RegexBuilder};
pub use reply::Reply;
use spec::Spec;

/// Compiled regexes may not grow past this, so a user's pattern cannot exhaust memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// Longest accepted TTL in milliseconds (about 292 million years keeps deadlines in range).
const MAX_TTL_MS: i64 = i64::MAX / 2;

/// A typed statement, ready to execute.
#[derive(Debug, Clone)]
pub enum Command {
    /// Reads or writes the keyspace.
    Op(Op),
    /// Works across namespaces (MOVE, SWAPDB, FLUSHALL, ...).
    Global(redis::global::GlobalOp),
    /// Open a transaction.
    Begin,
    /// Apply the open transaction.
    Commit,
    /// Discard the open transaction.
    Rollback,
    /// Run statements as one transaction.
    Batch(BatchSource),
    /// Run a file's statements one by one.
    Source(String),
    /// Define an alias: its name and the text it stands for.
    Alias {
        /// The alias word.
        name: String,
        /// The command text it expands to.
        body: String,
    },
    /// Remove an alias.
    Unalias(String),
    /// List aliases.
    ShowAlias,
    /// Restore the default aliases.
    ResetAlias,
    /// Switch namespace.
    Use(String),
    /// List namespaces.
    Namespaces,
    /// Drop a namespace.
    DropNamespace(String),
    /// Show statistics (false) or reset counters (true).
    Stats {
        /// Zero the counters instead.
        reset: bool,
    },
    /// Turn per-statement timing on or off.
    Timing(bool),
    /// Show one or all settings.
    ConfigGet(Option<String>),
    /// Change a setting.
    ConfigSet(String, String),
    /// Write snapshot.db now.
    Save,
    /// Compact the log (a snapshot that drops the records it covers).
    Compact,
    /// Write a snapshot copy to a file.
    Backup(String),
    /// Replace the content with a backup file.
    Restore(String),
    /// Write the namespace as JSON.
    Export(String),
    /// Load a JSON file.
    Import(String),
    /// General help, or help on one command.
    Help(Option<String>),
    /// Leave.
    Exit,
}

/// Where a batch's statements come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchSource {
    /// Statements given inline with `-c`.
    Inline(String),
    /// A file path or glob given with `-f`.
    Files(String),
}

/// An operation on the keyspace.
#[derive(Debug, Clone)]
pub enum Op {
    /// Store a value, with an optional time to live in milliseconds.
    Put {
        /// Key.
        key: Vec<u8>,
        /// Value.
        value: Vec<u8>,
        /// Time to live in milliseconds; `None` keeps the key until deleted.
        ttl_ms: Option<i64>,
    },
    /// Read a value.
    Get(Vec<u8>),
    /// Delete keys.
    Delete(Vec<Vec<u8>>),
    /// Does the key exist.
    Exists(Vec<u8>),
    /// Add to an integer value.
    Incr {
        /// Key.
        key: Vec<u8>,
        /// Amount (negative for decr).
        by: i64,
    },
    /// Set a key's time to live.
    Expire {
        /// Key.
        key: Vec<u8>,
        /// Milliseconds from now; zero or less deletes the key.
        ttl_ms: i64,
    },
    /// Seconds left to live.
    Ttl(Vec<u8>),
    /// Remove a key's expiry.
    Persist(Vec<u8>),
    /// List keys, optionally matching a glob.
    Keys(Option<Vec<u8>>),
    /// List values.
    Values,
    /// List key/value pairs.
    Items,
    /// Count keys.
    Size,
    /// Search keys or values.
    Find {
        /// What is searched.
        target: FindTarget,
        /// How it is matched.
        matcher: Matcher,
    },
    /// Delete every key.
    Clear,
    /// A Redis string command.
    Str(redis::strings::StrOp),
    /// A Redis key command.
    Key(redis::keys::KeyOp),
}

impl Op {
    /// The single key the operation reads or writes, if it has exactly one.
    pub fn key(&self) -> Option<&[u8]> {
        match self {
            Op::Put { key, .. } | Op::Incr { key, .. } | Op::Expire { key, .. } => Some(key),
            Op::Get(key) | Op::Exists(key) | Op::Ttl(key) | Op::Persist(key) => Some(key),
            Op::Str(op) => op.key(),
            Op::Key(op) => op.key(),
            _ => None,
        }
    }

    /// True when the operation may create a key (so it needs room under a limit).
    pub fn may_add_key(&self) -> bool {
        match self {
            Op::Str(op) => op.may_add_key(),
            Op::Key(op) => op.may_add_key(),
            _ => matches!(self, Op::Put { .. } | Op::Incr { .. }),
        }
    }

    /// True when the operation may change the keyspace.
    pub fn writes(&self) -> bool {
        match self {
            Op::Str(op) => return op.writes(),
            Op::Key(op) => return op.writes(),
            _ => {}
        }
        matches!(
            self,
            Op::Put { .. }
                | Op::Delete(_)
                | Op::Incr { .. }
                | Op::Expire { .. }
                | Op::Persist(_)
                | Op::Clear
        )
    }
}

/// What `find` searches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindTarget {
    /// Key names; answers keys.
    Keys,
    /// Values; answers key/value pairs.
    Values,
}

/// How `find` compares.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Byte-for-byte equality.
    Exact(Vec<u8>),
    /// A Redis-style glob.
    Glob(Vec<u8>),
    /// A regular expression, compiled once when the command is built.
    Regex(Regex),
}

impl Matcher {
    /// True when `text` matches.
    pub fn is_match(&self, text: &[u8]) -> bool {
        match self {
            Matcher::Exact(want) => want == text,
            Matcher::Glob(pattern) => crate::engine::glob::glob_match(pattern, text),
            Matcher::Regex(regex) => regex.is_match(text),
        }
    }
}

/// A command that could not be built, with the byte offset of the word at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildError {
    /// Offset in the statement's source text, when one word is to blame.
    pub offset: Option<usize>,
    /// What is wrong.
    pub error: CommandError,
}

impl BuildError {
    fn at(word: &impl AsWord, error: CommandError) -> Self {
        BuildError {
            offset: Some(word.offset()),
            error,
        }
    }

    fn bad(word: &impl AsWord, message: String) -> Self {
        Self::at(word, CommandError::BadArgument(message))
    }
}

/// Arguments that arrived as separate byte strings (RESP, HTTP) as the
/// statement words the builders take; they have no source text, so no offsets.
pub fn words(args: &[Vec<u8>]) -> Vec<Word> {
    args.iter()
        .map(|bytes| Word {
            bytes: bytes.clone(),
            offset: 0,
        })
        .collect()
}

/// The command word of a statement, as text (lossy: it is only compared to names).
pub fn command_word<W: AsRef<[u8]>>(words: &[W]) -> String {
    words
        .first()
        .map(|w| String::from_utf8_lossy(w.as_ref()).into_owned())
        .unwrap_or_default()
}

/// Builds a typed command from a statement's words (aliases already expanded).
pub fn build(words: &[Word]) -> Result<Command, BuildError> {
    build_with(spec_of(words), words)
}

/// The command table entry a statement's first word names, if any.
pub fn spec_of<W: AsRef<[u8]>>(words: &[W]) -> Option<&'static Spec> {
    spec::lookup_bytes(words.first()?.as_ref())
}

/// Builds a typed command whose table entry was already looked up with
/// [`spec_of`] (callers that also need the name look it up only once).
pub fn build_with<W: AsWord>(
    spec: Option<&'static Spec>,
    words: &[W],
) -> Result<Command, BuildError> {
    let Some(first) = words.first() else {
        return Err(BuildError {
            offset: None,
            error: CommandError::Parse("empty statement".into()),
        });
    };
    let spec = spec
        .ok_or_else(|| BuildError::at(first, CommandError::UnknownCommand(command_word(words))))?;
    let args = &words[1..];
    if !spec.accepts(args.len()) {
        let at = spec.max_args.and_then(|max| args.get(max)).unwrap_or(first);
        return Err(BuildError::at(at, arity(spec)));
    }
    build_from(spec, first, args)
}

fn arity(spec: &'static Spec) -> CommandError {
    CommandError::Arity {
        name: spec.name,
        syntax: spec.syntax,
    }
}

fn build_from<W: AsWord>(
    spec: &'static Spec,
    first: &W,
    args: &[W],
) -> Result<Command, BuildError> {
    let key = |i: usize| args[i].as_ref().to_vec();
    let op = match spec.name {
        "put" => Op::Put {
            key: key(0),
            value: key(1),
            ttl_ms: put_ttl(&args[2..])?,
        },
        "get" => Op::Get(key(0)),
        "delete" => Op::Delete(args.iter().map(|w| w.as_ref().to_vec()).collect()),
        "exists" => Op::Exists(key(0)),
        "incr" | "decr" => {
            let by = match args.get(1) {
                Some(word) => int_arg(word, "the amount")?,
                None => 1,
            };
            let by = if spec.name == "decr" {
                by.checked_neg()
                    .ok_or_else(|| BuildError::at(&args[1], CommandError::Overflow))?
            } else {
                by
            };
            Op::Incr { key: key(0), by }
        }
        "expire" => {
            let seconds = int_arg(&args[1], "seconds")?;
            Op::Expire {
                key: key(0),
                ttl_ms: seconds_to_ms(&args[1], seconds)?,
            }
        }
        "ttl" => Op::Ttl(key(0)),
        "persist" => Op::Persist(key(0)),
        "keys" => Op::Keys(args.first().map(|w| w.as_ref().to_vec())),
        "values" => Op::Values,
        "items" => Op::Items,
        "size" => Op::Size,
        "clear" => Op::Clear,
        "find" => find(args)?,
        _ => return build_control(spec, first, args),
    };
    Ok(Command::Op(op))
}

fn build_control<W: AsWord>(
    spec: &'static Spec,
    first: &W,
    args: &[W],
) -> Result<Command, BuildError> {
    let text = |i: usize| utf8_arg(&args[i]);
    Ok(match spec.name {
        "begin" => Command::Begin,
        "commit" => Command::Commit,
        "rollback" => Command::Rollback,
        "batch" => match text(0)?.as_str() {
            "-c" | "--cmd" => Command::Batch(BatchSource::Inline(text(1)?)),
            "-f" | "--file" => Command::Batch(BatchSource::Files(text(1)?)),
            other => {
                return Err(BuildError::bad(
                    &args[0],
                    format!("expected -c or -f, found '{other}'"),
                ));
            }
        },
        "source" => Command::Source(text(0)?),
        "alias" => Command::Alias {
            name: text(0)?,
            body: args[1..]
                .iter()
                .map(|w| grammar::quote_word(w.as_ref()))
                .collect::<Vec<_>>()
                .join(" "),
        },
        "unalias" => Command::Unalias(text(0)?),
        "show-alias" => Command::ShowAlias,
        "reset-alias" => Command::ResetAlias,
        "use" => Command::Use(text(0)?),
        "namespaces" => Command::Namespaces,
        "dropns" => Command::DropNamespace(text(0)?),
        "stats" => match args.first() {
            None => Command::Stats { reset: false },
            Some(word) if word.as_ref().eq_ignore_ascii_case(b"reset") => {
                Command::Stats { reset: true }
            }
            Some(word) => {
                return Err(BuildError::bad(word, "expected 'reset' or nothing".into()));
            }
        },
        "timing" => match text(0)?.to_ascii_lowercase().as_str() {
            "on" => Command::Timing(true),
            "off" => Command::Timing(false),
            other => {
                return Err(BuildError::bad(
                    &args[0],
                    format!("expected on or off, found '{other}'"),
                ));
            }
        },
        "config" => match (text(0)?.to_ascii_lowercase().as_str(), args.len()) {
            ("get", 1) => Command::ConfigGet(None),
            ("get", 2) => Command::ConfigGet(Some(text(1)?)),
            ("set", 3) => Command::ConfigSet(text(1)?, text(2)?),
            _ => return Err(BuildError::at(first, arity(spec))),
        },
        "save" => Command::Save,
        "compact" => Command::Compact,
        "backup" => Command::Backup(text(0)?),
        "restore" => Command::Restore(text(0)?),
        "export" => Command::Export(text(0)?),
        "import" => Command::Import(text(0)?),
        "help" => Command::Help(
            args.first()
                .map(|w| String::from_utf8_lossy(w.as_ref()).into()),
        ),
        "exit" => Command::Exit,
        other => {
            // The table and this match are kept in step by a test; reaching here is a bug
            // in the table, reported rather than panicking.
            return Err(BuildError::at(
                first,
                CommandError::UnknownCommand(other.to_string()),
            ));
        }
    })
}

/// The optional TTL after `put <key> <value>`: `<seconds>`, `px <ms>` or `ex <seconds>`.
fn put_ttl<W: AsWord>(rest: &[W]) -> Result<Option<i64>, BuildError> {
    match rest {
        [] => Ok(None),
        [seconds] => {
            let n = positive_arg(seconds, "ttl_seconds")?;
            seconds_to_ms(seconds, n).map(Some)
        }
        [unit, amount] => {
            let unit_text = String::from_utf8_lossy(unit.as_ref()).to_ascii_lowercase();
            let n = positive_arg(amount, &unit_text)?;
            match unit_text.as_str() {
                "px" => Ok(Some(n)),
                "ex" => seconds_to_ms(amount, n).map(Some),
                _ => Err(BuildError::bad(
                    unit,
                    format!("expected 'px' or 'ex' before the TTL, found '{unit_text}'"),
                )),
            }
        }
        _ => Err(BuildError::bad(&rest[0], "too many arguments".into())),
    }
}

fn seconds_to_ms(word: &impl AsWord, seconds: i64) -> Result<i64, BuildError> {
    seconds
        .checked_mul(1000)
        .filter(|ms| ms.abs() <= MAX_TTL_MS)
        .ok_or_else(|| BuildError::bad(word, "TTL is out of range".into()))
}

fn find<W: AsWord>(args: &[W]) -> Result<Op, BuildError> {
    let (pattern, flags) = args
        .split_last()
        .expect("arity checked: at least two words");
    let mut target = None;
    let mut mode = None;
    for flag in flags {
        match utf8_arg(flag)?.as_str() {
            "-k" | "--key" => target = Some(FindTarget::Keys),
            "-v" | "--value" => target = Some(FindTarget::Values),
            "-l" | "--like" => mode = Some('l'),
            "-r" | "--regex" => mode = Some('r'),
            other => {
                return Err(BuildError::bad(
                    flag,
                    format!("unknown flag '{other}' (expected -k, -v, -l or -r)"),
                ));
            }
        }
    }
    let target = target
        .ok_or_else(|| BuildError::bad(&flags[0], "find needs -k (keys) or -v (values)".into()))?;
    let bytes = pattern.as_ref().to_vec();
    let matcher = match mode {
        None => Matcher::Exact(bytes),
        Some('l') => Matcher::Glob(bytes),
        _ => Matcher::Regex(compile_regex(pattern)?),
    };
    Ok(Op::Find { target, matcher })
}

fn compile_regex(word: &impl AsWord) -> Result<Regex, BuildError> {
    let text = utf8_arg(word)?;
    RegexBuilder::new(&text)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| {
            // The regex crate's message spans several lines; keep the last, most specific one.
            let message = e.to_string();
            let last = message.lines().last().unwrap_or_default().trim();
            let last = last.strip_prefix("error: ").unwrap_or(last);
            BuildError::at(word, CommandError::InvalidRegex(last.to_string()))
        })
}

fn utf8_arg(word: &impl AsWord) -> Result<String, BuildError> {
    String::from_utf8(word.as_ref().to_vec())
        .map_err(|_| BuildError::bad(word, "expected UTF-8 text".into()))
}

fn int_arg(word: &impl AsWord, what: &str) -> Result<i64, BuildError> {
    std::str::from_utf8(word.as_ref())
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| {
            BuildError::bad(
                word,
                format!(
                    "expected an integer for {what}, found '{}'",
                    String::from_utf8_lossy(word.as_ref())
                ),
            )
        })
}

fn positive_arg(word: &impl AsWord, what: &str) -> Result<i64, BuildError> {
    let n = int_arg(word, what)?;
    if n <= 0 {
        return Err(BuildError::bad(
            word,
            format!("{what} must be a positive integer, found {n}"),
        ));
    }
    Ok(n)
}

//! Typed errors, one enum per layer. Their `Display` texts are the short, stable
//! one-line messages that users and clients see.

use std::path::PathBuf;

/// Why a statement was refused or failed. Nothing is changed when one is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// A Redis command got the wrong number of arguments (Redis's wording).
    #[error("wrong number of arguments for '{0}' command")]
    RedisArity(&'static str),
    // Redis commands' errors (shared by strings and keys).
    /// A Redis command's options do not combine or are not recognised.
    #[error("syntax error")]
    Syntax,
    /// An expiry is zero, negative or out of range; carries the command's name.
    #[error("invalid expire time in '{0}' command")]
    InvalidExpireTime(&'static str),
    /// A stored value or an argument is not a number INCRBYFLOAT accepts.
    #[error("value is not a valid float")]
    NotAFloat,
    /// INCRBYFLOAT's result would not be finite.
    #[error("increment would produce NaN or Infinity")]
    NanOrInfinity,
    /// DECRBY by the most negative integer, whose negation does not exist.
    #[error("decrement would overflow")]
    DecrementOverflow,
    /// SETRANGE's offset is negative.
    #[error("offset is out of range")]
    OffsetOutOfRange,
    /// A string would grow past Redis's 512 MiB limit.
    #[error("string exceeds maximum allowed size (proto-max-bulk-len)")]
    StringTooLong,
    /// SETBIT's or GETBIT's offset is not an integer in 0..2^32.
    #[error("bit offset is not an integer or out of range")]
    BitOffset,
    /// SETBIT's bit is not 0 or 1.
    #[error("bit is not an integer or out of range")]
    BitValue,
    /// BITPOS's bit is not 0 or 1.
    #[error("The bit argument must be 1 or 0.")]
    BitArgument,
    /// LCS was asked for both LEN and IDX.
    #[error("If you want both the length and indexes, please just use IDX.")]
    LcsLenAndIdx,
    /// LCS's table would exceed Redis's 512 MiB limit.
    #[error("Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")]
    LcsTooLarge,

    // Redis key commands' errors.
    /// RENAME or RENAMENX of a key that does not exist.
    #[error("no such key")]
    NoSuchKey,
    /// An EXPIRE-family option Redis does not know, as the client spelled it.
    #[error("Unsupported option {0}")]
    UnsupportedOption(String),
    /// EXPIRE's NX combined with XX, GT or LT.
    #[error("NX and XX, GT or LT options at the same time are not compatible")]
    ExpireNxWithOthers,
    /// EXPIRE's GT combined with LT.
    #[error("GT and LT options at the same time are not compatible")]
    ExpireGtWithLt,
    /// SCAN's cursor is not an unsigned 64-bit decimal number.
    #[error("invalid cursor")]
    InvalidCursor,
    /// The first word names no command and no alias.
    #[error("unknown command '{0}' (type 'help' for the list)")]
    UnknownCommand(String),
    /// The statement has too few or too many arguments; carries the command's syntax.
    #[error("wrong number of arguments for '{name}': usage: {name} {syntax}")]
    Arity {
        /// Command name.
        name: &'static str,
        /// Its argument syntax from the command table.
        syntax: &'static str,
    },
    /// An argument does not have the form the command needs.
    #[error("{0}")]
    BadArgument(String),
    /// The stored value is not a decimal 64-bit integer.
    #[error("value is not an integer or out of range")]
    NotAnInteger,
    /// Incrementing would leave the 64-bit range.
    #[error("increment or decrement would overflow")]
    Overflow,
    /// A `find -r` pattern did not compile.
    #[error("invalid regex: {0}")]
    InvalidRegex(String),
    /// `commit` or `rollback` without `begin`.
    #[error("no transaction is open (use 'begin' first)")]
    NoTransaction,
    /// `begin` while a transaction is open.
    #[error("a transaction is already open (use 'commit' or 'rollback')")]
    TransactionOpen,
    /// A command that may not run inside a transaction or a batch.
    #[error("'{0}' is not allowed inside {1}")]
    NotAllowedIn(&'static str, &'static str),
    /// One statement of a batch or transaction failed, so none of it was applied.
    #[error("statement {index} ({text}) failed: {source}; nothing was applied")]
    Aborted {
        /// 1-based position of the failing statement.
        index: usize,
        /// Its text.
        text: String,
        /// What went wrong with it.
        source: Box<CommandError>,
    },
    /// A statement inside a batch text or file did not parse.
    #[error("{0}")]
    Parse(String),
    /// An alias definition was refused.
    #[error("{0}")]
    Alias(String),
    /// A file named by `batch -f` or `source` could not be read.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// A capacity limit is reached and nothing may be evicted.
    #[error("out of memory: {0}")]
    OutOfMemory(String),
    /// The append-only log cannot be written, so writes are refused until it can.
    #[error("{0}; writes are refused until it works again")]
    LogUnavailable(String),
    /// A snapshot, backup, restore, import or export failed.
    #[error("{0}")]
    Persistence(String),
    /// Saving a change to disk failed, so the change was not made.
    #[error("cannot save {path}: {reason}")]
    Save {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    // Cross-namespace commands' errors (MOVE, COPY, SWAPDB, SELECT).
    /// A Redis database index is not below the number of databases.
    #[error("DB index is out of range")]
    DbIndexOutOfRange,
    /// A SWAPDB index is not an integer; names which (`first` or `second`).
    #[error("invalid {0} DB index")]
    InvalidDbIndex(&'static str),
    /// An integer argument is outside the 32-bit range Redis allows for it.
    #[error("value is out of range, value must between -2147483648 and 2147483647")]
    IntOutOfRange,
    /// MOVE or COPY onto the very key it reads.
    #[error("source and destination objects are the same")]
    SameObject,
}

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be created or read.
    #[error("cannot use data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// Another process owns the data directory, or its lock file failed.
    #[error(transparent)]
    Lock(#[from] crate::persist::lock::LockError),
    /// snapshot.db or the log is damaged.
    #[error(transparent)]
    Corrupt(#[from] crate::persist::recovery::Corruption),
    /// alias.json exists but cannot be read or parsed.
    #[error("{path}: {reason}")]
    Aliases {
        /// The file.
        path: PathBuf,
        /// What is wrong, with line and column for a parse error.
        reason: String,
    },
}

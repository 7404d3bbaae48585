//! What a command answers, before any front-end renders it.

use std::path::PathBuf;

/// A command's answer. Front-ends only render these; they never compute them.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// A write succeeded.
    Ok,
    /// The key is missing (or expired).
    Nil,
    /// A stored value.
    Value(Vec<u8>),
    /// A count or a number.
    Int(i64),
    /// A measurement, such as a ratio or a latency.
    Float(f64),
    /// A yes/no answer.
    Bool(bool),
    /// Keys or values.
    List(Vec<Vec<u8>>),
    /// Key/value pairs.
    Pairs(Vec<(Vec<u8>, Vec<u8>)>),
    /// Named fields, such as the alias table.
    Map(Vec<(String, Reply)>),
    /// A short status word, such as `PONG` or a key's type.
    Status(String),
    /// Replies of mixed kinds in order, such as MGET's values and nils.
    Array(Vec<Reply>),
    /// Human-readable text, such as help.
    Text(String),
    /// The results of a batch's statements, in order.
    Batch(Vec<Reply>),
    /// The session asks its front-end to run a file's statements one by one.
    Source(PathBuf),
    /// The session asks its front-end to stop.
    Exit,
}

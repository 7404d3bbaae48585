//! Redis's string commands: SET and its family, ranges, counters, bits, LCS.

use super::RedisSpec;
use crate::command::Command;
use crate::error::CommandError;

/// The string commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[];

/// A string operation on one namespace's keys.
#[derive(Debug, Clone)]
pub enum StrOp {}

impl StrOp {
    /// The single key the operation reads or writes, if it has exactly one.
    pub fn key(&self) -> Option<&[u8]> {
        match *self {}
    }

    /// True when the operation may create a key.
    pub fn may_add_key(&self) -> bool {
        match *self {}
    }

    /// True when the operation may change the keyspace.
    pub fn writes(&self) -> bool {
        match *self {}
    }
}

/// Builds a string command from its arguments (arity already checked).
pub fn build(spec: &'static RedisSpec, _args: &[Vec<u8>]) -> Result<Command, CommandError> {
    Err(CommandError::RedisArity(spec.name))
}

//! Redis's generic key commands: DEL, EXISTS, TYPE, SCAN, RENAME, COPY, the
//! EXPIRE family, MOVE, SWAPDB, FLUSHDB and FLUSHALL.

use super::RedisSpec;
use crate::command::Command;
use crate::error::CommandError;

/// The key commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[];

/// A key operation on one namespace.
#[derive(Debug, Clone)]
pub enum KeyOp {}

impl KeyOp {
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

/// An operation across namespaces (MOVE, COPY ... DB, SWAPDB, FLUSHALL).
#[derive(Debug, Clone)]
pub enum GlobalOp {}

/// Builds a key command from its arguments (arity already checked).
pub fn build(spec: &'static RedisSpec, _args: &[Vec<u8>]) -> Result<Command, CommandError> {
    Err(CommandError::RedisArity(spec.name))
}

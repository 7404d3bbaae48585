//! Redis's generic key commands within one namespace: DEL, UNLINK, EXISTS,
//! TYPE, KEYS, SCAN, RANDOMKEY, RENAME, RENAMENX, the EXPIRE and TTL families,
//! PERSIST, DBSIZE and FLUSHDB.

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

/// Builds a key command from its arguments (arity already checked).
pub fn build(spec: &'static RedisSpec, _args: &[Vec<u8>]) -> Result<Command, CommandError> {
    Err(CommandError::RedisArity(spec.name))
}

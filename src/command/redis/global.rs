//! Redis commands that may span namespaces: MOVE, COPY, SWAPDB, FLUSHALL.

use super::RedisSpec;
use crate::command::Command;
use crate::error::CommandError;

/// The cross-namespace commands' table rows.
pub static COMMANDS: &[RedisSpec] = &[];

/// An operation that may span namespaces.
#[derive(Debug, Clone)]
pub enum GlobalOp {}

/// Builds a cross-namespace command from its arguments (arity already checked).
pub fn build(spec: &'static RedisSpec, _args: &[Vec<u8>]) -> Result<Command, CommandError> {
    Err(CommandError::RedisArity(spec.name))
}

//! The meaning of Redis's string commands, for any `Store`.

use super::{Mutation, Store};
use crate::command::Reply;
use crate::command::redis::strings::StrOp;
use crate::error::CommandError;

/// Executes a string operation at time `now`, pushing its writes onto `out`.
pub fn execute<S: Store + ?Sized>(
    op: &StrOp,
    _store: &S,
    _now: u64,
    _out: &mut Vec<Mutation>,
) -> Result<Reply, CommandError> {
    match *op {}
}

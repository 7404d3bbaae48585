//! The meaning of Redis's key commands within one namespace, for any `Store`.

use super::{Mutation, Store};
use crate::command::Reply;
use crate::command::redis::keys::KeyOp;
use crate::error::CommandError;

/// Executes a key operation at time `now`, pushing its writes onto `out`.
pub fn execute<S: Store + ?Sized>(
    op: &KeyOp,
    _store: &S,
    _now: u64,
    _out: &mut Vec<Mutation>,
) -> Result<Reply, CommandError> {
    match *op {}
}

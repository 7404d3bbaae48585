//! Operations across namespaces: MOVE, COPY to another namespace, SWAPDB, FLUSHALL.

use super::Engine;
use crate::command::Reply;
use crate::command::redis::global::GlobalOp;
use crate::error::CommandError;

impl Engine {
    /// Runs an operation that spans namespaces; `namespace` is the caller's current one.
    pub fn run_global(&self, _namespace: &str, op: &GlobalOp) -> Result<Reply, CommandError> {
        match *op {}
    }
}

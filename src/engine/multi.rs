//! EXEC: a queued group of commands, possibly spanning namespaces, run under
//! one hold of the engine's lock after checking the connection's WATCHed keys.

use super::{Engine, Store, WatchSet};
use crate::command::redis::global::GlobalOp;
use crate::command::{Command, Op, Reply};
use crate::error::CommandError;

/// One command queued between MULTI and EXEC.
#[derive(Debug, Clone)]
pub enum ExecOp {
    /// An operation on one namespace.
    Op(Op),
    /// An operation across namespaces (MOVE, COPY, SWAPDB, FLUSHALL).
    Global(GlobalOp),
}

impl ExecOp {
    /// The queueable form of a built command: keyspace and cross-namespace
    /// operations; any other command is handed back.
    pub fn from_command(command: Command) -> Result<ExecOp, Command> {
        match command {
            Command::Op(op) => Ok(ExecOp::Op(op)),
            Command::Global(op) => Ok(ExecOp::Global(op)),
            other => Err(other),
        }
    }

    fn writes(&self) -> bool {
        match self {
            ExecOp::Op(op) => op.writes(),
            ExecOp::Global(_) => true,
        }
    }

    fn may_add_key(&self) -> bool {
        match self {
            ExecOp::Op(op) => op.may_add_key(),
            ExecOp::Global(op) => op.may_add_key(),
        }
    }
}

/// The replies of an EXEC that ran: one result per queued command, in order.
pub type ExecReplies = Vec<Result<Reply, CommandError>>;

impl Engine {
    /// Runs a MULTI/EXEC block: `items` are (namespace, command) in queue
    /// order, each with the namespace the connection had selected when it
    /// was queued. Unwatches every key of `watches` in all cases, as EXEC does.
    ///
    /// Under one hold of the engine's lock:
    /// - `Ok(None)`: a watched key was modified since it was watched (written,
    ///   deleted, expired, flushed, swapped, moved or evicted); nothing ran.
    ///   The client gets a null array.
    /// - `Err(e)`: the block was refused before anything ran, because the log
    ///   refuses writes or capacity limits leave no room (an upper bound of
    ///   the keys the block may add is made room for first, evicting as
    ///   [`Engine::run_atomic`] does).
    /// - `Ok(Some(results))`: every command ran, in order, with Redis's EXEC
    ///   semantics: a command's runtime error is its result and does not stop
    ///   later commands. All the changes, whatever their namespaces, go to the
    ///   journal as ONE record, so recovery applies all of them or none.
    pub fn run_exec(
        &self,
        watches: &mut WatchSet,
        items: &[(String, ExecOp)],
    ) -> Result<Option<ExecReplies>, CommandError> {
        let now = self.now();
        let mut data = self.lock();
        let modified =
            watches.is_modified(|namespace, key| data.keyspace(namespace).get(key, now).is_some());
        watches.clear();
        if modified {
            return Ok(None);
        }
        data.tick += 1;
        if items.iter().any(|(_, item)| item.writes()) {
            self.journal.writable()?;
            // Room for every key the block might add (an upper bound).
            let adds = items.iter().filter(|(_, item)| item.may_add_key()).count() as u64;
            self.make_room(&mut data, adds, adds > 0, now)?;
        }
        let mut log = Vec::new();
        let results = items
            .iter()
            .map(|(namespace, item)| match item {
                ExecOp::Op(op) => data.run_logged(namespace, op, now, &mut log),
                ExecOp::Global(op) => data.run_global_logged(namespace, op, now, &mut log),
            })
            .collect();
        self.record_log(&log);
        Ok(Some(results))
    }
}

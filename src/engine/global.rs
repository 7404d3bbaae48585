//! Operations across namespaces: MOVE, COPY to another namespace, SWAPDB, FLUSHALL.
//! Each one is journaled as ONE record, however many namespaces it changes.

use super::{Data, Engine, Group, Mutation};
use crate::command::Reply;
use crate::command::redis::global::GlobalOp;
use crate::error::CommandError;

impl Engine {
    /// Runs an operation that spans namespaces; `namespace` is the caller's
    /// current one (the source of MOVE and COPY). Replies as Redis does:
    /// `Bool` for MOVE and COPY, `Ok` for SWAPDB and FLUSHALL.
    pub fn run_global(&self, namespace: &str, op: &GlobalOp) -> Result<Reply, CommandError> {
        let now = self.now();
        let mut data = self.lock();
        data.tick += 1;
        self.journal.writable()?;
        if op.may_add_key() {
            self.make_room(&mut data, 1, true, now)?;
        }
        let mut log = Vec::new();
        let reply = data.run_global_logged(namespace, op, now, &mut log)?;
        self.record_log(&log);
        Ok(reply)
    }
}

impl Data {
    /// Runs a cross-namespace operation on the live keyspaces, applying its
    /// changes at once and adding them to `log` (the caller records the log).
    pub(super) fn run_global_logged(
        &mut self,
        namespace: &str,
        op: &GlobalOp,
        now: u64,
        log: &mut Vec<Group>,
    ) -> Result<Reply, CommandError> {
        match op {
            GlobalOp::Move { key, to } => {
                if to == namespace {
                    return Err(CommandError::SameObject);
                }
                let Some(entry) = self
                    .keyspace(namespace)
                    .access(key, now)
                    .map(|e| e.to_entry())
                else {
                    return Ok(Reply::Bool(false));
                };
                if self.keyspace(to).access(key, now).is_some() {
                    return Ok(Reply::Bool(false));
                }
                let key: Box<[u8]> = key.as_slice().into();
                self.apply_logged(namespace, vec![Mutation::Delete(key.clone())], now, log);
                self.apply_logged(
                    to,
                    vec![Mutation::put(key, entry.value, entry.expires_at)],
                    now,
                    log,
                );
                self.forget_if_empty(namespace);
                Ok(Reply::Bool(true))
            }
            GlobalOp::Copy {
                source,
                destination,
                to,
                replace,
            } => {
                let to = to.as_deref().unwrap_or(namespace);
                if to == namespace && source == destination {
                    return Err(CommandError::SameObject);
                }
                let Some(entry) = self
                    .keyspace(namespace)
                    .access(source, now)
                    .map(|e| e.to_entry())
                else {
                    return Ok(Reply::Bool(false));
                };
                if !replace && self.keyspace(to).access(destination, now).is_some() {
                    return Ok(Reply::Bool(false));
                }
                let put = Mutation::put(destination.as_slice(), entry.value, entry.expires_at);
                self.apply_logged(to, vec![put], now, log);
                Ok(Reply::Bool(true))
            }
            GlobalOp::Swap(a, b) => {
                if a != b {
                    self.swap(a, b, now);
                    log.push(Group::Swap(a.clone(), b.clone()));
                }
                Ok(Reply::Ok)
            }
            GlobalOp::FlushAll => {
                let names: Vec<String> = self
                    .namespaces
                    .iter()
                    .filter(|(_, keyspace)| keyspace.stored_len() > 0)
                    .map(|(name, _)| name.clone())
                    .collect();
                for name in names {
                    self.apply_logged(&name, vec![Mutation::Clear], now, log);
                    self.forget_if_empty(&name);
                }
                self.pool.clear();
                Ok(Reply::Ok)
            }
        }
    }
}

//! The in-memory engine: the keyspace, time to live, transactions' overlays and
//! the semantics of every operation. It does no I/O and never parses text.

pub mod clock;
mod exec;
pub mod glob;
mod keyspace;
mod overlay;

use crate::command::{Op, Reply};
use crate::error::CommandError;
pub use clock::{Clock, ManualClock, SystemClock};
pub use keyspace::Keyspace;
pub use overlay::Changes;
use overlay::Overlay;
use std::sync::{Arc, Mutex, MutexGuard};

/// How many expired keys a write removes on its way, so expiry keeps up under
/// load without one command paying for a whole wave of deadlines.
const PURGE_PER_WRITE: usize = 16;

/// A stored value and its deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value's bytes.
    pub value: Box<[u8]>,
    /// Absolute expiry time in Unix milliseconds, if any.
    pub expires_at: Option<u64>,
}

impl Entry {
    /// True when the deadline has passed at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// One committed change, as the engine applies it (and as a log would record it).
/// Relative times are already resolved to absolute deadlines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mutation {
    /// Store a value with an optional absolute deadline.
    Put {
        /// Key.
        key: Box<[u8]>,
        /// Value.
        value: Box<[u8]>,
        /// Deadline in Unix milliseconds.
        expires_at: Option<u64>,
    },
    /// Remove a key.
    Delete(Box<[u8]>),
    /// Give an existing key an absolute deadline.
    Expire {
        /// Key.
        key: Box<[u8]>,
        /// Deadline in Unix milliseconds.
        at: u64,
    },
    /// Remove an existing key's deadline.
    Persist(Box<[u8]>),
    /// Remove every key.
    Clear,
}

/// What operations read from and apply changes to: the live keyspace, or a
/// transaction's overlay on top of it.
pub trait Store {
    /// The live (unexpired) entry for `key`.
    fn get(&self, key: &[u8], now: u64) -> Option<&Entry>;
    /// Applies one change.
    fn apply(&mut self, mutation: Mutation);
    /// Calls `f` for every live entry, in no particular order.
    fn for_each_live(&self, now: u64, f: &mut dyn FnMut(&[u8], &Entry));
    /// Number of live keys.
    fn live_len(&self, now: u64) -> usize;
}

/// The shared keyspace behind one lock, and the clock it reads.
#[derive(Debug)]
pub struct Engine {
    keyspace: Mutex<Keyspace>,
    clock: Arc<dyn Clock>,
}

/// A statement of an atomic group that failed: its 0-based index and error.
pub type GroupFailure = (usize, CommandError);

impl Engine {
    /// An empty engine reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Engine {
            keyspace: Mutex::new(Keyspace::default()),
            clock,
        }
    }

    /// The engine's current time in Unix milliseconds.
    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn lock(&self) -> MutexGuard<'_, Keyspace> {
        // A panic while holding the lock cannot leave a half-applied mutation
        // (apply does not panic), so the data is still consistent.
        self.keyspace.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one operation on the live keyspace.
    pub fn run(&self, op: &Op) -> Result<Reply, CommandError> {
        let now = self.now();
        let mut keyspace = self.lock();
        if op.writes() {
            keyspace.purge_expired(now, PURGE_PER_WRITE);
        }
        let mut changes = Vec::new();
        let reply = exec::execute(op, &*keyspace, now, &mut changes)?;
        for mutation in changes {
            keyspace.apply(mutation);
        }
        Ok(reply)
    }

    /// Runs one operation tentatively inside a transaction: it reads the live
    /// keyspace through the transaction's own changes, and records its writes there.
    pub fn run_in(&self, op: &Op, changes: &mut Changes) -> Result<Reply, CommandError> {
        let now = self.now();
        let keyspace = self.lock();
        let mut overlay = Overlay::new(&keyspace, changes);
        run_on(op, &mut overlay, now)
    }

    /// Runs operations as one atomic group under a single hold of the lock:
    /// either every one succeeds and all their changes are applied, or nothing is.
    pub fn run_atomic(&self, ops: &[Op]) -> Result<Vec<Reply>, GroupFailure> {
        let now = self.now();
        let mut keyspace = self.lock();
        keyspace.purge_expired(now, PURGE_PER_WRITE);
        let mut changes = Changes::default();
        let mut overlay = Overlay::new(&keyspace, &mut changes);
        let mut replies = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            replies.push(run_on(op, &mut overlay, now).map_err(|e| (index, e))?);
        }
        for mutation in changes.into_mutations() {
            keyspace.apply(mutation);
        }
        Ok(replies)
    }

    /// Removes up to `budget` expired keys; returns how many were removed.
    pub fn purge_expired(&self, budget: usize) -> usize {
        let now = self.now();
        self.lock().purge_expired(now, budget)
    }

    /// Up to `limit` live keys starting with `prefix`, sorted (for completion).
    pub fn keys_with_prefix(&self, prefix: &[u8], limit: usize) -> Vec<Vec<u8>> {
        let now = self.now();
        let keyspace = self.lock();
        let mut keys = Vec::new();
        keyspace.for_each_live(now, &mut |key, _| {
            if key.starts_with(prefix) {
                keys.push(key.to_vec());
            }
        });
        keys.sort_unstable();
        keys.truncate(limit);
        keys
    }

    /// Number of keys held in memory, including expired ones not yet removed.
    pub fn stored_len(&self) -> usize {
        self.lock().stored_len()
    }
}

fn run_on<S: Store>(op: &Op, store: &mut S, now: u64) -> Result<Reply, CommandError> {
    let mut changes = Vec::new();
    let reply = exec::execute(op, store, now, &mut changes)?;
    for mutation in changes {
        store.apply(mutation);
    }
    Ok(reply)
}

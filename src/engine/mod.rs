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
pub use keyspace::{Keyspace, PartitionSink};
pub use overlay::Changes;
use overlay::Overlay;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// The namespace a session starts in.
pub const DEFAULT_NAMESPACE: &str = "0";

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

/// Where committed changes go (the append-only log). The engine calls it while
/// holding its lock, so the journal's order is exactly the order of application.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// Refuses writes while the journal cannot take them (for example after a failed write).
    fn writable(&self) -> Result<(), CommandError>;
    /// Records one committed group of changes to a namespace.
    fn record(&self, namespace: &str, mutations: &[Mutation]);
    /// The sequence number of the last recorded group; a snapshot taken now covers it.
    /// Called under the engine's lock when a snapshot begins.
    fn checkpoint(&self) -> u64;
}

/// A journal that keeps nothing: an in-memory database.
#[derive(Debug, Default)]
pub struct NoJournal;

impl Journal for NoJournal {
    fn writable(&self) -> Result<(), CommandError> {
        Ok(())
    }
    fn record(&self, _namespace: &str, _mutations: &[Mutation]) {}
    fn checkpoint(&self) -> u64 {
        0
    }
}

/// Every namespace, and the sink of a snapshot in progress.
#[derive(Debug, Default)]
struct Data {
    namespaces: BTreeMap<String, Keyspace>,
    /// Read in place of a namespace that does not exist yet.
    empty: Keyspace,
    snapshot: Option<SnapshotSink>,
}

struct SnapshotSink(Box<dyn PartitionSink>);

impl std::fmt::Debug for SnapshotSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SnapshotSink")
    }
}

impl Data {
    fn keyspace(&self, namespace: &str) -> &Keyspace {
        self.namespaces.get(namespace).unwrap_or(&self.empty)
    }

    /// Applies a committed group to a namespace, creating it on first write.
    fn apply(&mut self, namespace: &str, mutations: Vec<Mutation>) {
        if !self.namespaces.contains_key(namespace) {
            self.namespaces
                .insert(namespace.to_string(), Keyspace::default());
        }
        let Some(keyspace) = self.namespaces.get_mut(namespace) else {
            return;
        };
        for mutation in mutations {
            let sink = self
                .snapshot
                .as_mut()
                .map(|s| (namespace, &mut *s.0 as &mut dyn PartitionSink));
            keyspace.apply_with(mutation, sink);
        }
    }
}

/// What a snapshot covers, fixed when it begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotStart {
    /// The journal sequence number it includes.
    pub seq: u64,
    /// Keys held at that moment (expired ones not yet purged included).
    pub keys: u64,
}

/// The keyspaces behind one lock, the clock they read and the journal they feed.
#[derive(Debug)]
pub struct Engine {
    data: Mutex<Data>,
    clock: Arc<dyn Clock>,
    journal: Arc<dyn Journal>,
}

/// A key, value and deadline read back from a backup.
pub type RestoredEntry = (Vec<u8>, Vec<u8>, Option<u64>);

/// A statement of an atomic group that failed: its 0-based index and error.
pub type GroupFailure = (usize, CommandError);

impl Engine {
    /// An empty in-memory engine reading time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self::with_journal(clock, Arc::new(NoJournal))
    }

    /// An empty engine whose committed changes go to `journal`.
    pub fn with_journal(clock: Arc<dyn Clock>, journal: Arc<dyn Journal>) -> Self {
        Engine {
            data: Mutex::new(Data::default()),
            clock,
            journal,
        }
    }

    /// The engine's current time in Unix milliseconds.
    pub fn now(&self) -> u64 {
        self.clock.now_ms()
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // Applying a mutation does not panic, so a poisoned lock still guards
        // consistent data.
        self.data.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one operation on a namespace of the live keyspace.
    pub fn run(&self, namespace: &str, op: &Op) -> Result<Reply, CommandError> {
        let now = self.now();
        let mut data = self.lock();
        if op.writes() {
            self.journal.writable()?;
        }
        let mut changes = Vec::new();
        let reply = exec::execute(op, data.keyspace(namespace), now, &mut changes)?;
        if !changes.is_empty() {
            self.journal.record(namespace, &changes);
            data.apply(namespace, changes);
        }
        Ok(reply)
    }

    /// Runs one operation tentatively inside a transaction: it reads the live
    /// keyspace through the transaction's own changes, and records its writes there.
    pub fn run_in(
        &self,
        namespace: &str,
        op: &Op,
        changes: &mut Changes,
    ) -> Result<Reply, CommandError> {
        let now = self.now();
        let data = self.lock();
        let mut overlay = Overlay::new(data.keyspace(namespace), changes);
        run_on(op, &mut overlay, now)
    }

    /// Runs operations as one atomic group under a single hold of the lock:
    /// either every one succeeds and all their changes are committed as one
    /// journal record, or nothing is.
    pub fn run_atomic(&self, namespace: &str, ops: &[Op]) -> Result<Vec<Reply>, GroupFailure> {
        let now = self.now();
        let mut data = self.lock();
        if ops.iter().any(Op::writes) {
            self.journal.writable().map_err(|e| (0, e))?;
        }
        let mut changes = Changes::default();
        let mut overlay = Overlay::new(data.keyspace(namespace), &mut changes);
        let mut replies = Vec::with_capacity(ops.len());
        for (index, op) in ops.iter().enumerate() {
            replies.push(run_on(op, &mut overlay, now).map_err(|e| (index, e))?);
        }
        let mutations = changes.into_mutations();
        if !mutations.is_empty() {
            self.journal.record(namespace, &mutations);
            data.apply(namespace, mutations);
        }
        Ok(replies)
    }

    /// Applies changes read back from disk at start-up (not journaled again).
    pub fn restore_group(&self, namespace: &str, mutations: Vec<Mutation>) {
        self.lock().apply(namespace, mutations);
    }

    /// Replaces every namespace with `groups` (namespace, entries) in one step.
    /// `persist` runs first, under the lock, with the journal sequence number
    /// the new content covers; if it fails nothing changes. Returns the key count.
    pub fn replace_all(
        &self,
        groups: Vec<(String, Vec<RestoredEntry>)>,
        persist: &mut dyn FnMut(u64) -> Result<(), String>,
    ) -> Result<u64, String> {
        let mut data = self.lock();
        if data.snapshot.is_some() {
            return Err("a snapshot is being written; try again".into());
        }
        let seq = self.journal.checkpoint();
        persist(seq)?;
        let mut fresh = Data::default();
        let mut keys = 0;
        for (namespace, entries) in groups {
            keys += entries.len() as u64;
            let mutations = entries
                .into_iter()
                .map(|(key, value, expires_at)| Mutation::Put {
                    key: key.into(),
                    value: value.into(),
                    expires_at,
                })
                .collect();
            fresh.apply(&namespace, mutations);
        }
        data.namespaces = fresh.namespaces;
        Ok(keys)
    }

    /// Commits already-resolved changes to a namespace as one journal record.
    pub fn commit(&self, namespace: &str, mutations: Vec<Mutation>) -> Result<(), CommandError> {
        let mut data = self.lock();
        self.journal.writable()?;
        if !mutations.is_empty() {
            self.journal.record(namespace, &mutations);
            data.apply(namespace, mutations);
        }
        Ok(())
    }

    /// Every live entry of a namespace, sorted by key (for export).
    pub fn entries(&self, namespace: &str) -> Vec<(Vec<u8>, Entry)> {
        let now = self.now();
        let data = self.lock();
        let mut out = Vec::new();
        data.keyspace(namespace)
            .for_each_live(now, &mut |key, entry| {
                out.push((key.to_vec(), entry.clone()));
            });
        out.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Removes up to `budget` expired keys; returns how many were removed.
    pub fn purge_expired(&self, budget: usize) -> usize {
        let now = self.now();
        let mut data = self.lock();
        let data = &mut *data;
        let mut removed = 0;
        for (name, keyspace) in &mut data.namespaces {
            let sink = data
                .snapshot
                .as_mut()
                .map(|s| (name.as_str(), &mut *s.0 as &mut dyn PartitionSink));
            removed += keyspace.purge_expired(now, budget - removed, sink);
            if removed == budget {
                break;
            }
        }
        removed
    }

    /// Starts a snapshot: fixes the journal sequence it covers and marks every
    /// partition pending. From now on the first change to a partition hands its
    /// old contents to `sink`; [`Engine::dump_next`] hands over the rest.
    /// Returns `None` when a snapshot is already running.
    pub fn begin_snapshot(&self, sink: Box<dyn PartitionSink>) -> Option<SnapshotStart> {
        let mut data = self.lock();
        if data.snapshot.is_some() {
            return None;
        }
        let seq = self.journal.checkpoint();
        let mut keys = 0;
        for keyspace in data.namespaces.values_mut() {
            keyspace.mark_pending();
            keys += keyspace.stored_len() as u64;
        }
        data.snapshot = Some(SnapshotSink(sink));
        Some(SnapshotStart { seq, keys })
    }

    /// Hands one pending partition to the snapshot; false when none is left.
    pub fn dump_next(&self) -> bool {
        let mut data = self.lock();
        let data = &mut *data;
        let Some(sink) = data.snapshot.as_mut() else {
            return false;
        };
        data.namespaces
            .iter_mut()
            .any(|(name, keyspace)| keyspace.dump_next_pending(name, &mut *sink.0))
    }

    /// Ends the running snapshot (after every partition was dumped, or to abandon it).
    pub fn end_snapshot(&self) {
        let mut data = self.lock();
        data.snapshot = None;
        for keyspace in data.namespaces.values_mut() {
            keyspace.clear_pending();
        }
    }

    /// Up to `limit` live keys of the default namespace starting with `prefix`, sorted (for completion).
    pub fn keys_with_prefix(&self, prefix: &[u8], limit: usize) -> Vec<Vec<u8>> {
        let now = self.now();
        let data = self.lock();
        let mut keys = Vec::new();
        data.keyspace(DEFAULT_NAMESPACE)
            .for_each_live(now, &mut |key, _| {
                if key.starts_with(prefix) {
                    keys.push(key.to_vec());
                }
            });
        keys.sort_unstable();
        keys.truncate(limit);
        keys
    }

    /// Number of keys held in memory across namespaces, including expired ones not yet removed.
    pub fn stored_len(&self) -> usize {
        self.lock()
            .namespaces
            .values()
            .map(Keyspace::stored_len)
            .sum()
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

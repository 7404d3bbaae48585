//! A transaction's private changes layered over the live keyspace, so the
//! transaction reads its own writes while nobody else sees them.

use super::keyspace::scan_position;
use super::{Apply, Entry, EntryRef, Keyspace, Mutation, Store};
use std::collections::HashMap;

/// The writes a transaction has made so far, and the mutations that made them.
#[derive(Debug, Default)]
pub struct Changes {
    /// Per key: `Some` for a written entry, `None` for a deleted one.
    writes: HashMap<Box<[u8]>, Option<Entry>>,
    /// True after `clear`: keys of the live keyspace are hidden.
    cleared: bool,
    mutations: Vec<Mutation>,
}

impl Changes {
    /// The mutations recorded, in order.
    pub fn into_mutations(self) -> Vec<Mutation> {
        self.mutations
    }
}

/// The live keyspace seen through a transaction's changes.
pub struct Overlay<'a> {
    base: &'a Keyspace,
    changes: &'a mut Changes,
}

impl<'a> Overlay<'a> {
    /// Layers `changes` over `base`.
    pub fn new(base: &'a Keyspace, changes: &'a mut Changes) -> Self {
        Overlay { base, changes }
    }

    fn with_deadline(&mut self, key: Box<[u8]>, at: Option<u64>) {
        // Mutations are only produced for keys that exist, but an entry that
        // vanished would simply stay missing.
        if let Some(entry) = self.current(&key) {
            let entry = Entry {
                value: Box::from(entry.value),
                expires_at: at,
            };
            self.changes.writes.insert(key, Some(entry));
        }
    }

    /// The entry as the transaction sees it, expired or not.
    fn current(&self, key: &[u8]) -> Option<EntryRef<'_>> {
        match self.changes.writes.get(key) {
            Some(written) => written.as_ref().map(Entry::view),
            None if self.changes.cleared => None,
            None => self.base.get(key, 0),
        }
    }
}

impl Store for Overlay<'_> {
    fn get(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        self.current(key).filter(|entry| !entry.is_expired(now))
    }

    /// A key the transaction has not written is read from the live keyspace,
    /// which records the access; a written one is stamped when committed.
    fn access(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        match self.changes.writes.get(key) {
            None if !self.changes.cleared => self.base.access(key, now),
            _ => self.get(key, now),
        }
    }

    fn for_each_live(&self, now: u64, f: &mut dyn FnMut(&[u8], EntryRef<'_>)) {
        if !self.changes.cleared {
            self.base.for_each_live(now, &mut |key, entry| {
                if !self.changes.writes.contains_key(key) {
                    f(key, entry);
                }
            });
        }
        for (key, entry) in &self.changes.writes {
            if let Some(entry) = entry.as_ref().filter(|e| !e.is_expired(now)) {
                f(key, entry.view());
            }
        }
    }

    fn live_len(&self, now: u64) -> usize {
        let mut n = 0;
        self.for_each_live(now, &mut |_, _| n += 1);
        n
    }

    /// The live keyspace's step, minus the keys the transaction wrote or
    /// deleted, plus the transaction's own live keys whose positions fall in
    /// the step's range. Positions are the same for both, so the guarantee is
    /// the live keyspace's: a key the transaction sees throughout the walk is
    /// seen exactly once.
    fn scan(
        &self,
        cursor: u64,
        count: usize,
        now: u64,
        f: &mut dyn FnMut(&[u8], EntryRef<'_>),
    ) -> u64 {
        let writes = &self.changes.writes;
        let hide_base = self.changes.cleared;
        let next = self.base.scan_entries(cursor, count, &mut |key, entry| {
            if !hide_base && !entry.is_expired(now) && !writes.contains_key(key) {
                f(key, entry);
            }
        });
        for (key, entry) in writes {
            let position = scan_position(key);
            let in_step = position >= cursor && (next == 0 || position < next);
            if let Some(entry) = entry.as_ref().filter(|e| in_step && !e.is_expired(now)) {
                f(key, entry.view());
            }
        }
        next
    }

    /// Picks among the transaction's own live keys and the live keyspace's
    /// visible ones in proportion to their numbers (the keyspace's counted
    /// with its expired keys, as it holds them).
    fn random_key(&self, now: u64, pick: &mut dyn FnMut() -> usize) -> Option<Box<[u8]>> {
        let own: Vec<&[u8]> = self
            .changes
            .writes
            .iter()
            .filter(|(_, entry)| entry.as_ref().is_some_and(|e| !e.is_expired(now)))
            .map(|(key, _)| &**key)
            .collect();
        let base = if self.changes.cleared {
            0
        } else {
            self.base.stored_len()
        };
        let total = own.len().checked_add(base).filter(|&n| n > 0)?;
        if let Some(key) = own.get(pick() % total) {
            return Some(Box::from(*key));
        }
        let writes = &self.changes.writes;
        self.base
            .random_key_where(now, pick, &|key| !writes.contains_key(key))
            .or_else(|| own.first().copied())
            .map(Box::from)
    }
}

impl Apply for Overlay<'_> {
    fn apply(&mut self, mutation: Mutation) {
        match &mutation {
            Mutation::Put {
                key,
                value,
                expires_at,
            } => {
                let entry = Entry {
                    value: value.clone(),
                    expires_at: *expires_at,
                };
                self.changes.writes.insert(key.clone(), Some(entry));
            }
            Mutation::Delete(key) => {
                self.changes.writes.insert(key.clone(), None);
            }
            Mutation::Expire { key, at } => self.with_deadline(key.clone(), Some(*at)),
            Mutation::Persist(key) => self.with_deadline(key.clone(), None),
            Mutation::Clear => {
                self.changes.writes.clear();
                self.changes.cleared = true;
            }
        }
        self.changes.mutations.push(mutation);
    }
}

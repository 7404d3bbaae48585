//! The live keyspace: a hash map of entries plus an index of deadlines, so
//! expired keys are found without scanning.

use super::{Entry, Mutation, Store};
use std::collections::{BTreeSet, HashMap};

/// All keys of the database and their deadlines.
#[derive(Debug, Default)]
pub struct Keyspace {
    map: HashMap<Box<[u8]>, Entry>,
    /// (deadline, key) for every key that has one, earliest first.
    deadlines: BTreeSet<(u64, Box<[u8]>)>,
}

impl Keyspace {
    /// Removes up to `budget` keys whose deadline is at or before `now`.
    pub fn purge_expired(&mut self, now: u64, budget: usize) -> usize {
        let mut removed = 0;
        while removed < budget {
            match self.deadlines.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            if let Some((_, key)) = self.deadlines.pop_first() {
                self.map.remove(&key);
                removed += 1;
            }
        }
        removed
    }

    /// Keys held, including expired ones not yet purged.
    pub fn stored_len(&self) -> usize {
        self.map.len()
    }

    fn forget_deadline(&mut self, key: &[u8], at: Option<u64>) {
        if let Some(at) = at {
            self.deadlines.remove(&(at, Box::from(key)));
        }
    }

    fn set_deadline(&mut self, key: &[u8], at: Option<u64>) {
        let Some(entry) = self.map.get_mut(key) else {
            return;
        };
        let old = std::mem::replace(&mut entry.expires_at, at);
        if old != at {
            self.forget_deadline(key, old);
            if let Some(at) = at {
                self.deadlines.insert((at, Box::from(key)));
            }
        }
    }
}

impl Store for Keyspace {
    fn get(&self, key: &[u8], now: u64) -> Option<&Entry> {
        self.map.get(key).filter(|entry| !entry.is_expired(now))
    }

    fn apply(&mut self, mutation: Mutation) {
        match mutation {
            Mutation::Put {
                key,
                value,
                expires_at,
            } => {
                let old_at = match self.map.get_mut(&key) {
                    Some(entry) => {
                        entry.value = value;
                        std::mem::replace(&mut entry.expires_at, expires_at)
                    }
                    None => {
                        if let Some(at) = expires_at {
                            self.deadlines.insert((at, key.clone()));
                        }
                        self.map.insert(key, Entry { value, expires_at });
                        return;
                    }
                };
                if old_at != expires_at {
                    self.forget_deadline(&key, old_at);
                    if let Some(at) = expires_at {
                        self.deadlines.insert((at, key));
                    }
                }
            }
            Mutation::Delete(key) => {
                if let Some(old) = self.map.remove(&key) {
                    self.forget_deadline(&key, old.expires_at);
                }
            }
            Mutation::Expire { key, at } => self.set_deadline(&key, Some(at)),
            Mutation::Persist(key) => self.set_deadline(&key, None),
            Mutation::Clear => {
                self.map.clear();
                self.deadlines.clear();
            }
        }
    }

    fn for_each_live(&self, now: u64, f: &mut dyn FnMut(&[u8], &Entry)) {
        for (key, entry) in &self.map {
            if !entry.is_expired(now) {
                f(key, entry);
            }
        }
    }

    fn live_len(&self, now: u64) -> usize {
        let expired = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .count();
        self.map.len() - expired
    }
}

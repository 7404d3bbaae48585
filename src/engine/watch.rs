//! WATCH: optimistic locking for EXEC. A connection's [`WatchSet`] registers
//! keys with the engine's registry; every change to a watched key marks the
//! watching sets modified, and EXEC aborts when its set was.
//!
//! Writers only look at the registry when something is watched: with nothing
//! watched, a write pays one atomic load.

use super::{Keyspace, Mutation, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One WATCH of one key by one set.
#[derive(Debug)]
struct Watcher {
    /// The set's "modified" flag.
    flag: Arc<AtomicBool>,
    /// The key was live when watched (so its expiry since is a change).
    existed: bool,
}

/// Watched keys by namespace, and who watches them.
type Watched = HashMap<String, HashMap<Box<[u8]>, Vec<Watcher>>>;

/// Every watched key of an engine. Locked after the engine's own lock, never before.
#[derive(Debug, Default)]
pub(super) struct Registry {
    /// Registered watchers, readable without the lock.
    count: AtomicUsize,
    watched: Mutex<Watched>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Watched> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when some key is watched. Writers' only cost when none is.
    pub(super) fn is_active(&self) -> bool {
        // The engine's lock orders registrations before writes, so a relaxed
        // load sees every watcher registered before the write began.
        self.count.load(Ordering::Relaxed) > 0
    }

    /// Registered watches (one per set and key).
    pub(super) fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn add(&self, namespace: &str, key: &[u8], watcher: Watcher) {
        let mut watched = self.lock();
        watched
            .entry(namespace.to_string())
            .or_default()
            .entry(Box::from(key))
            .or_default()
            .push(watcher);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Forgets the watchers of `flag` on `keys`.
    fn remove(&self, flag: &Arc<AtomicBool>, keys: &[(String, Box<[u8]>, bool)]) {
        let mut watched = self.lock();
        for (namespace, key, _) in keys {
            let Some(by_key) = watched.get_mut(namespace) else {
                continue;
            };
            if let Some(watchers) = by_key.get_mut(key) {
                let before = watchers.len();
                watchers.retain(|w| !Arc::ptr_eq(&w.flag, flag));
                self.count
                    .fetch_sub(before - watchers.len(), Ordering::Relaxed);
                if watchers.is_empty() {
                    by_key.remove(key);
                }
            }
            if by_key.is_empty() {
                watched.remove(namespace);
            }
        }
    }

    /// Marks modified the sets watching keys that `mutations` change in
    /// `namespace`, whose contents before the change are `before`.
    pub(super) fn touch(&self, namespace: &str, mutations: &[Mutation], before: &Keyspace) {
        let watched = self.lock();
        let Some(by_key) = watched.get(namespace) else {
            return;
        };
        for mutation in mutations {
            match mutation {
                Mutation::Put { key, .. }
                | Mutation::Delete(key)
                | Mutation::Expire { key, .. }
                | Mutation::Persist(key) => {
                    for watcher in by_key.get(key).into_iter().flatten() {
                        watcher.flag.store(true, Ordering::Relaxed);
                    }
                }
                // Removing a key that was already expired when watched
                // changes nothing logically, as in Redis.
                Mutation::Clear => mark(by_key, |key, existed| {
                    existed && before.get(key, 0).is_some()
                }),
            }
        }
    }

    /// Marks modified the watchers of keys in `namespace` for which
    /// `changed(key, existed when watched)` holds.
    pub(super) fn touch_where(&self, namespace: &str, changed: impl Fn(&[u8], bool) -> bool) {
        if let Some(by_key) = self.lock().get(namespace) {
            mark(by_key, changed);
        }
    }

    /// Marks every watching set modified (the whole content was replaced).
    pub(super) fn touch_all(&self) {
        for by_key in self.lock().values() {
            mark(by_key, |_, _| true);
        }
    }
}

fn mark(by_key: &HashMap<Box<[u8]>, Vec<Watcher>>, changed: impl Fn(&[u8], bool) -> bool) {
    for (key, watchers) in by_key {
        for watcher in watchers {
            if changed(key, watcher.existed) {
                watcher.flag.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// The keys one connection watches (Redis's WATCH), for [`super::Engine::run_exec`].
/// Fill it with [`super::Engine::watch`]; [`WatchSet::clear`] is UNWATCH.
/// Dropping the set unwatches its keys.
#[derive(Debug, Default)]
pub struct WatchSet {
    /// The registry the keys are registered with (set by the first watch).
    registry: Option<Arc<Registry>>,
    /// Set by writers when a watched key changes.
    flag: Arc<AtomicBool>,
    /// Namespace, key, and whether the key was live when watched.
    keys: Vec<(String, Box<[u8]>, bool)>,
}

impl WatchSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// True when no key is watched.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys are watched.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// True when `key` of `namespace` is watched.
    pub fn contains(&self, namespace: &str, key: &[u8]) -> bool {
        self.keys
            .iter()
            .any(|(ns, k, _)| ns == namespace && &**k == key)
    }

    /// Unwatches every key (Redis's UNWATCH; EXEC and DISCARD do it too).
    pub fn clear(&mut self) {
        if let Some(registry) = self.registry.take() {
            registry.remove(&self.flag, &self.keys);
        }
        self.keys.clear();
        // Nobody can set the flag any more: its watchers are gone.
        self.flag.store(false, Ordering::Relaxed);
    }

    /// Registers `key` of `namespace` (live or not at this moment) with `registry`.
    pub(super) fn add(
        &mut self,
        registry: &Arc<Registry>,
        namespace: &str,
        key: &[u8],
        live: bool,
    ) {
        if self
            .registry
            .as_ref()
            .is_some_and(|r| !Arc::ptr_eq(r, registry))
        {
            // Keys watched on another engine mean nothing here.
            self.clear();
        }
        if self.contains(namespace, key) {
            return;
        }
        registry.add(
            namespace,
            key,
            Watcher {
                flag: self.flag.clone(),
                existed: live,
            },
        );
        self.registry = Some(registry.clone());
        self.keys
            .push((namespace.to_string(), Box::from(key), live));
    }

    /// True when a watched key changed since it was watched: a write marked
    /// the set, or a key that was live then is gone now (it expired).
    pub(super) fn is_modified(&self, live: impl Fn(&str, &[u8]) -> bool) -> bool {
        self.flag.load(Ordering::Relaxed)
            || self
                .keys
                .iter()
                .any(|(namespace, key, existed)| *existed && !live(namespace, key))
    }
}

impl Drop for WatchSet {
    fn drop(&mut self) {
        self.clear();
    }
}

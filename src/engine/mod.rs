//! The in-memory engine: the keyspace, time to live, transactions' overlays and
//! the semantics of every operation. It does no I/O and never parses text.

mod access;
pub mod clock;
mod exec;
mod found;
pub mod glob;
mod global;
mod inspect;
mod keyops;
mod keyspace;
mod multi;
mod overlay;
mod packed;
mod strings;
mod table;
mod watch;

use crate::command::{Op, Reply};
use crate::error::CommandError;
pub use clock::{Clock, ManualClock, SystemClock};
use found::Found;
use keyspace::Place;
pub use keyspace::{
    Candidate, Counters, ENTRY_OVERHEAD, Keyspace, PartitionImage, PartitionSink, Stamp,
};
pub use multi::ExecOp;
pub use overlay::Changes;
use overlay::Overlay;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
pub use watch::WatchSet;

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
        self.view().is_expired(now)
    }

    /// A borrowed view of this entry.
    pub fn view(&self) -> EntryRef<'_> {
        EntryRef {
            value: &self.value,
            expires_at: self.expires_at,
        }
    }
}

/// A stored value and its deadline, borrowed from wherever it is kept (the
/// keyspace packs key, value and deadline into one allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryRef<'a> {
    /// The value's bytes.
    pub value: &'a [u8],
    /// Absolute expiry time in Unix milliseconds, if any.
    pub expires_at: Option<u64>,
}

impl EntryRef<'_> {
    /// True when the deadline has passed at `now`.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }

    /// An owned copy.
    pub fn to_entry(&self) -> Entry {
        Entry {
            value: Box::from(self.value),
            expires_at: self.expires_at,
        }
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

impl Mutation {
    /// A put of `key` and `value` with an optional absolute deadline.
    pub fn put(
        key: impl Into<Box<[u8]>>,
        value: impl Into<Box<[u8]>>,
        expires_at: Option<u64>,
    ) -> Self {
        Mutation::Put {
            key: key.into(),
            value: value.into(),
            expires_at,
        }
    }
}

/// One part of a journal record. A record made of several groups (a MOVE,
/// a SWAPDB, an EXEC spanning namespaces) is applied all or none at recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// Changes to one namespace, in order (the namespace is created on first write).
    Changes(String, Vec<Mutation>),
    /// The contents of two namespaces are exchanged (SWAPDB).
    Swap(String, String),
}

/// What operations read from: the live keyspace, or a transaction's overlay
/// on top of it.
pub trait Store {
    /// The live (unexpired) entry for `key`.
    fn get(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>>;
    /// [`Store::get`] for a command that uses the key, which records the read
    /// as the key's last access (OBJECT IDLETIME). As in Redis, commands that
    /// only look (EXISTS, TYPE, TTL and the like, OBJECT) use `get` instead.
    fn access(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>>;
    /// Calls `f` for every live entry, in no particular order.
    fn for_each_live(&self, now: u64, f: &mut dyn FnMut(&[u8], EntryRef<'_>));
    /// Number of live keys.
    fn live_len(&self, now: u64) -> usize;
    /// One step of a SCAN walk from `cursor` (0 starts one), examining about
    /// `count` keys: calls `f` for the live entries of the step and returns
    /// the next cursor, 0 when the walk is over. A key present during the
    /// whole walk is seen exactly once.
    fn scan(
        &self,
        cursor: u64,
        count: usize,
        now: u64,
        f: &mut dyn FnMut(&[u8], EntryRef<'_>),
    ) -> u64;
    /// A live key picked at random, `None` when there is none; `pick()`
    /// supplies random numbers.
    fn random_key(&self, now: u64, pick: &mut dyn FnMut() -> usize) -> Option<Box<[u8]>>;
}

/// A [`Store`] that takes the changes operations make.
pub trait Apply: Store {
    /// Applies one change.
    fn apply(&mut self, mutation: Mutation);
}

/// Where committed changes go (the append-only log). The engine calls it while
/// holding its lock, so the journal's order is exactly the order of application.
pub trait Journal: Send + Sync + std::fmt::Debug {
    /// Refuses writes while the journal cannot take them (for example after a failed write).
    fn writable(&self) -> Result<(), CommandError>;
    /// Records one committed group of changes to a namespace.
    fn record(&self, namespace: &str, mutations: &[Mutation]);
    /// Records a group of one put given by its parts (the same record as
    /// [`Journal::record`] of that put; a journal may encode it without
    /// building the mutation).
    fn record_put(&self, namespace: &str, key: &[u8], value: &[u8], expires_at: Option<u64>) {
        self.record(namespace, &[Mutation::put(key, value, expires_at)]);
    }
    /// Records one group of one put (without a deadline) per pair, in order:
    /// exactly what [`Journal::record_put`] of each would record.
    fn record_puts(&self, namespace: &str, pairs: &[(&[u8], &[u8])]) {
        for (key, value) in pairs {
            self.record_put(namespace, key, value, None);
        }
    }
    /// Records several groups, in order, as ONE record: recovery applies all
    /// of them or none.
    fn record_groups(&self, groups: &[Group]);
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
    fn record_groups(&self, _groups: &[Group]) {}
    fn checkpoint(&self) -> u64 {
        0
    }
}

/// What to do when a write needs room, as Redis's `maxmemory-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Eviction {
    /// Refuse writes that need room.
    #[default]
    Noeviction,
    /// Evict the least recently used key.
    AllkeysLru,
    /// Evict the least recently used key among those with a TTL.
    VolatileLru,
    /// Evict a random key.
    AllkeysRandom,
    /// Evict the key with the nearest deadline.
    VolatileTtl,
}

impl Eviction {
    /// Every policy, by name.
    pub const ALL: [(&'static str, Eviction); 5] = [
        ("noeviction", Eviction::Noeviction),
        ("allkeys-lru", Eviction::AllkeysLru),
        ("volatile-lru", Eviction::VolatileLru),
        ("allkeys-random", Eviction::AllkeysRandom),
        ("volatile-ttl", Eviction::VolatileTtl),
    ];

    /// The policy named `name` (as in Redis).
    pub fn parse(name: &str) -> Result<Eviction, String> {
        Self::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, e)| *e)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(n, _)| *n).collect();
                format!(
                    "unknown eviction policy '{name}' (expected one of {})",
                    names.join(", ")
                )
            })
    }

    /// True for the policies that evict by last use.
    pub fn uses_recency(self) -> bool {
        matches!(self, Eviction::AllkeysLru | Eviction::VolatileLru)
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, e)| *e == self)
            .map_or("noeviction", |(n, _)| n)
    }
}

/// Capacity limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Most keys across namespaces.
    pub max_keys: Option<u64>,
    /// Most estimated bytes across namespaces.
    pub maxmemory: Option<u64>,
    /// What to evict when a limit is reached.
    pub policy: Eviction,
}

/// Keys sampled per eviction, as Redis's `maxmemory-samples`.
const EVICTION_SAMPLES: usize = 5;
/// Best candidates kept between evictions, as Redis's eviction pool.
const EVICTION_POOL: usize = 16;

/// Every namespace, and the sink of a snapshot in progress.
#[derive(Debug, Default)]
struct Data {
    namespaces: BTreeMap<String, Keyspace>,
    /// Read in place of a namespace that does not exist yet.
    empty: Keyspace,
    snapshot: Option<SnapshotSink>,
    /// Logical clock: advances once per operation; orders key uses for LRU.
    tick: u64,
    limits: Limits,
    /// Eviction candidates kept between evictions: (last use, namespace, key).
    pool: Vec<(u64, String, Box<[u8]>)>,
    rng: u64,
    /// Keys watched by connections (WATCH).
    watchers: Arc<watch::Registry>,
}

/// [`Data::note_key_use`] in `keyspace`, at logical time `tick`.
fn note_key_use_in(
    keyspace: &mut Keyspace,
    key: &[u8],
    place: Option<Place>,
    found: Option<bool>,
    tick: u64,
    limits: Limits,
) {
    match found {
        Some(false) => keyspace.counters.misses += 1,
        Some(true) => keyspace.counters.hits += 1,
        None => {}
    }
    // Recency only matters to LRU policies; others skip the bookkeeping.
    if limits.policy.uses_recency()
        && let Some(place) = place
    {
        keyspace.touch_at(place, key, tick);
    }
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

    fn keyspace_mut(&mut self, namespace: &str) -> &mut Keyspace {
        if !self.namespaces.contains_key(namespace) {
            self.namespaces
                .insert(namespace.to_string(), Keyspace::default());
        }
        self.namespaces
            .get_mut(namespace)
            .expect("namespace was just inserted")
    }

    /// What entries written at `now` record about their use: the access
    /// time always, the tick only for LRU policies (others do not store it).
    fn stamp(&self, now: u64) -> Stamp {
        Stamp {
            access: access::stamp(now),
            tick: self.limits.policy.uses_recency().then_some(self.tick),
        }
    }

    /// Applies a committed group to a namespace at `now`, creating it on
    /// first write. `mutations` is a `Vec`, or an array when the caller knows
    /// how many.
    fn apply<M>(&mut self, namespace: &str, mutations: M, now: u64)
    where
        M: AsRef<[Mutation]> + IntoIterator<Item = Mutation>,
    {
        let stamp = self.stamp(now);
        if self.watchers.is_active() {
            self.watchers
                .touch(namespace, mutations.as_ref(), self.keyspace(namespace));
        }
        // One lookup when the namespace exists (nearly always).
        let keyspace = match self.namespaces.get_mut(namespace) {
            Some(keyspace) => keyspace,
            None => self.namespaces.entry(namespace.to_string()).or_default(),
        };
        for mutation in mutations {
            let sink = self
                .snapshot
                .as_mut()
                .map(|s| (namespace, &mut *s.0 as &mut dyn PartitionSink));
            keyspace.apply_with(mutation, stamp, sink);
        }
    }

    /// [`Data::apply`] of one put given by its parts, which the new entry
    /// copies (no mutation is built unless watchers need one).
    fn apply_put(
        &mut self,
        namespace: &str,
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
        now: u64,
    ) {
        if self.watchers.is_active() {
            return self.apply(namespace, [Mutation::put(key, value, expires_at)], now);
        }
        let stamp = self.stamp(now);
        self.with_keyspace(namespace, |keyspace, sink| {
            keyspace.put(key, value, expires_at, stamp, sink);
        });
    }

    /// Calls `f` with the keyspace of `namespace` (created when missing, with
    /// one look-up when it exists) and the sink of a running snapshot, which
    /// a write hands the partition it touches to first.
    fn with_keyspace<R>(
        &mut self,
        namespace: &str,
        f: impl FnOnce(&mut Keyspace, Option<(&str, &mut dyn PartitionSink)>) -> R,
    ) -> R {
        let keyspace = match self.namespaces.get_mut(namespace) {
            Some(keyspace) => keyspace,
            None => self.namespaces.entry(namespace.to_string()).or_default(),
        };
        let sink = self
            .snapshot
            .as_mut()
            .map(|s| (namespace, &mut *s.0 as &mut dyn PartitionSink));
        f(keyspace, sink)
    }

    /// [`Data::apply_put`] of each pair in order, without a deadline, each
    /// a tick after the one before (see [`Keyspace::put_all`]).
    fn apply_puts(&mut self, namespace: &str, pairs: &[(&[u8], &[u8])], now: u64) {
        if self.watchers.is_active() {
            for (key, value) in pairs {
                self.tick += 1;
                self.apply_put(namespace, key, value, None, now);
            }
            return;
        }
        let first_tick = self.tick + 1;
        self.tick += pairs.len() as u64;
        let Stamp { access, tick } = self.stamp(now);
        self.with_keyspace(namespace, |keyspace, sink| {
            keyspace.put_all(pairs, access, tick.map(|_| first_tick), sink);
        });
    }

    /// Applies `mutations` to `namespace` at `now` and adds them to `log`,
    /// the groups of one journal record in the making.
    fn apply_logged(
        &mut self,
        namespace: &str,
        mutations: Vec<Mutation>,
        now: u64,
        log: &mut Vec<Group>,
    ) {
        if mutations.is_empty() {
            return;
        }
        match log.last_mut() {
            Some(Group::Changes(last, logged)) if last == namespace => {
                logged.extend(mutations.iter().cloned());
            }
            _ => log.push(Group::Changes(namespace.to_string(), mutations.clone())),
        }
        self.apply(namespace, mutations, now);
    }

    /// Applies one recovered or committed group.
    fn apply_group(&mut self, group: Group, now: u64) {
        match group {
            Group::Changes(namespace, mutations) => {
                self.apply(&namespace, mutations, now);
                self.forget_if_empty(&namespace);
            }
            Group::Swap(a, b) => self.swap(&a, &b, now),
        }
    }

    /// Exchanges the contents of two namespaces. A running snapshot first
    /// gets both as they are, under their present names.
    fn swap(&mut self, a: &str, b: &str, now: u64) {
        if a == b {
            return;
        }
        if let Some(sink) = self.snapshot.as_mut() {
            for name in [a, b] {
                if let Some(keyspace) = self.namespaces.get_mut(name) {
                    keyspace.dump_all_pending(name, &mut *sink.0);
                }
            }
        }
        if self.watchers.is_active() {
            for (from, to) in [(a, b), (b, a)] {
                let (before, after) = (self.keyspace(from), self.keyspace(to));
                // Changed when the key was there before (as its watcher saw
                // it) or is there after.
                self.watchers.touch_where(from, |key, existed| {
                    (existed && before.get(key, 0).is_some()) || after.get(key, now).is_some()
                });
            }
        }
        let first = self.namespaces.remove(a);
        let second = self.namespaces.remove(b);
        for (name, keyspace) in [(a, second), (b, first)] {
            if let Some(keyspace) = keyspace.filter(|k| k.stored_len() > 0) {
                self.namespaces.insert(name.to_string(), keyspace);
            }
        }
        self.pool.clear();
    }

    /// Forgets a namespace left without keys (after a clear or a flush).
    fn forget_if_empty(&mut self, namespace: &str) {
        if self
            .namespaces
            .get(namespace)
            .is_some_and(|k| k.stored_len() == 0)
        {
            self.namespaces.remove(namespace);
        }
    }

    /// Counts a single-key read's hit or miss and marks the key used: `key`
    /// is `op`'s, stored at `place` (`None` when it is not).
    fn note_use(
        &mut self,
        namespace: &str,
        op: &Op,
        key: &[u8],
        reply: &Reply,
        place: Option<Place>,
    ) {
        let found = match (op, reply) {
            (
                Op::Get(_) | Op::Exists(_) | Op::Ttl(_),
                Reply::Nil | Reply::Bool(false) | Reply::Int(-2),
            ) => Some(false),
            (Op::Get(_) | Op::Exists(_) | Op::Ttl(_), _) => Some(true),
            _ => None,
        };
        self.note_key_use(namespace, key, place, found);
    }

    /// Counts the keys a Redis read command looks up as hits or misses, as
    /// Redis does, before it runs (a failure later, such as BITCOUNT's bad
    /// range, does not undo the look-up). inmem's own reads are counted
    /// from their replies ([`Data::note_use`]), with no look-up of their own.
    fn count_redis_reads(&mut self, namespace: &str, op: &Op, now: u64) {
        let (mut hits, mut misses) = (0, 0);
        // Found only for a command that reads keys: writes pay nothing.
        let mut keyspace = None;
        let mut count = |key: &[u8]| {
            let keyspace = *keyspace.get_or_insert_with(|| self.keyspace(namespace));
            match keyspace.get(key, now) {
                Some(_) => hits += 1,
                None => misses += 1,
            }
        };
        match op {
            Op::Str(op) => op.for_each_read_key(&mut count),
            Op::Key(op) => op.for_each_read_key(&mut count),
            _ => return,
        }
        if hits + misses > 0 {
            let counters = &mut self.keyspace_mut(namespace).counters;
            counters.hits += hits;
            counters.misses += misses;
        }
    }

    /// Marks `key`, stored at `place` (`None` when it is not), used and,
    /// for a read that looked it up, counts whether it was `found` (a hit)
    /// or not (a miss).
    fn note_key_use(
        &mut self,
        namespace: &str,
        key: &[u8],
        place: Option<Place>,
        found: Option<bool>,
    ) {
        let (tick, limits) = (self.tick, self.limits);
        note_key_use_in(
            self.keyspace_mut(namespace),
            key,
            place,
            found,
            tick,
            limits,
        );
    }

    /// `get key` at `now` in a namespace: `f` of the live value, or of
    /// none (one look-up of the namespace when it exists, the commonest case).
    fn get_with<R>(
        &mut self,
        namespace: &str,
        key: &[u8],
        now: u64,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> R {
        let (tick, limits) = (self.tick, self.limits);
        let Some(keyspace) = self.namespaces.get_mut(namespace) else {
            self.note_key_use(namespace, key, None, Some(false));
            return f(None);
        };
        let (entry, place) = if limits.policy.uses_recency() {
            // One look-up for the read and the record of its use.
            let place = keyspace.place(key);
            (
                place.and_then(|place| keyspace.access_at(place, now)),
                place,
            )
        } else {
            (keyspace.access(key, now), None)
        };
        let value = entry.map(|entry| entry.value);
        let found = value.is_some();
        let answer = f(value);
        note_key_use_in(keyspace, key, place, Some(found), tick, limits);
        answer
    }

    /// Runs one operation on the live keyspace, pushing its changes onto
    /// `changes` (not applied), and notes its use of its key.
    fn execute(
        &mut self,
        namespace: &str,
        op: &Op,
        now: u64,
        changes: &mut Vec<Mutation>,
    ) -> Result<Reply, CommandError> {
        self.count_redis_reads(namespace, op, now);
        let keyspace = self.keyspace(namespace);
        let Some(key) = op.key() else {
            return exec::execute(op, keyspace, now, changes);
        };
        let (reply, place) = if self.limits.policy.uses_recency() {
            // The key is looked up once, for the operation's reads and the
            // record of its use.
            let store = Found::new(keyspace, key);
            (exec::execute(op, &store, now, changes)?, store.place())
        } else {
            (exec::execute(op, keyspace, now, changes)?, None)
        };
        self.note_use(namespace, op, key, &reply, place);
        Ok(reply)
    }

    /// Runs one operation on the live keyspace, applying its changes at once
    /// and adding them to `log` (the caller records the log).
    fn run_logged(
        &mut self,
        namespace: &str,
        op: &Op,
        now: u64,
        log: &mut Vec<Group>,
    ) -> Result<Reply, CommandError> {
        let mut changes = Vec::new();
        let reply = self.execute(namespace, op, now, &mut changes)?;
        self.apply_logged(namespace, changes, now, log);
        Ok(reply)
    }

    fn random(&mut self) -> usize {
        // xorshift64: cheap and good enough to pick eviction samples.
        let mut x = if self.rng == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            self.rng
        };
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x as usize
    }

    fn total_keys(&self) -> u64 {
        self.namespaces
            .values()
            .map(|k| k.stored_len() as u64)
            .sum()
    }

    fn total_bytes(&self) -> u64 {
        self.namespaces.values().map(Keyspace::bytes).sum()
    }

    /// `n` random numbers for sampling.
    fn randoms(&mut self, n: usize) -> Vec<usize> {
        (0..n).map(|_| self.random()).collect()
    }

    /// The key to evict under `policy`, if any qualifies.
    fn choose_victim(&mut self, policy: Eviction) -> Option<(String, Box<[u8]>)> {
        match policy {
            Eviction::Noeviction => None,
            Eviction::VolatileTtl => self
                .namespaces
                .iter()
                .filter_map(|(name, ks)| ks.soonest_deadline().map(|c| (c, name)))
                .min_by_key(|(c, _)| c.expires_at)
                .map(|(c, name)| (name.clone(), c.key)),
            Eviction::AllkeysRandom => {
                let names: Vec<String> = self
                    .namespaces
                    .iter()
                    .filter(|(_, ks)| ks.stored_len() > 0)
                    .map(|(n, _)| n.clone())
                    .collect();
                let name = names.get(self.random() % names.len().max(1))?.clone();
                let randoms = self.randoms(16);
                let mut next = randoms.into_iter().cycle();
                let mut pick = move || next.next().unwrap_or(0);
                let found = self.namespaces.get(&name)?.sample(1, &mut pick);
                found.into_iter().next().map(|c| (name, c.key))
            }
            Eviction::AllkeysLru | Eviction::VolatileLru => {
                self.choose_lru(policy == Eviction::VolatileLru)
            }
        }
    }

    /// Sampled LRU with a pool of the best candidates seen, as Redis does.
    fn choose_lru(&mut self, volatile_only: bool) -> Option<(String, Box<[u8]>)> {
        let total = self.total_keys().max(1);
        let names: Vec<String> = self.namespaces.keys().cloned().collect();
        let mut pool = std::mem::take(&mut self.pool);
        for name in names {
            let randoms = self.randoms(EVICTION_SAMPLES * 16);
            let Some(ks) = self.namespaces.get(&name) else {
                continue;
            };
            if ks.stored_len() == 0 {
                continue;
            }
            let share = (EVICTION_SAMPLES as u64 * ks.stored_len() as u64).div_ceil(total);
            let mut next = randoms.into_iter().cycle();
            let mut pick = move || next.next().unwrap_or(0);
            let sample = ks.sample(share.max(1) as usize, &mut pick);
            pool.extend(
                sample
                    .into_iter()
                    .filter(|c| !volatile_only || c.expires_at.is_some())
                    .map(|c| (c.last_used, name.clone(), c.key)),
            );
        }
        // Keep only candidates that still exist, unchanged since sampled.
        pool.retain(|(used, name, key)| {
            self.namespaces
                .get(name)
                .and_then(|ks| ks.last_used(key))
                .is_some_and(|now| now == *used)
        });
        pool.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.2.cmp(&b.2)));
        pool.dedup_by(|a, b| a.1 == b.1 && a.2 == b.2);
        let best = (!pool.is_empty()).then(|| pool.remove(0));
        pool.truncate(EVICTION_POOL);
        self.pool = pool;
        best.map(|(_, name, key)| (name, key))
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

/// One namespace's figures for `stats`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceStats {
    /// Its name.
    pub name: String,
    /// Live keys.
    pub keys: u64,
    /// Keys with a TTL.
    pub expiring: u64,
    /// Estimated bytes.
    pub bytes: u64,
    /// Hits, misses, evictions, expirations.
    pub counters: Counters,
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
        self.run_cow(namespace, Cow::Borrowed(op), self.now())
    }

    /// [`Engine::run`] on an operation the caller gives up: a `put` moves its
    /// key and value into the keyspace instead of copying them.
    pub fn run_owned(&self, namespace: &str, op: Op) -> Result<Reply, CommandError> {
        self.run_owned_at(namespace, op, self.now())
    }

    /// [`Engine::run_owned`] at time `now` (Unix milliseconds) that the
    /// caller read from [`Engine::now`]: a pipelined batch of requests reads
    /// the clock once rather than once per request.
    pub fn run_owned_at(&self, namespace: &str, op: Op, now: u64) -> Result<Reply, CommandError> {
        self.run_cow(namespace, Cow::Owned(op), now)
    }

    /// `get key` at time `now`, as [`Engine::run_owned_at`] runs it, from the
    /// borrowed key (the request's own bytes, not copied into an operation):
    /// `f` gets the value where it is stored, or none, under the engine's
    /// lock, so a front-end can encode its reply without copying it first.
    pub fn get_with<R>(
        &self,
        namespace: &str,
        key: &[u8],
        now: u64,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> R {
        let mut data = self.lock();
        data.tick += 1;
        data.get_with(namespace, key, now, f)
    }

    fn run_cow(&self, namespace: &str, op: Cow<'_, Op>, now: u64) -> Result<Reply, CommandError> {
        let mut data = self.lock();
        data.tick += 1;
        if op.writes() {
            let key = op.key().filter(|_| op.may_add_key());
            self.admit_write(&mut data, namespace, key, op.may_add_key(), now)?;
        }
        // A put reads nothing and counts no hit or miss; applying it marks
        // the key used, so it needs no `note_use`. Its one mutation needs no Vec.
        let op = match op {
            Cow::Owned(Op::Put { key, value, ttl_ms }) => {
                let expires_at = ttl_ms.map(|ms| exec::deadline(now, ms));
                let put = [Mutation::Put {
                    key: key.into(),
                    value: value.into(),
                    expires_at,
                }];
                self.journal.record(namespace, &put);
                data.apply(namespace, put, now);
                return Ok(Reply::Ok);
            }
            op => op,
        };
        let mut changes = Vec::new();
        let reply = data.execute(namespace, &op, now, &mut changes)?;
        if !changes.is_empty() {
            self.journal.record(namespace, &changes);
            data.apply(namespace, changes, now);
        }
        Ok(reply)
    }

    /// Stores `value` under `key` in a namespace of the live keyspace, with no
    /// time to live: what running `put key value` does, from borrowed bytes
    /// (the statement's own words, not copied into an operation first).
    pub fn put(&self, namespace: &str, key: &[u8], value: &[u8]) -> Result<Reply, CommandError> {
        match self.put_run(namespace, &[(key, value)]) {
            (_, Some(e)) => Err(e),
            _ => Ok(Reply::Ok),
        }
    }

    /// Runs `put key value` for each pair in order, as [`Engine::put`] of each
    /// would, under one hold of the lock (and, without key or memory limits,
    /// one hold of the journal's). Stops at the first that fails: returns how
    /// many were done and that failure.
    pub fn put_run(
        &self,
        namespace: &str,
        pairs: &[(&[u8], &[u8])],
    ) -> (usize, Option<CommandError>) {
        // One clock reading stamps the whole run, as if it ran in an instant.
        let now = self.now();
        let mut data = self.lock();
        if data.limits.max_keys.is_some() || data.limits.maxmemory.is_some() {
            // Each put's room depends on the ones before it.
            for (done, (key, value)) in pairs.iter().enumerate() {
                data.tick += 1;
                if let Err(e) = self.admit_write(&mut data, namespace, Some(key), true, now) {
                    return (done, Some(e));
                }
                self.journal.record_put(namespace, key, value, None);
                data.apply_put(namespace, key, value, None, now);
            }
            return (pairs.len(), None);
        }
        if let Err(e) = self.journal.writable() {
            return (0, Some(e));
        }
        self.journal.record_puts(namespace, pairs);
        data.apply_puts(namespace, pairs, now);
        (pairs.len(), None)
    }

    /// Checks that a write may go ahead: the log accepts records, and under a
    /// key or memory limit there is room, evicting to make it. `new_key` is
    /// the key the write may add (counted when it does not exist yet);
    /// `grows` says whether the write may add bytes.
    fn admit_write(
        &self,
        data: &mut Data,
        namespace: &str,
        new_key: Option<&[u8]>,
        grows: bool,
        now: u64,
    ) -> Result<(), CommandError> {
        self.journal.writable()?;
        if data.limits.max_keys.is_none() && data.limits.maxmemory.is_none() {
            return Ok(());
        }
        let adds = new_key.is_some_and(|key| data.keyspace(namespace).get(key, now).is_none());
        self.make_room(data, u64::from(adds), grows, now)
    }

    /// Evicts keys until `adding` new keys fit the limits (and, when the write
    /// `grows`, until memory is under `maxmemory`). Each eviction is journaled
    /// as a delete, so recovery agrees with what was served.
    fn make_room(
        &self,
        data: &mut Data,
        adding: u64,
        grows: bool,
        now: u64,
    ) -> Result<(), CommandError> {
        let limits = data.limits;
        loop {
            let over_keys = limits
                .max_keys
                .is_some_and(|max| adding > 0 && data.total_keys() + adding > max);
            let over_memory = limits
                .maxmemory
                .is_some_and(|max| grows && data.total_bytes() > max);
            if !over_keys && !over_memory {
                return Ok(());
            }
            let limit = if over_keys {
                format!("max-keys {}", limits.max_keys.unwrap_or(0))
            } else {
                format!("maxmemory {} bytes", limits.maxmemory.unwrap_or(0))
            };
            let Some((namespace, key)) = data.choose_victim(limits.policy) else {
                return Err(CommandError::OutOfMemory(format!(
                    "{limit} reached and policy {} has no key to evict",
                    limits.policy.name()
                )));
            };
            let delete = vec![Mutation::Delete(key)];
            self.journal.record(&namespace, &delete);
            data.apply(&namespace, delete, now);
            data.keyspace_mut(&namespace).counters.evictions += 1;
        }
    }

    /// The capacity limits in force.
    pub fn limits(&self) -> Limits {
        self.lock().limits
    }

    /// Changes the capacity limits (taking effect at the next write).
    pub fn set_limits(&self, limits: Limits) {
        let mut data = self.lock();
        data.limits = limits;
        data.pool.clear();
    }

    /// Changes the capacity limits with `change`, under one hold of the
    /// lock, so changes made at the same time by others are not lost; an
    /// error leaves the limits as they were.
    pub fn update_limits<E>(
        &self,
        change: impl FnOnce(&mut Limits) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut data = self.lock();
        let mut limits = data.limits;
        change(&mut limits)?;
        data.limits = limits;
        data.pool.clear();
        Ok(())
    }

    /// Per-namespace figures: name, live keys, keys with a TTL, estimated bytes, counters.
    pub fn namespace_stats(&self) -> Vec<NamespaceStats> {
        let now = self.now();
        let data = self.lock();
        data.namespaces
            .iter()
            .map(|(name, ks)| NamespaceStats {
                name: name.clone(),
                keys: ks.live_len(now) as u64,
                expiring: ks.expiring_len() as u64,
                bytes: ks.bytes(),
                counters: ks.counters,
            })
            .collect()
    }

    /// Zeroes the hit, miss, eviction and expiry counters.
    pub fn reset_counters(&self) {
        for keyspace in self.lock().namespaces.values_mut() {
            keyspace.counters = Counters::default();
        }
    }

    /// Drops a namespace: deletes all its keys (journaled as a clear) and
    /// forgets it. Returns how many keys it held.
    pub fn drop_namespace(&self, namespace: &str) -> Result<u64, CommandError> {
        let now = self.now();
        let mut data = self.lock();
        let keys = data.keyspace(namespace).live_len(now) as u64;
        if data.namespaces.contains_key(namespace) {
            self.journal.writable()?;
            let clear = vec![Mutation::Clear];
            self.journal.record(namespace, &clear);
            data.apply(namespace, clear, now);
            data.namespaces.remove(namespace);
        }
        Ok(keys)
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
        data.tick += 1;
        if ops.iter().any(Op::writes) {
            self.journal.writable().map_err(|e| (0, e))?;
            // Room for every key the group might add (an upper bound).
            let adds = ops.iter().filter(|op| op.may_add_key()).count() as u64;
            self.make_room(&mut data, adds, adds > 0, now)
                .map_err(|e| (0, e))?;
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
            data.apply(namespace, mutations, now);
        }
        Ok(replies)
    }

    /// Applies changes read back from disk at start-up (not journaled
    /// again). The keys count as accessed now: access times are not stored.
    pub fn restore_group(&self, namespace: &str, mutations: Vec<Mutation>) {
        let now = self.now();
        self.lock().apply(namespace, mutations, now);
    }

    /// Applies one journal record read back at start-up, every group of it
    /// under one hold of the lock (not journaled again).
    pub fn restore_record(&self, groups: Vec<Group>) {
        let now = self.now();
        let mut data = self.lock();
        for group in groups {
            data.apply_group(group, now);
        }
    }

    /// Records the groups one operation produced as one journal record.
    fn record_log(&self, log: &[Group]) {
        match log {
            [] => {}
            [Group::Changes(namespace, mutations)] => self.journal.record(namespace, mutations),
            _ => self.journal.record_groups(log),
        }
    }

    /// How many (set, key) watches are registered across connections.
    pub fn watched_keys(&self) -> usize {
        self.lock().watchers.len()
    }

    /// Watches `key` of `namespace` for `set` (Redis's WATCH): a later
    /// [`Engine::run_exec`] with `set` aborts if the key is written, deleted,
    /// expires, is flushed, swapped, moved or evicted in the meantime.
    /// Watching a key twice is the same as once.
    pub fn watch(&self, set: &mut WatchSet, namespace: &str, key: &[u8]) {
        let now = self.now();
        let data = self.lock();
        let live = data.keyspace(namespace).get(key, now).is_some();
        set.add(&data.watchers, namespace, key, live);
    }

    /// Replaces every namespace with `groups` (namespace, entries) in one step.
    /// `persist` runs first, under the lock, with the journal sequence number
    /// the new content covers; if it fails nothing changes. Returns the key count.
    pub fn replace_all(
        &self,
        groups: Vec<(String, Vec<RestoredEntry>)>,
        persist: &mut dyn FnMut(u64) -> Result<(), String>,
    ) -> Result<u64, String> {
        let now = self.now();
        let mut data = self.lock();
        if data.snapshot.is_some() {
            return Err("a snapshot is being written; try again".into());
        }
        let seq = self.journal.checkpoint();
        persist(seq)?;
        data.watchers.touch_all();
        let mut fresh = Data::default();
        let mut keys = 0;
        for (namespace, entries) in groups {
            keys += entries.len() as u64;
            let mutations: Vec<Mutation> = entries
                .into_iter()
                .map(|(key, value, expires_at)| Mutation::put(key, value, expires_at))
                .collect();
            fresh.apply(&namespace, mutations, now);
        }
        data.namespaces = fresh.namespaces;
        Ok(keys)
    }

    /// Commits already-resolved changes to a namespace as one journal record.
    pub fn commit(&self, namespace: &str, mutations: Vec<Mutation>) -> Result<(), CommandError> {
        let now = self.now();
        let mut data = self.lock();
        self.journal.writable()?;
        if !mutations.is_empty() {
            self.journal.record(namespace, &mutations);
            data.apply(namespace, mutations, now);
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
                out.push((key.to_vec(), entry.to_entry()));
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
    /// old contents to `sink`; [`Engine::take_pending`] hands over the rest.
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

    /// Takes up to `max` pending partitions for the running snapshot, to be
    /// serialized after the engine's lock is released (the lock is held only
    /// to take references); empty when none is left.
    pub fn take_pending(&self, max: usize) -> Vec<PartitionImage> {
        // Allocated before locking, for the usual handful.
        let mut taken = Vec::with_capacity(max.min(keyspace::PARTITIONS));
        let mut data = self.lock();
        if data.snapshot.is_some() {
            for (name, keyspace) in &mut data.namespaces {
                if taken.len() >= max {
                    break;
                }
                keyspace.take_pending(name, max, &mut taken);
            }
        }
        taken
    }

    /// Ends the running snapshot (after every partition was dumped, or to abandon it).
    pub fn end_snapshot(&self) {
        let mut data = self.lock();
        data.snapshot = None;
        for keyspace in data.namespaces.values_mut() {
            keyspace.clear_pending();
        }
    }

    /// Up to `limit` live keys of a namespace starting with `prefix`, sorted (for completion).
    pub fn keys_with_prefix(&self, namespace: &str, prefix: &[u8], limit: usize) -> Vec<Vec<u8>> {
        let now = self.now();
        let data = self.lock();
        let mut keys = Vec::new();
        data.keyspace(namespace).for_each_live(now, &mut |key, _| {
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
fn run_on<S: Apply>(op: &Op, store: &mut S, now: u64) -> Result<Reply, CommandError> {
    let mut changes = Vec::new();
    let reply = exec::execute(op, store, now, &mut changes)?;
    for mutation in changes {
        store.apply(mutation);
    }
    Ok(reply)
}

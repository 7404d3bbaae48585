//! One namespace's keys: a hash map split into fixed partitions, plus an index
//! of deadlines so expired keys are found without scanning.
//!
//! Partitions exist for snapshots: a snapshot marks every partition pending,
//! and the first change to a pending partition first hands its current
//! contents to the snapshot sink. The snapshot thread takes the partitions
//! nobody changed as shared [`PartitionImage`]s and serializes them without
//! the engine's lock; a change to a partition it still holds changes a copy
//! (copy on write). So a snapshot sees every partition exactly as it was when
//! the snapshot began, writers only ever wait for one small partition to be
//! serialized or copied, and never for the snapshot thread.

use super::packed::Packed;
use super::table::{self, Table};
use super::{Apply, EntryRef, Mutation, Store, access};
use std::collections::BTreeSet;
use std::sync::Arc;

/// Partitions per namespace: with a million keys each holds about a thousand,
/// which bounds how long a writer can wait behind a snapshot copy.
pub const PARTITIONS: usize = 1024;

/// Receives partitions' contents for a snapshot in progress.
pub trait PartitionSink: Send {
    /// Takes one partition's entries as they were when the snapshot began.
    fn dump(&mut self, namespace: &str, entries: &mut dyn Iterator<Item = (&[u8], EntryRef<'_>)>);
}

/// All keys of one namespace and their deadlines.
#[derive(Debug)]
pub struct Keyspace {
    parts: Vec<Partition>,
    /// (deadline, key) for every key that has one, earliest first.
    deadlines: BTreeSet<(u64, Box<[u8]>)>,
    len: usize,
    /// Estimated bytes held (keys, values and [`ENTRY_OVERHEAD`] each).
    bytes: u64,
    /// Counters shown by `stats`.
    pub counters: Counters,
    /// [`Keyspace::put_all`]'s entries between making and storing them,
    /// with their partitions and hashes: empty between calls, kept for its
    /// capacity.
    staged: Vec<(usize, u32, Packed)>,
}

/// Where a stored key is: its partition, its slot there and its table hash,
/// as [`Keyspace::place`] found it. The slot holds the key until the
/// keyspace changes (a partition copied on write keeps its slots where they
/// were), so the entry is read or changed there without looking for the key
/// again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    part: usize,
    slot: usize,
    hash: u32,
}

/// Bytes an entry costs beyond its key and value (map slot, allocations, bookkeeping):
/// the estimate behind `maxmemory`.
pub const ENTRY_OVERHEAD: u64 = 64;

/// Per-namespace counters for `stats`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Reads that found their key.
    pub hits: u64,
    /// Reads that did not.
    pub misses: u64,
    /// Keys removed to make room.
    pub evictions: u64,
    /// Keys removed because their deadline passed.
    pub expired: u64,
}

/// What a written entry records about its use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stamp {
    /// The access clock at the write (see [`access`]): every key has one.
    pub access: u32,
    /// The logical time of the write, kept only while an LRU policy is in force.
    pub tick: Option<u64>,
}

#[derive(Debug, Default)]
struct Partition {
    /// The entries, each holding its key, value, deadline, last access and
    /// LRU tick (the tick only while an LRU policy is in force), while
    /// `shared` holds none.
    own: Table,
    /// The entries while they are shared with a snapshot thread serializing
    /// them (see [`Partition::share`] and [`Partition::map_mut`]).
    shared: Option<Arc<Table>>,
    /// True while a snapshot still needs this partition's pre-change contents.
    pending: bool,
}

impl Partition {
    /// The entries.
    fn map(&self) -> &Table {
        self.shared.as_deref().unwrap_or(&self.own)
    }

    /// The entries, to change them: taken back when the snapshot thread is
    /// done with them, copied when it still holds them (only the few
    /// partitions it has taken and not yet serialized). Owned entries need
    /// no check of a shared count, which is an atomic operation that waits
    /// for every write before it to reach the cache.
    #[inline]
    fn map_mut(&mut self) -> &mut Table {
        if self.shared.is_some()
            && let Some(shared) = self.shared.take()
        {
            self.own = Arc::try_unwrap(shared).unwrap_or_else(|shared| (*shared).clone());
        }
        &mut self.own
    }

    /// The entries, shared with a snapshot thread that serializes them.
    fn share(&mut self) -> Arc<Table> {
        let own = &mut self.own;
        self.shared
            .get_or_insert_with(|| Arc::new(std::mem::take(own)))
            .clone()
    }

    /// Drops every entry (a snapshot thread holding them keeps its own).
    fn clear(&mut self) {
        self.own = Table::default();
        self.shared = None;
    }
}

/// One partition's entries as they were when a snapshot began, taken by the
/// snapshot thread to serialize without the engine's lock. Writers that change
/// the partition meanwhile change their own copy, never this.
#[derive(Debug)]
pub struct PartitionImage {
    namespace: Arc<str>,
    map: Arc<Table>,
}

impl PartitionImage {
    /// Hands the entries to `sink`.
    pub fn dump_to(&self, sink: &mut dyn PartitionSink) {
        sink.dump(
            &self.namespace,
            &mut self.map.iter().map(|p| (p.key(), p.view())),
        );
    }
}

impl Default for Keyspace {
    fn default() -> Self {
        Keyspace {
            parts: (0..PARTITIONS).map(|_| Partition::default()).collect(),
            deadlines: BTreeSet::new(),
            len: 0,
            bytes: 0,
            counters: Counters::default(),
            staged: Vec::new(),
        }
    }
}

/// What an entry counts for in [`Keyspace::bytes`].
fn cost(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64 + ENTRY_OVERHEAD
}

/// The entry `packed` unless it expired at `now`, recording the read as its
/// last access.
#[inline]
fn read_live(packed: &Packed, now: u64) -> Option<EntryRef<'_>> {
    let entry = packed.view();
    if entry.is_expired(now) {
        return None;
    }
    packed.mark_access(access::stamp(now));
    Some(entry)
}

/// The partition a key lives in (FNV-1a; only spreads keys, the maps hash again).
fn partition_of(key: &[u8]) -> usize {
    let mut hash: u32 = 0x811c_9dc5;
    for &byte in key {
        hash = (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193);
    }
    hash as usize % PARTITIONS
}

impl Keyspace {
    /// Keys held, including expired ones not yet purged.
    pub fn stored_len(&self) -> usize {
        self.len
    }

    /// Estimated bytes held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Keys that have a deadline (expired ones not yet purged included).
    pub fn expiring_len(&self) -> usize {
        self.deadlines.len()
    }

    /// Marks a key as used at logical time `tick`, in its table's slot (the
    /// key stays, so the slot does); the snapshot does not care, as value and
    /// deadline stay the same.
    pub fn touch_key(&mut self, key: &[u8], tick: u64) {
        if let Some(packed) = self.parts[partition_of(key)].map_mut().get_mut(key) {
            packed.set_last_use(tick);
        }
    }

    /// [`Keyspace::touch_key`] of `key`, found at `place` (expired or not),
    /// without looking for it again. The tick is part of the entry, so a
    /// partition a snapshot still holds is copied for it, as for any change
    /// of an entry. Should the slot no longer hold an entry of the key's
    /// hash (the keyspace changed since the key was found), the key is
    /// looked for instead.
    pub fn touch_at(&mut self, place: Place, key: &[u8], tick: u64) {
        match self.parts[place.part]
            .map_mut()
            .at_mut(place.slot, place.hash)
        {
            Some(packed) => packed.set_last_use(tick),
            None => self.touch_key(key, tick),
        }
    }

    /// Where `key` is stored, expired or not.
    #[inline]
    pub fn place(&self, key: &[u8]) -> Option<Place> {
        let (part, hash) = (partition_of(key), table::hash(key));
        let slot = self.parts[part].map().find_hashed(key, hash)?;
        Some(Place { part, slot, hash })
    }

    /// The entry at `place`.
    #[inline]
    fn at(&self, place: Place) -> Option<&Packed> {
        self.parts[place.part].map().at(place.slot)
    }

    /// The live entry at `place`, as [`Store::get`] gives it.
    pub fn get_at(&self, place: Place, now: u64) -> Option<EntryRef<'_>> {
        self.at(place)
            .map(Packed::view)
            .filter(|entry| !entry.is_expired(now))
    }

    /// The live entry of `key`, as [`Store::get`], recording the read as the
    /// key's last access: in place, so the entry is neither re-hashed nor
    /// moved, and a partition a snapshot shares is not copied for it.
    pub fn access(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        read_live(self.parts[partition_of(key)].map().get(key)?, now)
    }

    /// [`Keyspace::access`] of the key at `place`.
    #[inline]
    pub fn access_at(&self, place: Place, now: u64) -> Option<EntryRef<'_>> {
        read_live(self.at(place)?, now)
    }

    /// Whole seconds since a live key was last read or written (OBJECT
    /// IDLETIME); asking does not count as an access.
    pub fn idle_seconds(&self, key: &[u8], now: u64) -> Option<u64> {
        let packed = self.parts[partition_of(key)].map().get(key)?;
        if packed.view().is_expired(now) {
            return None;
        }
        Some(access::idle_seconds(packed.access(), now))
    }

    /// When a key was last used, if it exists: 0 when its use was never
    /// recorded (no LRU policy was in force since it was written).
    pub fn last_used(&self, key: &[u8]) -> Option<u64> {
        self.parts[partition_of(key)]
            .map()
            .get(key)
            .map(|p| p.last_use().unwrap_or(0))
    }

    /// Up to `n` keys picked at random with their last use and deadline;
    /// `pick()` supplies random numbers. Small keyspaces are returned whole, so
    /// eviction is exact there.
    pub fn sample(&self, n: usize, pick: &mut dyn FnMut() -> usize) -> Vec<Candidate> {
        let candidate = |packed: &Packed| Candidate {
            key: Box::from(packed.key()),
            last_used: packed.last_use().unwrap_or(0),
            expires_at: packed.expires_at(),
        };
        if self.len <= EXACT_BELOW {
            return self
                .parts
                .iter()
                .flat_map(|p| p.map().iter().map(candidate))
                .collect();
        }
        let mut out = Vec::with_capacity(n);
        if self.len == 0 {
            return out;
        }
        for _ in 0..n {
            let Some(packed) = self.random_slot(pick) else {
                break;
            };
            out.push(candidate(packed));
        }
        out
    }

    /// A stored entry (perhaps expired) picked at random. It walks from a
    /// random partition to the next non-empty one, so sparse keyspaces are
    /// sampled as reliably as dense ones.
    fn random_slot(&self, pick: &mut dyn FnMut() -> usize) -> Option<&Packed> {
        let start = pick() % PARTITIONS;
        let part = (0..PARTITIONS)
            .map(|i| &self.parts[(start + i) % PARTITIONS])
            .find(|p| !p.map().is_empty())?;
        part.map().iter().nth(pick() % part.map().len())
    }

    /// A live key that `accept` takes, picked at random; `pick()` supplies
    /// random numbers. A few samples find one unless most keys are expired or
    /// refused; then the keys are walked from a random partition, so a live
    /// accepted key is always found when one exists.
    pub fn random_key_where(
        &self,
        now: u64,
        pick: &mut dyn FnMut() -> usize,
        accept: &dyn Fn(&[u8]) -> bool,
    ) -> Option<&[u8]> {
        let usable = |packed: &Packed| !packed.view().is_expired(now) && accept(packed.key());
        for _ in 0..RANDOM_TRIES {
            let packed = self.random_slot(pick)?;
            if usable(packed) {
                return Some(packed.key());
            }
        }
        let start = pick() % PARTITIONS;
        (0..PARTITIONS)
            .flat_map(|i| self.parts[(start + i) % PARTITIONS].map().iter())
            .find(|packed| usable(packed))
            .map(Packed::key)
    }

    /// One step of a SCAN walk: calls `f` for every entry, expired ones
    /// included, whose `scan_position` is at or after `cursor` and before
    /// the cursor returned, which is 0 once every position is covered.
    ///
    /// About `count` entries are examined: whole partitions while they fit,
    /// then the earliest positions of the partition that does not (entries
    /// sharing a position are kept together). Positions never change and each
    /// step starts where the previous one stopped, so a key present from the
    /// first step to the last is seen exactly once, whatever else is added or
    /// removed meanwhile. Nothing is kept between steps; a step costs the size
    /// of the partitions it visits, never a sort of the whole keyspace.
    pub fn scan_entries(
        &self,
        cursor: u64,
        count: usize,
        f: &mut dyn FnMut(&[u8], EntryRef<'_>),
    ) -> u64 {
        let mut room = count.max(1);
        let mut index = partition_at(cursor);
        let mut from = cursor;
        while index < PARTITIONS {
            let mut found: Vec<(u64, &[u8], EntryRef<'_>)> = self.parts[index]
                .map()
                .iter()
                .map(|packed| {
                    (
                        position_in(index, packed.key()),
                        packed.key(),
                        packed.view(),
                    )
                })
                .filter(|(position, _, _)| *position >= from)
                .collect();
            if found.len() > room {
                found.select_nth_unstable_by_key(room - 1, |(position, _, _)| *position);
                let last = found[room - 1].0;
                for (position, key, entry) in found {
                    if position <= last {
                        f(key, entry);
                    }
                }
                return last.checked_add(1).unwrap_or(0);
            }
            room -= found.len();
            for (_, key, entry) in found {
                f(key, entry);
            }
            index += 1;
            from = partition_start(index);
            if room == 0 {
                return from;
            }
        }
        0
    }

    /// The key with the earliest deadline.
    pub fn soonest_deadline(&self) -> Option<Candidate> {
        let (at, key) = self.deadlines.first()?;
        Some(Candidate {
            key: key.clone(),
            last_used: self.last_used(key).unwrap_or(0),
            expires_at: Some(*at),
        })
    }
}

/// Samples RANDOMKEY takes before it walks the keys instead.
const RANDOM_TRIES: usize = 32;

/// Bits of a scan position below the partition index.
const ORDER_BITS: u32 = 64 - PARTITIONS.trailing_zeros();

// Every cursor names a partition only if the partitions fill the top bits exactly.
const _: () = assert!(PARTITIONS.is_power_of_two());

/// Where `key` comes in a SCAN walk: its partition in the top bits, then a
/// fixed hash of the key. Keys never change partition and the hash does not
/// depend on the process, so a key keeps its position as long as it exists.
pub(super) fn scan_position(key: &[u8]) -> u64 {
    position_in(partition_of(key), key)
}

fn position_in(partition: usize, key: &[u8]) -> u64 {
    ((partition as u64) << ORDER_BITS) | (order_hash(key) >> (64 - ORDER_BITS))
}

/// The partition a scan cursor points into.
fn partition_at(cursor: u64) -> usize {
    usize::try_from(cursor >> ORDER_BITS).unwrap_or(PARTITIONS)
}

/// The first position of partition `index`, or 0 (a finished walk) past the last one.
fn partition_start(index: usize) -> u64 {
    if index < PARTITIONS {
        (index as u64) << ORDER_BITS
    } else {
        0
    }
}

/// A fixed 64-bit hash: FNV-1a, then splitmix64's finaliser so that the top
/// bits (the ones a position keeps) depend on every byte.
fn order_hash(key: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in key {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// Keyspaces at most this large are scanned whole when choosing what to evict.
pub const EXACT_BELOW: usize = 64;

/// A key considered for eviction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The key.
    pub key: Box<[u8]>,
    /// Its last use (logical time).
    pub last_used: u64,
    /// Its deadline.
    pub expires_at: Option<u64>,
}

impl Keyspace {
    /// Marks every partition as needed by a snapshot.
    pub fn mark_pending(&mut self) {
        for part in &mut self.parts {
            part.pending = true;
        }
    }

    /// Forgets pending marks (a snapshot was abandoned or finished).
    pub fn clear_pending(&mut self) {
        for part in &mut self.parts {
            part.pending = false;
        }
    }

    /// Moves pending partitions into `taken` until it holds `max`, for the
    /// snapshot thread, which serializes them after releasing the engine's
    /// lock: only their marks are cleared and references taken here.
    pub fn take_pending(&mut self, namespace: &str, max: usize, taken: &mut Vec<PartitionImage>) {
        let mut name: Option<Arc<str>> = None;
        for part in self.parts.iter_mut().filter(|p| p.pending) {
            if taken.len() >= max {
                return;
            }
            part.pending = false;
            taken.push(PartitionImage {
                namespace: name.get_or_insert_with(|| Arc::from(namespace)).clone(),
                map: part.share(),
            });
        }
    }

    /// Dumps every pending partition (before a change that touches them all).
    pub fn dump_all_pending(&mut self, namespace: &str, sink: &mut dyn PartitionSink) {
        for index in 0..PARTITIONS {
            if self.parts[index].pending {
                self.dump(index, namespace, sink);
            }
        }
    }

    fn dump(&mut self, index: usize, namespace: &str, sink: &mut dyn PartitionSink) {
        let part = &mut self.parts[index];
        part.pending = false;
        sink.dump(
            namespace,
            &mut part.map().iter().map(|p| (p.key(), p.view())),
        );
    }

    /// Prepares to change `key`: hands its partition to a running snapshot first.
    fn touch(
        &mut self,
        key: &[u8],
        snapshot: &mut Option<(&str, &mut dyn PartitionSink)>,
    ) -> usize {
        let index = partition_of(key);
        self.touch_partition(index, snapshot);
        index
    }

    /// Prepares to change partition `index`: hands it to a running snapshot first.
    fn touch_partition(
        &mut self,
        index: usize,
        snapshot: &mut Option<(&str, &mut dyn PartitionSink)>,
    ) {
        if self.parts[index].pending
            && let Some((namespace, sink)) = snapshot
        {
            self.dump(index, namespace, &mut **sink);
        }
    }

    /// Removes up to `budget` keys whose deadline is at or before `now`.
    pub fn purge_expired(
        &mut self,
        now: u64,
        budget: usize,
        mut snapshot: Option<(&str, &mut dyn PartitionSink)>,
    ) -> usize {
        let mut removed = 0;
        while removed < budget {
            match self.deadlines.first() {
                Some((at, _)) if *at <= now => {}
                _ => break,
            }
            if let Some((_, key)) = self.deadlines.pop_first() {
                let index = self.touch(&key, &mut snapshot);
                if let Some(old) = self.parts[index].map_mut().take(&key) {
                    self.len -= 1;
                    self.bytes -= cost(&key, old.value());
                    self.counters.expired += 1;
                }
                removed += 1;
            }
        }
        removed
    }

    /// Stores `value` under `key` with an optional deadline, used as `stamp`
    /// says: applying a `Mutation::Put`, for a caller whose key and value may
    /// be borrowed (a borrowed key is copied only when a deadline needs it).
    pub fn put<K: AsRef<[u8]> + Into<Box<[u8]>>>(
        &mut self,
        key: K,
        value: &[u8],
        expires_at: Option<u64>,
        stamp: Stamp,
        mut snapshot: Option<(&str, &mut dyn PartitionSink)>,
    ) {
        let packed = Packed::new(key.as_ref(), value, expires_at, stamp.tick, stamp.access);
        let (index, hash) = (partition_of(key.as_ref()), table::hash(key.as_ref()));
        self.store(index, key, value, (hash, packed), expires_at, &mut snapshot);
    }

    /// Puts each pair in order, with no deadline, as [`Keyspace::put`] of
    /// each would: all accessed at `access`, and with LRU ticks counting up
    /// from `first_tick` when given.
    ///
    /// Every entry is made first, and the slots where each will be stored
    /// are prefetched, then each is stored: the new entries' writes to
    /// memory not yet in the cache do not wait behind the stores, and the
    /// stores' cache misses overlap instead of coming one after another.
    pub fn put_all(
        &mut self,
        pairs: &[(&[u8], &[u8])],
        access: u32,
        first_tick: Option<u64>,
        mut snapshot: Option<(&str, &mut dyn PartitionSink)>,
    ) {
        let mut staged = std::mem::take(&mut self.staged);
        staged.extend(pairs.iter().zip(0..).map(|((key, value), i)| {
            let tick = first_tick.map(|tick| tick + i);
            let (index, hash) = (partition_of(key), table::hash(key));
            self.parts[index].map().prefetch(hash);
            (index, hash, Packed::new(key, value, None, tick, access))
        }));
        for ((key, value), (index, hash, packed)) in pairs.iter().zip(staged.drain(..)) {
            self.store(index, *key, value, (hash, packed), None, &mut snapshot);
        }
        self.staged = staged;
    }

    /// Stores `packed`, the entry of `key` (whose table hash is `hash`) and
    /// `value` with deadline `expires_at`, in place of any entry `key` had
    /// in its partition, `index`.
    fn store<K: AsRef<[u8]> + Into<Box<[u8]>>>(
        &mut self,
        index: usize,
        key: K,
        value: &[u8],
        (hash, packed): (u32, Packed),
        expires_at: Option<u64>,
        snapshot: &mut Option<(&str, &mut dyn PartitionSink)>,
    ) {
        self.touch_partition(index, snapshot);
        let new_cost = cost(key.as_ref(), value);
        // One hash and probe for both a new and an existing key.
        match self.parts[index].map_mut().replace_hashed(hash, packed) {
            Some(old) => {
                self.bytes = self.bytes - cost(key.as_ref(), old.value()) + new_cost;
                let old_at = old.expires_at();
                if old_at != expires_at {
                    if let Some(old_at) = old_at {
                        self.deadlines.remove(&(old_at, Box::from(key.as_ref())));
                    }
                    if let Some(at) = expires_at {
                        self.deadlines.insert((at, key.into()));
                    }
                }
            }
            None => {
                if let Some(at) = expires_at {
                    self.deadlines.insert((at, key.into()));
                }
                self.len += 1;
                self.bytes += new_cost;
            }
        }
    }

    /// Applies one change, first handing the partition it touches to a running
    /// snapshot. An entry written, or given or relieved of a deadline,
    /// records `stamp`'s access, and its tick when given (only LRU policies
    /// need it; a changed deadline keeps the tick it had).
    pub fn apply_with(
        &mut self,
        mutation: Mutation,
        stamp: Stamp,
        mut snapshot: Option<(&str, &mut dyn PartitionSink)>,
    ) {
        match mutation {
            Mutation::Put {
                key,
                value,
                expires_at,
            } => self.put(key, &value, expires_at, stamp, snapshot),
            Mutation::Delete(key) => {
                let index = self.touch(&key, &mut snapshot);
                if let Some(old) = self.parts[index].map_mut().take(&key) {
                    self.len -= 1;
                    self.bytes -= cost(&key, old.value());
                    self.forget_deadline(&key, old.expires_at());
                }
            }
            Mutation::Expire { key, at } => {
                let index = self.touch(&key, &mut snapshot);
                self.set_deadline(index, &key, Some(at), stamp.access);
            }
            Mutation::Persist(key) => {
                let index = self.touch(&key, &mut snapshot);
                self.set_deadline(index, &key, None, stamp.access);
            }
            Mutation::Clear => {
                if let Some((namespace, sink)) = snapshot {
                    self.dump_all_pending(namespace, sink);
                }
                for part in &mut self.parts {
                    part.clear();
                }
                self.deadlines.clear();
                self.len = 0;
                self.bytes = 0;
            }
        }
    }

    fn forget_deadline(&mut self, key: &[u8], at: Option<u64>) {
        if let Some(at) = at {
            self.deadlines.remove(&(at, Box::from(key)));
        }
    }

    fn set_deadline(&mut self, index: usize, key: &[u8], at: Option<u64>, access: u32) {
        let Some(packed) = self.parts[index].map_mut().get_mut(key) else {
            return;
        };
        let old = packed.expires_at();
        packed.set_expires_at(at);
        packed.mark_access(access);
        if old != at {
            self.forget_deadline(key, old);
            if let Some(at) = at {
                self.deadlines.insert((at, Box::from(key)));
            }
        }
    }
}

impl Store for Keyspace {
    fn get(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        self.parts[partition_of(key)]
            .map()
            .get(key)
            .map(Packed::view)
            .filter(|entry| !entry.is_expired(now))
    }

    fn access(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        Keyspace::access(self, key, now)
    }

    fn for_each_live(&self, now: u64, f: &mut dyn FnMut(&[u8], EntryRef<'_>)) {
        for part in &self.parts {
            for packed in part.map().iter() {
                let entry = packed.view();
                if !entry.is_expired(now) {
                    f(packed.key(), entry);
                }
            }
        }
    }

    fn live_len(&self, now: u64) -> usize {
        let expired = self
            .deadlines
            .iter()
            .take_while(|(at, _)| *at <= now)
            .count();
        self.len - expired
    }

    fn scan(
        &self,
        cursor: u64,
        count: usize,
        now: u64,
        f: &mut dyn FnMut(&[u8], EntryRef<'_>),
    ) -> u64 {
        self.scan_entries(cursor, count, &mut |key, entry| {
            if !entry.is_expired(now) {
                f(key, entry);
            }
        })
    }

    fn random_key(&self, now: u64, pick: &mut dyn FnMut() -> usize) -> Option<Box<[u8]>> {
        self.random_key_where(now, pick, &|_| true).map(Box::from)
    }
}

impl Apply for Keyspace {
    /// Applies without a clock: written entries are stamped as accessed at
    /// time 0 (the engine applies through [`Keyspace::apply_with`]).
    fn apply(&mut self, mutation: Mutation) {
        self.apply_with(mutation, Stamp::default(), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Collect(Vec<(String, Vec<u8>, Vec<u8>)>, usize);

    impl PartitionSink for Collect {
        fn dump(&mut self, ns: &str, entries: &mut dyn Iterator<Item = (&[u8], EntryRef<'_>)>) {
            self.1 += 1;
            for (k, e) in entries {
                self.0.push((ns.into(), k.to_vec(), e.value.to_vec()));
            }
        }
    }

    /// What the snapshot thread takes in one hold of the lock.
    fn take(ks: &mut Keyspace, max: usize) -> Vec<PartitionImage> {
        let mut taken = Vec::new();
        ks.take_pending("0", max, &mut taken);
        assert!(taken.len() <= max);
        taken
    }

    fn put(key: &str, value: &str) -> Mutation {
        Mutation::Put {
            key: key.as_bytes().into(),
            value: value.as_bytes().into(),
            expires_at: None,
        }
    }

    #[test]
    fn a_snapshot_sees_each_partition_as_it_was_when_it_began() {
        let mut ks = Keyspace::default();
        for i in 0..5000 {
            ks.apply(put(&format!("k{i}"), "old"));
        }
        ks.mark_pending();
        let mut sink = Collect::default();
        // Writers change keys while the snapshot is under way...
        for i in 0..5000 {
            if i % 3 == 0 {
                ks.apply_with(
                    put(&format!("k{i}"), "new"),
                    Stamp::default(),
                    Some(("0", &mut sink)),
                );
            }
        }
        ks.apply_with(
            put("added", "new"),
            Stamp::default(),
            Some(("0", &mut sink)),
        );
        ks.apply_with(
            Mutation::Delete(Box::from(&b"k1"[..])),
            Stamp::default(),
            Some(("0", &mut sink)),
        );
        // ...and the snapshot thread dumps whatever is left.
        for image in take(&mut ks, PARTITIONS) {
            image.dump_to(&mut sink);
        }
        assert_eq!(sink.1, PARTITIONS, "every partition dumped exactly once");
        assert_eq!(sink.0.len(), 5000);
        assert!(
            sink.0
                .iter()
                .all(|(ns, k, v)| ns == "0" && v == b"old" && k != b"added")
        );
        assert_eq!(ks.get(b"k0", 0).map(|e| e.value), Some(&b"new"[..]));
        assert_eq!(ks.stored_len(), 5000);
    }

    /// Collects keys with their value and deadline.
    #[derive(Default)]
    struct Image(Vec<(Vec<u8>, Vec<u8>, Option<u64>)>);

    impl PartitionSink for Image {
        fn dump(&mut self, _: &str, entries: &mut dyn Iterator<Item = (&[u8], EntryRef<'_>)>) {
            for (k, e) in entries {
                self.0.push((k.to_vec(), e.value.to_vec(), e.expires_at));
            }
            self.0.sort();
        }
    }

    fn keys_in(partition: usize, prefix: &str, n: usize) -> Vec<String> {
        (0..)
            .map(|i| format!("{prefix}{i}"))
            .filter(|k| partition_of(k.as_bytes()) == partition)
            .take(n)
            .collect()
    }

    #[test]
    fn changes_to_a_partition_being_serialized_go_to_a_copy() {
        let mut ks = Keyspace::default();
        let held = keys_in(0, "k", 4);
        for key in &held {
            ks.apply(put(key, "old"));
        }
        ks.apply(put(&keys_in(1, "k", 1)[0], "elsewhere"));
        ks.mark_pending();
        // The snapshot thread takes partition 0 and starts serializing it...
        let [image] = <[_; 1]>::try_from(take(&mut ks, 1)).unwrap();
        let mut before = Image::default();
        image.dump_to(&mut before);
        assert_eq!(before.0.len(), 4);
        // ...while writers change every entry of it, add one and empty it.
        let mut sink = Collect::default();
        let mut write = |ks: &mut Keyspace, m: Mutation| {
            let stamp = Stamp {
                access: 0,
                tick: Some(9),
            };
            ks.apply_with(m, stamp, Some(("0", &mut sink)));
        };
        write(&mut ks, put(&held[0], "new"));
        write(&mut ks, Mutation::Delete(held[1].as_bytes().into()));
        write(
            &mut ks,
            Mutation::Expire {
                key: held[2].as_bytes().into(),
                at: 5,
            },
        );
        ks.touch_key(held[3].as_bytes(), 10);
        write(&mut ks, put(&keys_in(0, "new", 1)[0], "new"));
        assert_eq!(
            ks.get(held[0].as_bytes(), 0).map(|e| e.value),
            Some(&b"new"[..])
        );
        assert!(ks.get(held[1].as_bytes(), 0).is_none());
        assert_eq!(
            ks.get(held[2].as_bytes(), 0).map(|e| e.expires_at),
            Some(Some(5))
        );
        assert_eq!(ks.last_used(held[3].as_bytes()), Some(10));
        assert_eq!(ks.stored_len(), 5);
        write(&mut ks, Mutation::Clear);
        assert_eq!(ks.stored_len(), 0);
        // The clear handed over every other partition, not the taken one, and
        // what the snapshot thread serializes is still partition 0 as it was.
        assert_eq!(sink.1, PARTITIONS - 1);
        assert_eq!(sink.0.len(), 1);
        let mut after = Image::default();
        image.dump_to(&mut after);
        assert_eq!(after.0, before.0);
        let old: Vec<_> = {
            let mut keys: Vec<_> = held
                .iter()
                .map(|k| (k.clone().into_bytes(), b"old".to_vec(), None))
                .collect();
            keys.sort();
            keys
        };
        assert_eq!(after.0, old);
    }

    #[test]
    fn a_partition_grown_while_it_is_being_serialized_keeps_every_key() {
        let mut ks = Keyspace::default();
        let keys = keys_in(0, "k", 3000);
        for key in &keys[..10] {
            ks.apply(put(key, "old"));
        }
        ks.mark_pending();
        let [image] = <[_; 1]>::try_from(take(&mut ks, 1)).unwrap();
        // Writers grow the copy of partition 0 through several table sizes,
        // and the partitions still pending are handed over as they are touched.
        let mut sink = Collect::default();
        let pairs: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (k.as_bytes(), &b"new"[..])).collect();
        for run in pairs.chunks(128) {
            ks.put_all(run, 1, None, Some(("0", &mut sink)));
        }
        for i in 0..3000 {
            let key = format!("other{i}");
            ks.put(
                key.as_bytes(),
                b"o",
                None,
                Stamp::default(),
                Some(("0", &mut sink)),
            );
        }
        assert_eq!(ks.stored_len(), 6000);
        for key in &keys {
            assert_eq!(
                ks.get(key.as_bytes(), 0).map(|e| e.value),
                Some(&b"new"[..])
            );
        }
        for i in 0..3000 {
            let key = format!("other{i}");
            assert_eq!(ks.get(key.as_bytes(), 0).map(|e| e.value), Some(&b"o"[..]));
        }
        let mut held = Image::default();
        image.dump_to(&mut held);
        let mut old: Vec<_> = keys[..10]
            .iter()
            .map(|k| (k.clone().into_bytes(), b"old".to_vec(), None))
            .collect();
        old.sort();
        assert_eq!(held.0, old);
        // Partition 0 went to the snapshot thread, not to the sink; the
        // others handed over were empty.
        assert!(sink.0.is_empty());
        assert!(sink.1 > 0);
    }

    #[test]
    fn a_read_records_its_access_in_place_even_in_a_partition_being_serialized() {
        let mut ks = Keyspace::default();
        let held = keys_in(0, "k", 2);
        for key in &held {
            ks.apply(put(key, "old"));
        }
        let key = held[0].as_bytes();
        assert_eq!(ks.idle_seconds(key, 9_000), Some(9));
        ks.mark_pending();
        let [image] = <[_; 1]>::try_from(take(&mut ks, 1)).unwrap();
        let read = ks.access(key, 12_500).map(|e| e.value);
        assert_eq!(read, Some(&b"old"[..]));
        // Not copied: the snapshot thread and the keyspace still share it.
        assert!(Arc::ptr_eq(
            &image.map,
            ks.parts[0].shared.as_ref().unwrap()
        ));
        assert_eq!(ks.idle_seconds(key, 15_000), Some(3));
        assert_eq!(ks.idle_seconds(held[1].as_bytes(), 15_000), Some(15));
        // A plain look is no access; expired and missing keys have no idle time.
        assert!(ks.get(held[1].as_bytes(), 20_000).is_some());
        assert_eq!(ks.idle_seconds(held[1].as_bytes(), 20_000), Some(20));
        assert_eq!(ks.idle_seconds(b"missing", 20_000), None);
        let mut image_entries = Image::default();
        image.dump_to(&mut image_entries);
        assert_eq!(image_entries.0.len(), 2);
        assert!(image_entries.0.iter().all(|(_, value, _)| value == b"old"));
        // A write takes the access time it is stamped with, as does EXPIRE.
        let at = |access| Stamp { access, tick: None };
        ks.apply_with(put(&held[1], "new"), at(30), None);
        assert_eq!(ks.idle_seconds(held[1].as_bytes(), 31_000), Some(1));
        let expire = Mutation::Expire {
            key: key.into(),
            at: 100_000,
        };
        ks.apply_with(expire, at(40), None);
        assert_eq!(ks.idle_seconds(key, 41_000), Some(1));
        assert!(ks.access(key, 100_000).is_none(), "expired");
        assert_eq!(ks.idle_seconds(key, 100_000), None);
    }

    #[test]
    fn a_use_is_recorded_where_its_key_was_found_while_that_place_holds() {
        let mut ks = Keyspace::default();
        let held = keys_in(0, "k", 3);
        let used = Stamp {
            access: 0,
            tick: Some(1),
        };
        for key in &held {
            ks.apply_with(put(key, "old"), used, None);
        }
        let key = held[1].as_bytes();
        let place = ks.place(key).unwrap();
        assert_eq!(ks.place(b"missing"), None);
        // The tick is part of the entry: a partition the snapshot thread
        // holds is copied for it, and what the thread sees stays as it was.
        ks.mark_pending();
        let [image] = <[_; 1]>::try_from(take(&mut ks, 1)).unwrap();
        ks.touch_at(place, key, 7);
        assert!(ks.parts[0].shared.is_none(), "changed in a copy");
        assert_eq!(image.map.get(key).and_then(Packed::last_use), Some(1));
        let ticks = |ks: &Keyspace| {
            held.iter()
                .map(|k| ks.last_used(k.as_bytes()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ticks(&ks), [Some(1), Some(7), Some(1)]);
        // Once the partition has grown and another key sits in the key's
        // old slot, that place is not taken for it: the use is recorded
        // where the key is now, and only there.
        let taken = |ks: &Keyspace| {
            ks.parts[0]
                .map()
                .at(place.slot)
                .is_some_and(|p| p.key() != key)
        };
        let mut more = Vec::new();
        for other in keys_in(0, "more", 1000) {
            if taken(&ks) {
                break;
            }
            ks.apply(put(&other, "v"));
            more.push(other);
        }
        assert!(taken(&ks), "another key took the place");
        ks.touch_at(place, key, 9);
        assert_eq!(ticks(&ks), [Some(1), Some(9), Some(1)]);
        assert!(more.iter().all(|k| ks.last_used(k.as_bytes()) == Some(0)));
    }

    /// A stored key with its value, deadline and last use.
    type Stored = (Vec<u8>, Vec<u8>, Option<u64>, Option<u64>);

    /// Every stored key, sorted.
    fn contents(ks: &Keyspace) -> Vec<Stored> {
        let mut out = Vec::new();
        ks.for_each_live(0, &mut |key, entry| {
            out.push((
                key.to_vec(),
                entry.value.to_vec(),
                entry.expires_at,
                ks.last_used(key),
            ));
        });
        out.sort();
        out
    }

    #[test]
    fn put_all_does_what_putting_each_pair_does() {
        let mut keys: Vec<String> = (0..300).map(|i| format!("k{}", i % 250)).collect();
        keys.push("dated".into());
        let pairs: Vec<(&[u8], &[u8])> = keys.iter().map(|k| (k.as_bytes(), &b"new"[..])).collect();
        for snapshot in [false, true] {
            let (mut one, mut all) = (Keyspace::default(), Keyspace::default());
            for ks in [&mut one, &mut all] {
                ks.apply(put("k3", "old"));
                ks.apply(Mutation::put(&b"dated"[..], &b"v"[..], Some(50)));
                if snapshot {
                    ks.mark_pending();
                }
            }
            let (mut one_sink, mut all_sink) = (Collect::default(), Collect::default());
            for ((key, value), i) in pairs.iter().zip(0..) {
                let stamp = Stamp {
                    access: 7,
                    tick: Some(10 + i),
                };
                let sink = snapshot.then_some(("0", &mut one_sink as &mut dyn PartitionSink));
                one.put(*key, value, None, stamp, sink);
            }
            let sink = snapshot.then_some(("0", &mut all_sink as &mut dyn PartitionSink));
            all.put_all(&pairs, 7, Some(10), sink);
            assert_eq!(contents(&all), contents(&one), "snapshot: {snapshot}");
            assert_eq!(all.stored_len(), 251);
            assert_eq!(all.stored_len(), one.stored_len());
            assert_eq!(all.bytes(), one.bytes());
            assert_eq!(all.expiring_len(), 0, "the put dropped the deadline");
            assert_eq!(all.last_used(b"k1"), Some(10 + 251), "the later put's tick");
            all_sink.0.sort();
            one_sink.0.sort();
            assert_eq!(all_sink.0, one_sink.0);
            assert_eq!(all_sink.1, one_sink.1);
        }
    }

    #[test]
    fn clear_during_a_snapshot_hands_over_everything_first() {
        let mut ks = Keyspace::default();
        for i in 0..100 {
            ks.apply(put(&format!("k{i}"), "v"));
        }
        ks.mark_pending();
        let mut sink = Collect::default();
        ks.apply_with(Mutation::Clear, Stamp::default(), Some(("0", &mut sink)));
        assert_eq!(sink.0.len(), 100);
        assert!(take(&mut ks, 1).is_empty());
        assert_eq!(ks.stored_len(), 0);
    }

    #[test]
    fn a_scan_step_splits_a_partition_that_does_not_fit() {
        let mut ks = Keyspace::default();
        let keys: Vec<String> = (0..100_000)
            .map(|i| format!("k{i}"))
            .filter(|k| partition_of(k.as_bytes()) == 7)
            .take(30)
            .collect();
        for key in &keys {
            ks.apply(put(key, "v"));
            assert_eq!(partition_at(scan_position(key.as_bytes())), 7);
        }
        let mut cursor = 0;
        let mut steps: Vec<Vec<u64>> = Vec::new();
        loop {
            let mut step = Vec::new();
            cursor = ks.scan_entries(cursor, 4, &mut |key, _| step.push(scan_position(key)));
            step.sort_unstable();
            steps.push(step);
            if cursor == 0 {
                break;
            }
            assert_eq!(
                partition_at(cursor),
                7,
                "the step stopped inside partition 7"
            );
        }
        // 7 steps of 4 and one of 2, each step's positions before the next's.
        assert_eq!(steps.len(), 8);
        assert!(steps[..7].iter().all(|s| s.len() == 4));
        let all: Vec<u64> = steps.concat();
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(all.len(), keys.len());
    }

    #[test]
    fn random_keys_skip_expired_and_refused_keys() {
        let mut ks = Keyspace::default();
        let mut x = 0x9e37_79b9_usize;
        let mut pick = move || {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            x >> 17
        };
        assert_eq!(ks.random_key(0, &mut pick), None);
        for i in 0..1000 {
            ks.apply(Mutation::put(
                format!("k{i}").into_bytes(),
                &b"v"[..],
                Some(10),
            ));
        }
        ks.apply(put("keep", "v"));
        ks.apply(put("refused", "v"));
        assert!(ks.random_key(5, &mut pick).is_some());
        for _ in 0..10 {
            let key = ks.random_key_where(10, &mut pick, &|k| k != b"refused");
            assert_eq!(key, Some(&b"keep"[..]));
        }
        assert_eq!(ks.random_key_where(10, &mut pick, &|_| false), None);
    }

    #[test]
    fn purge_removes_only_expired_keys_in_deadline_order() {
        let mut ks = Keyspace::default();
        for (key, at) in [("a", 30), ("b", 10), ("c", 20)] {
            ks.apply(Mutation::Put {
                key: key.as_bytes().into(),
                value: Box::from(&b"v"[..]),
                expires_at: Some(at),
            });
        }
        ks.apply(put("d", "v"));
        assert_eq!(ks.live_len(15), 3);
        assert_eq!(ks.purge_expired(25, 1, None), 1);
        assert!(ks.get(b"b", 0).is_none() && ks.get(b"c", 0).is_some());
        assert_eq!(ks.purge_expired(25, 10, None), 1);
        assert_eq!(ks.stored_len(), 2);
        ks.apply(Mutation::Persist(Box::from(&b"a"[..])));
        assert_eq!(ks.purge_expired(100, 10, None), 0);
    }
}

//! One partition's table of entries, found by key: open addressing with
//! linear probing in Robin Hood order, each slot holding an entry's pointer
//! and its key's 32-bit hash.
//!
//! The stored hash is what makes the table cheap: growing re-places every
//! slot by its hash without reading an entry (a cache miss each, as entries
//! are scattered over the heap); a probe compares hashes before it reads a
//! key; and a slot's distance from where its hash puts it is known from the
//! slot alone, which Robin Hood order needs. There are no separate control
//! bytes, so a probe reads one short run of slots: a new key usually costs
//! one cache miss, and [`Table::prefetch`] lets a run of puts start all of
//! theirs at once.
//!
//! Robin Hood order: a key being placed takes the slot of the first key it
//! meets that sits closer to its own home than the new key would, and that
//! key moves on in its place. So a lookup stops at the first slot whose key
//! is closer to its home than the probe has come (the key sought would have
//! taken that slot), and a removal shifts the slots after it back by one
//! until one is at its home or empty, so no tombstones are needed.

use super::packed::Packed;
use std::hash::BuildHasher;
use std::sync::LazyLock;

/// A keyed fast hash, quick on short keys, seeded once per process against
/// flooding: a key hashes alike in every table, so a hash can be computed
/// before it is known which copy of a partition will store it.
static HASHER: LazyLock<foldhash::fast::RandomState> = LazyLock::new(Default::default);

/// The hash a table places `key` by.
#[inline]
pub fn hash(key: &[u8]) -> u32 {
    // The upper half: foldhash mixes its output's top bits best.
    (HASHER.hash_one(key) >> 32) as u32
}

/// An entry and its key's hash.
#[derive(Debug, Clone)]
struct Slot {
    hash: u32,
    packed: Packed,
}

/// Entries found by their key (see [`Packed::key`]), at most one per key.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// A power of two of slots, or none; never more than [`MAX_LOAD`] full,
    /// so every probe ends at an empty slot.
    slots: Box<[Option<Slot>]>,
    len: usize,
}

/// The most a table is filled, as a fraction of its slots, before it grows:
/// the threshold std's tables use, so a partition has as many slots as it
/// had there and each costs 12 bytes instead of 9 (8 and a control byte).
/// 3/4 loads a million keys about a tenth faster (shorter probes) but
/// doubles the slots of partitions filled between 3/4 and 7/8, up to
/// 20 bytes a key more at some sizes.
const MAX_LOAD: (usize, usize) = (7, 8);

/// Slots of a table's first allocation.
const MIN_SLOTS: usize = 8;

/// Where a probe for a key stopped.
enum Probe {
    /// At the key's slot.
    Found(usize),
    /// Where the key would go: an empty slot, or one closer to its home
    /// than the key would be (which moves on for it).
    Vacant(usize),
}

impl Table {
    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The slot a hash is placed at when nothing is in the way.
    #[inline]
    fn home(&self, hash: u32) -> usize {
        hash as usize & self.mask()
    }

    /// How far slot `at`, holding `hash`, is from its home.
    #[inline]
    fn distance(&self, at: usize, hash: u32) -> usize {
        at.wrapping_sub(self.home(hash)) & self.mask()
    }

    /// Looks for `key`, whose hash is `hash`, in a table with slots.
    #[inline]
    fn probe(&self, key: &[u8], hash: u32) -> Probe {
        let mut at = self.home(hash);
        let mut distance = 0;
        loop {
            match &self.slots[at] {
                None => return Probe::Vacant(at),
                Some(slot) if slot.hash == hash && slot.packed.key() == key => {
                    return Probe::Found(at);
                }
                Some(slot) if self.distance(at, slot.hash) < distance => {
                    return Probe::Vacant(at);
                }
                Some(_) => {}
            }
            at = (at + 1) & self.mask();
            distance += 1;
        }
    }

    /// The slot holding `key`, if any.
    #[inline]
    fn find(&self, key: &[u8]) -> Option<usize> {
        self.find_hashed(key, hash(key))
    }

    /// The slot holding `key`, whose [`hash`] is `hash`, if any: where
    /// [`Table::at`] and [`Table::at_mut`] find its entry until the table
    /// changes.
    #[inline]
    pub fn find_hashed(&self, key: &[u8], hash: u32) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        match self.probe(key, hash) {
            Probe::Found(at) => Some(at),
            Probe::Vacant(_) => None,
        }
    }

    /// The entry of `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Packed> {
        self.at(self.find(key)?)
    }

    /// The entry of `key`, to change in place. The change must keep the key:
    /// the slot stays where that key's hash put it.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Packed> {
        let at = self.find(key)?;
        self.slots[at].as_mut().map(|slot| &mut slot.packed)
    }

    /// The entry in slot `at`, if it holds one.
    #[inline]
    pub fn at(&self, at: usize) -> Option<&Packed> {
        self.slots.get(at)?.as_ref().map(|slot| &slot.packed)
    }

    /// The entry in slot `at` if it is one of a key whose [`hash`] is
    /// `hash`, to change in place as [`Table::get_mut`]'s.
    #[inline]
    pub fn at_mut(&mut self, at: usize, hash: u32) -> Option<&mut Packed> {
        match self.slots.get_mut(at)? {
            Some(slot) if slot.hash == hash => Some(&mut slot.packed),
            _ => None,
        }
    }

    /// Asks the CPU to start loading the slots a key with hash `hash` is
    /// probed at, so that a run of puts waits for its cache misses together
    /// rather than one after another.
    #[inline]
    pub fn prefetch(&self, hash: u32) {
        if let Some(slot) = self.slots.get(self.home(hash)) {
            prefetch(std::ptr::from_ref(slot).cast());
        }
    }

    /// Stores `packed`, whose key's [`hash`] is `hash`, returning the entry
    /// its key had, if any: one probe whether the key is new or not.
    #[inline]
    pub fn replace_hashed(&mut self, hash: u32, packed: Packed) -> Option<Packed> {
        if (self.len + 1) * MAX_LOAD.1 > self.slots.len() * MAX_LOAD.0 {
            self.grow();
        }
        match self.probe(packed.key(), hash) {
            Probe::Found(at) => self.slots[at]
                .as_mut()
                .map(|slot| std::mem::replace(&mut slot.packed, packed)),
            Probe::Vacant(at) => {
                self.place(at, Slot { hash, packed });
                self.len += 1;
                None
            }
        }
    }

    /// Puts `slot` at `at`, where a probe for it stopped, moving the slots
    /// in the way along in Robin Hood order.
    fn place(&mut self, mut at: usize, mut slot: Slot) {
        let mut distance = self.distance(at, slot.hash);
        loop {
            let mask = self.mask();
            let home_of = |hash: u32| hash as usize & mask;
            match &mut self.slots[at] {
                empty @ None => {
                    *empty = Some(slot);
                    return;
                }
                Some(held) => {
                    let held_distance = at.wrapping_sub(home_of(held.hash)) & mask;
                    if held_distance < distance {
                        std::mem::swap(held, &mut slot);
                        distance = held_distance;
                    }
                }
            }
            at = (at + 1) & mask;
            distance += 1;
        }
    }

    /// Doubles the slots, placing every slot by its stored hash: no entry
    /// is read.
    #[cold]
    fn grow(&mut self) {
        let slots = (self.slots.len() * 2).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, (0..slots).map(|_| None).collect());
        for slot in old.into_vec().into_iter().flatten() {
            self.place(self.home(slot.hash), slot);
        }
    }

    /// Removes and returns the entry of `key`.
    pub fn take(&mut self, key: &[u8]) -> Option<Packed> {
        let mut at = self.find(key)?;
        let removed = self.slots[at].take()?;
        self.len -= 1;
        // Shift the slots after it back, up to one already at its home.
        loop {
            let next = (at + 1) & self.mask();
            match &self.slots[next] {
                Some(slot) if self.distance(next, slot.hash) > 0 => {
                    self.slots[at] = self.slots[next].take();
                    at = next;
                }
                _ => return Some(removed.packed),
            }
        }
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Packed> {
        self.slots.iter().flatten().map(|slot| &slot.packed)
    }
}

/// Starts loading the cache line at `at` (a hint: never faults, changes nothing).
#[inline]
fn prefetch(at: *const i8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch reads nothing the program sees and cannot fault,
    // whatever the address; SSE is part of every x86-64 CPU.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(key: &[u8], value: &[u8]) -> Packed {
        Packed::new(key, value, None, None, 0)
    }

    /// Stores an entry the way the keyspace does, with its key's hash.
    fn put(table: &mut Table, packed: Packed) -> Option<Packed> {
        table.replace_hashed(hash(packed.key()), packed)
    }

    fn value_of(table: &Table, key: &[u8]) -> Option<Vec<u8>> {
        table.get(key).map(|p| p.value().to_vec())
    }

    #[test]
    fn a_slot_is_a_stored_hash_and_a_thin_pointer() {
        assert_eq!(size_of::<Slot>(), 12);
        assert_eq!(align_of::<Slot>(), 4);
        assert_eq!(size_of::<Option<Slot>>(), 12, "an empty slot costs no more");
    }

    #[test]
    fn growth_keeps_every_entry_findable() {
        let mut table = Table::default();
        for i in 0..20_000u32 {
            let key = format!("key:{i}");
            assert!(put(&mut table, entry(key.as_bytes(), b"v")).is_none());
            // Check everything so far just after each growth step.
            if (i + 1).is_power_of_two() {
                for j in 0..=i {
                    let key = format!("key:{j}");
                    assert_eq!(value_of(&table, key.as_bytes()), Some(b"v".to_vec()));
                }
            }
        }
        assert_eq!(table.len(), 20_000);
        assert_eq!(table.iter().count(), 20_000);
        assert!(table.get(b"key:20000").is_none());
    }

    #[test]
    fn keys_with_the_same_stored_hash_are_told_apart() {
        let mut table = Table::default();
        // 32-bit hashes of a few hundred thousand keys collide (birthday bound).
        let mut seen: HashMap<u32, String> = HashMap::new();
        let (a, b) = (0..4_000_000u32)
            .map(|i| format!("k{i}"))
            .find_map(|key| {
                let hash = hash(key.as_bytes());
                seen.insert(hash, key.clone()).map(|other| (other, key))
            })
            .expect("a 32-bit collision among 4M keys");
        let (a, b) = (a.as_bytes(), b.as_bytes());
        assert_eq!(hash(a), hash(b));
        for i in 0..100 {
            put(&mut table, entry(format!("other{i}").as_bytes(), b"o"));
        }
        assert!(put(&mut table, entry(a, b"a")).is_none());
        assert_eq!(value_of(&table, b), None);
        assert!(put(&mut table, entry(b, b"b")).is_none());
        assert_eq!(value_of(&table, a), Some(b"a".to_vec()));
        assert_eq!(value_of(&table, b), Some(b"b".to_vec()));
        let old = put(&mut table, entry(a, b"a2")).map(|p| p.value().to_vec());
        assert_eq!(old, Some(b"a".to_vec()));
        assert_eq!(value_of(&table, b), Some(b"b".to_vec()));
        assert_eq!(
            table.take(b).map(|p| p.value().to_vec()),
            Some(b"b".to_vec())
        );
        assert_eq!(value_of(&table, a), Some(b"a2".to_vec()));
        assert!(table.take(b).is_none());
        assert_eq!(table.len(), 101);
    }

    #[test]
    fn puts_and_removals_in_any_order_match_a_map() {
        let mut table = Table::default();
        let mut model: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        for step in 0..60_000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Few keys, so removals land inside runs of displaced slots.
            let key = format!("k{}", x % 700).into_bytes();
            table.prefetch(hash(&key));
            if x >> 60 < 6 {
                let removed = table.take(&key).map(|p| p.value().to_vec());
                assert_eq!(removed, model.remove(&key), "step {step}");
            } else {
                let value = step.to_le_bytes();
                let old = put(&mut table, entry(&key, &value)).map(|p| p.value().to_vec());
                assert_eq!(old, model.insert(key, value.to_vec()), "step {step}");
            }
            assert_eq!(table.len(), model.len());
            if step % 1000 == 0 {
                for i in 0..700 {
                    let key = format!("k{i}").into_bytes();
                    assert_eq!(value_of(&table, &key), model.get(&key).cloned());
                }
                assert_eq!(table.iter().count(), model.len());
            }
        }
    }

    #[test]
    fn a_change_in_place_keeps_the_entry_findable() {
        let mut table = Table::default();
        for i in 0..100 {
            put(&mut table, entry(format!("k{i}").as_bytes(), b"v"));
        }
        let found = table.get_mut(b"k7").map(|p| {
            p.set_expires_at(Some(5));
            p.set_last_use(9);
        });
        assert!(found.is_some());
        assert!(table.get_mut(b"missing").is_none());
        let entry = table.get(b"k7").map(|p| (p.expires_at(), p.last_use()));
        assert_eq!(entry, Some((Some(5), Some(9))));
        assert_eq!(table.len(), 100);
    }

    #[test]
    fn a_slot_found_for_a_key_holds_its_entry() {
        let mut table = Table::default();
        assert_eq!(table.find_hashed(b"k1", hash(b"k1")), None);
        for i in 0..100 {
            put(&mut table, entry(format!("k{i}").as_bytes(), b"v"));
        }
        let at = table.find_hashed(b"k7", hash(b"k7")).unwrap();
        assert_eq!(table.at(at).map(Packed::key), Some(&b"k7"[..]));
        assert!(table.find_hashed(b"missing", hash(b"missing")).is_none());
        // Changed there only as the entry of a key with that hash.
        assert!(table.at_mut(at, hash(b"k7") ^ 1).is_none());
        let changed = table.at_mut(at, hash(b"k7")).map(|p| p.set_last_use(3));
        assert!(changed.is_some());
        assert_eq!(table.get(b"k7").and_then(Packed::last_use), Some(3));
        assert!(table.at(table.slots.len()).is_none());
        assert!(table.at_mut(table.slots.len(), 0).is_none());
    }

    #[test]
    fn a_clone_finds_the_same_keys_and_changes_apart() {
        let mut table = Table::default();
        for i in 0..1000 {
            put(&mut table, entry(format!("k{i}").as_bytes(), b"old"));
        }
        let copy = table.clone();
        for i in 1000..3000 {
            put(&mut table, entry(format!("k{i}").as_bytes(), b"new"));
        }
        put(&mut table, entry(b"k1", b"new"));
        assert_eq!(value_of(&copy, b"k1"), Some(b"old".to_vec()));
        assert_eq!(value_of(&copy, b"k999"), Some(b"old".to_vec()));
        assert!(copy.get(b"k1000").is_none());
        assert_eq!(copy.len(), 1000);
        assert_eq!(value_of(&table, b"k1"), Some(b"new".to_vec()));
        assert_eq!(table.len(), 3000);
    }
}

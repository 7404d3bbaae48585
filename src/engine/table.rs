//! One partition's table of entries, found by key: a hash table whose slots
//! keep each entry's 32-bit table hash beside its pointer.
//!
//! The stored hash is what makes the table cheap to grow: re-placing every
//! entry in a table twice the size reads the slots alone, where a set of bare
//! pointers re-hashes each key through its pointer (a cache miss per entry,
//! since entries are scattered over the heap). A probe also compares stored
//! hashes before it reads a candidate's key, so a key is only read when it
//! is almost certainly the one sought. The price is 4 bytes a slot: a slot
//! is 12 bytes (the entry handle is 4-byte aligned) instead of 8.

use super::packed::Packed;
use hashbrown::HashTable;
use hashbrown::hash_table::Entry;
use std::hash::BuildHasher;

/// A keyed fast hash: quick on short keys, seeded per table against flooding.
type Hasher = foldhash::fast::RandomState;

/// An entry and the hash its key had when it was stored.
#[derive(Debug, Clone)]
struct Slot {
    hash: u32,
    packed: Packed,
}

/// Entries found by their key (see [`Packed::key`]), at most one per key.
#[derive(Debug, Clone, Default)]
pub struct Table {
    slots: HashTable<Slot>,
    hasher: Hasher,
}

/// The 64-bit hash the table places a slot by, made from the stored 32 bits:
/// the low bits pick the bucket, the top 7 are the tag kept in the control
/// bytes. Both come from the stored hash, so no key is read to compute it.
#[inline]
fn spread(hash: u32) -> u64 {
    (u64::from(hash) << 32) | u64::from(hash)
}

/// Where a slot belongs, from what it stores.
#[inline]
fn placed(slot: &Slot) -> u64 {
    spread(slot.hash)
}

impl Table {
    /// The stored hash of `key` in this table.
    #[inline]
    fn hash(&self, key: &[u8]) -> u32 {
        // The upper half: foldhash mixes its output's top bits best.
        (self.hasher.hash_one(key) >> 32) as u32
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The entry of `key`.
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&Packed> {
        let hash = self.hash(key);
        self.slots
            .find(spread(hash), |slot| {
                slot.hash == hash && slot.packed.key() == key
            })
            .map(|slot| &slot.packed)
    }

    /// The entry of `key`, to change in place. The change must keep the key:
    /// the slot stays where that key's hash put it.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Packed> {
        let hash = self.hash(key);
        self.slots
            .find_mut(spread(hash), |slot| {
                slot.hash == hash && slot.packed.key() == key
            })
            .map(|slot| &mut slot.packed)
    }

    /// Stores `packed`, returning the entry its key had, if any: one hash and
    /// one probe whether the key is new or not.
    #[inline]
    pub fn replace(&mut self, packed: Packed) -> Option<Packed> {
        let hash = self.hash(packed.key());
        let key = packed.key();
        match self.slots.entry(
            spread(hash),
            |slot| slot.hash == hash && slot.packed.key() == key,
            placed,
        ) {
            Entry::Occupied(mut slot) => {
                Some(std::mem::replace(&mut slot.get_mut().packed, packed))
            }
            Entry::Vacant(slot) => {
                slot.insert(Slot { hash, packed });
                None
            }
        }
    }

    /// Removes and returns the entry of `key`.
    pub fn take(&mut self, key: &[u8]) -> Option<Packed> {
        let hash = self.hash(key);
        self.slots
            .find_entry(spread(hash), |slot| {
                slot.hash == hash && slot.packed.key() == key
            })
            .ok()
            .map(|slot| slot.remove().0.packed)
    }

    /// Every entry, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Packed> {
        self.slots.iter().map(|slot| &slot.packed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(key: &[u8], value: &[u8]) -> Packed {
        Packed::new(key, value, None, None, 0)
    }

    fn value_of(table: &Table, key: &[u8]) -> Option<Vec<u8>> {
        table.get(key).map(|p| p.value().to_vec())
    }

    #[test]
    fn a_slot_is_a_stored_hash_and_a_thin_pointer() {
        assert_eq!(size_of::<Slot>(), 12);
        assert_eq!(align_of::<Slot>(), 4);
    }

    #[test]
    fn growth_keeps_every_entry_findable() {
        let mut table = Table::default();
        for i in 0..20_000u32 {
            let key = format!("key:{i}");
            assert!(table.replace(entry(key.as_bytes(), b"v")).is_none());
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
                let hash = table.hash(key.as_bytes());
                seen.insert(hash, key.clone()).map(|other| (other, key))
            })
            .expect("a 32-bit collision among 4M keys");
        let (a, b) = (a.as_bytes(), b.as_bytes());
        assert_eq!(table.hash(a), table.hash(b));
        for i in 0..100 {
            table.replace(entry(format!("other{i}").as_bytes(), b"o"));
        }
        assert!(table.replace(entry(a, b"a")).is_none());
        assert_eq!(value_of(&table, b), None);
        assert!(table.replace(entry(b, b"b")).is_none());
        assert_eq!(value_of(&table, a), Some(b"a".to_vec()));
        assert_eq!(value_of(&table, b), Some(b"b".to_vec()));
        let old = table.replace(entry(a, b"a2")).map(|p| p.value().to_vec());
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
    fn a_change_in_place_keeps_the_entry_findable() {
        let mut table = Table::default();
        for i in 0..100 {
            table.replace(entry(format!("k{i}").as_bytes(), b"v"));
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
    fn a_clone_finds_the_same_keys_and_changes_apart() {
        let mut table = Table::default();
        for i in 0..1000 {
            table.replace(entry(format!("k{i}").as_bytes(), b"old"));
        }
        let copy = table.clone();
        for i in 1000..3000 {
            table.replace(entry(format!("k{i}").as_bytes(), b"new"));
        }
        table.replace(entry(b"k1", b"new"));
        assert_eq!(value_of(&copy, b"k1"), Some(b"old".to_vec()));
        assert_eq!(value_of(&copy, b"k999"), Some(b"old".to_vec()));
        assert!(copy.get(b"k1000").is_none());
        assert_eq!(copy.len(), 1000);
        assert_eq!(value_of(&table, b"k1"), Some(b"new".to_vec()));
        assert_eq!(table.len(), 3000);
    }
}

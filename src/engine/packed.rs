//! One stored entry packed into a single heap allocation: a short header, the
//! deadline and the last use only when the entry has them, then the key and
//! the value. A key costs one allocation and one 8-byte slot in its table
//! (the handle is a thin pointer: the header knows the allocation's length),
//! and the table finds entries by their key part (see the `Borrow` impl).
//!
//! Layout: `varint(key_len << 2 | flags)`, `varint(value_len)`,
//! `[deadline: u64 LE]`, `[last_use: u64 LE]`, key, value. The varints are
//! LEB128, so keys shorter than 32 bytes and values shorter than 128 bytes
//! need one header byte each.
//!
//! The only `unsafe` here turns the thin pointer back into the byte slice it
//! was made from (to read, to change a field in place, and to free it). It
//! rests on one invariant: a `Packed` always points at the start of a live
//! allocation it owns, made by [`Packed::new`] (or copied from one by
//! `clone`), whose header gives its length.

use super::EntryRef;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;

/// Header flag: a deadline follows the header.
const HAS_DEADLINE: u64 = 1;
/// Header flag: a last-use tick follows the header (and the deadline, if any).
const HAS_LAST_USE: u64 = 2;
/// Bits of the header's first number taken by flags, below the key length.
const FLAG_BITS: u32 = 2;
/// Bytes of each optional field.
const FIELD: usize = 8;
/// Bytes of the longest varint (a u64 in 7-bit groups).
const MAX_VARINT: usize = 10;

/// A key, its value, and optionally its deadline and last use, in one allocation.
///
/// Two `Packed` are equal, and hash alike, when their keys are: a table of
/// them is a map from key to the rest.
///
/// Owns a `Box<[u8]>` that [`Packed::new`] (or `clone`) leaked into a thin
/// pointer: the start of the allocation, whose length the header gives.
pub struct Packed(NonNull<u8>);

// SAFETY: a `Packed` owns its allocation exactly as the `Box<[u8]>` it was
// made from did (nothing else points into it, and it has no interior
// mutability), so it may move to and be shared between threads like that box.
unsafe impl Send for Packed {}
// SAFETY: as for `Send`: `&Packed` only reads the bytes.
unsafe impl Sync for Packed {}

/// Where the parts of a packed entry are.
struct Layout {
    flags: u64,
    /// Offset of the first optional field (just past the header).
    fields: usize,
    /// Offset of the key.
    key: usize,
    /// Offset of the value (just past the key).
    value: usize,
    /// Length of the whole allocation (just past the value).
    end: usize,
}

impl Packed {
    /// Packs `key` and `value` with a deadline and a last use, each optional.
    pub fn new(key: &[u8], value: &[u8], expires_at: Option<u64>, last_use: Option<u64>) -> Self {
        let mut flags = 0;
        if expires_at.is_some() {
            flags |= HAS_DEADLINE;
        }
        if last_use.is_some() {
            flags |= HAS_LAST_USE;
        }
        // A slice is at most isize::MAX bytes, so the shift cannot lose bits.
        let word = ((key.len() as u64) << FLAG_BITS) | flags;
        let value_len = value.len() as u64;
        let fields = FIELD * flags.count_ones() as usize;
        let len = varint_len(word) + varint_len(value_len) + fields + key.len() + value.len();
        let mut bytes = Vec::with_capacity(len);
        put_varint(&mut bytes, word);
        put_varint(&mut bytes, value_len);
        for field in [expires_at, last_use].into_iter().flatten() {
            bytes.extend_from_slice(&field.to_le_bytes());
        }
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(value);
        // Only the start is kept: the header gives the length back (see `layout`).
        Packed(NonNull::from(Box::leak(bytes.into_boxed_slice())).cast())
    }

    /// The header's two numbers and the offset just past them.
    #[inline]
    fn header(&self) -> (u64, u64, usize) {
        let start = self.0.as_ptr();
        // SAFETY: `new` wrote two varints at the start of the allocation,
        // each at least one byte long, so the first byte exists...
        let first = unsafe { start.read() };
        if first < 0x80 {
            // SAFETY: ...and when the first byte ends the first varint, the
            // second varint starts at the second byte.
            let second = unsafe { start.add(1).read() };
            if second < 0x80 {
                // Keys shorter than 32 bytes and values shorter than 128 bytes.
                return (u64::from(first), u64::from(second), 2);
            }
        }
        self.long_header()
    }

    /// [`Packed::header`] when a number takes more than one byte.
    #[cold]
    fn long_header(&self) -> (u64, u64, usize) {
        let mut at = 0;
        let mut numbers = [0u64; 2];
        for number in &mut numbers {
            for shift in (0..MAX_VARINT as u32).map(|group| 7 * group) {
                // SAFETY: `new` wrote both varints whole at the start of the
                // allocation, and each loop stops at its varint's last byte
                // (the one below 0x80), so every byte read lies inside the
                // allocation and was initialized.
                let byte = unsafe { self.0.as_ptr().add(at).read() };
                at += 1;
                *number |= u64::from(byte & 0x7f) << shift;
                if byte < 0x80 {
                    break;
                }
            }
        }
        (numbers[0], numbers[1], at)
    }

    /// Where the parts are. The lengths were written from slice lengths,
    /// so they fit a `usize`, and their sum is the allocation's length.
    fn layout(&self) -> Layout {
        let (word, value_len, fields) = self.header();
        let flags = word & ((1 << FLAG_BITS) - 1);
        let key = fields + FIELD * flags.count_ones() as usize;
        let value = key + (word >> FLAG_BITS) as usize;
        Layout {
            flags,
            fields,
            key,
            value,
            end: value + value_len as usize,
        }
    }

    /// The layout, and the whole allocation as bytes.
    fn bytes(&self) -> (Layout, &[u8]) {
        let layout = self.layout();
        // SAFETY: the pointer and `layout.end` are the start and length of
        // the `Box<[u8]>` leaked in `new` or `clone` (the header `new` wrote
        // gives that length back). `self` owns it, and nothing changes it
        // while this shared borrow of `self` lives.
        let bytes = unsafe { std::slice::from_raw_parts(self.0.as_ptr(), layout.end) };
        (layout, bytes)
    }

    /// The layout, and the whole allocation as bytes to change in place.
    fn bytes_mut(&mut self) -> (Layout, &mut [u8]) {
        let layout = self.layout();
        // SAFETY: as in `bytes`; the exclusive borrow of `self` makes this
        // the only reference to the allocation while it lives.
        let bytes = unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr(), layout.end) };
        (layout, bytes)
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        let (layout, bytes) = self.bytes();
        &bytes[layout.key..layout.value]
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        let (layout, bytes) = self.bytes();
        &bytes[layout.value..]
    }

    /// Absolute expiry time in Unix milliseconds, if any.
    pub fn expires_at(&self) -> Option<u64> {
        let (layout, bytes) = self.bytes();
        field(bytes, &layout, HAS_DEADLINE)
    }

    /// When the entry was last used (a logical clock), if that is tracked.
    pub fn last_use(&self) -> Option<u64> {
        let (layout, bytes) = self.bytes();
        field(bytes, &layout, HAS_LAST_USE)
    }

    /// The value and deadline, borrowed.
    pub fn view(&self) -> EntryRef<'_> {
        let (layout, bytes) = self.bytes();
        EntryRef {
            value: &bytes[layout.value..],
            expires_at: field(bytes, &layout, HAS_DEADLINE),
        }
    }

    /// Sets an optional field: in place when the entry has it, else by repacking.
    fn set_field(&mut self, flag: u64, to: Option<u64>) {
        let (layout, bytes) = self.bytes_mut();
        if let Some(to) = to
            && layout.flags & flag != 0
        {
            let at = field_offset(&layout, flag);
            bytes[at..at + FIELD].copy_from_slice(&to.to_le_bytes());
            return;
        }
        if to.is_none() && layout.flags & flag == 0 {
            return;
        }
        let (expires_at, last_use) = if flag == HAS_DEADLINE {
            (to, field(bytes, &layout, HAS_LAST_USE))
        } else {
            (field(bytes, &layout, HAS_DEADLINE), to)
        };
        *self = Packed::new(
            &bytes[layout.key..layout.value],
            &bytes[layout.value..],
            expires_at,
            last_use,
        );
    }

    /// Sets or removes the deadline.
    pub fn set_expires_at(&mut self, at: Option<u64>) {
        self.set_field(HAS_DEADLINE, at);
    }

    /// Records a use at logical time `tick`.
    pub fn set_last_use(&mut self, tick: u64) {
        self.set_field(HAS_LAST_USE, Some(tick));
    }
}

impl Drop for Packed {
    fn drop(&mut self) {
        let end = self.layout().end;
        let slice = std::ptr::slice_from_raw_parts_mut(self.0.as_ptr(), end);
        // SAFETY: this is the pointer and length of the `Box<[u8]>` leaked in
        // `new` or `clone` (see `bytes`), rebuilt once, here, and never used
        // again.
        drop(unsafe { Box::from_raw(slice) });
    }
}

impl Clone for Packed {
    /// A byte-for-byte copy (a snapshot's copy on write clones whole
    /// partitions): a copy of what `new` wrote is laid out as `new` writes.
    fn clone(&self) -> Self {
        let copy: Box<[u8]> = Box::from(self.bytes().1);
        Packed(NonNull::from(Box::leak(copy)).cast())
    }
}

/// The optional field `flag` of an entry laid out as `layout`, if it has it.
fn field(bytes: &[u8], layout: &Layout, flag: u64) -> Option<u64> {
    if layout.flags & flag == 0 {
        return None;
    }
    let at = field_offset(layout, flag);
    let bytes: [u8; FIELD] = bytes.get(at..at + FIELD)?.try_into().ok()?;
    Some(u64::from_le_bytes(bytes))
}

/// Offset of the optional field `flag`, which the entry has: the deadline
/// comes first.
fn field_offset(layout: &Layout, flag: u64) -> usize {
    if flag == HAS_LAST_USE && layout.flags & HAS_DEADLINE != 0 {
        layout.fields + FIELD
    } else {
        layout.fields
    }
}

fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

impl Borrow<[u8]> for Packed {
    fn borrow(&self) -> &[u8] {
        self.key()
    }
}

impl Hash for Packed {
    /// Hashes exactly as the key slice does, so tables can be probed with `&[u8]`.
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialEq for Packed {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Packed {}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value_len", &self.value().len())
            .field("expires_at", &self.expires_at())
            .field("last_use", &self.last_use())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn parts(p: &Packed) -> (Vec<u8>, Vec<u8>, Option<u64>, Option<u64>) {
        (
            p.key().to_vec(),
            p.value().to_vec(),
            p.expires_at(),
            p.last_use(),
        )
    }

    #[test]
    fn every_combination_of_fields_and_lengths_reads_back() {
        let long_key = vec![b'k'; 300];
        let keys: [&[u8]; 4] = [b"", b"a", b"key:123456", &long_key];
        let values: [&[u8]; 3] = [b"", b"value:1", &[0xff; 1000]];
        let options = [None, Some(0), Some(u64::MAX), Some(1_700_000_000_000)];
        for key in keys {
            for value in values {
                for expires_at in options {
                    for last_use in options {
                        let p = Packed::new(key, value, expires_at, last_use);
                        assert_eq!(
                            parts(&p),
                            (key.to_vec(), value.to_vec(), expires_at, last_use)
                        );
                        assert_eq!(p.view(), EntryRef { value, expires_at });
                    }
                }
            }
        }
    }

    #[test]
    fn a_small_entry_without_options_costs_two_header_bytes_and_a_thin_slot() {
        let len = |p: &Packed| p.bytes().1.len();
        let p = Packed::new(b"key:999999", b"value:999999", None, None);
        assert_eq!(len(&p), 2 + 10 + 12);
        let p = Packed::new(b"key:999999", b"value:999999", Some(5), None);
        assert_eq!(len(&p), 2 + 8 + 10 + 12);
        assert_eq!(std::mem::size_of::<Packed>(), 8);
        assert_eq!(std::mem::size_of::<Option<Packed>>(), 8);
    }

    #[test]
    fn long_keys_and_values_take_longer_headers() {
        let key = vec![b'k'; 40];
        let value = vec![7; 20_000];
        let p = Packed::new(&key, &value, Some(1), Some(2));
        assert_eq!(p.bytes().1.len(), 2 + 3 + 16 + 40 + 20_000);
        assert_eq!(parts(&p), (key, value, Some(1), Some(2)));
    }

    #[test]
    fn a_clone_is_an_independent_copy() {
        let mut a = Packed::new(b"key", b"value", None, Some(1));
        let b = a.clone();
        a.set_last_use(2);
        a.set_expires_at(Some(3));
        assert_eq!(
            parts(&b),
            (b"key".to_vec(), b"value".to_vec(), None, Some(1))
        );
        assert_eq!(
            parts(&a),
            (b"key".to_vec(), b"value".to_vec(), Some(3), Some(2))
        );
        drop(a);
        assert_eq!(b.value(), b"value");
    }

    #[test]
    fn fields_change_in_place_or_by_repacking() {
        let mut p = Packed::new(b"k", b"v", None, None);
        p.set_last_use(7);
        assert_eq!(parts(&p), (b"k".to_vec(), b"v".to_vec(), None, Some(7)));
        p.set_expires_at(Some(100));
        assert_eq!(
            parts(&p),
            (b"k".to_vec(), b"v".to_vec(), Some(100), Some(7))
        );
        p.set_last_use(8);
        p.set_expires_at(Some(200));
        assert_eq!(
            parts(&p),
            (b"k".to_vec(), b"v".to_vec(), Some(200), Some(8))
        );
        p.set_expires_at(None);
        assert_eq!(parts(&p), (b"k".to_vec(), b"v".to_vec(), None, Some(8)));
        p.set_expires_at(None);
        assert_eq!(parts(&p), (b"k".to_vec(), b"v".to_vec(), None, Some(8)));
    }

    #[test]
    fn a_set_of_entries_is_found_by_key_alone() {
        let mut set: HashSet<Packed, foldhash::fast::RandomState> = HashSet::default();
        for i in 0..1000 {
            let key = format!("key:{i}");
            set.insert(Packed::new(key.as_bytes(), b"x", None, None));
        }
        // Same key, other value and fields: replaces, does not add.
        let old = set.replace(Packed::new(b"key:5", b"new", Some(9), Some(1)));
        assert_eq!(old.map(|p| p.value().to_vec()), Some(b"x".to_vec()));
        assert_eq!(set.len(), 1000);
        let found = set.get(&b"key:5"[..]).map(parts);
        assert_eq!(
            found,
            Some((b"key:5".to_vec(), b"new".to_vec(), Some(9), Some(1)))
        );
        assert!(!set.contains(&b"key:1000"[..]));
        assert!(set.take(&b"key:999"[..]).is_some());
        assert_eq!(set.len(), 999);
    }
}

//! One stored entry packed into a single heap allocation: the time of its
//! last access, a short header, the deadline and the LRU tick only when the
//! entry has them, then the key and the value. A key costs one allocation
//! and an 8-byte handle in its table's slot (a thin pointer: the header
//! knows the allocation's length), and tables find entries by their key
//! part (see [`Packed::key`]).
//!
//! Layout: `access: u32` (native order), `varint(key_len << 2 | flags)`,
//! `varint(value_len)`, `[deadline: u64 LE]`, `[last_use: u64 LE]`, key,
//! value. The varints are LEB128, so keys shorter than 32 bytes and values
//! shorter than 128 bytes need one header byte each.
//!
//! The access stamp is the one part that changes behind a shared reference:
//! a read records itself there in place, without taking the entry out of its
//! table and without copying a partition a snapshot shares (the snapshot
//! never reads it). It is an [`AtomicU32`], so the allocation is made of
//! `u32` words to align it, and every byte slice handed out starts after it.
//!
//! The `unsafe` here turns the thin pointer back into the bytes it was made
//! from (to read, to change a field in place, and to free it) and into the
//! atomic. It rests on one invariant: a `Packed` always points at the start
//! of a live allocation it owns, made by [`allocate`] for [`Packed::new`] or
//! `clone`, whose header gives its length.

use super::EntryRef;
use std::mem::MaybeUninit;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

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
/// Bytes of the access stamp at the start, also the size of the words the
/// allocation is made of.
const ACCESS: usize = size_of::<u32>();

/// A key, its value, when it was last accessed, and optionally its deadline
/// and LRU tick, in one allocation.
///
/// Two `Packed` are equal, and hash alike, when their keys are: a table of
/// them is a map from key to the rest.
///
/// Owns a `Box<[MaybeUninit<u32>]>` that [`allocate`] leaked into a thin
/// pointer: the start of the allocation, whose length the header gives.
///
/// Aligned to 4 bytes rather than 8, so a table slot of a 4-byte hash and
/// this handle takes 12 bytes (see `table`); x86-64 and AArch64 read an
/// 8-byte value at a 4-byte boundary at full speed.
#[repr(C, packed(4))]
pub struct Packed(NonNull<u8>);

// SAFETY: a `Packed` owns its allocation exactly as the box it was made from
// did (nothing else points into it), so it may move between threads like
// that box.
unsafe impl Send for Packed {}
// SAFETY: `&Packed` reads the bytes after the access stamp, which nothing
// changes while a shared reference lives, and reads or writes the stamp
// only atomically, so it may be shared between threads.
unsafe impl Sync for Packed {}

/// Where the parts of a packed entry are, as offsets past the access stamp.
struct Layout {
    flags: u64,
    /// Offset of the first optional field (just past the header).
    fields: usize,
    /// Offset of the key.
    key: usize,
    /// Offset of the value (just past the key).
    value: usize,
    /// Length of the bytes after the stamp (just past the value).
    end: usize,
}

/// Words of an allocation holding the stamp and `len` more bytes.
fn words(len: usize) -> usize {
    (ACCESS + len).div_ceil(ACCESS)
}

/// Allocates an entry: the stamp `access`, then `parts` one after another.
/// Returns the allocation's start; every byte up to the end of the last part
/// is initialized.
fn allocate(access: u32, parts: &[&[u8]]) -> NonNull<u8> {
    let len: usize = parts.iter().map(|part| part.len()).sum();
    let mut words = Box::<[u32]>::new_uninit_slice(words(len));
    words[0].write(access);
    let start: NonNull<u8> = NonNull::from(Box::leak(words)).cast();
    let mut at = ACCESS;
    for part in parts {
        // SAFETY: the allocation holds `words(len)` words, at least `ACCESS +
        // len` bytes, and the parts' lengths sum to `len`, so each part fits
        // at `at`. The allocation is ours alone (the box was just leaked) and
        // cannot overlap the borrowed part.
        unsafe {
            std::ptr::copy_nonoverlapping(part.as_ptr(), start.as_ptr().add(at), part.len());
        }
        at += part.len();
    }
    start
}

impl Packed {
    /// Packs `key` and `value`, last accessed at `access` (see
    /// [`super::access`]), with a deadline and an LRU tick, each optional.
    pub fn new(
        key: &[u8],
        value: &[u8],
        expires_at: Option<u64>,
        last_use: Option<u64>,
        access: u32,
    ) -> Self {
        let mut flags = 0;
        if expires_at.is_some() {
            flags |= HAS_DEADLINE;
        }
        if last_use.is_some() {
            flags |= HAS_LAST_USE;
        }
        // A slice is at most isize::MAX bytes, so the shift cannot lose bits.
        let word = ((key.len() as u64) << FLAG_BITS) | flags;
        if let (0, Ok(word @ 0..0x80), Ok(value_len @ 0..0x80)) =
            (flags, u8::try_from(word), u8::try_from(value.len()))
        {
            // The common header, two one-byte numbers and no field, made as one number:
            // gathered byte by byte in a buffer it would be a load the CPU
            // cannot take from the stores that wrote it, and it would wait
            // for every store before them to reach its cache.
            let head = u16::from_le_bytes([word, value_len]).to_le_bytes();
            return Packed(allocate(access, &[&head, key, value]));
        }
        let mut head = [0; 2 * MAX_VARINT + 2 * FIELD];
        let mut len = put_varint(&mut head, 0, word);
        len = put_varint(&mut head, len, value.len() as u64);
        for field in [expires_at, last_use].into_iter().flatten() {
            head[len..len + FIELD].copy_from_slice(&field.to_le_bytes());
            len += FIELD;
        }
        // Only the start is kept: the header gives the length back (see `layout`).
        Packed(allocate(access, &[&head[..len], key, value]))
    }

    /// The start of the bytes after the access stamp.
    #[inline]
    fn base(&self) -> *const u8 {
        // SAFETY: the allocation holds the stamp and at least the two header
        // bytes after it (see `allocate`), so this stays inside it.
        unsafe { self.0.as_ptr().add(ACCESS) }
    }

    /// The header's two numbers and the offset just past them.
    #[inline]
    fn header(&self) -> (u64, u64, usize) {
        let start = self.base();
        // SAFETY: `new` wrote two varints just after the stamp, each at least
        // one byte long, so the first byte exists...
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
                // SAFETY: `new` wrote both varints whole just after the stamp,
                // and each loop stops at its varint's last byte (the one below
                // 0x80), so every byte read lies inside the allocation and was
                // initialized.
                let byte = unsafe { self.base().add(at).read() };
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
    #[inline]
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

    /// The layout, and the bytes after the access stamp.
    #[inline]
    fn bytes(&self) -> (Layout, &[u8]) {
        let layout = self.layout();
        // SAFETY: `allocate` initialized `layout.end` bytes after the stamp
        // (the header `new` wrote gives that length back). `self` owns them,
        // and nothing changes them while this shared borrow of `self` lives:
        // only the stamp, outside this slice, changes behind `&self`.
        let bytes = unsafe { std::slice::from_raw_parts(self.base(), layout.end) };
        (layout, bytes)
    }

    /// The layout, and the bytes after the access stamp, to change in place.
    fn bytes_mut(&mut self) -> (Layout, &mut [u8]) {
        let layout = self.layout();
        // SAFETY: as in `bytes`; the exclusive borrow of `self` makes this
        // the only reference to them while it lives (the pointer is derived
        // from the allocation's, which permits writes).
        let bytes =
            unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr().add(ACCESS), layout.end) };
        (layout, bytes)
    }

    /// The access stamp, shared.
    fn stamp(&self) -> &AtomicU32 {
        // SAFETY: the allocation starts with a `u32` word that `allocate`
        // initialized and that is aligned for one (the allocation is made of
        // `u32` words). It lives as long as `self`, and is only ever accessed
        // through this atomic once `allocate` has returned.
        unsafe { AtomicU32::from_ptr(self.0.as_ptr().cast()) }
    }

    /// When the entry was last accessed (see [`super::access`]).
    pub fn access(&self) -> u32 {
        self.stamp().load(Ordering::Relaxed)
    }

    /// Records an access at `at`, in place: the entry stays where it is in
    /// its table, and a snapshot sharing it is not disturbed (it never reads
    /// the stamp).
    pub fn mark_access(&self, at: u32) {
        self.stamp().store(at, Ordering::Relaxed);
    }

    /// The key.
    #[inline]
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
        let access = self.access();
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
            access,
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
        let words = words(self.layout().end);
        let slice = std::ptr::slice_from_raw_parts_mut(self.0.as_ptr().cast(), words);
        // SAFETY: this is the pointer and length of the `Box<[MaybeUninit<u32>]>`
        // leaked in `allocate` (its length from the same `words` of the same
        // byte count), rebuilt once, here, and never used again.
        drop(unsafe { Box::<[MaybeUninit<u32>]>::from_raw(slice) });
    }
}

impl Clone for Packed {
    /// A byte-for-byte copy (a snapshot's copy on write clones whole
    /// partitions): a copy of what `new` wrote is laid out as `new` writes.
    fn clone(&self) -> Self {
        Packed(allocate(self.access(), &[self.bytes().1]))
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

/// Writes `n` as a varint into `out` at `at`; returns the offset past it.
fn put_varint(out: &mut [u8], mut at: usize, mut n: u64) -> usize {
    while n >= 0x80 {
        out[at] = (n as u8) | 0x80;
        n >>= 7;
        at += 1;
    }
    out[at] = n as u8;
    at + 1
}

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Packed")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value_len", &self.value().len())
            .field("expires_at", &self.expires_at())
            .field("last_use", &self.last_use())
            .field("access", &self.access())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                        let access = last_use.map_or(0, |n| n as u32 ^ 0x8765_4321);
                        let p = Packed::new(key, value, expires_at, last_use, access);
                        assert_eq!(
                            parts(&p),
                            (key.to_vec(), value.to_vec(), expires_at, last_use)
                        );
                        assert_eq!(p.view(), EntryRef { value, expires_at });
                        assert_eq!(p.access(), access);
                    }
                }
            }
        }
    }

    #[test]
    fn a_small_entry_without_options_costs_a_stamp_two_header_bytes_and_a_thin_slot() {
        let len = |p: &Packed| p.bytes().1.len();
        let p = Packed::new(b"key:999999", b"value:999999", None, None, 0);
        assert_eq!(len(&p), 2 + 10 + 12);
        assert_eq!(ACCESS * words(len(&p)), 4 + 2 + 10 + 12);
        let p = Packed::new(b"key:999999", b"value:999999", Some(5), None, 0);
        assert_eq!(len(&p), 2 + 8 + 10 + 12);
        assert_eq!(std::mem::size_of::<Packed>(), 8);
        assert_eq!(std::mem::size_of::<Option<Packed>>(), 8);
    }

    #[test]
    fn long_keys_and_values_take_longer_headers() {
        let key = vec![b'k'; 40];
        let value = vec![7; 20_000];
        let p = Packed::new(&key, &value, Some(1), Some(2), 0);
        assert_eq!(p.bytes().1.len(), 2 + 3 + 16 + 40 + 20_000);
        assert_eq!(parts(&p), (key, value, Some(1), Some(2)));
    }

    #[test]
    fn a_clone_is_an_independent_copy() {
        let mut a = Packed::new(b"key", b"value", None, Some(1), 0);
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
    fn the_access_stamp_changes_in_place_and_survives_copies_and_repacking() {
        let mut a = Packed::new(b"key", b"value", None, None, 5);
        let before = a.bytes().1.as_ptr();
        let shared = &a;
        shared.mark_access(9);
        assert_eq!(a.access(), 9);
        assert_eq!(a.bytes().1.as_ptr(), before, "marked in place");
        let b = a.clone();
        a.mark_access(11);
        assert_eq!((a.access(), b.access()), (11, 9));
        // Adding a field repacks the entry; the stamp goes along.
        a.set_expires_at(Some(100));
        a.set_last_use(3);
        assert_eq!(a.access(), 11);
        assert_eq!(
            parts(&a),
            (b"key".to_vec(), b"value".to_vec(), Some(100), Some(3))
        );
        a.mark_access(u32::MAX);
        assert_eq!(a.access(), u32::MAX);
        assert_eq!(
            a.expires_at(),
            Some(100),
            "the stamp stays out of the fields"
        );
    }

    #[test]
    fn fields_change_in_place_or_by_repacking() {
        let mut p = Packed::new(b"k", b"v", None, None, 0);
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
}

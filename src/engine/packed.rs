//! One stored entry packed into a single heap allocation: a short header, the
//! deadline and the last use only when the entry has them, then the key and
//! the value. A key costs one allocation and one 16-byte slot in its table,
//! and the table finds entries by their key part (see the `Borrow` impl).
//!
//! Layout: `varint(key_len << 2 | flags)`, `[deadline: u64 LE]`,
//! `[last_use: u64 LE]`, key, value. The varint is LEB128, so keys shorter
//! than 32 bytes need a single header byte.

use super::EntryRef;
use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Header flag: a deadline follows the header.
const HAS_DEADLINE: u64 = 1;
/// Header flag: a last-use tick follows the header (and the deadline, if any).
const HAS_LAST_USE: u64 = 2;
/// Bits of the header's number taken by flags, below the key length.
const FLAG_BITS: u32 = 2;
/// Bytes of each optional field.
const FIELD: usize = 8;

/// A key, its value, and optionally its deadline and last use, in one allocation.
///
/// Two `Packed` are equal, and hash alike, when their keys are: a table of
/// them is a map from key to the rest.
#[derive(Clone)]
pub struct Packed(Box<[u8]>);

/// Where the parts of a packed entry are.
struct Layout {
    flags: u64,
    /// Offset of the first optional field (just past the header).
    fields: usize,
    /// Offset of the key.
    key: usize,
    /// Offset of the value (just past the key).
    value: usize,
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
        let header = ((key.len() as u64) << FLAG_BITS) | flags;
        let fields = FIELD * flags.count_ones() as usize;
        let mut bytes = Vec::with_capacity(varint_len(header) + fields + key.len() + value.len());
        put_varint(&mut bytes, header);
        for field in [expires_at, last_use].into_iter().flatten() {
            bytes.extend_from_slice(&field.to_le_bytes());
        }
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(value);
        Packed(bytes.into_boxed_slice())
    }

    fn layout(&self) -> Layout {
        let (header, fields) = read_varint(&self.0);
        let flags = header & ((1 << FLAG_BITS) - 1);
        let key = fields + FIELD * flags.count_ones() as usize;
        // The header was written from a slice length, so it fits a usize.
        let key_len = usize::try_from(header >> FLAG_BITS).unwrap_or(usize::MAX);
        Layout {
            flags,
            fields,
            key,
            value: key.saturating_add(key_len).min(self.0.len()),
        }
    }

    /// The key.
    pub fn key(&self) -> &[u8] {
        let layout = self.layout();
        &self.0[layout.key..layout.value]
    }

    /// The value.
    pub fn value(&self) -> &[u8] {
        &self.0[self.layout().value..]
    }

    /// The optional field `flag` of an entry laid out as `layout`.
    fn field(&self, layout: &Layout, flag: u64) -> Option<u64> {
        if layout.flags & flag == 0 {
            return None;
        }
        let at = field_offset(layout, flag);
        let bytes: [u8; FIELD] = self.0.get(at..at + FIELD)?.try_into().ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    /// Absolute expiry time in Unix milliseconds, if any.
    pub fn expires_at(&self) -> Option<u64> {
        self.field(&self.layout(), HAS_DEADLINE)
    }

    /// When the entry was last used (a logical clock), if that is tracked.
    pub fn last_use(&self) -> Option<u64> {
        self.field(&self.layout(), HAS_LAST_USE)
    }

    /// The value and deadline, borrowed.
    pub fn view(&self) -> EntryRef<'_> {
        let layout = self.layout();
        EntryRef {
            value: &self.0[layout.value..],
            expires_at: self.field(&layout, HAS_DEADLINE),
        }
    }

    /// Sets an optional field: in place when the entry has it, else by repacking.
    fn set_field(&mut self, flag: u64, to: Option<u64>) {
        let layout = self.layout();
        if let Some(to) = to
            && layout.flags & flag != 0
        {
            let at = field_offset(&layout, flag);
            self.0[at..at + FIELD].copy_from_slice(&to.to_le_bytes());
            return;
        }
        if to.is_none() && layout.flags & flag == 0 {
            return;
        }
        let (expires_at, last_use) = if flag == HAS_DEADLINE {
            (to, self.field(&layout, HAS_LAST_USE))
        } else {
            (self.field(&layout, HAS_DEADLINE), to)
        };
        *self = Packed::new(
            &self.0[layout.key..layout.value],
            &self.0[layout.value..],
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

/// Reads the LEB128 number at the start of `bytes`: its value and length.
/// Only [`put_varint`]'s output is ever read, so it is always complete.
fn read_varint(bytes: &[u8]) -> (u64, usize) {
    let mut n = 0;
    for (i, &byte) in bytes.iter().enumerate().take(10) {
        n |= u64::from(byte & 0x7f) << (7 * i);
        if byte < 0x80 {
            return (n, i + 1);
        }
    }
    (n, bytes.len())
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
    fn a_small_entry_without_options_costs_one_header_byte() {
        let p = Packed::new(b"key:999999", b"value:999999", None, None);
        assert_eq!(p.0.len(), 1 + 10 + 12);
        let p = Packed::new(b"key:999999", b"value:999999", Some(5), None);
        assert_eq!(p.0.len(), 1 + 8 + 10 + 12);
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

//! BITCOUNT and BITPOS over a string: Redis's index rules, bits numbered from
//! the most significant bit of the first byte.

use crate::command::redis::strings::{BitPosRange, BitRange, RangeUnit};

/// Number of set bits in `value`, or in the range given.
pub(super) fn count(value: &[u8], range: Option<BitRange>) -> i64 {
    let Some(range) = range else {
        return ones(value);
    };
    if range.start < 0 && range.end < 0 && range.start > range.end {
        return 0;
    }
    let Some((first, last)) = bit_span(value.len(), range.start, Some(range.end), range.unit)
    else {
        return 0;
    };
    let (first_byte, last_byte) = (first / 8, last / 8);
    if first_byte == last_byte {
        return (first..=last).filter(|&i| bit_at(value, i)).count() as i64;
    }
    let head = (first..first_byte * 8 + 8)
        .filter(|&i| bit_at(value, i))
        .count();
    let tail = (last_byte * 8..=last).filter(|&i| bit_at(value, i)).count();
    let middle = value
        .get(index(first_byte + 1)..index(last_byte))
        .map_or(0, ones);
    (head + tail) as i64 + middle
}

/// Position of the first bit equal to `bit` in `value`, or in the range given;
/// -1 when there is none, except that looking for a clear bit without an end
/// finds the first bit after the string.
pub(super) fn position(value: &[u8], bit: bool, range: Option<BitPosRange>) -> i64 {
    let (start, end, unit) = match range {
        Some(r) => (r.start, r.end, r.unit),
        None => (0, None, RangeUnit::Byte),
    };
    let Some((first, last)) = bit_span(value.len(), start, end, unit) else {
        return -1;
    };
    // Whole bytes that cannot hold the bit are skipped.
    let skip = if bit { 0x00 } else { 0xff };
    let mut i = first;
    let found = loop {
        if i > last {
            break None;
        }
        if i % 8 == 0 && i + 7 <= last && value.get(index(i / 8)) == Some(&skip) {
            i += 8;
            continue;
        }
        if bit_at(value, i) == bit {
            break Some(i);
        }
        i += 1;
    };
    match found {
        Some(found) => found as i64,
        None if !bit && end.is_none() => last as i64 + 1,
        None => -1,
    }
}

/// The inclusive span of bit positions that indexes `start..=end` (counting
/// `unit`s, negative from the end, clamped to the string) cover; `None` when empty.
fn bit_span(len: usize, start: i64, end: Option<i64>, unit: RangeUnit) -> Option<(u64, u64)> {
    let bytes = len as i64;
    let total = match unit {
        RangeUnit::Byte => bytes,
        RangeUnit::Bit => bytes * 8,
    };
    let from_end = |i: i64| if i < 0 { (total + i).max(0) } else { i };
    let start = from_end(start);
    let end = from_end(end.unwrap_or(total - 1)).min(total - 1);
    if start > end {
        return None;
    }
    let (start, end) = (start as u64, end as u64);
    Some(match unit {
        RangeUnit::Byte => (start * 8, end * 8 + 7),
        RangeUnit::Bit => (start, end),
    })
}

fn ones(bytes: &[u8]) -> i64 {
    bytes.iter().map(|b| i64::from(b.count_ones())).sum()
}

/// A byte index within a string (strings are far smaller than `usize::MAX`).
fn index(byte: u64) -> usize {
    usize::try_from(byte).unwrap_or(usize::MAX)
}

/// Bit `i` of `value` (the most significant bit of byte 0 is bit 0).
pub(super) fn bit_at(value: &[u8], i: u64) -> bool {
    value
        .get(index(i / 8))
        .is_some_and(|b| b & (0x80 >> (i % 8)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(start: i64, end: i64) -> Option<BitRange> {
        Some(BitRange {
            start,
            end,
            unit: RangeUnit::Byte,
        })
    }

    fn bits(start: i64, end: i64) -> Option<BitRange> {
        Some(BitRange {
            start,
            end,
            unit: RangeUnit::Bit,
        })
    }

    #[test]
    fn counts_like_redis() {
        // Redis's own examples, checked against redis-server 7.0.15.
        let v = b"foobar";
        assert_eq!(count(v, None), 26);
        assert_eq!(count(v, bytes(0, 0)), 4);
        assert_eq!(count(v, bytes(1, 1)), 6);
        assert_eq!(count(v, bits(5, 30)), 17);
        assert_eq!(count(v, bits(-5, -1)), 2);
        assert_eq!(count(v, bytes(-1, -100)), 0);
        assert_eq!(count(v, bits(0, -100)), 0);
        assert_eq!(count(v, bytes(-100, 100)), 26);
        assert_eq!(count(b"", bytes(0, -1)), 0);
    }

    fn pos(value: &[u8], bit: bool, start: i64, end: Option<i64>, unit: RangeUnit) -> i64 {
        position(value, bit, Some(BitPosRange { start, end, unit }))
    }

    #[test]
    fn positions_like_redis() {
        let v = b"\xff\xf0\x00";
        assert_eq!(position(v, false, None), 12);
        assert_eq!(pos(v, true, 2, None, RangeUnit::Byte), -1);
        assert_eq!(pos(v, true, 2, Some(-1), RangeUnit::Byte), -1);
        assert_eq!(pos(v, false, 7, Some(15), RangeUnit::Bit), 12);
        assert_eq!(pos(v, false, 8, Some(-1), RangeUnit::Bit), 12);
        let ones = b"\xff\xff";
        assert_eq!(position(ones, false, None), 16);
        assert_eq!(pos(ones, false, 0, None, RangeUnit::Byte), 16);
        assert_eq!(pos(ones, false, 0, Some(-1), RangeUnit::Byte), -1);
        assert_eq!(pos(ones, false, 0, Some(-1), RangeUnit::Bit), -1);
        assert_eq!(pos(ones, true, 5, Some(1), RangeUnit::Byte), -1);
        assert_eq!(position(b"\x00\x00", true, None), -1);
        assert_eq!(pos(b"\x00\x00", false, 3, Some(-2), RangeUnit::Bit), 3);
        assert_eq!(position(b"", false, None), -1);
    }
}

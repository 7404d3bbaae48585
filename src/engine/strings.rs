//! The meaning of Redis's string commands, for any `Store`. Replies, errors
//! and the order in which they are checked follow Redis 7.

mod bits;
mod lcs;
mod longdouble;

use super::{EntryRef, Mutation, Store};
use crate::command::Reply;
use crate::command::redis::parse_int;
use crate::command::redis::strings::{
    Condition, Expiry, ExpiryUnit, GetExTtl, LcsMode, SetTtl, StrOp,
};
use crate::error::CommandError;
use longdouble::LongDouble;

/// Redis's `proto-max-bulk-len`: no string may grow past 512 MiB.
const MAX_STRING: u64 = 512 * 1024 * 1024;

/// Executes a string operation at time `now`, pushing its writes onto `out`.
pub fn execute<S: Store + ?Sized>(
    op: &StrOp,
    store: &S,
    now: u64,
    out: &mut Vec<Mutation>,
) -> Result<Reply, CommandError> {
    let value =
        |entry: Option<EntryRef<'_>>| entry.map_or(Reply::Nil, |e| Reply::Value(e.value.to_vec()));
    Ok(match op {
        StrOp::Set {
            key,
            value: new,
            condition,
            ttl,
            get,
        } => {
            let deadline = match ttl {
                SetTtl::Expire(expiry) => Some(resolve(expiry, now)?),
                SetTtl::Drop | SetTtl::Keep => None,
            };
            let old = store.access(key, now);
            let allowed = match condition {
                Condition::Always => true,
                Condition::Missing => old.is_none(),
                Condition::Exists => old.is_some(),
            };
            if allowed {
                let expires_at = match ttl {
                    SetTtl::Drop => None,
                    SetTtl::Keep => old.and_then(|e| e.expires_at),
                    SetTtl::Expire(_) => deadline,
                };
                put(out, key, new.clone(), expires_at, old.is_some(), now);
            }
            match (get, allowed) {
                (true, _) => value(old),
                (false, true) => Reply::Ok,
                (false, false) => Reply::Nil,
            }
        }
        StrOp::SetNx { key, value: new } => {
            let missing = store.access(key, now).is_none();
            if missing {
                out.push(Mutation::put(key.as_slice(), new.as_slice(), None));
            }
            Reply::Bool(missing)
        }
        StrOp::GetDel(key) => {
            let old = store.access(key, now);
            if old.is_some() {
                out.push(Mutation::Delete(key.as_slice().into()));
            }
            value(old)
        }
        StrOp::GetEx { key, ttl } => {
            let Some(entry) = store.access(key, now) else {
                return Ok(Reply::Nil);
            };
            match ttl {
                GetExTtl::Unchanged => {}
                GetExTtl::Persist => {
                    if entry.expires_at.is_some() {
                        out.push(Mutation::Persist(key.as_slice().into()));
                    }
                }
                GetExTtl::Expire(expiry) => {
                    let at = resolve(expiry, now)?;
                    out.push(if at <= now {
                        Mutation::Delete(key.as_slice().into())
                    } else {
                        Mutation::Expire {
                            key: key.as_slice().into(),
                            at,
                        }
                    });
                }
            }
            value(Some(entry))
        }
        StrOp::MSet(pairs) => {
            for (key, new) in pairs {
                out.push(Mutation::put(key.as_slice(), new.as_slice(), None));
            }
            Reply::Ok
        }
        StrOp::MSetNx(pairs) => {
            let none_exists = pairs
                .iter()
                .all(|(key, _)| store.access(key, now).is_none());
            if none_exists {
                for (key, new) in pairs {
                    out.push(Mutation::put(key.as_slice(), new.as_slice(), None));
                }
            }
            Reply::Bool(none_exists)
        }
        StrOp::MGet(keys) => {
            Reply::Array(keys.iter().map(|k| value(store.access(k, now))).collect())
        }
        StrOp::Append { key, value: tail } => {
            let old = store.access(key, now);
            let head: &[u8] = old.map_or(&[], |e| e.value);
            fits(head.len() as u64, tail.len() as u64)?;
            let mut joined = Vec::with_capacity(head.len() + tail.len());
            joined.extend_from_slice(head);
            joined.extend_from_slice(tail);
            let len = joined.len();
            out.push(Mutation::put(
                key.as_slice(),
                joined,
                old.and_then(|e| e.expires_at),
            ));
            Reply::Int(len as i64)
        }
        StrOp::StrLen(key) => {
            Reply::Int(store.access(key, now).map_or(0, |e| e.value.len() as i64))
        }
        StrOp::GetRange { key, start, end } => {
            let bytes = store.access(key, now).map_or(&[][..], |e| e.value);
            Reply::Value(range(bytes, *start, *end).to_vec())
        }
        StrOp::SetRange {
            key,
            offset,
            value: patch,
        } => set_range(store.access(key, now), key, *offset, patch, out)?,
        StrOp::IncrBy { key, by } => {
            let old = store.access(key, now);
            let current = old.map_or(Ok(0), |e| parse_int(e.value))?;
            let next = current.checked_add(*by).ok_or(CommandError::Overflow)?;
            out.push(Mutation::put(
                key.as_slice(),
                next.to_string().into_bytes(),
                old.and_then(|e| e.expires_at),
            ));
            Reply::Int(next)
        }
        StrOp::IncrByFloat { key, by } => {
            let old = store.access(key, now);
            let current = match old {
                Some(e) => LongDouble::parse(e.value).ok_or(CommandError::NotAFloat)?,
                None => LongDouble::ZERO,
            };
            let by = LongDouble::parse(by).ok_or(CommandError::NotAFloat)?;
            let sum = current
                .add(by)
                .filter(|sum| !sum.is_infinite())
                .ok_or(CommandError::NanOrInfinity)?;
            let text = sum.to_redis_string().into_bytes();
            out.push(Mutation::put(
                key.as_slice(),
                text.as_slice(),
                old.and_then(|e| e.expires_at),
            ));
            Reply::Value(text)
        }
        StrOp::Lcs { a, b, mode } => {
            let a = store.access(a, now).map_or(&[][..], |e| e.value);
            let b = store.access(b, now).map_or(&[][..], |e| e.value);
            longest_common(a, b, *mode)?
        }
        StrOp::SetBit { key, offset, bit } => {
            let old = store.access(key, now);
            let byte = usize::try_from(offset / 8).map_err(|_| CommandError::BitOffset)?;
            let mut bytes = old.map_or_else(Vec::new, |e| e.value.to_vec());
            if bytes.len() <= byte {
                bytes.resize(byte + 1, 0);
            }
            let mask = 0x80 >> (offset % 8);
            let was = bytes[byte] & mask != 0;
            if *bit {
                bytes[byte] |= mask;
            } else {
                bytes[byte] &= !mask;
            }
            out.push(Mutation::put(
                key.as_slice(),
                bytes,
                old.and_then(|e| e.expires_at),
            ));
            Reply::Int(i64::from(was))
        }
        StrOp::GetBit { key, offset } => Reply::Int(i64::from(
            store
                .access(key, now)
                .is_some_and(|e| bits::bit_at(e.value, *offset)),
        )),
        StrOp::BitCount { key, range } => match store.access(key, now) {
            None => Reply::Int(0),
            Some(entry) => Reply::Int(bits::count(entry.value, range.clone()?)),
        },
        StrOp::BitPos { key, bit, range } => match store.access(key, now) {
            None => Reply::Int(if *bit { -1 } else { 0 }),
            Some(entry) => Reply::Int(bits::position(entry.value, *bit, range.clone()?)),
        },
    })
}

/// Stores `value`, or deletes the key when the deadline has already passed
/// (Redis answers as if it stored the value, which expired at once).
fn put(
    out: &mut Vec<Mutation>,
    key: &[u8],
    value: Vec<u8>,
    expires_at: Option<u64>,
    exists: bool,
    now: u64,
) {
    match expires_at {
        Some(at) if at <= now => {
            if exists {
                out.push(Mutation::Delete(key.into()));
            }
        }
        _ => out.push(Mutation::put(key, value, expires_at)),
    }
}

/// The absolute deadline an expiry names at time `now`, with Redis's checks:
/// the amount is an integer, positive, and the deadline fits in 64 bits.
fn resolve(expiry: &Expiry, now: u64) -> Result<u64, CommandError> {
    let amount = parse_int(&expiry.amount)?;
    let invalid = CommandError::InvalidExpireTime(expiry.command);
    let seconds = matches!(expiry.unit, ExpiryUnit::Seconds | ExpiryUnit::UnixSeconds);
    if amount <= 0 || (seconds && amount > i64::MAX / 1000) {
        return Err(invalid);
    }
    let ms = if seconds { amount * 1000 } else { amount };
    let at = match expiry.unit {
        ExpiryUnit::Seconds | ExpiryUnit::Millis => i64::try_from(now)
            .ok()
            .and_then(|now| ms.checked_add(now))
            .ok_or(invalid)?,
        ExpiryUnit::UnixSeconds | ExpiryUnit::UnixMillis => ms,
    };
    Ok(at.unsigned_abs())
}

/// Refuses a string of `len + extra` bytes past Redis's limit.
fn fits(len: u64, extra: u64) -> Result<(), CommandError> {
    match len.checked_add(extra) {
        Some(total) if total <= MAX_STRING => Ok(()),
        _ => Err(CommandError::StringTooLong),
    }
}

/// GETRANGE's slice: negative indexes count from the end, then both are
/// clamped; two negative indexes in the wrong order give nothing.
fn range(bytes: &[u8], start: i64, end: i64) -> &[u8] {
    if start < 0 && end < 0 && start > end {
        return &[];
    }
    let len = bytes.len() as i64;
    let from_end = |i: i64| if i < 0 { (len + i).max(0) } else { i };
    let (start, end) = (from_end(start), from_end(end).min(len - 1));
    if start > end || len == 0 {
        return &[];
    }
    &bytes[start as usize..=end as usize]
}

fn set_range(
    old: Option<EntryRef<'_>>,
    key: &[u8],
    offset: u64,
    patch: &[u8],
    out: &mut Vec<Mutation>,
) -> Result<Reply, CommandError> {
    let current: &[u8] = old.map_or(&[], |e| e.value);
    if patch.is_empty() {
        // Nothing to write: the length as it is, and no key created.
        return Ok(Reply::Int(current.len() as i64));
    }
    fits(offset, patch.len() as u64)?;
    // Both fit in 512 MiB, so they fit in usize.
    let at = usize::try_from(offset).map_err(|_| CommandError::StringTooLong)?;
    let mut bytes = current.to_vec();
    if bytes.len() < at + patch.len() {
        bytes.resize(at + patch.len(), 0);
    }
    bytes[at..at + patch.len()].copy_from_slice(patch);
    let len = bytes.len();
    out.push(Mutation::put(key, bytes, old.and_then(|e| e.expires_at)));
    Ok(Reply::Int(len as i64))
}

fn longest_common(a: &[u8], b: &[u8], mode: LcsMode) -> Result<Reply, CommandError> {
    let table = lcs::Table::new(a, b)?;
    let len = table.len() as i64;
    Ok(match mode {
        LcsMode::Len => Reply::Int(len),
        LcsMode::Subsequence => Reply::Value(table.walk().0),
        LcsMode::Idx { min_len, with_len } => {
            let pair = |(first, last): (usize, usize)| {
                Reply::Array(vec![Reply::Int(first as i64), Reply::Int(last as i64)])
            };
            let matches = table
                .walk()
                .1
                .into_iter()
                .filter(|run| run.len() as u64 >= min_len)
                .map(|run| {
                    let mut item = vec![pair(run.a), pair(run.b)];
                    if with_len {
                        item.push(Reply::Int(run.len() as i64));
                    }
                    Reply::Array(item)
                })
                .collect();
            Reply::Map(vec![
                ("matches".to_string(), Reply::Array(matches)),
                ("len".to_string(), Reply::Int(len)),
            ])
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_stop_at_512_mib() {
        assert_eq!(fits(MAX_STRING - 1, 1), Ok(()));
        assert_eq!(fits(0, MAX_STRING), Ok(()));
        assert_eq!(fits(MAX_STRING, 1), Err(CommandError::StringTooLong));
        assert_eq!(fits(u64::MAX, 1), Err(CommandError::StringTooLong));
    }

    #[test]
    fn ranges_like_getrange() {
        // Checked against redis-server 7.0.15 with "Hello World".
        let s = b"Hello World";
        assert_eq!(range(s, -3, -1), b"rld");
        assert_eq!(range(s, 5, 2), b"");
        assert_eq!(range(s, -100, -50), b"H");
        assert_eq!(range(s, 0, 100), s);
        assert_eq!(range(s, -1, -5), b"");
        assert_eq!(range(s, 20, 30), b"");
        assert_eq!(range(s, 10, 10), b"d");
        assert_eq!(range(s, 11, 11), b"");
        assert_eq!(range(b"", 0, -1), b"");
        assert_eq!(range(s, i64::MIN, i64::MAX), s);
    }
}

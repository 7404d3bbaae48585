//! The meaning of Redis's key commands within one namespace, for any `Store`.

use super::{Mutation, Store};
use crate::command::Reply;
use crate::command::redis::keys::{Expire, KeyOp, Scan};
use crate::error::CommandError;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::hash::BuildHasher;

/// The only type of value inmem stores, as TYPE and SCAN's TYPE name it.
const STRING_TYPE: &str = "string";

/// Executes a key operation at time `now`, pushing its writes onto `out`.
pub fn execute<S: Store + ?Sized>(
    op: &KeyOp,
    store: &S,
    now: u64,
    out: &mut Vec<Mutation>,
) -> Result<Reply, CommandError> {
    Ok(match op {
        KeyOp::Del(keys) => {
            let mut seen = HashSet::new();
            let mut deleted = 0;
            for key in keys {
                if seen.insert(key.as_slice()) && store.get(key, now).is_some() {
                    out.push(Mutation::Delete(key.as_slice().into()));
                    deleted += 1;
                }
            }
            Reply::Int(deleted)
        }
        KeyOp::Exists(keys) => Reply::Int(count(
            keys.iter()
                .filter(|key| store.get(key, now).is_some())
                .count(),
        )),
        KeyOp::Type(key) => Reply::Status(
            match store.get(key, now) {
                Some(_) => STRING_TYPE,
                None => "none",
            }
            .into(),
        ),
        KeyOp::Keys(pattern) => {
            let mut keys = Vec::new();
            store.for_each_live(now, &mut |key, _| {
                if super::glob::glob_match(pattern, key) {
                    keys.push(key.to_vec());
                }
            });
            keys.sort_unstable();
            Reply::List(keys)
        }
        KeyOp::Scan(scan) => scan_step(scan, store, now),
        KeyOp::RandomKey => match store.random_key(now, &mut random) {
            Some(key) => Reply::Value(key.into_vec()),
            None => Reply::Nil,
        },
        KeyOp::Rename { from, to, nx } => {
            let entry = store.access(from, now).ok_or(CommandError::NoSuchKey)?;
            let done = if *nx { Reply::Bool(true) } else { Reply::Ok };
            if from == to {
                // Renaming a key onto itself changes nothing, but RENAMENX
                // answers that the name was taken.
                return Ok(if *nx { Reply::Bool(false) } else { done });
            }
            if *nx && store.access(to, now).is_some() {
                return Ok(Reply::Bool(false));
            }
            // The new name takes the value and its deadline; whatever it held goes.
            out.push(Mutation::put(to.as_slice(), entry.value, entry.expires_at));
            out.push(Mutation::Delete(from.as_slice().into()));
            done
        }
        KeyOp::Expire(expire) => set_expiry(expire, store, now, out)?,
        KeyOp::Ttl {
            key,
            millis,
            absolute,
        } => Reply::Int(match store.get(key, now) {
            None => -2,
            Some(entry) => match entry.expires_at {
                None => -1,
                Some(at) => {
                    let ms = if *absolute {
                        at
                    } else {
                        at.saturating_sub(now)
                    };
                    // Seconds are rounded to the nearest, as Redis does.
                    let value = if *millis {
                        ms
                    } else {
                        ms.saturating_add(500) / 1000
                    };
                    i64::try_from(value).unwrap_or(i64::MAX)
                }
            },
        }),
        KeyOp::Persist(key) => match store.access(key, now) {
            Some(entry) if entry.expires_at.is_some() => {
                out.push(Mutation::Persist(key.as_slice().into()));
                Reply::Bool(true)
            }
            _ => Reply::Bool(false),
        },
        KeyOp::DbSize => Reply::Int(count(store.live_len(now))),
        KeyOp::FlushDb => {
            out.push(Mutation::Clear);
            Reply::Ok
        }
    })
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// One SCAN step: `[next cursor, keys]`.
fn scan_step<S: Store + ?Sized>(scan: &Scan, store: &S, now: u64) -> Reply {
    let mut keys = Vec::new();
    // Every value is a string, so a TYPE filter keeps all keys or none.
    let any_type = scan
        .kind
        .as_ref()
        .is_none_or(|kind| kind.eq_ignore_ascii_case(STRING_TYPE.as_bytes()));
    let next = store.scan(scan.cursor, scan.count, now, &mut |key, _| {
        if any_type
            && scan
                .pattern
                .as_ref()
                .is_none_or(|pattern| super::glob::glob_match(pattern, key))
        {
            keys.push(key.to_vec());
        }
    });
    Reply::Array(vec![
        Reply::Value(next.to_string().into_bytes()),
        Reply::List(keys),
    ])
}

/// The EXPIRE family, with Redis 7's checks in Redis's order: the deadline's
/// range, the key, the NX/XX/GT/LT condition; a deadline not after `now`
/// deletes the key.
fn set_expiry<S: Store + ?Sized>(
    expire: &Expire,
    store: &S,
    now: u64,
    out: &mut Vec<Mutation>,
) -> Result<Reply, CommandError> {
    let out_of_range = CommandError::InvalidExpireTime(expire.command);
    let ms = if expire.seconds {
        expire.when.checked_mul(1000).ok_or(out_of_range.clone())?
    } else {
        expire.when
    };
    let now_ms = i64::try_from(now).unwrap_or(i64::MAX);
    let at = if expire.relative {
        ms.checked_add(now_ms).ok_or(out_of_range)?
    } else {
        ms
    };
    let Some(entry) = store.access(&expire.key, now) else {
        return Ok(Reply::Bool(false));
    };
    let current = entry
        .expires_at
        .map(|at| i64::try_from(at).unwrap_or(i64::MAX));
    if expire
        .has_expiry
        .is_some_and(|wanted| wanted != current.is_some())
    {
        return Ok(Reply::Bool(false));
    }
    let allowed = match (expire.compare, current) {
        (None, _) => true,
        // No expiry counts as never expiring: nothing is greater, anything is less.
        (Some(Ordering::Greater), None) => false,
        (Some(_), None) => true,
        (Some(order), Some(current)) => at.cmp(&current) == order,
    };
    if !allowed {
        return Ok(Reply::Bool(false));
    }
    let key = expire.key.as_slice().into();
    out.push(match u64::try_from(at) {
        Ok(at) if at > now => Mutation::Expire { key, at },
        _ => Mutation::Delete(key),
    });
    Ok(Reply::Bool(true))
}

/// A random number for RANDOMKEY's sampling: each std `RandomState` is
/// freshly keyed, so hashing nothing with it gives an unpredictable value.
fn random() -> usize {
    std::collections::hash_map::RandomState::new().hash_one(()) as usize
}

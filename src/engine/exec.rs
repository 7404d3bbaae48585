//! The meaning of every keyspace operation, written once for any `Store`.
//! An operation reads the store and describes its writes as mutations; the
//! caller applies them (to the live keyspace or to a transaction's overlay).

use super::{EntryRef, Mutation, Store};
use crate::command::{FindTarget, Op, Reply};
use crate::error::CommandError;
use std::collections::HashSet;

/// Executes `op` against `store` at time `now`, pushing its writes onto `out`.
pub fn execute<S: Store + ?Sized>(
    op: &Op,
    store: &S,
    now: u64,
    out: &mut Vec<Mutation>,
) -> Result<Reply, CommandError> {
    Ok(match op {
        Op::Put { key, value, ttl_ms } => {
            out.push(put(
                key.as_slice().into(),
                value.as_slice().into(),
                *ttl_ms,
                now,
            ));
            Reply::Ok
        }
        Op::Get(key) => match store.access(key, now) {
            Some(entry) => Reply::Value(entry.value.to_vec()),
            None => Reply::Nil,
        },
        Op::Delete(keys) => {
            let mut seen = HashSet::new();
            let mut count = 0;
            for key in keys {
                if seen.insert(key.as_slice()) && store.get(key, now).is_some() {
                    out.push(Mutation::Delete(key.as_slice().into()));
                    count += 1;
                }
            }
            Reply::Int(count)
        }
        Op::Exists(key) => Reply::Bool(store.get(key, now).is_some()),
        Op::Incr { key, by } => {
            let entry = store.access(key, now);
            let current = match entry {
                Some(entry) => parse_integer(entry.value)?,
                None => 0,
            };
            let next = current.checked_add(*by).ok_or(CommandError::Overflow)?;
            out.push(Mutation::Put {
                key: key.as_slice().into(),
                value: next.to_string().into_bytes().into(),
                expires_at: entry.and_then(|e| e.expires_at),
            });
            Reply::Int(next)
        }
        Op::Expire { key, ttl_ms } => {
            if store.access(key, now).is_none() {
                return Ok(Reply::Bool(false));
            }
            out.push(if *ttl_ms <= 0 {
                Mutation::Delete(key.as_slice().into())
            } else {
                Mutation::Expire {
                    key: key.as_slice().into(),
                    at: deadline(now, *ttl_ms),
                }
            });
            Reply::Bool(true)
        }
        Op::Ttl(key) => Reply::Int(match store.get(key, now) {
            None => -2,
            Some(EntryRef {
                expires_at: None, ..
            }) => -1,
            Some(EntryRef {
                expires_at: Some(at),
                ..
            }) => {
                // Round to the nearest second, as Redis does.
                let left_ms = at.saturating_sub(now);
                i64::try_from(left_ms.saturating_add(500) / 1000).unwrap_or(i64::MAX)
            }
        }),
        Op::Persist(key) => match store.access(key, now) {
            Some(entry) if entry.expires_at.is_some() => {
                out.push(Mutation::Persist(key.as_slice().into()));
                Reply::Bool(true)
            }
            _ => Reply::Bool(false),
        },
        Op::Keys(pattern) => {
            let mut keys = Vec::new();
            store.for_each_live(now, &mut |key, _| {
                if pattern
                    .as_deref()
                    .is_none_or(|p| super::glob::glob_match(p, key))
                {
                    keys.push(key.to_vec());
                }
            });
            keys.sort_unstable();
            Reply::List(keys)
        }
        Op::Values => Reply::List(
            sorted_pairs(store, now, |_, _| true)
                .into_iter()
                .map(|(_, value)| value)
                .collect(),
        ),
        Op::Items => Reply::Pairs(sorted_pairs(store, now, |_, _| true)),
        Op::Size => Reply::Int(i64::try_from(store.live_len(now)).unwrap_or(i64::MAX)),
        Op::Find { target, matcher } => match target {
            FindTarget::Keys => Reply::List(
                sorted_pairs(store, now, |key, _| matcher.is_match(key))
                    .into_iter()
                    .map(|(key, _)| key)
                    .collect(),
            ),
            FindTarget::Values => {
                Reply::Pairs(sorted_pairs(store, now, |_, value| matcher.is_match(value)))
            }
        },
        Op::Clear => {
            out.push(Mutation::Clear);
            Reply::Ok
        }
        Op::Str(op) => super::strings::execute(op, store, now, out)?,
        Op::Key(op) => super::keyops::execute(op, store, now, out)?,
    })
}

/// The mutation of `put key value` with an optional time to live, at `now`.
pub(super) fn put(key: Box<[u8]>, value: Box<[u8]>, ttl_ms: Option<i64>, now: u64) -> Mutation {
    Mutation::Put {
        key,
        value,
        expires_at: ttl_ms.map(|ms| deadline(now, ms)),
    }
}

/// The absolute deadline `ttl_ms` after `now` (TTLs are bounded when parsed).
pub(super) fn deadline(now: u64, ttl_ms: i64) -> u64 {
    now.saturating_add(u64::try_from(ttl_ms).unwrap_or(0))
}

/// Live pairs accepted by `keep`, sorted by key.
fn sorted_pairs<S: Store + ?Sized>(
    store: &S,
    now: u64,
    keep: impl Fn(&[u8], &[u8]) -> bool,
) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    store.for_each_live(now, &mut |key, entry| {
        if keep(key, entry.value) {
            pairs.push((key.to_vec(), entry.value.to_vec()));
        }
    });
    pairs.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    pairs
}

/// A stored value as a 64-bit integer: optional minus sign and decimal digits only.
pub(super) fn parse_integer(bytes: &[u8]) -> Result<i64, CommandError> {
    let text = std::str::from_utf8(bytes).map_err(|_| CommandError::NotAnInteger)?;
    if text.starts_with('+') || text.len() > 20 {
        return Err(CommandError::NotAnInteger);
    }
    text.parse().map_err(|_| CommandError::NotAnInteger)
}

#[cfg(test)]
mod tests {
    use crate::command::{Op, Reply};
    use crate::engine::{
        Engine, Eviction, Group, Journal, Limits, ManualClock, Mutation, WatchSet,
    };
    use crate::error::CommandError;
    use std::sync::{Arc, Mutex};

    /// Keeps every record the engine journals.
    #[derive(Debug, Default)]
    struct Recorded(Mutex<Vec<Group>>);

    impl Journal for Recorded {
        fn writable(&self) -> Result<(), CommandError> {
            Ok(())
        }
        fn record(&self, namespace: &str, mutations: &[Mutation]) {
            let group = Group::Changes(namespace.to_string(), mutations.to_vec());
            self.0.lock().unwrap().push(group);
        }
        fn record_groups(&self, groups: &[Group]) {
            self.0.lock().unwrap().extend_from_slice(groups);
        }
        fn checkpoint(&self) -> u64 {
            0
        }
    }

    #[test]
    fn a_put_from_its_parts_does_what_running_one_does() {
        let clock = ManualClock::new(1_000);
        let journals = [Arc::new(Recorded::default()), Arc::new(Recorded::default())];
        let engines = journals
            .clone()
            .map(|journal| Engine::with_journal(Arc::new(clock.clone()), journal));
        let mut watches = [WatchSet::new(), WatchSet::new()];
        for (engine, watch) in engines.iter().zip(&mut watches) {
            engine.set_limits(Limits {
                max_keys: Some(3),
                maxmemory: None,
                policy: Eviction::AllkeysLru,
            });
            engine.watch(watch, "0", b"a");
        }
        // (key, value, ttl): the first engine takes TTL-less puts from their
        // parts, the second runs them as operations.
        let steps = [
            ("a", "1", None),
            ("b", "2", Some(5_000)),
            ("a", "3", None),
            ("b", "4", None),
            ("c", "5", None),
            ("d", "6", None),
            ("e", "7", None),
        ];
        for (key, value, ttl_ms) in steps {
            let from_parts = match ttl_ms {
                None => engines[0].put("0", key.as_bytes(), value.as_bytes()),
                Some(_) => engines[0].run_owned("0", put(key, value, ttl_ms)),
            };
            let as_op = engines[1].run_owned("0", put(key, value, ttl_ms));
            assert_eq!(from_parts, as_op, "{key}");
            clock.advance(10);
        }
        assert_eq!(
            *journals[0].0.lock().unwrap(),
            *journals[1].0.lock().unwrap()
        );
        assert_eq!(engines[0].entries("0"), engines[1].entries("0"));
        assert_eq!(engines[0].stored_len(), 3);
        let stats = engines.each_ref().map(|e| e.namespace_stats());
        assert_eq!(stats[0][0].counters, stats[1][0].counters);
        assert_eq!(stats[0][0].counters.evictions, 2);
        // The watched key was written: EXEC aborts on both.
        for (engine, watch) in engines.iter().zip(&mut watches) {
            assert_eq!(engine.run_exec(watch, &[]), Ok(None));
        }
    }

    fn put(key: &str, value: &str, ttl_ms: Option<i64>) -> Op {
        Op::Put {
            key: key.into(),
            value: value.into(),
            ttl_ms,
        }
    }

    #[test]
    fn owned_and_borrowed_runs_agree() {
        let clock = ManualClock::new(1_000);
        let engine = Engine::new(Arc::new(clock.clone()));
        assert_eq!(engine.run_owned("0", put("a", "1", None)), Ok(Reply::Ok));
        assert_eq!(engine.run("0", &put("b", "2", Some(5_000))), Ok(Reply::Ok));
        assert_eq!(
            engine.run_owned("0", put("c", "3", Some(2_000))),
            Ok(Reply::Ok)
        );
        let get = |key: &str| engine.run_owned("0", Op::Get(key.into()));
        assert_eq!(get("a"), Ok(Reply::Value(b"1".to_vec())));
        assert_eq!(get("b"), Ok(Reply::Value(b"2".to_vec())));
        assert_eq!(engine.run("0", &Op::Ttl(b"c".to_vec())), Ok(Reply::Int(2)));
        clock.advance(2_000);
        assert_eq!(get("c"), Ok(Reply::Nil));
        assert_eq!(get("b"), Ok(Reply::Value(b"2".to_vec())));
        assert_eq!(engine.run_owned("0", Op::Size), Ok(Reply::Int(2)));
    }
}

//! The live keyspace as one operation reads it, its key looked up once.
//!
//! Under an LRU policy the engine records, after an operation, that its key
//! was used, in the key's slot. Looked up here before the operation runs,
//! the key is found once: the operation reads it at that slot, and the use
//! is recorded there (see [`Keyspace::touch_at`]) without a second probe.

use super::keyspace::Place;
use super::{EntryRef, Keyspace, Store};

/// A keyspace, one key of it, and where that key is stored (if it is).
pub struct Found<'a> {
    keyspace: &'a Keyspace,
    key: &'a [u8],
    place: Option<Place>,
}

impl<'a> Found<'a> {
    /// `keyspace`, with `key` looked up in it.
    pub fn new(keyspace: &'a Keyspace, key: &'a [u8]) -> Self {
        Found {
            keyspace,
            key,
            place: keyspace.place(key),
        }
    }

    /// Where the key is stored, expired or not: `None` when it is not.
    pub fn place(&self) -> Option<Place> {
        self.place
    }

    /// What the look-up found of `key`, when it is the key looked up.
    fn known(&self, key: &[u8]) -> Option<Option<Place>> {
        // Operations read their key from where `op.key()` gave it: the same
        // bytes, told apart without comparing them.
        (std::ptr::eq(self.key, key) || self.key == key).then_some(self.place)
    }
}

impl Store for Found<'_> {
    fn get(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        match self.known(key) {
            Some(place) => self.keyspace.get_at(place?, now),
            None => self.keyspace.get(key, now),
        }
    }

    fn access(&self, key: &[u8], now: u64) -> Option<EntryRef<'_>> {
        match self.known(key) {
            Some(place) => self.keyspace.access_at(place?, now),
            None => self.keyspace.access(key, now),
        }
    }

    fn for_each_live(&self, now: u64, f: &mut dyn FnMut(&[u8], EntryRef<'_>)) {
        self.keyspace.for_each_live(now, f);
    }

    fn live_len(&self, now: u64) -> usize {
        self.keyspace.live_len(now)
    }

    fn scan(
        &self,
        cursor: u64,
        count: usize,
        now: u64,
        f: &mut dyn FnMut(&[u8], EntryRef<'_>),
    ) -> u64 {
        self.keyspace.scan(cursor, count, now, f)
    }

    fn random_key(&self, now: u64, pick: &mut dyn FnMut() -> usize) -> Option<Box<[u8]>> {
        self.keyspace.random_key(now, pick)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::redis::strings::StrOp;
    use crate::command::{Op, Reply};
    use crate::engine::{Apply, Engine, Eviction, Limits, ManualClock, Mutation};
    use std::sync::Arc;

    #[test]
    fn its_key_is_read_where_it_was_found_and_other_keys_as_usual() {
        let mut ks = Keyspace::default();
        ks.apply(Mutation::put(&b"a"[..], &b"1"[..], None));
        ks.apply(Mutation::put(&b"b"[..], &b"2"[..], Some(50)));
        let found = Found::new(&ks, b"a");
        assert_eq!(found.place(), ks.place(b"a"));
        assert!(found.place().is_some());
        let value = |entry: Option<EntryRef<'_>>| entry.map(|e| e.value.to_vec());
        assert_eq!(value(found.get(b"a", 0)), Some(b"1".to_vec()));
        // The same bytes from elsewhere are the same key.
        let copy = b"a".to_vec();
        assert_eq!(value(found.access(&copy, 0)), Some(b"1".to_vec()));
        assert_eq!(value(found.access(b"b", 0)), Some(b"2".to_vec()));
        assert_eq!(found.get(b"b", 50), None, "expired");
        assert_eq!(found.live_len(0), 2);
        let missing = Found::new(&ks, b"zz");
        assert_eq!(missing.place(), None);
        assert_eq!(missing.get(b"zz", 0), None);
        assert_eq!(value(missing.get(b"a", 0)), Some(b"1".to_vec()));
    }

    #[test]
    fn every_read_path_records_the_use_of_the_key_it_read_and_of_no_other() {
        let clock = ManualClock::new(1_000);
        let engine = Engine::new(Arc::new(clock.clone()));
        let lru = |max_keys| Limits {
            max_keys,
            maxmemory: None,
            policy: Eviction::AllkeysLru,
        };
        engine.set_limits(lru(None));
        // Each call below is one tick of the engine's logical clock.
        for (key, value) in [
            ("a", "1"),
            ("b", "1"),
            ("c", "1"),
            ("d", "1"),
            ("w", "word"),
        ] {
            engine.put("0", key.as_bytes(), value.as_bytes()).unwrap();
        }
        let expiring = Op::Put {
            key: b"x".to_vec(),
            value: b"1".to_vec(),
            ttl_ms: Some(1_000),
        };
        engine.run_owned("0", expiring).unwrap();
        clock.advance(1_000);
        let now = engine.now();
        let get_with = |key: &str| engine.get_with("0", key.as_bytes(), now, |v| v.is_some());
        assert!(get_with("c"));
        let get = Op::Get(b"a".to_vec());
        assert_eq!(engine.run("0", &get), Ok(Reply::Value(b"1".to_vec())));
        assert_eq!(
            engine.run("0", &Op::Exists(b"d".to_vec())),
            Ok(Reply::Bool(true))
        );
        let strlen = Op::Str(StrOp::StrLen(b"b".to_vec()));
        assert_eq!(engine.run("0", &strlen), Ok(Reply::Int(1)));
        // A failed operation records no use; an expired key still stored does.
        assert!(
            engine
                .run(
                    "0",
                    &Op::Incr {
                        key: b"w".to_vec(),
                        by: 1
                    }
                )
                .is_err()
        );
        assert!(!get_with("x"));
        assert!(!get_with("missing"));
        assert_eq!(engine.run("1", &get), Ok(Reply::Nil));
        let ticks: Vec<_> = {
            let data = engine.lock();
            ["a", "b", "c", "d", "w", "x", "missing"]
                .map(|key| data.keyspace("0").last_used(key.as_bytes()))
                .into()
        };
        let expected = [8, 10, 7, 9, 5, 12].map(Some);
        assert_eq!(ticks[..6], expected);
        assert_eq!(ticks[6], None);
        let stats = engine.namespace_stats();
        let counts: Vec<_> = stats
            .iter()
            .map(|s| (s.name.as_str(), s.counters.hits, s.counters.misses))
            .collect();
        // Hits: c, a, d and b (strlen counts as Redis counts it); misses:
        // the expired x and the missing key.
        assert_eq!(counts, [("0", 4, 2), ("1", 0, 1)]);
        // Eviction goes by those uses: w, then c, are the least recent.
        engine.set_limits(lru(Some(6)));
        engine.put("0", b"y", b"1").unwrap();
        assert!(engine.run("0", &Op::Exists(b"w".to_vec())) == Ok(Reply::Bool(false)));
        engine.put("0", b"z", b"1").unwrap();
        let keys: Vec<_> = engine.entries("0").into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, [&b"a"[..], b"b", b"d", b"y", b"z"]);
    }
}

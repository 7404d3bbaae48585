//! Read-only looks at single keys for server introspection (OBJECT, MEMORY):
//! they change neither recency nor hit counters.

use super::{Engine, Entry, Store};

impl Engine {
    /// The live entry of `key` in `namespace`, without touching its recency or counters.
    pub fn peek(&self, namespace: &str, key: &[u8]) -> Option<Entry> {
        let now = self.now();
        self.lock()
            .keyspace(namespace)
            .get(key, now)
            .map(|e| e.to_entry())
    }

    /// Whole seconds since `key` in `namespace` was last read or written
    /// (OBJECT IDLETIME), `None` when it does not exist; asking is no access.
    pub fn idle_time(&self, namespace: &str, key: &[u8]) -> Option<u64> {
        let now = self.now();
        self.lock().keyspace(namespace).idle_seconds(key, now)
    }
}

#[cfg(test)]
mod tests {
    use crate::command::{Op, Reply};
    use crate::engine::{Changes, Engine, Eviction, Limits, ManualClock, Mutation};
    use std::sync::Arc;

    const START_MS: u64 = 1_700_000_000_000;

    fn engine() -> (ManualClock, Engine) {
        let clock = ManualClock::new(START_MS);
        (clock.clone(), Engine::new(Arc::new(clock)))
    }

    fn put(key: &str, ttl_ms: Option<i64>) -> Op {
        Op::Put {
            key: key.into(),
            value: b"v".to_vec(),
            ttl_ms,
        }
    }

    fn idle(engine: &Engine, key: &str) -> Option<u64> {
        engine.idle_time("0", key.as_bytes())
    }

    #[test]
    fn reads_and_writes_reset_the_idle_time_and_looks_do_not() {
        let (clock, engine) = engine();
        assert_eq!(engine.run("0", &put("a", None)), Ok(Reply::Ok));
        clock.advance(5_000);
        assert_eq!(idle(&engine, "a"), Some(5));
        // Asking, EXISTS, TTL and peeking are no access.
        assert_eq!(idle(&engine, "a"), Some(5));
        engine.run("0", &Op::Exists(b"a".to_vec())).unwrap();
        engine.run("0", &Op::Ttl(b"a".to_vec())).unwrap();
        assert!(engine.peek("0", b"a").is_some());
        clock.advance(2_000);
        assert_eq!(idle(&engine, "a"), Some(7));
        // A read is.
        let got = engine.run("0", &Op::Get(b"a".to_vec()));
        assert_eq!(got, Ok(Reply::Value(b"v".to_vec())));
        assert_eq!(idle(&engine, "a"), Some(0));
        clock.advance(3_000);
        assert_eq!(idle(&engine, "a"), Some(3));
        // So are a write, from its parts or as an operation, and EXPIRE.
        engine.put("0", b"a", b"w").unwrap();
        assert_eq!(idle(&engine, "a"), Some(0));
        clock.advance(4_000);
        engine.run_owned("0", put("a", None)).unwrap();
        assert_eq!(idle(&engine, "a"), Some(0));
        clock.advance(4_000);
        let expire = Op::Expire {
            key: b"a".to_vec(),
            ttl_ms: 60_000,
        };
        assert_eq!(engine.run("0", &expire), Ok(Reply::Bool(true)));
        assert_eq!(idle(&engine, "a"), Some(0));
        // Missing, expired and other namespaces' keys have none.
        assert_eq!(idle(&engine, "missing"), None);
        engine.run("0", &put("short", Some(1_000))).unwrap();
        clock.advance(1_000);
        assert_eq!(idle(&engine, "short"), None);
        assert_eq!(engine.idle_time("1", b"a"), None);
    }

    #[test]
    fn reads_inside_transactions_count_too() {
        let (clock, engine) = engine();
        engine.run("0", &put("a", None)).unwrap();
        engine.run("0", &put("b", None)).unwrap();
        clock.advance(10_000);
        let replies = engine.run_atomic("0", &[Op::Get(b"a".to_vec())]);
        assert_eq!(replies, Ok(vec![Reply::Value(b"v".to_vec())]));
        let mut changes = Changes::default();
        engine
            .run_in("0", &Op::Get(b"b".to_vec()), &mut changes)
            .unwrap();
        assert_eq!((idle(&engine, "a"), idle(&engine, "b")), (Some(0), Some(0)));
    }

    #[test]
    fn restored_keys_count_as_accessed_when_loaded() {
        let (clock, engine) = engine();
        clock.advance(50_000);
        engine.restore_group("0", vec![Mutation::put(&b"a"[..], &b"v"[..], None)]);
        assert_eq!(idle(&engine, "a"), Some(0));
        clock.advance(2_000);
        assert_eq!(idle(&engine, "a"), Some(2));
    }

    #[test]
    fn idle_time_is_kept_under_an_lru_policy_too() {
        let (clock, engine) = engine();
        engine.set_limits(Limits {
            max_keys: Some(2),
            maxmemory: None,
            policy: Eviction::AllkeysLru,
        });
        engine.run("0", &put("a", None)).unwrap();
        engine.run("0", &put("b", None)).unwrap();
        clock.advance(3_000);
        engine.run("0", &Op::Get(b"a".to_vec())).unwrap();
        clock.advance(1_000);
        assert_eq!((idle(&engine, "a"), idle(&engine, "b")), (Some(1), Some(4)));
        // The least recently used key goes, and the survivor keeps its time.
        engine.run("0", &put("c", None)).unwrap();
        assert_eq!(idle(&engine, "b"), None);
        assert_eq!(idle(&engine, "a"), Some(1));
    }
}

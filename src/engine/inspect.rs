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
}

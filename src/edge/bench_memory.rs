//! The `bench-memory` build (bench/ only, never deployed): the worker's state in this isolate's
//! memory ([`MemoryStore`]) instead of KV, so that the bench can measure what our own code costs
//! without the local KV simulator, which runs in the profiled isolate under `wrangler dev` and
//! is not billed that way on the platform (issue 23, item 1). Queue sends, WebCrypto and the
//! back-channel POSTs stay real. Calls are counted as KV's subrequests are.
//!
//! It cannot be deployed by accident: it does not compile unless `EDGE_LOGOUT_BENCH` is set
//! at build time (below), scripts/build.sh writes it only to `build-bench-memory/` and refuses
//! it without that variable, and wrangler.toml's worker is `build/`. Its state lives and dies
//! with the isolate: a restarted isolate forgets every session.

use serde_json::Value;

use super::kv::KvStores;
use crate::budget::BULK_READ_MAX;
use crate::ports::{ListPage, Ns, Store, StoreError};
use crate::state::memory::MemoryStore;
use crate::state::store::kv_expiration;

const _: () = assert!(
    option_env!("EDGE_LOGOUT_BENCH").is_some(),
    "the bench-memory feature keeps state in one isolate's memory: bench/ only (set EDGE_LOGOUT_BENCH=1, build with scripts/build.sh into build-bench-memory/)"
);

thread_local! {
    /// One store per isolate, as KV would be one per account (leaked: it lives as long as the isolate).
    static MEMORY: &'static MemoryStore = Box::leak(Box::default());
}

/// The isolate's store with its clock set to now (its expiries are checked against it).
fn memory() -> &'static MemoryStore {
    let m = MEMORY.with(|m| *m);
    m.now.set((js_sys::Date::now() / 1000.0) as i64);
    m
}

impl KvStores {
    fn count(&self, calls: usize) {
        self.subrequests.set(self.subrequests.get() + calls);
    }
}

impl Store for KvStores {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
        self.count(1);
        memory().get(ns, key).await
    }

    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        self.count(keys.len().div_ceil(BULK_READ_MAX));
        memory().get_many(ns, keys).await
    }

    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        metadata: Option<Value>,
    ) -> Result<(), StoreError> {
        self.count(1);
        let m = memory();
        // As KvStores::put: KV refuses an expiration less than a minute ahead.
        let expires_at = expires_at.map(|e| kv_expiration(e, m.now.get()));
        m.put(ns, key, value, expires_at, metadata).await
    }

    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
        self.count(1);
        memory().delete(ns, key).await
    }

    fn subrequests(&self) -> usize {
        self.subrequests.get()
    }

    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
        self.count(1);
        memory().list(ns, prefix, cursor, limit).await
    }
}

//! The storage the protocol logic needs, as a trait: Workers KV implements it in the worker
//! layer, and an in-memory map implements it for unit tests on the host.

use std::fmt;

use serde_json::Value;

/// The two KV namespaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ns {
    Clients,
    Sessions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreError(pub String);

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "storage error: {}", self.0)
    }
}

/// One listed key with its metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    pub key: String,
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ListPage {
    pub keys: Vec<Listed>,
    /// Where the next page starts; `None` when the listing is complete.
    pub cursor: Option<String>,
}

/// The most keys one bulk read takes.
pub const BULK_READ_MAX: usize = 100;

/// KV's smallest allowed expiration TTL, in seconds.
pub const MIN_TTL_S: i64 = 60;

#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Store {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError>;
    /// Several keys at once (KV's bulk read: one subrequest per [`BULK_READ_MAX`] keys), in order.
    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(ns, k).await?);
        }
        Ok(out)
    }
    /// Writes `value`, expiring at the unix time `expires_at` when given (at least
    /// [`MIN_TTL_S`] ahead, as KV requires), with optional listing metadata.
    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        metadata: Option<Value>,
    ) -> Result<(), StoreError>;
    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError>;
    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError>;
    /// Subrequests made so far (every call, and every [`BULK_READ_MAX`] keys of a bulk read),
    /// so that a request can tell what it still affords (see [`crate::backchannel::affordable_inline`]).
    fn subrequests(&self) -> usize;
}

#[cfg(any(test, feature = "test-support"))]
pub mod memory {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    type Entry = (String, Option<i64>, Option<Value>);

    /// An in-memory [`Store`] with a clock the test sets, for host unit tests.
    #[derive(Default)]
    pub struct MemoryStore {
        data: RefCell<BTreeMap<(Ns, String), Entry>>,
        pub now: std::cell::Cell<i64>,
        /// Counted as KV would: one per call, one per [`BULK_READ_MAX`] keys of a bulk read.
        pub ops: std::cell::Cell<usize>,
    }

    impl MemoryStore {
        pub fn new(now: i64) -> Self {
            let s = MemoryStore::default();
            s.now.set(now);
            s
        }

        /// Every live key and value, to compare states before and after a request.
        pub fn snapshot(&self) -> Vec<(Ns, String, String)> {
            let now = self.now.get();
            self.data
                .borrow()
                .iter()
                .filter(|(_, (_, exp, _))| exp.is_none_or(|e| e > now))
                .map(|((ns, k), (v, _, _))| (*ns, k.clone(), v.clone()))
                .collect()
        }
    }

    impl MemoryStore {
        fn read(&self, ns: Ns, key: &str) -> Option<String> {
            let now = self.now.get();
            self.data
                .borrow()
                .get(&(ns, key.to_string()))
                .filter(|(_, exp, _)| exp.is_none_or(|e| e > now))
                .map(|(v, _, _)| v.clone())
        }

        fn count(&self, n: usize) {
            self.ops.set(self.ops.get() + n);
        }
    }

    impl Store for MemoryStore {
        async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
            self.count(1);
            Ok(self.read(ns, key))
        }

        async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
            self.count(keys.len().div_ceil(BULK_READ_MAX));
            Ok(keys.iter().map(|k| self.read(ns, k)).collect())
        }

        fn subrequests(&self) -> usize {
            self.ops.get()
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
            if let Some(exp) = expires_at {
                if exp < self.now.get() + MIN_TTL_S {
                    return Err(StoreError(format!("expiration {exp} is less than {MIN_TTL_S} s ahead")));
                }
            }
            self.data.borrow_mut().insert((ns, key.to_string()), (value.to_string(), expires_at, metadata));
            Ok(())
        }

        async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
            self.count(1);
            self.data.borrow_mut().remove(&(ns, key.to_string()));
            Ok(())
        }

        async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
            self.count(1);
            let now = self.now.get();
            let data = self.data.borrow();
            let mut keys: Vec<Listed> = data
                .iter()
                .filter(|((n, k), (_, exp, _))| {
                    *n == ns
                        && k.starts_with(prefix)
                        && cursor.as_ref().is_none_or(|c| k > c)
                        && exp.is_none_or(|e| e > now)
                })
                .map(|((_, k), (_, _, m))| Listed { key: k.clone(), metadata: m.clone() })
                .take(limit as usize + 1)
                .collect();
            let cursor = if keys.len() > limit as usize {
                keys.truncate(limit as usize);
                keys.last().map(|l| l.key.clone())
            } else {
                None
            };
            Ok(ListPage { keys, cursor })
        }
    }
}

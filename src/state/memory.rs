//! An in-memory [`Store`] with a clock the test sets, for host unit tests, fuzzing and the
//! property tests (feature `test-support`), and the bench's worker without KV (feature
//! `bench-memory`, src/edge/bench_memory.rs: one store per isolate, its clock set per call).

use serde_json::Value;

use super::store::{ListPage, Listed, Ns, Store, StoreError, MIN_TTL_S};
use crate::budget::BULK_READ_MAX;
use std::cell::RefCell;
use std::collections::BTreeMap;

type Entry = (String, Option<i64>, Option<Value>);

/// KV operations as the daily quotas count them: a read per key read (bulk reads included),
/// a write per put, a delete per delete, a list per listing call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub reads: usize,
    pub writes: usize,
    pub deletes: usize,
    pub lists: usize,
}

/// An in-memory [`Store`] with a clock the test sets, for host unit tests.
#[derive(Default)]
pub struct MemoryStore {
    data: RefCell<BTreeMap<(Ns, String), Entry>>,
    pub now: std::cell::Cell<i64>,
    /// Counted as KV would: one per call, one per [`BULK_READ_MAX`] keys of a bulk read.
    pub ops: std::cell::Cell<usize>,
    /// Counted as the daily quotas would, since the store was made or [`MemoryStore::take_counts`].
    counts: std::cell::Cell<OpCounts>,
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

    /// Every live key and its expiry (which [`MemoryStore::snapshot`] does not show).
    pub fn expirations(&self) -> Vec<(Ns, String, Option<i64>)> {
        let now = self.now.get();
        self.data
            .borrow()
            .iter()
            .filter(|(_, (_, exp, _))| exp.is_none_or(|e| e > now))
            .map(|((ns, k), (_, exp, _))| (*ns, k.clone(), *exp))
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

    fn tally(&self, f: impl FnOnce(&mut OpCounts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    /// The operations counted since the last call, and a fresh count.
    pub fn take_counts(&self) -> OpCounts {
        self.counts.replace(OpCounts::default())
    }
}

impl Store for MemoryStore {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
        self.count(1);
        self.tally(|c| c.reads += 1);
        Ok(self.read(ns, key))
    }

    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        self.count(keys.len().div_ceil(BULK_READ_MAX));
        self.tally(|c| c.reads += keys.len());
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
        self.tally(|c| c.writes += 1);
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
        self.tally(|c| c.deletes += 1);
        self.data.borrow_mut().remove(&(ns, key.to_string()));
        Ok(())
    }

    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
        self.count(1);
        self.tally(|c| c.lists += 1);
        let now = self.now.get();
        let data = self.data.borrow();
        // The keys from `prefix` on, in order, until one lacks it: not a scan of the whole store
        // (the bench's worker keeps every session of a run here, bench_memory.rs).
        let live = data
            .range((ns, prefix.to_string())..)
            .take_while(|((n, k), _)| *n == ns && k.starts_with(prefix))
            .filter(|(_, (_, exp, _))| exp.is_none_or(|e| e > now))
            .map(|((_, k), (_, _, m))| Listed { key: k.clone(), metadata: m.clone() });
        Ok(page_of(live, prefix, cursor.as_deref(), limit))
    }
}

/// A KV listing page over `keys` (in key order): those with `prefix` after `cursor`, at most
/// `limit`, and the cursor of the next page when more remain. Shared by the host stores.
pub fn page_of(keys: impl Iterator<Item = Listed>, prefix: &str, cursor: Option<&str>, limit: u32) -> ListPage {
    let mut keys: Vec<Listed> = keys
        .filter(|l| l.key.starts_with(prefix) && cursor.is_none_or(|c| l.key.as_str() > c))
        .take(limit as usize + 1)
        .collect();
    let cursor = if keys.len() > limit as usize {
        keys.truncate(limit as usize);
        keys.last().map(|l| l.key.clone())
    } else {
        None
    };
    ListPage { keys, cursor }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    /// A listing reads the keys from its prefix on, in order, and stops at the first without it:
    /// not those of the other namespace, nor neighbours before or after, nor expired ones; and
    /// its pages follow the cursor.
    #[test]
    fn a_listing_reads_only_its_prefix_in_its_namespace() {
        let s = MemoryStore::new(1_000);
        block_on(async {
            for key in ["member/a", "member/a/1", "member/a/2", "member/a/3", "member/b/1", "member/a0"] {
                s.put(Ns::Sessions, key, "", None, None).await.unwrap();
            }
            s.put(Ns::Clients, "member/a/4", "", None, None).await.unwrap();
            s.put(Ns::Sessions, "member/a/5", "", Some(2_000), None).await.unwrap();
            s.now.set(3_000);
            let keys = |p: &ListPage| p.keys.iter().map(|l| l.key.clone()).collect::<Vec<_>>();
            let first = s.list(Ns::Sessions, "member/a/", None, 2).await.unwrap();
            assert_eq!(keys(&first), ["member/a/1", "member/a/2"]);
            let next = s.list(Ns::Sessions, "member/a/", first.cursor, 2).await.unwrap();
            assert_eq!(keys(&next), ["member/a/3"]);
            assert_eq!(next.cursor, None);
        });
    }
}

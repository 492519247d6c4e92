//! A model of Workers KV's eventual consistency, for host tests of what one local runtime cannot
//! show: several locations share one namespace; each sees its own writes at once and another
//! location's after `delay_s`; a read that found nothing is cached at its location for
//! `negative_ttl_s` (KV caches misses too); lists see what their location sees; the last write
//! wins. Time is the test's: [`World::set_now`].
//!
//! The figures the tests use are the platform's documented ones: a write can take 60 s or more
//! to be seen elsewhere, and a miss is cached for up to 60 s
//! (developers.cloudflare.com/kv/concepts/how-kv-works/).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::budget::BULK_READ_MAX;
use crate::state::memory::page_of;
use crate::state::store::{ListPage, Listed, Ns, Store, StoreError, MIN_TTL_S};

/// One write (or delete, `value: None`) as it happened.
struct Write {
    at: i64,
    from: usize,
    ns: Ns,
    key: String,
    value: Option<(String, Option<i64>, Option<Value>)>,
}

/// The namespaces as every location will eventually see them.
pub struct World {
    now: Cell<i64>,
    writes: RefCell<Vec<Write>>,
    /// Per location and key: until when a miss is remembered.
    misses: RefCell<HashMap<(usize, Ns, String), i64>>,
    pub delay_s: i64,
    pub negative_ttl_s: i64,
}

impl World {
    pub fn new(now: i64, delay_s: i64, negative_ttl_s: i64) -> Self {
        World { now: Cell::new(now), writes: RefCell::default(), misses: RefCell::default(), delay_s, negative_ttl_s }
    }

    pub fn now(&self) -> i64 {
        self.now.get()
    }

    pub fn set_now(&self, now: i64) {
        self.now.set(now);
    }

    /// The store as location `id` sees it.
    pub fn at(&self, id: usize) -> Location<'_> {
        Location { world: self, id, ops: Cell::new(0) }
    }

    /// What location `id` sees now: every write of its own, and others' once `delay_s` old.
    fn view(&self, id: usize, ns: Ns) -> BTreeMap<String, (String, Option<i64>, Option<Value>)> {
        let now = self.now();
        let mut out = BTreeMap::new();
        for w in self.writes.borrow().iter().filter(|w| w.ns == ns && (w.from == id || w.at + self.delay_s <= now)) {
            match &w.value {
                Some(v) => out.insert(w.key.clone(), v.clone()),
                None => out.remove(&w.key),
            };
        }
        out.retain(|_, (_, exp, _)| exp.is_none_or(|e| e > now));
        out
    }

    fn write(&self, from: usize, ns: Ns, key: &str, value: Option<(String, Option<i64>, Option<Value>)>) {
        self.misses.borrow_mut().remove(&(from, ns, key.to_string()));
        self.writes.borrow_mut().push(Write { at: self.now(), from, ns, key: key.to_string(), value });
    }
}

/// One location's view of the [`World`].
pub struct Location<'w> {
    world: &'w World,
    id: usize,
    ops: Cell<usize>,
}

impl Location<'_> {
    fn read(&self, ns: Ns, key: &str) -> Option<String> {
        let w = self.world;
        let cache_key = (self.id, ns, key.to_string());
        if w.misses.borrow().get(&cache_key).is_some_and(|until| *until > w.now()) {
            return None;
        }
        let found = w.view(self.id, ns).remove(key).map(|(v, _, _)| v);
        if found.is_none() {
            w.misses.borrow_mut().insert(cache_key, w.now() + w.negative_ttl_s);
        }
        found
    }
}

impl Store for Location<'_> {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
        self.ops.set(self.ops.get() + 1);
        Ok(self.read(ns, key))
    }

    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        self.ops.set(self.ops.get() + keys.len().div_ceil(BULK_READ_MAX));
        Ok(keys.iter().map(|k| self.read(ns, k)).collect())
    }

    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        metadata: Option<Value>,
    ) -> Result<(), StoreError> {
        self.ops.set(self.ops.get() + 1);
        if expires_at.is_some_and(|e| e < self.world.now() + MIN_TTL_S) {
            return Err(StoreError("expiration less than 60 s ahead".into()));
        }
        self.world.write(self.id, ns, key, Some((value.to_string(), expires_at, metadata)));
        Ok(())
    }

    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
        self.ops.set(self.ops.get() + 1);
        self.world.write(self.id, ns, key, None);
        Ok(())
    }

    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
        self.ops.set(self.ops.get() + 1);
        let visible = self.world.view(self.id, ns).into_iter().map(|(k, (_, _, m))| Listed { key: k, metadata: m });
        Ok(page_of(visible, prefix, cursor.as_deref(), limit))
    }

    fn subrequests(&self) -> usize {
        self.ops.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    #[test]
    fn another_locations_write_shows_after_the_delay_and_a_miss_is_cached() {
        block_on(async {
            let world = World::new(1000, 60, 60);
            let (a, b) = (world.at(0), world.at(1));
            // b looks first: the miss is remembered for 60 s.
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap(), None);
            a.put(Ns::Sessions, "k", "v", None, None).await.unwrap();
            assert_eq!(a.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("v"), "its own write at once");
            world.set_now(1059);
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap(), None);
            world.set_now(1060);
            assert_eq!(b.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("v"));
            assert_eq!(b.list(Ns::Sessions, "k", None, 10).await.unwrap().keys.len(), 1);
            b.delete(Ns::Sessions, "k").await.unwrap();
            assert_eq!(a.get(Ns::Sessions, "k").await.unwrap().as_deref(), Some("v"), "the delete is not seen yet");
            world.set_now(1120);
            assert_eq!(a.get(Ns::Sessions, "k").await.unwrap(), None);
        });
    }
}

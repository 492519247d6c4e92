//! Stores that wrap the in-memory one to show what a quiet one cannot: [`Yielding`] waits a
//! turn before each call, as KV's calls do, so that concurrent requests interleave;
//! [`FailingWrites`] fails every write after a given number.

use std::cell::Cell;

use serde_json::Value;

use crate::state::memory::MemoryStore;
use crate::state::store::{ListPage, Ns, Store, StoreError};

/// A store whose calls wait a turn first, as KV's do, so that concurrent requests interleave.
pub struct Yielding<'a>(pub &'a MemoryStore);

async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}

impl Store for Yielding<'_> {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
        yield_once().await;
        self.0.get(ns, key).await
    }
    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        yield_once().await;
        self.0.get_many(ns, keys).await
    }
    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        exp: Option<i64>,
        meta: Option<Value>,
    ) -> Result<(), StoreError> {
        yield_once().await;
        self.0.put(ns, key, value, exp, meta).await
    }
    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
        yield_once().await;
        self.0.delete(ns, key).await
    }
    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
        yield_once().await;
        self.0.list(ns, prefix, cursor, limit).await
    }
    fn subrequests(&self) -> usize {
        self.0.subrequests()
    }
}

/// A store that fails every write (put or delete) after the first `writes_left`.
pub struct FailingWrites<'a> {
    inner: &'a MemoryStore,
    writes_left: Cell<usize>,
}

impl<'a> FailingWrites<'a> {
    pub fn new(inner: &'a MemoryStore, writes_left: usize) -> Self {
        FailingWrites { inner, writes_left: Cell::new(writes_left) }
    }

    fn spend(&self) -> Result<(), StoreError> {
        match self.writes_left.get() {
            0 => Err(StoreError("injected write failure".into())),
            n => {
                self.writes_left.set(n - 1);
                Ok(())
            }
        }
    }
}

impl Store for FailingWrites<'_> {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get(ns, key).await
    }
    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        self.inner.get_many(ns, keys).await
    }
    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        exp: Option<i64>,
        meta: Option<Value>,
    ) -> Result<(), StoreError> {
        self.spend()?;
        self.inner.put(ns, key, value, exp, meta).await
    }
    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
        self.spend()?;
        self.inner.delete(ns, key).await
    }
    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
        self.inner.list(ns, prefix, cursor, limit).await
    }
    fn subrequests(&self) -> usize {
        self.inner.subrequests()
    }
}

/// A store refusing every write of one key, as KV does past one write per second to a key (429).
pub struct RefusingKey<'a> {
    pub inner: &'a MemoryStore,
    pub key: &'static str,
}

impl Store for RefusingKey<'_> {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
        self.inner.get(ns, key).await
    }
    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        self.inner.get_many(ns, keys).await
    }
    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        exp: Option<i64>,
        meta: Option<Value>,
    ) -> Result<(), StoreError> {
        if key == self.key {
            return Err(StoreError("429 Too Many Requests".into()));
        }
        self.inner.put(ns, key, value, exp, meta).await
    }
    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
        self.inner.delete(ns, key).await
    }
    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
        self.inner.list(ns, prefix, cursor, limit).await
    }
    fn subrequests(&self) -> usize {
        self.inner.subrequests()
    }
}

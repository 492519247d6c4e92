//! The storage the protocol logic needs, as a trait: Workers KV implements it in the worker
//! layer, and an in-memory map ([`super::memory`]) implements it for unit tests on the host.

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

/// KV's smallest allowed expiration TTL, in seconds.
pub const MIN_TTL_S: i64 = 60;

/// How much further than [`MIN_TTL_S`] ahead an expiration is set: KV checks the minimum with
/// its own clock when the write arrives, some time after the `now` a request read when it
/// started (awaits, subrequests, clock skew), and refuses a write that expires sooner.
pub const TTL_MARGIN_S: i64 = 30;

/// The expiration to give KV for a value that may go at `expires_at`, written at `now`: never
/// sooner than [`MIN_TTL_S`] + [`TTL_MARGIN_S`] ahead, so that a write expiring "in a minute"
/// is not refused. A value living a little longer is harmless: what needs an exact end (a
/// session, a confirmation) carries it and is checked on every read.
/// <https://developers.cloudflare.com/kv/api/write-key-value-pairs/#expiring-keys>
pub fn kv_expiration(expires_at: i64, now: i64) -> i64 {
    expires_at.max(now + MIN_TTL_S + TTL_MARGIN_S)
}

/// One write of [`Store::put_each`].
#[derive(Debug, Clone, PartialEq)]
pub struct Put {
    pub ns: Ns,
    pub key: String,
    pub value: String,
    pub expires_at: Option<i64>,
    pub metadata: Option<Value>,
}

#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Store {
    async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError>;
    /// Several keys at once (KV's bulk read: one subrequest per [`crate::budget::BULK_READ_MAX`] keys), in order.
    async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for k in keys {
            out.push(self.get(ns, k).await?);
        }
        Ok(out)
    }
    /// Writes `value`, expiring at the unix time `expires_at` when given (at least
    /// [`MIN_TTL_S`] ahead, as KV requires: the worker's store moves a sooner one to
    /// [`kv_expiration`]), with optional listing metadata.
    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        metadata: Option<Value>,
    ) -> Result<(), StoreError>;
    async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError>;
    /// Independent writes at once, each with its own result, in order: one failing does not
    /// stop or undo the others (KV has no transaction). One crossing in the worker.
    async fn put_each(&self, puts: &[Put]) -> Vec<Result<(), StoreError>> {
        let mut out = Vec::with_capacity(puts.len());
        for p in puts {
            out.push(self.put(p.ns, &p.key, &p.value, p.expires_at, p.metadata.clone()).await);
        }
        out
    }
    /// Independent deletes at once, each with its own result, in order. One crossing in the worker.
    async fn delete_each(&self, keys: &[(Ns, &str)]) -> Vec<Result<(), StoreError>> {
        let mut out = Vec::with_capacity(keys.len());
        for (ns, key) in keys {
            out.push(self.delete(*ns, key).await);
        }
        out
    }
    async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError>;
    /// Subrequests made so far (every call, and every [`crate::budget::BULK_READ_MAX`] keys of a bulk read),
    /// so that a request can tell what it still affords (see [`crate::budget::affordable_inline`]).
    fn subrequests(&self) -> usize;
}

//! The KV binding: the `CLIENTS` and `SESSIONS` namespaces behind [`Store`], called through
//! kv.js (one crossing per call, strings in and out), each call counted as a subrequest.

use std::cell::Cell;

use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{Env, Result};

#[cfg(not(feature = "bench-memory"))]
use super::clock;
#[cfg(not(feature = "bench-memory"))]
use crate::budget::BULK_READ_MAX;
use crate::ports::{ListPage, Listed, Ns, Put, Store, StoreError};
#[cfg(not(feature = "bench-memory"))]
use crate::state::store::kv_expiration;

#[wasm_bindgen(module = "/src/edge/kv.js")]
extern "C" {
    #[wasm_bindgen(js_name = kvGet, catch)]
    async fn kv_get(ns: &JsValue, key: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = kvGetMany, catch)]
    async fn kv_get_many(ns: &JsValue, keys: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = kvPut, catch)]
    async fn kv_put(
        ns: &JsValue,
        key: &str,
        value: &str,
        expiration: f64,
        metadata: &str,
    ) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = kvBatch, catch)]
    async fn kv_batch(clients: &JsValue, sessions: &JsValue, ops: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = kvDelete, catch)]
    async fn kv_delete(ns: &JsValue, key: &str) -> std::result::Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = kvList, catch)]
    async fn kv_list(
        ns: &JsValue,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> std::result::Result<JsValue, JsValue>;
}

/// The two KV namespaces, called through kv.js (one crossing per call, strings in and out).
/// With the `bench-memory` feature (bench/ only), this isolate's memory instead
/// (`bench_memory`): the same calls, counted the same, without the local KV simulator.
pub struct KvStores {
    clients: JsValue,
    sessions: JsValue,
    pub(super) subrequests: Cell<usize>,
}

impl KvStores {
    /// The `CLIENTS` and `SESSIONS` bindings; an error names a missing one.
    pub fn of(env: &Env) -> Result<Self> {
        let binding = |name: &str| match js_sys::Reflect::get(env, &JsValue::from_str(name)) {
            Ok(b) if b.is_object() => Ok(b),
            _ => Err(worker::Error::RustError(format!("no KV binding {name}"))),
        };
        Ok(KvStores { clients: binding("CLIENTS")?, sessions: binding("SESSIONS")?, subrequests: Cell::new(0) })
    }

    /// Independent calls in one crossing ([`kv_batch`]), each counted as a subrequest: one
    /// outcome per op, in order.
    #[cfg(not(feature = "bench-memory"))]
    async fn batch(&self, ops: &[Value]) -> std::result::Result<Vec<Done>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        self.subrequests.set(self.subrequests.get() + ops.len());
        let ops = Value::from(ops).to_string();
        let done: Vec<Done> = parsed(kv_batch(&self.clients, &self.sessions, &ops).await.map_err(store_err)?)?;
        Ok(done)
    }

    fn ns(&self, ns: Ns) -> &JsValue {
        self.subrequests.set(self.subrequests.get() + 1);
        match ns {
            Ns::Clients => &self.clients,
            Ns::Sessions => &self.sessions,
        }
    }
}

fn store_err(e: JsValue) -> StoreError {
    StoreError(e.as_string().unwrap_or_else(|| {
        js_sys::Reflect::get(&e, &"message".into())
            .ok()
            .and_then(|m| m.as_string())
            .unwrap_or_else(|| "KV failed".into())
    }))
}

/// A JSON answer of kv.js, read as `T`.
fn parsed<T: serde::de::DeserializeOwned>(answer: JsValue) -> std::result::Result<T, StoreError> {
    let text = answer.as_string().ok_or_else(|| StoreError("KV answered no text".into()))?;
    serde_json::from_str(&text).map_err(|e| StoreError(format!("KV answered unreadable JSON: {e}")))
}

/// One outcome of kv.js's `kvBatch`: `{"error": "..."}` or `{"value": "..." | null}`. A flat
/// struct rather than an untagged enum, which would buffer each outcome in serde's `Content`
/// first (size of the wasm).
#[derive(serde::Deserialize)]
struct Done {
    error: Option<String>,
    value: Option<String>,
}

impl Done {
    fn value(self) -> std::result::Result<Option<String>, StoreError> {
        match self.error {
            Some(error) => Err(StoreError(error)),
            None => Ok(self.value),
        }
    }
}

/// A namespace as `kvBatch` names it.
fn ns_index(ns: Ns) -> u8 {
    match ns {
        Ns::Clients => 0,
        Ns::Sessions => 1,
    }
}

#[derive(serde::Deserialize)]
struct RawPage {
    keys: Vec<RawKey>,
    cursor: Option<String>,
}

#[derive(serde::Deserialize)]
struct RawKey {
    name: String,
    metadata: Option<Value>,
}

#[cfg(not(feature = "bench-memory"))]
impl Store for KvStores {
    async fn get(&self, ns: Ns, key: &str) -> std::result::Result<Option<String>, StoreError> {
        Ok(kv_get(self.ns(ns), key).await.map_err(store_err)?.as_string())
    }

    async fn get_many(&self, ns: Ns, keys: &[String]) -> std::result::Result<Vec<Option<String>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(BULK_READ_MAX) {
            let wanted = serde_json::to_string(chunk).expect("keys serialise");
            let found: Vec<Option<String>> = parsed(kv_get_many(self.ns(ns), &wanted).await.map_err(store_err)?)?;
            if found.len() != chunk.len() {
                return Err(StoreError("KV answered another number of values".into()));
            }
            out.extend(found);
        }
        Ok(out)
    }

    async fn put(
        &self,
        ns: Ns,
        key: &str,
        value: &str,
        expires_at: Option<i64>,
        metadata: Option<Value>,
    ) -> std::result::Result<(), StoreError> {
        // 0: no expiration (kv.js). KV refuses one less than a minute after the write arrives:
        // counted from the clock now, not from when the request began.
        let expiration = expires_at.map_or(0.0, |e| kv_expiration(e, clock::now()) as f64);
        let metadata = metadata.map(|m| m.to_string()).unwrap_or_default();
        kv_put(self.ns(ns), key, value, expiration, &metadata).await.map_err(store_err)?;
        Ok(())
    }

    async fn put_each(&self, puts: &[Put]) -> Vec<std::result::Result<(), StoreError>> {
        // As `put`: KV refuses an expiration less than a minute after the write arrives.
        let now = clock::now();
        let ops: Vec<Value> = puts
            .iter()
            .map(|p| {
                let expiration = p.expires_at.map_or(0, |e| kv_expiration(e, now));
                serde_json::json!({"ns": ns_index(p.ns), "put": p.key, "value": p.value, "expiration": expiration,
                                   "metadata": p.metadata})
            })
            .collect();
        match self.batch(&ops).await {
            Ok(done) if done.len() == puts.len() => done.into_iter().map(|d| d.value().map(drop)).collect(),
            Ok(_) => puts.iter().map(|_| Err(StoreError("KV answered another number of outcomes".into()))).collect(),
            Err(e) => puts.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    async fn delete_each(&self, keys: &[(Ns, &str)]) -> Vec<std::result::Result<(), StoreError>> {
        let ops: Vec<Value> =
            keys.iter().map(|(ns, key)| serde_json::json!({"ns": ns_index(*ns), "delete": key})).collect();
        match self.batch(&ops).await {
            Ok(done) if done.len() == keys.len() => done.into_iter().map(|d| d.value().map(drop)).collect(),
            Ok(_) => keys.iter().map(|_| Err(StoreError("KV answered another number of outcomes".into()))).collect(),
            Err(e) => keys.iter().map(|_| Err(e.clone())).collect(),
        }
    }

    async fn delete(&self, ns: Ns, key: &str) -> std::result::Result<(), StoreError> {
        kv_delete(self.ns(ns), key).await.map_err(store_err)?;
        Ok(())
    }

    fn subrequests(&self) -> usize {
        self.subrequests.get()
    }

    async fn list(
        &self,
        ns: Ns,
        prefix: &str,
        cursor: Option<String>,
        limit: u32,
    ) -> std::result::Result<ListPage, StoreError> {
        let page: RawPage = parsed(kv_list(self.ns(ns), prefix, cursor, limit).await.map_err(store_err)?)?;
        Ok(ListPage {
            keys: page.keys.into_iter().map(|k| Listed { key: k.name, metadata: k.metadata }).collect(),
            cursor: page.cursor,
        })
    }
}

//! The worker layer: reads the request, hands it to [`crate::app`], writes the response.
//! It owns the only calls into the Workers runtime (KV, fetch, queues, WebCrypto, clock,
//! randomness, configuration bindings), and implements the [`crate::ports`] traits with them.
//! May import anything of the crate's; nothing imports it.
// The bench-memory build (bench/ only) leaves the KV calls unused; the default build is linted.
#![cfg_attr(feature = "bench-memory", allow(dead_code, unused_imports))]

#[cfg(feature = "bench-memory")]
mod bench_memory;
mod expiry;
mod notify;
mod ratelimit;
mod signer;

use std::cell::{Cell, OnceCell};
use std::rc::Rc;

use serde_json::Value;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::{event, Context, Env, Headers, MessageBatch, Request, Response, Result, ScheduleContext, ScheduledEvent};

use crate::app;
use crate::budget::BULK_READ_MAX;
use crate::config::{Config, ConfigError};
use crate::http::errors::{ErrorTable, RequestError};
use crate::http::{HttpRequest, HttpResponse, Method, MAX_BODY_BYTES};
use crate::ports::{Ctx, ListPage, Listed, Ns, Store, StoreError};
use crate::state::store::kv_expiration;

thread_local! {
    /// Parsed once per isolate: keys in particular are expensive to import.
    static CONFIG: OnceCell<std::result::Result<Rc<Config>, ConfigError>> = const { OnceCell::new() };
}

fn config(env: &Env) -> std::result::Result<Rc<Config>, ConfigError> {
    CONFIG.with(|cell| {
        cell.get_or_init(|| {
            Config::from_lookup(|name| {
                env.var(name).map(|v| v.to_string()).or_else(|_| env.secret(name).map(|v| v.to_string())).ok()
            })
            .map(Rc::new)
        })
        .clone()
    })
}

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
/// ([`bench_memory`]): the same calls, counted the same, without the local KV simulator.
pub(crate) struct KvStores {
    clients: JsValue,
    sessions: JsValue,
    subrequests: Cell<usize>,
}

impl KvStores {
    /// The `CLIENTS` and `SESSIONS` bindings; an error names a missing one.
    fn of(env: &Env) -> Result<Self> {
        let binding = |name: &str| match js_sys::Reflect::get(env, &JsValue::from_str(name)) {
            Ok(b) if b.is_object() => Ok(b),
            _ => Err(worker::Error::RustError(format!("no KV binding {name}"))),
        };
        Ok(KvStores { clients: binding("CLIENTS")?, sessions: binding("SESSIONS")?, subrequests: Cell::new(0) })
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
        let expiration = expires_at.map_or(0.0, |e| kv_expiration(e, notify::now()) as f64);
        let metadata = metadata.map(|m| m.to_string()).unwrap_or_default();
        kv_put(self.ns(ns), key, value, expiration, &metadata).await.map_err(store_err)?;
        Ok(())
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

async fn read_request(mut req: Request) -> std::result::Result<HttpRequest, HttpResponse> {
    let url = req.url().map_err(|_| HttpResponse::json_error(400, "invalid_request", "bad URL"))?;
    // The raw method: worker's own Method type reads methods it does not know as GET.
    let method = Method::parse(&req.inner().method());
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let declared = req.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    // Refused before reading when declared; a chunked body is refused while it is read.
    if declared.is_some_and(|l| l > MAX_BODY_BYTES) {
        return Err(RequestError::BodyTooLarge.json());
    }
    let body = match method {
        Method::Post | Method::Put | Method::Patch | Method::Delete => read_body(&mut req).await?,
        _ => Vec::new(),
    };
    Ok(HttpRequest { method, path: url.path().to_string(), query: url.query().map(str::to_string), headers, body })
}

/// The body, read chunk by chunk and given up as soon as it passes [`MAX_BODY_BYTES`] (413):
/// at most the limit is kept, whatever the sender declared or did not. No body reads as empty,
/// and so does a body whose stream broke (as `bytes()` did before).
async fn read_body(req: &mut Request) -> std::result::Result<Vec<u8>, HttpResponse> {
    use futures::StreamExt;
    let Ok(mut stream) = req.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return Ok(Vec::new()) };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(RequestError::BodyTooLarge.json());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn write_response(r: HttpResponse) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &r.headers {
        headers.append(name, value)?;
    }
    let resp = if r.body.is_empty() { Response::empty()? } else { Response::from_bytes(r.body)? };
    Ok(resp.with_status(r.status).with_headers(headers))
}

#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            return write_response(HttpResponse::json_error(
                500,
                "server_error",
                &format!("edge-logout is misconfigured: {e}"),
            ));
        }
    };
    let request = match read_request(req).await {
        Ok(r) => r,
        Err(resp) => return write_response(resp),
    };
    let stores = KvStores::of(&env)?;
    ratelimit::remember(&env);
    let platform = platform(&config, &stores, &env);
    let ctx = Ctx { config: &config, store: &stores, platform: &platform, now: notify::now() };
    let started = worker::Date::now().as_millis();
    let mut response = app::handle(&ctx, &request).await;
    let line = response.log.take().map(|mut log| {
        log["status"] = response.status.into();
        log["ms"] = worker::Date::now().as_millis().saturating_sub(started).into();
        log
    });
    platform.flush_log(line);
    write_response(response)
}

fn platform<'a>(config: &'a Config, stores: &'a KvStores, env: &Env) -> notify::EdgePlatform<'a> {
    notify::EdgePlatform { config, store: stores, queue: env.queue("BACKCHANNEL_QUEUE").ok(), log: Default::default() }
}

/// Retries of back-channel deliveries. Never returns an error: in worker 0.8 that panics in the
/// glue; every message is acked or retried by [`notify::consume`] itself.
#[event(queue)]
async fn queue(batch: MessageBatch<String>, env: Env, _ctx: Context) -> Result<()> {
    let config = match config(&env) {
        Ok(c) => c,
        Err(e) => {
            worker::console_error!("{e}");
            batch.retry_all_with_options(&worker::QueueRetryOptionsBuilder::new().with_delay_seconds(60).build());
            return Ok(());
        }
    };
    let Ok(stores) = KvStores::of(&env) else {
        batch.retry_all_with_options(&worker::QueueRetryOptionsBuilder::new().with_delay_seconds(60).build());
        return Ok(());
    };
    let platform = platform(&config, &stores, &env);
    if batch.queue() == dead_letter_queue(&env) {
        notify::consume_dead_letters(batch, &platform).await;
    } else {
        notify::consume(batch, &config, &platform).await;
    }
    platform.flush_log(None);
    Ok(())
}

/// The name of the dead-letter queue (`DEAD_LETTER_QUEUE`, as in wrangler.toml's
/// `dead_letter_queue`), whose batches [`notify::consume_dead_letters`] handles.
fn dead_letter_queue(env: &Env) -> String {
    env.var("DEAD_LETTER_QUEUE").map(|v| v.to_string()).unwrap_or_else(|_| "edge-logout-backchannel-dlq".into())
}

/// The cron tick: ends the sessions that reached their expiry, as logouts
/// ([`crate::protocol::expiry`]); re-queues retries whose queue message was lost (see
/// [`crate::state::deliveries::reissue_overdue`]) and sends again what logouts left in the
/// outbox, so that a failed queue send loses nothing. Its clock is the tick's scheduled time
/// (on the platform, the cron's; `wrangler dev` takes `?time=` on its trigger URL, which lets
/// a test run the tick of half an hour later).
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let Ok(config) = config(&env) else { return };
    let Ok(stores) = KvStores::of(&env) else { return };
    let platform = platform(&config, &stores, &env);
    let at = (event.schedule() / 1000.0) as i64;
    let at = at.max(notify::now());
    let spent = expiry::tick(&platform, at).await;
    notify::sweep(&platform, at, spent).await;
    platform.flush_log(None);
}

//! The Workers Rate Limiting binding behind `Platform::over_limit`
//! (https://developers.cloudflare.com/workers/runtime-apis/bindings/rate-limit/): one binding
//! per [`Bucket`] (`[[ratelimits]]` in `wrangler.toml`), asked `limit({key})`, which answers
//! `{success}` per Cloudflare location. Where a binding is absent, or fails, the isolate's own
//! counters ([`LOCAL`]) decide. Called through `js_sys` rather than `worker::RateLimiter`,
//! whose cast checks the binding's class name, which differs under `wrangler dev`.

use std::cell::RefCell;

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use worker::Env;

use crate::http::ratelimit::{Bucket, LOCAL, PERIOD_S};

thread_local! {
    /// The isolate's bindings (the same for every request of an isolate).
    static ENV: RefCell<Option<Env>> = const { RefCell::new(None) };
}

/// Keeps the bindings of the request being handled.
pub fn remember(env: &Env) {
    ENV.with(|e| *e.borrow_mut() = Some(env.clone()));
}

/// The binding's `limit` method, bound to it, if the worker has the binding.
fn binding_limit(bucket: Bucket) -> Option<(JsValue, Function)> {
    let binding = ENV.with(|e| e.borrow().as_ref().and_then(|env| Reflect::get(env, &bucket.binding().into()).ok()))?;
    if !binding.is_object() {
        return None;
    }
    let limit = Reflect::get(&binding, &"limit".into()).ok()?.dyn_into::<Function>().ok()?;
    Some((binding, limit))
}

/// `None` within the limit, else `Some(seconds)` to wait.
pub async fn over_limit(bucket: Bucket, client: &str, now: i64) -> Option<u32> {
    let Some((binding, limit)) = binding_limit(bucket) else { return LOCAL.hit(bucket, client, now) };
    let options = Object::new();
    let _ = Reflect::set(&options, &"key".into(), &client.into());
    let asked = limit.call1(&binding, &options).ok().and_then(|p| p.dyn_into::<Promise>().ok());
    let Some(promise) = asked else { return LOCAL.hit(bucket, client, now) };
    match wasm_bindgen_futures::JsFuture::from(promise).await {
        Ok(outcome) => match Reflect::get(&outcome, &"success".into()).ok().and_then(|s| s.as_bool()) {
            Some(true) => None,
            // The binding says no more than that: wait out one period.
            Some(false) => Some(PERIOD_S as u32),
            None => LOCAL.hit(bucket, client, now),
        },
        Err(_) => LOCAL.hit(bucket, client, now),
    }
}

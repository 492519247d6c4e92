//! The crossing to post.js: one call signs and POSTs a whole batch of deliveries (what it
//! carries and what its answers mean are [`crate::protocol::backchannel::delivery`]'s), and
//! which signing keys post.js holds in this isolate.

use std::cell::RefCell;
use std::collections::HashSet;

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(module = "/src/edge/post.js")]
extern "C" {
    /// Signs and POSTs a batch of deliveries (see post.js): JSON in, JSON out.
    #[wasm_bindgen(js_name = signAndPost, catch)]
    async fn sign_and_post_js(batch: &str) -> Result<JsValue, JsValue>;
}

thread_local! {
    /// The kids whose JWKs post.js has in this isolate: a key crosses into JS once.
    static HANDED_OVER: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// post.js's answer as text, or what it threw.
pub async fn sign_and_post(batch: &str) -> Result<String, String> {
    match sign_and_post_js(batch).await {
        Ok(answer) => Ok(answer.as_string().unwrap_or_default()),
        Err(e) => Err(e.as_string().unwrap_or_else(|| "an exception".into())),
    }
}

pub fn holds_key(kid: &str) -> bool {
    HANDED_OVER.with(|h| h.borrow().contains(kid))
}

pub fn now_holds(kids: HashSet<String>) {
    HANDED_OVER.with(|h| h.borrow_mut().extend(kids));
}

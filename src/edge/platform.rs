//! The [`Platform`] of the protocol on Workers, composed of the bindings: KV ([`super::kv`]),
//! the queue ([`super::queue`]), post.js ([`super::fetch`]), WebCrypto ([`super::signer`]),
//! the rate limiter ([`super::ratelimit`]), the clock and the console ([`super::clock`]). What it
//! does with them is the protocol's ([`delivery`], tested on the host); this only connects.

use std::cell::RefCell;
use std::collections::HashSet;

use serde_json::Value;
use worker::Queue;

use super::kv::KvStores;
use super::{clock, fetch, queue, signer};
use crate::config::Config;
use crate::http::ratelimit::Bucket;
use crate::keys::{SigningKey, VerifyingKey};
use crate::ports::{log_line, Handoff, Log, Platform};
use crate::protocol::backchannel::delivery::{self, Courier, Marker};
use crate::protocol::backchannel::queued::Sender;
use crate::protocol::backchannel::retry::{Next, Outcome};
use crate::protocol::consumer::Attempts;
use crate::state::deliveries::{Delivery, QueueMessage};

thread_local! {
    /// When this isolate last told the sweep to look ([`delivery::MARK_EVERY_S`]).
    static MARKER: &'static Marker = Box::leak(Box::default());
}

pub struct EdgePlatform<'a> {
    pub config: &'a Config,
    pub store: &'a KvStores,
    pub queue: Option<Queue>,
    /// Log records of this invocation, written together by [`EdgePlatform::flush_log`].
    log: RefCell<Vec<Value>>,
}

impl<'a> EdgePlatform<'a> {
    pub fn new(config: &'a Config, store: &'a KvStores, queue: Option<Queue>) -> Self {
        EdgePlatform { config, store, queue, log: RefCell::default() }
    }

    /// Writes this invocation's one line ([`log_line`]): `last`, the request's record, holding
    /// what was gathered meanwhile.
    pub fn flush_log(&self, last: Option<Value>) {
        if let Some(line) = log_line(last, self.log.take()) {
            clock::log(&line);
        }
    }
}

impl Log for EdgePlatform<'_> {
    fn record(&self, line: Value) {
        self.log.borrow_mut().push(line);
    }

    fn error(&self, line: Value) {
        clock::error(&line);
    }
}

impl Sender for EdgePlatform<'_> {
    async fn send_all(&self, deliveries: &[Delivery]) -> Result<(), String> {
        // A delivery as a JSON string: one string crosses far cheaper than an object.
        let bodies: Vec<String> =
            deliveries.iter().map(|d| serde_json::to_string(d).expect("a delivery serialises")).collect();
        queue::send_all(self.queue.as_ref(), &bodies).await
    }
}

impl Courier for EdgePlatform<'_> {
    async fn sign_and_post(&self, batch: &str) -> Result<String, String> {
        fetch::sign_and_post(batch).await
    }

    fn holds_key(&self, kid: &str) -> bool {
        fetch::holds_key(kid)
    }

    fn now_holds(&self, kids: HashSet<String>) {
        fetch::now_holds(kids)
    }

    fn sign_here(&self, key: &SigningKey, input: &[u8]) -> Result<Vec<u8>, String> {
        signer::sign_in_wasm(key, input)
    }

    async fn send_retry(&self, d: &Delivery, delay_s: u32) -> Result<(), String> {
        queue::send(self.queue.as_ref(), serde_json::to_string(d).expect("a delivery serialises"), delay_s).await
    }

    fn marker(&self) -> &Marker {
        MARKER.with(|m| *m)
    }

    fn now(&self) -> i64 {
        clock::now()
    }

    fn random(&self, bytes: usize) -> String {
        clock::random(bytes)
    }
}

impl Platform for EdgePlatform<'_> {
    async fn deliver(&self, deliveries: Vec<Delivery>, inline_max: usize) -> Handoff {
        delivery::deliver(self.config, self.store, self, deliveries, inline_max).await
    }

    async fn enqueue(&self, message: &QueueMessage, delay_s: u32) -> bool {
        if self.queue.is_none() {
            return false;
        }
        let body = serde_json::to_string(message).expect("a queue message serialises");
        match queue::send(self.queue.as_ref(), body, delay_s).await {
            Ok(()) => true,
            Err(e) => {
                self.error(serde_json::json!({"event": "queue_send_failed", "error": e}));
                false
            }
        }
    }

    fn random_id(&self) -> String {
        clock::random(12)
    }

    async fn over_limit(&self, bucket: Bucket, client: &str, now: i64) -> Option<u32> {
        super::ratelimit::over_limit(bucket, client, now).await
    }

    async fn signature_valid(&self, key: &VerifyingKey, input: &[u8], signature: &[u8]) -> bool {
        signer::signature_valid(key, input, signature, self.config.sign_with_webcrypto).await
    }
}

impl Attempts for EdgePlatform<'_> {
    async fn attempt(&self, d: &Delivery) -> Outcome {
        delivery::attempt_all(self.config, self, std::slice::from_ref(d)).await.remove(0)
    }

    async fn after(&self, next: &Next) -> Result<(), String> {
        delivery::after(self.store, self, next).await
    }
}

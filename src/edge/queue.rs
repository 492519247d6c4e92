//! The queue binding: a send (one message, with a delay), `sendBatch` (within the queue's
//! limits, [`budget::send_batches`]), and the consumer's side of a batch: each message's body
//! and age handed to the protocol, then acked or retried as it says
//! ([`crate::protocol::consumer::consume`], [`crate::protocol::backchannel::dead_letter::consume`]).

use js_sys::{Function, Promise, Reflect, JSON};
use serde_json::json;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Message, MessageBatch, MessageBuilder, MessageExt, Queue, QueueRetryOptionsBuilder};

use super::clock;
use crate::budget;
use crate::protocol::backchannel::retry::{Received, Settle};

const NO_BINDING: &str = "no BACKCHANNEL_QUEUE binding";

/// Sends `body` (JSON) to run after `delay_s`.
pub async fn send(queue: Option<&Queue>, body: String, delay_s: u32) -> Result<(), String> {
    let queue = queue.ok_or(NO_BINDING)?;
    queue.send(MessageBuilder::new(body).delay_seconds(delay_s).build()).await.map_err(|e| e.to_string())
}

/// Sends every body (JSON) as a message: one service call per `sendBatch`, each within the
/// queue's count and byte limits.
pub async fn send_all(queue: Option<&Queue>, bodies: &[String]) -> Result<(), String> {
    let queue = queue.ok_or(NO_BINDING)?;
    let sizes: Vec<usize> = bodies.iter().map(String::len).collect();
    for batch in budget::send_batches(&sizes) {
        send_batch(queue, &bodies[batch]).await.map_err(|e| format!("{e:?}"))?;
    }
    Ok(())
}

/// `queue.sendBatch` with the whole batch built by one `JSON.parse`: worker's `send_batch`
/// crosses into JS about seven times per message (an object, three properties, serde for each
/// value), this once per batch of up to 100.
async fn send_batch(queue: &Queue, messages: &[String]) -> Result<(), JsValue> {
    #[derive(serde::Serialize)]
    struct SendRequest<'a> {
        body: &'a str,
        #[serde(rename = "contentType")]
        content_type: &'static str,
    }
    let batch: Vec<SendRequest> = messages.iter().map(|m| SendRequest { body: m, content_type: "json" }).collect();
    let batch = JSON::parse(&serde_json::to_string(&batch).expect("a batch serialises"))?;
    let binding: &JsValue = queue.as_ref();
    let send: Function = Reflect::get(binding, &"sendBatch".into())?.dyn_into()?;
    JsFuture::from(Promise::from(send.call1(binding, &batch)?)).await?;
    Ok(())
}

/// The messages of a batch whose body the runtime could read (the others are logged).
pub fn messages(batch: &MessageBatch<String>) -> Vec<Message<String>> {
    batch
        .iter()
        .filter_map(|m| {
            m.map_err(|e| clock::error(&json!({"event": "queue_bad_message", "error": e.to_string()}))).ok()
        })
        .collect()
}

/// What the protocol reads of each message: its body, and how long ago it was first sent (the
/// queue keeps the send time across retries; worker 0.8 gives no attempt count).
pub fn received(messages: &[Message<String>]) -> Vec<Received<'_>> {
    let now = clock::now_ms();
    messages
        .iter()
        .map(|m| Received { body: m.body(), age_s: (now.saturating_sub(m.timestamp().as_millis()) / 1000) as i64 })
        .collect()
}

/// Acks each message, or has it delivered again after its delay (developers.cloudflare.com/
/// queues/configuration/batching-retries/, "Delay on retry"). A message without a settle
/// (none should be) comes again: the runtime would ack it otherwise.
pub fn settle(messages: &[Message<String>], settled: &[Settle]) {
    let again = Settle::RetryIn(crate::protocol::backchannel::retry::CONSUMER_RETRY_MIN_S);
    for (i, message) in messages.iter().enumerate() {
        match settled.get(i).unwrap_or(&again) {
            Settle::Ack => message.ack(),
            Settle::RetryIn(delay) => {
                message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(*delay).build())
            }
        }
    }
}

//! Back-channel delivery on the platform: mint a fresh token, have post.js sign and POST it with
//! a timeout, queue what failed for a retry, and consume the queue. The decisions (who, what, whether to
//! retry, when) are [`crate::protocol::backchannel`]'s.

use std::cell::RefCell;
use std::collections::HashSet;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use futures::future::join_all;
use js_sys::{Function, Promise, Reflect, JSON};
use serde::{Deserialize, Serialize};
use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::{Date, Message, MessageBatch, MessageBuilder, MessageExt, Queue, QueueRetryOptionsBuilder};

use super::signer;
use super::KvStores;
use crate::budget;
use crate::config::Config;
use crate::keys::VerifyingKey;
use crate::ports::{Handoff, Platform};
use crate::protocol::backchannel::dead_letter;
use crate::protocol::backchannel::queued::{self, Sender};
use crate::protocol::backchannel::retry::{self, Answer, Next, Outcome};
use crate::protocol::backchannel::token;
use crate::protocol::consumer::{self, Verdict};
use crate::protocol::logout;
use crate::state::deliveries::{Delivery, QueueMessage};
use crate::state::outbox;
use crate::state::secrets::random_token;

pub fn now() -> i64 {
    (Date::now().as_millis() / 1000) as i64
}

/// One structured record per attempt: never a token, key or cookie. Records are gathered and
/// written with the request's own, in one console call (see [`EdgePlatform::flush_log`]).
fn log_attempt(log: &RefCell<Vec<serde_json::Value>>, d: &Delivery, outcome: &Outcome, ms: u64) {
    let (result, error) = match outcome {
        Outcome::Delivered => ("delivered", None),
        Outcome::Retry { error, .. } => ("retry", Some(error.as_str())),
        Outcome::Final { error } => ("final_failure", Some(error.as_str())),
    };
    log.borrow_mut()
        .push(json!({"event": "backchannel_attempt", "delivery": d.id, "client_id": d.client_id, "attempt": d.attempt,
               "result": result, "error": error, "ms": ms}));
}

#[wasm_bindgen(module = "/src/edge/post.js")]
extern "C" {
    /// Signs and POSTs a batch of deliveries (see post.js): JSON in, JSON out.
    #[wasm_bindgen(js_name = signAndPost, catch)]
    async fn sign_and_post(batch: &str) -> Result<JsValue, JsValue>;
}

thread_local! {
    /// The kids whose JWKs post.js has in this isolate: a key crosses into JS once.
    static HANDED_OVER: RefCell<HashSet<String>> = RefCell::new(HashSet::new());
}

/// One delivery for post.js: its token's signing input (minted here) and where it goes.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Job<'a> {
    uri: &'a str,
    kid: &'a str,
    alg: &'static str,
    input: String,
    content_type: &'static str,
    body_prefix: &'static str,
    /// Only with `SIGNER=wasm`: signed here, so post.js only POSTs.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<String>,
}

/// What post.js did with one job: `{"kind": "answer", "status": .., "retryAfter": .., "ms": ..}`
/// and so on, read through [`PostedWire`].
#[derive(Deserialize)]
#[serde(try_from = "PostedWire")]
enum Posted {
    Answer {
        status: u16,
        retry_after: Option<String>,
        ms: u64,
    },
    Timeout {
        ms: u64,
    },
    Network {
        error: String,
        ms: u64,
    },
    /// Not signed (WebCrypto failed, or the key is unusable): fail closed, try again later.
    Unsigned {
        error: String,
        ms: u64,
    },
    /// The key's JWK was not handed over (this isolate's post.js lost it): sent again next time.
    Nokey {
        ms: u64,
    },
    /// The URI cannot make a request: not worth another attempt.
    Invalid {
        error: String,
        ms: u64,
    },
    /// No connection came free before the deadline: not sent, queued for a retry.
    Unsent {
        ms: u64,
    },
}

/// [`Posted`] as post.js writes it, every member of every kind flat: read in one pass. (serde
/// reads an internally tagged enum by buffering it whole in its private `Content`, one copy of
/// that code per type: wasm size.)
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PostedWire {
    kind: String,
    status: Option<u16>,
    retry_after: Option<String>,
    error: Option<String>,
    ms: u64,
}

impl TryFrom<PostedWire> for Posted {
    type Error = String;

    fn try_from(w: PostedWire) -> Result<Self, String> {
        let PostedWire { kind, status, retry_after, error, ms } = w;
        let text = || error.clone().ok_or_else(|| format!("{kind}: missing field `error`"));
        Ok(match kind.as_str() {
            "answer" => Posted::Answer { status: status.ok_or("answer: missing field `status`")?, retry_after, ms },
            "timeout" => Posted::Timeout { ms },
            "network" => Posted::Network { error: text()?, ms },
            "unsigned" => Posted::Unsigned { error: text()?, ms },
            "nokey" => Posted::Nokey { ms },
            "invalid" => Posted::Invalid { error: text()?, ms },
            "unsent" => Posted::Unsent { ms },
            other => return Err(format!("unknown kind {other:?}")),
        })
    }
}

impl Posted {
    /// `rotated`: the token was signed by a key that just started signing (a 400 is retried once).
    fn outcome(self, rotated: bool) -> (Outcome, u64) {
        let now = now();
        match self {
            Posted::Answer { status, retry_after, ms } => {
                (retry::judge_signed(&Answer::Status { status, retry_after }, now, rotated), ms)
            }
            Posted::Timeout { ms } => (retry::judge(&Answer::TimedOut, now), ms),
            Posted::Network { error, ms } => (retry::judge(&Answer::NetworkError(error), now), ms),
            Posted::Unsigned { error, ms } => (Outcome::Retry { error, after_s: None }, ms),
            Posted::Nokey { ms } => {
                (Outcome::Retry { error: "the signing key was not loaded".into(), after_s: None }, ms)
            }
            Posted::Invalid { error, ms } => (Outcome::Final { error }, ms),
            Posted::Unsent { ms } => {
                (Outcome::Retry { error: "no connection free before the deadline".into(), after_s: None }, ms)
            }
        }
    }
}

/// Attempts every delivery of `ds`, each with a fresh token (new `jti`, `iat`, `exp`), POSTed
/// without following redirects; one outcome per delivery, in order. The tokens are minted here
/// and signed and sent by post.js in one call, at most [`budget::CONNECTIONS`] POSTs open at
/// once (the caller has nothing else in flight meanwhile), each given up after the timeout timed
/// from its own send, and all within the deadline.
pub async fn attempt_all(config: &Config, log: &RefCell<Vec<serde_json::Value>>, ds: &[Delivery]) -> Vec<Outcome> {
    let mut outcomes: Vec<Option<(Outcome, u64)>> = ds.iter().map(|_| None).collect();
    let mut jobs = Vec::new();
    let mut job_of = Vec::new();
    let mut keys = serde_json::Map::new();
    for (i, d) in ds.iter().enumerate() {
        let Some(key) = config.keys.signer_at(d.alg, now()) else {
            outcomes[i] = Some((Outcome::Final { error: format!("no signing key for {}", d.alg) }, 0));
            continue;
        };
        let claims = token::claims(d, &config.issuer, now(), config.backchannel.token_ttl_s, &random_token(16));
        let input = token::signing_input(&key.kid, d.alg, token::typ(d), &claims);
        let signature = if config.sign_with_webcrypto {
            if !HANDED_OVER.with(|h| h.borrow().contains(&key.kid)) && !keys.contains_key(&key.kid) {
                keys.insert(
                    key.kid.clone(),
                    json!({"private": key.private_jwk(), "public": key.public().public_jwk()}),
                );
            }
            None
        } else {
            match signer::sign_in_wasm(key, input.as_bytes()) {
                Ok(signature) => Some(B64.encode(signature)),
                Err(error) => {
                    outcomes[i] = Some((Outcome::Retry { error, after_s: None }, 0));
                    continue;
                }
            }
        };
        let (content_type, body_prefix) = token::envelope(d);
        jobs.push(Job { uri: &d.uri, kid: &key.kid, alg: d.alg.name(), input, content_type, body_prefix, signature });
        job_of.push((i, retry::rotated_recently(d.attempt, key.sign_from, now())));
    }
    if !jobs.is_empty() {
        let b = &config.backchannel;
        let batch = json!({"jobs": jobs, "keys": keys, "timeoutMs": b.timeout_ms.min(b.deadline_ms),
                           "deadlineMs": b.deadline_ms, "connections": budget::CONNECTIONS})
        .to_string();
        let posted: Vec<Posted> = match sign_and_post(&batch).await {
            Ok(answer) => answer.as_string().and_then(|a| serde_json::from_str(&a).ok()).unwrap_or_default(),
            Err(e) => {
                let error = e.as_string().unwrap_or_else(|| "an exception".into());
                worker::console_error!(
                    "{}",
                    json!({"event": "post_helper_failed", "error": error.chars().take(200).collect::<String>()})
                );
                Vec::new()
            }
        };
        let mut answered_kids = HashSet::new();
        let mut posted = posted.into_iter();
        for (job, (i, rotated)) in jobs.iter().zip(job_of) {
            let p = posted.next();
            if p.as_ref().is_some_and(|p| !matches!(p, Posted::Nokey { .. })) {
                answered_kids.insert(job.kid.to_string());
            }
            outcomes[i] = Some(p.map_or_else(
                || (Outcome::Retry { error: "the delivery helper gave no answer".into(), after_s: None }, 0),
                |p| p.outcome(rotated),
            ));
        }
        if config.sign_with_webcrypto {
            HANDED_OVER.with(|h| h.borrow_mut().extend(answered_kids));
        }
    }
    ds.iter()
        .zip(outcomes)
        .map(|(d, o)| {
            let (outcome, ms) = o.expect("every delivery has an outcome");
            log_attempt(log, d, &outcome, ms);
            outcome
        })
        .collect()
}

/// Tells the relying parties: the first `inline_max` deliveries now, in parallel, the rest
/// through the queue at once; failures are recorded and queued for a retry.
pub struct EdgePlatform<'a> {
    pub config: &'a Config,
    pub store: &'a KvStores,
    pub queue: Option<Queue>,
    /// Log records of this invocation, written together by [`EdgePlatform::flush_log`].
    pub log: RefCell<Vec<serde_json::Value>>,
}

impl EdgePlatform<'_> {
    /// Writes one JSON object in one console call, so that Workers Logs indexes its fields:
    /// `last` (the request's record) with the gathered records under `attempts`, or, without
    /// one (a queue batch, a cron tick), an object of `event` `batch` holding them.
    pub fn flush_log(&self, last: Option<serde_json::Value>) {
        let records = self.log.take();
        let line = match last {
            Some(mut line) => {
                if !records.is_empty() {
                    line["attempts"] = records.into();
                }
                line
            }
            None if records.is_empty() => return,
            None => json!({ "event": "batch", "records": records }),
        };
        worker::console_log!("{line}");
    }

    /// Records a failed delivery, tells the sweep, and queues its retry (or dead-letters it). An
    /// error only when nothing durable was written: then the caller keeps the delivery.
    async fn after(&self, next: &Next) -> Result<(), String> {
        let now = now();
        let recorded = retry::record(self.store, next, now).await.map_err(|e| e.to_string())?;
        match next {
            Next::RetryIn { delay_s, .. } => {
                // The message is the record's delivery (stamped with its issue).
                let delivery = &recorded.delivery;
                // Recorded: should the send fail, or the queue lose the message, the sweep
                // re-queues it from the record once told to look.
                self.tell_the_sweep(now).await;
                let sent = match self.queue.as_ref() {
                    Some(queue) => {
                        let message = MessageBuilder::new(message_of(delivery)).delay_seconds(*delay_s).build();
                        queue.send(message).await.map_err(|e| e.to_string())
                    }
                    None => Err("no BACKCHANNEL_QUEUE binding".into()),
                };
                if let Err(e) = sent {
                    self.log_error(json!({"event": "backchannel_queue_failed", "delivery": delivery.id, "error": e}));
                }
                Ok(())
            }
            // The record is what the admin API lists. Not sent to the dead-letter queue: what
            // lands there is what the consumer failed on, and is sent again.
            Next::Dead(_) => Ok(()),
        }
    }

    /// Hands deliveries to the queue, each recorded first ([`queued::hand_to_queue`]); those
    /// it could not record come back (the caller keeps them in the outbox).
    async fn queue_now(&self, deliveries: Vec<Delivery>) -> Vec<Delivery> {
        let now = now();
        let handed = queued::hand_to_queue(self.store, self, deliveries, now, || random_token(12)).await;
        if let Some(e) = handed.send_failed {
            // Recorded: the sweep sends them again once told to look.
            self.log_error(json!({"event": "backchannel_queue_failed", "deliveries": handed.recorded, "error": e}));
            self.tell_the_sweep(now).await;
        }
        if !handed.unsent.is_empty() {
            self.log_error(json!({"event": "backchannel_record_failed", "deliveries": handed.unsent.len()}));
        }
        handed.unsent
    }

    /// Writes the sweep's marker ([`outbox::mark_due`]) at most once a minute per isolate: a
    /// burst of failures would otherwise write one key many times a second, past KV's one
    /// write per second per key. A failed write is only logged: the record is what counts, and
    /// the next failure (or the hourly look) tells the sweep.
    async fn tell_the_sweep(&self, now: i64) {
        thread_local! {
            static LAST_MARKED: std::cell::Cell<i64> = const { std::cell::Cell::new(i64::MIN) };
        }
        if LAST_MARKED.with(|m| now.saturating_sub(m.get()) < 60) {
            return;
        }
        LAST_MARKED.with(|m| m.set(now));
        if !outbox::mark_due(self.store, now).await {
            self.log_error(json!({"event": "sweep_mark_failed"}));
        }
    }

    fn log_error(&self, line: serde_json::Value) {
        worker::console_error!("{line}");
    }
}

impl Platform for EdgePlatform<'_> {
    async fn over_limit(&self, bucket: crate::http::ratelimit::Bucket, client: &str, now: i64) -> Option<u32> {
        super::ratelimit::over_limit(bucket, client, now).await
    }

    async fn signature_valid(&self, key: &VerifyingKey, input: &[u8], signature: &[u8]) -> bool {
        signer::signature_valid(key, input, signature, self.config.sign_with_webcrypto).await
    }

    fn random_id(&self) -> String {
        random_token(12)
    }

    async fn enqueue(&self, message: &QueueMessage, delay_s: u32) -> bool {
        let Some(queue) = self.queue.as_ref() else { return false };
        let body = serde_json::to_string(message).expect("a queue message serialises");
        match queue.send(MessageBuilder::new(body).delay_seconds(delay_s).build()).await {
            Ok(()) => true,
            Err(e) => {
                self.log_error(json!({"event": "queue_send_failed", "error": e.to_string()}));
                false
            }
        }
    }

    async fn deliver(&self, mut deliveries: Vec<Delivery>, inline_max: usize) -> Handoff {
        let overflow = deliveries.split_off(deliveries.len().min(inline_max));
        let mut handoff = Handoff::default();
        if !overflow.is_empty() {
            let n = overflow.len();
            let unsent = self.queue_now(overflow).await;
            handoff.summary.queued += n - unsent.len();
            handoff.summary.pending += unsent.len();
            handoff.unsent.extend(unsent);
        }
        let outcomes = attempt_all(self.config, &self.log, &deliveries).await;
        for (d, outcome) in deliveries.into_iter().zip(&outcomes) {
            let Some(next) = retry::after_failure(&self.config.backchannel, &d, outcome, random_token(12)) else {
                handoff.summary.delivered += 1;
                continue;
            };
            match self.after(&next).await {
                Ok(()) => match next {
                    Next::RetryIn { .. } => handoff.summary.queued += 1,
                    Next::Dead(_) => handoff.summary.dead += 1,
                },
                Err(e) => {
                    self.log_error(json!({"event": "backchannel_record_failed", "delivery": d.id, "error": e}));
                    handoff.summary.pending += 1;
                    handoff.unsent.push(d);
                }
            }
        }
        handoff
    }
}

impl consumer::Attempts for EdgePlatform<'_> {
    async fn attempt(&self, d: &Delivery) -> Outcome {
        attempt_all(self.config, &self.log, std::slice::from_ref(d)).await.remove(0)
    }

    async fn after(&self, next: &Next) -> Result<(), String> {
        EdgePlatform::after(self, next).await
    }
}

impl Sender for EdgePlatform<'_> {
    async fn send_all(&self, deliveries: &[Delivery]) -> Result<(), String> {
        let queue = self.queue.as_ref().ok_or("no BACKCHANNEL_QUEUE binding")?;
        // One service call per sendBatch, each within the queue's count and byte limits.
        let messages: Vec<String> = deliveries.iter().map(message_of).collect();
        let sizes: Vec<usize> = messages.iter().map(String::len).collect();
        for batch in budget::send_batches(&sizes) {
            send_batch(queue, &messages[batch]).await.map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    }
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

/// A queue message: the delivery as a JSON string (one string crosses into the runtime far
/// cheaper than an object built field by field).
fn message_of(d: &Delivery) -> String {
    serde_json::to_string(d).expect("a delivery serialises")
}

/// The queue consumer: each message handled by [`consumer::handle`] (which runs here, which
/// are passed on, and what each does: the policy, tested on the host); acked, or retried with
/// the runtime's delay when nothing durable was written.
pub async fn consume(batch: MessageBatch<String>, config: &Config, platform: &EdgePlatform<'_>) {
    let mut messages = Vec::new();
    for message in batch.iter() {
        match message {
            Ok(m) => messages.push(m),
            Err(e) => worker::console_error!("{}", json!({"event": "queue_bad_message", "error": e.to_string()})),
        }
    }
    let mut parsed = Vec::new();
    let mut ours = Vec::new();
    for m in &messages {
        match serde_json::from_str::<QueueMessage>(m.body()) {
            Ok(p) => {
                parsed.push(p);
                ours.push(m);
            }
            Err(_) => {
                // Not a message of ours, and never will be: logged and dropped.
                worker::console_error!("{}", json!({"event": "queue_bad_message"}));
                m.ack();
            }
        }
    }
    let fits = consumer::fits(&parsed);
    let work = ours.into_iter().zip(&parsed).zip(fits).map(|((message, parsed), fits)| async move {
        match consumer::handle(config, platform.store, platform, parsed, fits, now(), || random_token(12)).await {
            Verdict::Ack => message.ack(),
            Verdict::Retry(error) => {
                let id = match parsed {
                    QueueMessage::Deliver(d) => d.id.as_str(),
                    QueueMessage::Recheck(r) => r.logout_id.as_str(),
                    QueueMessage::Expand(e) => e.logout_id.as_str(),
                };
                worker::console_error!("{}", json!({"event": "consumer_retry", "id": id, "error": error}));
                retry_later(message)
            }
        }
    });
    join_all(work).await;
}

/// Has the queue deliver `message` again, after [`retry::consumer_retry_delay`]: the consumer
/// failed on it (a KV or queue call did), and an outage of minutes must not use up the queue's
/// retries (developers.cloudflare.com/queues/configuration/batching-retries/, "Delay on retry").
fn retry_later(message: &Message<String>) {
    let age_s = (Date::now().as_millis().saturating_sub(message.timestamp().as_millis()) / 1000) as i64;
    let delay = retry::consumer_retry_delay(age_s);
    message.retry_with_options(&QueueRetryOptionsBuilder::new().with_delay_seconds(delay).build());
}

/// The dead-letter queue's consumer: each message handled by
/// [`dead_letter::handle`] (the policy, tested on the host), acked once what it decided is
/// durable, retried with a growing delay until then.
pub async fn consume_dead_letters(batch: MessageBatch<String>, platform: &EdgePlatform<'_>) {
    let messages: Vec<Message<String>> = batch.iter().filter_map(|m| m.ok()).collect();
    let work = messages.iter().map(|message| async move {
        let Ok(parsed) = serde_json::from_str::<QueueMessage>(message.body()) else {
            worker::console_error!("{}", json!({"event": "queue_bad_message", "queue": "dead-letter"}));
            return message.ack();
        };
        let id = match &parsed {
            QueueMessage::Deliver(d) => d.id.clone(),
            QueueMessage::Recheck(r) => r.logout_id.clone(),
            QueueMessage::Expand(e) => e.logout_id.clone(),
        };
        let handled = dead_letter::handle(platform.store, platform, parsed, now(), || random_token(12)).await;
        platform.log.borrow_mut().push(json!({"event": "dead_lettered", "id": id, "decision": handled.name()}));
        if handled.ack() {
            message.ack()
        } else {
            retry_later(message)
        }
    });
    join_all(work).await;
}

/// The subrequests (KV and queue calls) one cron tick may make.
// The free plan's budget of subrequests to Cloudflare services (KV and queue calls) per
// invocation: fetches are not what a tick spends.
const SWEEP_BUDGET: usize = budget::FREE_SERVICE_SUBREQUESTS;

/// The cron trigger: [`logout::sweep`], at `at` (unix seconds), within what is left of the
/// tick's budget once `spent` service calls were made (the expiry step's, `edge::expiry`).
pub async fn sweep(platform: &EdgePlatform<'_>, at: i64, spent: usize) {
    let grace = platform.config.backchannel.sweep_grace_s;
    let budget = SWEEP_BUDGET.saturating_sub(spent);
    match logout::sweep(platform.store, platform, at, grace, budget, || random_token(12)).await {
        Ok(swept) if swept.looked => {
            platform.log.borrow_mut().push(json!({"event": "sweep", "requeued": swept.requeued,
            "outbox_resent": swept.resent, "subrequests": swept.spent, "complete": swept.complete}))
        }
        Ok(_) => {}
        Err(e) => worker::console_error!("{}", json!({"event": "sweep", "error": e.0})),
    }
}

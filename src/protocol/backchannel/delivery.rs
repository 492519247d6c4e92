//! The delivery policy, free of the platform: how a batch of deliveries becomes one call to the
//! runtime's signer-and-POSTer ([`Batch`]: which key signs each token, which keys cross into
//! JS, the timeout, the deadline and the connection limit), what each answer means ([`Posted`]:
//! a status, `Retry-After`, a timeout, a key that just started signing), what is logged of each
//! attempt ([`attempt_record`]), and what comes after ([`deliver`]): the first `inline_max`
//! attempted now, the rest handed to the queue with their records, a failure recorded and then
//! queued for a retry (or dead), the sweep told. The runtime (`edge/`) only makes the crossings
//! a [`Courier`] names.

use std::cell::Cell;
use std::collections::HashSet;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::budget;
use crate::config::Config;
use crate::keys::SigningKey;
use crate::ports::{Handoff, Log, Store};
use crate::protocol::backchannel::queued::{self, Sender};
use crate::protocol::backchannel::retry::{self, Answer, Next, Outcome};
use crate::protocol::backchannel::token;
use crate::state::deliveries::Delivery;
use crate::state::outbox;

/// What the runtime does for deliveries, each a crossing into JS (or none).
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Courier: Sender + Log {
    /// post.js's `signAndPost`: JSON of a [`Batch`] in, JSON of one [`Posted`] per job out, in
    /// order; an error when the helper threw.
    async fn sign_and_post(&self, batch: &str) -> Result<String, String>;
    /// Whether this isolate's post.js holds the JWK of `kid` already.
    fn holds_key(&self, kid: &str) -> bool;
    /// These kids' JWKs reached post.js (a job signed with each was answered).
    fn now_holds(&self, kids: HashSet<String>);
    /// The signature by the Rust signer (`SIGNER=wasm` only).
    fn sign_here(&self, key: &SigningKey, input: &[u8]) -> Result<Vec<u8>, String>;
    /// Sends `d`'s retry to the queue, to run after `delay_s`.
    async fn send_retry(&self, d: &Delivery, delay_s: u32) -> Result<(), String>;
    /// This isolate's [`Marker`].
    fn marker(&self) -> &Marker;
    /// Unix time in seconds, read when asked (a POST takes time).
    fn now(&self) -> i64;
    /// A fresh random URL-safe string of `bytes` random bytes (a `jti`, a nonce).
    fn random(&self, bytes: usize) -> String;
}

/// One delivery for post.js: its token's signing input (minted here) and where it goes.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job<'a> {
    pub uri: &'a str,
    pub kid: &'a str,
    pub alg: &'static str,
    pub input: String,
    pub content_type: &'static str,
    pub body_prefix: &'static str,
    /// Only with `SIGNER=wasm`: signed here, so post.js only POSTs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// One call to post.js (src/edge/post.js documents the same fields).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Batch<'a> {
    pub jobs: Vec<Job<'a>>,
    /// The JWKs (`{private, public}`) of kids this isolate's post.js does not hold yet, each once.
    pub keys: Map<String, Value>,
    /// Each POST's, timed from its own send; never longer than the deadline.
    pub timeout_ms: u32,
    /// The whole batch's, from the call.
    pub deadline_ms: u32,
    /// At most this many POSTs open at once: the platform's limit of open connections.
    pub connections: usize,
}

/// What post.js did with one job: `{"kind": "answer", "status": .., "retryAfter": .., "ms": ..}`
/// and so on, read through [`PostedWire`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "PostedWire")]
pub enum Posted {
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
    /// What the answer means at `now`, and how long the attempt took. `rotated`: the token was
    /// signed by a key that just started signing ([`retry::rotated_recently`]: a 400 is
    /// retried once).
    pub fn outcome(self, now: i64, rotated: bool) -> (Outcome, u64) {
        let retry = |error: &str| Outcome::Retry { error: error.into(), after_s: None };
        match self {
            Posted::Answer { status, retry_after, ms } => {
                (retry::judge_signed(&Answer::Status { status, retry_after }, now, rotated), ms)
            }
            Posted::Timeout { ms } => (retry::judge(&Answer::TimedOut, now), ms),
            Posted::Network { error, ms } => (retry::judge(&Answer::NetworkError(error), now), ms),
            Posted::Unsigned { error, ms } => (Outcome::Retry { error, after_s: None }, ms),
            Posted::Nokey { ms } => (retry("the signing key was not loaded"), ms),
            Posted::Invalid { error, ms } => (Outcome::Final { error }, ms),
            Posted::Unsent { ms } => (retry("no connection free before the deadline"), ms),
        }
    }
}

/// Where each delivery of a batch stands before post.js answers.
#[derive(Debug)]
enum Slot {
    /// Settled without a POST (no key, or the Rust signer failed).
    Settled(Outcome),
    /// Its job is in the batch (in order); `rotated` for [`Posted::outcome`].
    Sent { rotated: bool },
}

/// A batch for post.js and, per delivery, what is known before it answers.
#[derive(Debug)]
pub struct Prepared<'a> {
    pub batch: Batch<'a>,
    slots: Vec<Slot>,
}

/// Mints each delivery's token at `now` (a fresh `jti`, `iat` and `exp`) for the key that signs
/// its algorithm now, in order. A key's JWKs go with the batch only when post.js does not hold
/// them yet, once per batch. Without a key for its algorithm, a delivery fails for good (no
/// token could ever be signed); when the Rust signer fails, it is retried.
pub fn prepare<'a>(config: &'a Config, ds: &'a [Delivery], now: i64, courier: &impl Courier) -> Prepared<'a> {
    let b = &config.backchannel;
    let mut batch = Batch {
        jobs: Vec::new(),
        keys: Map::new(),
        timeout_ms: b.timeout_ms.min(b.deadline_ms),
        deadline_ms: b.deadline_ms,
        connections: budget::CONNECTIONS,
    };
    let mut slots = Vec::with_capacity(ds.len());
    for d in ds {
        let Some(key) = config.keys.signer_at(d.alg, now) else {
            slots.push(Slot::Settled(Outcome::Final { error: format!("no signing key for {}", d.alg) }));
            continue;
        };
        let claims = token::claims(d, &config.issuer, now, b.token_ttl_s, &courier.random(16));
        let input = token::signing_input(&key.kid, d.alg, token::typ(d), &claims);
        let signature = if config.sign_with_webcrypto {
            if !courier.holds_key(&key.kid) && !batch.keys.contains_key(&key.kid) {
                let jwks = json!({"private": key.private_jwk(), "public": key.public().public_jwk()});
                batch.keys.insert(key.kid.clone(), jwks);
            }
            None
        } else {
            match courier.sign_here(key, input.as_bytes()) {
                Ok(signature) => Some(B64.encode(signature)),
                Err(error) => {
                    slots.push(Slot::Settled(Outcome::Retry { error, after_s: None }));
                    continue;
                }
            }
        };
        let (content_type, body_prefix) = token::envelope(d);
        batch.jobs.push(Job {
            uri: &d.uri,
            kid: &key.kid,
            alg: d.alg.name(),
            input,
            content_type,
            body_prefix,
            signature,
        });
        slots.push(Slot::Sent { rotated: retry::rotated_recently(d.attempt, key.sign_from, now) });
    }
    Prepared { batch, slots }
}

impl Prepared<'_> {
    /// One outcome (and how long it took) per delivery, in order, from post.js's answers read
    /// at `now`: a job without an answer is retried, never taken as delivered. Also the kids
    /// post.js now holds: those of jobs it answered otherwise than "no key".
    pub fn settle(self, posted: Vec<Posted>, now: i64) -> (Vec<(Outcome, u64)>, HashSet<String>) {
        let mut held = HashSet::new();
        let mut jobs = self.batch.jobs.iter();
        let mut posted = posted.into_iter();
        let outcomes = self
            .slots
            .into_iter()
            .map(|slot| match slot {
                Slot::Settled(outcome) => (outcome, 0),
                Slot::Sent { rotated } => {
                    let job = jobs.next().expect("a job per sent slot");
                    match posted.next() {
                        Some(p) => {
                            if !matches!(p, Posted::Nokey { .. }) {
                                held.insert(job.kid.to_string());
                            }
                            p.outcome(now, rotated)
                        }
                        None => {
                            (Outcome::Retry { error: "the delivery helper gave no answer".into(), after_s: None }, 0)
                        }
                    }
                }
            })
            .collect();
        (outcomes, held)
    }
}

/// The log record of one attempt: never a token, key or cookie.
pub fn attempt_record(d: &Delivery, outcome: &Outcome, ms: u64) -> Value {
    let (result, error) = match outcome {
        Outcome::Delivered => ("delivered", None),
        Outcome::Retry { error, .. } => ("retry", Some(error.as_str())),
        Outcome::Final { error } => ("final_failure", Some(error.as_str())),
    };
    json!({"event": "backchannel_attempt", "delivery": d.id, "client_id": d.client_id, "attempt": d.attempt,
           "result": result, "error": error, "ms": ms})
}

/// Attempts every delivery of `ds`, each with a fresh token, in one call to post.js (at most
/// [`budget::CONNECTIONS`] POSTs open at once, each given up after the timeout timed from its
/// own send, all within the deadline); one outcome per delivery, in order, each logged.
pub async fn attempt_all(config: &Config, courier: &impl Courier, ds: &[Delivery]) -> Vec<Outcome> {
    let prepared = prepare(config, ds, courier.now(), courier);
    let posted = if prepared.batch.jobs.is_empty() {
        Vec::new()
    } else {
        let batch = serde_json::to_string(&prepared.batch).expect("a batch serialises");
        match courier.sign_and_post(&batch).await {
            // Unreadable: every job unanswered, so retried.
            Ok(answer) => serde_json::from_str(&answer).unwrap_or_default(),
            Err(error) => {
                let error: String = error.chars().take(200).collect();
                courier.error(json!({"event": "post_helper_failed", "error": error}));
                Vec::new()
            }
        }
    };
    let (outcomes, held) = prepared.settle(posted, courier.now());
    if config.sign_with_webcrypto {
        courier.now_holds(held);
    }
    ds.iter()
        .zip(outcomes)
        .map(|(d, (outcome, ms))| {
            courier.record(attempt_record(d, &outcome, ms));
            outcome
        })
        .collect()
}

/// Tells the relying parties: the first `inline_max` deliveries now, in parallel, the rest
/// handed to the queue first (each recorded before its message is sent); a failed attempt is
/// recorded and queued for a retry (or recorded dead). What could not be made durable comes
/// back in [`Handoff::unsent`], for the caller's outbox.
pub async fn deliver(
    config: &Config,
    store: &impl Store,
    courier: &impl Courier,
    mut deliveries: Vec<Delivery>,
    inline_max: usize,
) -> Handoff {
    let overflow = deliveries.split_off(deliveries.len().min(inline_max));
    let mut handoff = Handoff::default();
    if !overflow.is_empty() {
        let n = overflow.len();
        let unsent = queue_now(store, courier, overflow).await;
        handoff.summary.queued += n - unsent.len();
        handoff.summary.pending += unsent.len();
        handoff.unsent.extend(unsent);
    }
    let outcomes = attempt_all(config, courier, &deliveries).await;
    for (d, outcome) in deliveries.into_iter().zip(&outcomes) {
        let Some(next) = retry::after_failure(&config.backchannel, &d, outcome, courier.random(12)) else {
            handoff.summary.delivered += 1;
            continue;
        };
        match after(store, courier, &next).await {
            Ok(()) => match next {
                Next::RetryIn { .. } => handoff.summary.queued += 1,
                Next::Dead(_) => handoff.summary.dead += 1,
            },
            Err(e) => {
                courier.error(json!({"event": "backchannel_record_failed", "delivery": d.id, "error": e}));
                handoff.summary.pending += 1;
                handoff.unsent.push(d);
            }
        }
    }
    handoff
}

/// Records a failed delivery, tells the sweep, and queues its retry (or records it dead). An
/// error only when nothing durable was written: then the caller keeps the delivery.
pub async fn after(store: &impl Store, courier: &impl Courier, next: &Next) -> Result<(), String> {
    let now = courier.now();
    let recorded = retry::record(store, next, now).await.map_err(|e| e.to_string())?;
    match next {
        Next::RetryIn { delay_s, .. } => {
            // The message is the record's delivery (stamped with its issue). Recorded: should
            // the send fail, or the queue lose the message, the sweep re-queues it from the
            // record once told to look.
            let delivery = &recorded.delivery;
            tell_the_sweep(store, courier, now).await;
            if let Err(e) = courier.send_retry(delivery, *delay_s).await {
                courier.error(json!({"event": "backchannel_queue_failed", "delivery": delivery.id, "error": e}));
            }
            Ok(())
        }
        // The record is what the admin API lists. Not sent to the dead-letter queue: what lands
        // there is what the consumer failed on, and is sent again.
        Next::Dead(_) => Ok(()),
    }
}

/// Hands deliveries to the queue, each recorded first ([`queued::hand_to_queue`]); those it
/// could not record come back (the caller keeps them in the outbox).
async fn queue_now(store: &impl Store, courier: &impl Courier, deliveries: Vec<Delivery>) -> Vec<Delivery> {
    let now = courier.now();
    let handed = queued::hand_to_queue(store, courier, deliveries, now, || courier.random(12)).await;
    if let Some(e) = handed.send_failed {
        // Recorded: the sweep sends them again once told to look.
        courier.error(json!({"event": "backchannel_queue_failed", "deliveries": handed.recorded, "error": e}));
        tell_the_sweep(store, courier, now).await;
    }
    if !handed.unsent.is_empty() {
        courier.error(json!({"event": "backchannel_record_failed", "deliveries": handed.unsent.len()}));
    }
    handed.unsent
}

/// Writes the sweep's marker ([`outbox::mark_due`]) when this isolate's [`Marker`] lets it. A
/// failed write is only logged: the record is what counts, and the next failure (or the hourly
/// look) tells the sweep.
async fn tell_the_sweep(store: &impl Store, courier: &impl Courier, now: i64) {
    if courier.marker().due(now) && !outbox::mark_due(store, now).await {
        courier.error(json!({"event": "sweep_mark_failed"}));
    }
}

/// How often one isolate writes the sweep's marker at most: a burst of failures would otherwise
/// write one key many times a second, past KV's one write per second per key
/// (developers.cloudflare.com/kv/platform/limits/).
pub const MARK_EVERY_S: i64 = 60;

/// When this isolate last wrote the sweep's marker.
#[derive(Debug)]
pub struct Marker(Cell<i64>);

impl Marker {
    pub const fn new() -> Self {
        Marker(Cell::new(i64::MIN))
    }

    /// Whether to write the marker at `now` (then counted as written): at most once every
    /// [`MARK_EVERY_S`].
    pub fn due(&self, now: i64) -> bool {
        if now.saturating_sub(self.0.get()) < MARK_EVERY_S {
            return false;
        }
        self.0.set(now);
        true
    }
}

impl Default for Marker {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use futures::executor::block_on;

    use super::*;
    use crate::protocol::backchannel::event::LogoutEvent;
    use crate::protocol::backchannel::plan;
    use crate::state::deliveries::{self, DeliveryStatus};
    use crate::state::memory::MemoryStore;
    use crate::testing::fixtures::{clients, ids, session};
    use crate::testing::stores::FailingWrites;
    use crate::testing::{self, NOW};

    /// A runtime that answers each job by its URI (`answer`), and keeps what it was asked.
    struct Fake {
        answer: fn(&str) -> Value,
        helper_down: bool,
        batches: RefCell<Vec<Value>>,
        held: RefCell<HashSet<String>>,
        sent: RefCell<Vec<Delivery>>,
        retries: RefCell<Vec<(Delivery, u32)>>,
        records: RefCell<Vec<Value>>,
        errors: RefCell<Vec<Value>>,
        marker: Marker,
        n: Cell<u32>,
    }

    fn fake(answer: fn(&str) -> Value) -> Fake {
        Fake {
            answer,
            helper_down: false,
            batches: RefCell::default(),
            held: RefCell::default(),
            sent: RefCell::default(),
            retries: RefCell::default(),
            records: RefCell::default(),
            errors: RefCell::default(),
            marker: Marker::new(),
            n: Cell::new(0),
        }
    }

    impl Log for Fake {
        fn record(&self, line: Value) {
            self.records.borrow_mut().push(line);
        }
        fn error(&self, line: Value) {
            self.errors.borrow_mut().push(line);
        }
    }

    impl Sender for Fake {
        async fn send_all(&self, deliveries: &[Delivery]) -> Result<(), String> {
            self.sent.borrow_mut().extend_from_slice(deliveries);
            Ok(())
        }
    }

    impl Courier for Fake {
        async fn sign_and_post(&self, batch: &str) -> Result<String, String> {
            if self.helper_down {
                return Err("TypeError: fetch is not a function".into());
            }
            let batch: Value = serde_json::from_str(batch).unwrap();
            let answers: Vec<Value> =
                batch["jobs"].as_array().unwrap().iter().map(|j| (self.answer)(j["uri"].as_str().unwrap())).collect();
            self.batches.borrow_mut().push(batch);
            Ok(Value::from(answers).to_string())
        }
        fn holds_key(&self, kid: &str) -> bool {
            self.held.borrow().contains(kid)
        }
        fn now_holds(&self, kids: HashSet<String>) {
            self.held.borrow_mut().extend(kids);
        }
        fn sign_here(&self, key: &SigningKey, input: &[u8]) -> Result<Vec<u8>, String> {
            Ok(key.sign_bytes(input))
        }
        async fn send_retry(&self, d: &Delivery, delay_s: u32) -> Result<(), String> {
            self.retries.borrow_mut().push((d.clone(), delay_s));
            Ok(())
        }
        fn marker(&self) -> &Marker {
            &self.marker
        }
        fn now(&self) -> i64 {
            NOW
        }
        fn random(&self, _bytes: usize) -> String {
            self.n.set(self.n.get() + 1);
            format!("r{}", self.n.get())
        }
    }

    /// rp1 answers 204, rp2 503 with `Retry-After: 120`.
    fn rp2_down(uri: &str) -> Value {
        match uri.contains("rp2") {
            true => json!({"kind": "answer", "status": 503, "retryAfter": "120", "ms": 7}),
            false => json!({"kind": "answer", "status": 204, "retryAfter": null, "ms": 5}),
        }
    }

    /// rp1 and rp2's deliveries for one session (RS256 and ES256).
    fn two() -> Vec<Delivery> {
        plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1", "rp2"])]), &clients(), ids())
    }

    #[test]
    fn each_answer_of_post_js_means_what_the_retry_policy_says() {
        let read = |j: Value| serde_json::from_value::<Posted>(j).unwrap().outcome(NOW, false);
        assert_eq!(
            read(json!({"kind": "answer", "status": 204, "retryAfter": null, "ms": 3})),
            (Outcome::Delivered, 3)
        );
        assert_eq!(
            read(json!({"kind": "answer", "status": 503, "retryAfter": "30", "ms": 3})).0,
            Outcome::Retry { error: "HTTP 503".into(), after_s: Some(30) }
        );
        assert_eq!(
            read(json!({"kind": "answer", "status": 400, "ms": 3})).0,
            Outcome::Final { error: "HTTP 400".into() }
        );
        assert_eq!(
            read(json!({"kind": "timeout", "ms": 2500})).0,
            Outcome::Retry { error: "timed out".into(), after_s: None }
        );
        assert!(matches!(read(json!({"kind": "network", "error": "refused", "ms": 1})).0, Outcome::Retry { .. }));
        assert!(matches!(read(json!({"kind": "unsigned", "error": "x", "ms": 1})).0, Outcome::Retry { .. }));
        assert!(matches!(read(json!({"kind": "nokey", "ms": 0})).0, Outcome::Retry { .. }));
        assert!(matches!(read(json!({"kind": "unsent", "ms": 0})).0, Outcome::Retry { .. }));
        assert_eq!(read(json!({"kind": "invalid", "error": "bad", "ms": 0})).0, Outcome::Final { error: "bad".into() });
        // A 400 to a key that just started signing: once more, after a minute.
        let p: Posted = serde_json::from_value(json!({"kind": "answer", "status": 400, "ms": 3})).unwrap();
        assert!(matches!(p.outcome(NOW, true).0, Outcome::Retry { after_s: Some(retry::ROTATION_RETRY_DELAY_S), .. }));
    }

    #[test]
    fn a_batch_carries_what_post_js_reads_and_each_key_once_until_post_js_holds_it() {
        let mut settings = testing::settings();
        settings.insert("BACKCHANNEL_TIMEOUT_MS", "9000".into());
        settings.insert("BACKCHANNEL_DEADLINE_MS", "4000".into());
        let config = testing::load(&settings).unwrap();
        // Two deliveries signed by one key: its JWKs go once.
        let ds = plan::plan(
            &LogoutEvent::Sessions(vec![session("s1", &["rp1"]), session("s2", &["rp1"])]),
            &clients(),
            ids(),
        );
        let courier = fake(rp2_down);
        let batch = serde_json::to_value(&prepare(&config, &ds, NOW, &courier).batch).unwrap();
        assert_eq!(batch["jobs"].as_array().unwrap().len(), 2);
        assert_eq!(batch["keys"].as_object().unwrap().keys().collect::<Vec<_>>(), ["test-rs256"]);
        assert!(batch["keys"]["test-rs256"]["private"]["d"].is_string(), "the private JWK");
        assert!(batch["keys"]["test-rs256"]["public"].get("d").is_none(), "the public one");
        // The timeout never outlasts the deadline; the connections are the platform's six.
        assert_eq!((batch["timeoutMs"].as_u64(), batch["deadlineMs"].as_u64()), (Some(4000), Some(4000)));
        assert_eq!(batch["connections"], budget::CONNECTIONS);
        let job = &batch["jobs"][0];
        assert_eq!(
            (job["uri"].as_str(), job["kid"].as_str(), job["alg"].as_str()),
            (Some("https://rp1/bc"), Some("test-rs256"), Some("RS256"))
        );
        assert_eq!(job["contentType"], "application/x-www-form-urlencoded");
        assert_eq!(job["bodyPrefix"], "logout_token=");
        assert!(job.get("signature").is_none(), "WebCrypto signs");
        // Each token is fresh: its own jti.
        assert_ne!(batch["jobs"][0]["input"], batch["jobs"][1]["input"]);
        // Once post.js holds the key, it does not cross again.
        courier.now_holds(["test-rs256".to_string()].into());
        assert!(prepare(&config, &ds, NOW, &courier).batch.keys.is_empty());
    }

    #[test]
    fn with_the_rust_signer_the_batch_carries_signatures_and_no_key() {
        let mut settings = testing::settings();
        settings.insert("SIGNER", "wasm".into());
        let config = testing::load(&settings).unwrap();
        let ds = two();
        let prepared = prepare(&config, &ds, NOW, &fake(rp2_down));
        assert!(prepared.batch.keys.is_empty(), "no private key crosses");
        for job in &prepared.batch.jobs {
            let signature = B64.decode(job.signature.as_ref().expect("signed here")).unwrap();
            let key = config.keys.signer_at(crate::keys::Alg::parse(job.alg).unwrap(), NOW).unwrap();
            assert!(key.public().signature_valid(job.input.as_bytes(), &signature));
        }
    }

    #[test]
    fn a_job_post_js_did_not_answer_is_retried_and_its_key_not_taken_as_held() {
        let config = testing::config();
        let ds = two();
        let courier = fake(rp2_down);
        let prepared = prepare(config, &ds, NOW, &courier);
        // One answer for two jobs, and that one "no key".
        let (outcomes, held) = prepared.settle(vec![Posted::Nokey { ms: 1 }], NOW);
        assert!(held.is_empty(), "a key post.js said it lacks is sent again");
        assert!(matches!(&outcomes[0].0, Outcome::Retry { error, .. } if error.contains("not loaded")));
        assert!(matches!(&outcomes[1].0, Outcome::Retry { error, .. } if error.contains("no answer")));
        // The helper threw: both retried, the failure logged, no key taken as held.
        let down = Fake { helper_down: true, ..fake(rp2_down) };
        let outcomes = block_on(attempt_all(config, &down, &ds));
        assert!(outcomes.iter().all(|o| matches!(o, Outcome::Retry { .. })), "{outcomes:?}");
        assert_eq!(down.errors.borrow()[0]["event"], "post_helper_failed");
        assert!(down.held.borrow().is_empty());
    }

    #[test]
    fn every_attempt_is_logged_without_its_token() {
        let courier = fake(rp2_down);
        let ds = two();
        let outcomes = block_on(attempt_all(testing::config(), &courier, &ds));
        assert_eq!(outcomes[0], Outcome::Delivered);
        assert_eq!(outcomes[1], Outcome::Retry { error: "HTTP 503".into(), after_s: Some(120) });
        let records = courier.records.borrow();
        assert_eq!(records.len(), 2);
        assert_eq!(
            records[1],
            json!({"event": "backchannel_attempt", "delivery": ds[1].id, "client_id": "rp2",
            "attempt": 1, "result": "retry", "error": "HTTP 503", "ms": 7})
        );
        let input = courier.batches.borrow()[0]["jobs"][0]["input"].as_str().unwrap().to_string();
        assert!(!records.iter().any(|r| r.to_string().contains(&input[..20])), "no token in the log");
        // Both keys answered: held from now on.
        assert_eq!(*courier.held.borrow(), ["test-rs256".to_string(), "test-es256".to_string()].into());
    }

    #[test]
    fn the_first_inline_max_are_attempted_the_rest_queued_recorded_and_failures_retried() {
        block_on(async {
            let store = MemoryStore::new(NOW);
            let courier = fake(rp2_down);
            let mut ds = plan::plan(
                &LogoutEvent::Sessions(vec![session("s1", &["rp1", "rp2"]), session("s2", &["rp1"])]),
                &clients(),
                ids(),
            );
            // s1's rp1 and rp2 inline, s2's rp1 queued.
            ds.sort_by_key(|d| (d.sid.clone(), d.client_id.clone()));
            assert_eq!(ds.iter().map(|d| d.client_id.as_str()).collect::<Vec<_>>(), ["rp1", "rp2", "rp1"]);
            let handoff = deliver(testing::config(), &store, &courier, ds.clone(), 2).await;
            // rp1 delivered, rp2 failed and queued for a retry, the third queued unattempted.
            assert_eq!((handoff.summary.delivered, handoff.summary.queued, handoff.summary.dead), (1, 2, 0));
            assert!(handoff.unsent.is_empty());
            assert_eq!(courier.batches.borrow()[0]["jobs"].as_array().unwrap().len(), 2, "inline_max attempted");
            let sent = courier.sent.borrow().clone();
            assert_eq!(sent.len(), 1);
            assert_eq!(sent[0].id, ds[2].id);
            let queued = deliveries::pending(&store, &ds[2].id).await.unwrap().unwrap();
            assert_eq!(queued.status, DeliveryStatus::Queued, "recorded before it was sent");
            let (retry, delay) = courier.retries.borrow()[0].clone();
            assert_eq!((retry.id.as_str(), retry.attempt, delay), (ds[1].id.as_str(), 2, 120));
            let failed = deliveries::pending(&store, &ds[1].id).await.unwrap().unwrap();
            assert_eq!(
                (failed.status, &failed.delivery),
                (DeliveryStatus::Failed, &retry),
                "the message is the record's"
            );
            assert!(outbox::due(&store).await.unwrap(), "the sweep is told");
        });
    }

    #[test]
    fn a_failure_that_cannot_be_recorded_stays_with_the_caller() {
        block_on(async {
            let mem = MemoryStore::new(NOW);
            let store = FailingWrites::new(&mem, 0);
            let courier = fake(rp2_down);
            let handoff = deliver(testing::config(), &store, &courier, two(), 6).await;
            assert_eq!((handoff.summary.delivered, handoff.summary.pending), (1, 1));
            assert_eq!(handoff.unsent.len(), 1);
            assert_eq!(handoff.unsent[0].client_id, "rp2");
            assert_eq!(handoff.unsent[0].attempt, 1, "kept as it was, for the outbox");
            assert!(courier.retries.borrow().is_empty(), "nothing queued without its record");
            assert_eq!(courier.errors.borrow()[0]["event"], "backchannel_record_failed");
        });
    }

    #[test]
    fn a_final_answer_is_recorded_dead_and_not_queued() {
        block_on(async {
            let store = MemoryStore::new(NOW);
            let courier = fake(|_| json!({"kind": "answer", "status": 404, "ms": 1}));
            let ds = two();
            let handoff = deliver(testing::config(), &store, &courier, ds.clone(), 6).await;
            assert_eq!((handoff.summary.delivered, handoff.summary.dead, handoff.summary.queued), (0, 2, 0));
            assert!(courier.retries.borrow().is_empty());
            let dead = deliveries::load(&store, DeliveryStatus::Dead, &ds[0].id).await.unwrap().unwrap();
            assert_eq!(dead.delivery.last_error.as_deref(), Some("HTTP 404"));
            assert!(!outbox::due(&store).await.unwrap(), "nothing for the sweep");
        });
    }

    #[test]
    fn the_sweep_is_told_at_most_once_a_minute_per_isolate() {
        let marker = Marker::new();
        assert!(marker.due(NOW));
        assert!(!marker.due(NOW), "a burst writes the key once");
        assert!(!marker.due(NOW + MARK_EVERY_S - 1));
        assert!(marker.due(NOW + MARK_EVERY_S));
        block_on(async {
            let store = MemoryStore::new(NOW);
            let courier = fake(|_| json!({"kind": "timeout", "ms": 2500}));
            deliver(testing::config(), &store, &courier, two(), 6).await;
            assert_eq!(courier.retries.borrow().len(), 2);
            // Two failures, one marker write: the two records and the marker.
            assert_eq!(store.take_counts().writes, 3);
        });
    }
}

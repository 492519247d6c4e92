//! The one home of test fixtures, for unit tests, property tests and the fuzz targets (feature
//! `test-support`): one clock ([`NOW`]), one key set, one configuration, one recording platform,
//! an app to call, a seeded store, and ID token minting.

mod crossings;
pub mod eventual;
pub mod fixtures;
pub mod stores;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::app;
use crate::config::Config;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::keys::{generate, Alg, KeySet};
use crate::ports::{Ctx, Handoff, Platform, Store, Summary};
use crate::state::clients::Client;
use crate::state::deliveries::{Delivery, QueueMessage, Recheck};
use crate::state::memory::MemoryStore;
use crate::state::secrets::hash_secret;
use crate::state::sessions::{self, Session};

pub const ISSUER: &str = "https://id.example.com";
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";
/// The clock of every host test, in unix seconds.
pub const NOW: i64 = 1_800_000_000;
/// The browser cookie of the seeded session `sid-1` of `alice`: `b64url("sid-1")`, then its secret.
pub const COOKIE: &str = "c2lkLTE.cookie-of-alice-0123456789abcdefghijklmnopq";

/// One private JWKS with a key per algorithm (kids `test-rs256`, `test-es256`, `test-eddsa`),
/// generated once per process.
pub fn jwks() -> &'static str {
    static JWKS: OnceLock<String> = OnceLock::new();
    JWKS.get_or_init(|| {
        let keys: Vec<Value> =
            Alg::ALL.iter().map(|a| generate::private_jwk(*a, &format!("test-{}", a.name().to_lowercase()))).collect();
        json!({ "keys": keys }).to_string()
    })
}

/// The key set of [`jwks`].
pub fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| KeySet::parse(jwks(), None).expect("the test keys parse"))
}

/// The settings of the test configuration, to change before [`load`].
pub fn settings() -> HashMap<&'static str, String> {
    HashMap::from([
        ("ISSUER", ISSUER.to_string()),
        ("SIGNING_JWKS", jwks().to_string()),
        ("ADMIN_TOKEN", ADMIN_TOKEN.to_string()),
    ])
}

pub fn load(settings: &HashMap<&'static str, String>) -> Result<Config, crate::config::ConfigError> {
    Config::from_lookup(|name| settings.get(name).cloned())
}

/// The test configuration, made once.
pub fn config() -> &'static Config {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    CONFIG.get_or_init(|| load(&settings()).expect("the test configuration is valid"))
}

/// The one test platform: sends nothing, records every delivery handed to it (as delivered
/// inline or queued), how many it could make inline, and every queue message; ids are
/// numbered; signatures are checked in Rust. With `queue_down` set, queue sends fail: what
/// does not go inline comes back unsent, and `enqueue` answers false.
#[derive(Default)]
pub struct Recorder {
    pub handed: RefCell<Vec<Delivery>>,
    pub inline_max: RefCell<Vec<usize>>,
    pub enqueued: RefCell<Vec<(QueueMessage, u32)>>,
    pub queue_down: Cell<bool>,
    ids: Cell<u32>,
    /// This platform's own rate limits (the in-isolate fallback's counters, per test).
    pub limiter: crate::http::ratelimit::LocalLimiter,
}

impl Recorder {
    /// The expansions queued so far.
    pub fn expansions(&self) -> Vec<crate::state::deliveries::Expansion> {
        self.enqueued
            .borrow()
            .iter()
            .filter_map(|(m, _)| match m {
                QueueMessage::Expand(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }

    /// The re-checks queued so far, one per logout.
    pub fn rechecks(&self) -> Vec<Recheck> {
        self.enqueued
            .borrow()
            .iter()
            .filter_map(|(m, _)| match m {
                QueueMessage::Recheck(r) => Some(r.clone()),
                QueueMessage::Deliver(_) | QueueMessage::Expand(_) => None,
            })
            .collect()
    }
}

impl Platform for Recorder {
    async fn deliver(&self, deliveries: Vec<Delivery>, inline_max: usize) -> Handoff {
        self.inline_max.borrow_mut().push(inline_max);
        let inline = deliveries.len().min(inline_max);
        let mut handoff = Handoff { summary: Summary { delivered: inline, ..Summary::default() }, unsent: Vec::new() };
        for (i, d) in deliveries.into_iter().enumerate() {
            if i >= inline && self.queue_down.get() {
                handoff.unsent.push(d);
                continue;
            }
            if i >= inline {
                handoff.summary.queued += 1;
            }
            self.handed.borrow_mut().push(d);
        }
        handoff
    }

    async fn enqueue(&self, message: &QueueMessage, delay_s: u32) -> bool {
        if self.queue_down.get() {
            return false;
        }
        self.enqueued.borrow_mut().push((message.clone(), delay_s));
        true
    }

    fn random_id(&self) -> String {
        self.ids.set(self.ids.get() + 1);
        format!("L{}", self.ids.get())
    }

    async fn over_limit(&self, bucket: crate::http::ratelimit::Bucket, client: &str, now: i64) -> Option<u32> {
        self.limiter.hit(bucket, client, now)
    }
}

/// The service with an in-memory store, a [`Recorder`] and a clock.
pub struct TestApp {
    pub config: Config,
    pub store: MemoryStore,
    pub notified: Recorder,
    pub now: i64,
}

impl TestApp {
    pub async fn call(&self, req: HttpRequest) -> HttpResponse {
        self.store.now.set(self.now);
        // Subrequests are counted per request, as the worker's store does.
        self.store.ops.set(0);
        let ctx = Ctx { config: &self.config, store: &self.store, platform: &self.notified, now: self.now };
        app::handle(&ctx, &req).await
    }
}

/// Runs `f` with a fresh app configured by `settings`.
pub fn with_settings<F, Fut>(settings: HashMap<&'static str, String>, f: F)
where
    F: FnOnce(&'static TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    let config = load(&settings).expect("the test settings are valid");
    // Leaked so that the async test body may borrow it for as long as it likes.
    let app: &'static TestApp =
        Box::leak(Box::new(TestApp { config, store: MemoryStore::new(NOW), notified: Recorder::default(), now: NOW }));
    futures::executor::block_on(f(app));
}

/// Runs `f` with a fresh app of the test configuration.
pub fn with_app<F, Fut>(f: F)
where
    F: FnOnce(&'static TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    with_settings(settings(), f)
}

/// A request for `path_and_query` (raw), without headers or body.
pub fn request(method: Method, path_and_query: &str) -> HttpRequest {
    let (path, query) = match path_and_query.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path_and_query.to_string(), None),
    };
    HttpRequest { method, path, query, headers: vec![], body: vec![] }
}

/// An admin API request with the test token, and `body` as JSON when given.
pub fn admin_request(method: Method, path: &str, body: Option<Value>) -> HttpRequest {
    let mut r = request(method, path);
    r.headers.push(("authorization".into(), format!("Bearer {ADMIN_TOKEN}")));
    if let Some(b) = body {
        r.headers.push(("content-type".into(), "application/json".into()));
        r.body = serde_json::to_vec(&b).expect("JSON serialises");
    }
    r
}

/// A store with clients `rp1` and `rp2` and the session `sid-1` of `alice` (cookie [`COOKIE`]).
pub fn seeded_store() -> MemoryStore {
    let store = MemoryStore::new(NOW);
    futures::executor::block_on(async {
        for id in ["rp1", "rp2"] {
            let body = json!({
                "redirect_uris": [format!("https://{id}.example/cb")],
                "post_logout_redirect_uris": [format!("https://{id}.example/bye"), format!("https://{id}.example/q?x=1")],
                "backchannel_logout_uri": format!("https://{id}.example/bc"),
                "frontchannel_logout_uri": format!("https://{id}.example/fc"),
            });
            let client = Client::from_registration(id, body.to_string().as_bytes(), config().uri_policy, &Alg::ALL)
                .expect("valid metadata");
            crate::state::clients::save(&store, &client).await.unwrap();
        }
        let session = Session {
            sid: "sid-1".into(),
            sub: "alice".into(),
            clients: vec!["rp1".into(), "rp2".into()],
            created_at: NOW,
            expires_at: NOW + 3600,
            cookie_hash: hash_secret(COOKIE.split_once('.').expect("sid.secret").1),
            logout_hints: Vec::new(),
        };
        sessions::save(&store, &session, true).await.unwrap();
    });
    store
}

/// An ID token for `claims` signed by `keys`' `alg` key, issued `age` seconds before [`NOW`]
/// and valid for an hour from then. Every helper signs with [`KeySet::signer`]'s key for the
/// algorithm (the last one listed), so the same algorithm always means the same key.
pub fn id_token_with(keys: &KeySet, alg: Alg, claims: Value, age: i64) -> String {
    let at = |ts: i64| chrono::DateTime::from_timestamp(ts, 0).expect("a valid time");
    let mut c = jwt_compact::Claims::new(claims);
    c.issued_at = Some(at(NOW - age));
    c.expiration = Some(at(NOW - age + 3600));
    keys.signer(alg).expect("a key per algorithm").sign(None, &c)
}

/// An ID token for `claims` signed by the test keys' `alg` key, issued a minute ago.
pub fn id_token(alg: Alg, claims: Value) -> String {
    id_token_with(keys(), alg, claims, 60)
}

/// Handles one request with the test configuration and a seeded or empty store.
pub fn call(store: &MemoryStore, req: &HttpRequest) -> HttpResponse {
    store.now.set(NOW);
    store.ops.set(0);
    let ctx = Ctx { config: config(), store, platform: &Recorder::default(), now: NOW };
    futures::executor::block_on(app::handle(&ctx, req))
}

/// Handles one request with the test configuration, against any store and at any time.
pub fn call_with<S: Store>(store: &S, platform: &Recorder, now: i64, req: &HttpRequest) -> HttpResponse {
    let ctx = Ctx { config: config(), store, platform, now };
    futures::executor::block_on(app::handle(&ctx, req))
}

/// Handles one request with `config`, against any store and at any time, as a future (to run
/// several at once).
pub async fn handle<S: Store>(
    config: &Config,
    store: &S,
    platform: &Recorder,
    now: i64,
    req: &HttpRequest,
) -> HttpResponse {
    let ctx = Ctx { config, store, platform, now };
    app::handle(&ctx, req).await
}

/// A [`Recorder`] that hands what does not go inline to the queue as the worker does
/// ([`crate::protocol::backchannel::queued::hand_to_queue`]: a `queued` record in `store`, then
/// the message), so that a test counts the KV writes and queue calls of queued deliveries.
/// Inline deliveries succeed. `send_calls` counts `sendBatch` calls (one per 100 messages or
/// 256 KB, as the worker sends them) and `enqueue` calls alike: every queue subrequest.
pub struct Queueing<'a, S> {
    pub store: &'a S,
    pub inner: Recorder,
    pub now: Cell<i64>,
    pub send_calls: Cell<usize>,
}

impl<'a, S: Store> Queueing<'a, S> {
    pub fn new(store: &'a S, now: i64) -> Self {
        Queueing { store, inner: Recorder::default(), now: Cell::new(now), send_calls: Cell::new(0) }
    }

    /// The queued delivery messages sent so far.
    pub fn queued(&self) -> Vec<Delivery> {
        self.inner
            .enqueued
            .borrow()
            .iter()
            .filter_map(|(m, _)| match m {
                QueueMessage::Deliver(d) => Some(d.clone()),
                _ => None,
            })
            .collect()
    }
}

impl<S: Store> crate::protocol::backchannel::queued::Sender for Queueing<'_, S> {
    async fn send_all(&self, deliveries: &[Delivery]) -> Result<(), String> {
        if self.inner.queue_down.get() {
            return Err("queue down".into());
        }
        let sizes: Vec<usize> = deliveries.iter().map(|d| serde_json::to_string(d).map_or(0, |s| s.len())).collect();
        self.send_calls.set(self.send_calls.get() + crate::budget::send_batches(&sizes).len());
        let mut enqueued = self.inner.enqueued.borrow_mut();
        enqueued.extend(deliveries.iter().map(|d| (QueueMessage::Deliver(d.clone()), 0)));
        Ok(())
    }
}

impl<S: Store> Platform for Queueing<'_, S> {
    async fn deliver(&self, mut deliveries: Vec<Delivery>, inline_max: usize) -> Handoff {
        self.inner.inline_max.borrow_mut().push(inline_max);
        let overflow = deliveries.split_off(deliveries.len().min(inline_max));
        let mut handoff =
            Handoff { summary: Summary { delivered: deliveries.len(), ..Summary::default() }, unsent: Vec::new() };
        self.inner.handed.borrow_mut().extend(deliveries);
        if !overflow.is_empty() {
            let n = overflow.len();
            let q =
                crate::protocol::backchannel::queued::hand_to_queue(self.store, self, overflow, self.now.get(), || {
                    self.inner.random_id()
                })
                .await;
            handoff.summary.queued += n - q.unsent.len();
            handoff.summary.pending += q.unsent.len();
            handoff.unsent = q.unsent;
        }
        handoff
    }

    async fn enqueue(&self, message: &QueueMessage, delay_s: u32) -> bool {
        if self.inner.queue_down.get() {
            return false;
        }
        self.send_calls.set(self.send_calls.get() + 1);
        self.inner.enqueued.borrow_mut().push((message.clone(), delay_s));
        true
    }

    fn random_id(&self) -> String {
        self.inner.random_id()
    }
}

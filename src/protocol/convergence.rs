//! What the local runtime cannot show, on the host: a logout converges under KV's eventual
//! consistency (every relying party recorded anywhere gets a token, the session ends
//! everywhere, a late recording is refused or told), concurrent recordings are all kept, and
//! nothing is lost when a queue send or a KV write fails.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::http::form::encode_component as enc;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::keys::Alg;
use crate::ports::Store;
use crate::protocol::logout::{self, RECHECK_DELAYS_S};
use crate::state::deliveries::QueueMessage;
use crate::state::memory::MemoryStore;
use crate::state::outbox;
use crate::state::sessions::{self, Lookup, Session};
use crate::state::store::Ns;
use crate::testing::eventual::{Delays, Outage, World};
use crate::testing::stores::{FailingWrites, Yielding};
use crate::testing::{admin_request, call_with, handle, id_token, request, Recorder, ISSUER, NOW};

const SID: &str = "sid-x";
const CLIENTS: [&str; 6] = ["rp1", "rp2", "rp3", "rp4", "rp5", "rp6"];

fn client_body(id: &str) -> Value {
    json!({
        "redirect_uris": [format!("https://{id}.example/cb")],
        "post_logout_redirect_uris": [format!("https://{id}.example/bye")],
        "backchannel_logout_uri": format!("https://{id}.example/bc"),
    })
}

fn json_of(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap_or(Value::Null)
}

/// Registers every client and creates the session `sid-x` of alice with `rp1`, at `store`;
/// returns the browser cookie.
fn seed(store: &impl Store, platform: &Recorder, now: i64) -> String {
    for id in CLIENTS {
        let r = call_with(
            store,
            platform,
            now,
            &admin_request(Method::Put, &format!("/admin/clients/{id}"), Some(client_body(id))),
        );
        assert!(r.status < 300, "{}", String::from_utf8_lossy(&r.body));
    }
    let body = json!({"sub": "alice", "sid": SID, "clients": ["rp1"], "expires_in": 86400});
    let r = call_with(store, platform, now, &admin_request(Method::Post, "/admin/sessions", Some(body)));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    json_of(&r)["cookie"].as_str().unwrap().to_string()
}

fn record(client: &str) -> HttpRequest {
    admin_request(Method::Put, &format!("/admin/sessions/{SID}/clients/{client}"), None)
}

/// The user's own logout from rp1: a verified hint for `sid-x`, the browser's cookie.
fn rp_logout(cookie: &str) -> HttpRequest {
    let hint = id_token(Alg::RS256, json!({"iss": ISSUER, "sub": "alice", "sid": SID, "aud": "rp1"}));
    let q = format!("id_token_hint={}&post_logout_redirect_uri={}", enc(&hint), enc("https://rp1.example/bye"));
    let mut r = request(Method::Get, &format!("/session/end?{q}"));
    r.headers.push(("cookie".into(), format!("op_session={cookie}")));
    r
}

/// The clients that got at least one token for `sid-x`.
fn told(platform: &Recorder) -> Vec<String> {
    let mut ids: Vec<String> = platform
        .handed
        .borrow()
        .iter()
        .filter(|d| d.sid.as_deref() == Some(SID))
        .map(|d| d.client_id.clone())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// Runs every queued look when it is due, each at the location `where_` picks, until none
/// is left.
fn run_rechecks(
    world: &World,
    platform: &Recorder,
    mut pending: Vec<(i64, QueueMessage)>,
    where_: &dyn Fn(u32) -> usize,
) {
    let mut seen = platform.enqueued.borrow().len();
    while !pending.is_empty() {
        pending.sort_by_key(|(at, _)| *at);
        let (at, message) = pending.remove(0);
        world.set_now(world.now().max(at));
        match message {
            QueueMessage::Recheck(check) => {
                let store = world.at(where_(check.round));
                futures::executor::block_on(logout::recheck(&store, platform, &check, None, world.now())).unwrap();
            }
            QueueMessage::Expand(e) => {
                let store = world.at(where_(1));
                futures::executor::block_on(logout::expand(&store, platform, &e, world.now())).unwrap();
            }
            QueueMessage::Deliver(_) => continue,
        }
        let enqueued = platform.enqueued.borrow();
        pending.extend(enqueued[seen..].iter().map(|(m, delay)| (world.now() + i64::from(*delay), m.clone())));
        seen = enqueued.len();
    }
}

/// How one end-session (or admin) request ends the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The browser's cookie and a hint naming its session: no question asked.
    CookieAndHint,
    /// The browser's cookie and a hint without `sid`: asked, then "yes".
    CookieAndHintWithoutSid,
    /// The browser's cookie alone: asked, then "yes".
    CookieOnly,
    /// A hint naming the session, no cookie (a cross-site POST): asked if seen, then "yes".
    HintOnly,
    /// `DELETE /admin/sessions/{sid}`.
    Admin,
    /// `DELETE /admin/sessions?sub=alice`.
    AdminUser,
}

const KINDS: [Kind; 6] = [
    Kind::CookieAndHint,
    Kind::CookieAndHintWithoutSid,
    Kind::CookieOnly,
    Kind::HintOnly,
    Kind::Admin,
    Kind::AdminUser,
];

/// One world and what happens in it, times in seconds from [`NOW`]: the browser's session is
/// created at `created`, clients are recorded by the login system (as the example's does: the
/// client, or on 404 the session with the client) anywhere at any time, and the session ends
/// at `logout`. The queue delays each look by up to 30 s more, runs some twice, anywhere.
#[derive(Debug, Clone)]
struct Scenario {
    max_delay_s: i64,
    cache_ttl_s: i64,
    seed: u64,
    created: (usize, i64),
    recordings: Vec<(usize, usize, i64)>,
    kind: Kind,
    logout: (usize, i64),
    /// Per queue message, in order: its extra delay, whether it comes twice, where it runs.
    queue: Vec<(i64, bool, usize)>,
    /// KV outages: (location or all, from, length), times from the logout.
    outages: Vec<(Option<usize>, i64, i64)>,
    /// `BACKCHANNEL_INLINE_MAX`: below the clients' number, the logout's request tells some and
    /// the consumer expands the rest (the fan-out).
    inline_max: usize,
}

/// The test configuration with `BACKCHANNEL_INLINE_MAX` = `n` (0, 2 or the default 12).
fn config_inline(n: usize) -> &'static crate::config::Config {
    use std::sync::OnceLock;
    static C0: OnceLock<crate::config::Config> = OnceLock::new();
    static C2: OnceLock<crate::config::Config> = OnceLock::new();
    let cell = match n {
        0 => &C0,
        2 => &C2,
        _ => return crate::testing::config(),
    };
    cell.get_or_init(|| {
        let mut settings = crate::testing::settings();
        settings.insert("BACKCHANNEL_INLINE_MAX", n.to_string());
        crate::testing::load(&settings).unwrap()
    })
}

const LOCATIONS: usize = 3;
const QUEUE_JITTER_S: i64 = 30;

fn scenario(with_outages: bool) -> impl Strategy<Value = Scenario> {
    let outages = if with_outages {
        proptest::collection::vec((proptest::option::of(0..LOCATIONS), -5i64..600, 1i64..900), 1..3).boxed()
    } else {
        Just(Vec::new()).boxed()
    };
    (
        // Slow worlds are where logouts get lost: most are drawn near the assumed maximum.
        (prop_oneof![1 => 0i64..=150, 2 => 120i64..=150], prop_oneof![1 => 0i64..=60, 2 => Just(60i64)], any::<u64>()),
        (0..LOCATIONS, prop_oneof![1 => Just(-5000i64), 3 => -250i64..=0]),
        // Recording times from the logout: before it, or in the window after it.
        proptest::collection::vec((1..CLIENTS.len(), 0..LOCATIONS, prop_oneof![-400i64..=0, 0i64..=250]), 0..6),
        (proptest::sample::select(KINDS.to_vec()), 0..LOCATIONS, 0i64..=60),
        proptest::collection::vec((0..=QUEUE_JITTER_S, proptest::bool::weighted(0.2), 0..LOCATIONS), 8),
        outages,
        proptest::sample::select(vec![0usize, 2, 12]),
    )
        .prop_map(
            |((max_delay_s, cache_ttl_s, seed), created, recordings, (kind, l, t), queue, outages, inline_max)| {
                Scenario {
                    max_delay_s,
                    cache_ttl_s,
                    seed,
                    created,
                    recordings,
                    kind,
                    logout: (l, t),
                    queue,
                    outages,
                    inline_max,
                }
            },
        )
}

/// The simulation: the world, the platform, the queue and the clock.
struct Sim<'a> {
    world: World,
    platform: Recorder,
    s: &'a Scenario,
    /// When each delivery handed to the platform was handed (same order as `handed`).
    handed_at: Vec<i64>,
    /// Queue messages not yet run: (due, location, message, attempts).
    queue: Vec<(i64, usize, QueueMessage, u32)>,
    enqueued_seen: usize,
    sent: usize,
    cookie: Option<String>,
    recorded: Vec<String>,
    /// Recordings that failed (503): they may have taken effect or not.
    maybe: Vec<String>,
    /// When each recording that succeeded was made.
    recorded_at: Vec<i64>,
    /// When the request that ended the session ran, if one did.
    ended_at: Option<i64>,
    gone_by_window: Option<bool>,
}

impl Sim<'_> {
    fn call(&mut self, loc: usize, req: &HttpRequest) -> HttpResponse {
        let now = self.world.now();
        let config = config_inline(self.s.inline_max);
        let r = futures::executor::block_on(handle(config, &self.world.at(loc), &self.platform, now, req));
        self.collect();
        r
    }

    /// Stamps what the platform was handed, and queues what was sent to the queue.
    fn collect(&mut self) {
        let now = self.world.now();
        let handed = self.platform.handed.borrow().len();
        self.handed_at.resize(handed, now);
        let enqueued = self.platform.enqueued.borrow();
        for (m, delay) in &enqueued[self.enqueued_seen..] {
            let (jitter, twice, loc) = self.s.queue[self.sent % self.s.queue.len()];
            self.sent += 1;
            let due = now + i64::from(*delay) + jitter;
            self.queue.push((due, loc, m.clone(), 0));
            if twice {
                self.queue.push((due + 1, (loc + 1) % LOCATIONS, m.clone(), 0));
            }
        }
        self.enqueued_seen = enqueued.len();
    }

    /// The login system records a client as the example's does: the client, or on 404 the
    /// session with the client (KV may not show the session here yet).
    fn record(&mut self, client: &str, loc: usize) {
        let r = self.call(loc, &record(client));
        let status = if r.status == 404 {
            let body = json!({"sub": "alice", "sid": SID, "clients": [client], "expires_in": 86400});
            self.call(loc, &admin_request(Method::Post, "/admin/sessions", Some(body))).status
        } else {
            r.status
        };
        match status {
            200 | 201 => {
                self.recorded.push(client.to_string());
                self.recorded_at.push(self.world.now());
            }
            503 => self.maybe.push(client.to_string()),
            409 => {}
            other => panic!("recording {client}: {other}"),
        }
    }

    fn create(&mut self, loc: usize) {
        let body = json!({"sub": "alice", "sid": SID, "clients": ["rp1"], "expires_in": 86400});
        let r = self.call(loc, &admin_request(Method::Post, "/admin/sessions", Some(body)));
        if r.status == 201 || r.status == 200 {
            self.cookie = json_of(&r)["cookie"].as_str().map(str::to_string);
            self.recorded.push("rp1".into());
        } else {
            assert!(matches!(r.status, 409 | 503), "{}", String::from_utf8_lossy(&r.body));
            self.maybe.push("rp1".into());
        }
    }

    fn log_out(&mut self, kind: Kind, loc: usize) {
        let cookie = self.cookie.clone().map(|c| format!("op_session={c}"));
        let hint_sid = id_token(Alg::RS256, json!({"iss": ISSUER, "sub": "alice", "sid": SID, "aud": "rp1"}));
        let hint_no_sid = id_token(Alg::RS256, json!({"iss": ISSUER, "sub": "alice", "aud": "rp1"}));
        let end = |hint: Option<&str>, cookie: Option<&str>| {
            let q = match hint {
                Some(h) => {
                    format!("id_token_hint={}&post_logout_redirect_uri={}", enc(h), enc("https://rp1.example/bye"))
                }
                None => String::new(),
            };
            let mut r = request(Method::Get, &format!("/session/end?{q}"));
            if let Some(c) = cookie {
                r.headers.push(("cookie".into(), c.to_string()));
            }
            r
        };
        let r = match kind {
            Kind::CookieAndHint => self.call(loc, &end(Some(&hint_sid), cookie.as_deref())),
            Kind::CookieAndHintWithoutSid => self.answering(loc, end(Some(&hint_no_sid), cookie.as_deref()), &cookie),
            Kind::CookieOnly => self.answering(loc, end(None, cookie.as_deref()), &cookie),
            Kind::HintOnly => self.answering(loc, end(Some(&hint_sid), None), &None),
            Kind::Admin => self.call(loc, &admin_request(Method::Delete, &format!("/admin/sessions/{SID}"), None)),
            Kind::AdminUser => self.call(loc, &admin_request(Method::Delete, "/admin/sessions?sub=alice", None)),
        };
        let ended = match kind {
            Kind::Admin => r.status == 200 || r.status == 202,
            Kind::AdminUser => json_of(&r)["sessions_ended"].as_array().is_some_and(|a| a.contains(&json!(SID))),
            _ => r.header_all("set-cookie").any(|c| c.starts_with("op_session=;")),
        };
        if ended {
            self.ended_at = Some(self.world.now());
        }
    }

    /// An end-session request; if it asks, the user answers "yes" two seconds later.
    fn answering(&mut self, loc: usize, req: HttpRequest, cookie: &Option<String>) -> HttpResponse {
        let page = self.call(loc, &req);
        let body = String::from_utf8_lossy(&page.body).to_string();
        let marker = r#"name="confirm" value=""#;
        let Some(start) = body.find(marker).map(|i| i + marker.len()) else { return page };
        let token = body[start..start + body[start..].find('"').unwrap()].to_string();
        let binding = page.header_all("set-cookie").find(|c| c.contains("_confirm=")).unwrap();
        let binding = binding.split(';').next().unwrap().to_string();
        let cookies = match cookie {
            Some(c) => format!("{c}; {binding}"),
            None => binding,
        };
        self.world.set_now(self.world.now() + 2);
        let mut answer = request(Method::Post, "/session/end");
        answer.headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
        answer.headers.push(("cookie".into(), cookies));
        answer.body = format!("confirm={token}&logout=yes").into_bytes();
        self.call(loc, &answer)
    }

    /// Runs the queue message due first; a look that fails comes again a minute later, up to
    /// ten times, then is dead-lettered (dropped): the sweep must make up for it.
    fn run_message(&mut self) {
        self.queue.sort_by_key(|(due, ..)| *due);
        let (due, loc, message, attempts) = self.queue.remove(0);
        self.world.set_now(self.world.now().max(due));
        let now = self.world.now();
        let r = match &message {
            QueueMessage::Recheck(check) => {
                futures::executor::block_on(logout::recheck(&self.world.at(loc), &self.platform, check, None, now))
            }
            QueueMessage::Expand(e) => {
                futures::executor::block_on(logout::expand(&self.world.at(loc), &self.platform, e, now)).map(|_| ())
            }
            QueueMessage::Deliver(_) => return,
        };
        self.collect();
        if r.is_err() && attempts < 10 {
            self.queue.push((now + 60, loc, message, attempts + 1));
        }
    }

    fn sweep(&mut self, loc: usize) {
        let now = self.world.now();
        let grace = crate::testing::config().backchannel.sweep_grace_s;
        let mut n = 0;
        // A tick may spend the invocation's subrequests to Cloudflare services.
        let budget = 1000;
        let _ =
            futures::executor::block_on(logout::sweep(&self.world.at(loc), &self.platform, now, grace, budget, || {
                n += 1;
                format!("n{now}.{n}")
            }));
        self.collect();
    }

    /// Whether every location sees the session gone now (its tombstone, or no record), looked
    /// at without reading (which would change what the code sees).
    fn gone_everywhere(&self) -> bool {
        (0..LOCATIONS).all(|loc| {
            self.world.peek(loc, Ns::Sessions, &format!("ended/{SID}")).is_some()
                || self.world.peek(loc, Ns::Sessions, &format!("session/{SID}")).is_none()
        })
    }

    /// Whether `client` was recorded, or its recording failed (and may have taken effect).
    fn joined(&self, client: &str) -> bool {
        self.recorded.iter().chain(&self.maybe).any(|c| c == client)
    }

    /// The first time each client got a token for the session (with its `sid`, or for all of
    /// alice's sessions).
    fn told(&self) -> BTreeMap<String, i64> {
        let mut told = BTreeMap::new();
        for (d, at) in self.platform.handed.borrow().iter().zip(&self.handed_at) {
            let for_it = d.sid.as_deref() == Some(SID) || (d.sid.is_none() && d.sub == "alice");
            if for_it && d.kind.is_logout() {
                told.entry(d.client_id.clone()).or_insert(*at);
            }
        }
        told
    }
}

/// What happens at a time in a scenario.
enum Step {
    Create(usize),
    Record(usize, usize),
    LogOut(Kind, usize),
    Probe,
}

/// Plays a scenario to its end (an hour after the logout): the requests in time order, the
/// queue's messages when due, and the cron sweep every 5 minutes at one location or another.
fn play(s: &Scenario) -> Sim<'_> {
    let world = World::with(NOW - 10_000, Delays::Drawn { max_s: s.max_delay_s, seed: s.seed }, s.cache_ttl_s);
    for (loc, from, len) in &s.outages {
        let from = NOW + s.logout.1 + from;
        world.add_outage(Outage { location: *loc, from, until: from + len });
    }
    let mut sim = Sim {
        world,
        platform: Recorder::default(),
        s,
        handed_at: Vec::new(),
        queue: Vec::new(),
        enqueued_seen: 0,
        sent: 0,
        cookie: None,
        recorded: Vec::new(),
        maybe: Vec::new(),
        recorded_at: Vec::new(),
        ended_at: None,
        gone_by_window: None,
    };
    // The clients, long before, seen everywhere.
    for id in CLIENTS {
        let put = admin_request(Method::Put, &format!("/admin/clients/{id}"), Some(client_body(id)));
        assert!(sim.call(0, &put).status < 300);
    }
    let mut steps: Vec<(i64, Step)> = vec![(NOW + s.created.1, Step::Create(s.created.0))];
    for (c, loc, t) in &s.recordings {
        steps.push((NOW + s.created.1.max(s.logout.1 + t), Step::Record(*c, *loc)));
    }
    steps.push((NOW + s.logout.1, Step::LogOut(s.kind, s.logout.0)));
    // Stable: at the same second, in the order above.
    steps.sort_by_key(|(t, _)| *t);
    let end = NOW + s.logout.1 + 3600;
    let mut next_tick = NOW - NOW % 300 + 300;
    let mut steps = std::collections::VecDeque::from(steps);
    loop {
        let next_step = steps.front().map(|(t, _)| *t);
        let next_message = sim.queue.iter().map(|(due, ..)| *due).min();
        let tick = (next_tick <= end).then_some(next_tick);
        let Some(at) = [next_step, next_message, tick].into_iter().flatten().min() else { break };
        if next_step == Some(at) {
            let (t, step) = steps.pop_front().unwrap();
            sim.world.set_now(sim.world.now().max(t));
            match step {
                Step::Create(loc) => sim.create(loc),
                Step::Record(c, loc) => sim.record(CLIENTS[c], loc),
                Step::LogOut(kind, loc) => {
                    sim.log_out(kind, loc);
                    if let Some(ended) = sim.ended_at {
                        steps.push_back((ended + sim.world.window_s(), Step::Probe));
                        steps.make_contiguous().sort_by_key(|(t, _)| *t);
                    }
                }
                Step::Probe => sim.gone_by_window = Some(sim.gone_everywhere()),
            }
        } else if next_message == Some(at) {
            sim.run_message();
        } else {
            sim.world.set_now(sim.world.now().max(at));
            sim.sweep((at / 300) as usize % LOCATIONS);
            next_tick += 300;
        }
    }
    sim.recorded.sort();
    sim.recorded.dedup();
    sim
}

/// The bound this design promises, for a world whose writes are seen everywhere within a
/// window (propagation and cache) of at most [`logout::WINDOW_S`]: every relying party
/// recorded with a 2xx anywhere is told within the last look's delay (at least twice the
/// window) and the queue's lateness; the session is gone at every location within one window.
fn told_within(ended_at: i64) -> i64 {
    ended_at + i64::from(RECHECK_DELAYS_S[RECHECK_DELAYS_S.len() - 1]) + QUEUE_JITTER_S
}

#[test]
fn the_last_look_comes_at_least_two_windows_after_the_logout() {
    // The property below draws worlds up to these figures: the last look must be late enough.
    assert_eq!(logout::WINDOW_S, 150 + 60);
    assert!(i64::from(RECHECK_DELAYS_S[RECHECK_DELAYS_S.len() - 1]) >= 2 * logout::WINDOW_S);
}

#[test]
fn every_recorded_relying_party_is_told_within_the_bound_and_the_session_is_gone_within_a_window() {
    let mut runner = TestRunner::new(Config { cases: 1000, failure_persistence: None, ..Config::default() });
    let counts = RefCell::new(BTreeMap::<&str, usize>::new());
    let count = |what: &'static str| *counts.borrow_mut().entry(what).or_default() += 1;
    runner
        .run(&scenario(false), |s| {
            let sim = play(&s);
            // An operator's logout of a session that exists ends it, seen here or not.
            let exists = sim.cookie.is_some();
            prop_assert!(s.kind != Kind::Admin || !exists || sim.ended_at.is_some(), "not ended: {s:?}");
            let Some(ended_at) = sim.ended_at else {
                count("not ended");
                return Ok(());
            };
            count("ended");
            let told = sim.told();
            for c in &sim.recorded {
                let at = told.get(c).copied();
                prop_assert!(at.is_some(), "{c} was recorded but never told: {s:?} told {told:?}");
                prop_assert!(
                    at.unwrap() <= told_within(ended_at),
                    "{c} told {} s after the logout, later than the bound {}: {s:?}",
                    at.unwrap() - ended_at,
                    told_within(ended_at) - ended_at
                );
            }
            for c in told.keys() {
                prop_assert!(sim.joined(c), "{c} was told but never recorded: {s:?}");
            }
            prop_assert_eq!(sim.gone_by_window, Some(true), "the session is seen a window after it ended: {:?}", s);
            prop_assert!(sim.gone_everywhere(), "the session is still seen an hour later: {s:?}");
            if sim.recorded.len() > 1 {
                count("several recorded");
            }
            if sim.recorded_at.iter().any(|t| *t > ended_at + 60) {
                count("recorded elsewhere more than a minute after the logout");
            }
            if s.created.1 > -(s.max_delay_s + s.cache_ttl_s) && s.created.0 != s.logout.0 {
                count("created elsewhere within a window");
            }
            Ok(())
        })
        .unwrap();
    // Not vacuous: most scenarios end the session, many in the hard cases.
    let counts = counts.into_inner();
    assert!(counts.get("ended").copied().unwrap_or(0) >= 600, "{counts:?}");
    assert!(counts.get("several recorded").copied().unwrap_or(0) >= 200, "{counts:?}");
    assert!(counts.get("created elsewhere within a window").copied().unwrap_or(0) >= 100, "{counts:?}");
    assert!(
        counts.get("recorded elsewhere more than a minute after the logout").copied().unwrap_or(0) >= 30,
        "{counts:?}"
    );
}

#[test]
fn with_kv_outages_every_recorded_relying_party_is_still_told_and_the_session_ends() {
    // Failures combined with delays: during an outage requests fail (503) and looks are
    // retried, then dead-lettered. No time bound beyond "within the hour": the sweep makes up
    // for what the queue gave up on.
    let mut runner = TestRunner::new(Config { cases: 300, failure_persistence: None, ..Config::default() });
    let ended = Cell::new(0);
    runner
        .run(&scenario(true), |s| {
            let sim = play(&s);
            if sim.ended_at.is_none() {
                return Ok(());
            }
            ended.set(ended.get() + 1);
            let told = sim.told();
            for c in &sim.recorded {
                prop_assert!(told.contains_key(c), "{c} was recorded but never told: {s:?} told {told:?}");
            }
            for c in told.keys() {
                prop_assert!(sim.joined(c), "{c} was told but never recorded: {s:?}");
            }
            prop_assert!(sim.gone_everywhere(), "the session is still seen an hour later: {s:?}");
            Ok(())
        })
        .unwrap();
    assert!(ended.get() >= 100, "{} ended", ended.get());
}

#[test]
fn a_client_recorded_elsewhere_140_s_after_the_logout_is_told() {
    // The trace that one look at 150 s misses: every write takes 145 s to reach another
    // location; the session is seen everywhere; the user logs out at A at 0; at 140 s B still
    // sees the session and records rp2; B's record reaches A only at 285 s.
    let play = |look_at: Option<i64>| {
        let world = World::new(NOW - 1000, 145, 0);
        let platform = Recorder::default();
        let cookie = seed(&world.at(0), &platform, world.now());
        world.set_now(NOW);
        assert_eq!(call_with(&world.at(0), &platform, NOW, &rp_logout(&cookie)).status, 303);
        world.set_now(NOW + 140);
        assert_eq!(call_with(&world.at(1), &platform, NOW + 140, &record("rp2")).status, 200);
        let looks: Vec<(i64, QueueMessage)> = platform
            .enqueued
            .borrow()
            .iter()
            .map(|(m, d)| (look_at.map_or(NOW + i64::from(*d), |t| NOW + t), m.clone()))
            .collect();
        run_rechecks(&world, &platform, looks, &|_| 0);
        told(&platform)
    };
    assert_eq!(play(None), ["rp1", "rp2"], "the look as scheduled");
    // The control: the same look run at 150 s, as the old schedule had it, cannot see rp2.
    assert_eq!(play(Some(150)), ["rp1"]);
}

#[test]
fn without_the_rechecks_a_client_recorded_elsewhere_is_lost() {
    // The control: the same world, but the re-checks never run. A client recorded at the other
    // location just before the logout is not seen by it, and is never told.
    let world = World::new(NOW, 60, 60);
    let platform = Recorder::default();
    world.set_now(NOW - 1000);
    let cookie = seed(&world.at(0), &platform, world.now());
    world.set_now(NOW);
    assert_eq!(call_with(&world.at(1), &platform, NOW, &record("rp2")).status, 200);
    world.set_now(NOW + 5);
    assert_eq!(call_with(&world.at(0), &platform, NOW + 5, &rp_logout(&cookie)).status, 303);
    assert_eq!(told(&platform), ["rp1"]);
    // With them, it is told.
    let pending: Vec<(i64, QueueMessage)> =
        platform.enqueued.borrow().iter().map(|(m, d)| (NOW + 5 + i64::from(*d), m.clone())).collect();
    run_rechecks(&world, &platform, pending, &|_| 0);
    assert_eq!(told(&platform), ["rp1", "rp2"]);
}

#[test]
fn twelve_recordings_at_once_are_all_kept_and_all_told() {
    let store = MemoryStore::new(NOW);
    let platform = Recorder::default();
    for i in 0..12 {
        let id = format!("app{i}");
        let put = admin_request(Method::Put, &format!("/admin/clients/{id}"), Some(client_body(&id)));
        assert_eq!(call_with(&store, &platform, NOW, &put).status, 201);
    }
    let create = admin_request(Method::Post, "/admin/sessions", Some(json!({"sub": "a", "sid": SID})));
    assert_eq!(call_with(&store, &platform, NOW, &create).status, 201);
    // Twelve recordings interleaved: each reads the session before any of them writes.
    let yielding = Yielding(&store);
    let calls: Vec<_> = (0..12).map(|i| record(&format!("app{i}"))).collect();
    let answers = futures::executor::block_on(futures::future::join_all(
        calls.iter().map(|req| handle(crate::testing::config(), &yielding, &platform, NOW, req)),
    ));
    assert!(answers.iter().all(|r| r.status == 200));
    let end = admin_request(Method::Delete, &format!("/admin/sessions/{SID}"), None);
    assert_eq!(call_with(&store, &platform, NOW, &end).status, 200);
    let mut want: Vec<String> = (0..12).map(|i| format!("app{i}")).collect();
    want.sort();
    assert_eq!(told(&platform), want);
}

/// A session of alice with every client, in a fresh store.
fn session_with_all_clients(store: &MemoryStore, platform: &Recorder) -> String {
    let cookie = seed(store, platform, NOW);
    for c in &CLIENTS[1..] {
        assert_eq!(call_with(store, platform, NOW, &record(c)).status, 200);
    }
    cookie
}

#[test]
fn a_failed_queue_send_loses_nothing_the_sweep_sends_it_again() {
    let store = MemoryStore::new(NOW);
    let platform = Recorder::default();
    let cookie = session_with_all_clients(&store, &platform);
    // Inline deliveries capped at 2: the other 4 need the queue, which is down.
    platform.queue_down.set(true);
    let mut settings = crate::testing::settings();
    settings.insert("BACKCHANNEL_INLINE_MAX", "2".into());
    let config = crate::testing::load(&settings).unwrap();
    // Subrequests are counted per request, as the worker's store does.
    store.ops.set(0);
    let r = futures::executor::block_on(handle(&config, &store, &platform, NOW, &rp_logout(&cookie)));
    assert_eq!(r.status, 303);
    assert_eq!(told(&platform).len(), 2, "two inline");
    // The logout's own record stays until its look; the expansion the queue refused (the 4
    // past the wave) and the look it refused wait under keys of their own, due at once; the
    // sweep is told.
    let left = futures::executor::block_on(outbox::page(&store, 10)).unwrap();
    assert_eq!(left.len(), 3, "{left:?}");
    let refused = left.iter().find(|o| o.logout_id.ends_with(".x3")).expect("the refused expansion's guard");
    assert_eq!(refused.expansions[0].expand.len(), 4);
    assert!(left.iter().any(|o| o.logout_id.ends_with(".r1")), "the refused look's record");
    assert!(futures::executor::block_on(outbox::due(&store)).unwrap());
    // The queue is back; the sweep, past its grace, queues the expansion and the look; the
    // expansion hands the 4 to the queue.
    platform.queue_down.set(false);
    let grace = config.backchannel.sweep_grace_s;
    let later = NOW + logout::EXPAND_OVERDUE_S + grace + 1;
    store.now.set(later);
    futures::executor::block_on(logout::sweep_outbox(&store, &platform, later, grace, 100)).unwrap();
    let expansions = platform.expansions();
    assert_eq!(expansions.len(), 1, "the expansion was sent");
    futures::executor::block_on(logout::expand(&store, &platform, &expansions[0], later)).unwrap();
    let looks = platform.rechecks();
    assert_eq!(looks.len(), 1, "the look was sent");
    futures::executor::block_on(logout::recheck(&store, &platform, &looks[0], None, later)).unwrap();
    assert_eq!(told(&platform), CLIENTS);
    // The last look removed the logout's record; nothing is left.
    assert!(futures::executor::block_on(outbox::page(&store, 10)).unwrap().is_empty());
}

#[test]
fn a_look_lost_on_its_way_is_sent_again_by_the_sweep_once_overdue() {
    // The look is queued, then dead-lettered (never run). The logout's record, kept until the
    // last look removes it, brings it back: a client recorded elsewhere is still told.
    let world = World::new(NOW - 1000, 100, 60);
    let platform = Recorder::default();
    let cookie = seed(&world.at(0), &platform, world.now());
    world.set_now(NOW);
    assert_eq!(call_with(&world.at(1), &platform, NOW, &record("rp2")).status, 200);
    world.set_now(NOW + 5);
    assert_eq!(call_with(&world.at(0), &platform, NOW + 5, &rp_logout(&cookie)).status, 303);
    assert_eq!(platform.rechecks().len(), 1);
    platform.enqueued.borrow_mut().clear();
    let grace = crate::testing::config().backchannel.sweep_grace_s;
    // Before it is overdue, the sweep leaves it alone (the look may just be late).
    let early = NOW + 5 + i64::from(RECHECK_DELAYS_S[0]) + grace;
    world.set_now(early);
    futures::executor::block_on(logout::sweep_outbox(&world.at(0), &platform, early, grace, 100)).unwrap();
    assert!(platform.rechecks().is_empty());
    let late = NOW + 5 + i64::from(RECHECK_DELAYS_S[0]) + logout::RECHECK_OVERDUE_S + grace;
    world.set_now(late);
    futures::executor::block_on(logout::sweep_outbox(&world.at(0), &platform, late, grace, 100)).unwrap();
    let looks: Vec<(i64, QueueMessage)> =
        platform.enqueued.borrow().iter().map(|(m, d)| (late + i64::from(*d), m.clone())).collect();
    assert_eq!(looks.len(), 1, "sent again");
    run_rechecks(&world, &platform, looks, &|_| 0);
    assert_eq!(told(&platform), ["rp1", "rp2"]);
}

#[test]
fn a_write_failing_partway_through_a_logout_loses_nothing() {
    // Every place a KV write can fail in a logout: the outbox, the tombstone, the outbox's
    // removal, each delete. After each, the user's logout again (or the re-check) completes it.
    for allowed in 0..6 {
        let store = MemoryStore::new(NOW);
        let platform = Recorder::default();
        let cookie = session_with_all_clients(&store, &platform);
        let failing = FailingWrites::new(&store, allowed);
        let r = call_with(&failing, &platform, NOW, &rp_logout(&cookie));
        // Either it went through, or the user was told it failed (never a redirect then).
        assert!(r.status == 303 || r.status == 503, "{allowed}: {}", r.status);
        // The user tries again (or, had they not, the re-check does it).
        let pending: Vec<(i64, QueueMessage)> =
            platform.enqueued.borrow().iter().map(|(m, d)| (NOW + i64::from(*d), m.clone())).collect();
        for (_, m) in pending {
            let QueueMessage::Recheck(check) = m else { continue };
            store.now.set(NOW + 200);
            futures::executor::block_on(logout::recheck(&store, &platform, &check, None, NOW + 200)).unwrap();
        }
        if r.status == 503 {
            let again = call_with(&store, &platform, NOW + 300, &rp_logout(&cookie));
            assert!(again.status == 303, "{allowed}: {}", again.status);
        }
        assert_eq!(told(&platform), CLIENTS, "{allowed}: every client told");
        let gone = futures::executor::block_on(sessions::lookup(&store, SID, NOW + 300)).unwrap();
        assert!(!matches!(gone, Lookup::Live(_)), "{allowed}: the session ended");
    }
}

#[test]
fn an_ended_session_is_never_joined_created_read_or_listed_again() {
    let store = MemoryStore::new(NOW);
    let platform = Recorder::default();
    let cookie = seed(&store, &platform, NOW);
    assert_eq!(call_with(&store, &platform, NOW, &rp_logout(&cookie)).status, 303);
    let r = call_with(&store, &platform, NOW + 1, &record("rp2"));
    assert_eq!((r.status, json_of(&r)["error"].as_str()), (409, Some("session_ended")));
    let again = json!({"sub": "alice", "sid": SID});
    let r = call_with(&store, &platform, NOW + 1, &admin_request(Method::Post, "/admin/sessions", Some(again)));
    assert_eq!((r.status, json_of(&r)["error"].as_str()), (409, Some("session_ended")));
    let r = call_with(&store, &platform, NOW + 1, &admin_request(Method::Get, &format!("/admin/sessions/{SID}"), None));
    assert_eq!(r.status, 404);
    let r = call_with(&store, &platform, NOW + 1, &admin_request(Method::Get, "/admin/sessions?sub=alice", None));
    assert_eq!(json_of(&r)["sessions"], json!([]));
    assert_eq!(told(&platform), ["rp1"], "nobody else was told of a session they never joined");
}

#[test]
fn every_way_a_session_ends_tells_the_login_system_why() {
    use crate::state::deliveries::{DeliveryKind, EndReason};
    let mut settings = crate::testing::settings();
    settings.insert("SESSION_EVENTS_URI", "https://login.example/events".into());
    settings.insert("SESSION_EVENTS_AUDIENCE", "login-system".into());
    let config = crate::testing::load(&settings).unwrap();
    let store = MemoryStore::new(NOW);
    let platform = Recorder::default();
    let call = |req: &HttpRequest| futures::executor::block_on(handle(&config, &store, &platform, NOW, req));
    let cookie = seed(&store, &platform, NOW);
    for sid in ["s-2", "s-3", "s-4"] {
        let body = json!({"sub": "alice", "sid": sid, "clients": ["rp2"]});
        assert_eq!(call(&admin_request(Method::Post, "/admin/sessions", Some(body))).status, 201);
    }
    assert_eq!(call(&rp_logout(&cookie)).status, 303);
    assert_eq!(call(&admin_request(Method::Delete, "/admin/sessions/s-2", None)).status, 200);
    assert_eq!(call(&admin_request(Method::Delete, "/admin/sessions?sub=alice", None)).status, 200);
    let events: Vec<(String, EndReason, Option<String>, String)> = platform
        .handed
        .borrow()
        .iter()
        .filter_map(|d| match &d.kind {
            DeliveryKind::SessionEnded { reason, initiator, audience } => {
                assert_eq!((d.uri.as_str(), audience.as_str()), ("https://login.example/events", "login-system"));
                Some((d.sid.clone().unwrap(), *reason, initiator.clone(), d.sub.clone()))
            }
            DeliveryKind::Logout => None,
        })
        .collect();
    let alice = || "alice".to_string();
    assert_eq!(
        events,
        [
            (SID.to_string(), EndReason::RpLogout, Some("rp1".to_string()), alice()),
            ("s-2".to_string(), EndReason::AdminLogoutSession, None, alice()),
            ("s-3".to_string(), EndReason::AdminLogoutSubject, None, alice()),
            ("s-4".to_string(), EndReason::AdminLogoutSubject, None, alice()),
        ]
    );
}

/// The session `sid-x` of alice with `rp1`, created at location `at` of `world` now; its cookie.
fn create_at(world: &World, platform: &Recorder, at: usize, client: &str) -> (u16, Option<String>) {
    let body = json!({"sub": "alice", "sid": SID, "clients": [client], "expires_in": 86400});
    let r =
        call_with(&world.at(at), platform, world.now(), &admin_request(Method::Post, "/admin/sessions", Some(body)));
    (r.status, json_of(&r)["cookie"].as_str().map(str::to_string))
}

fn clients_registered(world: &World, platform: &Recorder) {
    for id in CLIENTS {
        let put = admin_request(Method::Put, &format!("/admin/clients/{id}"), Some(client_body(id)));
        assert!(call_with(&world.at(0), platform, world.now(), &put).status < 300);
    }
}

#[test]
fn a_browser_whose_session_is_not_seen_here_yet_is_asked_and_on_yes_its_session_ends_and_its_clients_are_told() {
    // The login system created the session near location 1 a few seconds ago; the browser logs
    // out through location 0, which does not see it yet, with its cookie and no hint.
    let world = World::new(NOW - 1000, 60, 60);
    let platform = Recorder::default();
    clients_registered(&world, &platform);
    world.set_now(NOW);
    let (status, cookie) = create_at(&world, &platform, 1, "rp1");
    assert_eq!(status, 201);
    assert_eq!(call_with(&world.at(1), &platform, NOW, &record("rp2")).status, 200);
    world.set_now(NOW + 5);
    let cookie = format!("op_session={}", cookie.unwrap());
    let mut ask = request(Method::Get, "/session/end");
    ask.headers.push(("cookie".into(), cookie.clone()));
    let page = call_with(&world.at(0), &platform, NOW + 5, &ask);
    let body = String::from_utf8_lossy(&page.body).to_string();
    assert_eq!(page.status, 200);
    let marker = r#"name="confirm" value=""#;
    let start = body.find(marker).expect("asked, not told it was signed out already") + marker.len();
    let token = &body[start..start + body[start..].find('"').unwrap()];
    let binding = page.header_all("set-cookie").find(|c| c.contains("_confirm=")).unwrap().split(';').next().unwrap();
    let mut yes = request(Method::Post, "/session/end");
    yes.headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
    yes.headers.push(("cookie".into(), format!("{cookie}; {binding}")));
    yes.body = format!("confirm={token}&logout=yes").into_bytes();
    let r = call_with(&world.at(0), &platform, NOW + 7, &yes);
    assert!(r.header_all("set-cookie").any(|c| c.starts_with("op_session=;")), "signed out");
    // Its tombstone refuses the session being joined here at once.
    let r = call_with(&world.at(0), &platform, NOW + 8, &record("rp3"));
    assert_eq!(r.status, 409);
    // The look ends it where KV shows it, and tells its clients.
    let looks: Vec<(i64, QueueMessage)> =
        platform.enqueued.borrow().iter().map(|(m, d)| (NOW + 7 + i64::from(*d), m.clone())).collect();
    run_rechecks(&world, &platform, looks, &|_| 2);
    assert_eq!(told(&platform), ["rp1", "rp2"]);
    for loc in 0..2 {
        let gone = futures::executor::block_on(sessions::lookup(&world.at(loc), SID, world.now())).unwrap();
        assert_eq!(gone, Lookup::Ended, "at {loc}");
    }
}

#[test]
fn an_unsigned_cookie_for_a_session_not_seen_here_proves_nothing_and_ends_nothing() {
    // Anyone can name a sid in a cookie: without the signature, nothing is written.
    let world = World::new(NOW, 60, 60);
    let platform = Recorder::default();
    let forged = format!(
        "op_session={}.not-a-secret",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, SID)
    );
    let mut ask = request(Method::Get, "/session/end");
    ask.headers.push(("cookie".into(), forged));
    let store = world.at(0);
    let r = call_with(&store, &platform, NOW, &ask);
    assert_eq!(r.status, 200);
    assert!(platform.enqueued.borrow().is_empty());
    assert_eq!(futures::executor::block_on(store.list(Ns::Sessions, "", None, 100)).unwrap().keys.len(), 0);
}

#[test]
fn an_admin_logout_of_a_session_not_seen_here_answers_202_and_ends_it_where_it_is_seen() {
    let world = World::new(NOW - 1000, 60, 60);
    let platform = Recorder::default();
    clients_registered(&world, &platform);
    world.set_now(NOW);
    assert_eq!(create_at(&world, &platform, 1, "rp1").0, 201);
    world.set_now(NOW + 5);
    let end = admin_request(Method::Delete, &format!("/admin/sessions/{SID}"), None);
    let r = call_with(&world.at(0), &platform, NOW + 5, &end);
    assert_eq!((r.status, json_of(&r)["pending"].clone()), (202, json!([SID])));
    let looks: Vec<(i64, QueueMessage)> =
        platform.enqueued.borrow().iter().map(|(m, d)| (NOW + 5 + i64::from(*d), m.clone())).collect();
    run_rechecks(&world, &platform, looks, &|_| 1);
    assert_eq!(told(&platform), ["rp1"]);
    let r = call_with(
        &world.at(1),
        &platform,
        world.now(),
        &admin_request(Method::Get, &format!("/admin/sessions/{SID}"), None),
    );
    assert_eq!(r.status, 404);
}

#[test]
fn a_session_created_twice_where_the_first_is_not_seen_keeps_both_creations_clients_and_cookies() {
    let world = World::new(NOW - 1000, 60, 60);
    let platform = Recorder::default();
    clients_registered(&world, &platform);
    world.set_now(NOW);
    let (first, cookie_a) = create_at(&world, &platform, 0, "rp1");
    // A second later (KV takes one write per second per key).
    world.set_now(NOW + 1);
    let (second, cookie_b) = create_at(&world, &platform, 1, "rp2");
    assert_eq!((first, second), (201, 201), "neither sees the other");
    world.set_now(NOW + 200);
    let r = call_with(
        &world.at(0),
        &platform,
        NOW + 200,
        &admin_request(Method::Get, &format!("/admin/sessions/{SID}"), None),
    );
    let mut clients: Vec<String> = serde_json::from_value(json_of(&r)["clients"].clone()).unwrap();
    clients.sort();
    assert_eq!(clients, ["rp1", "rp2"]);
    // Both browsers' cookies still name the session (each is signed), whichever record won.
    let (cookie_a, cookie_b) = (cookie_a.unwrap(), cookie_b.unwrap());
    for cookie in [&cookie_a, &cookie_b] {
        let key = &crate::testing::config().cookie_key;
        let found = futures::executor::block_on(sessions::by_cookie(&world.at(0), key, cookie, NOW + 200)).unwrap();
        assert!(matches!(found, sessions::CookieSession::Live(_)), "{found:?}");
    }
    // A creation for the same user where the session is seen records its client too (200).
    let (again, cookie_c) = create_at(&world, &platform, 0, "rp3");
    assert_eq!(again, 200);
    assert!(cookie_c.is_some());
    assert_eq!(call_with(&world.at(0), &platform, NOW + 201, &rp_logout(&cookie_a)).status, 303);
    world.set_now(NOW + 1000);
    let looks: Vec<(i64, QueueMessage)> =
        platform.enqueued.borrow().iter().map(|(m, _)| (NOW + 1000, m.clone())).collect();
    run_rechecks(&world, &platform, looks, &|_| 0);
    assert_eq!(told(&platform), ["rp1", "rp2", "rp3"]);
}

#[test]
fn a_look_too_large_for_a_queue_message_is_sent_without_its_lists_and_completed_from_the_outbox() {
    use crate::state::deliveries::MAX_LOOK_BYTES;
    // 450 clients with 250-byte ids: their list alone is about 113 KB, past what a message takes.
    let store = MemoryStore::new(NOW);
    let platform = Recorder::default();
    let ids: Vec<String> = (0..450).map(|i| format!("{i:03}{}", "x".repeat(247))).collect();
    for id in &ids {
        let put = admin_request(Method::Put, &format!("/admin/clients/{id}"), Some(client_body("rp1")));
        assert_eq!(call_with(&store, &platform, NOW, &put).status, 201);
    }
    let body = json!({"sub": "alice", "sid": SID});
    assert_eq!(
        call_with(&store, &platform, NOW, &admin_request(Method::Post, "/admin/sessions", Some(body))).status,
        201
    );
    for id in &ids {
        assert_eq!(call_with(&store, &platform, NOW, &record(id)).status, 200);
    }
    let end = admin_request(Method::Delete, &format!("/admin/sessions/{SID}"), None);
    assert_eq!(call_with(&store, &platform, NOW, &end).status, 200);
    let (message, _) =
        platform.enqueued.borrow().iter().find(|(m, _)| matches!(m, QueueMessage::Recheck(_))).cloned().unwrap();
    let QueueMessage::Recheck(look) = &message else { unreachable!() };
    assert!(look.in_record && look.sessions[0].notified.is_empty());
    assert!(serde_json::to_string(&message).unwrap().len() <= MAX_LOOK_BYTES);
    // A client recorded since (one write, seen at once here) is told by the look; the 450 told
    // already are not told again.
    store.now.set(NOW + 1);
    let late = format!("late{}", "y".repeat(10));
    let put = admin_request(Method::Put, &format!("/admin/clients/{late}"), Some(client_body("rp2")));
    assert_eq!(call_with(&store, &platform, NOW + 1, &put).status, 201);
    let session = Session {
        sid: SID.into(),
        sub: "alice".into(),
        clients: Vec::new(),
        created_at: NOW,
        expires_at: NOW + 86400,
        cookie_hash: String::new(),
        logout_hints: Vec::new(),
    };
    futures::executor::block_on(sessions::add_member(&store, &session, &late)).unwrap();
    let before = platform.handed.borrow().len();
    futures::executor::block_on(logout::recheck(&store, &platform, look, None, NOW + 500)).unwrap();
    let after: Vec<String> = platform.handed.borrow()[before..].iter().map(|d| d.client_id.clone()).collect();
    assert_eq!(after, [late]);
}

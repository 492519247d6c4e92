//! What the local runtime cannot show, on the host: a logout converges under KV's eventual
//! consistency (every relying party recorded anywhere gets a token, the session ends
//! everywhere, a late recording is refused or told), concurrent recordings are all kept, and
//! nothing is lost when a queue send or a KV write fails.

use std::cell::Cell;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::http::form::encode_component as enc;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::keys::Alg;
use crate::ports::Store;
use crate::protocol::logout;
use crate::state::deliveries::QueueMessage;
use crate::state::memory::MemoryStore;
use crate::state::outbox;
use crate::state::sessions::{self, Lookup};
use crate::testing::eventual::World;
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

/// Runs every queued re-check when it is due, each at the location `where_` picks, until none
/// is left; `from` is how many queue messages were already run.
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
        let QueueMessage::Recheck(check) = message else { continue };
        world.set_now(world.now().max(at));
        let store = world.at(where_(check.round));
        futures::executor::block_on(logout::recheck(&store, platform, &check, world.now())).unwrap();
        let enqueued = platform.enqueued.borrow();
        pending.extend(enqueued[seen..].iter().map(|(m, delay)| (world.now() + i64::from(*delay), m.clone())));
        seen = enqueued.len();
    }
}

/// One scenario: the session made at location 0 at time 0; recordings of clients at either
/// location at given times; a logout at a location and time, by the user (hint and cookie) or
/// by an operator; then the re-checks, each run at a location the scenario picks.
#[derive(Debug, Clone)]
struct Scenario {
    recordings: Vec<(usize, usize, i64)>,
    logout_at: (usize, i64),
    by_user: bool,
    recheck_at: [usize; 2],
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec((1..CLIENTS.len(), 0usize..2, 0i64..=140), 1..6),
        (0usize..2, 0i64..=140),
        any::<bool>(),
        (0usize..2, 0usize..2),
    )
        .prop_map(|(recordings, logout_at, by_user, (r1, r2))| Scenario {
            recordings,
            logout_at,
            by_user,
            recheck_at: [r1, r2],
        })
}

/// What a scenario ended with: the clients recorded with a 2xx, the clients told, whether the
/// logout happened, and whether any location still sees the session.
struct Outcome {
    recorded: Vec<String>,
    told: Vec<String>,
    logged_out: bool,
    visible: bool,
}

fn play(s: &Scenario) -> Outcome {
    let world = World::new(NOW, 60, 60);
    let platform = Recorder::default();
    // Clients and the session, at location 0, long before anything else.
    world.set_now(NOW - 1000);
    let cookie = seed(&world.at(0), &platform, world.now());
    let start = NOW;
    let mut events: Vec<(i64, usize, Option<usize>)> =
        s.recordings.iter().map(|(client, loc, t)| (start + t, *loc, Some(*client))).collect();
    events.push((start + s.logout_at.1, s.logout_at.0, None));
    // At the same second, the logout goes last.
    events.sort_by_key(|(t, _, client)| (*t, client.is_none()));
    let mut recorded = vec!["rp1".to_string()];
    let mut logged_out = false;
    let mut pending = Vec::new();
    let mut seen = 0;
    for (t, loc, client) in events {
        world.set_now(t);
        let store = world.at(loc);
        match client {
            Some(c) => {
                let r = call_with(&store, &platform, t, &record(CLIENTS[c]));
                if r.status == 200 {
                    recorded.push(CLIENTS[c].to_string());
                } else {
                    assert!(matches!(r.status, 404 | 409), "{}", String::from_utf8_lossy(&r.body));
                }
            }
            None => {
                let req = if s.by_user {
                    rp_logout(&cookie)
                } else {
                    admin_request(Method::Delete, &format!("/admin/sessions/{SID}"), None)
                };
                let r = call_with(&store, &platform, t, &req);
                // The user's logout always goes ahead (redirect); an operator's needs to see it.
                logged_out = r.status == 303 || r.status == 200;
                assert!(logged_out || r.status == 404, "{} {}", r.status, String::from_utf8_lossy(&r.body));
            }
        }
        let enqueued = platform.enqueued.borrow();
        pending.extend(enqueued[seen..].iter().map(|(m, delay)| (t + i64::from(*delay), m.clone())));
        seen = enqueued.len();
    }
    run_rechecks(&world, &platform, pending, &|round| s.recheck_at[(round as usize - 1).min(1)]);
    // Long after: every write has reached every location.
    world.set_now(world.now() + 3600);
    let visible = (0..2).any(|loc| {
        matches!(
            futures::executor::block_on(sessions::lookup(&world.at(loc), SID, world.now())).unwrap(),
            Lookup::Live(_)
        )
    });
    recorded.sort();
    recorded.dedup();
    Outcome { recorded, told: told(&platform), logged_out, visible }
}

#[test]
fn a_logout_converges_under_eventual_consistency() {
    let mut runner = TestRunner::new(Config { cases: 300, failure_persistence: None, ..Config::default() });
    let logouts = Cell::new(0);
    let late = Cell::new(0);
    runner
        .run(&scenario(), |s| {
            let o = play(&s);
            if !o.logged_out {
                return Ok(());
            }
            logouts.set(logouts.get() + 1);
            // Every relying party recorded with a 2xx, anywhere, got a token.
            for c in &o.recorded {
                prop_assert!(o.told.contains(c), "{c} was recorded but never told: {s:?} told {:?}", o.told);
            }
            // No relying party got a token for a session it never joined.
            for c in &o.told {
                prop_assert!(o.recorded.contains(c), "{c} was told but never recorded: {s:?}");
            }
            // The session is gone at every location.
            prop_assert!(!o.visible, "the session is still visible: {s:?}");
            if o.recorded.len() > 1 && s.recordings.iter().any(|(_, _, t)| *t >= s.logout_at.1) {
                late.set(late.get() + 1);
            }
            Ok(())
        })
        .unwrap();
    // Not vacuous: most scenarios log out, and many record a client around the logout.
    assert!(logouts.get() >= 100, "{} logouts", logouts.get());
    assert!(late.get() >= 10, "{} scenarios with a recording at or after the logout", late.get());
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
    // The rest, and the re-check, wait in the outbox; the sweep is told.
    let left = futures::executor::block_on(outbox::page(&store, 10)).unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].deliveries.len(), 4);
    assert!(left[0].recheck.is_some());
    assert!(futures::executor::block_on(outbox::due(&store)).unwrap());
    // The queue is back; the sweep, past its grace, sends them all.
    platform.queue_down.set(false);
    let grace = config.backchannel.sweep_grace_s;
    let later = NOW + grace + 1;
    store.now.set(later);
    let sent = futures::executor::block_on(logout::sweep_outbox(&store, &platform, later, grace, 100)).unwrap();
    assert_eq!(sent, 4);
    assert_eq!(told(&platform), CLIENTS);
    assert!(platform.rechecks().len() == 1, "the re-check was sent");
    assert!(futures::executor::block_on(outbox::page(&store, 10)).unwrap().is_empty());
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
            futures::executor::block_on(logout::recheck(&store, &platform, &check, NOW + 200)).unwrap();
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

//! The admin API on the host, with an in-memory store and the recording platform.

use serde_json::{json, Value};

use crate::budget::{self, Spend, DEFAULT_INLINE_MAX, INLINE_DELIVERY, INLINE_ONCE, SUBJECT_LOGOUT_PAGE};
use crate::http::{HttpResponse, Method};
use crate::ports::Store;
use crate::state::sessions::Session;
use crate::testing::{admin_request as admin, with_app, TestApp, ADMIN_TOKEN};

fn body(r: &HttpResponse) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn rp(id: &str) -> Value {
    json!({
        "redirect_uris": [format!("https://{id}.example/cb")],
        "post_logout_redirect_uris": [format!("https://{id}.example/bye")],
        "client_name": id,
    })
}

#[test]
fn clients_crud() {
    with_app(|app| async move {
        let r = app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(body(&r)["client_id"], "rp1");
        let r = app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
        assert_eq!(r.status, 200);
        app.call(admin(Method::Put, "/admin/clients/rp2", Some(rp("rp2")))).await;
        let r = app.call(admin(Method::Get, "/admin/clients/rp1", None)).await;
        assert_eq!(body(&r)["post_logout_redirect_uris"][0], "https://rp1.example/bye");
        let r = app.call(admin(Method::Get, "/admin/clients", None)).await;
        assert_eq!(body(&r)["clients"].as_array().unwrap().len(), 2);
        let r = app.call(admin(Method::Delete, "/admin/clients/rp1", None)).await;
        assert_eq!(r.status, 204);
        let r = app.call(admin(Method::Get, "/admin/clients/rp1", None)).await;
        assert_eq!(r.status, 404);
        assert_eq!(body(&r)["error"], "not_found");
        let r = app.call(admin(Method::Delete, "/admin/clients/rp1", None)).await;
        assert_eq!(r.status, 404);
    });
}

#[test]
fn bad_requests_change_nothing() {
    with_app(|app| async move {
        app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
        let before = app.store.snapshot();
        let mut bad_json = admin(Method::Put, "/admin/clients/rp1", None);
        bad_json.headers.push(("content-type".into(), "application/json".into()));
        bad_json.body = b"{\"redirect_uris\": [".to_vec();
        let r = app.call(bad_json).await;
        assert_eq!((r.status, body(&r)["error"].as_str()), (400, Some("invalid_client_metadata")));
        let r = app
            .call(admin(
                Method::Put,
                "/admin/clients/rp1",
                Some(json!({"post_logout_redirect_uris": ["https://x/#f"]})),
            ))
            .await;
        assert_eq!(r.status, 400);
        let r =
            app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "clients": ["nope"]})))).await;
        assert_eq!((r.status, body(&r)["error"].as_str()), (400, Some("invalid_request")));
        let r = app.call(admin(Method::Post, "/admin/sessions", Some(json!({"clients": ["rp1"]})))).await;
        assert_eq!(r.status, 400);
        let mut dup = admin(Method::Post, "/admin/sessions", None);
        dup.headers.push(("content-type".into(), "application/json".into()));
        dup.body = br#"{"sub": "alice", "sub": "mallory"}"#.to_vec();
        let r = app.call(dup).await;
        assert_eq!(r.status, 400);
        assert!(body(&r)["error_description"].as_str().unwrap().contains("duplicate"));
        let r = app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "a", "expires_in": 5})))).await;
        assert_eq!(r.status, 400);
        let r = app.call(admin(Method::Put, "/admin/sessions/nope/clients/rp1", None)).await;
        assert_eq!(r.status, 404);
        let mut no_auth = admin(Method::Put, "/admin/clients/rp9", Some(rp("rp9")));
        no_auth.headers.retain(|(n, _)| n != "authorization");
        assert_eq!(app.call(no_auth).await.status, 401);
        let mut wrong = admin(Method::Delete, "/admin/clients/rp1", None);
        wrong.headers[0].1 = format!("Bearer {}8", &ADMIN_TOKEN[..ADMIN_TOKEN.len() - 1]);
        let r = app.call(wrong).await;
        assert_eq!(r.status, 401);
        assert!(r.header("www-authenticate").is_some());
        let mut basic = admin(Method::Delete, "/admin/clients/rp1", None);
        basic.headers[0].1 = format!("Basic {ADMIN_TOKEN}");
        assert_eq!(app.call(basic).await.status, 401);
        assert_eq!(app.store.snapshot(), before);
    });
}

/// Back- and front-channel URIs aimed at the provider's own network are refused at
/// registration (400 invalid_client_metadata), and the registry stays as it was.
#[test]
fn local_notification_uris_are_refused() {
    with_app(|app| async move {
        app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
        let before = app.store.snapshot();
        for host in [
            "localhost",
            "127.0.0.1",
            "10.0.0.5",
            "172.20.1.1",
            "192.168.0.10",
            "169.254.169.254",
            "0.0.0.0",
            "[::1]",
            "[fd00::1]",
            "[fe80::1]",
            "[::ffff:127.0.0.1]",
        ] {
            let back = json!({"backchannel_logout_uri": format!("https://{host}/bc")});
            let front = json!({"redirect_uris": [format!("https://{host}/cb")], "frontchannel_logout_uri": format!("https://{host}/fc")});
            for (member, metadata) in [("backchannel_logout_uri", back), ("frontchannel_logout_uri", front)] {
                let r = app.call(admin(Method::Put, "/admin/clients/rp1", Some(metadata))).await;
                let b = body(&r);
                assert_eq!((r.status, b["error"].as_str()), (400, Some("invalid_client_metadata")), "{host}");
                let description = b["error_description"].as_str().unwrap();
                assert!(description.contains(member) && description.contains("localhost"), "{description}");
            }
        }
        assert_eq!(app.store.snapshot(), before);
    });
}

/// An internationalised host is registered in its `xn--` form, kept byte for byte; in Unicode
/// (the worker's URL parser has no Unicode tables), or as an `xn--` label that decodes to no
/// valid name, it is refused at registration (400 invalid_client_metadata), changing nothing.
#[test]
fn unicode_hosts_are_registered_in_their_xn_form() {
    with_app(|app| async move {
        let puny = json!({"redirect_uris": ["https://xn--bcher-kva.example/cb"], "post_logout_redirect_uris": ["https://xn--bcher-kva.example/bye"]});
        let r = app.call(admin(Method::Put, "/admin/clients/rp1", Some(puny))).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(body(&r)["post_logout_redirect_uris"][0], "https://xn--bcher-kva.example/bye");
        let before = app.store.snapshot();
        for (uri, says) in [("https://bücher.example/bye", "ASCII"), ("https://xn--a-ygn.example/bye", "xn--")] {
            let r = app
                .call(admin(Method::Put, "/admin/clients/rp1", Some(json!({"post_logout_redirect_uris": [uri]}))))
                .await;
            let b = body(&r);
            assert_eq!((r.status, b["error"].as_str()), (400, Some("invalid_client_metadata")), "{uri}");
            let description = b["error_description"].as_str().unwrap();
            assert!(description.contains("post_logout_redirect_uris") && description.contains(says), "{description}");
        }
        assert_eq!(app.store.snapshot(), before);
    });
}

#[test]
fn local_runs_may_register_local_notification_uris() {
    let mut s = crate::testing::settings();
    s.insert("ALLOW_HTTP_URIS", "true".into());
    crate::testing::with_settings(s, |app| async move {
        let metadata = json!({
            "redirect_uris": ["http://127.0.0.1:9000/cb"],
            "backchannel_logout_uri": "http://localhost:9000/bc",
            "frontchannel_logout_uri": "http://127.0.0.1:9000/fc",
        });
        let r = app.call(admin(Method::Put, "/admin/clients/rp1", Some(metadata))).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    });
}

#[test]
fn sessions_lifecycle() {
    with_app(|app| async move {
        app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
        app.call(admin(Method::Put, "/admin/clients/rp2", Some(rp("rp2")))).await;
        let r = app
            .call(admin(
                Method::Post,
                "/admin/sessions",
                Some(json!({"sub": "alice", "clients": ["rp1"], "expires_in": 3600})),
            ))
            .await;
        assert_eq!(r.status, 201);
        let created = body(&r);
        // Serialised from a struct, not a JSON value: the members and bytes are what `json!`
        // wrote before (its sorted members, compact).
        let members: Vec<&str> = created.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(members, ["clients", "cookie", "cookie_name", "expires_at", "sid", "sub"]);
        assert_eq!(r.body, serde_json::to_vec(&created).unwrap());
        let sid = created["sid"].as_str().unwrap().to_string();
        let cookie = created["cookie"].as_str().unwrap();
        assert_ne!(cookie, sid);
        assert!(cookie.len() >= 43);
        assert_eq!(created["expires_at"], app.now + 3600);
        // The cookie is stored only hashed.
        assert!(!app.store.snapshot().iter().any(|(_, k, v)| k.contains(cookie) || v.contains(cookie)));

        let r = app.call(admin(Method::Put, &format!("/admin/sessions/{sid}/clients/rp2"), None)).await;
        assert_eq!(body(&r)["clients"], json!(["rp1", "rp2"]));
        let r = app.call(admin(Method::Get, &format!("/admin/sessions/{sid}"), None)).await;
        assert_eq!(body(&r)["clients"], json!(["rp1", "rp2"]));
        assert!(body(&r).get("cookie").is_none() && body(&r).get("cookie_hash").is_none());

        app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "sid": "s-2"})))).await;
        app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "bob"})))).await;
        let r = app.call(admin(Method::Get, "/admin/sessions?sub=alice", None)).await;
        let listed = body(&r);
        let sids: Vec<&str> =
            listed["sessions"].as_array().unwrap().iter().map(|s| s["sid"].as_str().unwrap()).collect();
        assert_eq!(sids.len(), 2);
        assert!(sids.contains(&sid.as_str()) && sids.contains(&"s-2"));
        // Created again for the same user: its clients recorded, a cookie of its own (200); for
        // another user: a conflict.
        let again = json!({"sub": "alice", "sid": "s-2", "clients": ["rp2"]});
        let r = app.call(admin(Method::Post, "/admin/sessions", Some(again))).await;
        assert_eq!((r.status, body(&r)["clients"].clone()), (200, json!(["rp2"])));
        assert!(body(&r)["cookie"].is_string());
        let r = app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "bob", "sid": "s-2"})))).await;
        assert_eq!((r.status, body(&r)["error"].clone()), (409, json!("conflict")));
        assert_eq!(app.call(admin(Method::Get, "/admin/sessions", None)).await.status, 400);
    });
}

#[test]
fn admin_logout_of_a_session_and_of_a_user() {
    with_app(|app| async move {
        app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
        for sid in ["a1", "a2", "a3"] {
            let r = app
                .call(admin(
                    Method::Post,
                    "/admin/sessions",
                    Some(json!({"sub": "alice", "sid": sid, "clients": ["rp1"]})),
                ))
                .await;
            assert_eq!(r.status, 201);
        }
        app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "bob", "sid": "b1"})))).await;
        let r = app.call(admin(Method::Delete, "/admin/sessions/a1", None)).await;
        assert_eq!((r.status, body(&r)["sessions_ended"].clone()), (200, json!(["a1"])));
        assert_eq!(app.call(admin(Method::Get, "/admin/sessions/a1", None)).await.status, 404);
        assert_eq!(app.call(admin(Method::Delete, "/admin/sessions/a1", None)).await.status, 404);
        let r = app.call(admin(Method::Delete, "/admin/sessions?sub=alice", None)).await;
        assert_eq!(body(&r)["sessions_ended"], json!(["a2", "a3"]));
        assert_eq!(app.call(admin(Method::Get, "/admin/sessions/a2", None)).await.status, 404);
        assert_eq!(app.call(admin(Method::Get, "/admin/sessions/b1", None)).await.status, 200);
        assert_eq!(app.call(admin(Method::Delete, "/admin/sessions", None)).await.status, 400);
        // One re-check per logout, naming what ended.
        let rechecks = app.notified.rechecks();
        assert_eq!(rechecks.len(), 2);
        let sids = |i: usize| rechecks[i].sessions.iter().map(|s| s.sid.clone()).collect::<Vec<_>>();
        assert_eq!((rechecks[0].subject.as_deref(), sids(0)), (None, vec!["a1".to_string()]));
        assert_eq!(
            (rechecks[1].subject.as_deref(), sids(1)),
            (Some("alice"), vec!["a2".to_string(), "a3".to_string()])
        );
    });
}

/// What one request spent, counting every inline delivery at its worst (a failure): its KV
/// calls, its queue sends (the recorder's messages, and a send per 100 queued deliveries), and
/// its POSTs.
fn worst_spend(app: &TestApp, enqueued_before: usize, handed_before: usize) -> Spend {
    let inline = app.notified.inline_max.borrow().last().copied().unwrap_or(0);
    let handed = app.notified.handed.borrow().len() - handed_before;
    let queued = handed.saturating_sub(inline);
    let sends = app.notified.enqueued.borrow().len() - enqueued_before + queued.div_ceil(budget::QUEUE_BATCH_MAX);
    let delivered = handed.min(inline);
    let failures = if delivered > 0 { INLINE_ONCE + INLINE_DELIVERY * delivered } else { Spend::default() };
    Spend::services(app.store.subrequests() + sends) + failures
}

/// The counts [`worst_spend`] starts from.
fn marks(app: &TestApp) -> (usize, usize) {
    (app.notified.enqueued.borrow().len(), app.notified.handed.borrow().len())
}

#[test]
fn admin_logout_of_many_sessions_goes_page_by_page_within_the_subrequest_limit() {
    with_app(|app| async move {
        let ids: Vec<String> = (0..3).map(|i| format!("rp{i}")).collect();
        for id in &ids {
            app.call(admin(Method::Put, &format!("/admin/clients/{id}"), Some(rp(id)))).await;
        }
        let mut sids: Vec<String> = Vec::new();
        for i in 0..45 {
            let r = app
                .call(admin(
                    Method::Post,
                    "/admin/sessions",
                    Some(json!({"sub": "carol", "sid": format!("c{i:02}"), "clients": ids})),
                ))
                .await;
            assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
            sids.push(format!("c{i:02}"));
        }
        let (mut ended, mut pages, mut cursor) = (Vec::new(), 0, None::<String>);
        loop {
            let path = match &cursor {
                None => "/admin/sessions?sub=carol".to_string(),
                Some(c) => format!("/admin/sessions?sub=carol&cursor={}", crate::http::form::encode_component(c)),
            };
            let (e, h) = marks(app);
            let r = app.call(admin(Method::Delete, &path, None)).await;
            assert_eq!(r.status, 200);
            pages += 1;
            let worst = worst_spend(app, e, h);
            assert!(budget::PLAN.allows(worst), "page {pages}: {worst:?}");
            let b = body(&r);
            let page: Vec<String> = serde_json::from_value(b["sessions_ended"].clone()).unwrap();
            assert!(page.len() <= SUBJECT_LOGOUT_PAGE);
            ended.extend(page);
            cursor = b["cursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
            assert!(pages < 10, "the pages do not end");
        }
        assert_eq!(pages, 45usize.div_ceil(SUBJECT_LOGOUT_PAGE));
        ended.sort();
        assert_eq!(ended, sids, "every session ended exactly once");
        assert_eq!(body(&app.call(admin(Method::Get, "/admin/sessions?sub=carol", None)).await)["sessions"], json!([]));
        // Its KV calls no longer crowd out the POSTs: a full page still tells the default number
        // inline.
        assert_eq!(app.notified.inline_max.borrow()[0], DEFAULT_INLINE_MAX);
    });
}

#[test]
fn a_logout_of_many_relying_parties_stays_within_the_subrequest_limit() {
    with_app(|app| async move {
        let ids: Vec<String> = (0..200).map(|i| format!("rp{i}")).collect();
        for id in &ids {
            app.call(admin(Method::Put, &format!("/admin/clients/{id}"), Some(rp(id)))).await;
        }
        let r = app
            .call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "dan", "sid": "d1", "clients": ids}))))
            .await;
        assert_eq!(r.status, 201);
        let (e, h) = marks(app);
        let r = app.call(admin(Method::Delete, "/admin/sessions/d1", None)).await;
        assert_eq!(r.status, 200);
        let worst = worst_spend(app, e, h);
        assert!(budget::PLAN.allows(worst), "{worst:?}");
        assert_eq!(app.notified.inline_max.borrow()[0], DEFAULT_INLINE_MAX);
    });
}

#[test]
fn lists_failed_and_dead_deliveries() {
    with_app(|app| async move {
        use crate::config::BackchannelConfig;
        use crate::protocol::backchannel::plan::plan;
        use crate::protocol::backchannel::retry::{after_failure, record, Outcome};
        use crate::protocol::logout::LogoutEvent;
        use crate::state::clients::Client;
        let client: Client = serde_json::from_value(json!({
            "client_id": "rp1", "redirect_uris": [], "post_logout_redirect_uris": [],
            "backchannel_logout_uri": "https://rp1.example/bc", "backchannel_logout_session_required": true,
            "frontchannel_logout_session_required": false, "id_token_signed_response_alg": "RS256"
        }))
        .unwrap();
        let session = Session {
            sid: "s1".into(),
            sub: "alice".into(),
            clients: vec!["rp1".into()],
            created_at: 0,
            expires_at: app.now + 100,
            cookie_hash: String::new(),
            logout_hints: Vec::new(),
        };
        let d = plan(&LogoutEvent::of(None, vec![session]), &[client], || "d1".into()).remove(0);
        let cfg = BackchannelConfig::default();
        let next =
            after_failure(&cfg, &d, &Outcome::Retry { error: "HTTP 500".into(), after_s: None }, "n".into()).unwrap();
        record(&app.store, &next, app.now).await.unwrap();
        let r = app.call(admin(Method::Get, "/admin/deliveries?status=failed", None)).await;
        let listed = body(&r)["deliveries"].clone();
        assert_eq!(listed[0]["client_id"], "rp1");
        assert_eq!(listed[0]["sid"], "s1");
        assert_eq!(listed[0]["attempts"], 1);
        assert_eq!(listed[0]["last_error"], "HTTP 500");
        assert_eq!(listed[0]["next_attempt_at"], app.now + 10);
        let r = app.call(admin(Method::Get, "/admin/deliveries?status=dead", None)).await;
        assert_eq!(body(&r)["deliveries"], json!([]));
        assert_eq!(app.call(admin(Method::Get, "/admin/deliveries?status=x", None)).await.status, 400);
    });
}

#[test]
fn admin_api_is_off_without_a_token() {
    let mut settings = crate::testing::settings();
    settings.remove("ADMIN_TOKEN");
    crate::testing::with_settings(settings, |app| async move {
        let r = app.call(admin(Method::Get, "/admin/clients", None)).await;
        assert_eq!(r.status, 404);
    });
}

/// A session of alice with `sid`, created with rp1 and recording rp2 since (a `member/` key).
async fn session_with_a_member(app: &TestApp, sid: &str) {
    app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
    app.call(admin(Method::Put, "/admin/clients/rp2", Some(rp("rp2")))).await;
    let new = json!({"sub": "alice", "sid": sid, "clients": ["rp1"], "expires_in": 3600});
    assert_eq!(app.call(admin(Method::Post, "/admin/sessions", Some(new))).await.status, 201);
    let r = app.call(admin(Method::Put, &format!("/admin/sessions/{sid}/clients/rp2"), None)).await;
    assert_eq!(r.status, 200);
}

/// The expiry of every key of session `sid` (its record, its subject index, its members).
fn expiries_of(app: &TestApp, sid: &str) -> Vec<(String, Option<i64>)> {
    let keys = [format!("session/{sid}"), format!("member/{sid}/rp2")];
    let mut found: Vec<(String, Option<i64>)> = app
        .store
        .expirations()
        .into_iter()
        .map(|(_, k, exp)| (k, exp))
        .filter(|(k, _)| keys.contains(k) || (k.starts_with("subject/") && k.ends_with(&format!("/{sid}"))))
        .collect();
    found.sort();
    found
}

fn patch(sid: &str, expires_in: Value) -> crate::http::HttpRequest {
    admin(Method::Patch, &format!("/admin/sessions/{sid}"), Some(json!({ "expires_in": expires_in })))
}

#[test]
fn a_session_is_extended_with_its_index_and_recorded_clients() {
    with_app(|app| async move {
        session_with_a_member(app, "s1").await;
        let r = app.call(patch("s1", json!(30 * 24 * 3600))).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let expires_at = app.now + 30 * 24 * 3600;
        assert_eq!(body(&r)["expires_at"], expires_at);
        assert_eq!(body(&r)["clients"], json!(["rp1", "rp2"]));
        let keys = expiries_of(app, "s1");
        assert_eq!(keys.len(), 3, "{keys:?}");
        // KV keeps them past the logical expiry, for the cron to end the session as a logout.
        let kept = crate::state::sessions::kv_expires_at(expires_at);
        assert!(kept > expires_at && keys.iter().all(|(_, exp)| *exp == Some(kept)), "{keys:?}");
        let r = app.call(admin(Method::Get, "/admin/sessions/s1", None)).await;
        assert_eq!(
            (body(&r)["expires_at"].clone(), body(&r)["clients"].clone()),
            (json!(expires_at), json!(["rp1", "rp2"]))
        );
    });
}

#[test]
fn a_session_is_shortened_and_ends_then() {
    with_app(|app| async move {
        session_with_a_member(app, "s1").await;
        let r = app.call(patch("s1", json!(60))).await;
        assert_eq!((r.status, body(&r)["expires_at"].clone()), (200, json!(app.now + 60)));
        let kept = crate::state::sessions::kv_expires_at(app.now + 60);
        assert!(expiries_of(app, "s1").iter().all(|(_, exp)| *exp == Some(kept)));
        let r = app.call(admin(Method::Get, "/admin/sessions?sub=alice", None)).await;
        assert_eq!(body(&r)["sessions"][0]["expires_at"], app.now + 60);
    });
}

#[test]
fn an_ended_session_stays_ended_and_an_unknown_one_is_not_found() {
    with_app(|app| async move {
        session_with_a_member(app, "s1").await;
        assert_eq!(app.call(admin(Method::Delete, "/admin/sessions/s1", None)).await.status, 200);
        let before = (app.store.snapshot(), app.store.expirations());
        let r = app.call(patch("s1", json!(3600))).await;
        assert_eq!((r.status, body(&r)["error"].as_str()), (409, Some("session_ended")));
        let r = app.call(patch("nope", json!(3600))).await;
        assert_eq!((r.status, body(&r)["error"].as_str()), (404, Some("not_found")));
        assert_eq!((app.store.snapshot(), app.store.expirations()), before);
    });
}

#[test]
fn a_bad_expiry_changes_nothing() {
    with_app(|app| async move {
        session_with_a_member(app, "s1").await;
        let before = (app.store.snapshot(), app.store.expirations());
        let bodies = [
            json!({"expires_in": 59}),
            json!({"expires_in": 366 * 24 * 3600 + 1}),
            json!({"expires_in": "3600"}),
            json!({"expires_in": 1.5}),
            json!({}),
            json!({"expires_in": 3600, "sub": "mallory"}),
            json!([3600]),
        ];
        for b in bodies {
            let r = app.call(admin(Method::Patch, "/admin/sessions/s1", Some(b.clone()))).await;
            assert_eq!((r.status, body(&r)["error"].as_str()), (400, Some("invalid_request")), "{b}");
        }
        let mut not_json = patch("s1", json!(3600));
        not_json.headers.retain(|(n, _)| n != "content-type");
        assert_eq!(app.call(not_json).await.status, 415);
        let mut no_auth = patch("s1", json!(3600));
        no_auth.headers.retain(|(n, _)| n != "authorization");
        assert_eq!(app.call(no_auth).await.status, 401);
        assert_eq!((app.store.snapshot(), app.store.expirations()), before);
    });
}

/// The served OpenAPI document is JSON and describes exactly the admin routes and methods of
/// the routes table: a route or method without a description (or a description of none) fails.
#[test]
fn the_openapi_document_describes_every_admin_route_and_method() {
    with_app(|app| async move {
        let r = app.call(admin(Method::Get, "/admin/openapi.json", None)).await;
        assert_eq!((r.status, r.header("content-type")), (200, Some("application/json")));
        let doc = body(&r);
        assert!(doc["openapi"].as_str().unwrap().starts_with("3.1."));
        assert_eq!(doc["components"]["securitySchemes"]["adminToken"]["scheme"], "bearer");
        let paths = doc["paths"].as_object().unwrap();
        let mut described = 0;
        for route in crate::routes::admin_routes() {
            let path = route.template();
            let item = paths.get(path).unwrap_or_else(|| panic!("{path} is not described"));
            for method in route.methods() {
                let op = &item[method.as_str().to_ascii_lowercase()];
                assert!(op.is_object(), "{} {path} is not described", method.as_str());
                assert!(op["responses"]["401"].is_object(), "{} {path}: no 401", method.as_str());
                assert!(op["responses"]["429"].is_object(), "{} {path}: no 429", method.as_str());
                described += 1;
            }
            let methods: Vec<&String> = item.as_object().unwrap().keys().filter(|k| *k != "parameters").collect();
            assert_eq!(methods.len(), route.methods().len(), "{path}: {methods:?}");
        }
        assert_eq!(paths.len(), crate::routes::admin_routes().len(), "a described path that is no route");
        assert!(described >= 14);
        let mut no_auth = admin(Method::Get, "/admin/openapi.json", None);
        no_auth.headers.retain(|(n, _)| n != "authorization");
        assert_eq!(app.call(no_auth).await.status, 401);
    });
}

/// Every error code of the admin errors table is in the document's error schema.
#[test]
fn the_openapi_document_lists_every_error_code() {
    use super::errors::AdminError;
    use crate::http::errors::ErrorTable;
    let doc: Value = serde_json::from_str(super::OPENAPI_JSON).unwrap();
    let codes = &doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"];
    let all = [
        AdminError::Off,
        AdminError::Unauthorized,
        AdminError::NotFound("x"),
        AdminError::NotJson,
        AdminError::InvalidRequest(String::new()),
        AdminError::InvalidClientMetadata(String::new()),
        AdminError::SessionExists,
        AdminError::SessionEnded,
        AdminError::ClientDeleted,
        AdminError::TooManyFailures(60),
        AdminError::Storage(crate::ports::StoreError("x".into())),
    ];
    for e in all {
        assert!(codes.as_array().unwrap().contains(&json!(e.code())), "{e:?}: {}", e.code());
    }
}

/// What one page of a user-wide logout spends, at most, with `clients` distinct clients and
/// `tokens` deliveries of at most `token_bytes` each as queue messages: the sessions'
/// listing and bulk reads, per session a list, a tombstone and the deletes, the clients' bulk
/// reads, the outbox's write and removal, the re-check's send, and the queue sends.
fn subject_page(sessions: usize, clients: usize, tokens: usize, token_bytes: usize) -> Spend {
    use budget::{send_batches, BULK_READ_MAX, DELETES_PER_SESSION};
    let sends = send_batches(&vec![token_bytes; tokens]).len();
    Spend::services(
        1 + sessions.div_ceil(BULK_READ_MAX)
            + sessions * (2 + DELETES_PER_SESSION)
            + clients.div_ceil(BULK_READ_MAX)
            + 2
            + 1
            + sends,
    )
}

#[test]
fn a_full_page_of_subject_logout_fits_both_budgets() {
    use crate::state::sessions::MAX_CLIENTS_PER_SESSION;
    use budget::{affordable_inline, PLAN};
    // Every session with the most clients a session may have, each wanting a token per
    // session (backchannel_logout_session_required), messages of 2 KB: the queue sends then
    // go 100 per batch, and the whole page stays within the free plan with room left.
    let tokens = SUBJECT_LOGOUT_PAGE * MAX_CLIENTS_PER_SESSION;
    let spent = subject_page(SUBJECT_LOGOUT_PAGE, MAX_CLIENTS_PER_SESSION, tokens, 2_000);
    let inline = affordable_inline(PLAN, spent, Spend::default(), DEFAULT_INLINE_MAX);
    assert!(PLAN.allows(spent + INLINE_ONCE + INLINE_DELIVERY * inline), "{spent:?}");
    assert_eq!(inline, DEFAULT_INLINE_MAX, "and still the default inline: {spent:?}");
}

/// A request with a wrong bearer token from `ip`.
fn wrong_token_from(ip: &str) -> crate::http::HttpRequest {
    let mut r = crate::testing::request(Method::Get, "/admin/clients");
    r.headers.push(("authorization".into(), "Bearer not-the-admin-token".into()));
    r.headers.push(("cf-connecting-ip".into(), ip.into()));
    r
}

/// Guessing the admin token is rate-limited per address: past the limit, a 429 with
/// `Retry-After` and `Cache-Control: no-store` that changes nothing; the right token, or
/// another address, is never held back by it.
#[test]
fn admin_calls_failing_authentication_are_rate_limited_per_address_and_the_right_token_never() {
    use crate::http::ratelimit::Bucket;
    with_app(|app| async move {
        app.call(admin(Method::Put, "/admin/clients/rp1", Some(rp("rp1")))).await;
        let before = app.store.snapshot();
        for i in 0..Bucket::AdminAuthFailure.limit() {
            assert_eq!(app.call(wrong_token_from("203.0.113.7")).await.status, 401, "failure {i}");
        }
        let r = app.call(wrong_token_from("203.0.113.7")).await;
        assert_eq!(r.status, 429, "{}", String::from_utf8_lossy(&r.body));
        assert_eq!(body(&r)["error"], "too_many_requests");
        let wait: u32 = r.header("retry-after").expect("a Retry-After").parse().unwrap();
        assert!((1..=60).contains(&wait), "{wait}");
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(app.store.snapshot(), before);
        // The right token from the same address still works; another address still gets 401.
        let mut ok = admin(Method::Get, "/admin/clients", None);
        ok.headers.push(("cf-connecting-ip".into(), "203.0.113.7".into()));
        assert_eq!(app.call(ok).await.status, 200);
        assert_eq!(app.call(wrong_token_from("203.0.113.8")).await.status, 401);
    });
}

#[test]
fn with_rate_limits_off_failures_are_only_ever_401() {
    let mut s = crate::testing::settings();
    s.insert("RATE_LIMITS", "off".into());
    crate::testing::with_settings(s, |app| async move {
        for _ in 0..30 {
            assert_eq!(app.call(wrong_token_from("203.0.113.7")).await.status, 401);
        }
    });
}

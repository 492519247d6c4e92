//! The admin API on the host, with an in-memory store and the recording platform.

use serde_json::{json, Value};

use crate::budget::{DEFAULT_INLINE_MAX, SUBJECT_LOGOUT_PAGE, SUBREQUESTS_PER_DELIVERY, SUBREQUEST_LIMIT};
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
        let r = app.call(admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "sid": "s-2"})))).await;
        assert_eq!(r.status, 409);
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

/// Subrequests of one request, counting every inline delivery at its worst (a failure).
fn worst_subrequests(app: &TestApp) -> usize {
    let inline = app.notified.inline_max.borrow().last().copied().unwrap_or(0);
    app.store.subrequests() + inline * SUBREQUESTS_PER_DELIVERY
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
            let r = app.call(admin(Method::Delete, &path, None)).await;
            assert_eq!(r.status, 200);
            pages += 1;
            let worst = worst_subrequests(app);
            assert!(worst <= SUBREQUEST_LIMIT, "page {pages}: {worst} subrequests");
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
        // A full page leaves room for at most one inline delivery; the rest are queued.
        assert!(app.notified.inline_max.borrow()[0] <= 1);
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
        let r = app.call(admin(Method::Delete, "/admin/sessions/d1", None)).await;
        assert_eq!(r.status, 200);
        assert!(worst_subrequests(app) <= SUBREQUEST_LIMIT);
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
        };
        let d = plan(&LogoutEvent::Sessions(vec![session]), &[client], || "d1".into()).remove(0);
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

//! The end-session flow on the host, with an in-memory store: every row of the decision table
//! and every hint defect, from request to response and stored state.

use serde_json::{json, Value};

use crate::http::form::encode_component as enc;
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::keys::{generate, Alg, KeySet};
use crate::testing::{id_token_with, keys as test_keys, request, with_app, TestApp, ADMIN_TOKEN, ISSUER};

fn id_token(claims: Value) -> String {
    crate::testing::id_token(Alg::RS256, claims)
}

fn standard(sub: &str, sid: &str, aud: &str) -> Value {
    json!({"iss": ISSUER, "sub": sub, "sid": sid, "aud": aud})
}

async fn admin(app: &TestApp, method: Method, path: &str, body: Value) -> Value {
    let mut r = request(method, path);
    r.headers.push(("authorization".into(), format!("Bearer {ADMIN_TOKEN}")));
    r.headers.push(("content-type".into(), "application/json".into()));
    r.body = serde_json::to_vec(&body).unwrap();
    let resp = app.call(r).await;
    assert!(resp.status < 300, "{path}: {}", String::from_utf8_lossy(&resp.body));
    serde_json::from_slice(&resp.body).unwrap()
}

/// Two clients and a session of alice with both; returns (sid, cookie).
async fn setup(app: &TestApp) -> (String, String) {
    for id in ["rp1", "rp2"] {
        let body = json!({
            "post_logout_redirect_uris": [format!("https://{id}.example/bye"), format!("https://{id}.example/q?x=1")],
            "client_name": format!("App {id}"),
        });
        admin(app, Method::Put, &format!("/admin/clients/{id}"), body).await;
    }
    let s =
        admin(app, Method::Post, "/admin/sessions", json!({"sub": "alice", "clients": ["rp1", "rp2"], "sid": "sid-a"}))
            .await;
    (s["sid"].as_str().unwrap().to_string(), s["cookie"].as_str().unwrap().to_string())
}

fn get(query: &str, cookie: Option<&str>) -> HttpRequest {
    let mut r = request(Method::Get, &format!("/session/end?{query}"));
    if let Some(c) = cookie {
        r.headers.push(("cookie".into(), format!("op_session={c}")));
    }
    r
}

fn post(body: &str, cookie: Option<&str>) -> HttpRequest {
    let mut r = request(Method::Post, "/session/end");
    r.headers.push(("content-type".into(), "application/x-www-form-urlencoded".into()));
    r.body = body.as_bytes().to_vec();
    if let Some(c) = cookie {
        r.headers.push(("cookie".into(), c.to_string()));
    }
    r
}

fn html(r: &HttpResponse) -> String {
    String::from_utf8(r.body.clone()).unwrap()
}

fn hint_for(sid: &str) -> String {
    id_token(standard("alice", sid, "rp1"))
}

fn logout_query(hint: &str, uri: &str, state: &str) -> String {
    format!("id_token_hint={}&post_logout_redirect_uri={}&state={}", hint, enc(uri), enc(state))
}

async fn session_exists(app: &TestApp, sid: &str) -> bool {
    crate::state::sessions::load(&app.store, sid, app.now).await.unwrap().is_some()
}

/// The hidden token and the binding cookie of a confirmation page.
fn confirmation(r: &HttpResponse) -> (String, String) {
    assert_eq!(r.status, 200, "{}", html(r));
    let page = html(r);
    let start = page.find(r#"name="confirm" value=""#).expect("a confirm input") + r#"name="confirm" value=""#.len();
    let token = page[start..start + page[start..].find('"').unwrap()].to_string();
    let set = r.header_all("set-cookie").find(|c| c.starts_with(&binding_name())).expect("a binding cookie");
    let binding = set.split(';').next().unwrap().to_string();
    (token, binding)
}

/// `__Host-op_session_confirm=`: the test issuer is https.
fn binding_name() -> String {
    format!("{}=", super::confirm::binding_cookie_name(crate::testing::config()))
}

fn assert_cleared_cookie(r: &HttpResponse) {
    assert!(r
        .header_all("set-cookie")
        .any(|c| c.starts_with("op_session=;") && c.contains("Max-Age=0") && c.contains("Path=/")));
}

#[test]
fn valid_hint_for_the_browsers_session_logs_out_and_redirects_with_state() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let q = logout_query(&hint_for(&sid), "https://rp1.example/bye", "st-1");
        let r = app.call(get(&q, Some(&cookie))).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("https://rp1.example/bye?state=st-1"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_cleared_cookie(&r);
        let log = r.log.as_ref().expect("a log line").to_string();
        assert!(log.contains(r#""result":"logged_out""#) && log.contains(r#""client_id":"rp1""#), "{log}");
        assert!(!log.contains(&cookie) && !log.contains(&hint_for(&sid)[..40]), "no secrets in logs: {log}");
        assert!(!session_exists(app, &sid).await);
        assert!(admin_sessions_of(app, "alice").await.is_empty());
        let rechecks = app.notified.rechecks();
        assert_eq!(rechecks.len(), 1);
        assert_eq!(rechecks[0].sessions[0].notified, ["rp1", "rp2"]);
    });
}

async fn admin_sessions_of(app: &TestApp, sub: &str) -> Vec<Value> {
    let v = admin(app, Method::Get, &format!("/admin/sessions?sub={sub}"), Value::Null).await;
    v["sessions"].as_array().unwrap().clone()
}

#[test]
fn post_works_like_get() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let body = logout_query(&hint_for(&sid), "https://rp1.example/q?x=1", "s");
        let r = app.call(post(&body, Some(&format!("op_session={cookie}")))).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("https://rp1.example/q?x=1&state=s"));
        assert!(!session_exists(app, &sid).await);
    });
}

#[test]
fn a_128_character_state_round_trips_and_no_state_adds_none() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let state: String = (0..128).map(|i| b"AZaz09-._~!*'()"[i % 15] as char).collect();
        let r = app.call(get(&logout_query(&hint_for(&sid), "https://rp1.example/bye", &state), Some(&cookie))).await;
        let location = url::Url::parse(r.header("location").unwrap()).unwrap();
        let got: Vec<String> = location.query_pairs().filter(|(k, _)| k == "state").map(|(_, v)| v.into()).collect();
        assert_eq!(got, [state]);

        let (sid, cookie) = fresh_session(app, "alice").await;
        let q = format!("id_token_hint={}&post_logout_redirect_uri={}", hint_for(&sid), enc("https://rp1.example/bye"));
        let r = app.call(get(&q, Some(&cookie))).await;
        assert_eq!(r.header("location"), Some("https://rp1.example/bye"));
    });
}

async fn fresh_session(app: &TestApp, sub: &str) -> (String, String) {
    let s = admin(app, Method::Post, "/admin/sessions", json!({"sub": sub, "clients": ["rp1"]})).await;
    (s["sid"].as_str().unwrap().to_string(), s["cookie"].as_str().unwrap().to_string())
}

#[test]
fn an_expired_hint_is_accepted() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let old = id_token_with(test_keys(), Alg::RS256, standard("alice", &sid, "rp1"), 7 * 86400);
        let r = app.call(get(&logout_query(&old, "https://rp1.example/bye", "s"), Some(&cookie))).await;
        assert_eq!(r.status, 303);
        assert!(!session_exists(app, &sid).await);
    });
}

/// An `id_token_hint` whose `exp` is two days past (more than `HINT_MAX_AGE_S`, a day), sent
/// without the session's cookie: nothing ends, nothing is written, whether the session is
/// seen here or not; the relying party still gets its redirect. A current hint still can.
#[test]
fn a_hint_expired_two_days_ago_without_the_cookie_ends_nothing_but_still_redirects() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let two_days_past_exp = 2 * 86_400 + 3600;
        let old = |sid: &str| id_token_with(test_keys(), Alg::RS256, standard("alice", sid, "rp1"), two_days_past_exp);
        let before = app.store.snapshot();
        for (name, hint) in [("seen here", old(&sid)), ("not seen here", old("sid-elsewhere"))] {
            let q = logout_query(&hint, "https://rp1.example/bye", "s");
            for req in [get(&q, None), post(&q, None)] {
                let r = app.call(req).await;
                assert_eq!(r.status, 303, "{name}: {}", html(&r));
                assert_eq!(r.header("location"), Some("https://rp1.example/bye?state=s"), "{name}");
                assert_eq!(app.store.snapshot(), before, "{name}: wrote to the store");
            }
        }
        assert!(session_exists(app, &sid).await);
        assert!(app.notified.rechecks().is_empty(), "nothing ended unseen either");
        assert!(app.notified.handed.borrow().is_empty() && app.notified.enqueued.borrow().is_empty());
        // The same old hint with the browser's cookie ends the browser's session.
        let r = app.call(get(&logout_query(&old(&sid), "https://rp1.example/bye", "s"), Some(&cookie))).await;
        assert_eq!(r.status, 303);
        assert!(!session_exists(app, &sid).await);
        // A hint that expired within the day, without the cookie: asks, and "yes" ends it.
        let (sid, _) = fresh_session(app, "alice").await;
        let recent = id_token_with(test_keys(), Alg::RS256, standard("alice", &sid, "rp1"), 86_400 + 3600 - 60);
        let (token, binding) =
            confirmation(&app.call(post(&logout_query(&recent, "https://rp1.example/bye", "s"), None)).await);
        let r = app.call(post(&format!("confirm={token}&logout=yes"), Some(&binding))).await;
        assert_eq!(r.status, 303);
        assert!(!session_exists(app, &sid).await);
    });
}

/// A sibling subdomain can plant a second `op_session` cookie whose path puts it first (cookie
/// tossing). The first value must not win blindly: each is tried; the session the hint (or the
/// confirmation) names is the one at stake; several live sessions and nothing naming one of
/// them: refused, nothing ends; a stale or bogus value first does not hide the real one.
#[test]
fn a_planted_session_cookie_sent_first_does_not_decide_which_session_ends() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let (mallory_sid, mallory_cookie) = fresh_session(app, "mallory").await;
        let both = format!("op_session={mallory_cookie}; op_session={cookie}");
        let with = |cookies: &str, query: &str| {
            let mut r = request(Method::Get, &format!("/session/end?{query}"));
            r.headers.push(("cookie".into(), cookies.to_string()));
            r
        };
        // Nothing names either session: refused, nothing changed.
        let before = app.store.snapshot();
        let r = app.call(with(&both, "")).await;
        assert_eq!(r.status, 400, "{}", html(&r));
        assert!(r.header_all("set-cookie").next().is_none());
        assert_eq!(app.store.snapshot(), before);
        // A bogus value first: the real session is asked about.
        let r = app.call(with(&format!("op_session=bogus; op_session={cookie}"), "")).await;
        let (token, binding) = confirmation(&r);
        // Its confirmation names alice's session: "yes" ends it, even with mallory's planted first.
        let r = app.call(post(&format!("confirm={token}&logout=yes"), Some(&format!("{both}; {binding}")))).await;
        assert_eq!(r.status, 200, "{}", html(&r));
        assert!(!session_exists(app, &sid).await);
        assert!(session_exists(app, &mallory_sid).await, "the planted session is not the user's");
        // The hint names the user's session: that one ends at once.
        let (sid, cookie) = fresh_session(app, "alice").await;
        let both = format!("op_session={mallory_cookie}; op_session={cookie}");
        let r = app.call(with(&both, &logout_query(&hint_for(&sid), "https://rp1.example/bye", "s"))).await;
        assert_eq!(r.status, 303, "{}", html(&r));
        assert!(!session_exists(app, &sid).await);
        assert!(session_exists(app, &mallory_sid).await);
    });
}

/// Every defective request: 400, no redirect, nothing changed.
#[test]
fn defective_requests_are_refused_and_change_nothing() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let good = hint_for(&sid);
        let foreign =
            KeySet::parse(&json!({"keys": [generate::private_jwk(Alg::RS256, "test-rs256")]}).to_string(), None)
                .unwrap();
        let b64 = |b: &[u8]| {
            use base64::Engine;
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
        };
        let payload = b64(standard("alice", &sid, "rp1").to_string().as_bytes());
        let none = format!("{}.{payload}.", b64(br#"{"alg":"none"}"#));
        let hs = {
            let public = serde_json::to_vec(&test_keys().public_jwks()["keys"][0]).unwrap();
            let header = jwt_compact::Header::empty().with_key_id("test-rs256");
            use jwt_compact::AlgorithmExt;
            jwt_compact::alg::Hs256
                .token(
                    &header,
                    &jwt_compact::Claims::new(standard("alice", &sid, "rp1")),
                    &jwt_compact::alg::Hs256Key::new(public),
                )
                .unwrap()
        };
        let mut modified: Vec<String> = good.split('.').map(str::to_string).collect();
        modified[1] = b64(standard("bob", &sid, "rp1").to_string().as_bytes());
        let modified = modified.join(".");
        let future = id_token_with(test_keys(), Alg::RS256, standard("alice", &sid, "rp1"), -3600);
        let uri = "https://rp1.example/bye";
        let cases: Vec<(&str, String)> = vec![
            (
                "foreign key",
                logout_query(&id_token_with(&foreign, Alg::RS256, standard("alice", &sid, "rp1"), 60), uri, "s"),
            ),
            ("alg none", logout_query(&none, uri, "s")),
            ("HS256 with the public key", logout_query(&hs, uri, "s")),
            ("modified", logout_query(&modified, uri, "s")),
            ("iat in the future", logout_query(&future, uri, "s")),
            (
                "wrong iss",
                logout_query(
                    &id_token(json!({"iss": "https://evil.example", "sub": "alice", "sid": sid, "aud": "rp1"})),
                    uri,
                    "s",
                ),
            ),
            (
                "unknown aud",
                logout_query(&id_token(json!({"iss": ISSUER, "sub": "alice", "sid": sid, "aud": "rp9"})), uri, "s"),
            ),
            ("client_id mismatch", format!("{}&client_id=rp2", logout_query(&good, uri, "s"))),
            ("query appended", logout_query(&good, "https://rp1.example/bye?foo=bar", "s")),
            ("trailing slash", logout_query(&good, "https://rp1.example/bye/", "s")),
            ("another client's URI", logout_query(&good, "https://rp2.example/bye", "s")),
            ("case change", logout_query(&good, "https://RP1.example/bye", "s")),
            ("uri without hint or client_id", format!("post_logout_redirect_uri={}&state=s", enc(uri))),
            ("unknown client_id", format!("client_id=rp9&post_logout_redirect_uri={}", enc(uri))),
            ("client_id with another's uri", format!("client_id=rp2&post_logout_redirect_uri={}", enc(uri))),
            ("duplicate state", format!("{}&state=t", logout_query(&good, uri, "s"))),
            ("duplicate hint", format!("id_token_hint={good}&id_token_hint={good}")),
            ("bad percent-encoding", format!("{}&state=%ZZ", logout_query(&good, uri, "s").replace("&state=s", ""))),
            ("invalid UTF-8", "state=%C3%28".to_string()),
            ("garbage hint", "id_token_hint=abc".to_string()),
        ];
        let before = app.store.snapshot();
        for (name, q) in cases {
            for req in [get(&q, Some(&cookie)), post(&q, Some(&format!("op_session={cookie}")))] {
                let r = app.call(req).await;
                assert_eq!(r.status, 400, "{name}: {}", html(&r));
                assert!(r.header("location").is_none(), "{name}");
                assert_eq!(r.header("cache-control"), Some("no-store"));
                assert!(r.header("content-type").unwrap().starts_with("text/html"));
                assert!(r.header_all("set-cookie").next().is_none(), "{name}");
            }
            assert_eq!(app.store.snapshot(), before, "{name} changed the store");
        }
        assert!(app.notified.enqueued.borrow().is_empty() && app.notified.handed.borrow().is_empty());
    });
}

#[test]
fn errors_are_json_when_preferred() {
    with_app(|app| async move {
        setup(app).await;
        let mut r = get("id_token_hint=abc", None);
        r.headers.push(("accept".into(), "application/json".into()));
        let resp = app.call(r).await;
        assert_eq!(resp.status, 400);
        let v: Value = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(v["error"], "invalid_request");
        assert!(v["error_description"].as_str().unwrap().contains("id_token_hint"));
    });
}

#[test]
fn no_hint_asks_and_yes_logs_out_to_the_signed_out_page() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let r = app.call(get("", Some(&cookie))).await;
        let (token, binding) = confirmation(&r);
        assert!(session_exists(app, &sid).await, "asking ends nothing");
        assert!(html(&r).contains(r#"<form method="post" action="/session/end">"#));
        let set = r.header_all("set-cookie").find(|c| c.starts_with("__Host-op_session_confirm=")).unwrap();
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/;"));
        assert!(set.contains("Secure") && !set.contains("Domain"));

        let r = app
            .call(post(&format!("confirm={token}&logout=yes"), Some(&format!("op_session={cookie}; {binding}"))))
            .await;
        assert_eq!(r.status, 200);
        assert!(html(&r).contains("You are signed out"));
        assert_cleared_cookie(&r);
        assert!(!session_exists(app, &sid).await);
    });
}

#[test]
fn client_id_without_hint_asks_then_redirects() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let q = format!("client_id=rp1&post_logout_redirect_uri={}&state=abc", enc("https://rp1.example/bye"));
        let r = app.call(get(&q, Some(&cookie))).await;
        let (token, binding) = confirmation(&r);
        assert!(html(&r).contains("App rp1"));
        assert!(r.header("content-security-policy").unwrap().contains("form-action 'self' https://rp1.example"));
        let r = app
            .call(post(&format!("confirm={token}&logout=yes"), Some(&format!("op_session={cookie}; {binding}"))))
            .await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("https://rp1.example/bye?state=abc"));
        assert!(!session_exists(app, &sid).await);
    });
}

#[test]
fn no_ends_nothing_and_does_not_redirect() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let q = format!("client_id=rp1&post_logout_redirect_uri={}", enc("https://rp1.example/bye"));
        let (token, binding) = confirmation(&app.call(get(&q, Some(&cookie))).await);
        let r = app
            .call(post(&format!("confirm={token}&logout=no"), Some(&format!("op_session={cookie}; {binding}"))))
            .await;
        assert_eq!(r.status, 200);
        assert!(r.header("location").is_none());
        assert!(html(&r).contains("still signed in"));
        assert!(session_exists(app, &sid).await);
        assert!(r.header_all("set-cookie").next().is_none());
    });
}

/// A script looping "load the page, answer no" must not spend the daily KV writes: the answer
/// writes, deletes and lists nothing, however often it is replayed, and "yes" still works once.
#[test]
fn a_stay_signed_in_answer_writes_nothing_to_kv_however_often_it_is_sent() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let q = format!("client_id=rp1&post_logout_redirect_uri={}", enc("https://rp1.example/bye"));
        let (token, binding) = confirmation(&app.call(get(&q, Some(&cookie))).await);
        let cookies = format!("op_session={cookie}; {binding}");
        let before = app.store.expirations();
        app.store.take_counts();
        for _ in 0..3 {
            let r = app.call(post(&format!("confirm={token}&logout=no"), Some(&cookies))).await;
            assert_eq!(r.status, 200, "{}", html(&r));
            assert!(html(&r).contains("still signed in"));
        }
        let counts = app.store.take_counts();
        assert_eq!((counts.writes, counts.deletes, counts.lists), (0, 0, 0), "{counts:?}");
        assert_eq!(app.store.expirations(), before);
        assert!(session_exists(app, &sid).await);
        // Another browser's "no" is still refused.
        let r = app.call(post(&format!("confirm={token}&logout=no"), Some(&format!("op_session={cookie}")))).await;
        assert_eq!(r.status, 400);
        // "Yes" is still single use.
        let r = app.call(post(&format!("confirm={token}&logout=yes"), Some(&cookies))).await;
        assert_eq!(r.status, 303);
        assert!(!session_exists(app, &sid).await);
        let r = app.call(post(&format!("confirm={token}&logout=yes"), Some(&cookies))).await;
        assert_eq!(r.status, 400);
    });
}

/// Answers to the confirmation page are rate-limited per address: past the limit a 429 with
/// `Retry-After` and `Cache-Control: no-store`, whether "yes" or "no", that reads and writes
/// nothing and ends nothing; another address is not held back.
#[test]
fn answers_beyond_the_rate_limit_get_429_and_change_nothing() {
    use crate::http::ratelimit::Bucket;
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let (token, binding) = confirmation(&app.call(get("", Some(&cookie))).await);
        let cookies = format!("op_session={cookie}; {binding}");
        let from = |ip: &str, answer: &str| {
            let mut r = post(&format!("confirm={token}&logout={answer}"), Some(&cookies));
            r.headers.push(("cf-connecting-ip".into(), ip.into()));
            r
        };
        for i in 0..Bucket::EndSessionAnswer.limit() {
            assert_eq!(app.call(from("198.51.100.9", "no")).await.status, 200, "answer {i}");
        }
        let before = app.store.expirations();
        app.store.take_counts();
        for answer in ["no", "yes"] {
            let r = app.call(from("198.51.100.9", answer)).await;
            assert_eq!(r.status, 429, "{answer}: {}", html(&r));
            let wait: u32 = r.header("retry-after").expect("a Retry-After").parse().unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
            assert_eq!(r.header("cache-control"), Some("no-store"));
            assert!(r.header_all("set-cookie").next().is_none());
        }
        assert_eq!(app.store.take_counts(), Default::default(), "not a single KV operation");
        assert_eq!(app.store.expirations(), before);
        assert!(session_exists(app, &sid).await);
        // JSON when preferred.
        let mut r = from("198.51.100.9", "yes");
        r.headers.push(("accept".into(), "application/json".into()));
        let r = app.call(r).await;
        assert_eq!(r.status, 429);
        assert_eq!(serde_json::from_slice::<Value>(&r.body).unwrap()["error"], "too_many_requests");
        // Another address: answered as ever.
        let r = app.call(from("198.51.100.10", "yes")).await;
        assert_eq!(r.status, 200, "{}", html(&r));
        assert!(!session_exists(app, &sid).await);
    });
}

#[test]
fn confirmation_tokens_are_single_use_bound_and_required() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let (token, binding) = confirmation(&app.call(get("", Some(&cookie))).await);
        let with_cookie = format!("op_session={cookie}; {binding}");
        let before = app.store.snapshot();
        for (name, body, cookies) in [
            ("missing token", "logout=yes".to_string(), with_cookie.clone()),
            ("forged token", "confirm=forged&logout=yes".to_string(), with_cookie.clone()),
            ("no binding cookie", format!("confirm={token}&logout=yes"), format!("op_session={cookie}")),
            (
                "another browser's binding",
                format!("confirm={token}&logout=yes"),
                format!("op_session={cookie}; {}xyz", binding_name()),
            ),
            ("confirmed=true flag", "confirmed=true&logout=yes".to_string(), with_cookie.clone()),
        ] {
            let r = app.call(post(&body, Some(&cookies))).await;
            assert_eq!(r.status, 400, "{name}");
            assert_eq!(app.store.snapshot(), before, "{name}");
        }
        let r = app.call(post(&format!("confirm={token}&logout=yes"), Some(&with_cookie))).await;
        assert_eq!(r.status, 200);
        assert!(!session_exists(app, &sid).await);

        // Replayed: the token was used.
        let (sid2, cookie2) = fresh_session(app, "alice").await;
        let r = app
            .call(post(&format!("confirm={token}&logout=yes"), Some(&format!("op_session={cookie2}; {binding}"))))
            .await;
        assert_eq!(r.status, 400);
        assert!(session_exists(app, &sid2).await);

        // Expiry is covered in confirm::tests.
    });
}

#[test]
fn a_hint_from_another_session_or_user_asks_and_ends_only_the_browsers_session() {
    with_app(|app| async move {
        let (sid_a, cookie_a) = setup(app).await;
        let bob = admin(app, Method::Post, "/admin/sessions", json!({"sub": "bob", "clients": ["rp1"]})).await;
        let sid_b = bob["sid"].as_str().unwrap().to_string();
        let bobs_hint = id_token(standard("bob", &sid_b, "rp1"));
        let r = app.call(get(&logout_query(&bobs_hint, "https://rp1.example/bye", "s"), Some(&cookie_a))).await;
        let (token, binding) = confirmation(&r);
        let r = app
            .call(post(&format!("confirm={token}&logout=yes"), Some(&format!("op_session={cookie_a}; {binding}"))))
            .await;
        assert_eq!(r.status, 303);
        assert!(!session_exists(app, &sid_a).await);
        assert!(session_exists(app, &sid_b).await, "bob's session must survive alice's browser");

        // Another session of the same user: asks as well.
        let (sid_1, cookie_1) = fresh_session(app, "alice").await;
        let (sid_2, _) = fresh_session(app, "alice").await;
        let r = app.call(get(&logout_query(&hint_for(&sid_2), "https://rp1.example/bye", "s"), Some(&cookie_1))).await;
        confirmation(&r);
        assert!(session_exists(app, &sid_1).await && session_exists(app, &sid_2).await);
    });
}

#[test]
fn a_cross_site_post_without_cookie_asks_then_ends_the_hints_session() {
    with_app(|app| async move {
        let (sid, _cookie) = setup(app).await;
        let body = logout_query(&hint_for(&sid), "https://rp1.example/bye", "s");
        let r = app.call(post(&body, None)).await;
        let (token, binding) = confirmation(&r);
        assert!(session_exists(app, &sid).await);
        let r = app.call(post(&format!("confirm={token}&logout=yes"), Some(&binding))).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("https://rp1.example/bye?state=s"));
        assert!(!session_exists(app, &sid).await);
    });
}

#[test]
fn already_logged_out_is_not_an_error() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let q = logout_query(&hint_for(&sid), "https://rp1.example/bye", "s");
        assert_eq!(app.call(get(&q, Some(&cookie))).await.status, 303);
        // Same request again: the session is gone, the URI is still valid.
        let r = app.call(get(&q, Some(&cookie))).await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("https://rp1.example/bye?state=s"));
        // No parameters, no session: the signed-out page.
        let r = app.call(get("", None)).await;
        assert_eq!(r.status, 200);
        assert!(html(&r).contains("You are signed out"));
        // One logout; the second found the session's tombstone, and ended nothing.
        assert_eq!(app.notified.rechecks().len(), 1);
    });
}

#[test]
fn unknown_parameters_are_ignored() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let q = format!(
            "{}&foo=1&foo=2&logout_hint=alice&ui_locales=de",
            logout_query(&hint_for(&sid), "https://rp1.example/bye", "s")
        );
        assert_eq!(app.call(get(&q, Some(&cookie))).await.status, 303);
    });
}

#[test]
fn front_channel_frames_then_the_redirect() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let body = json!({
            "redirect_uris": ["https://rp1.example/cb"],
            "post_logout_redirect_uris": ["https://rp1.example/bye"],
            "frontchannel_logout_uri": "https://rp1.example/fc?k=v",
            "frontchannel_logout_session_required": true,
        });
        admin(app, Method::Put, "/admin/clients/rp1", body).await;
        let r = app.call(get(&logout_query(&hint_for(&sid), "https://rp1.example/bye", "s t"), Some(&cookie))).await;
        assert_eq!(r.status, 200, "{}", html(&r));
        let page = html(&r);
        let frame = format!(r#"src="https://rp1.example/fc?k=v&#38;iss=https%3A%2F%2Fid.example.com&#38;sid={sid}""#);
        assert!(page.contains(&frame), "{page}");
        assert_eq!(page.matches("<iframe").count(), 1, "rp2 has no front-channel URI");
        assert!(page.contains(r#"href="https://rp1.example/bye?state=s%20t""#));
        assert!(page.contains(r#"<meta http-equiv="refresh" content="3;url=https://rp1.example/bye?state=s%20t">"#));
        let csp = r.header("content-security-policy").unwrap();
        assert!(csp.contains("frame-src https://rp1.example;"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_cleared_cookie(&r);
        assert!(!session_exists(app, &sid).await);
    });
}

#[test]
fn pages_speak_the_requested_language() {
    with_app(|app| async move {
        let (_, cookie) = setup(app).await;
        let r = app.call(get("ui_locales=xx%20de-CH%20fr", Some(&cookie))).await;
        assert_eq!(r.header("content-language"), Some("de"));
        assert!(html(&r).contains(r#"<html lang="de">"#));
        assert!(html(&r).contains("Abmelden"));
        let mut req = get("", Some(&cookie));
        req.headers.push(("accept-language".into(), "es-ES,es;q=0.9,en;q=0.5".into()));
        assert_eq!(app.call(req).await.header("content-language"), Some("es"));
        let r = app.call(get("ui_locales=tlh", Some(&cookie))).await;
        assert_eq!((r.status, r.header("content-language")), (200, Some("en")));
        let r = app.call(get("ui_locales=fr&id_token_hint=bad", None)).await;
        assert_eq!((r.status, r.header("content-language")), (400, Some("fr")));
        assert!(html(&r).contains("jeton"));
    });
}

/// Asks for `query` in the browser of `cookie`, then answers "Stay signed in" after `between`
/// ran: the "still signed in" page.
async fn stay_signed_in<F: std::future::Future<Output = ()>>(
    app: &TestApp,
    query: &str,
    cookie: &str,
    between: impl FnOnce() -> F,
) -> HttpResponse {
    let (token, binding) = confirmation(&app.call(get(query, Some(cookie))).await);
    between().await;
    let r =
        app.call(post(&format!("confirm={token}&logout=no"), Some(&format!("op_session={cookie}; {binding}")))).await;
    assert_eq!(r.status, 200, "{}", html(&r));
    assert!(html(&r).contains("You are still signed in"));
    r
}

/// The "Back to ..." link of a page, if any: (href, label).
fn way_back(r: &HttpResponse) -> Option<(String, String)> {
    let page = html(r);
    let at = page.find(r#"<a id="back" href=""#)? + r#"<a id="back" href=""#.len();
    let (href, rest) = page[at..].split_once(r#"">"#)?;
    Some((href.to_string(), rest.split_once("</a>")?.0.to_string()))
}

#[test]
fn stay_signed_in_links_back_to_the_asking_clients_client_uri_only() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let body = json!({"client_name": "App <1>", "client_uri": "https://rp1.example/home?tab=a&b=1",
                          "post_logout_redirect_uris": ["https://rp1.example/bye"]});
        let stored = admin(app, Method::Put, "/admin/clients/rp1", body).await;
        assert_eq!(stored["client_uri"], "https://rp1.example/home?tab=a&b=1");
        let ask = format!("client_id=rp1&post_logout_redirect_uri={}", enc("https://rp1.example/bye"));

        let r = stay_signed_in(app, &ask, &cookie, || async {}).await;
        let expected = ("https://rp1.example/home?tab=a&#38;b=1".to_string(), "Back to App &#60;1&#62;".to_string());
        assert_eq!(way_back(&r), Some(expected));
        assert!(!html(&r).contains("rp1.example/bye"), "never the post-logout URI");
        assert!(!r.header("content-security-policy").unwrap().contains("rp1.example"));
        assert!(session_exists(app, &sid).await);

        // Another client of the session, without client_uri: no link.
        let r = stay_signed_in(app, "client_id=rp2", &cookie, || async {}).await;
        assert_eq!(way_back(&r), None);
        // No client named: no link.
        assert_eq!(way_back(&stay_signed_in(app, "", &cookie, || async {}).await), None);

        // The client is read when the user answers: a client_uri removed or a client deleted
        // meanwhile gives no link, a changed one the new one.
        let changed = || async {
            admin(app, Method::Put, "/admin/clients/rp1", json!({"client_uri": "https://rp1.example/new"})).await;
        };
        assert_eq!(
            way_back(&stay_signed_in(app, "client_id=rp1", &cookie, changed).await).unwrap().0,
            "https://rp1.example/new"
        );
        let removed = || async {
            admin(app, Method::Put, "/admin/clients/rp1", json!({})).await;
        };
        assert_eq!(way_back(&stay_signed_in(app, "client_id=rp1", &cookie, removed).await), None);
        let (token, binding) = confirmation(&app.call(get("client_id=rp1", Some(&cookie))).await);
        let mut delete = request(Method::Delete, "/admin/clients/rp1");
        delete.headers.push(("authorization".into(), format!("Bearer {ADMIN_TOKEN}")));
        assert_eq!(app.call(delete).await.status, 204);
        let r = app
            .call(post(&format!("confirm={token}&logout=no"), Some(&format!("op_session={cookie}; {binding}"))))
            .await;
        assert_eq!((r.status, way_back(&r)), (200, None));
        assert!(session_exists(app, &sid).await);
    });
}

#[test]
fn page_texts_add_a_locale_and_override_strings_escaped() {
    let mut s = crate::testing::settings();
    s.insert(
        "PAGE_TEXTS",
        r#"{"nl": {"confirm_title": "Afmelden bij {provider}?", "confirm_yes": "Afmelden",
                   "error_bad_hint": "Ongeldig token <b>\"x\"</b>"}}"#
            .into(),
    );
    crate::testing::with_settings(s, |app| async move {
        let (_, cookie) = setup(app).await;
        let r = app.call(get("ui_locales=nl", Some(&cookie))).await;
        assert_eq!(r.header("content-language"), Some("nl"));
        let page = html(&r);
        assert!(page.contains(r#"<html lang="nl">"#) && page.contains("Afmelden bij id.example.com?"), "{page}");
        assert!(page.contains(">Stay signed in</button>"), "English for a text nl does not give: {page}");
        let mut req = get("", Some(&cookie));
        req.headers.push(("accept-language".into(), "fr;q=0.5, nl-NL".into()));
        assert_eq!(app.call(req).await.header("content-language"), Some("nl"));
        let r = app.call(get("ui_locales=nl&id_token_hint=bad", None)).await;
        assert_eq!((r.status, r.header("content-language")), (400, Some("nl")));
        assert!(html(&r).contains("Ongeldig token &#60;b&#62;&#34;x&#34;&#60;/b&#62;"), "{}", html(&r));
    });
}

/// A logout token of the browser's own session, as this provider signs them for the
/// back-channel, is not an `id_token_hint`: 400, no confirmation, nothing ends.
#[test]
fn a_logout_token_as_hint_is_refused_and_ends_nothing() {
    use crate::protocol::backchannel::token::{assemble, signing_input, EVENT};
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let key = test_keys().signer(Alg::RS256).unwrap();
        let claims = json!({"iss": ISSUER, "aud": "rp1", "iat": app.now, "exp": app.now + 120, "jti": "j1",
            "sub": "alice", "sid": sid, "events": {EVENT: {}}});
        let input = signing_input(&key.kid, Alg::RS256, "logout+jwt", &claims);
        let logout_token = assemble(&input, &key.sign_bytes(input.as_bytes()));
        let mut untyped = claims.clone();
        for member in ["iat", "exp"] {
            untyped.as_object_mut().unwrap().remove(member);
        }
        let events_only = id_token(untyped);
        let before = app.store.snapshot();
        for (name, hint) in [("logout token", &logout_token), ("events claim without typ", &events_only)] {
            let q = logout_query(hint, "https://rp1.example/bye", "s");
            for req in [get(&q, Some(&cookie)), post(&q, None)] {
                let r = app.call(req).await;
                assert_eq!(r.status, 400, "{name}: {}", html(&r));
                assert!(html(&r).contains("logout token, not an ID token"), "{name}");
                assert!(r.header("location").is_none() && r.header_all("set-cookie").next().is_none(), "{name}");
            }
        }
        assert_eq!(app.store.snapshot(), before);
        assert!(session_exists(app, &sid).await);
        assert!(app.notified.handed.borrow().is_empty() && app.notified.enqueued.borrow().is_empty());
    });
}

/// Showing a confirmation page, in each of its ways, writes nothing to the store: the token is
/// signed, not stored.
#[test]
fn showing_a_confirmation_writes_nothing() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let before = app.store.snapshot();
        let q = format!("client_id=rp1&post_logout_redirect_uri={}", enc("https://rp1.example/bye"));
        let hint_query = logout_query(&hint_for(&sid), "https://rp1.example/bye", "s");
        for (name, req) in [
            ("no hint", get("", Some(&cookie))),
            ("client_id", get(&q, Some(&cookie))),
            ("cross-site POST with a hint", post(&hint_query, None)),
        ] {
            confirmation(&app.call(req).await);
            assert_eq!(app.store.snapshot(), before, "{name} wrote to the store");
        }
    });
}

/// Any byte of a confirmation token changed: refused, nothing ends, nothing is written.
#[test]
fn a_tampered_confirmation_token_is_refused() {
    with_app(|app| async move {
        let (sid, cookie) = setup(app).await;
        let (token, binding) = confirmation(&app.call(get("", Some(&cookie))).await);
        let cookies = format!("op_session={cookie}; {binding}");
        let before = app.store.snapshot();
        let flip = |i: usize| {
            let mut b = token.as_bytes().to_vec();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            String::from_utf8(b).unwrap()
        };
        // The payload's first and middle bytes, the tag's first and last.
        for i in [0, token.len() / 2, token.len() - 43, token.len() - 1] {
            let tampered = flip(i);
            let r = app.call(post(&format!("confirm={tampered}&logout=yes"), Some(&cookies))).await;
            assert_eq!(r.status, 400, "{}", html(&r));
            assert_eq!(app.store.snapshot(), before);
        }
        assert!(session_exists(app, &sid).await);
        let r = app.call(post(&format!("confirm={token}&logout=yes"), Some(&cookies))).await;
        assert_eq!(r.status, 200);
        assert!(!session_exists(app, &sid).await);
    });
}

/// The browser's session changed between the page and the answer: neither session ends, a
/// fresh confirmation asks about the current one, and answering that ends it alone.
#[test]
fn a_changed_browser_session_is_asked_about_again() {
    with_app(|app| async move {
        let (sid_a, cookie_a) = setup(app).await;
        let q = format!("client_id=rp1&post_logout_redirect_uri={}&state=x", enc("https://rp1.example/bye"));
        let (token, binding) = confirmation(&app.call(get(&q, Some(&cookie_a))).await);
        let (sid_b, cookie_b) = fresh_session(app, "alice").await;
        let r = app
            .call(post(&format!("confirm={token}&logout=yes"), Some(&format!("op_session={cookie_b}; {binding}"))))
            .await;
        let (token_b, binding_b) = confirmation(&r);
        assert!(html(&r).contains("App rp1"), "the fresh page names the same client");
        assert!(session_exists(app, &sid_a).await && session_exists(app, &sid_b).await, "neither ends");
        assert!(app.notified.handed.borrow().is_empty() && app.notified.enqueued.borrow().is_empty());
        // The first token is spent.
        let r = app
            .call(post(&format!("confirm={token}&logout=yes"), Some(&format!("op_session={cookie_a}; {binding}"))))
            .await;
        assert_eq!(r.status, 400);
        let r = app
            .call(post(&format!("confirm={token_b}&logout=yes"), Some(&format!("op_session={cookie_b}; {binding_b}"))))
            .await;
        assert_eq!(r.status, 303);
        assert_eq!(r.header("location"), Some("https://rp1.example/bye?state=x"));
        assert!(!session_exists(app, &sid_b).await && session_exists(app, &sid_a).await);
    });
}

//! Whole requests against the service (every route, with or without the admin token, the
//! browser's cookie and a confirmation binding): no panic, no 5xx, a refused request (4xx)
//! leaves the store as it was, and a redirect is the requested post-logout URI, registered for
//! a seeded client, to the byte, with only the requested `state` added.
#![no_main]

use edge_logout::http::{HttpRequest, Method};
use edge_logout::keys::Alg;
use edge_logout::testing::{self, ADMIN_TOKEN, COOKIE, ISSUER};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const PATHS: [&str; 8] = [
    "/session/end",
    "/.well-known/openid-configuration",
    "/jwks",
    "/admin/clients/rp1",
    "/admin/clients",
    "/admin/sessions",
    "/admin/sessions/sid-1",
    "/admin/sessions/sid-1/clients/rp2",
];
const METHODS: [Method; 6] = [Method::Get, Method::Post, Method::Put, Method::Delete, Method::Head, Method::Patch];

fuzz_target!(
    // Key generation (RSA) happens once, here, not in the first input's time.
    init: {
        testing::config();
    },
    |data: &[u8]| {
    let [selector, flags, rest @ ..] = data else { return };
    let mut parts = rest.splitn(3, |&b| b == 0xff);
    let (query, cookie, body) = (parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]), parts.next().unwrap_or(&[]));
    let mut headers = vec![];
    if flags & 1 != 0 {
        headers.push(("authorization".to_string(), format!("Bearer {ADMIN_TOKEN}")));
    }
    let mut cookies = String::from_utf8_lossy(cookie).into_owned();
    if flags & 2 != 0 {
        cookies.push_str(&format!("; op_session={COOKIE}"));
    }
    headers.push(("cookie".to_string(), cookies));
    let content_type = if flags & 4 != 0 { "application/json" } else { "application/x-www-form-urlencoded" };
    headers.push(("content-type".to_string(), content_type.to_string()));
    if flags & 8 != 0 {
        headers.push(("accept".to_string(), "application/json".to_string()));
    }
    // "@HINT@" stands for a valid id_token_hint of the seeded session, so that the fuzzer reaches
    // the logout paths too.
    let hint = || testing::id_token(Alg::RS256, json!({"iss": ISSUER, "sub": "alice", "sid": "sid-1", "aud": "rp1"}));
    let expand = |b: &[u8]| {
        let text = String::from_utf8_lossy(b).into_owned();
        if text.contains("@HINT@") { text.replace("@HINT@", &hint()) } else { text }
    };
    let req = HttpRequest {
        method: METHODS[(selector >> 4) as usize % METHODS.len()],
        path: PATHS[(selector & 0x0f) as usize % PATHS.len()].to_string(),
        query: Some(expand(query)),
        headers,
        body: if body.windows(6).any(|w| w == b"@HINT@") { expand(body).into_bytes() } else { body.to_vec() },
    };
    let store = testing::seeded_store();
    let before = store.snapshot();
    let resp = testing::call(&store, &req);
    assert!((200..500).contains(&resp.status), "status {}", resp.status);
    if resp.status >= 400 {
        assert_eq!(store.snapshot(), before, "a refused request changed the store");
    }
    if let Some(location) = resp.header("location") {
        // What the request asked for, read with a lenient decoder of its own (a request the
        // service accepted has each parameter once).
        let raw = if req.method == Method::Post { req.body.clone() } else { req.query.clone().unwrap_or_default().into_bytes() };
        let asked = |name: &str| {
            url::form_urlencoded::parse(&raw).find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).filter(|v| !v.is_empty())
        };
        let uri = asked("post_logout_redirect_uri").expect("a redirect was asked for");
        assert!(REGISTERED.contains(&uri.as_str()), "{uri} is not registered");
        let added = location.strip_prefix(uri.as_str()).unwrap_or_else(|| panic!("{location} is not {uri}"));
        match asked("state") {
            None => assert_eq!(added, ""),
            Some(state) => {
                let sep = if uri.contains('?') { "&state=" } else { "?state=" };
                let value = added.strip_prefix(sep).unwrap_or_else(|| panic!("{added}"));
                assert!(value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)), "{value}");
                let decoded: Vec<(String, String)> =
                    url::form_urlencoded::parse(&added.as_bytes()[1..]).map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                assert_eq!(decoded, [("state".to_string(), state)]);
            }
        }
    }
});

/// The post-logout URIs `testing::seeded_store` registers.
const REGISTERED: [&str; 4] =
    ["https://rp1.example/bye", "https://rp1.example/q?x=1", "https://rp2.example/bye", "https://rp2.example/q?x=1"];

//! Whole requests against the service (every route and OPTIONS, with or without the admin
//! token, the browser's cookie, and a confirmation: "@CONFIRM@" stands for the token of a
//! confirmation page asked for just before, whose binding cookie is sent): no panic, no 5xx, a
//! refused request (4xx) leaves the store as it was, and where the user is sent next (a
//! redirect's Location, or the front-channel page's continue link) is the requested
//! post-logout URI, registered for the named client (client_id, or the hint's audience) and for
//! no other, to the byte, with only the requested `state` added; without a requested URI, no
//! redirect and no continue link.
#![no_main]

use edge_logout::http::{HttpRequest, Method};
use edge_logout::keys::Alg;
use edge_logout::testing::{self, ADMIN_TOKEN, COOKIE, ISSUER};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

const PATHS: [&str; 14] = [
    "/session/end",
    "/.well-known/openid-configuration",
    "/jwks",
    "/admin/clients/rp1",
    "/admin/clients",
    "/admin/sessions",
    "/admin/sessions/sid-1",
    "/admin/sessions/sid-1/clients/rp2",
    "/admin/deliveries",
    "/admin/deliveries/d-1",
    "/admin/deliveries/d-1/retry",
    "/admin/openapi.json",
    "/session/end",
    "/nowhere",
];
const METHODS: [Method; 8] =
    [Method::Get, Method::Post, Method::Put, Method::Delete, Method::Head, Method::Patch, Method::Options, Method::Get];

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
    let store = testing::seeded_store();
    // A confirmation page first (the browser's session, no hint): its token stands in for
    // "@CONFIRM@", its binding cookie goes with the request.
    let mut token = String::new();
    if flags & 16 != 0 {
        let mut ask = testing::request(Method::Get, "/session/end");
        ask.headers.push(("cookie".to_string(), format!("op_session={COOKIE}")));
        let page = testing::call(&store, &ask);
        let html = String::from_utf8_lossy(&page.body).into_owned();
        token = between(&html, r#"name="confirm" value=""#, "\"").unwrap_or_default();
        for set in page.headers.iter().filter(|(k, _)| k == "set-cookie") {
            let pair = set.1.split(';').next().unwrap_or_default();
            headers.iter_mut().filter(|(k, _)| k == "cookie").for_each(|(_, v)| v.push_str(&format!("; {pair}")));
        }
    }
    let fill = |b: &[u8]| {
        let text = expand(b);
        if text.contains("@CONFIRM@") { text.replace("@CONFIRM@", &token) } else { text }
    };
    let special = |b: &[u8]| b.windows(6).any(|w| w == b"@HINT@") || b.windows(9).any(|w| w == b"@CONFIRM@");
    let req = HttpRequest {
        method: METHODS[(selector >> 4) as usize % METHODS.len()],
        path: PATHS[(selector & 0x0f) as usize % PATHS.len()].to_string(),
        query: Some(fill(query)),
        headers,
        body: if special(body) { fill(body).into_bytes() } else { body.to_vec() },
    };
    let before = store.snapshot();
    let resp = testing::call(&store, &req);
    assert!((200..500).contains(&resp.status), "status {}", resp.status);
    if resp.status >= 400 {
        assert_eq!(store.snapshot(), before, "a refused request changed the store");
    }
    // Where the user goes next: the redirect, or the front-channel page's continue link.
    let html = String::from_utf8_lossy(&resp.body).into_owned();
    let continue_link = between(&html, r#"<a id="continue" href=""#, "\"").map(|h| unescape(&h));
    if resp.header("location").is_some() || continue_link.is_some() {
        assert!(!(resp.header("location").is_some() && continue_link.is_some()), "both a redirect and a continue link");
    }
    let next = resp.header("location").map(str::to_string).or(continue_link);
    if let Some(location) = next.as_deref() {
        // What the request asked for, read with a lenient decoder of its own (a request the
        // service accepted has each parameter once). A confirmed logout goes where the
        // confirmation page was asked to (the first step, which asks for none).
        let raw = if req.method == Method::Post { req.body.clone() } else { req.query.clone().unwrap_or_default().into_bytes() };
        let asked = |name: &str| {
            url::form_urlencoded::parse(&raw).find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).filter(|v| !v.is_empty())
        };
        let uri = asked("post_logout_redirect_uri").expect("sent on without a post_logout_redirect_uri asked for");
        // The named client: client_id, else the hint's audience (rp1; the hint is rp1's).
        let named = asked("client_id").or_else(|| asked("id_token_hint").map(|_| "rp1".to_string()));
        let named = named.expect("sent to a post-logout URI without a named client");
        let registered = match named.as_str() {
            "rp1" => &REGISTERED[..2],
            "rp2" => &REGISTERED[2..],
            other => panic!("sent on for a client that is not registered: {other}"),
        };
        assert!(registered.contains(&uri.as_str()), "{uri} is not registered for {named}");
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

/// The text between `start` and the next `end` in `s`.
fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let from = s.find(start)? + start.len();
    let to = s[from..].find(end)? + from;
    Some(s[from..to].to_string())
}

/// The page's HTML escapes of an attribute value, undone (askama: `&#38;` and friends).
fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
}

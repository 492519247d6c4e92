//! Query and form decoding: never panics; whatever decodes re-encodes to the same pairs.
#![no_main]

use edge_logout::end_session::params;
use edge_logout::form;
use edge_logout::http::{HttpRequest, Method};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = form::parse(data) {
        let encoded: Vec<String> =
            pairs.iter().map(|(n, v)| format!("{}={}", form::encode_component(n), form::encode_component(v))).collect();
        assert_eq!(form::parse(encoded.join("&").as_bytes()).unwrap(), pairs);
    }
    for method in [Method::Get, Method::Post] {
        let req = HttpRequest {
            method,
            path: "/session/end".into(),
            query: Some(String::from_utf8_lossy(data).into_owned()),
            headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
            body: data.to_vec(),
        };
        let _ = params::parse(&req);
    }
});

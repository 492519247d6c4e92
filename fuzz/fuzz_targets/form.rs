//! Query and form decoding: never panics; whatever decodes re-encodes to the same pairs; and an
//! end-session request means the same as a GET query and as a POST form.
#![no_main]

use edge_logout::http::form;
use edge_logout::http::{HttpRequest, Method};
use edge_logout::protocol::end_session::params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(pairs) = form::parse(data) {
        let encoded: Vec<String> =
            pairs.iter().map(|(n, v)| format!("{}={}", form::encode_component(n), form::encode_component(v))).collect();
        assert_eq!(form::parse(encoded.join("&").as_bytes()).unwrap(), pairs);
    }
    let request = |method| HttpRequest {
        method,
        path: "/session/end".into(),
        query: Some(String::from_utf8_lossy(data).into_owned()),
        headers: vec![("content-type".into(), "application/x-www-form-urlencoded".into())],
        body: data.to_vec(),
    };
    let get = params::parse(&request(Method::Get));
    let post = params::parse(&request(Method::Post));
    // A query is text: only a UTF-8 input is the same request both ways. A POST with `confirm`
    // or `logout` is a confirmation answer (or an incomplete one), which a GET never is.
    let answer =
        matches!(post, Ok(params::EndSessionRequest::Confirm(_)) | Err(params::ParamError::IncompleteConfirmation));
    if std::str::from_utf8(data).is_ok() && !answer {
        assert_eq!(get, post, "GET and POST read {:?} differently", String::from_utf8_lossy(data));
    }
});

//! The fetch event's crossing: the runtime's request read into an [`HttpRequest`] (its body
//! refused past [`MAX_BODY_BYTES`]), and an [`HttpResponse`] written back. The head of the
//! request and the whole response each cross in one call (http.js says why).

use serde::Deserialize;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::worker_sys::web_sys;
use worker::Request;

use crate::http::errors::{ErrorTable, RequestError};
use crate::http::{HttpRequest, HttpResponse, Method, MAX_BODY_BYTES};

#[wasm_bindgen(module = "/src/edge/http.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestHead, catch)]
    fn request_head(req: &web_sys::Request) -> Result<String, JsValue>;
    #[wasm_bindgen(catch)]
    fn respond(status: u16, headers: &str, body: &[u8]) -> Result<web_sys::Response, JsValue>;
}

/// What http.js's `requestHead` reads of a request.
#[derive(Deserialize)]
struct Head {
    method: String,
    path: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
}

pub async fn read_request(req: web_sys::Request) -> Result<HttpRequest, HttpResponse> {
    let Some(head) = request_head(&req).ok().and_then(|h| serde_json::from_str::<Head>(&h).ok()) else {
        return Err(HttpResponse::json_error(400, "invalid_request", "bad URL"));
    };
    // The raw method: worker's own Method type reads methods it does not know as GET.
    let method = Method::parse(&head.method);
    let declared = head
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, l)| l.parse::<usize>().ok());
    // Refused before reading when declared; a chunked body is refused while it is read.
    if declared.is_some_and(|l| l > MAX_BODY_BYTES) {
        return Err(RequestError::BodyTooLarge.json());
    }
    let body = match method {
        Method::Post | Method::Put | Method::Patch | Method::Delete => read_body(&mut Request::from(req)).await?,
        _ => Vec::new(),
    };
    Ok(HttpRequest { method, path: head.path, query: head.query, headers: head.headers, body })
}

/// The body, read chunk by chunk and given up as soon as it passes [`MAX_BODY_BYTES`] (413):
/// at most the limit is kept, whatever the sender declared or did not. No body reads as empty,
/// and so does a body whose stream broke (as `bytes()` did before).
async fn read_body(req: &mut Request) -> std::result::Result<Vec<u8>, HttpResponse> {
    use futures::StreamExt;
    let Ok(mut stream) = req.stream() else { return Ok(Vec::new()) };
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { return Ok(Vec::new()) };
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(RequestError::BodyTooLarge.json());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub fn write_response(r: HttpResponse) -> worker::Result<web_sys::Response> {
    let headers = serde_json::to_string(&r.headers)?;
    respond(r.status, &headers, &r.body).map_err(worker::Error::from)
}

//! The fetch event's crossing: the runtime's request read into an [`HttpRequest`] (its body
//! refused past [`MAX_BODY_BYTES`]), and an [`HttpResponse`] written back.

use worker::{Headers, Request, Response, Result};

use crate::http::errors::{ErrorTable, RequestError};
use crate::http::{HttpRequest, HttpResponse, Method, MAX_BODY_BYTES};

pub async fn read_request(mut req: Request) -> std::result::Result<HttpRequest, HttpResponse> {
    let url = req.url().map_err(|_| HttpResponse::json_error(400, "invalid_request", "bad URL"))?;
    // The raw method: worker's own Method type reads methods it does not know as GET.
    let method = Method::parse(&req.inner().method());
    let headers: Vec<(String, String)> = req.headers().entries().collect();
    let declared = req.headers().get("content-length").ok().flatten().and_then(|l| l.parse::<usize>().ok());
    // Refused before reading when declared; a chunked body is refused while it is read.
    if declared.is_some_and(|l| l > MAX_BODY_BYTES) {
        return Err(RequestError::BodyTooLarge.json());
    }
    let body = match method {
        Method::Post | Method::Put | Method::Patch | Method::Delete => read_body(&mut req).await?,
        _ => Vec::new(),
    };
    Ok(HttpRequest { method, path: url.path().to_string(), query: url.query().map(str::to_string), headers, body })
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

pub fn write_response(r: HttpResponse) -> Result<Response> {
    let headers = Headers::new();
    for (name, value) in &r.headers {
        headers.append(name, value)?;
    }
    let resp = if r.body.is_empty() { Response::empty()? } else { Response::from_bytes(r.body)? };
    Ok(resp.with_status(r.status).with_headers(headers))
}

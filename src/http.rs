//! Platform-free HTTP values: what the worker layer hands to the protocol logic and gets back.

use serde::Serialize;

/// Largest request body accepted (answered 413 beyond).
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// Longest request URL accepted (answered 414 beyond).
pub const MAX_URL_BYTES: usize = 8 * 1024;

/// The parts of a request the protocol logic reads. Header names are lower-case.
#[derive(Debug, Clone, Default)]
pub struct HttpRequest {
    pub method: Method,
    pub path: String,
    /// The raw query string, without the `?`, exactly as received (not decoded).
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The media type of the body, lower-case, without parameters.
    pub fn content_type(&self) -> Option<String> {
        self.header("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    #[default]
    Get,
    Head,
    Post,
    Put,
    Delete,
    Patch,
    Options,
    Other,
}

impl Method {
    pub fn parse(s: &str) -> Method {
        match s.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        }
    }
}

/// A response, with the security headers every answer of this service carries already set.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// One structured log line about what this request did (the worker layer prints it, with
    /// timing). Never a token, key, cookie or secret.
    pub log: Option<serde_json::Value>,
}

/// Content-Security-Policy for responses that are not pages (JSON, redirects): nothing may load.
const CSP_NONE: &str = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

impl HttpResponse {
    pub fn new(status: u16) -> Self {
        HttpResponse {
            status,
            headers: vec![
                ("cache-control".into(), "no-store".into()),
                ("pragma".into(), "no-cache".into()),
                ("x-content-type-options".into(), "nosniff".into()),
                ("referrer-policy".into(), "no-referrer".into()),
                ("x-frame-options".into(), "DENY".into()),
                ("content-security-policy".into(), CSP_NONE.into()),
            ],
            body: Vec::new(),
            log: None,
        }
    }

    pub fn json<T: Serialize>(status: u16, value: &T) -> Self {
        let body = serde_json::to_vec(value).expect("serialising a JSON value cannot fail");
        HttpResponse::new(status).with_header("content-type", "application/json").with_body(body)
    }

    /// A JSON error in the OAuth shape `{"error", "error_description"}`.
    pub fn json_error(status: u16, error: &str, description: &str) -> Self {
        HttpResponse::json(status, &serde_json::json!({ "error": error, "error_description": description }))
    }

    pub fn html(status: u16, body: String) -> Self {
        HttpResponse::new(status).with_header("content-type", "text/html; charset=utf-8").with_body(body.into_bytes())
    }

    /// A 303 See Other: the browser follows it with a GET whatever the request method was.
    pub fn see_other(location: &str) -> Self {
        HttpResponse::new(303).with_header("location", location)
    }

    /// Sets a header, replacing any header of the same name.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    /// Adds a header, keeping others of the same name (`set-cookie`).
    pub fn append_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn with_log(mut self, log: serde_json::Value) -> Self {
        self.log = Some(log);
        self
    }

    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A `q` weight (RFC 9110 12.4.2: `"0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]`) in thousandths,
/// 0 to 1000. Parsed to the grammar rather than as a float: exact, and no float parser in the wasm.
pub fn qvalue(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths =
        frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The `q` parameter among a list item's parameters: 1000 when absent, `None` when malformed.
pub fn weight<'a>(mut params: impl Iterator<Item = &'a str>) -> Option<u16> {
    match params.find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q="))) {
        None => Some(1000),
        Some(q) => qvalue(q.trim()),
    }
}

/// Whether the client prefers JSON to HTML, by the `Accept` header's q-values (RFC 9110 12.5.1).
pub fn prefers_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (mut json, mut html) = (None::<u16>, None::<u16>);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        // A malformed weight counts as the default, as before: the item is still named.
        let q = weight(parts).unwrap_or(1000);
        match media.as_str() {
            "application/json" => json = Some(json.map_or(q, |j| j.max(q))),
            "text/html" => html = Some(html.map_or(q, |h| h.max(q))),
            _ => {}
        }
    }
    match (json, html) {
        (Some(j), Some(h)) => j > h,
        (Some(j), None) => j > 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues_follow_the_grammar() {
        for (q, want) in [
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.001", Some(1)),
            ("0.", Some(0)),
            ("1.", Some(1000)),
        ] {
            assert_eq!(qvalue(q), want, "{q}");
        }
        for q in ["", "2", "1.001", "0.0001", "-0.5", ".5", "0.5x", "01", "0,5", "1e0", "NaN", "inf"] {
            assert_eq!(qvalue(q), None, "{q}");
        }
        assert_eq!(weight(["a=b", " q=0.3"].into_iter()), Some(300));
        assert_eq!(weight(std::iter::empty()), Some(1000));
        assert_eq!(weight(["q=x"].into_iter()), None);
    }

    #[test]
    fn json_preference_follows_q_values() {
        assert!(prefers_json(Some("application/json")));
        assert!(prefers_json(Some("text/html;q=0.5, application/json")));
        assert!(!prefers_json(Some("text/html, application/json;q=0.9")));
        assert!(!prefers_json(Some("text/html,application/xhtml+xml,*/*;q=0.8")));
        assert!(!prefers_json(Some("application/json;q=0")));
        assert!(!prefers_json(None));
    }

    #[test]
    fn every_response_is_not_cacheable_and_not_frameable() {
        let r = HttpResponse::json(200, &serde_json::json!({}));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    }

    #[test]
    fn with_header_replaces_and_append_keeps() {
        let r = HttpResponse::new(200)
            .with_header("Cache-Control", "x")
            .append_header("set-cookie", "a=1")
            .append_header("set-cookie", "b=2");
        assert_eq!(r.header_all("cache-control").count(), 1);
        assert_eq!(r.header_all("set-cookie").collect::<Vec<_>>(), ["a=1", "b=2"]);
    }
}

//! A response, with the security headers every answer of this service carries already set.

use serde::Serialize;

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
        HttpResponse::json_bytes(status, serde_json::to_vec(value).expect("serialising a JSON value cannot fail"))
    }

    /// A JSON answer whose body is serialised already (a body kept per isolate).
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        HttpResponse::new(status).with_header("content-type", "application/json").with_body(body)
    }

    /// A JSON error in the OAuth shape `{"error", "error_description"}`, serialised straight
    /// from its two strings (no JSON value built first).
    pub fn json_error(status: u16, error: &str, description: &str) -> Self {
        #[derive(Serialize)]
        struct OAuthError<'a> {
            error: &'a str,
            error_description: &'a str,
        }
        HttpResponse::json(status, &OAuthError { error, error_description: description })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_response_is_not_cacheable_and_not_frameable() {
        let r = HttpResponse::json(200, &serde_json::json!({}));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.header("x-frame-options"), Some("DENY"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert!(r.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    }

    /// The OAuth error shape, serialised from its strings: the same bytes as the JSON value
    /// it was built as before.
    #[test]
    fn a_json_error_has_the_oauth_members_in_order() {
        let r = HttpResponse::json_error(400, "invalid_request", "a \"quoted\" reason");
        let expected = serde_json::json!({"error": "invalid_request", "error_description": "a \"quoted\" reason"});
        assert_eq!(r.body, serde_json::to_vec(&expected).unwrap());
        assert_eq!(r.header("content-type"), Some("application/json"));
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

//! How an endpoint's errors become answers. Each endpoint has one error enum whose variants
//! each name, in one table, their HTTP status, their error code (the OAuth shape
//! `{"error", "error_description"}`) and their description; [`ErrorTable::json`] renders them.
//! [`RequestError`] is the table of what is refused before any endpoint runs.

use super::request::{Method, MAX_BODY_BYTES, MAX_URL_BYTES};
use super::response::HttpResponse;

/// One endpoint's errors, each a row: status, code, description.
pub trait ErrorTable {
    fn status(&self) -> u16;
    fn code(&self) -> &'static str;
    /// Plain words, safe to show: never a key, a token or a stored value.
    fn description(&self) -> String;

    /// The JSON error answer.
    fn json(&self) -> HttpResponse {
        HttpResponse::json_error(self.status(), self.code(), &self.description())
    }
}

/// What the storage said when it failed is logged, never shown.
pub const STORAGE_UNAVAILABLE: &str = "the storage did not answer; try again";

/// Refused before an endpoint runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestError {
    NoSuchRoute,
    MethodNotAllowed { method: Method, allow: Vec<Method> },
    BodyTooLarge,
    UrlTooLong,
}

impl ErrorTable for RequestError {
    fn status(&self) -> u16 {
        match self {
            RequestError::NoSuchRoute => 404,
            RequestError::MethodNotAllowed { .. } => 405,
            RequestError::BodyTooLarge => 413,
            RequestError::UrlTooLong => 414,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            RequestError::NoSuchRoute => "not_found",
            _ => "invalid_request",
        }
    }

    fn description(&self) -> String {
        match self {
            RequestError::NoSuchRoute => "no such resource".into(),
            RequestError::MethodNotAllowed { method, .. } => format!("{} is not allowed here", method.as_str()),
            RequestError::BodyTooLarge => format!("the request body is larger than {} KB", MAX_BODY_BYTES / 1024),
            RequestError::UrlTooLong => format!("the URL is longer than {} KB", MAX_URL_BYTES / 1024),
        }
    }

    fn json(&self) -> HttpResponse {
        let response = HttpResponse::json_error(self.status(), self.code(), &self.description());
        match self {
            RequestError::MethodNotAllowed { allow, .. } => {
                let allow: Vec<&str> = allow.iter().map(|m| m.as_str()).collect();
                response.with_header("allow", &allow.join(", "))
            }
            _ => response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_request_error_has_its_status_and_words() {
        let r = RequestError::MethodNotAllowed { method: Method::Post, allow: vec![Method::Get, Method::Head] }.json();
        assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
        assert!(String::from_utf8_lossy(&r.body).contains("POST is not allowed here"));
        assert_eq!(RequestError::BodyTooLarge.description(), "the request body is larger than 16 KB");
        assert_eq!(RequestError::UrlTooLong.description(), "the URL is longer than 8 KB");
        assert_eq!(RequestError::NoSuchRoute.json().status, 404);
    }
}

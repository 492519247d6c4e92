//! The admin API's errors, in one table: status, error code and description. JSON only:
//! `{"error", "error_description"}`. Nothing changes on an error.

use serde_json::json;

use crate::http::errors::{ErrorTable, STORAGE_UNAVAILABLE};
use crate::http::HttpResponse;
use crate::ports::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminError {
    /// `ADMIN_TOKEN` is not set: the API does not exist.
    Off,
    Unauthorized,
    NotFound(&'static str),
    NotJson,
    InvalidRequest(String),
    InvalidClientMetadata(String),
    SessionExists,
    /// The session has ended: its `sid` is never live again.
    SessionEnded,
    /// The delivery's client was deleted (or no longer has a back-channel URI): cancelled.
    ClientDeleted,
    /// Too many calls from this client failed authentication lately: wait this many seconds.
    TooManyFailures(u32),
    Storage(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError::Storage(e)
    }
}

/// A 400 `invalid_request` with these words.
pub fn invalid(description: impl Into<String>) -> AdminError {
    AdminError::InvalidRequest(description.into())
}

impl ErrorTable for AdminError {
    fn status(&self) -> u16 {
        match self {
            AdminError::Off | AdminError::NotFound(_) => 404,
            AdminError::Unauthorized => 401,
            AdminError::NotJson => 415,
            AdminError::InvalidRequest(_) | AdminError::InvalidClientMetadata(_) => 400,
            AdminError::SessionExists | AdminError::SessionEnded | AdminError::ClientDeleted => 409,
            AdminError::TooManyFailures(_) => 429,
            AdminError::Storage(_) => 503,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            AdminError::Off | AdminError::NotFound(_) => "not_found",
            AdminError::Unauthorized => "invalid_token",
            AdminError::NotJson | AdminError::InvalidRequest(_) => "invalid_request",
            AdminError::InvalidClientMetadata(_) => "invalid_client_metadata",
            AdminError::SessionExists => "conflict",
            AdminError::SessionEnded => "session_ended",
            AdminError::ClientDeleted => "client_deleted",
            AdminError::TooManyFailures(_) => "too_many_requests",
            AdminError::Storage(_) => "temporarily_unavailable",
        }
    }

    fn description(&self) -> String {
        match self {
            AdminError::Off => "the admin API is off: ADMIN_TOKEN is not set".into(),
            AdminError::Unauthorized => "a valid admin bearer token is required".into(),
            AdminError::NotFound(what) => format!("no such {what}"),
            AdminError::NotJson => "the body must be application/json".into(),
            AdminError::InvalidRequest(d) | AdminError::InvalidClientMetadata(d) => d.clone(),
            AdminError::SessionExists => "a session with this sid exists".into(),
            AdminError::SessionEnded => "this session has ended; a new login needs a new sid".into(),
            AdminError::ClientDeleted => "the delivery's client was deleted: the delivery is cancelled".into(),
            AdminError::TooManyFailures(s) => {
                format!("too many calls from this address failed authentication; try again in {s} s")
            }
            AdminError::Storage(_) => STORAGE_UNAVAILABLE.into(),
        }
    }

    fn json(&self) -> HttpResponse {
        let response = HttpResponse::json_error(self.status(), self.code(), &self.description());
        match self {
            AdminError::Unauthorized => response.with_header("www-authenticate", "Bearer realm=\"edge-logout-admin\""),
            AdminError::TooManyFailures(s) => response
                .with_header("retry-after", &s.to_string())
                .with_log(json!({ "event": "rate_limited", "bucket": "admin_auth_failure" })),
            // The detail goes to the log, not to the caller.
            AdminError::Storage(e) => response.with_log(json!({ "event": "storage_error", "error": e.0 })),
            _ => response,
        }
    }
}

//! The errors of the end-session endpoint, in one table: status, error code, the words of the
//! error page, and the description (plain words: never which key or what was expected).
//! Errors never redirect (RP-Initiated Logout 1.0, section 3).

use std::fmt;

use serde_json::json;

use super::hint::HintError;
use super::params::ParamError;
use crate::http::errors::{ErrorTable, STORAGE_UNAVAILABLE};
use crate::ports::StoreError;
use crate::state::confirmations::{Pending, Redeemed};
use crate::ui::i18n::Texts;

/// Why the decision refuses a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    UnknownClient,
    /// A `post_logout_redirect_uri` with neither hint nor `client_id` to check it against.
    RedirectWithoutClient,
    RedirectNotRegistered,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rejection::UnknownClient => "the client is not registered",
            Rejection::RedirectWithoutClient => {
                "post_logout_redirect_uri needs an id_token_hint or a client_id to be checked against"
            }
            Rejection::RedirectNotRegistered => "post_logout_redirect_uri is not registered for this client",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessionError {
    BadRequest(ParamError),
    BadHint(HintError),
    Refused(Rejection),
    /// The confirmation token is unknown, expired or already used.
    ConfirmationInvalid,
    /// A live confirmation token presented by another browser.
    ConfirmationOtherBrowser,
    /// The browser sent several session cookies naming live sessions, none of them the one at
    /// stake: one may have been planted by a sibling subdomain, so none is ended.
    AmbiguousCookie,
    Storage(StoreError),
}

/// What a confirmation token carries, or why it is refused.
pub fn redeemed(r: Redeemed) -> Result<Pending, EndSessionError> {
    match r {
        Redeemed::Valid(p) => Ok(p),
        Redeemed::Invalid => Err(EndSessionError::ConfirmationInvalid),
        Redeemed::OtherBrowser => Err(EndSessionError::ConfirmationOtherBrowser),
    }
}

impl From<StoreError> for EndSessionError {
    fn from(e: StoreError) -> Self {
        EndSessionError::Storage(e)
    }
}

impl ErrorTable for EndSessionError {
    fn status(&self) -> u16 {
        match self {
            EndSessionError::Storage(_) => 503,
            _ => 400,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            EndSessionError::Storage(_) => "temporarily_unavailable",
            _ => "invalid_request",
        }
    }

    fn description(&self) -> String {
        match self {
            EndSessionError::BadRequest(e) => e.to_string(),
            EndSessionError::BadHint(e) => e.to_string(),
            EndSessionError::Refused(r) => r.to_string(),
            EndSessionError::ConfirmationInvalid => "the confirmation has expired or was already used".into(),
            EndSessionError::ConfirmationOtherBrowser => "the confirmation was not issued to this browser".into(),
            EndSessionError::AmbiguousCookie => {
                "the browser sent session cookies of several sessions: which one to end is unclear, so none was ended"
                    .into()
            }
            EndSessionError::Storage(_) => STORAGE_UNAVAILABLE.into(),
        }
    }
}

impl EndSessionError {
    /// What kind of problem it is, for the log and the words of the page.
    pub fn problem(&self) -> &'static str {
        match self {
            EndSessionError::BadRequest(_) => "bad_request",
            EndSessionError::BadHint(_) => "bad_hint",
            EndSessionError::Refused(Rejection::UnknownClient) => "unknown_client",
            EndSessionError::Refused(_) => "bad_redirect",
            EndSessionError::ConfirmationInvalid | EndSessionError::ConfirmationOtherBrowser => "confirmation",
            EndSessionError::AmbiguousCookie => "ambiguous_cookie",
            EndSessionError::Storage(_) => "unavailable",
        }
    }

    /// The page's text for this problem.
    pub fn text<'t>(&self, t: &'t Texts) -> &'t str {
        match self {
            EndSessionError::BadRequest(_) => &t.error_bad_request,
            EndSessionError::BadHint(_) => &t.error_bad_hint,
            EndSessionError::Refused(Rejection::UnknownClient) => &t.error_unknown_client,
            EndSessionError::Refused(_) => &t.error_bad_redirect,
            EndSessionError::ConfirmationInvalid | EndSessionError::ConfirmationOtherBrowser => &t.error_confirmation,
            EndSessionError::AmbiguousCookie => &t.error_bad_request,
            EndSessionError::Storage(_) => &t.error_unavailable,
        }
    }

    /// The detail shown under the page's text: none for a storage failure, whose detail is
    /// only logged.
    pub fn detail(&self) -> Option<String> {
        match self {
            EndSessionError::Storage(_) => None,
            _ => Some(self.description()),
        }
    }

    /// The log line: what was refused and why, or what the storage said.
    pub fn log(&self) -> serde_json::Value {
        match self {
            EndSessionError::Storage(e) => json!({"event": "storage_error", "error": e.0}),
            _ => {
                json!({"event": "logout", "result": "refused", "problem": self.problem(), "detail": self.description()})
            }
        }
    }
}

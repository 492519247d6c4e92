//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0). A request goes
//! [`params`] (parse) → [`flow`] (gather the facts once: hint, client, sessions, cookies,
//! language) → [`decision`] (pure) → effect (end sessions, or store a confirmation:
//! [`confirm`]) → render (a redirect, a page or a JSON error, [`errors`]). Errors never
//! redirect.

pub mod confirm;
pub mod decision;
pub mod errors;
mod flow;
pub mod hint;
pub mod params;

pub use flow::handle;

/// Whether `req` is an answer to the confirmation page (what the answers' rate limit counts).
pub fn is_answer(req: &crate::http::HttpRequest) -> bool {
    matches!(params::parse(req), Ok(params::EndSessionRequest::Confirm(_)))
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

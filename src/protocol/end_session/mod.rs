//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0). A request goes
//! [`params`] (parse) → [`flow`] → render; each of its two steps (the request, and the user's
//! answer on the confirmation page) gathers every read it needs at once (the verified [`hint`],
//! the browser's session, the session it names, the client), decides in one pure function
//! ([`decision`]), then acts (ends the session through `protocol::logout`, or signs a
//! confirmation: [`confirm`]) and renders (a redirect, a page or a JSON error, [`errors`]).
//! Errors never redirect.

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

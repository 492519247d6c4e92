//! The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0). `flow::handle` takes a
//! request through four phases, one module each, each called once: [`gather`] (the request's
//! [`params`] and cookies, the verified [`hint`] or the confirmation token, the browser's
//! session, the session at stake, the clients), [`decision`] (pure, one result type per step:
//! the request, and the user's answer on the confirmation page), `act` (the token spent, the
//! session ended through `protocol::logout`, or a confirmation signed: [`confirm`]) and `render`
//! (a redirect, a page or a JSON error, [`errors`]). Errors never redirect.

mod act;
pub mod confirm;
pub mod decision;
pub mod errors;
mod flow;
pub mod gather;
pub mod hint;
pub mod params;
mod render;

pub use flow::handle;

/// Whether `req` is an answer to the confirmation page (what the answers' rate limit counts).
pub fn is_answer(req: &crate::http::HttpRequest) -> bool {
    matches!(params::parse(req), Ok(params::EndSessionRequest::Confirm(_)))
}

#[cfg(test)]
mod properties;
#[cfg(test)]
mod tests;

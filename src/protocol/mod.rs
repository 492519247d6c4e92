//! The three logout specs and the ending of sessions, free of the platform: what a request
//! means, what to answer, which tokens to send. Imports `ports`, `state`, `config`, `keys`,
//! `http`, `ui`, `routes` and `budget`; never `admin`, `app` or the runtime.
//!
//! - [`end_session`]: RP-Initiated Logout 1.0 (the `end_session_endpoint`);
//! - [`backchannel`]: Back-Channel Logout 1.0 (logout tokens, their delivery and retries);
//! - [`frontchannel`]: Front-Channel Logout 1.0 (the frames of the signed-out page);
//! - [`consumer`]: what the queue consumer does with each message;
//! - [`logout`]: ending sessions, the one place where they are deleted and their relying
//!   parties handed to the platform;
//! - [`expiry`]: the cron's ending of sessions that reached their expiry, as logouts.

pub mod backchannel;
pub mod consumer;
pub mod end_session;
pub mod expiry;
pub mod frontchannel;
pub mod logout;

#[cfg(test)]
mod convergence;

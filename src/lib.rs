//! edge-logout: the logout half of an OpenID Provider, as a Cloudflare Worker.
//!
//! The layout, from the bottom up (a module imports only modules below it; `tests/layers.rs`
//! checks that no two top-level modules import each other, directly or in a cycle):
//! - [`http`], [`keys`], [`budget`]: HTTP values and codecs, the provider's keys, the
//!   subrequest budget. They import nothing of the crate's but each other's leaves.
//! - [`ui`]: the pages a person sees and their words.
//! - [`config`]: the typed settings.
//! - [`state`]: everything stored in KV (sessions, clients, confirmations, deliveries), each key
//!   built and documented there, behind the [`state::store::Store`] trait.
//! - [`ports`]: what a request is handled with ([`ports::Ctx`]) and what the protocol asks of
//!   the runtime beyond storage ([`ports::Platform`]).
//! - [`protocol`]: the three logout specs (RP-initiated, back-channel, front-channel) and the
//!   ending of sessions.
//! - [`routes`] and [`admin`]: which route a request names; the admin API.
//! - [`app`]: the service as one function from request to response.
//! - `edge`: the only code that touches the Workers runtime (wasm32 only).

pub mod admin;
pub mod app;
pub mod budget;
pub mod config;
pub mod http;
pub mod keys;
pub mod ports;
pub mod protocol;
pub mod routes;
pub mod state;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod ui;

#[cfg(target_arch = "wasm32")]
mod edge;

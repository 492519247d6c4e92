//! edge-logout: the logout half of an OpenID Provider, as a Cloudflare Worker.
//!
//! Everything but [`edge`] is plain Rust that decides what the specs require and unit-tests on
//! the host; [`edge`] is the thin layer that talks to the Workers runtime (requests, KV, fetch).

pub mod admin;
pub mod app;
pub mod backchannel;
pub mod clients;
pub mod config;
pub mod cookies;
pub mod end_session;
pub mod form;
pub mod frontchannel;
pub mod http;
pub mod i18n;
pub mod keys;
pub mod logout;
pub mod pages;
pub mod router;
pub mod sessions;
pub mod store;
#[cfg(any(test, feature = "test-support"))]
pub mod testing;
pub mod uris;

#[cfg(target_arch = "wasm32")]
mod edge;

#[cfg(test)]
mod properties;

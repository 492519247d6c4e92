//! Platform-free HTTP: the request and response values the worker layer and the protocol logic
//! exchange, the errors every endpoint shares, and the codecs (forms, cookies, JSON bodies,
//! URIs, content negotiation). Imports nothing of the crate's outside `http/`.

pub mod cookies;
pub mod errors;
pub mod form;
pub mod json;
pub mod negotiate;
pub mod ratelimit;
mod request;
mod response;
pub mod uris;

pub use negotiate::prefers_json;
pub use request::{HttpRequest, Method, MAX_BODY_BYTES, MAX_URL_BYTES};
pub use response::HttpResponse;

//! The admin API: the login system and operators register clients, record sessions, extend and
//! end them, and see deliveries that failed; `openapi.json` (OpenAPI 3.1, served at
//! `/admin/openapi.json`) describes it all. JSON in and out; errors are
//! `{"error", "error_description"}` ([`errors`]); nothing changes on an error. Behind a bearer
//! token compared in constant time.
//!
//! May import `protocol` (ending sessions), `state`, `ports`, `routes`, `http`, `config`,
//! `budget`; nothing imports `admin` but `app`.

mod clients;
mod deliveries;
pub mod errors;
mod sessions;
#[cfg(test)]
mod tests;

use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::http::errors::ErrorTable;
use crate::http::ratelimit::{self, Bucket};
use crate::http::{form, json, HttpRequest, HttpResponse};
use crate::ports::{Ctx, Platform, Store};
use crate::routes::AdminCall;
use errors::{invalid, AdminError};

/// What an admin call answers: a response, or an error of the table.
type Answer = Result<HttpResponse, AdminError>;

/// Handles an admin call (the route's method already checked by `routes`).
pub async fn handle<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, call: AdminCall, req: &HttpRequest) -> HttpResponse {
    dispatch(ctx, call, req).await.unwrap_or_else(|e| e.json())
}

async fn dispatch<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, call: AdminCall, req: &HttpRequest) -> Answer {
    let token = ctx.config.admin_token.as_deref().ok_or(AdminError::Off)?;
    if !authorized(req, token) {
        // Only failures are counted: a caller with the right token is never limited.
        if ctx.config.rate_limits {
            let client = ratelimit::client_key(req.header("cf-connecting-ip"));
            if let Some(wait) = ctx.platform.over_limit(Bucket::AdminAuthFailure, &client, ctx.now).await {
                return Err(AdminError::TooManyFailures(wait));
            }
        }
        return Err(AdminError::Unauthorized);
    }
    match call {
        AdminCall::ListClients => clients::list(ctx, req).await,
        AdminCall::PutClient(id) => clients::put(ctx, &id, req).await,
        AdminCall::GetClient(id) => clients::get(ctx, &id).await,
        AdminCall::DeleteClient(id) => clients::delete(ctx, &id).await,
        AdminCall::CreateSession => sessions::create(ctx, req).await,
        AdminCall::ListSessions => sessions::list(ctx, req).await,
        AdminCall::GetSession(sid) => sessions::get(ctx, &sid).await,
        AdminCall::ExtendSession(sid) => sessions::extend(ctx, &sid, req).await,
        AdminCall::EndSession(sid) => sessions::end(ctx, &sid).await,
        AdminCall::EndSubject => sessions::end_subject(ctx, req).await,
        AdminCall::AddClient { sid, client_id } => sessions::add_client(ctx, &sid, &client_id).await,
        AdminCall::ListDeliveries => deliveries::list(ctx, req).await,
        AdminCall::RetryDelivery(id) => deliveries::retry(ctx, &id).await,
        AdminCall::AcknowledgeDelivery(id) => deliveries::acknowledge(ctx, &id).await,
        AdminCall::OpenApi => Ok(openapi()),
    }
}

/// The OpenAPI 3.1 document of the admin API: a static file compiled in, copied per request.
pub const OPENAPI_JSON: &str = include_str!("openapi.json");

fn openapi() -> HttpResponse {
    HttpResponse::new(200).with_header("content-type", "application/json").with_body(OPENAPI_JSON.as_bytes().to_vec())
}

/// Compares the bearer token with the configured one in constant time: both are hashed first,
/// so neither their contents nor their lengths show in the timing.
fn authorized(req: &HttpRequest, expected: &str) -> bool {
    let Some(given) = req.header("authorization").and_then(|h| {
        let (scheme, token) = h.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
    }) else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    bool::from(a.ct_eq(&b))
}

/// A query parameter's value, if given; an undecodable query is a 400.
fn query_param(req: &HttpRequest, name: &str) -> Result<Option<String>, AdminError> {
    let pairs = form::parse(req.query.as_deref().unwrap_or("").as_bytes()).map_err(|e| invalid(e.to_string()))?;
    Ok(pairs.into_iter().find(|(n, _)| n == name).map(|(_, v)| v))
}

/// Whether the body is declared JSON: a 415 otherwise.
fn require_json(req: &HttpRequest) -> Result<(), AdminError> {
    match req.content_type().as_deref() {
        Some("application/json") => Ok(()),
        _ => Err(AdminError::NotJson),
    }
}

/// A JSON object body read into `T` (see [`json::object`]), or the 400 that says why not.
fn json_body<T: DeserializeOwned>(req: &HttpRequest) -> Result<T, AdminError> {
    require_json(req)?;
    json::object(&req.body).map_err(|e| invalid(e.to_string()))
}

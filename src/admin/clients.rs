//! `/admin/clients`: the client registry.

use serde_json::json;

use super::errors::AdminError;
use super::{query_param, require_json, Answer};
use crate::http::{HttpRequest, HttpResponse};
use crate::ports::{Ctx, Store};
use crate::state::clients::{self, Client};

/// Clients one listing page shows.
const PAGE: u32 = 100;

pub async fn list<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let cursor = query_param(req, "cursor")?;
    let (found, cursor) = clients::page(ctx.store, cursor, PAGE).await?;
    Ok(HttpResponse::json(200, &json!({ "clients": found, "cursor": cursor })))
}

/// Registers or replaces a client: 201 when new, 200 when replaced.
pub async fn put<S: Store, N>(ctx: &Ctx<'_, S, N>, id: &str, req: &HttpRequest) -> Answer {
    require_json(req)?;
    let c = ctx.config;
    let client = Client::from_registration(id, &req.body, c.uri_policy, &c.keys.signing_algs())
        .map_err(|e| AdminError::InvalidClientMetadata(e.0))?;
    let existed = clients::exists(ctx.store, id).await?;
    clients::save(ctx.store, &client).await?;
    Ok(HttpResponse::json(if existed { 200 } else { 201 }, &client))
}

pub async fn get<S: Store, N>(ctx: &Ctx<'_, S, N>, id: &str) -> Answer {
    let client = clients::load(ctx.store, id).await?.ok_or(AdminError::NotFound("client"))?;
    Ok(HttpResponse::json(200, &client))
}

pub async fn delete<S: Store, N>(ctx: &Ctx<'_, S, N>, id: &str) -> Answer {
    clients::load(ctx.store, id).await?.ok_or(AdminError::NotFound("client"))?;
    clients::delete(ctx.store, id).await?;
    Ok(HttpResponse::new(204))
}

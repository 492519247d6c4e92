//! `/admin/deliveries`: back-channel deliveries that failed and will be retried
//! (`status=failed`), or were given up (`status=dead`).

use serde_json::json;

use super::errors::invalid;
use super::{query_param, Answer};
use crate::http::{HttpRequest, HttpResponse};
use crate::ports::{Ctx, Store};
use crate::state::deliveries::{self, DeliveryStatus};

/// Deliveries one listing page shows.
const PAGE: u32 = 100;

pub async fn list<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let status = match query_param(req, "status")? {
        Some(s) => DeliveryStatus::parse(&s).ok_or_else(|| invalid("status must be failed or dead"))?,
        None => return Err(invalid("the query parameter status (failed or dead) is required")),
    };
    let cursor = query_param(req, "cursor")?;
    let (records, cursor) = deliveries::page(ctx.store, status, cursor, PAGE).await?;
    let views: Vec<_> = records.iter().map(|r| r.view()).collect();
    Ok(HttpResponse::json(200, &json!({ "deliveries": views, "cursor": cursor })))
}

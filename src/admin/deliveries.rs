//! `/admin/deliveries`: back-channel deliveries handed to the queue and not attempted yet
//! (`status=queued`), that failed and will be retried (`status=failed`), were given up
//! (`status=dead`), or were cancelled because their client was deleted (`status=cancelled`); a
//! dead one is driven again or acknowledged by an operator.

use serde_json::json;

use super::errors::{invalid, AdminError};
use super::{query_param, Answer};
use crate::http::{HttpRequest, HttpResponse};
use crate::ports::{Ctx, Platform, Store};
use crate::protocol::backchannel::retry;
use crate::state::clients;
use crate::state::deliveries::{self, DeliveryRecord, DeliveryStatus};

/// Deliveries one listing page shows.
const PAGE: u32 = 100;

pub async fn list<S: Store, N>(ctx: &Ctx<'_, S, N>, req: &HttpRequest) -> Answer {
    let status = match query_param(req, "status")? {
        Some(s) => {
            DeliveryStatus::parse(&s).ok_or_else(|| invalid("status must be queued, failed, dead or cancelled"))?
        }
        None => return Err(invalid("the query parameter status (queued, failed, dead or cancelled) is required")),
    };
    let cursor = query_param(req, "cursor")?;
    let (records, cursor) = deliveries::page(ctx.store, status, cursor, PAGE).await?;
    let views: Vec<_> = records.iter().map(|r| r.view()).collect();
    Ok(HttpResponse::json(200, &json!({ "deliveries": views, "cursor": cursor })))
}

/// Drives a dead delivery again: a fresh attempt now (a new token), to its client's current
/// back-channel URI; a failure goes through the retries as a new delivery would. Its client
/// deleted: the delivery is cancelled (409 `client_deleted`).
pub async fn retry<S: Store, N: Platform>(ctx: &Ctx<'_, S, N>, id: &str) -> Answer {
    let dead =
        deliveries::load(ctx.store, DeliveryStatus::Dead, id).await?.ok_or(AdminError::NotFound("dead delivery"))?;
    let client = clients::load(ctx.store, &dead.delivery.client_id).await?;
    let Some(mut again) = retry::current(&dead.delivery, client.as_ref(), ctx.config.session_events.as_ref()) else {
        deliveries::save(ctx.store, &DeliveryRecord::cancelled(dead.delivery.clone(), ctx.now)).await?;
        deliveries::forget(ctx.store, DeliveryStatus::Dead, id).await?;
        return Err(AdminError::ClientDeleted);
    };
    again.attempt = 1;
    again.nonce = None;
    again.issued_at = None;
    again.redriven = 0;
    again.last_error = None;
    let handoff = ctx.platform.deliver(vec![again], 1).await;
    // Delivered, or failed again and to be retried: the dead record has done its work. Dead
    // again: the attempt's own dead record has just replaced it (the same key), and stays listed.
    if handoff.unsent.is_empty() && handoff.summary.dead == 0 {
        deliveries::forget(ctx.store, DeliveryStatus::Dead, id).await?;
    }
    Ok(HttpResponse::json(200, &json!({ "id": id, "backchannel": handoff.summary })))
}

/// Acknowledges a dead delivery: it is no longer listed.
pub async fn acknowledge<S: Store, N>(ctx: &Ctx<'_, S, N>, id: &str) -> Answer {
    deliveries::load(ctx.store, DeliveryStatus::Dead, id).await?.ok_or(AdminError::NotFound("dead delivery"))?;
    deliveries::forget(ctx.store, DeliveryStatus::Dead, id).await?;
    Ok(HttpResponse::new(204))
}

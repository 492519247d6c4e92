//! The outbox: the deliveries (and the re-check) of one logout, stored under
//! `outbox/{logout_id}` before the first attempt and before any session is deleted, and removed
//! once every one was handed off (delivered, queued, or recorded as failed). What a failed queue
//! send or a logout cut short leaves here, the re-check or the cron sweep sends again: nothing
//! is lost between the decision to notify and the queue.
//!
//! The sweep lists KV only while `sweep/due` exists (each list counts against the free plan's
//! 1,000 a day): it is written whenever something is left for the sweep.

use serde::{Deserialize, Serialize};

use super::deliveries::{Delivery, Expansion, Recheck};
use super::store::{Ns, Store, StoreError};

const PREFIX: &str = "outbox/";
const DUE_KEY: &str = "sweep/due";

/// How long the sweep keeps looking after the last thing left for it: longer than the longest
/// retry delay (an hour) and the sweep's grace, so that a retry whose message was lost is found.
pub const DUE_TTL_S: i64 = 2 * 3600;

/// How long KV keeps an outbox record that nobody handled (far beyond the sweep's grace).
const OUTBOX_TTL_S: i64 = 7 * 86400;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outbox {
    pub logout_id: String,
    /// Not yet handed off.
    pub deliveries: Vec<Delivery>,
    /// The re-check, while its queue message is not sent.
    pub recheck: Option<Recheck>,
    /// What the logout's request left for the consumer to expand (the relying parties past its
    /// wave): sent again by the sweep should the record be left behind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expansions: Vec<Expansion>,
    pub created_at: i64,
    /// When the sweep takes it as left behind (past its grace): a logout's own record stays
    /// until its last re-check removes it, so it is due only after that look should have run;
    /// what a failed queue send leaves is due at once. `None`: at `created_at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<i64>,
}

impl Outbox {
    pub fn is_empty(&self) -> bool {
        self.deliveries.is_empty() && self.recheck.is_none() && self.expansions.is_empty()
    }

    /// When the sweep may send it again (after its grace).
    pub fn due_at(&self) -> i64 {
        self.due_at.unwrap_or(self.created_at)
    }
}

fn key(logout_id: &str) -> String {
    format!("{PREFIX}{logout_id}")
}

pub async fn save(store: &impl Store, outbox: &Outbox, now: i64) -> Result<(), StoreError> {
    let value = serde_json::to_string(outbox).expect("an outbox serialises");
    store.put(Ns::Sessions, &key(&outbox.logout_id), &value, Some(now + OUTBOX_TTL_S), None).await
}

pub async fn load(store: &impl Store, logout_id: &str) -> Result<Option<Outbox>, StoreError> {
    let raw = store.get(Ns::Sessions, &key(logout_id)).await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

pub async fn remove(store: &impl Store, logout_id: &str) -> Result<(), StoreError> {
    store.delete(Ns::Sessions, &key(logout_id)).await
}

/// Stores what is left of an outbox, or removes it when nothing is; something left is due for
/// the sweep (told on a best-effort basis: see [`mark_due`]).
pub async fn settle(store: &impl Store, outbox: &Outbox, now: i64) -> Result<(), StoreError> {
    if outbox.is_empty() {
        return remove(store, &outbox.logout_id).await;
    }
    save(store, outbox, now).await?;
    mark_due(store, now).await;
    Ok(())
}

/// Up to `limit` outbox records, oldest keys first (one listing, one bulk read).
pub async fn page(store: &impl Store, limit: u32) -> Result<Vec<Outbox>, StoreError> {
    Ok(page_from(store, None, limit).await?.0)
}

/// Up to `limit` outbox records from `cursor`, in key order (one listing, one bulk read per 100
/// keys), and where the next page starts.
pub async fn page_from(
    store: &impl Store,
    cursor: Option<String>,
    limit: u32,
) -> Result<(Vec<Outbox>, Option<String>), StoreError> {
    let listed = store.list(Ns::Sessions, PREFIX, cursor, limit).await?;
    let keys: Vec<String> = listed.keys.into_iter().map(|l| l.key).collect();
    let records = store.get_many(Ns::Sessions, &keys).await?;
    Ok((records.into_iter().flatten().filter_map(|r| serde_json::from_str(&r).ok()).collect(), listed.cursor))
}

/// Tells the sweep there is something for it (a retry, or an outbox left behind); whether the
/// marker was written. Best effort: `sweep/due` is one key for the whole deployment, and KV
/// takes one write per second per key (developers.cloudflare.com/kv/platform/limits/, "Writes to
/// same key": 429 beyond), so a busy minute of failures from many
/// locations gets some of them refused. What is left is durable without it (its record or
/// outbox); the marker only makes the sweep look within 5 minutes, where the hourly pass would
/// find it anyway. So a refused marker never fails the request that wanted it.
pub async fn mark_due(store: &impl Store, now: i64) -> bool {
    store.put(Ns::Sessions, DUE_KEY, &now.to_string(), Some(now + DUE_TTL_S), None).await.is_ok()
}

/// Whether the sweep has anything to look for (one read, no list).
pub async fn due(store: &impl Store) -> Result<bool, StoreError> {
    Ok(store.get(Ns::Sessions, DUE_KEY).await?.is_some())
}

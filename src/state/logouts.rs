//! A logout's writes, in the order that keeps it whole across a crash or a failed write at any
//! point. The protocol plans every record of a logout as a value first
//! (`protocol::logout`); what it writes before handing anything off is [`Before`], what it
//! writes once the handoff is done is [`After`]: two calls, each writing in the order below.

use super::outbox::{self, Outbox};
use super::sessions;
use super::store::{Store, StoreError};

/// A session a logout ends: its `sid`, and its user when known.
#[derive(Debug, Clone, Copy)]
pub struct Ended<'a> {
    pub sid: &'a str,
    pub sub: Option<&'a str>,
}

/// What a logout writes before any delivery is attempted or any message is queued.
pub struct Before<'a> {
    /// The logout's outbox record: every delivery it plans, what it leaves to the consumer,
    /// and its look.
    pub record: &'a Outbox,
    /// The sessions it ends: each gets its tombstone.
    pub ended: Vec<Ended<'a>>,
    /// One guard per expansion message, each its own outbox record.
    pub guards: Vec<Outbox>,
}

/// Writes `before`, in this order, because each step is what makes the next one safe:
/// 1. the logout's record, before any tombstone, send or delete: if this fails, nothing has
///    happened and the error says so (the user is told); once written, the sweep sends again
///    whatever the rest of the logout does not hand off;
/// 2. the tombstones: from here on the sessions cannot be joined or created again, and the
///    logout has happened (an error still reaches the caller, the record covering the rest);
/// 3. the guards of the expansion messages, each before its message is sent, so that a message
///    lost on its way is sent again by the sweep. Best effort: the logout has happened, and its
///    record keeps the expansion until its look. Whether each was written, in order.
pub async fn write_before(store: &impl Store, before: &Before<'_>, now: i64) -> Result<Vec<bool>, StoreError> {
    outbox::save(store, before.record, now).await?;
    for e in &before.ended {
        sessions::bury(store, e.sid, e.sub, now).await?;
    }
    let mut guarded = Vec::with_capacity(before.guards.len());
    for guard in &before.guards {
        guarded.push(outbox::save(store, guard, now).await.is_ok());
    }
    Ok(guarded)
}

/// What a logout writes once its deliveries, messages and look are handed off.
pub struct After<'a> {
    /// Something was left for the sweep (a message the queue refused, a guard not written).
    pub left_for_sweep: bool,
    /// The ended sessions whose records go: `(sid, sub)`.
    pub delete: Vec<(&'a str, &'a str)>,
}

/// Writes `after`: the sweep's marker first (best effort), then the session records, last of
/// all: a record still there is what a look ends again, so it goes only once the look is
/// queued. Ended already (the tombstones), a delete that fails is left to the look.
pub async fn write_after(store: &impl Store, after: &After<'_>, now: i64) {
    if after.left_for_sweep {
        let _ = outbox::mark_due(store, now).await;
    }
    for (sid, sub) in &after.delete {
        let _ = sessions::delete(store, sid, sub).await;
    }
}

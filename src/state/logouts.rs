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
    sessions::delete_all(store, &after.delete).await;
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::state::memory::MemoryStore;
    use crate::testing::stores::FailingWrites;

    const NOW: i64 = 1_000;

    fn record(id: &str) -> Outbox {
        Outbox {
            logout_id: id.into(),
            deliveries: Vec::new(),
            recheck: None,
            expansions: Vec::new(),
            created_at: NOW,
            due_at: None,
        }
    }

    /// The keys `store` holds, sorted.
    fn keys(store: &MemoryStore) -> Vec<String> {
        let mut keys: Vec<String> = store.snapshot().into_iter().map(|(_, k, _)| k).collect();
        keys.sort();
        keys
    }

    /// `write_before` of a logout ending `s1` and `s2`, with one guard, on a store that takes
    /// `writes` writes and fails the rest.
    fn before_with(writes: usize) -> (MemoryStore, Result<Vec<bool>, StoreError>) {
        let inner = MemoryStore::new(NOW);
        let result = {
            let store = FailingWrites::new(&inner, writes);
            let logout = record("L");
            let ended = vec![Ended { sid: "s1", sub: Some("alice") }, Ended { sid: "s2", sub: None }];
            let before = Before { record: &logout, ended, guards: vec![record("L.x7")] };
            block_on(write_before(&store, &before, NOW))
        };
        (inner, result)
    }

    #[test]
    fn the_record_comes_first_so_a_logout_cut_short_anywhere_is_in_the_outbox_or_did_not_happen() {
        // Nothing written: the logout did not happen, and says so.
        let (store, result) = before_with(0);
        assert!(result.is_err());
        assert!(keys(&store).is_empty());
        // Cut after the record: no tombstone yet, but the record is there for the sweep.
        let (store, result) = before_with(1);
        assert!(result.is_err());
        assert_eq!(keys(&store), ["outbox/L"]);
        // Cut after the first tombstone: still an error, the record before it.
        let (store, result) = before_with(2);
        assert!(result.is_err());
        assert_eq!(keys(&store), ["ended/s1", "outbox/L"]);
    }

    #[test]
    fn a_guard_not_written_is_reported_and_does_not_undo_the_logout() {
        let (store, result) = before_with(3);
        assert_eq!(result.unwrap(), [false], "the tombstones stand: the logout happened");
        assert_eq!(keys(&store), ["ended/s1", "ended/s2", "outbox/L"]);
        let (store, result) = before_with(4);
        assert_eq!(result.unwrap(), [true]);
        assert_eq!(keys(&store), ["ended/s1", "ended/s2", "outbox/L", "outbox/L.x7"]);
    }

    #[test]
    fn after_the_handoff_the_marker_is_best_effort_and_the_records_go() {
        let store = MemoryStore::new(NOW);
        block_on(store.put(crate::state::store::Ns::Sessions, "session/s1", "{}", None, None)).unwrap();
        block_on(write_after(&store, &After { left_for_sweep: true, delete: vec![("s1", "alice")] }, NOW));
        assert_eq!(keys(&store), ["sweep/due"]);
        // Nothing left for the sweep, and a store refusing every write: no panic, no error.
        let inner = MemoryStore::new(NOW);
        let failing = FailingWrites::new(&inner, 0);
        block_on(write_after(&failing, &After { left_for_sweep: false, delete: vec![("s1", "alice")] }, NOW));
        assert!(keys(&inner).is_empty());
    }
}

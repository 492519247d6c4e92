//! Ending sessions: the one place where sessions end and the relying parties that must hear of
//! it are handed to the platform, and where a later look ([`recheck`]) makes a logout converge
//! under KV's eventual consistency.
//!
//! What "nothing lost" rests on, in order ([`end_sessions`]):
//! 1. the planned deliveries and the re-check are stored in the outbox, before any attempt,
//!    send or delete (if this fails, nothing happened, and the user is told so);
//! 2. the re-check is queued, delayed past KV's propagation windows (if the send fails, the
//!    outbox keeps it and the cron sweep is told);
//! 3. each session's tombstone is written, so that it cannot be joined or created again;
//! 4. the deliveries are attempted or queued; what could not be handed off stays in the outbox;
//! 5. only then are the sessions deleted.
//!
//! A logout cut short after 2 is finished by the re-check (which sends the outbox again); one
//! cut short between 1 and 2 by the cron sweep's hourly look at the outbox.

use std::collections::HashSet;

use crate::budget::{self, affordable_inline, Spend, DELETES_PER_SESSION, RECHECK_SESSIONS_PER_MESSAGE};
use crate::config::SessionEvents;
use crate::ports::{Platform, Store, StoreError, Summary};
use crate::protocol::backchannel::plan::{plan, plan_events};
use crate::state::clients::{self, Client};
use crate::state::deliveries::{self, Delivery, EndReason, EndedSession, QueueMessage, Recheck};
use crate::state::outbox::{self, Outbox};
use crate::state::sessions::{self, Session};

/// When the re-checks of a logout run, in seconds after it: KV shows a write at other
/// locations within about 60 s (developers.cloudflare.com/kv/concepts/how-kv-works/, "Consistency"),
/// and caches a read that found nothing for as long. One look past two such windows (a client
/// recorded elsewhere just before that location saw the tombstone, 60 s, then seen here 60 s
/// later) bounds a logout's convergence to under 3 minutes, with one queue message per logout.
pub const RECHECK_DELAYS_S: [u32; 1] = [150];

/// What ended, for the relying parties' sake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutEvent {
    /// These sessions ended (RP-initiated logout, admin logout of one session).
    Sessions(Vec<Session>),
    /// Every session of `sub` ended (admin logout of a user): relying parties get one token
    /// without `sid`, meaning all of this user's sessions, unless they require `sid`.
    Subject { sub: String, sessions: Vec<Session> },
}

impl LogoutEvent {
    pub fn sessions(&self) -> &[Session] {
        match self {
            LogoutEvent::Sessions(s) | LogoutEvent::Subject { sessions: s, .. } => s,
        }
    }

    /// Every client of the ended sessions, each once, in first-seen order.
    pub fn client_ids(&self) -> Vec<&str> {
        clients::unique_ids(self.sessions().iter().flat_map(|s| &s.clients).map(String::as_str))
    }

    fn subject(&self) -> Option<String> {
        match self {
            LogoutEvent::Sessions(_) => None,
            LogoutEvent::Subject { sub, .. } => Some(sub.clone()),
        }
    }
}

/// Why sessions end, and who hears of it besides the relying parties.
#[derive(Debug, Clone, Copy)]
pub struct Ending<'a> {
    pub reason: EndReason,
    /// The client that asked, when one did.
    pub initiator: Option<&'a str>,
    /// The login system's session-ended events, when it takes them.
    pub events: Option<&'a SessionEvents>,
}

/// What a logout ended, and what the relying parties were told.
#[derive(Debug, Clone, Default)]
pub struct Ended {
    /// The registered clients of the ended sessions (for front-channel logout).
    pub clients: Vec<Client>,
    pub summary: Summary,
}

/// Service calls [`end_sessions`] makes that the store does not count by the time the inline
/// deliveries are budgeted: the re-check's queue send (made), and the outbox's removal (to come).
/// None of it is a `fetch`: the end-session flow fetches nothing before its deliveries.
const UNCOUNTED_SUBREQUESTS: usize = 2;

/// Ends the sessions of `event` (each with all its clients: see
/// [`sessions::with_members`]), in the order the module comment gives. At most `inline_max`
/// relying parties are told during the request, fewer if its subrequests would not suffice.
/// `known` holds clients the caller already read in this request: they are not read again.
pub async fn end_sessions(
    store: &impl Store,
    platform: &impl Platform,
    event: &LogoutEvent,
    ending: Ending<'_>,
    inline_max: usize,
    known: Vec<Client>,
    now: i64,
) -> Result<Ended, StoreError> {
    if event.sessions().is_empty() {
        return Ok(Ended::default());
    }
    let found = registered_clients(store, event, known).await?;
    let logout_id = platform.random_id();
    let mut deliveries = numbered_plan(event, &found, &logout_id);
    deliveries.extend(planned_events(event, ending, &logout_id));
    let recheck = Recheck {
        logout_id: logout_id.clone(),
        round: 1,
        subject: event.subject(),
        sessions: event
            .sessions()
            .iter()
            .map(|s| EndedSession { sid: s.sid.clone(), sub: s.sub.clone(), notified: s.clients.clone() })
            .collect(),
    };
    // Durable before anything is attempted, sent or deleted: the deliveries and the re-check.
    let mut outbox =
        Outbox { logout_id, deliveries: deliveries.clone(), recheck: Some(recheck.clone()), created_at: now };
    outbox::save(store, &outbox, now).await?;
    if platform.enqueue(&QueueMessage::Recheck(recheck), RECHECK_DELAYS_S[0]).await {
        outbox.recheck = None;
    } else {
        outbox::mark_due(store, now).await?;
    }
    for s in event.sessions() {
        sessions::bury(store, &s.sid, &s.sub, now).await?;
    }
    // Reserved: the deletes, and the queue sends of every delivery should none go inline.
    let sizes: Vec<usize> = deliveries.iter().map(|d| serde_json::to_string(d).map_or(0, |m| m.len())).collect();
    let reserved = DELETES_PER_SESSION * event.sessions().len() + budget::send_batches(&sizes).len();
    let spent = Spend::services(store.subrequests() + UNCOUNTED_SUBREQUESTS);
    let inline = affordable_inline(budget::PLAN, spent, Spend::services(reserved), inline_max);
    let handoff = platform.deliver(deliveries, inline).await;
    outbox.deliveries = handoff.unsent;
    outbox::settle(store, &outbox, now).await?;
    for s in event.sessions() {
        sessions::delete(store, s).await?;
    }
    Ok(Ended { clients: found, summary: handoff.summary })
}

/// The registered clients of the event's sessions: `known` ones, and the rest in one bulk read.
/// A client deleted from the registry since is no longer told.
async fn registered_clients(
    store: &impl Store,
    event: &LogoutEvent,
    known: Vec<Client>,
) -> Result<Vec<Client>, StoreError> {
    let wanted = event.client_ids();
    let wanted_set: HashSet<&str> = wanted.iter().copied().collect();
    let mut found: Vec<Client> = known.into_iter().filter(|c| wanted_set.contains(c.client_id.as_str())).collect();
    let have: HashSet<String> = found.iter().map(|c| c.client_id.clone()).collect();
    let missing: Vec<&str> = wanted.into_iter().filter(|id| !have.contains(*id)).collect();
    if !missing.is_empty() {
        found.extend(clients::load_many(store, &missing).await?);
    }
    Ok(found)
}

/// The session-ended events of `event`, named `{logout_id}.e{n}`.
fn planned_events(event: &LogoutEvent, ending: Ending<'_>, logout_id: &str) -> Vec<Delivery> {
    let Some(target) = ending.events else { return Vec::new() };
    let mut n = 0;
    plan_events(event, target, ending.reason, ending.initiator, || {
        n += 1;
        format!("{logout_id}.e{n}")
    })
}

/// The event's deliveries, named `{logout_id}.{n}`: unique without a random draw each.
fn numbered_plan(event: &LogoutEvent, clients: &[Client], logout_id: &str) -> Vec<Delivery> {
    let mut n = 0;
    plan(event, clients, || {
        n += 1;
        format!("{logout_id}.{n}")
    })
}

/// A later look at what a logout ended, as this location sees it now:
/// - an outbox the logout left (cut short, or a queue send failed) is sent again;
/// - a session record seen again (not yet deleted here, or created anew where the tombstone
///   was not yet seen) is ended again;
/// - every client recorded in an ended session and not yet told gets its token (recorded
///   anywhere before the logout, or where the tombstone was not yet seen);
/// - another look follows, until [`RECHECK_DELAYS_S`] are done.
///
/// Clients already told are not told again; a re-check delivered twice may tell a late client
/// twice (a fresh token each time), which relying parties handle as any repeated logout.
pub async fn recheck(
    store: &impl Store,
    platform: &impl Platform,
    check: &Recheck,
    now: i64,
) -> Result<(), StoreError> {
    if let Some(left) = outbox::load(store, &check.logout_id).await? {
        let handoff = platform.deliver(left.deliveries.clone(), 0).await;
        let rest = Outbox { deliveries: handoff.unsent, recheck: None, ..left };
        outbox::settle(store, &rest, now).await?;
    }
    // A long list of sessions (a user-wide logout) goes on in parts, each within a consumer's
    // subrequests.
    let mut check = check.clone();
    if check.sessions.len() > RECHECK_SESSIONS_PER_MESSAGE {
        let rest = Recheck { sessions: check.sessions.split_off(RECHECK_SESSIONS_PER_MESSAGE), ..check.clone() };
        if !platform.enqueue(&QueueMessage::Recheck(rest.clone()), 0).await {
            let left = Outbox {
                logout_id: format!("{}.p{}", check.logout_id, check.sessions.len()),
                deliveries: Vec::new(),
                recheck: Some(rest),
                created_at: now,
            };
            outbox::settle(store, &left, now).await?;
        }
    }
    let check = &check;
    let mut next = check.clone();
    let mut late: Vec<Session> = Vec::new();
    for (ended, seen) in check.sessions.iter().zip(next.sessions.iter_mut()) {
        let record = sessions::load(store, &ended.sid, now).await?;
        let mut ids: Vec<String> = record.as_ref().map(|r| r.clients.clone()).unwrap_or_default();
        for id in sessions::members(store, &ended.sid).await? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if let Some(r) = &record {
            sessions::bury(store, &r.sid, &r.sub, now).await?;
            sessions::delete(store, r).await?;
        }
        let untold: Vec<String> = ids.into_iter().filter(|id| !ended.notified.contains(id)).collect();
        if !untold.is_empty() {
            seen.notified.extend(untold.iter().cloned());
            late.push(Session {
                sid: ended.sid.clone(),
                sub: ended.sub.clone(),
                clients: untold,
                created_at: now,
                expires_at: now,
                cookie_hash: String::new(),
                logout_hints: Vec::new(),
            });
        }
    }
    if !late.is_empty() {
        let event = match &check.subject {
            None => LogoutEvent::Sessions(late),
            Some(sub) => LogoutEvent::Subject { sub: sub.clone(), sessions: late },
        };
        let found = registered_clients(store, &event, Vec::new()).await?;
        let logout_id = format!("{}.r{}.{}", check.logout_id, check.round, platform.random_id());
        let deliveries = numbered_plan(&event, &found, &logout_id);
        let handoff = platform.deliver(deliveries, 0).await;
        let left = Outbox { logout_id, deliveries: handoff.unsent, recheck: None, created_at: now };
        outbox::settle(store, &left, now).await?;
    }
    let round = check.round as usize;
    if round < RECHECK_DELAYS_S.len() {
        next.round += 1;
        let delay = RECHECK_DELAYS_S[round] - RECHECK_DELAYS_S[round - 1];
        if !platform.enqueue(&QueueMessage::Recheck(next.clone()), delay).await {
            let left = Outbox {
                logout_id: format!("{}.q{}.{}", check.logout_id, next.round, platform.random_id()),
                deliveries: Vec::new(),
                recheck: Some(next),
                created_at: now,
            };
            outbox::settle(store, &left, now).await?;
        }
    }
    Ok(())
}

/// A logout by a verified hint whose session this location does not see (yet: KV shows a
/// session created elsewhere only after a while): its tombstone, so that it cannot be joined
/// any more, and a re-check that ends it and tells its clients once KV shows them here.
pub async fn end_unseen(
    store: &impl Store,
    platform: &impl Platform,
    sid: &str,
    sub: &str,
    ending: Ending<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let logout_id = platform.random_id();
    let unseen = Session {
        sid: sid.to_string(),
        sub: sub.to_string(),
        clients: Vec::new(),
        created_at: now,
        expires_at: now,
        cookie_hash: String::new(),
        logout_hints: Vec::new(),
    };
    let events = planned_events(&LogoutEvent::Sessions(vec![unseen]), ending, &logout_id);
    if !events.is_empty() {
        let handoff = platform.deliver(events, 0).await;
        let left =
            Outbox { logout_id: format!("{logout_id}.e"), deliveries: handoff.unsent, recheck: None, created_at: now };
        outbox::settle(store, &left, now).await?;
    }
    let recheck = Recheck {
        logout_id: logout_id.clone(),
        round: 1,
        subject: None,
        sessions: vec![EndedSession { sid: sid.to_string(), sub: sub.to_string(), notified: Vec::new() }],
    };
    if !platform.enqueue(&QueueMessage::Recheck(recheck.clone()), RECHECK_DELAYS_S[0]).await {
        let left = Outbox { logout_id, deliveries: Vec::new(), recheck: Some(recheck), created_at: now };
        outbox::settle(store, &left, now).await?;
    }
    sessions::bury(store, sid, sub, now).await
}

/// The cron sweep's share of the outbox: records older than `grace_s` (their logout or re-check
/// did not finish) are sent again: their deliveries queued, their re-check queued.
pub async fn sweep_outbox(
    store: &impl Store,
    platform: &impl Platform,
    now: i64,
    grace_s: i64,
    limit: u32,
) -> Result<usize, StoreError> {
    let mut sent = 0;
    for left in outbox::page(store, limit).await? {
        if left.created_at + grace_s > now {
            continue;
        }
        let handoff = platform.deliver(left.deliveries.clone(), 0).await;
        sent += left.deliveries.len() - handoff.unsent.len();
        let recheck = match &left.recheck {
            Some(r) if !platform.enqueue(&QueueMessage::Recheck(r.clone()), 0).await => Some(r.clone()),
            _ => None,
        };
        let rest = Outbox { deliveries: handoff.unsent, recheck, ..left };
        outbox::settle(store, &rest, now).await?;
    }
    Ok(sent)
}

/// What a cron tick did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Whether it looked (listed KV) at all.
    pub looked: bool,
    /// Retries re-queued because their message was overdue (lost).
    pub requeued: usize,
    /// Deliveries sent again from outbox records.
    pub resent: usize,
}

/// The cron tick: when something was left for it ([`outbox::due`]: one read, and no list
/// otherwise, as lists count against the free plan's 1,000 a day), or at the first tick of an
/// hour, re-queues retries whose queue message was lost (each with a fresh nonce from
/// `new_nonce`, so that the lost one goes stale) and sends again what logouts left in the outbox.
pub async fn sweep(
    store: &impl Store,
    platform: &impl Platform,
    now: i64,
    grace_s: i64,
    new_nonce: impl FnMut() -> String,
) -> Result<Swept, StoreError> {
    let hourly = now % 3600 < 60;
    if !outbox::due(store).await? {
        if !hourly {
            return Ok(Swept::default());
        }
        let resent = sweep_outbox(store, platform, now, grace_s, 100).await?;
        return Ok(Swept { looked: true, requeued: 0, resent });
    }
    let overdue = deliveries::reissue_overdue(store, now, grace_s, 100, new_nonce).await?;
    let requeued = overdue.len();
    let handoff = platform.deliver(overdue, 0).await;
    if !handoff.unsent.is_empty() {
        // Still recorded as failed, with a fresh nonce: the next tick re-queues them again.
        outbox::mark_due(store, now).await?;
    }
    let resent = sweep_outbox(store, platform, now, grace_s, 100).await?;
    Ok(Swept { looked: true, requeued: requeued - handoff.unsent.len(), resent })
}

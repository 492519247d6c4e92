//! Ending sessions: the one place where sessions end and the relying parties that must hear of
//! it are handed to the platform, and where a later look ([`recheck`]) makes a logout converge
//! under KV's eventual consistency.
//!
//! What "nothing lost" rests on, in order ([`end_sessions`]):
//! 1. the planned deliveries and the look are stored in the logout's outbox record, before any
//!    attempt, send or delete (if this fails, nothing happened, and the user is told so); the
//!    record stays until the look has run, so that a look lost on its way (a queue send that
//!    failed, a message dead-lettered) is sent again by the cron sweep;
//! 2. each session's tombstone is written, so that it cannot be joined or created again;
//! 3. the deliveries are attempted or queued;
//! 4. the look is queued, delayed past KV's window, carrying what could not be handed off;
//! 5. only then are the sessions deleted.
//!
//! No key is written twice in one request (KV takes one write per second per key): what a
//! failed queue send leaves goes under a key of its own.

use std::collections::HashSet;

use crate::budget::{affordable_inline, DELETES_PER_SESSION, RECHECK_SESSIONS_PER_MESSAGE};
use crate::config::SessionEvents;
use crate::ports::{Platform, Store, StoreError, Summary};
use crate::protocol::backchannel::plan::{plan, plan_events};
use crate::state::clients::{self, Client};
use crate::state::deliveries::{self, Delivery, EndReason, EndedSession, OwedEvent, QueueMessage, Recheck};
use crate::state::outbox::{self, Outbox};
use crate::state::sessions::{self, Session};

/// The longest this design assumes KV takes to show a write at another location. Cloudflare
/// documents "up to 60 seconds or more" (developers.cloudflare.com/kv/concepts/how-kv-works/,
/// "Consistency"): the figure is an assumption, and every bound below is stated in it.
pub const PROPAGATION_S: i64 = 150;

/// How long a location may keep answering from its cache what it read before, a value or a
/// miss: `cacheTtl`, 60 s by default (developers.cloudflare.com/kv/api/read-key-value-pairs/).
pub const CACHE_TTL_S: i64 = 60;

/// The window: a write made at `t` is seen by every read anywhere from `t + WINDOW_S` on.
pub const WINDOW_S: i64 = PROPAGATION_S + CACHE_TTL_S;

/// When the looks of a logout run, in seconds after it. One look, late enough: a location that
/// does not see the tombstone yet can record a client until `WINDOW_S` after the logout, and
/// that recording is seen everywhere `WINDOW_S` later. A look at twice the window therefore
/// sees every client recorded anywhere, and every session created where the tombstone was not
/// yet seen; one look costs one queue message and one KV list per logout (lists are the free
/// plan's scarcest quota, 1,000 a day).
pub const RECHECK_DELAYS_S: [u32; 1] = [2 * WINDOW_S as u32];

/// How long after its last look should have run a logout's outbox record is taken as left
/// behind (its look lost), and sent again by the sweep.
pub const RECHECK_OVERDUE_S: i64 = 600;

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

/// A session that a logout must end although this location does not see it (yet): KV shows a
/// session created elsewhere only after a while. Proven by a verified ID token hint (which
/// names its user) or by the browser's own session cookie (which does not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unseen<'a> {
    pub sid: &'a str,
    pub sub: Option<&'a str>,
}

/// Subrequests [`end_sessions`] makes that the store does not count by the time the inline
/// deliveries are budgeted: the look's queue send, and the outbox write should it be refused
/// (its marker for the sweep is a KV call of the same kind: Cloudflare services have a budget
/// of their own, developers.cloudflare.com/workers/platform/limits/#subrequests).
const UNCOUNTED_SUBREQUESTS: usize = 2;

/// The outbox record of a logout: everything it will send, and its look; due for the sweep
/// only once that look should have removed it.
fn logout_record(look: &Recheck, deliveries: Vec<Delivery>, now: i64) -> Outbox {
    let last_look = i64::from(RECHECK_DELAYS_S[RECHECK_DELAYS_S.len() - 1]);
    Outbox {
        logout_id: look.logout_id.clone(),
        deliveries,
        recheck: Some(look.clone()),
        created_at: now,
        due_at: Some(now + last_look + RECHECK_OVERDUE_S),
    }
}

/// Ends the sessions of `event` (each with all its clients: see
/// [`sessions::with_members`]), in the order the module comment gives. At most `inline_max`
/// relying parties are told during the request, fewer if its subrequests would not suffice.
/// `known` holds clients the caller already read in this request: they are not read again.
/// Once the tombstones are written the logout has happened: a delete that fails later is left
/// to the look.
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
    let look = Recheck {
        logout_id,
        round: 1,
        subject: event.subject(),
        sessions: event
            .sessions()
            .iter()
            .map(|s| EndedSession {
                sid: s.sid.clone(),
                sub: Some(s.sub.clone()),
                notified: s.clients.clone(),
                owed_event: None,
            })
            .collect(),
        unsent: Vec::new(),
        in_record: false,
    };
    outbox::save(store, &logout_record(&look, deliveries.clone(), now), now).await?;
    for s in event.sessions() {
        sessions::bury(store, &s.sid, Some(&s.sub), now).await?;
    }
    let deletes = DELETES_PER_SESSION * event.sessions().len() + UNCOUNTED_SUBREQUESTS;
    let inline = affordable_inline(store.subrequests(), deletes, deliveries.len(), inline_max);
    let handoff = platform.deliver(deliveries, inline).await;
    schedule_look(store, platform, Recheck { unsent: handoff.unsent, ..look }, now).await;
    for s in event.sessions() {
        // Ended already (the tombstone): a record left behind is deleted by the look.
        let _ = sessions::delete(store, s).await;
    }
    Ok(Ended { clients: found, summary: handoff.summary })
}

/// Ends a session this location does not see: its tombstone, so that it cannot be joined any
/// more, and a look that ends it and tells its clients once KV shows them. The login system
/// hears of it now when its user is known, or else once the look sees its record.
pub async fn end_unseen(
    store: &impl Store,
    platform: &impl Platform,
    unseen: Unseen<'_>,
    ending: Ending<'_>,
    now: i64,
) -> Result<(), StoreError> {
    let logout_id = platform.random_id();
    let (deliveries, owed_event) = match unseen.sub {
        Some(sub) => {
            let stub = Session {
                sid: unseen.sid.to_string(),
                sub: sub.to_string(),
                clients: Vec::new(),
                created_at: now,
                expires_at: now,
                cookie_hash: String::new(),
                logout_hints: Vec::new(),
            };
            (planned_events(&LogoutEvent::Sessions(vec![stub]), ending, &logout_id), None)
        }
        None => {
            let owed = ending
                .events
                .map(|_| OwedEvent { reason: ending.reason, initiator: ending.initiator.map(str::to_string) });
            (Vec::new(), owed)
        }
    };
    let look = Recheck {
        logout_id,
        round: 1,
        subject: None,
        sessions: vec![EndedSession {
            sid: unseen.sid.to_string(),
            sub: unseen.sub.map(str::to_string),
            notified: Vec::new(),
            owed_event,
        }],
        unsent: Vec::new(),
        in_record: false,
    };
    outbox::save(store, &logout_record(&look, deliveries.clone(), now), now).await?;
    sessions::bury(store, unseen.sid, unseen.sub, now).await?;
    let handoff = platform.deliver(deliveries, 0).await;
    schedule_look(store, platform, Recheck { unsent: handoff.unsent, ..look }, now).await;
    Ok(())
}

/// Queues `look` for its round's time. Should the queue refuse it, it goes under a key of its
/// own, due at once, and the sweep is told; should that fail too, the logout's own record
/// (which stays until the last look) brings it back once overdue.
async fn schedule_look(store: &impl Store, platform: &impl Platform, look: Recheck, now: i64) {
    let round = look.round as usize;
    let previous = if round >= 2 { RECHECK_DELAYS_S[round - 2] } else { 0 };
    let delay = RECHECK_DELAYS_S[round - 1] - previous;
    let message = look.to_send();
    if message.in_record && !look.unsent.is_empty() {
        // What was not handed off does not fit in the message: due at once, under its own key.
        let left = Outbox {
            logout_id: format!("{}.u{}", look.logout_id, look.round),
            deliveries: look.unsent.clone(),
            recheck: None,
            created_at: now,
            due_at: None,
        };
        if outbox::save(store, &left, now).await.is_ok() {
            let _ = outbox::mark_due(store, now).await;
        }
    }
    if platform.enqueue(&QueueMessage::Recheck(message), delay).await {
        return;
    }
    let left = Outbox {
        logout_id: format!("{}.r{}", look.logout_id, look.round),
        deliveries: Vec::new(),
        recheck: Some(look),
        created_at: now,
        due_at: None,
    };
    if outbox::save(store, &left, now).await.is_ok() {
        let _ = outbox::mark_due(store, now).await;
    }
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

/// A look at what a logout ended, as this location sees it now:
/// - what the logout could not hand off is sent again;
/// - a session record seen again (not yet deleted here, or created anew where the tombstone
///   was not yet seen) is ended again;
/// - every client recorded in an ended session and not yet told gets its token (recorded
///   anywhere before the logout, or where the tombstone was not yet seen);
/// - a session ended unseen through its cookie alone is ended once its record is seen, and
///   the login system told then;
/// - the next look follows, or after the last one the logout's outbox record goes.
///
/// Clients already told are not told again; a look delivered twice may tell a late client
/// twice (a fresh token each time), which relying parties handle as any repeated logout. An
/// error leaves the message to be tried again.
pub async fn recheck(
    store: &impl Store,
    platform: &impl Platform,
    check: &Recheck,
    events: Option<&SessionEvents>,
    now: i64,
) -> Result<(), StoreError> {
    let mut check = check.clone();
    if check.in_record {
        check = from_record(store, check).await?;
    }
    // A long list of sessions (a user-wide logout) goes on in parts, each within a consumer's
    // subrequests.
    if check.sessions.len() > RECHECK_SESSIONS_PER_MESSAGE {
        let rest = Recheck {
            sessions: check.sessions.split_off(RECHECK_SESSIONS_PER_MESSAGE),
            unsent: Vec::new(),
            ..check.clone()
        };
        if !platform.enqueue(&QueueMessage::Recheck(rest.to_send()), 0).await {
            let left = Outbox {
                logout_id: format!("{}.p{}", check.logout_id, check.sessions.len()),
                deliveries: Vec::new(),
                recheck: Some(rest),
                created_at: now,
                due_at: None,
            };
            outbox::settle(store, &left, now).await?;
        }
    }
    let mut unsent = std::mem::take(&mut check.unsent);
    let mut late: Vec<Session> = Vec::new();
    let mut owed: Vec<(Session, OwedEvent)> = Vec::new();
    for ended in check.sessions.iter_mut() {
        // A record of another user than the logout's is not this session: never ended here.
        let record = sessions::load(store, &ended.sid, now)
            .await?
            .filter(|r| ended.sub.as_ref().is_none_or(|sub| *sub == r.sub));
        let Some(sub) = ended.sub.clone().or_else(|| record.as_ref().map(|r| r.sub.clone())) else {
            // Ended through its cookie alone, and its record not seen: nothing to end yet.
            continue;
        };
        ended.sub = Some(sub.clone());
        let mut ids: Vec<String> = record.as_ref().map(|r| r.clients.clone()).unwrap_or_default();
        for id in sessions::members(store, &ended.sid).await? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
        if let Some(r) = &record {
            sessions::bury(store, &r.sid, Some(&r.sub), now).await?;
            sessions::delete(store, r).await?;
        }
        let untold: Vec<String> = ids.into_iter().filter(|id| !ended.notified.contains(id)).collect();
        let session = Session {
            sid: ended.sid.clone(),
            sub,
            clients: untold.clone(),
            created_at: now,
            expires_at: now,
            cookie_hash: String::new(),
            logout_hints: Vec::new(),
        };
        if let Some(event) = ended.owed_event.take() {
            owed.push((session.clone(), event));
        }
        if !untold.is_empty() {
            ended.notified.extend(untold);
            late.push(session);
        }
    }
    let mut deliveries = Vec::new();
    let logout_id = format!("{}.r{}.{}", check.logout_id, check.round, platform.random_id());
    if !late.is_empty() {
        let event = match &check.subject {
            None => LogoutEvent::Sessions(late),
            Some(sub) => LogoutEvent::Subject { sub: sub.clone(), sessions: late },
        };
        let found = registered_clients(store, &event, Vec::new()).await?;
        deliveries.extend(numbered_plan(&event, &found, &logout_id));
    }
    for (i, (session, event)) in owed.into_iter().enumerate() {
        let ending = Ending { reason: event.reason, initiator: event.initiator.as_deref(), events };
        deliveries.extend(planned_events(&LogoutEvent::Sessions(vec![session]), ending, &format!("{logout_id}.o{i}")));
    }
    deliveries.append(&mut unsent);
    if !deliveries.is_empty() {
        unsent = platform.deliver(deliveries, 0).await.unsent;
    }
    if (check.round as usize) < RECHECK_DELAYS_S.len() {
        let next = Recheck { round: check.round + 1, unsent, ..check };
        schedule_look(store, platform, next, now).await;
        return Ok(());
    }
    if !unsent.is_empty() {
        let left = Outbox { logout_id, deliveries: unsent, recheck: None, created_at: now, due_at: None };
        outbox::settle(store, &left, now).await?;
    }
    // Done. Should the removal fail (the sweep may have just removed it: one write per second
    // per key), a record left behind only brings the look back once overdue.
    let _ = outbox::remove(store, &check.logout_id).await;
    Ok(())
}

/// A look sent without its lists (too large for a message), completed from the logout's outbox
/// record, which it sees (written two windows before): the clients told then. (What was not
/// handed off went to an outbox record of its own.) Without the record (an earlier copy of
/// this look removed it), every client found is told again: more tokens, none missing.
async fn from_record(store: &impl Store, check: Recheck) -> Result<Recheck, StoreError> {
    let record = outbox::load(store, &check.logout_id).await?;
    let told = record.and_then(|r| r.recheck).map(|r| r.sessions).unwrap_or_default();
    let sessions = check
        .sessions
        .into_iter()
        .map(|s| {
            let notified = told.iter().find(|t| t.sid == s.sid).map(|t| t.notified.clone()).unwrap_or_default();
            EndedSession { notified, ..s }
        })
        .collect();
    Ok(Recheck { sessions, unsent: Vec::new(), in_record: false, ..check })
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
        if left.due_at() + grace_s > now {
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

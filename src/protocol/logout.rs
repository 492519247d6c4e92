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

use crate::budget::{self, affordable_inline, Spend, DELETES_PER_SESSION, RECHECK_SESSIONS_PER_MESSAGE};
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

/// Service calls [`end_sessions`] makes that the store does not count by the time the inline
/// deliveries are budgeted: the look's queue send, and the outbox write should it be refused
/// (its marker for the sweep is best effort). None of it is a `fetch`: the end-session flow
/// fetches nothing before its deliveries.
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
    // Reserved: the deletes, and the queue sends of every delivery should none go inline.
    let sizes: Vec<usize> = deliveries.iter().map(|d| serde_json::to_string(d).map_or(0, |m| m.len())).collect();
    let reserved = DELETES_PER_SESSION * event.sessions().len() + budget::send_batches(&sizes).len();
    let spent = Spend::services(store.subrequests() + UNCOUNTED_SUBREQUESTS);
    let inline = affordable_inline(budget::PLAN, spent, Spend::services(reserved), inline_max);
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
            let stub = ended_stub(unseen.sid, sub, Vec::new(), now);
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

/// What the planners need of an ended session that was not read whole (unseen, or seen again by
/// a look): its `sid`, its user and the clients to tell.
fn ended_stub(sid: &str, sub: &str, clients: Vec<String>, now: i64) -> Session {
    Session {
        sid: sid.to_string(),
        sub: sub.to_string(),
        clients,
        created_at: now,
        expires_at: now,
        cookie_hash: String::new(),
        logout_hints: Vec::new(),
    }
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
        let session = ended_stub(&ended.sid, &sub, untold.clone(), now);
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
/// did not finish) are sent again: their deliveries queued, their re-check queued. The number
/// of deliveries sent, within `budget` subrequests (see [`sweep_outbox_within`]).
pub async fn sweep_outbox(
    store: &impl Store,
    platform: &impl Platform,
    now: i64,
    grace_s: i64,
    budget: usize,
) -> Result<usize, StoreError> {
    Ok(sweep_outbox_within(store, platform, now, grace_s, budget).await?.0)
}

/// [`sweep_outbox`], walking the whole outbox page by page as long as `budget` subrequests
/// allow (each page a listing and a bulk read; each record sent again its deliveries' records,
/// one queue send, its re-check's send and its settling): the deliveries sent, the subrequests
/// spent, and whether it got to the end.
pub async fn sweep_outbox_within(
    store: &impl Store,
    platform: &impl Platform,
    now: i64,
    grace_s: i64,
    budget: usize,
) -> Result<(usize, usize, bool), StoreError> {
    let (mut sent, mut spent) = (0, 0);
    let mut cursor = None;
    loop {
        if spent + 2 > budget {
            return Ok((sent, spent, false));
        }
        let (page, next) = outbox::page_from(store, cursor, OUTBOX_PAGE).await?;
        spent += 2;
        for left in page {
            if left.due_at() + grace_s > now {
                continue;
            }
            let cost = outbox_resend_subrequests(&left);
            if spent + cost > budget {
                return Ok((sent, spent, false));
            }
            spent += cost;
            let handoff = platform.deliver(left.deliveries.clone(), 0).await;
            sent += left.deliveries.len() - handoff.unsent.len();
            let recheck = match &left.recheck {
                Some(r) if !platform.enqueue(&QueueMessage::Recheck(r.clone()), 0).await => Some(r.clone()),
                _ => None,
            };
            let rest = Outbox { deliveries: handoff.unsent, recheck, ..left };
            outbox::settle(store, &rest, now).await?;
        }
        cursor = next;
        if cursor.is_none() {
            return Ok((sent, spent, true));
        }
    }
}

/// Outbox keys one sweep page lists (and reads, 100 to a bulk read).
const OUTBOX_PAGE: u32 = 100;

/// The most subrequests sending one outbox record again costs: a record per delivery (the
/// queue's, see [`crate::protocol::backchannel::queued`]) and one send per 100, the re-check's
/// send, and the settling (a write and the sweep's marker, or a delete).
fn outbox_resend_subrequests(left: &Outbox) -> usize {
    let n = left.deliveries.len();
    n + n.div_ceil(crate::budget::QUEUE_BATCH_MAX) + usize::from(left.recheck.is_some()) + 2
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
    /// Subrequests spent (KV and queue calls), within the tick's budget.
    pub spent: usize,
    /// Whether it walked every pending record and the whole outbox (false: the budget ran out,
    /// and the next tick goes on: it is told to).
    pub complete: bool,
}

/// The cron tick: when something was left for it ([`outbox::due`]: one read, and no list
/// otherwise, as lists count against the free plan's 1,000 a day), or at the first tick of an
/// hour, re-queues pending deliveries (queued or failed) whose queue message was lost (each with a
/// fresh nonce from `new_nonce`, so that the lost one goes stale) and sends again what logouts
/// left in the outbox. It makes at most `budget` KV and queue calls (the invocation's
/// subrequests to Cloudflare services); what it could not reach, the next tick does (it marks
/// itself due).
pub async fn sweep(
    store: &impl Store,
    platform: &impl Platform,
    now: i64,
    grace_s: i64,
    budget: usize,
    new_nonce: impl FnMut() -> String,
) -> Result<Swept, StoreError> {
    let hourly = now % 3600 < 60;
    let mut spent = 1;
    if !outbox::due(store).await? && !hourly {
        return Ok(Swept { complete: true, spent, ..Swept::default() });
    }
    // Room kept for writing the marker again at the end; half of the rest for the pending
    // records, the other half (and what they left) for the outbox.
    let work = budget.saturating_sub(spent + 1);
    let overdue = deliveries::reissue_overdue(store, now, grace_s, work / 2, new_nonce).await?;
    let found = overdue.deliveries.len();
    spent += overdue.spent + found.div_ceil(crate::budget::QUEUE_BATCH_MAX);
    let handoff = platform.deliver(overdue.deliveries, 0).await;
    let (resent, outbox_spent, outbox_done) =
        sweep_outbox_within(store, platform, now, grace_s, budget.saturating_sub(spent + 1)).await?;
    spent += outbox_spent;
    let complete = overdue.complete && outbox_done;
    if !handoff.unsent.is_empty() || !complete {
        // Still recorded (a fresh nonce), or not reached yet: the next tick looks again.
        outbox::mark_due(store, now).await;
        spent += 1;
    }
    Ok(Swept { looked: true, requeued: found - handoff.unsent.len(), resent, spent, complete })
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use serde_json::json;

    use super::*;
    use crate::http::Method;
    use crate::keys::Alg;
    use crate::state::deliveries::DeliveryRecord;
    use crate::state::memory::MemoryStore;
    use crate::testing::{self, fixtures, request, seeded_store, Recorder, COOKIE, ISSUER, NOW};

    const GRACE: i64 = 300;

    /// A failed delivery `id`, due at `due`.
    fn failed(id: &str, due: i64) -> DeliveryRecord {
        let mut d = crate::protocol::backchannel::plan::plan(
            &LogoutEvent::Sessions(vec![fixtures::session("s1", &["rp1"])]),
            &fixtures::clients(),
            fixtures::ids(),
        )
        .remove(0);
        d.id = id.into();
        d.attempt = 2;
        d.nonce = Some("old".into());
        DeliveryRecord::failed(d, due, due - 10)
    }

    /// A tick neither due nor at the hour's first minute.
    fn mid_hour(t: i64) -> i64 {
        t - t % 3600 + 600
    }

    #[test]
    fn a_sweep_with_more_than_one_page_of_failed_records_reaches_them_all_within_its_budget() {
        block_on(async {
            let now = mid_hour(NOW);
            let store = MemoryStore::new(now);
            // 1,100 failed records (more than one listing page); the 5 overdue ones sort last.
            for i in 0..1100 {
                deliveries::save(&store, &failed(&format!("a{i:05}"), now + 600)).await.unwrap();
            }
            for i in 0..5 {
                deliveries::save(&store, &failed(&format!("z{i}"), now - GRACE - 1)).await.unwrap();
            }
            assert!(outbox::mark_due(&store, now).await);
            let platform = Recorder::default();
            let budget = 50;
            store.ops.set(0);
            let swept = sweep(&store, &platform, now, GRACE, budget, || "fresh".into()).await.unwrap();
            assert!(store.ops.get() <= budget, "{} KV calls", store.ops.get());
            assert!(swept.spent <= budget);
            assert!(swept.complete, "{swept:?}");
            let mut handed: Vec<String> = platform.handed.borrow().iter().map(|d| d.id.clone()).collect();
            handed.sort();
            assert_eq!(handed, ["z0", "z1", "z2", "z3", "z4"]);
            let rec = deliveries::pending(&store, "z0").await.unwrap().unwrap();
            assert_eq!((rec.delivery.nonce.as_deref(), rec.delivery.issued_at), (Some("fresh"), Some(now)));
        });
    }

    #[test]
    fn a_sweep_that_runs_out_of_budget_stops_within_it_and_the_next_ticks_reach_the_rest() {
        block_on(async {
            let now = mid_hour(NOW);
            let store = MemoryStore::new(now);
            for i in 0..30 {
                deliveries::save(&store, &failed(&format!("d{i:02}"), now - GRACE - 1)).await.unwrap();
            }
            assert!(outbox::mark_due(&store, now).await);
            let platform = Recorder::default();
            let budget = 20;
            let mut ticks = 0;
            loop {
                let t = now + 60 * ticks;
                store.now.set(t);
                store.ops.set(0);
                let swept = sweep(&store, &platform, t, GRACE, budget, || format!("n{ticks}")).await.unwrap();
                assert!(store.ops.get() <= budget, "tick {ticks}: {} KV calls", store.ops.get());
                ticks += 1;
                if swept.complete || ticks > 10 {
                    break;
                }
                assert!(outbox::due(&store).await.unwrap(), "an unfinished sweep marks itself due");
            }
            assert!(ticks > 1, "the budget cut the first tick short");
            let mut handed: Vec<String> = platform.handed.borrow().iter().map(|d| d.id.clone()).collect();
            handed.sort();
            handed.dedup();
            assert_eq!(handed.len(), 30, "every one reached, in {ticks} ticks");
        });
    }

    #[test]
    fn the_hourly_pass_reissues_failed_records_even_when_nobody_marked_the_sweep_due() {
        block_on(async {
            let hour = NOW - NOW % 3600;
            let store = MemoryStore::new(hour);
            deliveries::save(&store, &failed("lost", hour - GRACE - 1)).await.unwrap();
            assert!(!outbox::due(&store).await.unwrap());
            let platform = Recorder::default();
            // Not at the hour: nothing looked at.
            assert!(!sweep(&store, &platform, hour + 300, GRACE, 50, || "n".into()).await.unwrap().looked);
            let swept = sweep(&store, &platform, hour + 3600, GRACE, 50, || "n".into()).await.unwrap();
            assert_eq!(swept.requeued, 1);
            assert_eq!(platform.handed.borrow()[0].id, "lost");
        });
    }

    #[test]
    fn a_logout_whose_sweep_marker_write_fails_still_answers_303_and_loses_nothing() {
        let store = seeded_store();
        // Back-channel only: the finished logout answers with its redirect.
        for id in ["rp1", "rp2"] {
            let mut c = block_on(clients::load(&store, id)).unwrap().unwrap();
            c.frontchannel_logout_uri = None;
            block_on(clients::save(&store, &c)).unwrap();
        }
        let refusing = crate::testing::stores::RefusingKey { inner: &store, key: "sweep/due" };
        // The queue is down: both deliveries and the re-check stay in the outbox, which wants
        // the sweep told; KV refuses the marker.
        let platform = Recorder::default();
        platform.queue_down.set(true);
        let mut settings = testing::settings();
        settings.insert("BACKCHANNEL_INLINE_MAX", "0".into());
        let config = testing::load(&settings).unwrap();
        let hint = testing::id_token(Alg::RS256, json!({"iss": ISSUER, "sub": "alice", "sid": "sid-1", "aud": "rp1"}));
        let q = format!(
            "id_token_hint={hint}&post_logout_redirect_uri={}",
            url::form_urlencoded::byte_serialize(b"https://rp1.example/bye").collect::<String>()
        );
        let mut req = request(Method::Get, &format!("/session/end?{q}"));
        req.headers.push(("cookie".into(), format!("op_session={COOKIE}")));
        store.now.set(NOW);
        let r = block_on(testing::handle(&config, &refusing, &platform, NOW, &req));
        assert_eq!(r.status, 303, "{}", String::from_utf8_lossy(&r.body));
        assert!(!block_on(outbox::due(&store)).unwrap(), "the marker was refused");
        assert!(block_on(sessions::load(&store, "sid-1", NOW)).unwrap().is_none(), "the session ended");
        // The logout's record (kept until its look) and the look the queue refused, carrying
        // both deliveries, under a key of its own.
        let left = block_on(outbox::page(&store, 10)).unwrap();
        assert_eq!(left.len(), 2);
        let refused = left.iter().find(|o| o.logout_id.ends_with(".r1")).expect("the refused look");
        assert_eq!(refused.recheck.as_ref().unwrap().unsent.len(), 2, "both deliveries kept");
        // The hourly pass finds them without the marker (the refused look, and by then the
        // logout's own record, overdue) and queues them; the looks send both deliveries (one
        // may come twice) and remove the records.
        platform.queue_down.set(false);
        let hour = NOW - NOW % 3600 + 3600;
        store.now.set(hour);
        let swept = block_on(sweep(&store, &platform, hour, GRACE, 1000, || "n".into())).unwrap();
        assert!(swept.looked);
        let looks = platform.rechecks();
        assert!(!looks.is_empty());
        for look in &looks {
            block_on(recheck(&store, &platform, look, None, hour)).unwrap();
        }
        let mut handed: Vec<String> = platform.handed.borrow().iter().map(|d| d.client_id.clone()).collect();
        handed.sort();
        handed.dedup();
        assert_eq!(handed, ["rp1", "rp2"]);
        assert!(block_on(outbox::page(&store, 10)).unwrap().is_empty());
    }
}

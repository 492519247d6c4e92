//! Ending sessions: the one place where sessions end and the relying parties that must hear of
//! it are handed to the platform, and where a later look ([`recheck`]) makes a logout converge
//! under KV's eventual consistency.
//!
//! A logout reads the relying parties it resolves itself, plans everything it will write and
//! send as values (`plan_logout`: pure), then writes and hands off. What "nothing lost" rests
//! on, in order ([`end_sessions`]; the writes are `state::logouts`, two calls):
//! 1. the planned deliveries and the look are stored in the logout's outbox record, before any
//!    attempt, send or delete (if this fails, nothing happened, and the user is told so); the
//!    record stays until the look has run, so that a look lost on its way (a queue send that
//!    failed, a message dead-lettered) is sent again by the cron sweep;
//! 2. each session's tombstone is written, so that it cannot be joined or created again;
//! 3. each expansion message's guard is written, before any message is sent;
//! 4. the expansion messages are queued, the wave's deliveries attempted or queued;
//! 5. the look is queued, delayed past KV's window, carrying what could not be handed off;
//! 6. only then are the sessions deleted.
//!
//! No key is written twice in one request (KV takes one write per second per key): what a
//! failed queue send leaves goes under a key of its own.

use std::collections::{HashMap, HashSet};

use crate::budget::{self, affordable_inline, Spend, DELETES_PER_SESSION, RECHECK_SESSIONS_PER_MESSAGE};
use crate::config::SessionEvents;
use crate::ports::{Platform, Store, StoreError, Summary};
pub use crate::protocol::backchannel::event::{LogoutEvent, SessionEnd};
use crate::protocol::backchannel::plan::{plan, plan_client, plan_events};
use crate::state::clients::{self, Client};
use crate::state::deliveries::{
    self, Delivery, EndReason, EndedRef, EndedSession, Expansion, OwedClient, OwedEvent, QueueMessage, Recheck,
};
use crate::state::logouts::{self, After, Before};
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
    /// The sessions ended, each with every client it has.
    pub sessions: Vec<SessionEnd>,
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

/// The outbox record of a logout: everything it will send (its wave, and what it left to the
/// consumer to expand), and its look; due for the sweep only once that look should have
/// removed it.
fn logout_record(look: &Recheck, deliveries: Vec<Delivery>, expansions: Vec<Expansion>, now: i64) -> Outbox {
    let last_look = i64::from(RECHECK_DELAYS_S[RECHECK_DELAYS_S.len() - 1]);
    Outbox {
        logout_id: look.logout_id.clone(),
        deliveries,
        recheck: Some(look.clone()),
        expansions,
        created_at: now,
        due_at: Some(now + last_look + RECHECK_OVERDUE_S),
    }
}

/// Ends `session`, a user's own, as [`end_sessions`] does, with every client it has: those
/// recorded after its login are listed here, once it is decided to end it (a page that only
/// asks spends no list).
pub async fn end_seen(
    store: &impl Store,
    platform: &impl Platform,
    session: Session,
    ending: Ending<'_>,
    inline_max: usize,
    known: Vec<Client>,
    now: i64,
) -> Result<Ended, StoreError> {
    let event = LogoutEvent::of(None, vec![sessions::with_members(store, session).await?]);
    end_sessions(store, platform, &event, ending, inline_max, known, now).await
}

/// Ends the sessions of `event` (each with all its clients: see
/// [`sessions::with_members`]), in the order the module comment gives. The request's work
/// does not grow with the relying parties: it tells at most one wave itself (`inline_max`,
/// fewer if its subrequests would not suffice), planned from the clients the caller read
/// (`known`) and one bulk read of at most [`budget::BULK_READ_MAX`] more; every relying party
/// after the wave goes, as a number and an id, into one queue message (one per
/// [`crate::state::deliveries::MAX_EXPANSION_BYTES`]) that the consumer expands ([`expand`]).
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
    // Read: the relying parties the request resolves itself.
    let found = registered_prefix(store, &event.client_ids(), known, inline_max).await?;
    // Plan: every record, message and delivery of the logout, as values, within what is left
    // of the request's subrequests. Reserved: the deletes, the expansion's send and its
    // fallback record, and one send batch should none of the wave go inline.
    let reserved = DELETES_PER_SESSION * event.sessions().len() + 3;
    let spent = Spend::services(store.subrequests() + UNCOUNTED_SUBREQUESTS);
    let inline = affordable_inline(budget::PLAN, spent, Spend::services(reserved), inline_max);
    let plan = plan_logout(event, ending, &found, platform.random_id(), inline, now);
    // Write (the record, the tombstones, the guards: see `state::logouts` for why in that
    // order), hand off, then write what follows the handoff.
    let ended = event.sessions().iter().map(|s| logouts::Ended { sid: &s.sid, sub: Some(&s.sub) }).collect();
    let guarded =
        logouts::write_before(store, &Before { record: &plan.record, ended, guards: plan.guards }, now).await?;
    // The expansion first: the consumer starts on it while the wave is attempted. One the
    // queue refused is sent again by the sweep once its guard is due (the sweep is told).
    let mut sent = Vec::with_capacity(plan.expansions.len());
    for e in plan.expansions {
        sent.push(platform.enqueue(&QueueMessage::Expand(e), 0).await);
    }
    let mut handoff = platform.deliver(plan.deliveries, inline).await;
    for (n, sent) in plan.expanded_counts.into_iter().zip(&sent) {
        match sent {
            true => handoff.summary.queued += n,
            false => handoff.summary.pending += n,
        }
    }
    schedule_look(store, platform, Recheck { unsent: handoff.unsent, ..plan.look }, now).await;
    let left_for_sweep = sent.iter().zip(&guarded).any(|(sent, guarded)| !sent || !guarded);
    let delete = event.sessions().iter().map(|s| (s.sid.as_str(), s.sub.as_str())).collect();
    logouts::write_after(store, &After { left_for_sweep, delete }, now).await;
    Ok(Ended { sessions: event.sessions().to_vec(), clients: found, summary: handoff.summary })
}

/// A logout of seen sessions as values, before anything is written or sent.
struct LogoutPlan {
    /// Its outbox record: what follows, all of it.
    record: Outbox,
    /// The request's wave, and the session-ended events.
    deliveries: Vec<Delivery>,
    /// The relying parties after the wave, for the consumer to expand.
    expansions: Vec<Expansion>,
    /// The guard of each expansion message.
    guards: Vec<Outbox>,
    /// How many deliveries the summary counts for each expansion message.
    expanded_counts: Vec<usize>,
    /// Its look, without what the handoff will leave unsent.
    look: Recheck,
}

/// Plans the logout of `event` (pure): its wave of at most `inline` deliveries among the
/// relying parties `found` (the first ones, in order), the rest as expansion messages with
/// their guards, its events, its look and its record.
fn plan_logout(
    event: &LogoutEvent,
    ending: Ending<'_>,
    found: &[Client],
    logout_id: String,
    inline: usize,
    now: i64,
) -> LogoutPlan {
    let owed = owed_clients(event);
    // The logout's planning context, and its clients by id: for the wave and the summary alike.
    let planning = expansion_of(event, &logout_id, Vec::new());
    let by_id: HashMap<&str, &Client> = found.iter().map(|c| (c.client_id.as_str(), c)).collect();
    let (mut deliveries, taken) = wave(&planning, &owed, &by_id, inline);
    deliveries.extend(planned_events(event, ending, &logout_id));
    let expansions = match owed.len() > taken {
        true => expansion_of(event, &logout_id, owed[taken..].to_vec()).into_messages(),
        false => Vec::new(),
    };
    // What the summary reports as handed to the queue through the expansion: the deliveries of
    // the relying parties read here, one for each one not read (an estimate: it may have no
    // back-channel URI, or several sessions).
    let owed_of = |m: &Expansion| -> usize {
        m.expand
            .iter()
            .map(|o| match by_id.get(o.id.as_str()) {
                Some(c) => plan_owed(&planning, o, c).len(),
                None if o.n <= RESOLVED_IN_REQUEST => 0,
                None => 1,
            })
            .sum()
    };
    let expanded_counts = expansions.iter().map(owed_of).collect();
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
    let record = logout_record(&look, deliveries.clone(), expansions.clone(), now);
    let guards = expansions.iter().map(|e| guard_record(e, now)).collect();
    LogoutPlan { record, deliveries, expansions, guards, expanded_counts, look }
}

/// Every relying party of `event`, numbered from 1 in the logout's order, with the sessions it
/// is in (none named: all of them, the common case of one session).
fn owed_clients(event: &LogoutEvent) -> Vec<OwedClient> {
    let sessions = event.sessions();
    let members: Vec<HashSet<&str>> = match sessions.len() {
        1 => Vec::new(),
        _ => sessions.iter().map(|s| s.clients.iter().map(String::as_str).collect()).collect(),
    };
    event
        .client_ids()
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let of: Vec<usize> = members.iter().enumerate().filter(|(_, m)| m.contains(id)).map(|(j, _)| j).collect();
            let of = if of.len() == members.len() { Vec::new() } else { of };
            OwedClient { n: i + 1, id: id.to_string(), of }
        })
        .collect()
}

/// The expansion of `event` for `clients`.
fn expansion_of(event: &LogoutEvent, logout_id: &str, clients: Vec<OwedClient>) -> Expansion {
    Expansion {
        logout_id: logout_id.to_string(),
        subject: event.subject(),
        ended: event.sessions().iter().map(|s| EndedRef { sid: s.sid.clone(), sub: s.sub.clone() }).collect(),
        expand: clients,
    }
}

/// The request's one wave: the deliveries of the first relying parties, in order, until
/// `inline` deliveries are planned or a client was not read; and how many clients it took (the
/// expansion starts there). A client deleted from the registry since is not told.
fn wave(
    planning: &Expansion,
    owed: &[OwedClient],
    by_id: &HashMap<&str, &Client>,
    inline: usize,
) -> (Vec<Delivery>, usize) {
    let mut out = Vec::new();
    let mut taken = 0;
    for owed in owed {
        if out.len() >= inline {
            break;
        }
        match by_id.get(owed.id.as_str()) {
            Some(client) => out.extend(plan_owed(planning, owed, client)),
            // Read and not found (deleted): skipped; not read: the expansion's.
            None if owed.n <= RESOLVED_IN_REQUEST => {}
            None => break,
        }
        taken += 1;
    }
    (out, taken)
}

/// How many of a logout's relying parties its request resolves at most: the caller's, and one
/// bulk read for the rest of these.
const RESOLVED_IN_REQUEST: usize = budget::BULK_READ_MAX;

/// The deliveries of one owed relying party, named `{logout_id}.{n}` (and `.{n}.{j}` for its
/// `j`-th session after the first): the same whoever plans them, and however often.
fn plan_owed(expansion: &Expansion, owed: &OwedClient, client: &Client) -> Vec<Delivery> {
    let sessions = expansion.sessions_of(owed).map(|s| (s.sid.as_str(), s.sub.as_str()));
    plan_client(client, expansion.subject.as_deref(), sessions, |j| match j {
        0 => format!("{}.{}", expansion.logout_id, owed.n),
        j => format!("{}.{}.{j}", expansion.logout_id, owed.n),
    })
}

/// How long an expansion message may take to run before its guard record is due for the
/// sweep (which then sends it again): well past a queue's usual latency, so that the sweep does
/// not double a live chain.
pub const EXPAND_OVERDUE_S: i64 = 600;

/// The outbox key of an expansion message's guard: its logout and its first relying party.
fn guard_id(expansion: &Expansion) -> String {
    format!("{}.x{}", expansion.logout_id, expansion.expand.first().map_or(0, |c| c.n))
}

/// The guard of an expansion message, written before it is sent: an outbox record holding it,
/// due [`EXPAND_OVERDUE_S`] later, which the message's consumer removes once its page is
/// handed off and its rest guarded and sent. A message lost on its way (a failed send, a
/// dead-lettered one the dead-letter consumer could not keep) is so sent again by the sweep.
fn guard_record(expansion: &Expansion, now: i64) -> Outbox {
    Outbox {
        logout_id: guard_id(expansion),
        deliveries: Vec::new(),
        recheck: None,
        expansions: vec![expansion.clone()],
        created_at: now,
        due_at: Some(now + EXPAND_OVERDUE_S),
    }
}

/// The queue consumer's share of a logout: plans and hands off (queued, each with its record)
/// the deliveries of the first relying parties of `expansion`, at most
/// [`budget::EXPAND_CLIENTS`] of them (one bulk read) and [`budget::EXPAND_DELIVERIES`]
/// deliveries, and passes the rest on in one message. Safe to run twice, or again after failing
/// halfway: the deliveries' ids are the logout's numbers, so their records are written again,
/// not added (a relying party may be told twice, never not at all). What could not be handed
/// off, or passed on, goes into an outbox record of its own, due at once; an error (that
/// record could not be written) leaves the message to be tried again. The number of
/// deliveries planned.
pub async fn expand(
    store: &impl Store,
    platform: &impl Platform,
    expansion: &Expansion,
    now: i64,
) -> Result<usize, StoreError> {
    let page = &expansion.expand[..expansion.expand.len().min(budget::EXPAND_CLIENTS)];
    let ids: Vec<&str> = page.iter().map(|c| c.id.as_str()).collect();
    let found = clients::load_many(store, &ids).await?;
    let by_id: HashMap<&str, &Client> = found.iter().map(|c| (c.client_id.as_str(), c)).collect();
    let mut deliveries = Vec::new();
    let mut taken = 0;
    for owed in page {
        let planned = by_id.get(owed.id.as_str()).map(|c| plan_owed(expansion, owed, c)).unwrap_or_default();
        if !deliveries.is_empty() && deliveries.len() + planned.len() > budget::EXPAND_DELIVERIES {
            break;
        }
        deliveries.extend(planned);
        taken += 1;
    }
    let planned = deliveries.len();
    if taken < expansion.expand.len() {
        // The rest's guard first, then its message: lost on its way, the sweep sends it again.
        let rest = expansion.with(expansion.expand[taken..].to_vec());
        outbox::save(store, &guard_record(&rest, now), now).await?;
        if !platform.enqueue(&QueueMessage::Expand(rest), 0).await {
            let _ = outbox::mark_due(store, now).await;
        }
    }
    let unsent = match deliveries.is_empty() {
        true => Vec::new(),
        false => platform.deliver(deliveries, 0).await.unsent,
    };
    // This page is handed off: its guard goes, or keeps what could not be handed off (due at
    // once).
    let own = Outbox {
        logout_id: guard_id(expansion),
        deliveries: unsent,
        recheck: None,
        expansions: Vec::new(),
        created_at: now,
        due_at: None,
    };
    outbox::settle(store, &own, now).await?;
    Ok(planned)
}

/// The registered clients the request resolves: `known` ones, and a bulk read of those of the
/// first [`RESOLVED_IN_REQUEST`] relying parties not known (none when no delivery goes inline:
/// the expansion reads them). A client deleted from the registry since is no longer told.
async fn registered_prefix(
    store: &impl Store,
    ids: &[&str],
    known: Vec<Client>,
    inline_max: usize,
) -> Result<Vec<Client>, StoreError> {
    let wanted: HashSet<&str> = ids.iter().copied().collect();
    let mut found: Vec<Client> = known.into_iter().filter(|c| wanted.contains(c.client_id.as_str())).collect();
    if inline_max == 0 {
        return Ok(found);
    }
    let have: HashSet<String> = found.iter().map(|c| c.client_id.clone()).collect();
    let prefix = &ids[..ids.len().min(RESOLVED_IN_REQUEST)];
    let missing: Vec<&str> = prefix.iter().copied().filter(|id| !have.contains(*id)).collect();
    if !missing.is_empty() {
        found.extend(clients::load_many(store, &missing).await?);
    }
    Ok(found)
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
            let ended = SessionEnd { sid: unseen.sid.to_string(), sub: sub.to_string(), clients: Vec::new() };
            (planned_events(&LogoutEvent::Sessions(vec![ended]), ending, &logout_id), None)
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
    // The record and the tombstone, in the order `state::logouts` gives; no guard, no delete.
    let record = logout_record(&look, deliveries.clone(), Vec::new(), now);
    let ended = vec![logouts::Ended { sid: unseen.sid, sub: unseen.sub }];
    logouts::write_before(store, &Before { record: &record, ended, guards: Vec::new() }, now).await?;
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
            expansions: Vec::new(),
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
        expansions: Vec::new(),
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
                expansions: Vec::new(),
                created_at: now,
                due_at: None,
            };
            outbox::settle(store, &left, now).await?;
        }
    }
    let mut unsent = std::mem::take(&mut check.unsent);
    let mut late: Vec<SessionEnd> = Vec::new();
    let mut owed: Vec<(SessionEnd, OwedEvent)> = Vec::new();
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
            sessions::delete(store, &r.sid, &r.sub).await?;
        }
        let untold: Vec<String> = ids.into_iter().filter(|id| !ended.notified.contains(id)).collect();
        let session = SessionEnd { sid: ended.sid.clone(), sub, clients: untold.clone() };
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
        let left = Outbox {
            logout_id,
            deliveries: unsent,
            recheck: None,
            expansions: Vec::new(),
            created_at: now,
            due_at: None,
        };
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
/// did not finish) are sent again: their deliveries queued, their re-check and expansions queued. The number
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
            // Expansions sent again stay, due later: their guard until their consumer runs.
            let mut due_at = None;
            for e in &left.expansions {
                if platform.enqueue(&QueueMessage::Expand(e.clone()), 0).await {
                    due_at = Some(now + EXPAND_OVERDUE_S);
                }
            }
            let expansions = left.expansions.clone();
            let due_at = if handoff.unsent.is_empty() && recheck.is_none() { due_at } else { None };
            let rest = Outbox { deliveries: handoff.unsent, recheck, expansions, due_at, ..left };
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
    n + n.div_ceil(crate::budget::QUEUE_BATCH_MAX) + usize::from(left.recheck.is_some()) + left.expansions.len() + 2
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
    use crate::testing::{self, fixtures, request, seeded_store, Queueing, Recorder, COOKIE, ISSUER, NOW};

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
        // The logout's record (kept until its look), and the expansion (both relying parties:
        // nothing inline) and the look the queue refused, each under a key of its own.
        let left = block_on(outbox::page(&store, 10)).unwrap();
        assert_eq!(left.len(), 3);
        assert!(left.iter().any(|o| o.logout_id.ends_with(".r1")), "the refused look");
        let refused = left.iter().find(|o| o.logout_id.ends_with(".x1")).expect("the refused expansion's guard");
        assert_eq!(refused.expansions[0].expand.len(), 2, "both relying parties kept");
        // The hourly pass finds them without the marker (the refused ones, and by then the
        // logout's own record, overdue) and queues them; the expansions hand both deliveries to
        // the queue (one may come twice), the looks remove the records.
        platform.queue_down.set(false);
        let hour = NOW - NOW % 3600 + 3600;
        store.now.set(hour);
        let swept = block_on(sweep(&store, &platform, hour, GRACE, 1000, || "n".into())).unwrap();
        assert!(swept.looked);
        for e in &platform.expansions() {
            block_on(expand(&store, &platform, e, hour)).unwrap();
        }
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

    /// A store with `n` registered relying parties `c0001`... (each with a back-channel URI) and
    /// `sessions` sessions of alice, each naming all of them.
    fn many(n: usize, sessions: usize) -> (MemoryStore, Vec<Session>) {
        let store = MemoryStore::new(NOW);
        let ids: Vec<String> = (1..=n).map(|i| format!("c{i:04}")).collect();
        block_on(async {
            for id in &ids {
                let c = fixtures::client(id, Some(&format!("https://{id}.example/bc")), false, Alg::RS256);
                clients::save(&store, &c).await.unwrap();
            }
        });
        let ended = (1..=sessions)
            .map(|k| Session {
                sid: format!("s{k}"),
                sub: "alice".into(),
                clients: ids.clone(),
                created_at: NOW - 60,
                expires_at: NOW + 3600,
                cookie_hash: String::new(),
                logout_hints: Vec::new(),
            })
            .collect::<Vec<_>>();
        block_on(async {
            for s in &ended {
                sessions::save(&store, s, true).await.unwrap();
            }
        });
        (store, ended)
    }

    #[test]
    fn a_logout_plan_records_everything_it_sends_and_guards_each_expansion_message() {
        let (store, ended) = many(250, 1);
        let event = LogoutEvent::of(None, ended);
        let ids = event.client_ids();
        let found = block_on(clients::load_many(&store, &ids[..RESOLVED_IN_REQUEST])).unwrap();
        let plan = plan_logout(&event, ENDING, &found, "L".into(), 6, NOW);
        // The wave, then the relying parties after it in the expansion, each once.
        assert_eq!(plan.deliveries.len(), 6);
        let expanded: usize = plan.expansions.iter().map(|e| e.expand.len()).sum();
        assert_eq!(expanded, 250 - 6);
        // The record holds all of it and the look, before anything is written or sent.
        assert_eq!(plan.record.deliveries, plan.deliveries);
        assert_eq!(plan.record.expansions, plan.expansions);
        assert_eq!(plan.record.recheck.as_ref(), Some(&plan.look));
        // One guard per expansion message, holding that message, under its own key.
        assert_eq!(plan.guards.len(), plan.expansions.len());
        for (g, e) in plan.guards.iter().zip(&plan.expansions) {
            assert_eq!((g.logout_id.as_str(), &g.expansions[..]), (guard_id(e).as_str(), std::slice::from_ref(e)));
            assert_ne!(g.logout_id, plan.record.logout_id);
        }
        assert_eq!(plan.expanded_counts.iter().sum::<usize>(), 250 - 6);
    }

    /// What one logout request cost: store subrequests, queue calls, KV writes.
    #[derive(Debug, PartialEq, Eq)]
    struct Cost {
        store_calls: usize,
        queue_calls: usize,
        kv_writes: usize,
    }

    const ENDING: Ending<'static> = Ending { reason: EndReason::RpLogout, initiator: None, events: None };

    /// Ends `event` with the default wave, on the queueing platform: the request's cost.
    fn request_cost(store: &MemoryStore, platform: &Queueing<'_, MemoryStore>, event: &LogoutEvent) -> Cost {
        store.ops.set(0);
        store.take_counts();
        let inline_max = crate::budget::DEFAULT_INLINE_MAX;
        block_on(end_sessions(store, platform, event, ENDING, inline_max, Vec::new(), NOW)).unwrap();
        Cost {
            store_calls: store.ops.get(),
            queue_calls: platform.send_calls.get(),
            kv_writes: store.take_counts().writes,
        }
    }

    /// Runs every expansion queued so far (and those they pass on), as the consumer does: the
    /// number of expansion messages run.
    fn run_expansions(store: &impl Store, platform: &Queueing<'_, impl Store>, now: i64) -> usize {
        let mut run = 0;
        loop {
            let all = platform.inner.expansions();
            if run == all.len() {
                return run;
            }
            block_on(expand(store, platform, &all[run], now)).unwrap();
            run += 1;
        }
    }

    /// Every relying party handed a delivery (inline, or queued with its record), each once.
    fn handed_once(platform: &Queueing<'_, impl Store>) -> Vec<String> {
        let mut ids: Vec<String> = platform.inner.handed.borrow().iter().map(|d| d.id.clone()).collect();
        ids.extend(platform.queued().into_iter().map(|d| d.id));
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "no delivery handed twice");
        ids
    }

    #[test]
    fn a_logout_of_1000_relying_parties_costs_its_request_what_one_of_3_does() {
        let (small, s3) = many(3, 1);
        let p3 = Queueing::new(&small, NOW);
        let three = request_cost(&small, &p3, &LogoutEvent::of(None, s3));
        let (big, s1000) = many(1000, 1);
        let p1000 = Queueing::new(&big, NOW);
        let thousand = request_cost(&big, &p1000, &LogoutEvent::of(None, s1000));
        eprintln!("request at 3 RPs: {three:?}; at 1,000 RPs: {thousand:?}");
        // The same store calls and KV writes (the record, the tombstone) but the expansion's
        // guard; one queue call more: the one expansion message carrying the 988 relying
        // parties after the wave.
        assert_eq!(thousand.store_calls, three.store_calls + 1);
        assert_eq!(thousand.kv_writes, three.kv_writes + 1);
        assert_eq!(thousand.queue_calls, three.queue_calls + 1);
        assert_eq!(p1000.inner.handed.borrow().len(), crate::budget::DEFAULT_INLINE_MAX, "one wave inline");
        assert!(p1000.queued().is_empty(), "nothing queued one by one by the request");
        let expansions = p1000.inner.expansions();
        assert_eq!(expansions.len(), 1);
        assert_eq!(expansions[0].expand.len(), 1000 - crate::budget::DEFAULT_INLINE_MAX);
        // The record keeps what the logout owes until its look: the wave and the expansion.
        let record = block_on(outbox::load(&big, &expansions[0].logout_id)).unwrap().unwrap();
        assert_eq!(record.expansions, expansions);
        assert_eq!(record.deliveries.len(), crate::budget::DEFAULT_INLINE_MAX);

        // The whole logout, the consumer's expansions included: every relying party once, and
        // one KV write (the `queued` record) and one queue message per queued delivery.
        big.take_counts();
        let calls_before = p1000.send_calls.get();
        let hops = run_expansions(&big, &p1000, NOW);
        let consumer = big.take_counts();
        let queued = p1000.queued().len();
        assert_eq!(handed_once(&p1000).len(), 1000);
        assert_eq!(queued, 1000 - crate::budget::DEFAULT_INLINE_MAX);
        assert_eq!(hops, queued.div_ceil(crate::budget::EXPAND_CLIENTS), "paged by 100");
        // One record per queued delivery, and each page the guard of the rest it passes on (and
        // removes its own).
        assert_eq!((consumer.writes, consumer.deletes), (queued + hops - 1, hops));
        let queue_calls = p1000.send_calls.get() - calls_before;
        eprintln!(
            "1,000-RP logout: request {thousand:?}; consumer: {hops} expansion messages, {} KV writes (and {} deletes), \
             {} bulk reads ({} keys), {queue_calls} queue calls, {queued} delivery messages",
            consumer.writes, consumer.deletes, hops, consumer.reads
        );
    }

    #[test]
    fn an_admin_logout_of_a_user_with_many_sessions_and_relying_parties_costs_per_session_only() {
        let subject = |n: usize, k: usize| {
            let (store, ended) = many(n, k);
            let platform = Queueing::new(&store, NOW);
            let event = LogoutEvent::of(Some("alice".into()), ended);
            let cost = request_cost(&store, &platform, &event);
            (cost, platform.inner.expansions().len())
        };
        let (one, _) = subject(3, 1);
        let (page, messages) = subject(1000, crate::budget::SUBJECT_LOGOUT_PAGE);
        eprintln!("admin logout: 1 session x 3 RPs {one:?}; 10 sessions x 1,000 RPs {page:?}");
        // Per ended session: its tombstone (a write) and two deletes; nothing per relying party.
        let extra = crate::budget::SUBJECT_LOGOUT_PAGE - 1;
        // And the expansion's guard.
        assert_eq!(page.store_calls, one.store_calls + extra * (1 + DELETES_PER_SESSION) + 1);
        assert_eq!(page.kv_writes, one.kv_writes + extra + 1);
        assert_eq!((page.queue_calls, messages), (one.queue_calls + 1, 1));
    }

    #[test]
    fn an_expansion_run_twice_writes_the_same_records_and_loses_no_one() {
        let (store, ended) = many(250, 1);
        let platform = Queueing::new(&store, NOW);
        let ended =
            block_on(end_sessions(&store, &platform, &LogoutEvent::of(None, ended), ENDING, 6, Vec::new(), NOW))
                .unwrap();
        // The summary counts the relying parties past the wave as handed to the queue.
        assert_eq!((ended.summary.delivered, ended.summary.queued, ended.summary.pending), (6, 244, 0));
        let first = platform.inner.expansions()[0].clone();
        block_on(expand(&store, &platform, &first, NOW)).unwrap();
        let records = |store: &MemoryStore| -> Vec<String> {
            store
                .snapshot()
                .into_iter()
                .filter(|(_, k, _)| k.starts_with(deliveries::PENDING_PREFIX))
                .map(|(_, k, _)| k)
                .collect()
        };
        let once = records(&store);
        assert_eq!(once.len(), crate::budget::EXPAND_CLIENTS);
        // The queue delivers it again (it was not acked): the same records, rewritten.
        block_on(expand(&store, &platform, &first, NOW)).unwrap();
        assert_eq!(records(&store), once, "no record added by the second run");
        // Both runs passed the rest on: run everything (the rest twice).
        run_expansions(&store, &platform, NOW);
        let mut told: Vec<String> = platform.inner.handed.borrow().iter().map(|d| d.client_id.clone()).collect();
        told.extend(platform.queued().into_iter().map(|d| d.client_id));
        told.sort();
        told.dedup();
        assert_eq!(told.len(), 250, "every relying party told");
        assert_eq!(records(&store).len(), 250 - 6, "one record per queued relying party, however often expanded");
    }

    /// A store refusing writes of `prefix` keys after the first `allowed`.
    struct RefusingAfter<'a> {
        inner: &'a MemoryStore,
        prefix: &'static str,
        allowed: std::cell::Cell<usize>,
    }

    impl Store for RefusingAfter<'_> {
        async fn get(&self, ns: crate::ports::Ns, key: &str) -> Result<Option<String>, StoreError> {
            self.inner.get(ns, key).await
        }
        async fn get_many(&self, ns: crate::ports::Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
            self.inner.get_many(ns, keys).await
        }
        async fn put(
            &self,
            ns: crate::ports::Ns,
            key: &str,
            value: &str,
            exp: Option<i64>,
            meta: Option<serde_json::Value>,
        ) -> Result<(), StoreError> {
            if key.starts_with(self.prefix) {
                if self.allowed.get() == 0 {
                    return Err(StoreError("refused".into()));
                }
                self.allowed.set(self.allowed.get() - 1);
            }
            self.inner.put(ns, key, value, exp, meta).await
        }
        async fn delete(&self, ns: crate::ports::Ns, key: &str) -> Result<(), StoreError> {
            self.inner.delete(ns, key).await
        }
        async fn list(
            &self,
            ns: crate::ports::Ns,
            prefix: &str,
            cursor: Option<String>,
            limit: u32,
        ) -> Result<crate::ports::ListPage, StoreError> {
            self.inner.list(ns, prefix, cursor, limit).await
        }
        fn subrequests(&self) -> usize {
            self.inner.subrequests()
        }
    }

    #[test]
    fn an_expansion_failing_halfway_leaves_the_rest_in_the_outbox_and_the_sweep_sends_it() {
        let now = mid_hour(NOW);
        let (store, ended) = many(100, 1);
        store.now.set(now);
        let platform = Queueing::new(&store, now);
        block_on(end_sessions(&store, &platform, &LogoutEvent::of(None, ended), ENDING, 0, Vec::new(), now)).unwrap();
        let expansion = platform.inner.expansions()[0].clone();
        assert_eq!(expansion.expand.len(), 100, "nothing inline: all expanded");
        // KV takes 40 records, then refuses the rest: they are kept in an outbox record, due.
        let refusing = RefusingAfter { inner: &store, prefix: deliveries::PENDING_PREFIX, allowed: 40.into() };
        let failing = Queueing::new(&refusing, now);
        block_on(expand(&refusing, &failing, &expansion, now)).unwrap();
        assert_eq!(failing.queued().len(), 40);
        let left = block_on(outbox::load(&store, &format!("{}.x1", expansion.logout_id))).unwrap().unwrap();
        assert_eq!(left.deliveries.len(), 60);
        assert!(block_on(outbox::due(&store)).unwrap());
        // The sweep, past its grace, hands them to the queue with their records.
        let later = now + GRACE + 1;
        store.now.set(later);
        let sweeping = Queueing::new(&store, later);
        block_on(sweep(&store, &sweeping, later, GRACE, 1000, || "n".into())).unwrap();
        let mut told: Vec<String> =
            failing.queued().into_iter().chain(sweeping.queued()).map(|d| d.client_id).collect();
        told.sort();
        told.dedup();
        assert_eq!(told.len(), 100, "every relying party recorded and queued");
        assert!(block_on(outbox::load(&store, &format!("{}.x1", expansion.logout_id))).unwrap().is_none());
    }

    #[test]
    fn an_expansion_the_queue_refused_is_sent_again_by_the_sweep() {
        let now = mid_hour(NOW);
        let (store, ended) = many(30, 1);
        store.now.set(now);
        let platform = Queueing::new(&store, now);
        platform.inner.queue_down.set(true);
        let ended =
            block_on(end_sessions(&store, &platform, &LogoutEvent::of(None, ended), ENDING, 6, Vec::new(), now))
                .unwrap();
        assert_eq!((ended.summary.delivered, ended.summary.queued, ended.summary.pending), (6, 0, 24));
        assert!(platform.inner.expansions().is_empty(), "the queue refused it");
        let logout_id = block_on(outbox::page(&store, 10)).unwrap()[0].logout_id.clone();
        let own = block_on(outbox::load(&store, &format!("{logout_id}.x7"))).unwrap().expect("its guard");
        assert_eq!(own.expansions[0].expand.len(), 24);
        assert!(block_on(outbox::due(&store)).unwrap(), "the sweep is told");
        let later = now + EXPAND_OVERDUE_S + GRACE + 1;
        store.now.set(later);
        let sweeping = Queueing::new(&store, later);
        block_on(sweep(&store, &sweeping, later, GRACE, 1000, || "n".into())).unwrap();
        assert_eq!(sweeping.inner.expansions().len(), 1, "sent again");
        run_expansions(&store, &sweeping, later);
        let told: HashSet<String> = platform
            .inner
            .handed
            .borrow()
            .iter()
            .map(|d| d.client_id.clone())
            .chain(sweeping.queued().into_iter().map(|d| d.client_id))
            .collect();
        assert_eq!(told.len(), 30);
    }

    /// The whole end-session request (hint and cookie, through the flow) for the seeded session
    /// with `extra` more relying parties: its store subrequests, queue sends, KV writes.
    fn end_session_request_cost(extra: usize) -> (usize, usize, usize) {
        let store = seeded_store();
        let mut session = block_on(sessions::load(&store, "sid-1", NOW)).unwrap().unwrap();
        block_on(async {
            for i in 1..=extra {
                let id = format!("c{i:04}");
                let c = fixtures::client(&id, Some(&format!("https://{id}.example/bc")), false, Alg::RS256);
                clients::save(&store, &c).await.unwrap();
                session.clients.push(id);
            }
            sessions::save(&store, &session, false).await.unwrap();
        });
        let hint = testing::id_token(Alg::RS256, json!({"iss": ISSUER, "sub": "alice", "sid": "sid-1", "aud": "rp1"}));
        let q = format!(
            "id_token_hint={hint}&post_logout_redirect_uri={}",
            url::form_urlencoded::byte_serialize(b"https://rp1.example/bye").collect::<String>()
        );
        let mut req = request(Method::Get, &format!("/session/end?{q}"));
        req.headers.push(("cookie".into(), format!("op_session={COOKIE}")));
        let platform = Recorder::default();
        store.now.set(NOW);
        store.ops.set(0);
        store.take_counts();
        let r = block_on(testing::handle(testing::config(), &store, &platform, NOW, &req));
        assert_eq!(r.status, 200, "the front-channel page");
        let sends = platform.enqueued.borrow().len();
        let writes = store.take_counts().writes;
        (store.ops.get(), sends, writes)
    }

    #[test]
    fn an_end_session_request_at_1000_relying_parties_makes_no_per_relying_party_write_or_send() {
        let (ops3, sends3, writes3) = end_session_request_cost(1);
        let (ops1000, sends1000, writes1000) = end_session_request_cost(998);
        eprintln!(
            "end-session request, 3 RPs: {ops3} store calls, {sends3} queue sends, {writes3} KV writes; \
             1,000 RPs: {ops1000} store calls, {sends1000} queue sends, {writes1000} KV writes"
        );
        assert_eq!(writes1000, writes3 + 1, "the record and the tombstone, and the expansion's guard");
        assert_eq!(sends1000, sends3 + 1, "the look, and one expansion message");
        // The flow's gather reads the first clients only (one bulk read): the guard is the one
        // call more.
        assert_eq!(ops1000, ops3 + 1, "{ops3} and {ops1000}");
    }
}

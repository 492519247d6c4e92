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

use crate::budget::{affordable_inline, DELETES_PER_SESSION, RECHECK_SESSIONS_PER_MESSAGE};
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

/// Subrequests [`end_sessions`] makes that the store does not count by the time the inline
/// deliveries are budgeted: the re-check's queue send (made), and the outbox's removal (to come).
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
        outbox::mark_due(store, now).await;
    }
    for s in event.sessions() {
        sessions::bury(store, &s.sid, &s.sub, now).await?;
    }
    let deletes = DELETES_PER_SESSION * event.sessions().len() + UNCOUNTED_SUBREQUESTS;
    let inline = affordable_inline(store.subrequests(), deletes, deliveries.len(), inline_max);
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
            if left.created_at + grace_s > now {
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
    use crate::ports::{ListPage, Ns};
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

    /// A store refusing every write of one key, as KV does past one write per second to a key.
    struct Refusing<'a> {
        inner: &'a MemoryStore,
        key: &'static str,
    }

    impl Store for Refusing<'_> {
        async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
            self.inner.get(ns, key).await
        }
        async fn get_many(&self, ns: Ns, keys: &[String]) -> Result<Vec<Option<String>>, StoreError> {
            self.inner.get_many(ns, keys).await
        }
        async fn put(
            &self,
            ns: Ns,
            key: &str,
            value: &str,
            exp: Option<i64>,
            meta: Option<serde_json::Value>,
        ) -> Result<(), StoreError> {
            if key == self.key {
                return Err(StoreError("429 Too Many Requests".into()));
            }
            self.inner.put(ns, key, value, exp, meta).await
        }
        async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
            self.inner.delete(ns, key).await
        }
        async fn list(&self, ns: Ns, prefix: &str, cursor: Option<String>, limit: u32) -> Result<ListPage, StoreError> {
            self.inner.list(ns, prefix, cursor, limit).await
        }
        fn subrequests(&self) -> usize {
            self.inner.subrequests()
        }
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
        let refusing = Refusing { inner: &store, key: "sweep/due" };
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
        let left = block_on(outbox::page(&store, 10)).unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].deliveries.len(), 2, "both deliveries kept");
        assert!(left[0].recheck.is_some(), "and the re-check");
        // The hourly pass finds them without the marker.
        platform.queue_down.set(false);
        let hour = NOW - NOW % 3600 + 3600;
        store.now.set(hour);
        let swept = block_on(sweep(&store, &platform, hour, GRACE, 50, || "n".into())).unwrap();
        assert_eq!(swept.resent, 2);
        assert!(block_on(outbox::page(&store, 10)).unwrap().is_empty());
    }
}

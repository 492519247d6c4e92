//! Expiry is a logout too: a session that reaches its `expires_at` (set at creation, or by a
//! later `PATCH /admin/sessions/{sid}`) is ended by the cron as an operator's logout would end
//! it, through [`logout::end_sessions`] with reason `expired`: its relying parties get logout
//! tokens (with retries, the dead list and re-drive), the login system a session-ended event,
//! and a tombstone refuses the `sid` from then on.
//!
//! How the cron finds what expired, and why (each option costed against the free plan, whose
//! README figures are 250 logins and 250 logouts a day, where writes already run out first):
//! - an expiry index by time bucket costs one more write per login (and per `PATCH`) and a
//!   delete per session: 250 more writes a day, past the free plan's 1,000;
//! - delayed queue messages cost 3 queue operations per session and per chain link (a message's
//!   `delaySeconds` is at most 43,200 s, 12 h: a day-long session needs two links, a year-long
//!   one 732; https://developers.cloudflare.com/queues/configuration/batching-retries/, "Delay
//!   messages"), need a fallback for a failed send, and are not run on demand by the scheduled
//!   handler;
//! - listing the session records themselves, whose metadata carries `exp`
//!   ([`sessions::expiring_page`]), costs no write, no delete and no read beyond the record's
//!   own: one KV list per 1,000 live sessions per tick, 288 lists a day for up to 1,000 live
//!   sessions (the free plan's lists: 1,000 a day, of which 250 logouts spend 500 and the
//!   sweep's hourly pass 24). That is what is done here.
//!
//! Lateness: a session is ended at the first tick at least [`LAG_S`] (KV's window) after its
//! expiry, so that every location shows the record's last write by then: a `PATCH` made before
//! the expiry is seen (the extended session is not ended), and so is a session created less
//! than the window before it expired (lists lag as reads do). With a tick every [`TICK_S`], a
//! session is ended at most `LAG_S + TICK_S` (510 s) after its expiry, [`LATEST_S`], within the
//! 10 minutes promised, unless more than [`PER_TICK`] expire in one tick (the rest follow at the
//! next ticks). Every read treats the session as ended from its expiry on (`sessions::lookup`).
//!
//! Safe at any time and any number of times: a session whose tombstone is there (a logout, or
//! an earlier tick) is never ended again, only its record is removed if a delete failed; a tick
//! run twice ends each session once, the second finding it gone or buried. Two ticks at two
//! locations within the same instant may both end it (KV has no compare-and-swap): its relying
//! parties and the login system are then told twice, as for two concurrent logouts.

use crate::budget::{FREE_EXTERNAL_SUBREQUESTS, QUEUE_BATCH_MAX, RECHECK_SESSIONS_PER_MESSAGE};
use crate::config::SessionEvents;
use crate::ports::{Platform, Store, StoreError, Summary};
use crate::protocol::logout::{self, Ending, LogoutEvent, WINDOW_S};
use crate::state::deliveries::EndReason;
use crate::state::sessions::{self, Session, Stored};

/// How long after its expiry a session is ended: KV's window, after which every location shows
/// the record's last write (an extension made before the expiry) and lists show the record.
pub const LAG_S: i64 = WINDOW_S;

/// The cron's period (wrangler.toml `crons = ["*/5 * * * *"]`).
pub const TICK_S: i64 = 300;

/// The latest, after its expiry, that a session is ended (without a backlog past
/// [`PER_TICK`]): the lag, and a tick's wait.
pub const LATEST_S: i64 = LAG_S + TICK_S;

/// Sessions ended together (one outbox record, one look message: a look takes this many).
pub const BATCH: usize = RECHECK_SESSIONS_PER_MESSAGE;

/// Sessions one tick ends at most: a tick's CPU (10 ms on the free plan) signs their tokens.
/// 12 a tick is 3,456 a day, far beyond what the free plan's writes allow.
pub const PER_TICK: usize = 2 * BATCH;

/// Subrequests to Cloudflare services (KV and queue calls) a tick spends on expiry at most; the
/// sweep has the rest of the invocation's 1,000 (the scheduled event, `edge`). Enough for one session with
/// the most clients (500: their queued records and sends, ~540 calls).
pub const TICK_BUDGET: usize = 600;

/// Fetches (relying parties and the login system told during the tick) a tick makes at most:
/// the free plan's 50 external subrequests, less a margin.
const TICK_FETCHES: usize = FREE_EXTERNAL_SUBREQUESTS - 2;

/// Whether a session of logical expiry `expires_at` is ended at `now`.
pub fn due(expires_at: i64, now: i64) -> bool {
    expires_at + LAG_S <= now
}

/// What a tick does with a session its listing showed as due, from what it reads of it now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Past its (current) expiry and the lag, not ended: ended now.
    End(Session),
    /// Ended before (a logout, or an earlier tick): never again. A record still there is one
    /// whose delete failed: it is deleted.
    Ended { left: Option<Session> },
    /// Not due by its record (extended since the listing's metadata was written), or gone.
    Nothing,
}

/// The decision, on the record and tombstone as read now. The record's own `expires_at`
/// decides, not the listing's: a `PATCH` that extended the session wins.
pub fn fate(stored: Stored, now: i64) -> Fate {
    match stored {
        Stored { ended: true, record, .. } => Fate::Ended { left: record },
        Stored { record: Some(s), .. } if due(s.expires_at, now) => Fate::End(s),
        Stored { .. } => Fate::Nothing,
    }
}

/// What a tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expired {
    /// The sessions it ended, in the order ended.
    pub ended: Vec<String>,
    /// Records of sessions ended before, left behind by a failed delete, removed.
    pub cleaned: usize,
    /// What became of the relying parties' and the login system's deliveries.
    pub summary: Summary,
    /// Subrequests to Cloudflare services spent (KV calls, and queue sends counted at most).
    pub spent: usize,
    /// Whether it saw every due session (false: the budget or [`PER_TICK`] stopped it; the next
    /// tick goes on).
    pub complete: bool,
}

/// The most ending a batch of `sessions` sessions (their recorded clients read already) with
/// `deliveries` deliveries, `inline` of them attempted during the tick, costs in service calls:
/// each session's tombstone and two deletes; the clients' bulk read, the outbox record, the
/// look's send; each queued delivery's record and its share of a send; each inline one failing
/// (a record, a delete, a send).
fn batch_cost(sessions: usize, deliveries: usize, inline: usize) -> usize {
    3 + 3 * sessions + deliveries + deliveries.div_ceil(QUEUE_BATCH_MAX) + 3 * inline.min(deliveries)
}

/// The cron's expiry step at `now` (the tick's scheduled time): lists the session records
/// (pages of 1,000), reads those due with their tombstones (one bulk read per 50), and ends
/// those that are still live through [`logout::end_sessions`], [`BATCH`] at a time, at most
/// [`PER_TICK`], within `budget` service calls and [`TICK_FETCHES`] fetches. Relying parties
/// are told during the tick up to `inline_max` per batch, the rest through the queue.
pub async fn tick(
    store: &impl Store,
    platform: &impl Platform,
    events: Option<&SessionEvents>,
    inline_max: usize,
    now: i64,
    budget: usize,
) -> Result<Expired, StoreError> {
    let start = store.subrequests();
    let mut out = Expired { complete: true, ..Expired::default() };
    // Gather: the sids the listing shows as due. A record without `exp` (written before records
    // carried it) is left to its KV expiration.
    let mut due_sids = Vec::new();
    let mut cursor = None;
    loop {
        let (page, next) = sessions::expiring_page(store, cursor).await?;
        due_sids.extend(page.into_iter().filter(|(_, exp)| exp.is_some_and(|e| due(e, now))).map(|(sid, _)| sid));
        cursor = next;
        if cursor.is_none() {
            break;
        }
        if due_sids.len() >= PER_TICK || store.subrequests() - start >= budget / 2 {
            out.complete = false;
            break;
        }
    }
    if due_sids.len() > PER_TICK {
        due_sids.truncate(PER_TICK);
        out.complete = false;
    }
    if due_sids.is_empty() {
        out.spent = store.subrequests() - start;
        return Ok(out);
    }
    // Decide, on what is stored now.
    let mut to_end = Vec::new();
    for stored in sessions::stored(store, &due_sids).await? {
        match fate(stored, now) {
            Fate::End(s) => to_end.push(s),
            // Best effort: a failed delete leaves the record for the next tick, and must not keep
            // this one from ending the others.
            Fate::Ended { left: Some(s) } => {
                out.cleaned += usize::from(sessions::delete(store, &s.sid, &s.sub).await.is_ok())
            }
            Fate::Ended { left: None } | Fate::Nothing => {}
        }
    }
    // Act: each batch as one logout of its sessions.
    let (mut queue_sends, mut fetches_left) = (0, TICK_FETCHES);
    let ending = Ending { reason: EndReason::Expired, initiator: None, events };
    for batch in to_end.chunks(BATCH) {
        // Every client, the recorded ones too (a list each).
        let mut whole = Vec::with_capacity(batch.len());
        for s in batch {
            whole.push(sessions::with_members(store, s.clone()).await?);
        }
        let deliveries = whole.iter().map(|s| s.clients.len() + usize::from(events.is_some())).sum::<usize>();
        let inline = inline_max.min(fetches_left);
        let spent = store.subrequests() - start + queue_sends;
        if !out.ended.is_empty() && spent + batch_cost(batch.len(), deliveries, inline) > budget {
            out.complete = false;
            break;
        }
        let event = LogoutEvent::of(None, whole);
        let ended = logout::end_sessions(store, platform, &event, ending, inline, Vec::new(), now).await?;
        fetches_left -= inline.min(deliveries).min(fetches_left);
        // The look's send, and at most one send per queued delivery.
        queue_sends += 1 + ended.summary.queued;
        out.ended.extend(batch.iter().map(|s| s.sid.clone()));
        let (a, b) = (&mut out.summary, ended.summary);
        (a.delivered, a.queued, a.dead, a.pending) =
            (a.delivered + b.delivered, a.queued + b.queued, a.dead + b.dead, a.pending + b.pending);
    }
    out.spent = store.subrequests() - start + queue_sends;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde_json::json;

    use super::*;
    use crate::http::Method;
    use crate::state::deliveries::{Delivery, DeliveryKind};
    use crate::state::memory::OpCounts;
    use crate::testing::{admin_request as admin, handle, with_settings, TestApp, NOW};

    const TTL: i64 = 600;

    fn settings() -> HashMap<&'static str, String> {
        let mut s = crate::testing::settings();
        s.insert("SESSION_EVENTS_URI", "https://login.example/events".into());
        s
    }

    /// Registers back-channel clients `ids` and makes the session `sid` of `sub` with `created`
    /// clients, expiring in `ttl`, at the app's clock.
    async fn session(app: &TestApp, sid: &str, sub: &str, created: &[&str], ttl: i64) {
        for id in created {
            let body = json!({"redirect_uris": [format!("https://{id}.example/cb")], "backchannel_logout_uri": format!("https://{id}.example/bc")});
            let r = app.call(admin(Method::Put, &format!("/admin/clients/{id}"), Some(body))).await;
            assert!(r.status == 200 || r.status == 201);
        }
        let body = json!({"sub": sub, "sid": sid, "clients": created, "expires_in": ttl});
        let r = app.call(admin(Method::Post, "/admin/sessions", Some(body))).await;
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    }

    /// Records client `id` (registered now) in session `sid`, at the app's clock.
    async fn record(app: &TestApp, sid: &str, id: &str) {
        let body = json!({"redirect_uris": [format!("https://{id}.example/cb")], "backchannel_logout_uri": format!("https://{id}.example/bc")});
        assert_eq!(app.call(admin(Method::Put, &format!("/admin/clients/{id}"), Some(body))).await.status, 201);
        let r = app.call(admin(Method::Put, &format!("/admin/sessions/{sid}/clients/{id}"), None)).await;
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    }

    /// The tick at `at`, with the app's settings.
    async fn tick_at(app: &TestApp, at: i64) -> Expired {
        app.store.now.set(at);
        let events = app.config.session_events.as_ref();
        tick(&app.store, &app.notified, events, app.config.backchannel.inline_max, at, TICK_BUDGET).await.unwrap()
    }

    /// What was handed to the platform: `(client or event, sid)` per delivery, sorted.
    fn told(app: &TestApp) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = app
            .notified
            .handed
            .borrow()
            .iter()
            .map(|d: &Delivery| (d.client_id.clone(), d.sid.clone().unwrap_or_default()))
            .collect();
        out.sort();
        out
    }

    fn events_of(app: &TestApp) -> Vec<(String, EndReason, Option<String>)> {
        app.notified
            .handed
            .borrow()
            .iter()
            .filter_map(|d| match &d.kind {
                DeliveryKind::SessionEnded { reason, initiator, .. } => {
                    Some((d.sid.clone().unwrap(), *reason, initiator.clone()))
                }
                DeliveryKind::Logout => None,
            })
            .collect()
    }

    async fn get_status(app: &TestApp, sid: &str) -> u16 {
        app.call(admin(Method::Get, &format!("/admin/sessions/{sid}"), None)).await.status
    }

    /// Runs every look (re-check) queued so far, at `at`.
    async fn run_looks(app: &TestApp, at: i64) {
        app.store.now.set(at);
        let events = app.config.session_events.as_ref();
        for look in app.notified.rechecks() {
            logout::recheck(&app.store, &app.notified, &look, events, at).await.unwrap();
        }
    }

    #[test]
    fn expiry_ends_the_session_and_tells_every_recorded_relying_party_and_the_login_system_once() {
        with_settings(settings(), |app| async move {
            session(app, "s1", "alice", &["rp1"], TTL).await;
            // rp2 recorded after the creation: a `member/` key, which must outlive the expiry.
            record(app, "s1", "rp2").await;
            let expiry = NOW + TTL;
            // Not before KV's window has passed after the expiry: nothing yet, and nothing read.
            let early = tick_at(app, expiry + LAG_S - 1).await;
            assert_eq!((early.ended.len(), early.complete), (0, true));
            assert!(app.notified.handed.borrow().is_empty());
            let done = tick_at(app, expiry + LAG_S).await;
            assert_eq!(done.ended, ["s1"]);
            assert_eq!(
                told(app),
                [("(session-events)".into(), "s1".into()), ("rp1".into(), "s1".into()), ("rp2".into(), "s1".into())]
            );
            assert_eq!(events_of(app), [("s1".to_string(), EndReason::Expired, None)]);
            // Buried: never created or joined again; gone from the admin API.
            let now = expiry + LAG_S;
            assert_eq!(sessions::lookup(&app.store, "s1", now).await.unwrap(), sessions::Lookup::Ended);
            assert_eq!(get_status(app, "s1").await, 404);
            assert_eq!(sessions::stored(&app.store, &["s1".into()]).await.unwrap()[0].record, None);
            // Again, and its look: nobody is told twice.
            let again = tick_at(app, now + TICK_S).await;
            assert_eq!((again.ended.len(), again.cleaned), (0, 0));
            run_looks(app, now + 2 * LAG_S).await;
            assert_eq!(told(app).len(), 3, "{:?}", told(app));
        });
    }

    #[test]
    fn between_its_expiry_and_the_cron_a_session_is_ended_for_the_admin_api_and_its_sid_refused() {
        with_settings(settings(), |app| async move {
            session(app, "s1", "alice", &["rp1"], TTL).await;
            let at = NOW + TTL;
            let call = |req| {
                app.store.now.set(at);
                async move { handle(&app.config, &app.store, &app.notified, at, &req).await }
            };
            assert_eq!(call(admin(Method::Get, "/admin/sessions/s1", None)).await.status, 404);
            let again = json!({"sub": "alice", "sid": "s1", "clients": ["rp1"]});
            let r = call(admin(Method::Post, "/admin/sessions", Some(again))).await;
            assert_eq!(r.status, 409, "a creation does not replace a session the cron has not ended yet");
            let r = call(admin(Method::Patch, "/admin/sessions/s1", Some(json!({"expires_in": 3600})))).await;
            assert_eq!(r.status, 409, "nor does an extension revive it");
            let r = call(admin(Method::Put, "/admin/sessions/s1/clients/rp1", None)).await;
            assert_eq!(r.status, 409);
            // The cron then ends it, with the clients it had.
            assert_eq!(tick_at(app, at + LAG_S).await.ended, ["s1"]);
            assert_eq!(told(app), [("(session-events)".into(), "s1".into()), ("rp1".into(), "s1".into())]);
        });
    }

    #[test]
    fn a_session_extended_by_patch_before_its_expiry_is_not_ended_until_its_new_expiry() {
        with_settings(settings(), |app| async move {
            session(app, "s1", "alice", &["rp1"], TTL).await;
            // Extended shortly before it would have expired.
            let patched_at = NOW + TTL - 60;
            let patch = admin(Method::Patch, "/admin/sessions/s1", Some(json!({"expires_in": 3600})));
            app.store.now.set(patched_at);
            assert_eq!(handle(&app.config, &app.store, &app.notified, patched_at, &patch).await.status, 200);
            let new_expiry = patched_at + 3600;
            // Past the old expiry and its lag: not ended, still live.
            let done = tick_at(app, NOW + TTL + LAG_S + TICK_S).await;
            assert_eq!(done.ended.len(), 0);
            assert!(app.notified.handed.borrow().is_empty());
            assert!(sessions::load_live(&app.store, "s1", NOW + TTL + LAG_S + TICK_S).await.unwrap().is_some());
            // At its new expiry, it is.
            let done = tick_at(app, new_expiry + LAG_S).await;
            assert_eq!(done.ended, ["s1"]);
            assert_eq!(told(app), [("(session-events)".into(), "s1".into()), ("rp1".into(), "s1".into())]);
        });
    }

    #[test]
    fn the_record_decides_not_the_listing_an_extension_the_listing_does_not_show_yet_wins() {
        let mut s = crate::testing::fixtures::record("s1", &["rp1"]);
        let now = 10_000;
        s.expires_at = now - LAG_S + 1;
        let stored = |record: Option<Session>, ended| Stored { sid: "s1".into(), record, ended };
        assert_eq!(fate(stored(Some(s.clone()), false), now), Fate::Nothing, "not past the lag");
        s.expires_at = now - LAG_S;
        assert_eq!(fate(stored(Some(s.clone()), false), now), Fate::End(s.clone()));
        assert_eq!(fate(stored(Some(s.clone()), true), now), Fate::Ended { left: Some(s.clone()) });
        assert_eq!(fate(stored(None, true), now), Fate::Ended { left: None });
        assert_eq!(fate(stored(None, false), now), Fate::Nothing);
    }

    #[test]
    fn a_session_ended_by_a_logout_before_its_expiry_is_not_ended_twice() {
        with_settings(settings(), |app| async move {
            session(app, "s1", "alice", &["rp1", "rp2"], TTL).await;
            let record = sessions::stored(&app.store, &["s1".into()]).await.unwrap().remove(0).record.unwrap();
            let r = app.call(admin(Method::Delete, "/admin/sessions/s1", None)).await;
            assert_eq!(r.status, 200);
            let after_logout = told(app);
            assert_eq!(after_logout.len(), 3, "{after_logout:?}");
            // A location whose delete failed (or that lags) still shows the record, beside the
            // tombstone: the tick must not end it again.
            app.store.now.set(NOW + 1);
            sessions::save(&app.store, &record, false).await.unwrap();
            let done = tick_at(app, NOW + TTL + LAG_S).await;
            assert_eq!((done.ended.len(), done.cleaned), (0, 1));
            assert_eq!(told(app), after_logout, "nobody told again");
            assert_eq!(events_of(app), [("s1".to_string(), EndReason::AdminLogoutSession, None)]);
            assert_eq!(
                sessions::stored(&app.store, &["s1".into()]).await.unwrap()[0].record,
                None,
                "the record left is removed"
            );
        });
    }

    #[test]
    fn the_scheduled_handler_run_twice_at_the_same_time_ends_each_expired_session_once() {
        with_settings(settings(), |app| async move {
            for (sid, sub) in [("a", "alice"), ("b", "bob"), ("c", "carol")] {
                session(app, sid, sub, &["rp1", "rp2"], TTL).await;
            }
            let at = NOW + TTL + LAG_S;
            let (first, second) = futures::join!(tick_at(app, at), tick_at(app, at));
            let mut ended: Vec<String> = first.ended.iter().chain(&second.ended).cloned().collect();
            ended.sort();
            assert_eq!(ended, ["a", "b", "c"], "each ended by one of the two runs");
            // Each relying party told once per session, the login system once per session.
            let all = told(app);
            let mut unique = all.clone();
            unique.dedup();
            assert_eq!(all, unique);
            assert_eq!(all.len(), 9, "{all:?}");
            let mut events = events_of(app);
            events.sort_by(|x, y| x.0.cmp(&y.0));
            assert_eq!(events.iter().map(|e| e.0.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
            assert!(events.iter().all(|e| e.1 == EndReason::Expired && e.2.is_none()));
        });
    }

    #[test]
    fn a_backlog_is_ended_a_tick_at_a_time_within_its_budget() {
        with_settings(settings(), |app| async move {
            for i in 0..PER_TICK + 3 {
                session(app, &format!("s{i:02}"), "alice", &["rp1"], TTL).await;
            }
            let at = NOW + TTL + LAG_S;
            app.store.ops.set(0);
            let first = tick_at(app, at).await;
            assert_eq!((first.ended.len(), first.complete), (PER_TICK, false));
            assert!(first.spent <= TICK_BUDGET && app.store.ops.get() <= first.spent, "{first:?}");
            let second = tick_at(app, at + TICK_S).await;
            assert_eq!((second.ended.len(), second.complete), (3, true));
            // Two batches of 6, then one of 3: one look message each.
            assert_eq!(app.notified.rechecks().len(), 3);
        });
    }

    /// KV and queue operations of expiry, as the daily quotas count them (the quota tables of
    /// docs/operating.md): a change in what it costs fails here first.
    mod quota {
        use super::*;

        fn ops(reads: usize, writes: usize, deletes: usize, lists: usize) -> OpCounts {
            OpCounts { reads, writes, deletes, lists }
        }

        #[test]
        fn an_idle_tick_costs_one_list_and_nothing_else() {
            with_settings(settings(), |app| async move {
                session(app, "s1", "alice", &["rp1"], TTL).await;
                app.store.take_counts();
                let done = tick_at(app, NOW + 60).await;
                assert_eq!(done.ended.len(), 0);
                assert_eq!(app.store.take_counts(), ops(0, 0, 0, 1), "one list per 1,000 live sessions");
                assert!(app.notified.enqueued.borrow().is_empty());
            });
        }

        #[test]
        fn a_login_costs_no_more_for_its_expiry() {
            with_settings(settings(), |app| async move {
                let body = json!({"redirect_uris": ["https://rp1.example/cb"], "backchannel_logout_uri": "https://rp1.example/bc"});
                app.call(admin(Method::Put, "/admin/clients/rp1", Some(body))).await;
                app.store.take_counts();
                let login = admin(Method::Post, "/admin/sessions", Some(json!({"sub": "alice", "clients": ["rp1"]})));
                assert_eq!(app.call(login).await.status, 201);
                // As before expiry was a logout: the client read, the record and the subject index.
                assert_eq!(app.store.take_counts(), ops(1, 2, 0, 0));
            });
        }

        /// `s` sessions expiring together, `k` clients each: the tick and the look that follows.
        #[test]
        fn an_expiry_by_number_of_sessions_and_clients() {
            for (s, k) in [(1usize, 3usize), (2, 3), (1, 10)] {
                with_settings(settings(), |app| async move {
                    let ids: Vec<String> = (0..k).map(|i| format!("rp{i}")).collect();
                    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                    for i in 0..s {
                        session(app, &format!("s{i}"), "alice", &ids, TTL).await;
                    }
                    app.store.take_counts();
                    let at = NOW + TTL + LAG_S;
                    let done = tick_at(app, at).await;
                    assert_eq!(done.ended.len(), s);
                    // Reads: each record and tombstone (one bulk read), the clients (one bulk read);
                    // writes: the outbox record and a tombstone each; deletes: each record and
                    // subject index; lists: the records' listing and each session's members.
                    assert_eq!(
                        app.store.take_counts(),
                        ops(2 * s + k, 1 + s, 2 * s, 1 + s),
                        "{s} sessions, {k} clients"
                    );
                    // Queue: one look message for the batch; every delivery inline (k and an event
                    // per session, within the tick's fetches).
                    let messages = app.notified.enqueued.borrow().len();
                    assert_eq!(messages, 1, "{s} sessions, {k} clients");
                    assert_eq!(done.summary.delivered, s * (k + 1));
                    // Its look: each record (gone), each session's members (a list), the outbox
                    // record deleted.
                    run_looks(app, at + 2 * LAG_S).await;
                    assert_eq!(app.store.take_counts(), ops(s, 0, 1, s), "{s} sessions, {k} clients, the look");
                    let queue_operations = 3 * app.notified.enqueued.borrow().len();
                    eprintln!("expiry: {s} sessions, {k} clients: {queue_operations} queue operations");
                    assert_eq!(queue_operations, 3);
                });
            }
        }
    }
}

//! How a delivery attempt's answer is judged, and when (and whether) a failed delivery is tried
//! again: exponential backoff, `Retry-After`, a last attempt, then the dead-letter list.

use crate::config::{BackchannelConfig, SessionEvents};
use crate::ports::{Store, StoreError};
use crate::state::clients::Client;
use crate::state::deliveries::{self, Delivery, DeliveryRecord, DeliveryStatus, QueueMessage};

/// Longest delay between two attempts, whatever the backoff or `Retry-After` says.
pub const MAX_RETRY_DELAY_S: u32 = 3600;

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Worth another attempt (network error, timeout, 5xx, 429), after `after_s` if the
    /// relying party said when.
    Retry {
        error: String,
        after_s: Option<u32>,
    },
    /// Not worth another attempt (other 4xx, redirects, other statuses).
    Final {
        error: String,
    },
}

/// What came back from the relying party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Status { status: u16, retry_after: Option<String> },
    TimedOut,
    NetworkError(String),
}

/// How long after a signing key starts signing a relying party's `400` may mean "I do not know
/// this key yet" (a JWKS cached from before the rotation) rather than "this token is wrong".
pub const ROTATION_WINDOW_S: i64 = 86_400;

/// The delay of that one retry: long enough for a relying party that fetches the JWKS again on
/// an unknown `kid` to do so (libraries wait between fetches, e.g. jose's 30 s cooldown).
pub const ROTATION_RETRY_DELAY_S: u32 = 60;

/// Whether a `400` to the token of attempt `attempt`, signed by a key that signs from
/// `key_signs_from`, earns one more try: only on the first attempt, and only while the key is
/// at most [`ROTATION_WINDOW_S`] into its signing (a key without `sign_from` never).
pub fn rotated_recently(attempt: u32, key_signs_from: Option<i64>, now: i64) -> bool {
    attempt == 1 && key_signs_from.is_some_and(|t| t <= now && now - t <= ROTATION_WINDOW_S)
}

/// [`judge`], for a token signed right after a key rotation ([`rotated_recently`]): a `400`
/// is then retried once, after [`ROTATION_RETRY_DELAY_S`], instead of being final.
pub fn judge_signed(answer: &Answer, now: i64, rotated_recently: bool) -> Outcome {
    match answer {
        Answer::Status { status: 400, .. } if rotated_recently => Outcome::Retry {
            error: "HTTP 400 (a key started signing recently: the relying party may hold an old JWKS)".into(),
            after_s: Some(ROTATION_RETRY_DELAY_S),
        },
        _ => judge(answer, now),
    }
}

pub fn judge(answer: &Answer, now: i64) -> Outcome {
    let retry_after = |r: &Option<String>| r.as_deref().and_then(|r| parse_retry_after(r, now));
    match answer {
        // Any 2xx: 200 and 204 as Back-Channel Logout 1.0 names them, 202 a Security Event
        // Token receiver's "accepted" (RFC 8935), and the rest as RFC 9110 15.3 defines success.
        Answer::Status { status: 200..=299, .. } => Outcome::Delivered,
        Answer::Status { status: 429, retry_after: r } => {
            Outcome::Retry { error: "HTTP 429".into(), after_s: retry_after(r) }
        }
        Answer::Status { status: s @ 500..=599, retry_after: r } => {
            Outcome::Retry { error: format!("HTTP {s}"), after_s: retry_after(r) }
        }
        Answer::Status { status, .. } => Outcome::Final { error: format!("HTTP {status}") },
        Answer::TimedOut => Outcome::Retry { error: "timed out".into(), after_s: None },
        Answer::NetworkError(e) => Outcome::Retry { error: format!("network error: {e}"), after_s: None },
    }
}

/// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 10.2.3).
pub fn parse_retry_after(value: &str, now: i64) -> Option<u32> {
    let value = value.trim();
    if let Ok(s) = value.parse::<u32>() {
        return Some(s);
    }
    let at = httpdate::parse_http_date(value).ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs();
    Some((i64::try_from(at).ok()? - now).clamp(0, i64::from(u32::MAX)) as u32)
}

/// The delay before attempt `next` (2, 3, ...): the base delay doubling from attempt 2, or the
/// relying party's `Retry-After` when longer; never more than [`MAX_RETRY_DELAY_S`].
pub fn retry_delay(cfg: &BackchannelConfig, next: u32, retry_after: Option<u32>) -> u32 {
    let exp = next.saturating_sub(2).min(20);
    let backoff = cfg.retry_delay_s.saturating_mul(1 << exp);
    backoff.max(retry_after.unwrap_or(0)).min(MAX_RETRY_DELAY_S)
}

/// What to do after an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Queue `delivery` (its attempt counter advanced) to run after `delay_s`.
    RetryIn { delivery: Delivery, delay_s: u32 },
    /// Give up: the delivery goes to the dead-letter list.
    Dead(Delivery),
}

/// `nonce` names the retry's queue message (see [`stale`]): an input, as randomness is here, so
/// that the decision is a pure function.
pub fn after_failure(cfg: &BackchannelConfig, d: &Delivery, outcome: &Outcome, nonce: String) -> Option<Next> {
    let (error, after_s, final_) = match outcome {
        Outcome::Delivered => return None,
        Outcome::Retry { error, after_s } => (error, *after_s, false),
        Outcome::Final { error } => (error, None, true),
    };
    let mut next = d.clone();
    next.last_error = Some(error.clone());
    if final_ || d.attempt >= cfg.max_attempts {
        return Some(Next::Dead(next));
    }
    next.attempt = d.attempt + 1;
    next.nonce = Some(nonce);
    Some(Next::RetryIn { delay_s: retry_delay(cfg, next.attempt, after_s), delivery: next })
}

/// A queued delivery as it is to be attempted now: to its client's current back-channel URI
/// and algorithm (registration may have changed them since), or `None` when the client was
/// deleted or no longer takes back-channel logout (the delivery is then cancelled). A
/// session-ended event goes to the login system's current URI, while it takes events.
pub fn current(d: &Delivery, client: Option<&Client>, events: Option<&SessionEvents>) -> Option<Delivery> {
    if !d.kind.is_logout() {
        let mut now = d.clone();
        now.uri = events?.uri.clone();
        return Some(now);
    }
    let client = client?;
    let uri = client.backchannel_logout_uri.as_ref()?;
    let mut now = d.clone();
    now.uri = uri.clone();
    now.alg = client.id_token_signed_response_alg;
    Some(now)
}

/// The record of what comes after a failed attempt. A retry is stamped `issued_at` now, in
/// its record and so in its message (sent from the record, see [`record`]).
pub fn record_of(next: &Next, now: i64) -> DeliveryRecord {
    match next {
        Next::RetryIn { delivery, delay_s } => {
            let mut d = delivery.clone();
            d.issued_at = Some(now);
            DeliveryRecord::failed(d, now + i64::from(*delay_s), now)
        }
        Next::Dead(d) => DeliveryRecord::dead(d.clone(), now),
    }
}

/// Where a queue message stands among the messages of its delivery: later attempts first, then
/// later issues (the sweep's or the dead-letter consumer's re-drive), then the nonce, so that
/// two messages forked from one (a message delivered twice) are ordered too.
fn generation(d: &Delivery) -> (u32, i64, &str) {
    (d.attempt, d.issued_at.unwrap_or(0), d.nonce.as_deref().unwrap_or(""))
}

/// Whether queue message `message` is to be dropped: only when `pending`, its delivery's
/// pending record as this location sees it, proves it stale, by naming a later message of the
/// same delivery. A record not seen here yet (KV shows another location's write after 60 s or
/// more: developers.cloudflare.com/kv/concepts/how-kv-works/), or an older one, means "attempt":
/// a duplicate costs the relying party a repeated logout (a fresh `jti` each time), a drop would
/// cost it the logout. The latest message of a delivery is never dropped, wherever it runs.
pub fn stale(pending: Option<&DeliveryRecord>, message: &Delivery) -> bool {
    let Some(record) = pending.filter(|r| r.status.is_pending() && r.delivery.id == message.id) else {
        return false;
    };
    message.nonce.is_some() && generation(&record.delivery) > generation(message)
}

/// The least and the most a queue message waits before the consumer tries it again, after the
/// consumer itself failed (a KV or queue call did): long enough that a KV outage of minutes does
/// not use up the queue's retries (`max_retries` in wrangler.toml), with a delay on retry
/// (developers.cloudflare.com/queues/configuration/batching-retries/, "Delay on retry").
pub const CONSUMER_RETRY_MIN_S: u32 = 60;
pub const CONSUMER_RETRY_MAX_S: u32 = 3600;

/// The delay for a message the consumer could not handle, `age_s` after it was sent: as long
/// as it has been waiting (so the delays double, as the queue keeps the send time across
/// retries), within [`CONSUMER_RETRY_MIN_S`] and [`CONSUMER_RETRY_MAX_S`]. worker 0.8 gives no
/// `attempts`; the age stands in for it. With 10 retries, a message is tried for about 4 hours
/// before it is dead-lettered.
pub fn consumer_retry_delay(age_s: i64) -> u32 {
    let age = u32::try_from(age_s.max(0)).unwrap_or(u32::MAX);
    age.clamp(CONSUMER_RETRY_MIN_S, CONSUMER_RETRY_MAX_S)
}

/// One queue message as the runtime received it: its body, and how long ago it was first sent.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    pub body: &'a str,
    pub age_s: i64,
}

/// What the runtime does with a message once handled: ack it, or have it delivered again after
/// a delay in seconds ([`consumer_retry_delay`] of its age).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    Ack,
    RetryIn(u32),
}

impl Settle {
    /// Again, after the delay `m`'s age earns it.
    pub fn again(m: &Received<'_>) -> Settle {
        Settle::RetryIn(consumer_retry_delay(m.age_s))
    }
}

/// What names a queue message in the log: its delivery's id, or its logout's.
pub fn message_id(m: &QueueMessage) -> &str {
    match m {
        QueueMessage::Deliver(d) => &d.id,
        QueueMessage::Recheck(r) => &r.logout_id,
        QueueMessage::Expand(e) => &e.logout_id,
    }
}

/// How many times a delivery goes back to the queue from the dead-letter queue before it is
/// recorded as dead (for an operator to drive again): a message that keeps failing in the
/// consumer (not the relying party: that is counted in attempts) must not loop forever.
pub const MAX_REDRIVES: u32 = 3;

/// What to do with a delivery found in the dead-letter queue (the consumer failed on it
/// `max_retries` times: a KV or queue outage, never the relying party's answer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeadLettered {
    /// A later message of the delivery exists: nothing to do.
    Stale,
    /// Record it (pending, a new nonce and issue) and send it to the queue again.
    Redrive(DeliveryRecord),
    /// Re-driven [`MAX_REDRIVES`] times already: recorded as dead, listed for an operator.
    Dead(DeliveryRecord),
}

/// The decision for a dead-lettered delivery `d`, given its pending record as seen here.
pub fn after_dead_letter(d: &Delivery, pending: Option<&DeliveryRecord>, now: i64, nonce: String) -> DeadLettered {
    if stale(pending, d) {
        return DeadLettered::Stale;
    }
    let mut again = d.clone();
    again.last_error = Some(format!(
        "the queue consumer failed on it {} times (dead-lettered); last delivery error: {}",
        again.redriven + 1,
        d.last_error.as_deref().unwrap_or("none")
    ));
    if d.redriven >= MAX_REDRIVES {
        // Its attempts so far: this message's were not made.
        again.attempt = d.attempt.saturating_sub(1);
        return DeadLettered::Dead(DeliveryRecord::dead(again, now));
    }
    again.redriven += 1;
    again.nonce = Some(nonce);
    again.issued_at = Some(now);
    let status =
        pending.map_or(if d.attempt > 1 { DeliveryStatus::Failed } else { DeliveryStatus::Queued }, |r| r.status);
    DeadLettered::Redrive(DeliveryRecord { status, delivery: again, next_attempt_at: Some(now), updated_at: now })
}

/// Records a failed delivery (replacing its pending record when it is now dead); for a retry,
/// queue the returned record's delivery, stamped as its record is.
pub async fn record(store: &impl Store, next: &Next, now: i64) -> Result<DeliveryRecord, StoreError> {
    let rec = record_of(next, now);
    deliveries::save(store, &rec).await?;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::backchannel::event::LogoutEvent;
    use crate::protocol::backchannel::plan;
    use crate::state::deliveries::{delivered, reissue_overdue};
    use crate::testing::fixtures::{clients, ids, session};

    #[test]
    fn judging_answers() {
        let s = |status, retry_after: Option<&str>| {
            judge(&Answer::Status { status, retry_after: retry_after.map(str::to_string) }, 1000)
        };
        assert_eq!(s(200, None), Outcome::Delivered);
        assert_eq!(s(204, None), Outcome::Delivered);
        for status in [201, 202, 203, 205, 206, 299] {
            assert_eq!(s(status, None), Outcome::Delivered, "any 2xx is delivered: {status}");
        }
        assert_eq!(s(199, None), Outcome::Final { error: "HTTP 199".into() });
        assert_eq!(s(300, None), Outcome::Final { error: "HTTP 300".into() });
        assert_eq!(s(500, None), Outcome::Retry { error: "HTTP 500".into(), after_s: None });
        assert_eq!(s(503, Some("7")), Outcome::Retry { error: "HTTP 503".into(), after_s: Some(7) });
        assert_eq!(s(429, Some("30")), Outcome::Retry { error: "HTTP 429".into(), after_s: Some(30) });
        assert_eq!(s(400, None), Outcome::Final { error: "HTTP 400".into() });
        assert_eq!(s(404, None), Outcome::Final { error: "HTTP 404".into() });
        assert_eq!(s(302, None), Outcome::Final { error: "HTTP 302".into() });
        assert!(matches!(judge(&Answer::TimedOut, 0), Outcome::Retry { .. }));
        assert!(matches!(judge(&Answer::NetworkError("refused".into()), 0), Outcome::Retry { .. }));
    }

    #[test]
    fn a_400_to_the_first_token_of_a_key_that_just_started_signing_is_retried_once_after_a_minute() {
        let cfg = BackchannelConfig { retry_delay_s: 10, ..Default::default() };
        let bad = Answer::Status { status: 400, retry_after: None };
        let now = 1_000_000;
        let from = now - 3600;
        assert!(rotated_recently(1, Some(from), now));
        let outcome = judge_signed(&bad, now, rotated_recently(1, Some(from), now));
        assert!(matches!(outcome, Outcome::Retry { after_s: Some(ROTATION_RETRY_DELAY_S), .. }), "{outcome:?}");
        let mut d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        let Some(Next::RetryIn { delivery, delay_s }) = after_failure(&cfg, &d, &outcome, "n".into()) else {
            panic!("a retry")
        };
        assert_eq!((delivery.attempt, delay_s), (2, ROTATION_RETRY_DELAY_S));
        // The retry's own 400 is final: once only.
        d.attempt = 2;
        let again = judge_signed(&bad, now, rotated_recently(d.attempt, Some(from), now));
        assert_eq!(again, Outcome::Final { error: "HTTP 400".into() });
        assert!(matches!(after_failure(&cfg, &d, &again, "n".into()), Some(Next::Dead(_))));
    }

    #[test]
    fn a_400_long_after_a_rotation_or_without_one_is_final() {
        let now = 1_000_000;
        for (key_from, why) in [
            (None, "no sign_from: no rotation known"),
            (Some(now - ROTATION_WINDOW_S - 1), "rotated more than a day ago"),
            (Some(now + 10), "the key does not sign yet"),
        ] {
            assert!(!rotated_recently(1, key_from, now), "{why}");
        }
        let bad = Answer::Status { status: 400, retry_after: None };
        assert_eq!(judge_signed(&bad, now, false), Outcome::Final { error: "HTTP 400".into() });
        // Other answers are judged as ever, rotation or not.
        for status in [401, 403, 404] {
            let a = Answer::Status { status, retry_after: None };
            assert_eq!(judge_signed(&a, now, true), Outcome::Final { error: format!("HTTP {status}") });
        }
        assert_eq!(judge_signed(&Answer::Status { status: 200, retry_after: None }, now, true), Outcome::Delivered);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("120", 0), Some(120));
        let now = chrono::DateTime::parse_from_rfc2822("Sun, 22 Nov 2026 10:00:00 GMT").unwrap().timestamp();
        assert_eq!(parse_retry_after("Sun, 22 Nov 2026 10:01:00 GMT", now), Some(60));
        assert_eq!(parse_retry_after("Sun, 22 Nov 2026 09:00:00 GMT", now), Some(0));
        // The two obsolete HTTP-date forms recipients must accept (RFC 9110 5.6.7).
        assert_eq!(parse_retry_after("Sunday, 22-Nov-26 10:02:00 GMT", now), Some(120));
        assert_eq!(parse_retry_after("Sun Nov 22 10:03:00 2026", now), Some(180));
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let cfg = BackchannelConfig { retry_delay_s: 10, ..Default::default() };
        assert_eq!(retry_delay(&cfg, 2, None), 10);
        assert_eq!(retry_delay(&cfg, 3, None), 20);
        assert_eq!(retry_delay(&cfg, 4, None), 40);
        assert_eq!(retry_delay(&cfg, 2, Some(90)), 90);
        assert_eq!(retry_delay(&cfg, 30, None), MAX_RETRY_DELAY_S);
    }

    #[test]
    fn retries_until_the_last_attempt_then_dead() {
        let cfg = BackchannelConfig { max_attempts: 3, retry_delay_s: 5, ..Default::default() };
        let mut d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        let fail = Outcome::Retry { error: "HTTP 500".into(), after_s: None };
        assert_eq!(after_failure(&cfg, &d, &Outcome::Delivered, "n1".into()), None);
        let Some(Next::RetryIn { delivery, delay_s }) = after_failure(&cfg, &d, &fail, "n1".into()) else { panic!() };
        assert_eq!((delivery.attempt, delay_s, delivery.last_error.as_deref()), (2, 5, Some("HTTP 500")));
        let rec = record_of(&Next::RetryIn { delivery: delivery.clone(), delay_s }, 100);
        assert_eq!((rec.status, rec.attempts(), rec.next_attempt_at), (DeliveryStatus::Failed, 1, Some(105)));
        d.attempt = 3;
        let Some(Next::Dead(dead)) = after_failure(&cfg, &d, &fail, "n1".into()) else { panic!() };
        let rec = record_of(&Next::Dead(dead), 100);
        assert_eq!((rec.status, rec.attempts(), rec.next_attempt_at), (DeliveryStatus::Dead, 3, None));
        assert_eq!(rec.view()["attempts"], 3);
        assert!(rec.key().starts_with("delivery/dead/"));
        d.attempt = 1;
        assert!(matches!(
            after_failure(&cfg, &d, &Outcome::Final { error: "HTTP 400".into() }, "n1".into()),
            Some(Next::Dead(_))
        ));
    }

    fn failing() -> Outcome {
        Outcome::Retry { error: "HTTP 500".into(), after_s: None }
    }

    #[test]
    fn a_message_is_dropped_only_when_its_record_names_a_later_one() {
        futures::executor::block_on(async {
            let store = crate::state::memory::MemoryStore::new(100);
            let cfg = BackchannelConfig::default();
            let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
            assert!(!stale(None, &d), "an inline first attempt has no record");
            // Attempt 2 recorded; a duplicate of attempt 1's message forks attempt 2 again.
            let second = after_failure(&cfg, &d, &failing(), "n1".into()).unwrap();
            let second = record(&store, &second, 100).await.unwrap().delivery;
            let pending = deliveries::pending(&store, &d.id).await.unwrap();
            assert!(!stale(pending.as_ref(), &second), "its own record");
            // Attempt 3 recorded: the attempt-2 message, delivered again, is now proved stale.
            let third = after_failure(&cfg, &second, &failing(), "n2".into()).unwrap();
            let rec3 = record(&store, &third, 120).await.unwrap();
            let pending = deliveries::pending(&store, &d.id).await.unwrap();
            assert!(stale(pending.as_ref(), &second), "a strictly later attempt is recorded");
            assert!(!stale(pending.as_ref(), &rec3.delivery));
            // A fork of attempt 3 (same attempt, its own nonce): the later issue wins, the other
            // goes on only where the later record is not seen yet (a duplicate, never a loss).
            let mut fork = rec3.delivery.clone();
            fork.nonce = Some("n0".into());
            assert!(stale(pending.as_ref(), &fork));
            // Delivered: the record goes; a straggler is attempted again (a duplicate).
            delivered(&store, &rec3.delivery).await.unwrap();
            assert!(store.snapshot().is_empty());
            assert!(!stale(deliveries::pending(&store, &d.id).await.unwrap().as_ref(), &second));
        });
    }

    #[test]
    fn a_retry_read_at_a_location_that_has_not_seen_its_record_is_still_attempted() {
        use crate::testing::eventual::World;
        futures::executor::block_on(async {
            // Location 0 queued the delivery and recorded attempt 2 after a failure; the retry
            // runs 10 s later at location 1, which KV shows the writes only after 60 s.
            let world = World::new(1000, 60, 60);
            let (here, there) = (world.at(0), world.at(1));
            let cfg = BackchannelConfig::default();
            let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
            let mut queued = d.clone();
            queued.nonce = Some("q".into());
            queued.issued_at = Some(1000);
            deliveries::save(&here, &DeliveryRecord::queued(queued.clone(), 1000)).await.unwrap();
            // Location 1 looked before (a cached miss), then the retry is recorded at 0.
            assert!(deliveries::pending(&there, &d.id).await.unwrap().is_none());
            world.set_now(1005);
            let retry = record(&here, &after_failure(&cfg, &queued, &failing(), "n1".into()).unwrap(), 1005)
                .await
                .unwrap()
                .delivery;
            world.set_now(1015);
            let seen = deliveries::pending(&there, &d.id).await.unwrap();
            assert!(seen.is_none(), "not seen there yet");
            assert!(!stale(seen.as_ref(), &retry), "no record seen: attempted");
            // Later, location 1 sees the queued record only (the retry's not yet): older, attempted.
            world.set_now(1061);
            let seen = deliveries::pending(&there, &d.id).await.unwrap();
            assert_eq!(seen.as_ref().map(|r| r.status), Some(DeliveryStatus::Queued));
            assert!(!stale(seen.as_ref(), &retry), "an older record: attempted");
            // Once the retry's record is seen there (its write reached location 1 at 1065, and
            // the answer cached at 1061 lasts until 1121), the first message, should it come
            // again, is dropped.
            world.set_now(1121);
            let seen = deliveries::pending(&there, &d.id).await.unwrap();
            assert!(stale(seen.as_ref(), &queued));
        });
    }

    #[test]
    fn a_consumer_that_fails_waits_longer_each_time_and_outlasts_a_kv_outage() {
        assert_eq!(consumer_retry_delay(0), CONSUMER_RETRY_MIN_S);
        assert_eq!(consumer_retry_delay(-5), CONSUMER_RETRY_MIN_S);
        assert_eq!(consumer_retry_delay(300), 300);
        assert_eq!(consumer_retry_delay(1_000_000), CONSUMER_RETRY_MAX_S);
        // wrangler.toml's max_retries: the tries, each after the delay its age gives.
        let (mut at, mut tries) = (0i64, vec![0i64]);
        for _ in 0..10 {
            at += i64::from(consumer_retry_delay(at));
            tries.push(at);
        }
        // An outage of a minute (or of an hour) ends before the last try.
        assert!(tries[1] >= 60, "{tries:?}");
        assert!(*tries.last().unwrap() > 3 * 3600, "{tries:?}");
    }

    #[test]
    fn overdue_retries_are_reissued_and_the_lost_message_goes_stale() {
        futures::executor::block_on(async {
            let store = crate::state::memory::MemoryStore::new(100);
            let cfg = BackchannelConfig::default();
            let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
            let next = after_failure(&cfg, &d, &failing(), "n1".into()).unwrap();
            let lost = record(&store, &next, 100).await.unwrap().delivery;
            let grace = cfg.sweep_grace_s;
            let early = reissue_overdue(&store, 100 + 10 + grace - 1, grace, 100, || "n2".into()).await.unwrap();
            assert!(early.deliveries.is_empty());
            store.now.set(200 + grace);
            let again = reissue_overdue(&store, 200 + grace, grace, 100, || "n2".into()).await.unwrap();
            assert_eq!(again.deliveries.len(), 1);
            assert_eq!(again.deliveries[0].attempt, lost.attempt);
            let pending = deliveries::pending(&store, &d.id).await.unwrap();
            assert!(!stale(pending.as_ref(), &again.deliveries[0]));
            assert!(stale(pending.as_ref(), &lost), "the lost message, should it turn up");
        });
    }

    #[test]
    fn a_queued_delivery_follows_its_clients_registration() {
        let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        let mut moved = clients()[0].clone();
        moved.backchannel_logout_uri = Some("https://rp1/new-bc".into());
        moved.id_token_signed_response_alg = crate::keys::Alg::ES256;
        let now = current(&d, Some(&moved), None).unwrap();
        assert_eq!(
            (now.uri.as_str(), now.alg, now.id.as_str()),
            ("https://rp1/new-bc", crate::keys::Alg::ES256, d.id.as_str())
        );
        assert_eq!(current(&d, None, None), None, "client deleted");
        moved.backchannel_logout_uri = None;
        assert_eq!(current(&d, Some(&moved), None), None, "no back-channel any more");
    }
}

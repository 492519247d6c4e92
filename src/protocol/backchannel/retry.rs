//! How a delivery attempt's answer is judged, and when (and whether) a failed delivery is tried
//! again: exponential backoff, `Retry-After`, a last attempt, then the dead-letter list.

use crate::config::{BackchannelConfig, SessionEvents};
use crate::ports::{Store, StoreError};
use crate::state::clients::Client;
use crate::state::deliveries::{self, Delivery, DeliveryRecord};

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

/// `nonce` names the retry's queue message (see [`crate::state::deliveries::is_current`]): an
/// input, as randomness is here, so that the decision is a pure function.
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

/// The record of what comes after a failed attempt.
pub fn record_of(next: &Next, now: i64) -> DeliveryRecord {
    match next {
        Next::RetryIn { delivery, delay_s } => DeliveryRecord::failed(delivery.clone(), now + i64::from(*delay_s), now),
        Next::Dead(d) => DeliveryRecord::dead(d.clone(), now),
    }
}

/// Records a failed delivery (replacing its `failed` record when it is now dead).
pub async fn record(store: &impl Store, next: &Next, now: i64) -> Result<DeliveryRecord, StoreError> {
    let rec = record_of(next, now);
    deliveries::save(store, &rec).await?;
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::backchannel::plan;
    use crate::protocol::logout::LogoutEvent;
    use crate::state::deliveries::{delivered, is_current, reissue_overdue, DeliveryStatus};
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

    #[test]
    fn only_the_live_retry_goes_on() {
        futures::executor::block_on(async {
            let store = crate::state::memory::MemoryStore::new(100);
            let cfg = BackchannelConfig::default();
            let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
            assert!(is_current(&store, &d).await.unwrap(), "a first attempt has no record to match");
            let fail = Outcome::Retry { error: "HTTP 500".into(), after_s: None };
            let first = after_failure(&cfg, &d, &fail, "n1".into()).unwrap();
            let forked = after_failure(&cfg, &d, &fail, "n2".into()).unwrap();
            record(&store, &forked, 100).await.unwrap();
            record(&store, &first, 100).await.unwrap();
            let (Next::RetryIn { delivery: live, .. }, Next::RetryIn { delivery: stale, .. }) = (first, forked) else {
                panic!()
            };
            assert!(is_current(&store, &live).await.unwrap());
            assert!(!is_current(&store, &stale).await.unwrap());
            delivered(&store, &live).await.unwrap();
            assert!(!is_current(&store, &live).await.unwrap());
            assert!(store.snapshot().is_empty());
        });
    }

    #[test]
    fn overdue_retries_are_reissued_and_the_lost_message_goes_stale() {
        futures::executor::block_on(async {
            let store = crate::state::memory::MemoryStore::new(100);
            let cfg = BackchannelConfig::default();
            let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
            let next =
                after_failure(&cfg, &d, &Outcome::Retry { error: "x".into(), after_s: None }, "n1".into()).unwrap();
            record(&store, &next, 100).await.unwrap();
            let Next::RetryIn { delivery: lost, .. } = next else { panic!() };
            let grace = cfg.sweep_grace_s;
            assert!(reissue_overdue(&store, 100 + 10 + grace - 1, grace, 10, || "n2".into()).await.unwrap().is_empty());
            store.now.set(200 + grace);
            let again = reissue_overdue(&store, 200 + grace, grace, 10, || "n2".into()).await.unwrap();
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].attempt, lost.attempt);
            assert!(is_current(&store, &again[0]).await.unwrap());
            assert!(!is_current(&store, &lost).await.unwrap());
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

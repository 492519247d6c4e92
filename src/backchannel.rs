//! Back-channel logout (OpenID Connect Back-Channel Logout 1.0), the platform-free half: which
//! relying parties get which logout token, what the token says, how a delivery's answer is
//! judged, and when a failed delivery is tried again. The worker layer signs, sends and queues.

use std::collections::{HashMap, HashSet};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::clients::Client;
use crate::keys::Alg;
use crate::sessions::Session;
use crate::store::{Ns, Store, StoreError};

pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Back-channel settings, with the defaults the README documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackchannelConfig {
    /// Per relying party (`BACKCHANNEL_TIMEOUT_MS`).
    pub timeout_ms: u32,
    /// For all inline deliveries of one logout together (`BACKCHANNEL_DEADLINE_MS`).
    pub deadline_ms: u32,
    /// Logout token lifetime (`LOGOUT_TOKEN_TTL_S`).
    pub token_ttl_s: i64,
    /// First retry delay; doubles each attempt (`BACKCHANNEL_RETRY_DELAY_S`).
    pub retry_delay_s: u32,
    /// Attempts in all, the inline one included (`BACKCHANNEL_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// Relying parties one request notifies itself; the rest go through the queue at once
    /// (`BACKCHANNEL_INLINE_MAX`).
    pub inline_max: usize,
    /// How overdue a retry must be before the cron sweeper re-queues it
    /// (`BACKCHANNEL_SWEEP_GRACE_S`).
    pub sweep_grace_s: i64,
}

impl Default for BackchannelConfig {
    fn default() -> Self {
        BackchannelConfig {
            timeout_ms: 2500,
            deadline_ms: 5000,
            token_ttl_s: 120,
            retry_delay_s: 10,
            max_attempts: 8,
            inline_max: DEFAULT_INLINE_MAX,
            sweep_grace_s: 300,
        }
    }
}

/// Deliveries one logout request makes itself at most (`BACKCHANNEL_INLINE_MAX`'s default);
/// fewer when the request cannot afford them, see [`affordable_inline`]. CPU is not the limit
/// (bench/: signing is WebCrypto's); the free plan's subrequests are: a logout by hint makes
/// 1 KV read (the session), 1 bulk read (the named client and the session's clients), 2 KV
/// deletes and 1 queue send for the overflow, so 5 + 4 × 10 = 45 of 50.
pub const DEFAULT_INLINE_MAX: usize = 10;
/// Subrequests (fetch, KV and queue calls) one invocation may make on the Workers free plan.
pub const SUBREQUEST_LIMIT: usize = 50;
/// Subrequests one inline delivery may cost: the POST and, if it fails, its record, the
/// delete of an earlier record and the queue (or dead-letter) send.
pub const SUBREQUESTS_PER_DELIVERY: usize = 4;

/// How many deliveries a request can still make itself, after `spent` subrequests, keeping room
/// for `deletes` more and for queueing up to `deliveries` (one send per 100): never more than
/// `inline_max`. What it cannot afford goes to the queue.
pub fn affordable_inline(spent: usize, deletes: usize, deliveries: usize, inline_max: usize) -> usize {
    let reserved = spent + deletes + deliveries.div_ceil(100);
    (SUBREQUEST_LIMIT.saturating_sub(reserved) / SUBREQUESTS_PER_DELIVERY).min(inline_max)
}

/// Longest delay between two attempts, whatever the backoff or `Retry-After` says.
pub const MAX_RETRY_DELAY_S: u32 = 3600;

/// What ended, for back-channel purposes.
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
        crate::clients::unique_ids(self.sessions().iter().flat_map(|s| &s.clients).map(String::as_str))
    }
}

/// One logout notification to one relying party: the queue message body, and what is minted
/// into a fresh token at every attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Stable across attempts: names the notification in the admin API.
    pub id: String,
    pub client_id: String,
    pub uri: String,
    pub alg: Alg,
    pub sub: String,
    pub sid: Option<String>,
    /// The attempt this message is for, from 1.
    pub attempt: u32,
    pub last_error: Option<String>,
    /// Set on queued retries, and in their record: see [`is_current`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
}

/// The deliveries an event calls for: one per relying party with a `backchannel_logout_uri`
/// per ended session, or per subject for a user-wide logout. `clients` holds the registered
/// clients of the event (clients deleted since are skipped); `new_id` names each delivery.
pub fn plan(event: &LogoutEvent, clients: &[Client], mut new_id: impl FnMut() -> String) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut push = |client: &Client, uri: &str, sub: &str, sid: Option<&str>| {
        out.push(Delivery {
            id: new_id(),
            client_id: client.client_id.clone(),
            uri: uri.to_string(),
            alg: client.id_token_signed_response_alg,
            sub: sub.to_string(),
            sid: sid.map(str::to_string),
            attempt: 1,
            last_error: None,
            nonce: None,
        })
    };
    // Indexed once: a session may name hundreds of clients.
    let by_id: HashMap<&str, &Client> = clients.iter().map(|c| (c.client_id.as_str(), c)).collect();
    let members: Vec<HashSet<&str>> =
        event.sessions().iter().map(|s| s.clients.iter().map(String::as_str).collect()).collect();
    for id in event.client_ids() {
        let Some(client) = by_id.get(id) else { continue };
        let Some(uri) = client.backchannel_logout_uri.as_deref() else { continue };
        let sessions = event.sessions().iter().zip(&members).filter(|(_, m)| m.contains(id)).map(|(s, _)| s);
        match event {
            LogoutEvent::Subject { sub, .. } if !client.backchannel_logout_session_required => {
                push(client, uri, sub, None)
            }
            _ => sessions.for_each(|s| push(client, uri, &s.sub, Some(&s.sid))),
        }
    }
    out
}

/// The claims of a logout token for `d`, issued at `now` with the unique `jti`.
pub fn claims(d: &Delivery, issuer: &str, now: i64, ttl_s: i64, jti: &str) -> Value {
    let mut c = json!({
        "iss": issuer,
        "aud": d.client_id,
        "iat": now,
        "exp": now + ttl_s,
        "jti": jti,
        "sub": d.sub,
        "events": { EVENT: {} },
    });
    if let Some(sid) = &d.sid {
        c["sid"] = Value::String(sid.clone());
    }
    c
}

/// The JWS signing input (`base64url(header).base64url(claims)`) of a logout token.
pub fn signing_input(kid: &str, alg: Alg, claims: &Value) -> String {
    let header = json!({ "alg": alg.name(), "kid": kid, "typ": "logout+jwt" });
    format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()))
}

/// The compact JWT: signing input and signature.
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", B64.encode(signature))
}

/// The form body of a back-channel request: `logout_token` and nothing else.
pub fn request_body(token: &str) -> String {
    format!("logout_token={}", crate::form::encode_component(token))
}

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

pub fn judge(answer: &Answer, now: i64) -> Outcome {
    let retry_after = |r: &Option<String>| r.as_deref().and_then(|r| parse_retry_after(r, now));
    match answer {
        Answer::Status { status: 200 | 204, .. } => Outcome::Delivered,
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

pub fn after_failure(cfg: &BackchannelConfig, d: &Delivery, outcome: &Outcome) -> Option<Next> {
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
    next.nonce = Some(crate::sessions::random_token(12));
    Some(Next::RetryIn { delay_s: retry_delay(cfg, next.attempt, after_s), delivery: next })
}

/// A delivery that has not succeeded (yet), as kept in KV under `delivery/{status}/{id}`: the
/// admin API lists these, and a retry message is honoured only while it matches the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub status: DeliveryStatus,
    /// For `failed`: the next attempt to make; for `dead`: the last one made.
    pub delivery: Delivery,
    /// Unix time of the next attempt (`failed` only).
    pub next_attempt_at: Option<i64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Failed, and will be tried again.
    Failed,
    /// Given up: final answer, or out of attempts.
    Dead,
}

impl DeliveryStatus {
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "failed" => Some(DeliveryStatus::Failed),
            "dead" => Some(DeliveryStatus::Dead),
            _ => None,
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            DeliveryStatus::Failed => "delivery/failed/",
            DeliveryStatus::Dead => "delivery/dead/",
        }
    }
}

/// How long the dead-letter list keeps a delivery.
pub const DEAD_RETENTION_S: i64 = 30 * 86400;

pub fn record_key(status: DeliveryStatus, id: &str) -> String {
    format!("{}{id}", status.prefix())
}

impl DeliveryRecord {
    pub fn of(next: &Next, now: i64) -> DeliveryRecord {
        match next {
            Next::RetryIn { delivery, delay_s } => DeliveryRecord {
                status: DeliveryStatus::Failed,
                delivery: delivery.clone(),
                next_attempt_at: Some(now + i64::from(*delay_s)),
                updated_at: now,
            },
            Next::Dead(d) => DeliveryRecord {
                status: DeliveryStatus::Dead,
                delivery: d.clone(),
                next_attempt_at: None,
                updated_at: now,
            },
        }
    }

    pub fn key(&self) -> String {
        record_key(self.status, &self.delivery.id)
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        match self.status {
            DeliveryStatus::Failed => self.delivery.attempt - 1,
            DeliveryStatus::Dead => self.delivery.attempt,
        }
    }

    /// When KV may forget the record.
    pub fn expires_at(&self) -> i64 {
        match self.next_attempt_at {
            Some(at) => at.max(self.updated_at) + 86400,
            None => self.updated_at + DEAD_RETENTION_S,
        }
    }

    /// What the admin API shows: no URI query, no token.
    pub fn view(&self) -> Value {
        json!({
            "id": self.delivery.id,
            "status": self.status,
            "client_id": self.delivery.client_id,
            "sid": self.delivery.sid,
            "sub": self.delivery.sub,
            "attempts": self.attempts(),
            "last_error": self.delivery.last_error,
            "next_attempt_at": self.next_attempt_at,
            "updated_at": self.updated_at,
        })
    }
}

/// Records a failed delivery (replacing its `failed` record when it is now dead).
pub async fn record(store: &impl Store, next: &Next, now: i64) -> Result<DeliveryRecord, StoreError> {
    let rec = DeliveryRecord::of(next, now);
    let value = serde_json::to_string(&rec).expect("a delivery record serialises");
    store.put(Ns::Sessions, &rec.key(), &value, Some(rec.expires_at()), None).await?;
    if rec.status == DeliveryStatus::Dead {
        store.delete(Ns::Sessions, &record_key(DeliveryStatus::Failed, &rec.delivery.id)).await?;
    }
    Ok(rec)
}

/// Whether a queued retry is still the live one: its record exists and carries its nonce. A
/// message seen twice, or a chain forked by a duplicate, stops here.
pub async fn is_current(store: &impl Store, d: &Delivery) -> Result<bool, StoreError> {
    let Some(nonce) = &d.nonce else { return Ok(true) };
    let raw = store.get(Ns::Sessions, &record_key(DeliveryStatus::Failed, &d.id)).await?;
    Ok(raw
        .and_then(|r| serde_json::from_str::<DeliveryRecord>(&r).ok())
        .is_some_and(|r| r.delivery.nonce.as_ref() == Some(nonce) && r.delivery.attempt == d.attempt))
}

/// Retries whose message is overdue by more than `grace_s` (`BACKCHANNEL_SWEEP_GRACE_S`): the
/// queue normally delivers long before, so past it the message was lost (a failed send, a
/// queue that lost it). Each gets a new nonce (so that the lost message, should it turn up, is
/// stale) and is recorded again; the caller re-queues the returned deliveries.
pub async fn reissue_overdue(
    store: &impl Store,
    now: i64,
    grace_s: i64,
    limit: u32,
) -> Result<Vec<Delivery>, StoreError> {
    let page = store.list(Ns::Sessions, DeliveryStatus::Failed.prefix(), None, limit).await?;
    let mut out = Vec::new();
    for listed in page.keys {
        let Some(raw) = store.get(Ns::Sessions, &listed.key).await? else { continue };
        let Ok(mut rec) = serde_json::from_str::<DeliveryRecord>(&raw) else { continue };
        if rec.next_attempt_at.is_none_or(|at| at + grace_s > now) {
            continue;
        }
        rec.delivery.nonce = Some(crate::sessions::random_token(12));
        rec.next_attempt_at = Some(now);
        rec.updated_at = now;
        let value = serde_json::to_string(&rec).expect("a delivery record serialises");
        store.put(Ns::Sessions, &rec.key(), &value, Some(rec.expires_at()), None).await?;
        out.push(rec.delivery);
    }
    Ok(out)
}

/// Forgets the failure record of a delivery that finally succeeded.
pub async fn delivered(store: &impl Store, d: &Delivery) -> Result<(), StoreError> {
    if d.attempt > 1 {
        store.delete(Ns::Sessions, &record_key(DeliveryStatus::Failed, &d.id)).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(id: &str, uri: Option<&str>, session_required: bool, alg: Alg) -> Client {
        Client {
            client_id: id.into(),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: uri.map(str::to_string),
            backchannel_logout_session_required: session_required,
            frontchannel_logout_uri: None,
            frontchannel_logout_session_required: false,
            id_token_signed_response_alg: alg,
            client_name: None,
        }
    }

    fn session(sid: &str, clients: &[&str]) -> Session {
        Session {
            sid: sid.into(),
            sub: "alice".into(),
            clients: clients.iter().map(|c| c.to_string()).collect(),
            created_at: 0,
            expires_at: 1,
            cookie_hash: String::new(),
        }
    }

    fn ids() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("d{n}")
        }
    }

    fn clients() -> Vec<Client> {
        vec![
            client("rp1", Some("https://rp1/bc"), false, Alg::RS256),
            client("rp2", Some("https://rp2/bc?k=v"), true, Alg::ES256),
            client("rp3", None, false, Alg::RS256),
        ]
    }

    #[test]
    fn one_delivery_per_relying_party_with_a_backchannel_uri() {
        let event = LogoutEvent::Sessions(vec![session("s1", &["rp1", "rp2", "rp3", "gone"])]);
        let d = plan(&event, &clients(), ids());
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].client_id.as_str(), d[0].uri.as_str(), d[0].alg), ("rp1", "https://rp1/bc", Alg::RS256));
        assert_eq!((d[1].client_id.as_str(), d[1].uri.as_str(), d[1].alg), ("rp2", "https://rp2/bc?k=v", Alg::ES256));
        assert!(d.iter().all(|d| d.sid.as_deref() == Some("s1") && d.sub == "alice" && d.attempt == 1));
        assert_ne!(d[0].id, d[1].id);
    }

    #[test]
    fn a_user_wide_logout_sends_sidless_tokens_except_to_session_required_clients() {
        let event = LogoutEvent::Subject {
            sub: "alice".into(),
            sessions: vec![session("s1", &["rp1", "rp2"]), session("s2", &["rp1", "rp2"]), session("s3", &["rp2"])],
        };
        let d = plan(&event, &clients(), ids());
        let summary: Vec<(&str, Option<&str>)> = d.iter().map(|d| (d.client_id.as_str(), d.sid.as_deref())).collect();
        assert_eq!(summary, [("rp1", None), ("rp2", Some("s1")), ("rp2", Some("s2")), ("rp2", Some("s3"))]);
    }

    #[test]
    fn token_claims() {
        let d = plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        let c = claims(&d, "https://id.example", 1000, 120, "j1");
        assert_eq!(
            c,
            json!({"iss": "https://id.example", "aud": "rp1", "iat": 1000, "exp": 1120, "jti": "j1", "sub": "alice",
                   "sid": "s1", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}})
        );
        assert!(c.get("nonce").is_none());
        let mut no_sid = d.clone();
        no_sid.sid = None;
        assert!(claims(&no_sid, "i", 0, 1, "j").get("sid").is_none());
    }

    #[test]
    fn tokens_verify_with_the_provider_keys() {
        let keys = crate::keys::tests::test_keys();
        let d = plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        for alg in Alg::ALL {
            let signer = keys.signer(alg).unwrap();
            let input = signing_input(&signer.kid, alg, &claims(&d, "https://id.example", 1000, 120, "j"));
            let jwt = assemble(&input, &signer.sign_bytes(input.as_bytes()));
            let token = keys.verify::<Value>(&jwt).unwrap();
            assert_eq!(token.header().token_type.as_deref(), Some("logout+jwt"));
            assert_eq!(token.claims().custom["sid"], "s1");
        }
    }

    #[test]
    fn the_body_is_only_the_token() {
        assert_eq!(request_body("a.b-_.c"), "logout_token=a.b-_.c");
    }

    #[test]
    fn judging_answers() {
        let s = |status, retry_after: Option<&str>| {
            judge(&Answer::Status { status, retry_after: retry_after.map(str::to_string) }, 1000)
        };
        assert_eq!(s(200, None), Outcome::Delivered);
        assert_eq!(s(204, None), Outcome::Delivered);
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
    fn inline_deliveries_fit_the_subrequest_limit() {
        // A logout by hint: 3 reads spent, 2 deletes, 3 deliveries: all 10 allowed.
        assert_eq!(affordable_inline(3, 2, 3, DEFAULT_INLINE_MAX), 10);
        assert_eq!(affordable_inline(3, 2, 3, 4), 4);
        // Everything spent or reserved: none inline, all queued.
        assert_eq!(affordable_inline(3, 44, 60, DEFAULT_INLINE_MAX), 0);
        assert_eq!(affordable_inline(60, 0, 1, DEFAULT_INLINE_MAX), 0);
        for spent in 0..60 {
            for deletes in [0, 2, 20, 40] {
                for deliveries in [0, 1, 99, 101, 500] {
                    let n = affordable_inline(spent, deletes, deliveries, usize::MAX);
                    let total = spent + deletes + deliveries.div_ceil(100) + n * SUBREQUESTS_PER_DELIVERY;
                    assert!(n == 0 || total <= SUBREQUEST_LIMIT, "{spent} {deletes} {deliveries}: {n}");
                    // And not one fewer than fits.
                    assert!(total + SUBREQUESTS_PER_DELIVERY > SUBREQUEST_LIMIT, "{spent} {deletes} {deliveries}: {n}");
                }
            }
        }
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
        let mut d = plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        let fail = Outcome::Retry { error: "HTTP 500".into(), after_s: None };
        assert_eq!(after_failure(&cfg, &d, &Outcome::Delivered), None);
        let Some(Next::RetryIn { delivery, delay_s }) = after_failure(&cfg, &d, &fail) else { panic!() };
        assert_eq!((delivery.attempt, delay_s, delivery.last_error.as_deref()), (2, 5, Some("HTTP 500")));
        let rec = DeliveryRecord::of(&Next::RetryIn { delivery: delivery.clone(), delay_s }, 100);
        assert_eq!((rec.status, rec.attempts(), rec.next_attempt_at), (DeliveryStatus::Failed, 1, Some(105)));
        d.attempt = 3;
        let Some(Next::Dead(dead)) = after_failure(&cfg, &d, &fail) else { panic!() };
        let rec = DeliveryRecord::of(&Next::Dead(dead), 100);
        assert_eq!((rec.status, rec.attempts(), rec.next_attempt_at), (DeliveryStatus::Dead, 3, None));
        assert_eq!(rec.view()["attempts"], 3);
        assert!(rec.key().starts_with("delivery/dead/"));
        d.attempt = 1;
        assert!(matches!(after_failure(&cfg, &d, &Outcome::Final { error: "HTTP 400".into() }), Some(Next::Dead(_))));
    }

    #[test]
    fn only_the_live_retry_goes_on() {
        futures::executor::block_on(async {
            let store = crate::store::memory::MemoryStore::new(100);
            let cfg = BackchannelConfig::default();
            let d = plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
            assert!(is_current(&store, &d).await.unwrap(), "a first attempt has no record to match");
            let fail = Outcome::Retry { error: "HTTP 500".into(), after_s: None };
            let first = after_failure(&cfg, &d, &fail).unwrap();
            let forked = after_failure(&cfg, &d, &fail).unwrap();
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
            let store = crate::store::memory::MemoryStore::new(100);
            let cfg = BackchannelConfig::default();
            let d = plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
            let next = after_failure(&cfg, &d, &Outcome::Retry { error: "x".into(), after_s: None }).unwrap();
            record(&store, &next, 100).await.unwrap();
            let Next::RetryIn { delivery: lost, .. } = next else { panic!() };
            let grace = cfg.sweep_grace_s;
            assert!(reissue_overdue(&store, 100 + 10 + grace - 1, grace, 10).await.unwrap().is_empty());
            store.now.set(200 + grace);
            let again = reissue_overdue(&store, 200 + grace, grace, 10).await.unwrap();
            assert_eq!(again.len(), 1);
            assert_eq!(again[0].attempt, lost.attempt);
            assert!(is_current(&store, &again[0]).await.unwrap());
            assert!(!is_current(&store, &lost).await.unwrap());
        });
    }
}

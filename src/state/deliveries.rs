//! Back-channel deliveries that have not succeeded (yet), under `delivery/failed/{id}` and
//! `delivery/dead/{id}` in the `SESSIONS` namespace, and the delivery itself: the queue
//! message body, and what is minted into a fresh token at every attempt.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::store::{Ns, Put, Store, StoreError};
use crate::keys::Alg;

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
    /// Set on every queued message, and in its record: names the message (see
    /// `protocol::backchannel::retry::stale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Unix time the queued message (and its record) was issued: with `attempt` and `nonce`, it
    /// orders the messages of one delivery, so that only a record of a later one drops a message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issued_at: Option<i64>,
    /// How many times the message went through the dead-letter queue and was sent again (see
    /// `protocol::backchannel::retry::after_dead_letter`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub redriven: u32,
    /// What is sent: a logout token to a relying party, or a session-ended event to the login
    /// system.
    #[serde(default, skip_serializing_if = "DeliveryKind::is_logout")]
    pub kind: DeliveryKind,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// What a delivery carries. Read through [`KindWire`] (same bytes as the internally tagged
/// enum it serialises as): serde reads an internally tagged enum by buffering the whole value
/// first (its private `Content`, instantiated for every type inside), which cost wasm size.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", try_from = "KindWire")]
pub enum DeliveryKind {
    /// A logout token (Back-Channel Logout 1.0) for the relying party `client_id`.
    #[default]
    Logout,
    /// A Security Event Token (RFC 8417) telling the login system that the session ended.
    SessionEnded {
        reason: EndReason,
        /// The client that asked for the logout, when one did.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        initiator: Option<String>,
        /// The token's `aud` (`SESSION_EVENTS_AUDIENCE`).
        audience: String,
    },
}

impl DeliveryKind {
    pub fn is_logout(&self) -> bool {
        matches!(self, DeliveryKind::Logout)
    }
}

/// [`DeliveryKind`] as written, every member of every variant flat: read in one pass, then
/// checked by `try_from` as serde's tagged reading would.
#[derive(Deserialize)]
struct KindWire {
    #[serde(rename = "type")]
    tag: KindTag,
    reason: Option<EndReason>,
    initiator: Option<String>,
    audience: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum KindTag {
    Logout,
    SessionEnded,
}

impl TryFrom<KindWire> for DeliveryKind {
    type Error = &'static str;

    fn try_from(w: KindWire) -> Result<Self, Self::Error> {
        Ok(match w.tag {
            KindTag::Logout => DeliveryKind::Logout,
            KindTag::SessionEnded => DeliveryKind::SessionEnded {
                reason: w.reason.ok_or("missing field `reason`")?,
                initiator: w.initiator,
                audience: w.audience.ok_or("missing field `audience`")?,
            },
        })
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The user logged out through the end-session endpoint (RP-initiated logout).
    RpLogout,
    /// An operator ended the session (`DELETE /admin/sessions/{sid}`).
    AdminLogoutSession,
    /// An operator ended every session of the user (`DELETE /admin/sessions?sub=`).
    AdminLogoutSubject,
    /// The session reached its expiry (`expires_in`, or a later `PATCH`): ended by the cron
    /// (`protocol::expiry`), no client asked.
    Expired,
}

/// A later look at the sessions one logout ended, as a delayed queue message: KV is eventually
/// consistent, so a location may log out before it sees every client recorded elsewhere, or
/// before its delete is seen elsewhere (see `protocol::logout::recheck`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recheck {
    pub logout_id: String,
    /// 1 for the first look.
    pub round: u32,
    /// For a user-wide logout, its subject: relying parties get tokens without `sid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub sessions: Vec<EndedSession>,
    /// Deliveries the logout could not hand off (a queue send or a record write failed): the
    /// look sends them again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsent: Vec<Delivery>,
    /// Too large for a queue message: the clients already told (`notified`) and what was not
    /// handed off are left out, and read from the logout's outbox record instead (which the
    /// look, coming two windows later, sees).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub in_record: bool,
}

/// The most a look's queue message may weigh: a message is capped at 128 KB
/// (developers.cloudflare.com/queues/platform/limits/); the margin is for the envelope.
pub const MAX_LOOK_BYTES: usize = 100 * 1024;

impl Recheck {
    /// The message to queue: this look, or, when it would weigh more than [`MAX_LOOK_BYTES`],
    /// the same without its lists (`in_record`).
    pub fn to_send(&self) -> Recheck {
        let size = serde_json::to_string(self).map_or(usize::MAX, |s| s.len());
        if size <= MAX_LOOK_BYTES {
            return self.clone();
        }
        let sessions = self.sessions.iter().map(|s| EndedSession { notified: Vec::new(), ..s.clone() }).collect();
        Recheck { sessions, unsent: Vec::new(), in_record: true, ..self.clone() }
    }
}

/// One ended session, and the clients already told of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedSession {
    pub sid: String,
    /// Its user, when the logout knew it. A session ended unseen through the browser's cookie
    /// alone has none until its record is seen; a record of another user is never ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    pub notified: Vec<String>,
    /// The session-ended event still owed to the login system: a session ended unseen, whose
    /// user was not known, is reported once its record is seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owed_event: Option<OwedEvent>,
}

/// A session-ended event to send once the session's user is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedEvent {
    pub reason: EndReason,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiator: Option<String>,
}

/// The part of a logout its request did not plan itself (the relying parties past its one wave
/// of inline deliveries), as a queue message: the consumer plans and hands off a page of it
/// and passes the rest on (see `protocol::logout::expand`). Its deliveries are named
/// `{logout_id}.{n}` by each client's number `n` in the logout, so that an expansion run twice
/// writes the same records again, not new ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expansion {
    pub logout_id: String,
    /// For a user-wide logout, its subject: relying parties get tokens without `sid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The ended sessions (`OwedClient::of` indexes them).
    pub ended: Vec<EndedRef>,
    /// The relying parties still to tell, in the logout's order.
    pub expand: Vec<OwedClient>,
}

/// An ended session, as an expansion names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedRef {
    pub sid: String,
    pub sub: String,
}

/// One relying party an expansion is to tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OwedClient {
    /// Its number in the logout, from 1: its deliveries' ids.
    pub n: usize,
    pub id: String,
    /// The ended sessions (indexes into `Expansion::ended`) it is in; empty: all of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub of: Vec<usize>,
}

/// The most an expansion's queue message may weigh (as [`MAX_LOOK_BYTES`]): a logout's
/// expansion is split into messages of at most this.
pub const MAX_EXPANSION_BYTES: usize = 100 * 1024;

impl Expansion {
    /// The sessions of `ended` that `client` is in.
    pub fn sessions_of<'a>(&'a self, client: &'a OwedClient) -> impl Iterator<Item = &'a EndedRef> + 'a {
        self.ended.iter().enumerate().filter(|(i, _)| client.of.is_empty() || client.of.contains(i)).map(|(_, s)| s)
    }

    /// This expansion with only `clients` left to tell.
    pub fn with(&self, clients: Vec<OwedClient>) -> Expansion {
        Expansion {
            logout_id: self.logout_id.clone(),
            subject: self.subject.clone(),
            ended: self.ended.clone(),
            expand: clients,
        }
    }

    /// Split into messages of at most [`MAX_EXPANSION_BYTES`] each (at least one client each).
    pub fn into_messages(self) -> Vec<Expansion> {
        let base = serde_json::to_string(&self.with(Vec::new())).map_or(0, |s| s.len());
        let mut out = Vec::new();
        let (mut part, mut bytes) = (Vec::new(), base);
        for c in self.expand.iter() {
            let size = serde_json::to_string(c).map_or(0, |s| s.len()) + 1;
            if !part.is_empty() && bytes + size > MAX_EXPANSION_BYTES {
                out.push(self.with(std::mem::take(&mut part)));
                bytes = base;
            }
            bytes += size;
            part.push(c.clone());
        }
        if !part.is_empty() {
            out.push(self.with(part));
        }
        out
    }
}

/// What the queue carries: a delivery attempt, a re-check, or the expansion of a logout.
/// Written as the variant's own object (untagged); read by [`QueueMessage`]'s `Deserialize`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum QueueMessage {
    Recheck(Recheck),
    Expand(Expansion),
    Deliver(Delivery),
}

/// Reads the message's shape from its top-level members, then the message itself: a re-check
/// has `round`, an expansion `expand`, a delivery neither (a delivery has no `logout_id`, an
/// expansion no `round`, a re-check no `expand`). This is what `#[serde(untagged)]` decided by
/// trying each variant in turn, but without serde's buffering of the whole value in its
/// private `Content` (one copy of every derived reader per type inside, ~30 KB of wasm): the
/// body is held as raw JSON and read twice, the first time skipping every value.
impl<'de> Deserialize<'de> for QueueMessage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny};

        #[derive(Deserialize)]
        struct Shape {
            round: Option<IgnoredAny>,
            expand: Option<IgnoredAny>,
        }
        let raw = <&serde_json::value::RawValue>::deserialize(d)?;
        let json = raw.get();
        let shape: Shape = serde_json::from_str(json).map_err(D::Error::custom)?;
        let message = if shape.round.is_some() {
            serde_json::from_str(json).map(QueueMessage::Recheck)
        } else if shape.expand.is_some() {
            serde_json::from_str(json).map(QueueMessage::Expand)
        } else {
            serde_json::from_str(json).map(QueueMessage::Deliver)
        };
        message.map_err(D::Error::custom)
    }
}

/// A delivery that has not succeeded (yet), as kept in KV under `delivery/{status}/{id}`: the
/// admin API lists these, the sweep sends again a queued or failed one whose message is overdue,
/// and a queue message is dropped only when the record shows a later one.
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
    /// Handed to the queue, not attempted yet (a delivery that did not go inline). Kept under
    /// the same key as `failed`: both are "still to be attempted", by one live message.
    Queued,
    /// Failed, and will be tried again.
    Failed,
    /// Given up: final answer, or out of attempts. Listed until an operator drives it again
    /// or acknowledges it.
    Dead,
    /// Not made: its client was deleted from the registry before the attempt.
    Cancelled,
}

impl DeliveryStatus {
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "queued" => Some(DeliveryStatus::Queued),
            "failed" => Some(DeliveryStatus::Failed),
            "dead" => Some(DeliveryStatus::Dead),
            "cancelled" => Some(DeliveryStatus::Cancelled),
            _ => None,
        }
    }

    /// Whether a message is still to carry it out (`queued` or `failed`): its record is the
    /// live one, under `delivery/failed/{id}`.
    pub fn is_pending(self) -> bool {
        matches!(self, DeliveryStatus::Queued | DeliveryStatus::Failed)
    }

    fn prefix(self) -> &'static str {
        match self {
            DeliveryStatus::Queued | DeliveryStatus::Failed => PENDING_PREFIX,
            DeliveryStatus::Dead => "delivery/dead/",
            DeliveryStatus::Cancelled => "delivery/cancelled/",
        }
    }
}

/// Where the records of pending (`queued` and `failed`) deliveries live.
pub const PENDING_PREFIX: &str = "delivery/failed/";

/// How long the dead-letter list keeps a delivery.
pub const DEAD_RETENTION_S: i64 = 30 * 86400;

pub fn record_key(status: DeliveryStatus, id: &str) -> String {
    format!("{}{id}", status.prefix())
}

impl DeliveryRecord {
    /// A delivery handed to the queue for its first attempt (its message carries the same
    /// `nonce` and `issued_at`).
    pub fn queued(delivery: Delivery, now: i64) -> DeliveryRecord {
        DeliveryRecord { status: DeliveryStatus::Queued, delivery, next_attempt_at: Some(now), updated_at: now }
    }

    /// A delivery that failed and is to be tried again at `next_attempt_at`.
    pub fn failed(delivery: Delivery, next_attempt_at: i64, now: i64) -> DeliveryRecord {
        DeliveryRecord {
            status: DeliveryStatus::Failed,
            delivery,
            next_attempt_at: Some(next_attempt_at),
            updated_at: now,
        }
    }

    /// A delivery given up.
    pub fn dead(delivery: Delivery, now: i64) -> DeliveryRecord {
        DeliveryRecord { status: DeliveryStatus::Dead, delivery, next_attempt_at: None, updated_at: now }
    }

    /// A delivery not made because its client was deleted.
    pub fn cancelled(mut delivery: Delivery, now: i64) -> DeliveryRecord {
        delivery.last_error = Some("the client was deleted".into());
        DeliveryRecord { status: DeliveryStatus::Cancelled, delivery, next_attempt_at: None, updated_at: now }
    }

    pub fn key(&self) -> String {
        record_key(self.status, &self.delivery.id)
    }

    /// Attempts made so far.
    pub fn attempts(&self) -> u32 {
        match self.status {
            DeliveryStatus::Queued | DeliveryStatus::Failed | DeliveryStatus::Cancelled => {
                self.delivery.attempt.saturating_sub(1)
            }
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

/// A record by status and id.
pub async fn load(store: &impl Store, status: DeliveryStatus, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
    let raw = store.get(Ns::Sessions, &record_key(status, id)).await?;
    Ok(raw.and_then(|r| serde_json::from_str(&r).ok()))
}

/// Forgets a record.
pub async fn forget(store: &impl Store, status: DeliveryStatus, id: &str) -> Result<(), StoreError> {
    store.delete(Ns::Sessions, &record_key(status, id)).await
}

/// Stores a record (replacing its pending record when it is now dead or cancelled).
pub async fn save(store: &impl Store, rec: &DeliveryRecord) -> Result<(), StoreError> {
    let value = serde_json::to_string(&rec).expect("a delivery record serialises");
    store.put(Ns::Sessions, &rec.key(), &value, Some(rec.expires_at()), None).await?;
    if !rec.status.is_pending() {
        store.delete(Ns::Sessions, &record_key(DeliveryStatus::Failed, &rec.delivery.id)).await?;
    }
    Ok(())
}

/// Saves pending records (`queued` or `failed`: one write each, no delete) together, in one
/// crossing in the worker ([`Store::put_each`]); each with its own result, in order.
pub async fn save_pending(store: &impl Store, recs: &[DeliveryRecord]) -> Vec<Result<(), StoreError>> {
    debug_assert!(recs.iter().all(|r| r.status.is_pending()), "a final record also deletes: save it alone");
    let puts: Vec<Put> = recs
        .iter()
        .map(|rec| Put {
            ns: Ns::Sessions,
            key: rec.key(),
            value: serde_json::to_string(&rec).expect("a delivery record serialises"),
            expires_at: Some(rec.expires_at()),
            metadata: None,
        })
        .collect();
    store.put_each(&puts).await
}

/// The pending (`queued` or `failed`) record of delivery `id`, as this location sees it.
pub async fn pending(store: &impl Store, id: &str) -> Result<Option<DeliveryRecord>, StoreError> {
    load(store, DeliveryStatus::Failed, id).await
}

/// What a walk over the pending records ([`reissue_overdue`]) did within its budget.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reissued {
    /// The deliveries to queue again, each with its new nonce (already recorded).
    pub deliveries: Vec<Delivery>,
    /// Subrequests (KV calls) spent.
    pub spent: usize,
    /// Whether every pending record was looked at (false: the budget ran out first).
    pub complete: bool,
}

/// Keys one sweep listing asks for (KV's largest page).
pub const SWEEP_LIST_PAGE: u32 = 1000;

/// Pending records whose message is overdue by more than `grace_s` (`BACKCHANNEL_SWEEP_GRACE_S`):
/// the queue normally delivers long before, so past it the message was lost (a failed send, a
/// message dead-lettered and not re-driven). Each gets a new nonce from `new_nonce` and a new
/// `issued_at` (so that the lost message, should it turn up, is older) and is recorded again;
/// the caller re-queues the returned deliveries.
///
/// The whole list is walked, page by page (lists and bulk reads are cheap; the records are read
/// 100 at a time), spending at most `budget` KV calls, each reissue's write included: with no
/// cursor kept anywhere, a walk cut short starts again from the first key next time, where the
/// records it reissued are no longer overdue and cost only their share of a bulk read.
pub async fn reissue_overdue(
    store: &impl Store,
    now: i64,
    grace_s: i64,
    budget: usize,
    mut new_nonce: impl FnMut() -> String,
) -> Result<Reissued, StoreError> {
    let mut out = Reissued::default();
    let mut cursor = None;
    loop {
        // A listing, then at least one bulk read: not worth starting without room for a write.
        if out.spent + 3 > budget {
            return Ok(out);
        }
        let page = store.list(Ns::Sessions, PENDING_PREFIX, cursor, SWEEP_LIST_PAGE).await?;
        out.spent += 1;
        let keys: Vec<String> = page.keys.into_iter().map(|l| l.key).collect();
        for chunk in keys.chunks(crate::budget::BULK_READ_MAX) {
            if out.spent + 2 > budget {
                return Ok(out);
            }
            let raw = store.get_many(Ns::Sessions, chunk).await?;
            out.spent += 1;
            for raw in raw.into_iter().flatten() {
                let Ok(mut rec) = serde_json::from_str::<DeliveryRecord>(&raw) else { continue };
                if !rec.status.is_pending() || rec.next_attempt_at.is_none_or(|at| at + grace_s > now) {
                    continue;
                }
                if out.spent + 1 > budget {
                    return Ok(out);
                }
                rec.delivery.nonce = Some(new_nonce());
                rec.delivery.issued_at = Some(now);
                rec.next_attempt_at = Some(now);
                rec.updated_at = now;
                let value = serde_json::to_string(&rec).expect("a delivery record serialises");
                out.spent += 1;
                store.put(Ns::Sessions, &rec.key(), &value, Some(rec.expires_at()), None).await?;
                out.deliveries.push(rec.delivery);
            }
        }
        cursor = page.cursor;
        if cursor.is_none() {
            out.complete = true;
            return Ok(out);
        }
    }
}

/// Forgets the pending record of a delivery that finally succeeded (a queued message has one;
/// an inline first attempt has none).
pub async fn delivered(store: &impl Store, d: &Delivery) -> Result<(), StoreError> {
    if d.nonce.is_some() || d.attempt > 1 {
        store.delete(Ns::Sessions, &record_key(DeliveryStatus::Failed, &d.id)).await?;
    }
    Ok(())
}

/// A page of the records of `status` among at most `limit` keys from `cursor` (one listing, one
/// bulk read), and where the next page starts. `queued` and `failed` share their keys: a page of
/// either holds only its own, and so may hold fewer than `limit` while more follow.
pub async fn page(
    store: &impl Store,
    status: DeliveryStatus,
    cursor: Option<String>,
    limit: u32,
) -> Result<(Vec<DeliveryRecord>, Option<String>), StoreError> {
    let page = store.list(Ns::Sessions, status.prefix(), cursor, limit).await?;
    let keys: Vec<String> = page.keys.into_iter().map(|l| l.key).collect();
    let records = store.get_many(Ns::Sessions, &keys).await?;
    let found = records
        .into_iter()
        .flatten()
        .filter_map(|r| serde_json::from_str::<DeliveryRecord>(&r).ok())
        .filter(|r| r.status == status)
        .collect();
    Ok((found, page.cursor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(kind: DeliveryKind) -> Delivery {
        Delivery {
            id: "L1.2".into(),
            client_id: "rp-a".into(),
            uri: "https://rp.example/bc".into(),
            alg: Alg::ES256,
            sub: "u1".into(),
            sid: Some("s1".into()),
            attempt: 2,
            last_error: Some("HTTP 503".into()),
            nonce: Some("n1".into()),
            issued_at: Some(1_700_000_000),
            redriven: 1,
            kind,
        }
    }

    /// Queue messages and delivery records survive a deploy: the bytes the previous version
    /// wrote (these, captured from it) must read back to the same value, and a value must
    /// serialise to the same bytes. `QueueMessage` and `DeliveryKind` deserialise by hand (no
    /// serde buffering: see their `Deserialize` impls), so this pins their wire format.
    #[test]
    fn queue_messages_keep_their_wire_format() {
        let ended = DeliveryKind::SessionEnded {
            reason: EndReason::AdminLogoutSession,
            initiator: Some("rp-b".into()),
            audience: "login".into(),
        };
        let minimal = Delivery {
            sid: None,
            last_error: None,
            nonce: None,
            issued_at: None,
            redriven: 0,
            ..delivery(DeliveryKind::Logout)
        };
        let recheck = Recheck {
            logout_id: "L1".into(),
            round: 2,
            subject: Some("u1".into()),
            sessions: vec![EndedSession {
                sid: "s1".into(),
                sub: Some("u1".into()),
                notified: vec!["rp-a".into()],
                owed_event: Some(OwedEvent { reason: EndReason::Expired, initiator: None }),
            }],
            unsent: vec![delivery(ended.clone())],
            in_record: true,
        };
        let expansion = Expansion {
            logout_id: "L2".into(),
            subject: None,
            ended: vec![EndedRef { sid: "s1".into(), sub: "u1".into() }],
            expand: vec![
                OwedClient { n: 3, id: "rp-c".into(), of: vec![0] },
                OwedClient { n: 4, id: "rp-d".into(), of: vec![] },
            ],
        };
        let golden: [(QueueMessage, &str); 5] = [
            (
                QueueMessage::Deliver(delivery(DeliveryKind::Logout)),
                r#"{"id":"L1.2","client_id":"rp-a","uri":"https://rp.example/bc","alg":"ES256","sub":"u1","sid":"s1","attempt":2,"last_error":"HTTP 503","nonce":"n1","issued_at":1700000000,"redriven":1}"#,
            ),
            (
                QueueMessage::Deliver(minimal),
                r#"{"id":"L1.2","client_id":"rp-a","uri":"https://rp.example/bc","alg":"ES256","sub":"u1","sid":null,"attempt":2,"last_error":null}"#,
            ),
            (
                QueueMessage::Deliver(delivery(ended)),
                r#"{"id":"L1.2","client_id":"rp-a","uri":"https://rp.example/bc","alg":"ES256","sub":"u1","sid":"s1","attempt":2,"last_error":"HTTP 503","nonce":"n1","issued_at":1700000000,"redriven":1,"kind":{"type":"session_ended","reason":"admin_logout_session","initiator":"rp-b","audience":"login"}}"#,
            ),
            (
                QueueMessage::Recheck(recheck),
                r#"{"logout_id":"L1","round":2,"subject":"u1","sessions":[{"sid":"s1","sub":"u1","notified":["rp-a"],"owed_event":{"reason":"expired"}}],"unsent":[{"id":"L1.2","client_id":"rp-a","uri":"https://rp.example/bc","alg":"ES256","sub":"u1","sid":"s1","attempt":2,"last_error":"HTTP 503","nonce":"n1","issued_at":1700000000,"redriven":1,"kind":{"type":"session_ended","reason":"admin_logout_session","initiator":"rp-b","audience":"login"}}],"in_record":true}"#,
            ),
            (
                QueueMessage::Expand(expansion),
                r#"{"logout_id":"L2","ended":[{"sid":"s1","sub":"u1"}],"expand":[{"n":3,"id":"rp-c","of":[0]},{"n":4,"id":"rp-d"}]}"#,
            ),
        ];
        for (value, bytes) in golden {
            assert_eq!(serde_json::to_string(&value).unwrap(), bytes);
            assert_eq!(serde_json::from_str::<QueueMessage>(bytes).unwrap(), value, "{bytes}");
        }
    }

    /// What older writers left out or spelled otherwise still reads: `kind` absent is a logout,
    /// an explicit `{"type":"logout"}` too, members in any order, unknown members ignored.
    #[test]
    fn delivery_kind_reads_every_spelling() {
        let base = r#""id":"d","client_id":"c","uri":"https://rp/bc","alg":"RS256","sub":"u","sid":null,"attempt":1,"last_error":null"#;
        let read = |extra: &str| serde_json::from_str::<Delivery>(&format!("{{{base}{extra}}}")).map(|d| d.kind);
        assert_eq!(read("").unwrap(), DeliveryKind::Logout);
        assert_eq!(read(r#","kind":{"type":"logout"}"#).unwrap(), DeliveryKind::Logout);
        assert_eq!(
            read(r#","kind":{"audience":"a","x":1,"reason":"rp_logout","type":"session_ended"}"#).unwrap(),
            DeliveryKind::SessionEnded { reason: EndReason::RpLogout, initiator: None, audience: "a".into() }
        );
        assert!(read(r#","kind":{"type":"session_ended","reason":"rp_logout"}"#).is_err(), "audience is required");
        assert!(read(r#","kind":{"type":"other"}"#).is_err());
        assert!(read(r#","kind":{"reason":"rp_logout"}"#).is_err(), "type is required");
    }

    /// A message of none of the three shapes is refused (the consumer acknowledges and logs it).
    #[test]
    fn a_queue_message_of_no_known_shape_is_refused() {
        for bad in [r#"{}"#, r#"{"round":1}"#, r#"{"expand":[]}"#, r#"{"logout_id":"L"}"#, "[]", "1", r#""x""#] {
            assert!(serde_json::from_str::<QueueMessage>(bad).is_err(), "{bad} accepted");
        }
    }
}

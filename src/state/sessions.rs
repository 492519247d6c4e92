//! Sessions of the provider, and their keys in the `SESSIONS` namespace (see [`super`]):
//! `session/{sid}`, `subject/{b64url(sub)}/{sid}`, `member/{sid}/{client_id}` and
//! `ended/{sid}`.
//!
//! A session's clients are those it was created with (in its record) and one `member/` key per
//! client recorded since: recording a client writes its own key and never rewrites the record,
//! so concurrent recordings (a single sign-on burst) cannot overwrite each other, and a
//! recording cannot revive an ended session's record. An ended session leaves a tombstone,
//! `ended/{sid}`, which refuses it being created or joined again.
//!
//! A session ends at its logical expiry (`expires_at`): every read treats it as ended from then
//! on ([`lookup`] as [`Lookup::Ended`]), but its keys stay in KV [`KEPT_AFTER_EXPIRY_S`] longer,
//! so that the cron (`protocol::expiry`) can still read the record and its clients and end it
//! as a logout does (tombstone, tokens, session-ended event). The record carries its expiry in
//! its listing metadata (`{"exp": …}`): the cron finds what expired by listing `session/`, at
//! no write beyond the record's own.
//!
//! The browser cookie names its session itself: `{b64url(sid)}.{secret}`, the secret random and
//! stored only hashed in the record. A logout finds the session with one read and no index to
//! keep, and knowing a `sid` (every relying party sees it) does not let anyone act as the browser.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::secrets::{hash_secret, random_token};
use super::store::{Ns, Store, StoreError};

pub const MAX_SID_LEN: usize = 128;
pub const MAX_SUB_LEN: usize = 255;
pub const MAX_CLIENTS_PER_SESSION: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub sid: String,
    pub sub: String,
    /// The clients that were issued an ID token in this session, in the order they were recorded.
    pub clients: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// SHA-256 of the secret half of the browser cookie, base64url.
    pub cookie_hash: String,
    /// The `logout_hint`s the session answers to besides its `sub` (a login name, an email),
    /// each stored salted and hashed ([`keep_logout_hint`]): see [`Session::answers_to`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logout_hints: Vec<String>,
}

/// What the admin API shows of a session: never the cookie or its hash.
#[derive(Debug, Serialize)]
pub struct SessionView<'a> {
    pub sid: &'a str,
    pub sub: &'a str,
    pub clients: &'a [String],
    pub created_at: i64,
    pub expires_at: i64,
}

/// The most `logout_hint`s a session answers to, and the longest one.
pub const MAX_LOGOUT_HINTS: usize = 10;
pub const MAX_LOGOUT_HINT_LEN: usize = 255;

impl Session {
    /// Whether a `logout_hint` names this session's user: its `sub`, or a hint the login system
    /// gave at login (compared by hash, exactly).
    pub fn answers_to(&self, logout_hint: &str) -> bool {
        logout_hint == self.sub || self.logout_hints.iter().any(|kept| is_kept_hint(kept, logout_hint))
    }

    pub fn view(&self) -> SessionView<'_> {
        SessionView {
            sid: &self.sid,
            sub: &self.sub,
            clients: &self.clients,
            created_at: self.created_at,
            expires_at: self.expires_at,
        }
    }
}

/// The stored form of a `logout_hint`: `{salt}.{b64url(HMAC-SHA256(salt, hint))}`, with a
/// fresh random salt each time. Unsalted, one dictionary of emails hashed once would name the
/// users of every stored session; salted, it must be run again for each hint of each session.
pub fn keep_logout_hint(hint: &str) -> String {
    let salt = random_token(16);
    let tag = hint_mac(&salt, hint);
    format!("{salt}.{tag}")
}

fn hint_mac(salt: &str, hint: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(salt.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(hint.as_bytes());
    B64.encode(mac.finalize().into_bytes())
}

/// Whether `kept` (a [`keep_logout_hint`], or the unsalted SHA-256 of records written before
/// hints were salted) is `hint`'s, compared in constant time.
fn is_kept_hint(kept: &str, hint: &str) -> bool {
    let expected = match kept.split_once('.') {
        Some((salt, _)) => format!("{salt}.{}", hint_mac(salt, hint)),
        None => hash_secret(hint),
    };
    kept.len() == expected.len() && bool::from(kept.as_bytes().ct_eq(expected.as_bytes()))
}

pub fn valid_sid(sid: &str) -> bool {
    !sid.is_empty() && sid.len() <= MAX_SID_LEN && sid.bytes().all(|b| b.is_ascii_graphic() && b != b'/')
}

pub fn valid_sub(sub: &str) -> bool {
    !sub.is_empty() && sub.len() <= MAX_SUB_LEN && !sub.chars().any(char::is_control)
}

pub fn session_key(sid: &str) -> String {
    format!("session/{sid}")
}

pub fn subject_prefix(sub: &str) -> String {
    format!("subject/{}/", B64.encode(sub.as_bytes()))
}

pub fn subject_key(sub: &str, sid: &str) -> String {
    format!("{}{sid}", subject_prefix(sub))
}

/// The key that signs session cookies (HMAC-SHA256): a cookie then proves the `sid` it names
/// without any read, even where KV does not show that session yet (a session created near
/// another location less than a window ago), and no one can forge one for a known `sid`.
pub type CookieKey = [u8; 32];

/// A new browser cookie for the session `sid`, and the hash of its secret (the record keeps it).
/// The secret is a random part and its signature: `{random}.{mac}`.
pub fn new_cookie(key: &CookieKey, sid: &str) -> (String, String) {
    let random = random_token(32);
    let secret = format!("{random}.{}", cookie_mac(key, sid, &random));
    let hash = hash_secret(&secret);
    (format!("{}.{secret}", B64.encode(sid.as_bytes())), hash)
}

fn cookie_mac(key: &CookieKey, sid: &str, random: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(b"edge-logout session cookie v1\0");
    mac.update(sid.as_bytes());
    mac.update(b"\0");
    mac.update(random.as_bytes());
    B64.encode(&mac.finalize().into_bytes()[..16])
}

/// Whether `secret` carries this key's signature of `sid` (compared in constant time).
fn signed(key: &CookieKey, sid: &str, secret: &str) -> bool {
    let Some((random, mac)) = secret.split_once('.') else { return false };
    bool::from(cookie_mac(key, sid, random).as_bytes().ct_eq(mac.as_bytes()))
}

/// Longest cookie value read: a 128-byte `sid` in base64url, a dot, a 32-byte random part, a
/// dot, a 16-byte signature.
const MAX_COOKIE_LEN: usize = 240;

/// The `sid` a cookie names and its secret, if it has the shape [`new_cookie`] gives.
fn split_cookie(cookie: &str) -> Option<(String, &str)> {
    if cookie.len() > MAX_COOKIE_LEN {
        return None;
    }
    let (sid, secret) = cookie.split_once('.')?;
    let sid = String::from_utf8(B64.decode(sid).ok()?).ok()?;
    (valid_sid(&sid) && !secret.is_empty()).then_some((sid, secret))
}

/// How long a session's keys (record, subject index, `member/` keys) stay in KV after its logical
/// expiry: long enough for the cron to end it as a logout (`protocol::expiry` does so from KV's
/// window after the expiry, at a tick every 5 minutes, and catches up after days of failing
/// ticks), and short enough that a lost one costs little storage. Were every tick to fail
/// for this long, the session would go silently, as every session did before expiry was a logout.
pub const KEPT_AFTER_EXPIRY_S: i64 = 7 * 24 * 3600;

/// The KV expiration of a session's keys: later than its logical one (see [`KEPT_AFTER_EXPIRY_S`]).
pub fn kv_expires_at(expires_at: i64) -> i64 {
    expires_at + KEPT_AFTER_EXPIRY_S
}

/// Reads a session by `sid`; an unreadable record, or one past its expiry, counts as absent.
pub async fn load(store: &impl Store, sid: &str, now: i64) -> Result<Option<Session>, StoreError> {
    if !valid_sid(sid) {
        return Ok(None);
    }
    let raw = store.get(Ns::Sessions, &session_key(sid)).await?;
    Ok(raw.and_then(|r| serde_json::from_str::<Session>(&r).ok()).filter(|s| s.expires_at > now))
}

/// What a browser's session cookie shows, as this location sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieSession {
    /// No cookie of ours, a forged or foreign one, or its session has ended or expired.
    None,
    /// The live session the cookie belongs to.
    Live(Session),
    /// A cookie this key signed, for a session this location does not see (yet): the browser's
    /// session all the same.
    Unseen(String),
}

/// The session a browser's cookie value belongs to: its record when it is seen (the cookie's
/// secret matches the record's hash, or the cookie is signed: a session created twice where
/// the first was not yet seen keeps both cookies), or else only the `sid` a signed cookie
/// proves (one bulk read).
pub async fn by_cookie(
    store: &impl Store,
    key: &CookieKey,
    cookie: &str,
    now: i64,
) -> Result<CookieSession, StoreError> {
    let Some((sid, secret)) = split_cookie(cookie) else {
        return Ok(CookieSession::None);
    };
    let signed = signed(key, &sid, secret);
    let hash = hash_secret(secret);
    Ok(match lookup(store, &sid, now).await? {
        Lookup::Live(s) if signed || bool::from(s.cookie_hash.as_bytes().ct_eq(hash.as_bytes())) => {
            CookieSession::Live(s)
        }
        Lookup::Unknown if signed => CookieSession::Unseen(sid),
        Lookup::Live(_) | Lookup::Unknown | Lookup::Ended => CookieSession::None,
    })
}

/// The session a browser's cookie value belongs to, if this location sees it.
pub async fn load_by_cookie(
    store: &impl Store,
    key: &CookieKey,
    cookie: &str,
    now: i64,
) -> Result<Option<Session>, StoreError> {
    Ok(match by_cookie(store, key, cookie, now).await? {
        CookieSession::Live(s) => Some(s),
        CookieSession::Unseen(_) | CookieSession::None => None,
    })
}

/// The most values of the session cookie tried (each costs a read): a browser holds one, two
/// when a sibling subdomain planted another.
pub const MAX_COOKIE_VALUES: usize = 3;

/// What a browser's session cookies name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowserSession {
    None,
    One(Session),
    /// A session that a signed cookie proves but this location does not see (yet).
    Unseen(String),
    /// Several sessions, none of them the one asked about: which one this browser's user
    /// holds cannot be told (one may have been planted by a sibling subdomain).
    Ambiguous,
}

/// The session of a browser that sent `values` for the session cookie: each is tried (at most
/// [`MAX_COOKIE_VALUES`]), so that a planted or stale value sent first does not hide the real
/// one. Several sessions (seen, or proven by a signed cookie): the one whose `sid` is `prefer`
/// (the hint's, or the one a confirmation was shown for), if any, else
/// [`BrowserSession::Ambiguous`].
pub async fn load_by_cookies(
    store: &impl Store,
    key: &CookieKey,
    values: &[&str],
    prefer: Option<&str>,
    now: i64,
) -> Result<BrowserSession, StoreError> {
    let mut found: Vec<BrowserSession> = Vec::new();
    let sid_of = |b: &BrowserSession| match b {
        BrowserSession::One(s) => Some(s.sid.clone()),
        BrowserSession::Unseen(sid) => Some(sid.clone()),
        BrowserSession::None | BrowserSession::Ambiguous => None,
    };
    for value in values.iter().take(MAX_COOKIE_VALUES) {
        let this = match by_cookie(store, key, value, now).await? {
            CookieSession::Live(s) => BrowserSession::One(s),
            CookieSession::Unseen(sid) => BrowserSession::Unseen(sid),
            CookieSession::None => continue,
        };
        if !found.iter().any(|f| sid_of(f) == sid_of(&this)) {
            found.push(this);
        }
    }
    Ok(match found.len() {
        0 => BrowserSession::None,
        1 => found.remove(0),
        _ => match found.into_iter().find(|f| prefer.is_some() && sid_of(f).as_deref() == prefer) {
            Some(f) => f,
            None => BrowserSession::Ambiguous,
        },
    })
}

/// Writes a session record, and with `new` its subject index entry, both expiring with it.
pub async fn save(store: &impl Store, session: &Session, new: bool) -> Result<(), StoreError> {
    put_record(store, session).await?;
    if new {
        put_index(store, session).await?;
    }
    Ok(())
}

/// The record, with its logical expiry as listing metadata (what the cron lists: see
/// [`expiring_page`]).
async fn put_record(store: &impl Store, session: &Session) -> Result<(), StoreError> {
    let record = serde_json::to_string(session).expect("a session serialises");
    let meta = serde_json::json!({ "exp": session.expires_at });
    let key = session_key(&session.sid);
    store.put(Ns::Sessions, &key, &record, Some(kv_expires_at(session.expires_at)), Some(meta)).await
}

async fn put_index(store: &impl Store, session: &Session) -> Result<(), StoreError> {
    let meta = serde_json::json!({ "exp": session.expires_at });
    let key = subject_key(&session.sub, &session.sid);
    store.put(Ns::Sessions, &key, "", Some(kv_expires_at(session.expires_at)), Some(meta)).await
}

/// One page (at most [`EXPIRING_PAGE`]) of session records as the listing shows them: each
/// `sid` with the expiry its metadata names (`None` for a record written before records carried
/// it: such a record goes silently at its KV expiration, as before), and where the next page
/// starts. One KV list; a list lags behind writes as reads do.
pub async fn expiring_page(
    store: &impl Store,
    cursor: Option<String>,
) -> Result<(Vec<(String, Option<i64>)>, Option<String>), StoreError> {
    let prefix = session_key("");
    let page = store.list(Ns::Sessions, &prefix, cursor, EXPIRING_PAGE).await?;
    let listed = page
        .keys
        .into_iter()
        .map(|l| {
            let exp = l.metadata.as_ref().and_then(|m| m.get("exp")).and_then(serde_json::Value::as_i64);
            (l.key[prefix.len()..].to_string(), exp)
        })
        .collect();
    Ok((listed, page.cursor))
}

/// Records one listing page holds (KV's most).
pub const EXPIRING_PAGE: u32 = 1000;

/// What the cron reads of a session it found expired: its record as stored (even past its
/// expiry) and whether its tombstone is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub sid: String,
    pub record: Option<Session>,
    pub ended: bool,
}

/// The records and tombstones of `sids`, in one bulk read per 50 sessions.
pub async fn stored(store: &impl Store, sids: &[String]) -> Result<Vec<Stored>, StoreError> {
    let keys: Vec<String> = sids.iter().flat_map(|sid| [session_key(sid), tombstone_key(sid)]).collect();
    let found = store.get_many(Ns::Sessions, &keys).await?;
    Ok(sids
        .iter()
        .zip(found.chunks(2))
        .map(|(sid, pair)| Stored {
            sid: sid.clone(),
            record: pair[0].as_deref().and_then(|r| serde_json::from_str::<Session>(r).ok()).filter(|s| s.sid == *sid),
            ended: pair[1].is_some(),
        })
        .collect())
}

/// Deletes a session and its index entry ([`crate::budget::DELETES_PER_SESSION`] deletes). The record goes first: it is what makes the session
/// exist (the index is only trusted when the record is there), so a logout cut short after it
/// is complete, and one cut short before it leaves the session whole, to be ended again. An
/// index entry left behind expires with the session.
/// Deletes the records of `ended` (`(sid, sub)`: each session and its subject index) at once,
/// each on its own (one crossing in the worker); how many of those deletes failed.
pub async fn delete_all(store: &impl Store, ended: &[(&str, &str)]) -> usize {
    let keys: Vec<String> = ended.iter().flat_map(|(sid, sub)| [session_key(sid), subject_key(sub, sid)]).collect();
    let each: Vec<(Ns, &str)> = keys.iter().map(|k| (Ns::Sessions, k.as_str())).collect();
    store.delete_each(&each).await.iter().filter(|r| r.is_err()).count()
}

pub async fn delete(store: &impl Store, sid: &str, sub: &str) -> Result<(), StoreError> {
    store.delete(Ns::Sessions, &session_key(sid)).await?;
    store.delete(Ns::Sessions, &subject_key(sub, sid)).await
}

/// The `sid`s of a subject's sessions, from the subject index (at most `limit`).
pub async fn sids_of_subject(store: &impl Store, sub: &str, limit: usize) -> Result<Vec<String>, StoreError> {
    let prefix = subject_prefix(sub);
    let mut sids = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list(Ns::Sessions, &prefix, cursor, 1000).await?;
        sids.extend(page.keys.into_iter().map(|l| l.key[prefix.len()..].to_string()));
        if sids.len() >= limit || page.cursor.is_none() {
            sids.truncate(limit);
            return Ok(sids);
        }
        cursor = page.cursor;
    }
}

/// A page of at most `n` live sessions of `sub`, from `cursor`, read in bulk, and where the
/// next page starts (`None` when this was the last).
pub async fn page_of_subject(
    store: &impl Store,
    sub: &str,
    n: usize,
    cursor: Option<String>,
    now: i64,
) -> Result<(Vec<Session>, Option<String>), StoreError> {
    let prefix = subject_prefix(sub);
    let page = store.list(Ns::Sessions, &prefix, cursor, n as u32).await?;
    let keys: Vec<String> = page.keys.iter().map(|l| session_key(&l.key[prefix.len()..])).collect();
    Ok((live_of(store, sub, &keys, now).await?, page.cursor))
}

async fn live_of(store: &impl Store, sub: &str, keys: &[String], now: i64) -> Result<Vec<Session>, StoreError> {
    let records = store.get_many(Ns::Sessions, keys).await?;
    Ok(records
        .into_iter()
        .flatten()
        .filter_map(|r| serde_json::from_str::<Session>(&r).ok())
        .filter(|s| s.sub == sub && s.expires_at > now)
        .collect())
}

/// The live sessions of `sub` (at most `limit`), read in bulk. The index can briefly outlive a
/// session (KV is eventually consistent): such entries are skipped.
pub async fn of_subject(store: &impl Store, sub: &str, limit: usize, now: i64) -> Result<Vec<Session>, StoreError> {
    let keys: Vec<String> = sids_of_subject(store, sub, limit).await?.iter().map(|sid| session_key(sid)).collect();
    live_of(store, sub, &keys, now).await
}

/// How long a tombstone refuses its `sid`: the longest a session may live (so that no session
/// of that `sid` can still be in use anywhere), which is far beyond KV's propagation window.
pub const TOMBSTONE_TTL_S: i64 = 366 * 24 * 3600;

fn member_prefix(sid: &str) -> String {
    format!("member/{sid}/")
}

fn tombstone_key(sid: &str) -> String {
    format!("ended/{sid}")
}

/// Records that `client_id` got an ID token in `session`: one key of its own, kept as long as
/// the record (past the logical expiry, so that the expiry's logout tells this client too).
pub async fn add_member(store: &impl Store, session: &Session, client_id: &str) -> Result<(), StoreError> {
    let key = format!("{}{client_id}", member_prefix(&session.sid));
    store.put(Ns::Sessions, &key, "", Some(kv_expires_at(session.expires_at)), None).await
}

/// The clients recorded in the session `sid` after its creation, each once, in key order.
pub async fn members(store: &impl Store, sid: &str) -> Result<Vec<String>, StoreError> {
    let prefix = member_prefix(sid);
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store.list(Ns::Sessions, &prefix, cursor, 1000).await?;
        out.extend(page.keys.into_iter().map(|l| l.key[prefix.len()..].to_string()));
        if page.cursor.is_none() {
            return Ok(out);
        }
        cursor = page.cursor;
    }
}

/// `session` with every client recorded since its creation added (one listing).
pub async fn with_members(store: &impl Store, session: Session) -> Result<Session, StoreError> {
    let recorded = members(store, &session.sid).await?;
    Ok(with_recorded(session, recorded))
}

/// `session` with the clients `recorded` since its creation added, each once.
fn with_recorded(mut session: Session, recorded: Vec<String>) -> Session {
    for id in recorded {
        if !session.clients.contains(&id) {
            session.clients.push(id);
        }
    }
    session
}

/// Sets the expiry of a live session (sliding sessions) and returns it with every client: its
/// record, its subject index entry and its recorded clients' `member/` keys (one listing) are
/// written again, expiring at `expires_at` (2 + m writes for m recorded clients, one list).
/// Written so that no key the session needs ever expires before its record, were the writes cut
/// short: when extending, the index and members first and the record last; when shortening, the
/// record first.
pub async fn set_expiry(store: &impl Store, session: Session, expires_at: i64) -> Result<Session, StoreError> {
    let extending = expires_at > session.expires_at;
    let recorded = members(store, &session.sid).await?;
    let session = Session { expires_at, ..session };
    if !extending {
        put_record(store, &session).await?;
    }
    put_index(store, &session).await?;
    for id in &recorded {
        add_member(store, &session, id).await?;
    }
    if extending {
        put_record(store, &session).await?;
    }
    Ok(with_recorded(session, recorded))
}

/// Leaves the tombstone of an ended session (its user, when known).
pub async fn bury(store: &impl Store, sid: &str, sub: Option<&str>, now: i64) -> Result<(), StoreError> {
    let value = serde_json::json!({ "sub": sub, "ended_at": now }).to_string();
    store.put(Ns::Sessions, &tombstone_key(sid), &value, Some(now + TOMBSTONE_TTL_S), None).await
}

/// What is known of a `sid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Live(Session),
    /// Its tombstone is visible, or its record is past its expiry (the cron ends it as a
    /// logout, tombstone included): it ended, and stays ended.
    Ended,
    Unknown,
}

/// A session by `sid` and whether it has ended, in one bulk read (its record and its
/// tombstone): a record still visible beside its tombstone is ended, and so is one past its
/// expiry (not yet ended by the cron: it may not be created or joined again meanwhile).
pub async fn lookup(store: &impl Store, sid: &str, now: i64) -> Result<Lookup, StoreError> {
    if !valid_sid(sid) {
        return Ok(Lookup::Unknown);
    }
    let found = store.get_many(Ns::Sessions, &[session_key(sid), tombstone_key(sid)]).await?;
    let (record, tombstone) = (&found[0], &found[1]);
    if tombstone.is_some() {
        return Ok(Lookup::Ended);
    }
    Ok(match record.as_deref().and_then(|r| serde_json::from_str::<Session>(r).ok()) {
        Some(s) if s.expires_at > now => Lookup::Live(s),
        Some(_) => Lookup::Ended,
        None => Lookup::Unknown,
    })
}

/// A live session by `sid`: `None` when unknown, expired or ended (one bulk read).
pub async fn load_live(store: &impl Store, sid: &str, now: i64) -> Result<Option<Session>, StoreError> {
    Ok(match lookup(store, sid, now).await? {
        Lookup::Live(s) => Some(s),
        Lookup::Ended | Lookup::Unknown => None,
    })
}

/// Which of `sids` have ended, in one bulk read.
pub async fn ended_among(store: &impl Store, sids: &[&str]) -> Result<Vec<bool>, StoreError> {
    let keys: Vec<String> = sids.iter().map(|sid| tombstone_key(sid)).collect();
    Ok(store.get_many(Ns::Sessions, &keys).await?.into_iter().map(|v| v.is_some()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;
    use futures::executor::block_on;

    const KEY: CookieKey = [7; 32];

    fn session(sid: &str, sub: &str) -> (Session, String) {
        let (cookie, cookie_hash) = new_cookie(&KEY, sid);
        let s = Session {
            sid: sid.into(),
            sub: sub.into(),
            clients: vec!["rp1".into()],
            created_at: 1000,
            expires_at: 5000,
            cookie_hash,
            logout_hints: Vec::new(),
        };
        (s, cookie)
    }

    #[test]
    fn subject_prefixes_do_not_overlap() {
        assert!(!subject_key("alice2", "s").starts_with(&subject_prefix("alice")));
        assert!(!subject_key("a/b", "s").starts_with(&subject_prefix("a")));
    }

    #[test]
    fn save_find_and_delete() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let (s, cookie) = session("sid-1", "alice");
            save(&store, &s, true).await.unwrap();
            let (other, _) = session("sid-2", "alice");
            save(&store, &other, true).await.unwrap();
            assert_eq!(load(&store, "sid-1", 1000).await.unwrap(), Some(s.clone()));
            assert_eq!(load_by_cookie(&store, &KEY, &cookie, 1000).await.unwrap(), Some(s.clone()));
            assert_eq!(load_by_cookie(&store, &KEY, "sid-1", 1000).await.unwrap(), None);
            // The sid is public: without the secret, or with another session's, nothing.
            let (sid_part, secret) = cookie.split_once('.').unwrap();
            assert_eq!(load_by_cookie(&store, &KEY, sid_part, 1000).await.unwrap(), None);
            assert_eq!(load_by_cookie(&store, &KEY, &format!("{sid_part}."), 1000).await.unwrap(), None);
            assert_eq!(load_by_cookie(&store, &KEY, &format!("{sid_part}.{secret}x"), 1000).await.unwrap(), None);
            let (other_cookie, _) = new_cookie(&KEY, "sid-2");
            let other_secret = other_cookie.split_once('.').unwrap().1;
            assert_eq!(load_by_cookie(&store, &KEY, &format!("{sid_part}.{other_secret}"), 1000).await.unwrap(), None);
            assert_eq!(sids_of_subject(&store, "alice", 10).await.unwrap(), ["sid-1", "sid-2"]);
            assert_eq!(sids_of_subject(&store, "alice", 1).await.unwrap(), ["sid-1"]);
            let live: Vec<String> =
                of_subject(&store, "alice", 10, 1000).await.unwrap().into_iter().map(|s| s.sid).collect();
            assert_eq!(live, ["sid-1", "sid-2"]);
            delete(&store, &s.sid, &s.sub).await.unwrap();
            assert_eq!(load(&store, "sid-1", 1000).await.unwrap(), None);
            assert_eq!(load_by_cookie(&store, &KEY, &cookie, 1000).await.unwrap(), None);
            assert_eq!(sids_of_subject(&store, "alice", 10).await.unwrap(), ["sid-2"]);
        });
    }

    #[test]
    fn a_signed_cookie_proves_its_session_where_the_record_is_not_seen_and_a_forged_one_proves_nothing() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let (cookie, _) = new_cookie(&KEY, "sid-new");
            assert_eq!(by_cookie(&store, &KEY, &cookie, 1000).await.unwrap(), CookieSession::Unseen("sid-new".into()));
            // Another key's, or the signature cut or changed: nothing.
            assert_eq!(by_cookie(&store, &[8; 32], &cookie, 1000).await.unwrap(), CookieSession::None);
            let (sid_part, secret) = cookie.split_once('.').unwrap();
            let (random, _) = secret.split_once('.').unwrap();
            for forged in [format!("{sid_part}.{random}"), format!("{sid_part}.{random}.AAAAAAAAAAAAAAAAAAAAAA")] {
                assert_eq!(by_cookie(&store, &KEY, &forged, 1000).await.unwrap(), CookieSession::None, "{forged}");
            }
            // Seen, the record decides; a session created twice (the first unseen) keeps both
            // cookies, as each is signed.
            let (s, first) = session("sid-new", "alice");
            save(&store, &s, true).await.unwrap();
            assert_eq!(by_cookie(&store, &KEY, &first, 1000).await.unwrap(), CookieSession::Live(s.clone()));
            assert_eq!(by_cookie(&store, &KEY, &cookie, 1000).await.unwrap(), CookieSession::Live(s.clone()));
            // Ended: nothing, whatever the cookie.
            bury(&store, "sid-new", Some("alice"), 1000).await.unwrap();
            assert_eq!(by_cookie(&store, &KEY, &cookie, 1000).await.unwrap(), CookieSession::None);
        });
    }

    #[test]
    fn cookies_name_their_session_and_hide_their_secret() {
        let (cookie, hash) = new_cookie(&KEY, "a.b~c");
        let (sid, secret) = split_cookie(&cookie).unwrap();
        assert_eq!(sid, "a.b~c");
        assert_eq!(hash_secret(secret), hash);
        assert!(!cookie.contains(&hash));
        // Only cookie-safe characters (RFC 6265 cookie-octet), whatever the sid holds.
        let (odd, _) = new_cookie(&KEY, "x\"y;z,w");
        assert!(odd.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)));
        for bad in ["", ".", "c2lkLTE", "c2lkLTE.", "!!.secret", "Lw.secret", &"a".repeat(300)] {
            assert_eq!(split_cookie(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn expired_sessions_are_gone() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let (s, _) = session("sid-1", "alice");
            save(&store, &s, true).await.unwrap();
            assert_eq!(load(&store, "sid-1", 5000).await.unwrap(), None);
        });
    }

    #[test]
    fn a_session_past_its_expiry_reads_as_ended_everywhere_while_kv_keeps_its_record_for_the_cron() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let (s, cookie) = session("sid-1", "alice");
            save(&store, &s, true).await.unwrap();
            add_member(&store, &s, "rp2").await.unwrap();
            // Live until its expiry.
            assert_eq!(lookup(&store, "sid-1", 4999).await.unwrap(), Lookup::Live(s.clone()));
            store.now.set(5000);
            // KV still has the record, its clients and its index (the cron reads them)...
            let kept = stored(&store, &["sid-1".into()]).await.unwrap().remove(0);
            assert_eq!((kept.record, kept.ended), (Some(s.clone()), false));
            assert_eq!(members(&store, "sid-1").await.unwrap(), ["rp2"]);
            assert_eq!(sids_of_subject(&store, "alice", 10).await.unwrap(), ["sid-1"]);
            let (listed, _) = expiring_page(&store, None).await.unwrap();
            assert_eq!(listed, [("sid-1".to_string(), Some(5000))]);
            // ...and every read takes it as ended.
            assert_eq!(lookup(&store, "sid-1", 5000).await.unwrap(), Lookup::Ended);
            assert_eq!(load(&store, "sid-1", 5000).await.unwrap(), None);
            assert_eq!(load_live(&store, "sid-1", 5000).await.unwrap(), None);
            assert_eq!(by_cookie(&store, &KEY, &cookie, 5000).await.unwrap(), CookieSession::None);
            assert!(of_subject(&store, "alice", 10, 5000).await.unwrap().is_empty());
            // Until KV lets it go, well after the cron's lateness.
            store.now.set(kv_expires_at(5000));
            assert_eq!(stored(&store, &["sid-1".into()]).await.unwrap()[0].record, None);
        });
    }

    #[test]
    fn a_session_answers_to_its_sub_and_its_hints_only() {
        let (mut s, _) = session("sid-1", "alice");
        s.logout_hints = vec![hash_secret("alice@example.com")];
        assert!(s.answers_to("alice") && s.answers_to("alice@example.com"));
        for other in ["bob", "ALICE@example.com", "alice@example.com ", "", "alice2"] {
            assert!(!s.answers_to(other), "{other:?}");
        }
        let stored = serde_json::to_string(&s).unwrap();
        assert!(!stored.contains("alice@example.com"), "only the hash is stored");
    }

    #[test]
    fn logout_hints_are_kept_salted_so_one_dictionary_does_not_fit_every_session() {
        let (mut s, _) = session("sid-1", "alice");
        let (a, b) = (keep_logout_hint("alice@example.com"), keep_logout_hint("alice@example.com"));
        assert_ne!(a, b, "the same hint is kept differently each time");
        s.logout_hints = vec![a.clone(), b];
        let stored = serde_json::to_string(&s).unwrap();
        assert!(!stored.contains(&hash_secret("alice@example.com")), "its plain SHA-256 is nowhere: {stored}");
        assert!(s.answers_to("alice@example.com"));
        for other in ["bob@example.com", "ALICE@example.com", "", "alice@example.co"] {
            assert!(!s.answers_to(other), "{other:?}");
        }
        // A tampered tag or salt answers to nothing.
        let (salt, tag) = a.split_once('.').unwrap();
        s.logout_hints = vec![format!("{salt}.{}", &tag[1..]), format!("x{salt}.{tag}")];
        assert!(!s.answers_to("alice@example.com"));
    }
}

//! Sessions of the provider, and how they are laid out in the `SESSIONS` namespace.
//!
//! Key layout (one key per item, so no key is written more than once a second per session and
//! no per-user key is hot):
//! - `session/{sid}` → the [`Session`] record, expiring with the session;
//! - `subject/{b64url(sub)}/{sid}` → `""` with `{"exp": ...}` metadata: lists a subject's
//!   sessions by prefix;
//! - `browser/{sha256(cookie)}` → the `sid` the browser cookie belongs to. The cookie value is a
//!   random secret that is stored only hashed, so knowing a `sid` (every relying party sees it)
//!   does not let anyone act as the browser.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Ns, Store, StoreError};

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
    /// SHA-256 of the browser cookie, base64url.
    pub cookie_hash: String,
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

impl Session {
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

/// `n` random bytes from the platform's CSPRNG, base64url.
pub fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    getrandom::getrandom(&mut bytes).expect("the platform has a CSPRNG");
    B64.encode(bytes)
}

pub fn hash_secret(secret: &str) -> String {
    B64.encode(Sha256::digest(secret.as_bytes()))
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

pub fn browser_key(cookie_hash: &str) -> String {
    format!("browser/{cookie_hash}")
}

/// Reads a session by `sid`; an unreadable record counts as absent.
pub async fn load(store: &impl Store, sid: &str, now: i64) -> Result<Option<Session>, StoreError> {
    if !valid_sid(sid) {
        return Ok(None);
    }
    let raw = store.get(Ns::Sessions, &session_key(sid)).await?;
    Ok(raw.and_then(|r| serde_json::from_str::<Session>(&r).ok()).filter(|s| s.expires_at > now))
}

/// The session a browser's cookie value belongs to, if any.
pub async fn load_by_cookie(store: &impl Store, cookie: &str, now: i64) -> Result<Option<Session>, StoreError> {
    if cookie.is_empty() || cookie.len() > 200 {
        return Ok(None);
    }
    let hash = hash_secret(cookie);
    let Some(sid) = store.get(Ns::Sessions, &browser_key(&hash)).await? else {
        return Ok(None);
    };
    // The record's own hash is checked too, so a stale index entry never grants a session.
    Ok(load(store, &sid, now).await?.filter(|s| s.cookie_hash == hash))
}

/// Writes a session with its subject index and browser index, all expiring with it.
pub async fn save(store: &impl Store, session: &Session, write_indexes: bool) -> Result<(), StoreError> {
    let exp = Some(session.expires_at);
    let record = serde_json::to_string(session).expect("a session serialises");
    store.put(Ns::Sessions, &session_key(&session.sid), &record, exp, None).await?;
    if write_indexes {
        let meta = serde_json::json!({ "exp": session.expires_at });
        store.put(Ns::Sessions, &subject_key(&session.sub, &session.sid), "", exp, Some(meta)).await?;
        store.put(Ns::Sessions, &browser_key(&session.cookie_hash), &session.sid, exp, None).await?;
    }
    Ok(())
}

/// Deletes a session and its indexes. The record goes first: it is what makes the session
/// exist (the indexes are only trusted when the record is there), so a logout cut short after
/// it is complete, and one cut short before it leaves the session whole, to be ended again.
/// Index entries left behind expire with the session.
pub async fn delete(store: &impl Store, session: &Session) -> Result<(), StoreError> {
    store.delete(Ns::Sessions, &session_key(&session.sid)).await?;
    store.delete(Ns::Sessions, &browser_key(&session.cookie_hash)).await?;
    store.delete(Ns::Sessions, &subject_key(&session.sub, &session.sid)).await
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

/// The live sessions of `sub` (at most `limit`), read in bulk. The index can briefly outlive a
/// session (KV is eventually consistent): such entries are skipped.
pub async fn of_subject(store: &impl Store, sub: &str, limit: usize, now: i64) -> Result<Vec<Session>, StoreError> {
    let keys: Vec<String> = sids_of_subject(store, sub, limit).await?.iter().map(|sid| session_key(sid)).collect();
    let records = store.get_many(Ns::Sessions, &keys).await?;
    Ok(records
        .into_iter()
        .flatten()
        .filter_map(|r| serde_json::from_str::<Session>(&r).ok())
        .filter(|s| s.sub == sub && s.expires_at > now)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use futures::executor::block_on;

    fn session(sid: &str, sub: &str) -> (Session, String) {
        let cookie = random_token(32);
        let s = Session {
            sid: sid.into(),
            sub: sub.into(),
            clients: vec!["rp1".into()],
            created_at: 1000,
            expires_at: 5000,
            cookie_hash: hash_secret(&cookie),
        };
        (s, cookie)
    }

    #[test]
    fn random_tokens_are_unique_and_url_safe() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert!(a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
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
            assert_eq!(load_by_cookie(&store, &cookie, 1000).await.unwrap(), Some(s.clone()));
            assert_eq!(load_by_cookie(&store, "sid-1", 1000).await.unwrap(), None);
            assert_eq!(sids_of_subject(&store, "alice", 10).await.unwrap(), ["sid-1", "sid-2"]);
            assert_eq!(sids_of_subject(&store, "alice", 1).await.unwrap(), ["sid-1"]);
            let live: Vec<String> =
                of_subject(&store, "alice", 10, 1000).await.unwrap().into_iter().map(|s| s.sid).collect();
            assert_eq!(live, ["sid-1", "sid-2"]);
            delete(&store, &s).await.unwrap();
            assert_eq!(load(&store, "sid-1", 1000).await.unwrap(), None);
            assert_eq!(load_by_cookie(&store, &cookie, 1000).await.unwrap(), None);
            assert_eq!(sids_of_subject(&store, "alice", 10).await.unwrap(), ["sid-2"]);
        });
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
}

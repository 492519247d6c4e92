//! Confirmations of RP-initiated logout as signed, stateless tokens: the token carries what the
//! user is asked to confirm ([`Pending`]) and an HMAC-SHA256 over it, so showing the page writes
//! nothing to KV (anyone can load it: it must not spend the daily write quota). Single use: a
//! "Log out" answer writes `confirm-used/{b64url(sha256(token))}` and a token whose marker exists
//! is refused. A "Stay signed in" answer ([`check`]) reads and writes nothing: it ends nothing,
//! so replaying it is harmless, and a script looping "load the page, answer no" must not spend
//! the daily write quota either. Bound to the browser by a cookie whose hash the token carries. Not a
//! `confirmed=true` flag: a forged, tampered, replayed, expired or other-browser token ends
//! nothing.

use std::collections::VecDeque;
use std::sync::Mutex;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::secrets::{hash_secret, random_token};
use super::store::{kv_expiration, Ns, Store, StoreError};

/// How long the user has to answer.
pub const CONFIRM_TTL_S: i64 = 600;

/// The longest token: what the largest [`Pending`] makes (a 2000-byte registered URI with a
/// 2 KB `state` percent-encoded, a 255-byte client id, capped `ui_locales`), base64url'd.
pub const MAX_TOKEN_BYTES: usize = 12 * 1024;

/// The key that signs and checks confirmation tokens (derived in `config`).
pub type ConfirmKey = [u8; 32];

/// What the user is asked to confirm, carried in the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Hash of the browser-binding cookie the page was served with.
    pub binding: String,
    /// The session the confirmation was shown for: the one a "yes" ends.
    pub target_sid: String,
    /// Where to go after logging out (registered URI with `state`), if anywhere.
    pub redirect: Option<String>,
    /// The client that asked, for the log.
    #[serde(default)]
    pub client_id: Option<String>,
    pub ui_locales: Option<String>,
    pub expires_at: i64,
}

/// The single-use marker of a token answered.
fn used_key(token: &str) -> String {
    format!("confirm-used/{}", hash_secret(token))
}

/// A new browser binding value, or the one the browser already has (so that two open
/// confirmation pages both stay valid).
pub fn binding_value(existing: Option<&str>) -> String {
    match existing {
        Some(v) if v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
            v.to_string()
        }
        _ => random_token(32),
    }
}

/// Bytes of the HMAC-SHA256 tag at the end of a token.
const TAG_BYTES: usize = 32;

fn mac(key: &ConfirmKey, payload: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(payload);
    mac
}

/// The token for `pending`: `b64url(json || HMAC-SHA256(key, json))`, one opaque
/// base64url string (what the form and its tests expect). Writes nothing.
pub fn issue(key: &ConfirmKey, pending: &Pending) -> String {
    let mut bytes = serde_json::to_vec(pending).expect("a pending confirmation serialises");
    let tag = mac(key, &bytes).finalize().into_bytes();
    bytes.extend_from_slice(&tag);
    B64.encode(bytes)
}

/// What a token says, when this provider issued it unchanged (the tag compared in constant
/// time); `None` for anything else.
fn open(key: &ConfirmKey, token: &str) -> Option<Pending> {
    if token.len() > MAX_TOKEN_BYTES {
        return None;
    }
    let bytes = B64.decode(token).ok()?;
    let (payload, tag) = bytes.split_at(bytes.len().checked_sub(TAG_BYTES)?);
    mac(key, payload).verify_slice(tag).ok()?;
    serde_json::from_slice(payload).ok()
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    Valid(Pending),
    /// Forged, tampered, already used or expired.
    Invalid,
    /// A live token presented by another browser: refused, and left for its own browser.
    OtherBrowser,
}

/// Tokens being redeemed or recently redeemed in this isolate. KV has no compare-and-set: two
/// answers to one confirmation arriving together would both find no marker before either
/// writes it. This closes that race within an isolate (where concurrent requests of one
/// browser land); across isolates KV's consistency is the limit (see the README).
static SPENT: Mutex<VecDeque<(String, i64)>> = Mutex::new(VecDeque::new());
const SPENT_CAPACITY: usize = 4096;

/// Reserves `key` for this request; false when another request has it or has spent it.
fn reserve(key: &str, now: i64) -> bool {
    let mut spent = SPENT.lock().unwrap_or_else(|e| e.into_inner());
    spent.retain(|(_, until)| *until > now);
    if spent.iter().any(|(k, _)| k == key) {
        return false;
    }
    if spent.len() >= SPENT_CAPACITY {
        spent.pop_front();
    }
    spent.push_back((key.to_string(), now + CONFIRM_TTL_S));
    true
}

fn release(key: &str) {
    SPENT.lock().unwrap_or_else(|e| e.into_inner()).retain(|(k, _)| k != key);
}

/// Checks the token for an answer that changes nothing ("Stay signed in"): issued here,
/// unexpired, and presented by its own browser. Touches no store: not single use, since
/// answering "no" twice is answering "no" once.
pub fn check(key: &ConfirmKey, token: &str, binding: Option<&str>, now: i64) -> Redeemed {
    let Some(pending) = open(key, token).filter(|p| p.expires_at > now) else {
        return Redeemed::Invalid;
    };
    let same_browser = binding.is_some_and(|b| bool::from(hash_secret(b).as_bytes().ct_eq(pending.binding.as_bytes())));
    if !same_browser {
        return Redeemed::OtherBrowser;
    }
    Redeemed::Valid(pending)
}

/// Checks the token for an answer that ends a session ("Log out") and, when it is valid for
/// this browser and unused, marks it used (single use). Only this answer writes to the store.
pub async fn redeem(
    store: &impl Store,
    key: &ConfirmKey,
    token: &str,
    binding: Option<&str>,
    now: i64,
) -> Result<Redeemed, StoreError> {
    let pending = match check(key, token, binding, now) {
        Redeemed::Valid(p) => p,
        refused => return Ok(refused),
    };
    let marker = used_key(token);
    if !reserve(&marker, now) {
        return Ok(Redeemed::Invalid);
    }
    let result = spend(store, &marker, pending, now).await;
    match &result {
        // Spent: stays reserved until it would have expired anyway.
        Ok(Redeemed::Valid(_)) => {}
        _ => release(&marker),
    }
    result
}

/// Refuses a token already answered (its marker exists), else writes the marker, kept as long
/// as the token lives (and KV's minimum TTL with a margin: a token answered in its last
/// minute would otherwise expire "now + 60", which KV may refuse once the write arrives).
async fn spend(store: &impl Store, marker: &str, pending: Pending, now: i64) -> Result<Redeemed, StoreError> {
    if store.get(Ns::Sessions, marker).await?.is_some() {
        return Ok(Redeemed::Invalid);
    }
    let exp = kv_expiration(pending.expires_at, now);
    store.put(Ns::Sessions, marker, "1", Some(exp), None).await?;
    Ok(Redeemed::Valid(pending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;
    use futures::executor::block_on;

    const KEY: ConfirmKey = [7; 32];

    fn pending(binding: &str, now: i64) -> Pending {
        Pending {
            binding: hash_secret(binding),
            target_sid: "s1".into(),
            redirect: None,
            client_id: None,
            ui_locales: None,
            expires_at: now + CONFIRM_TTL_S,
        }
    }

    #[test]
    fn single_use_and_bound_to_the_browser() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            assert_eq!(redeem(&store, &KEY, &token, Some("other"), 1000).await.unwrap(), Redeemed::OtherBrowser);
            assert_eq!(redeem(&store, &KEY, &token, None, 1000).await.unwrap(), Redeemed::OtherBrowser);
            assert!(matches!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
            assert_eq!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Invalid);
            assert_eq!(redeem(&store, &KEY, "forged", Some(&b), 1000).await.unwrap(), Redeemed::Invalid);
        });
    }

    #[test]
    fn expires() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let token = issue(&KEY, &pending("b", 1000));
            assert_eq!(redeem(&store, &KEY, &token, Some("b"), 1000 + CONFIRM_TTL_S).await.unwrap(), Redeemed::Invalid);
        });
    }

    #[test]
    fn issuing_writes_nothing_and_answering_writes_one_marker() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            assert!(store.snapshot().is_empty() && store.ops.get() == 0, "issuing touches no store");
            assert!(matches!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
            let keys: Vec<String> = store.snapshot().into_iter().map(|(_, k, _)| k).collect();
            assert_eq!(keys, [used_key(&token)]);
            assert!(keys[0].starts_with("confirm-used/"));
        });
    }

    #[test]
    fn the_marker_outlives_the_token_and_survives_another_isolate() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            assert!(matches!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
            // Another isolate has no SPENT entry: the marker alone refuses it.
            release(&used_key(&token));
            store.now.set(1000 + CONFIRM_TTL_S - 1);
            assert_eq!(
                redeem(&store, &KEY, &token, Some(&b), 1000 + CONFIRM_TTL_S - 1).await.unwrap(),
                Redeemed::Invalid
            );
        });
    }

    #[test]
    fn a_tampered_token_is_refused() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            for i in 0..token.len() {
                let mut bytes = token.clone().into_bytes();
                bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
                let tampered = String::from_utf8(bytes).unwrap();
                assert_eq!(
                    redeem(&store, &KEY, &tampered, Some(&b), 1000).await.unwrap(),
                    Redeemed::Invalid,
                    "byte {i}"
                );
            }
            // Signed with another key, or cut, or padded: refused too.
            let other = issue(&[8; 32], &pending(&b, 1000));
            assert_eq!(redeem(&store, &KEY, &other, Some(&b), 1000).await.unwrap(), Redeemed::Invalid);
            assert_eq!(
                redeem(&store, &KEY, &token[..token.len() - 1], Some(&b), 1000).await.unwrap(),
                Redeemed::Invalid
            );
            assert_eq!(redeem(&store, &KEY, &format!("{token}A"), Some(&b), 1000).await.unwrap(), Redeemed::Invalid);
            assert!(store.snapshot().is_empty(), "a refused token writes nothing");
            assert!(matches!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
        });
    }

    #[test]
    fn a_stay_signed_in_answer_reads_and_writes_nothing_and_is_refused_like_any_other() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            for _ in 0..3 {
                assert!(matches!(check(&KEY, &token, Some(&b), 1000), Redeemed::Valid(_)));
            }
            assert_eq!(check(&KEY, &token, Some("other"), 1000), Redeemed::OtherBrowser);
            assert_eq!(check(&KEY, &token, None, 1000), Redeemed::OtherBrowser);
            assert_eq!(check(&KEY, "forged", Some(&b), 1000), Redeemed::Invalid);
            assert_eq!(check(&KEY, &token, Some(&b), 1000 + CONFIRM_TTL_S), Redeemed::Invalid, "expired");
            assert_eq!(store.take_counts(), Default::default(), "no KV operation at all");
            // Answering "no" did not spend the token: "yes" from its browser still ends once.
            assert!(matches!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
            assert_eq!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Invalid);
        });
    }

    #[test]
    fn a_token_answered_in_its_last_minute_leaves_a_marker_kv_accepts() {
        block_on(async {
            use crate::state::store::{MIN_TTL_S, TTL_MARGIN_S};
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            let now = 1000 + CONFIRM_TTL_S - 10;
            store.now.set(now);
            assert!(matches!(redeem(&store, &KEY, &token, Some(&b), now).await.unwrap(), Redeemed::Valid(_)));
            let exp = store.expirations().into_iter().find(|(_, k, _)| k.starts_with("confirm-used/")).unwrap().2;
            assert_eq!(exp, Some(now + MIN_TTL_S + TTL_MARGIN_S), "more than KV's minute after the request began");
        });
    }

    #[test]
    fn binding_values() {
        let v = binding_value(None);
        assert_eq!(binding_value(Some(&v)), v);
        assert_ne!(binding_value(Some("short")), "short");
    }

    #[test]
    fn answered_twice_at_once_it_is_used_once() {
        block_on(async {
            let inner = MemoryStore::new(1000);
            let store = crate::testing::stores::Yielding(&inner);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            let (first, second) = futures::join!(
                redeem(&store, &KEY, &token, Some(&b), 1000),
                redeem(&store, &KEY, &token, Some(&b), 1000)
            );
            let valid = [first.unwrap(), second.unwrap()].iter().filter(|r| matches!(r, Redeemed::Valid(_))).count();
            assert_eq!(valid, 1);
        });
    }

    #[test]
    fn another_browser_does_not_block_the_right_one() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&KEY, &pending(&b, 1000));
            assert_eq!(redeem(&store, &KEY, &token, Some("intruder"), 1000).await.unwrap(), Redeemed::OtherBrowser);
            assert!(matches!(redeem(&store, &KEY, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
        });
    }
}

//! Pending confirmations of RP-initiated logout, under `confirm/{b64url(sha256(token))}`: a
//! server-issued, single-use, short-lived token, bound to the browser by a cookie, that the
//! confirmation form posts back. Not a `confirmed=true` flag: a forged, replayed, expired or
//! other-browser token ends nothing.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::secrets::{hash_secret, random_token};
use super::store::{Ns, Store, StoreError, MIN_TTL_S};

/// How long the user has to answer.
pub const CONFIRM_TTL_S: i64 = 600;

/// What the user is asked to confirm, kept server-side under the token's hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Hash of the browser-binding cookie the page was served with.
    pub binding: String,
    /// The session to end when the browser presents none at confirmation time.
    pub target_sid: String,
    /// Where to go after logging out (registered URI with `state`), if anywhere.
    pub redirect: Option<String>,
    /// The client that asked, for the log.
    #[serde(default)]
    pub client_id: Option<String>,
    pub ui_locales: Option<String>,
    pub expires_at: i64,
}

fn key(token: &str) -> String {
    format!("confirm/{}", hash_secret(token))
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

/// Stores `pending` and returns the token for the form.
pub async fn issue(store: &impl Store, pending: &Pending, now: i64) -> Result<String, StoreError> {
    let token = random_token(32);
    let record = serde_json::to_string(pending).expect("a pending confirmation serialises");
    // KV needs at least MIN_TTL_S of life; the record's own expires_at is what counts.
    let exp = pending.expires_at.max(now + MIN_TTL_S);
    store.put(Ns::Sessions, &key(&token), &record, Some(exp), None).await?;
    Ok(token)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    Valid(Pending),
    /// Unknown, already used or expired.
    Invalid,
    /// A live token presented by another browser: refused, and left for its own browser.
    OtherBrowser,
}

/// Tokens being redeemed or recently redeemed in this isolate. KV has no compare-and-delete:
/// two answers to one confirmation arriving together would both read the token before either
/// deletes it. This closes that race within an isolate (where concurrent requests of one
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

/// Looks the token up and, when it is valid for this browser, consumes it (single use).
pub async fn redeem(store: &impl Store, token: &str, binding: Option<&str>, now: i64) -> Result<Redeemed, StoreError> {
    if token.len() > 100 {
        return Ok(Redeemed::Invalid);
    }
    let key = key(token);
    if !reserve(&key, now) {
        return Ok(Redeemed::Invalid);
    }
    let result = lookup(store, &key, binding, now).await;
    match &result {
        // Consumed: stays reserved until it would have expired anyway.
        Ok(Redeemed::Valid(_)) => {}
        _ => release(&key),
    }
    result
}

async fn lookup(store: &impl Store, key: &str, binding: Option<&str>, now: i64) -> Result<Redeemed, StoreError> {
    let Some(raw) = store.get(Ns::Sessions, key).await? else {
        return Ok(Redeemed::Invalid);
    };
    let Ok(pending) = serde_json::from_str::<Pending>(&raw) else {
        return Ok(Redeemed::Invalid);
    };
    if pending.expires_at <= now {
        return Ok(Redeemed::Invalid);
    }
    let same_browser = binding.is_some_and(|b| {
        use subtle::ConstantTimeEq;
        bool::from(hash_secret(b).as_bytes().ct_eq(pending.binding.as_bytes()))
    });
    if !same_browser {
        return Ok(Redeemed::OtherBrowser);
    }
    store.delete(Ns::Sessions, key).await?;
    Ok(Redeemed::Valid(pending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::memory::MemoryStore;
    use futures::executor::block_on;

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
            let token = issue(&store, &pending(&b, 1000), 1000).await.unwrap();
            assert_eq!(redeem(&store, &token, Some("other"), 1000).await.unwrap(), Redeemed::OtherBrowser);
            assert_eq!(redeem(&store, &token, None, 1000).await.unwrap(), Redeemed::OtherBrowser);
            assert!(matches!(redeem(&store, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
            assert_eq!(redeem(&store, &token, Some(&b), 1000).await.unwrap(), Redeemed::Invalid);
            assert_eq!(redeem(&store, "forged", Some(&b), 1000).await.unwrap(), Redeemed::Invalid);
        });
    }

    #[test]
    fn expires() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let token = issue(&store, &pending("b", 1000), 1000).await.unwrap();
            assert_eq!(redeem(&store, &token, Some("b"), 1000 + CONFIRM_TTL_S).await.unwrap(), Redeemed::Invalid);
        });
    }

    #[test]
    fn binding_values() {
        let v = binding_value(None);
        assert_eq!(binding_value(Some(&v)), v);
        assert_ne!(binding_value(Some("short")), "short");
    }

    /// A store whose reads wait a turn, as KV's do, so that concurrent requests interleave.
    struct Yielding(MemoryStore);

    async fn yield_once() {
        let mut yielded = false;
        std::future::poll_fn(|cx| {
            if yielded {
                std::task::Poll::Ready(())
            } else {
                yielded = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    impl Store for Yielding {
        async fn get(&self, ns: Ns, key: &str) -> Result<Option<String>, StoreError> {
            yield_once().await;
            self.0.get(ns, key).await
        }
        async fn put(
            &self,
            ns: Ns,
            key: &str,
            value: &str,
            exp: Option<i64>,
            meta: Option<serde_json::Value>,
        ) -> Result<(), StoreError> {
            self.0.put(ns, key, value, exp, meta).await
        }
        async fn delete(&self, ns: Ns, key: &str) -> Result<(), StoreError> {
            yield_once().await;
            self.0.delete(ns, key).await
        }
        async fn list(
            &self,
            ns: Ns,
            prefix: &str,
            cursor: Option<String>,
            limit: u32,
        ) -> Result<crate::state::store::ListPage, StoreError> {
            self.0.list(ns, prefix, cursor, limit).await
        }
        fn subrequests(&self) -> usize {
            self.0.subrequests()
        }
    }

    #[test]
    fn answered_twice_at_once_it_is_used_once() {
        block_on(async {
            let store = Yielding(MemoryStore::new(1000));
            let b = binding_value(None);
            let token = issue(&store, &pending(&b, 1000), 1000).await.unwrap();
            let (first, second) =
                futures::join!(redeem(&store, &token, Some(&b), 1000), redeem(&store, &token, Some(&b), 1000));
            let valid = [first.unwrap(), second.unwrap()].iter().filter(|r| matches!(r, Redeemed::Valid(_))).count();
            assert_eq!(valid, 1);
        });
    }

    #[test]
    fn another_browser_does_not_block_the_right_one() {
        block_on(async {
            let store = MemoryStore::new(1000);
            let b = binding_value(None);
            let token = issue(&store, &pending(&b, 1000), 1000).await.unwrap();
            assert_eq!(redeem(&store, &token, Some("intruder"), 1000).await.unwrap(), Redeemed::OtherBrowser);
            assert!(matches!(redeem(&store, &token, Some(&b), 1000).await.unwrap(), Redeemed::Valid(_)));
        });
    }
}

//! The confirmation step: a server-issued, single-use, short-lived token, bound to the browser
//! by a cookie, that the confirmation form posts back. Not a `confirmed=true` flag: a forged,
//! replayed, expired or other-browser token ends nothing.

use serde::{Deserialize, Serialize};

use crate::sessions::{hash_secret, random_token};
use crate::store::{Ns, Store, StoreError, MIN_TTL_S};

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

/// Looks the token up and, when it is valid for this browser, consumes it (single use).
pub async fn redeem(store: &impl Store, token: &str, binding: Option<&str>, now: i64) -> Result<Redeemed, StoreError> {
    if token.len() > 100 {
        return Ok(Redeemed::Invalid);
    }
    let Some(raw) = store.get(Ns::Sessions, &key(token)).await? else {
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
    store.delete(Ns::Sessions, &key(token)).await?;
    Ok(Redeemed::Valid(pending))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
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
}

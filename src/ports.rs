//! The boundary between the protocol logic and the runtime: what a request is handled with
//! ([`Ctx`]), the storage it reads and writes ([`Store`], built on by `state/`), and what the
//! protocol asks of the runtime beyond storage ([`Platform`]). The worker layer (`edge/`)
//! implements both traits for Workers; `testing` implements them for host tests.
//!
//! May import: `config`, `http`, `keys`, `state` (the deliveries and messages the platform is handed).

use serde::Serialize;

use crate::config::Config;
use crate::http::ratelimit::Bucket;
use crate::keys::VerifyingKey;
use crate::state::deliveries::{Delivery, QueueMessage};

pub use crate::state::store::{ListPage, Listed, Ns, Put, Store, StoreError};

/// Everything a request is handled with. Time is an input, as randomness is where a decision
/// depends on it, so that the logic tests on the host.
pub struct Ctx<'a, S, N> {
    pub config: &'a Config,
    pub store: &'a S,
    pub platform: &'a N,
    /// Unix time in seconds.
    pub now: i64,
}

/// What became of the back-channel notifications of one logout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Delivered during the request.
    pub delivered: usize,
    /// Handed to the queue (overflow, or failed and to be retried).
    pub queued: usize,
    /// Failed for good (a final answer such as 400).
    pub dead: usize,
    /// Neither of those yet: kept in the outbox, sent again by the re-check or the sweep
    /// (a queue send or a record write failed). Shown only when some are.
    #[serde(skip_serializing_if = "is_zero")]
    pub pending: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What became of deliveries handed to the platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Handoff {
    pub summary: Summary,
    /// Those neither delivered, nor queued, nor recorded as failed (a queue send or a record
    /// write failed): the caller keeps them in the outbox.
    pub unsent: Vec<Delivery>,
}

/// Where the protocol's log lines go. What a line says is decided by the protocol (JSON objects
/// with an `event`, never a token, key or cookie); the runtime only writes them.
pub trait Log {
    /// A record gathered with the invocation's own line, written with it in one console call.
    fn record(&self, line: serde_json::Value);
    /// An error, written at once (console.error).
    fn error(&self, line: serde_json::Value);
}

/// The one line an invocation writes (one console call, so that Workers Logs indexes its
/// fields): `last`, the request's own record, with the `records` gathered meanwhile under
/// `attempts`; without one (a queue batch, a cron tick), an object of `event` `batch` holding
/// them; nothing when there is nothing to say.
pub fn log_line(last: Option<serde_json::Value>, records: Vec<serde_json::Value>) -> Option<serde_json::Value> {
    match last {
        Some(mut line) => {
            if !records.is_empty() {
                line["attempts"] = records.into();
            }
            Some(line)
        }
        None if records.is_empty() => None,
        None => Some(serde_json::json!({ "event": "batch", "records": records })),
    }
}

/// What the protocol logic asks of the runtime beyond storage: sending logout tokens and queue
/// messages, fresh ids, and checking signatures.
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Platform {
    /// Attempts the first `inline_max` deliveries now, in parallel, and queues the rest; a
    /// failed attempt is recorded and queued for a retry (or dead-lettered).
    async fn deliver(&self, deliveries: Vec<Delivery>, inline_max: usize) -> Handoff;

    /// Sends `message` to the queue, to be consumed after `delay_s`; false when the send failed.
    async fn enqueue(&self, message: &QueueMessage, delay_s: u32) -> bool;

    /// A fresh random id (a logout's, from which its deliveries' ids are numbered).
    fn random_id(&self) -> String;

    /// Counts one request of `bucket` from `client` (see [`crate::http::ratelimit`]): `None`
    /// while within its limit, else `Some(seconds)` to wait. The default counts in this isolate
    /// ([`crate::http::ratelimit::LOCAL`]), what a worker without the rate-limiting binding does.
    async fn over_limit(&self, bucket: Bucket, client: &str, now: i64) -> Option<u32> {
        crate::http::ratelimit::LOCAL.hit(bucket, client, now)
    }

    /// Whether `signature` is `key`'s JWS signature over `input`. The default computes it in
    /// Rust; the worker asks the runtime's WebCrypto, which is far cheaper than wasm.
    async fn signature_valid(&self, key: &VerifyingKey, input: &[u8], signature: &[u8]) -> bool {
        key.signature_valid(input, signature)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::log_line;

    #[test]
    fn an_invocation_writes_one_line_holding_what_it_gathered() {
        let attempt = json!({"event": "backchannel_attempt"});
        let request = json!({"event": "end_session", "status": 200});
        assert_eq!(log_line(Some(request.clone()), vec![]), Some(request.clone()));
        let line = log_line(Some(request), vec![attempt.clone()]).unwrap();
        assert_eq!((line["event"].as_str(), &line["attempts"]), (Some("end_session"), &json!([attempt])));
        assert_eq!(log_line(None, vec![]), None, "a quiet batch writes nothing");
        assert_eq!(log_line(None, vec![attempt.clone()]), Some(json!({"event": "batch", "records": [attempt]})));
    }

    /// The memory store, refusing writes to the key `bad`.
    struct RefusesBad(crate::state::memory::MemoryStore);

    impl super::Store for RefusesBad {
        async fn get(&self, ns: super::Ns, key: &str) -> Result<Option<String>, super::StoreError> {
            self.0.get(ns, key).await
        }
        async fn put(
            &self,
            ns: super::Ns,
            key: &str,
            value: &str,
            expires_at: Option<i64>,
            metadata: Option<serde_json::Value>,
        ) -> Result<(), super::StoreError> {
            match key {
                "bad" => Err(super::StoreError("refused".into())),
                _ => self.0.put(ns, key, value, expires_at, metadata).await,
            }
        }
        async fn delete(&self, ns: super::Ns, key: &str) -> Result<(), super::StoreError> {
            self.0.delete(ns, key).await
        }
        async fn list(
            &self,
            ns: super::Ns,
            prefix: &str,
            cursor: Option<String>,
            limit: u32,
        ) -> Result<super::ListPage, super::StoreError> {
            self.0.list(ns, prefix, cursor, limit).await
        }
        fn subrequests(&self) -> usize {
            self.0.subrequests()
        }
    }

    #[test]
    fn batched_writes_and_deletes_each_on_their_own() {
        use super::{Ns, Put, Store};
        futures::executor::block_on(async {
            let store = RefusesBad(crate::state::memory::MemoryStore::new(1000));
            let put =
                |ns, key: &str| Put { ns, key: key.into(), value: format!("{key}!"), expires_at: None, metadata: None };
            // A refused write in the middle: the ones after it are still made.
            let done = store.put_each(&[put(Ns::Clients, "a"), put(Ns::Sessions, "bad"), put(Ns::Sessions, "a")]).await;
            assert_eq!(done.iter().map(Result::is_ok).collect::<Vec<_>>(), [true, false, true]);
            // The same key in two namespaces is two values; the refused one was not written.
            let read = [
                store.get(Ns::Sessions, "a").await,
                store.get(Ns::Clients, "bad").await,
                store.get(Ns::Clients, "a").await,
            ];
            assert_eq!(read.map(Result::unwrap), [Some("a!".to_string()), None, Some("a!".to_string())]);
            let gone = store.delete_each(&[(Ns::Clients, "a"), (Ns::Sessions, "a")]).await;
            assert!(gone.iter().all(Result::is_ok));
            assert_eq!(
                (store.get(Ns::Clients, "a").await.unwrap(), store.get(Ns::Sessions, "a").await.unwrap()),
                (None, None)
            );
            // Each call is still a subrequest: the budget counts them all.
            assert_eq!(store.subrequests(), 9);
        });
    }
}

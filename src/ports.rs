//! The boundary between the protocol logic and the runtime: what a request is handled with
//! ([`Ctx`]), the storage it reads and writes ([`Store`], built on by `state/`), and what the
//! protocol asks of the runtime beyond storage ([`Platform`]). The worker layer (`edge/`)
//! implements both traits for Workers; `testing` implements them for host tests.
//!
//! May import: `config`, `keys`, `state` (the records the platform is handed).

use serde::Serialize;

use crate::config::Config;
use crate::keys::VerifyingKey;
use crate::state::clients::Client;
use crate::state::sessions::Session;

pub use crate::state::store::{ListPage, Listed, Ns, Store, StoreError};

/// Everything a request is handled with. Time is an input, as randomness is where a decision
/// depends on it, so that the logic tests on the host.
pub struct Ctx<'a, S, N> {
    pub config: &'a Config,
    pub store: &'a S,
    pub platform: &'a N,
    /// Unix time in seconds.
    pub now: i64,
}

/// What ended, for the relying parties' sake.
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
        crate::state::clients::unique_ids(self.sessions().iter().flat_map(|s| &s.clients).map(String::as_str))
    }
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
}

/// What the protocol logic asks of the runtime beyond storage: telling the relying parties of
/// ended sessions (back-channel logout lives behind it), and checking signatures.
#[allow(async_fn_in_trait)] // single-threaded wasm: no Send bound wanted
pub trait Platform {
    /// Called with what ended and the registered clients of those sessions, before the
    /// sessions are deleted and the user answered: at most `inline_max` notifications are
    /// delivered now, the rest queued; every one is delivered, queued or recorded by the time
    /// this returns.
    async fn notify(&self, event: &LogoutEvent, clients: &[Client], inline_max: usize) -> Summary;

    /// Whether `signature` is `key`'s JWS signature over `input`. The default computes it in
    /// Rust; the worker asks the runtime's WebCrypto, which is far cheaper than wasm.
    async fn signature_valid(&self, key: &VerifyingKey, input: &[u8], signature: &[u8]) -> bool {
        key.signature_valid(input, signature)
    }
}

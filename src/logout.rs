//! Ending sessions: the one place where sessions are deleted and the relying parties that must
//! hear of it are handed to the platform.

use std::collections::HashSet;

use serde::Serialize;

use crate::admin::load_clients;
use crate::backchannel::{self, LogoutEvent};
use crate::clients::Client;
use crate::keys::VerifyingKey;
use crate::sessions;
use crate::store::{Store, StoreError};

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
#[allow(async_fn_in_trait)]
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

/// Tells nobody.
pub struct Silent;

impl Platform for Silent {
    async fn notify(&self, _event: &LogoutEvent, _clients: &[Client], _inline_max: usize) -> Summary {
        Summary::default()
    }
}

/// What a logout ended, and what the relying parties were told.
#[derive(Debug, Clone, Default)]
pub struct Ended {
    /// The registered clients of the ended sessions (for front-channel logout).
    pub clients: Vec<Client>,
    pub summary: Summary,
}

/// Notifies, then deletes the sessions of `event`. Notifying first means a logout cut short
/// (an isolate restart half-way) leaves the session in place rather than a relying party
/// untold: the user can simply log out again. At most `inline_max` relying parties are told
/// during the request, fewer if its subrequests would not suffice. `known` holds clients the
/// caller already read in this request: they are not read again.
pub async fn end_sessions(
    store: &impl Store,
    platform: &impl Platform,
    event: &LogoutEvent,
    inline_max: usize,
    known: Vec<Client>,
) -> Result<Ended, StoreError> {
    if event.sessions().is_empty() {
        return Ok(Ended::default());
    }
    let wanted = event.client_ids();
    let wanted_set: HashSet<&str> = wanted.iter().copied().collect();
    let mut clients: Vec<Client> = known.into_iter().filter(|c| wanted_set.contains(c.client_id.as_str())).collect();
    let have: HashSet<String> = clients.iter().map(|c| c.client_id.clone()).collect();
    let missing: Vec<&str> = wanted.into_iter().filter(|id| !have.contains(*id)).collect();
    // One bulk read for the rest; a client deleted from the registry since is no longer told.
    if !missing.is_empty() {
        clients.extend(load_clients(store, &missing).await?);
    }
    let deletes = sessions::DELETES_PER_SESSION * event.sessions().len();
    let most: usize = event.sessions().iter().map(|s| s.clients.len()).sum();
    let inline = backchannel::affordable_inline(store.subrequests(), deletes, most, inline_max);
    let summary = platform.notify(event, &clients, inline).await;
    for s in event.sessions() {
        sessions::delete(store, s).await?;
    }
    Ok(Ended { clients, summary })
}

//! Ending sessions: the one place where sessions are deleted and the relying parties that must
//! hear of it are handed to the notifier.

use serde::Serialize;

use crate::backchannel::LogoutEvent;
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

/// Tells the relying parties of ended sessions (back-channel logout lives behind it).
#[allow(async_fn_in_trait)]
pub trait Notifier {
    /// Called with what ended, before the sessions are deleted and the user answered: every
    /// notification is delivered, queued or recorded by the time this returns.
    async fn notify(&self, event: &LogoutEvent) -> Summary;
}

/// Tells nobody.
pub struct Silent;

impl Notifier for Silent {
    async fn notify(&self, _event: &LogoutEvent) -> Summary {
        Summary::default()
    }
}

/// Notifies, then deletes the sessions of `event`. Notifying first means a logout cut short
/// (an isolate restart half-way) leaves the session in place rather than a relying party
/// untold: the user can simply log out again.
pub async fn end_sessions(
    store: &impl Store,
    notifier: &impl Notifier,
    event: &LogoutEvent,
) -> Result<Summary, StoreError> {
    let summary = if event.sessions().is_empty() { Summary::default() } else { notifier.notify(event).await };
    for s in event.sessions() {
        sessions::delete(store, s).await?;
    }
    Ok(summary)
}

//! Ending sessions: the one place where a session is deleted, and where the relying parties
//! that must hear of it are handed to the notifier.

use crate::sessions::{self, Session};
use crate::store::{Store, StoreError};

/// What happens to the relying parties of ended sessions (back-channel logout lives behind it).
#[allow(async_fn_in_trait)]
pub trait Notifier {
    /// Called with the sessions just ended, before the user's response is sent.
    async fn sessions_ended(&self, ended: &[Session]);
}

/// Tells nobody.
pub struct Silent;

impl Notifier for Silent {
    async fn sessions_ended(&self, _ended: &[Session]) {}
}

/// Deletes `ended` and tells the notifier.
pub async fn end_sessions(store: &impl Store, notifier: &impl Notifier, ended: &[Session]) -> Result<(), StoreError> {
    for s in ended {
        sessions::delete(store, s).await?;
    }
    notifier.sessions_ended(ended).await;
    Ok(())
}

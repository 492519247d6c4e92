//! Ending sessions: the one place where sessions are deleted and the relying parties that must
//! hear of it are handed to the platform.

use std::collections::HashSet;

use crate::budget::{affordable_inline, DELETES_PER_SESSION};
use crate::ports::{LogoutEvent, Platform, Store, StoreError, Summary};
use crate::state::clients::{self, Client};
use crate::state::sessions;

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
    let mut found: Vec<Client> = known.into_iter().filter(|c| wanted_set.contains(c.client_id.as_str())).collect();
    let have: HashSet<String> = found.iter().map(|c| c.client_id.clone()).collect();
    let missing: Vec<&str> = wanted.into_iter().filter(|id| !have.contains(*id)).collect();
    // One bulk read for the rest; a client deleted from the registry since is no longer told.
    if !missing.is_empty() {
        found.extend(clients::load_many(store, &missing).await?);
    }
    let deletes = DELETES_PER_SESSION * event.sessions().len();
    let most: usize = event.sessions().iter().map(|s| s.clients.len()).sum();
    let inline = affordable_inline(store.subrequests(), deletes, most, inline_max);
    let summary = platform.notify(event, &found, inline).await;
    for s in event.sessions() {
        sessions::delete(store, s).await?;
    }
    Ok(Ended { clients: found, summary })
}

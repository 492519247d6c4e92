//! What a logout ended, as the planners of its deliveries and the logout itself see it: one
//! home below both (`plan` used to import it from `protocol::logout`, which imports `plan`).

use crate::state::clients;
use crate::state::sessions::Session;

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
        clients::unique_ids(self.sessions().iter().flat_map(|s| &s.clients).map(String::as_str))
    }

    /// The user of a user-wide logout.
    pub fn subject(&self) -> Option<String> {
        match self {
            LogoutEvent::Sessions(_) => None,
            LogoutEvent::Subject { sub, .. } => Some(sub.clone()),
        }
    }
}

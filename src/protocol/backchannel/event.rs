//! What a logout ended, as the planners of its deliveries and the logout itself see it: one
//! home below both (`plan` used to import it from `protocol::logout`, which imports `plan`).

use crate::state::clients;
use crate::state::sessions::Session;

/// What a logout needs of a session it ends: its `sid`, its user and the clients to tell.
/// Neither its cookie hash nor its times: a session ended unseen, or seen again by a look, has
/// none to give, and the planners need none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionEnd {
    pub sid: String,
    pub sub: String,
    pub clients: Vec<String>,
}

impl From<Session> for SessionEnd {
    fn from(s: Session) -> Self {
        SessionEnd { sid: s.sid, sub: s.sub, clients: s.clients }
    }
}

/// What ended, for the relying parties' sake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutEvent {
    /// These sessions ended (RP-initiated logout, admin logout of one session).
    Sessions(Vec<SessionEnd>),
    /// Every session of `sub` ended (admin logout of a user): relying parties get one token
    /// without `sid`, meaning all of this user's sessions, unless they require `sid`.
    Subject { sub: String, sessions: Vec<SessionEnd> },
}

impl LogoutEvent {
    /// The event of ending these whole sessions (one user's, when `subject` names it).
    pub fn of(subject: Option<String>, sessions: Vec<Session>) -> Self {
        let sessions = sessions.into_iter().map(SessionEnd::from).collect();
        match subject {
            None => LogoutEvent::Sessions(sessions),
            Some(sub) => LogoutEvent::Subject { sub, sessions },
        }
    }

    pub fn sessions(&self) -> &[SessionEnd] {
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

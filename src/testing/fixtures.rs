//! Records for unit tests: clients, sessions, and delivery ids.

use crate::keys::Alg;
use crate::protocol::backchannel::event::SessionEnd;
use crate::state::clients::Client;
use crate::state::sessions::Session;

/// A client with only the logout metadata given.
pub fn client(id: &str, backchannel: Option<&str>, session_required: bool, alg: Alg) -> Client {
    Client {
        client_id: id.into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        backchannel_logout_uri: backchannel.map(str::to_string),
        backchannel_logout_session_required: session_required,
        frontchannel_logout_uri: None,
        frontchannel_logout_session_required: false,
        id_token_signed_response_alg: alg,
        client_name: None,
        client_uri: None,
    }
}

/// `rp1` (RS256, back-channel), `rp2` (ES256, back-channel with a query, sid required) and
/// `rp3` (no back-channel URI).
pub fn clients() -> Vec<Client> {
    vec![
        client("rp1", Some("https://rp1/bc"), false, Alg::RS256),
        client("rp2", Some("https://rp2/bc?k=v"), true, Alg::ES256),
        client("rp3", None, false, Alg::RS256),
    ]
}

/// A session of `alice` with `clients`, as a logout ends it.
pub fn session(sid: &str, clients: &[&str]) -> SessionEnd {
    record(sid, clients).into()
}

/// The stored record of a session of `alice` with `clients`.
pub fn record(sid: &str, clients: &[&str]) -> Session {
    Session {
        sid: sid.into(),
        sub: "alice".into(),
        clients: clients.iter().map(|c| c.to_string()).collect(),
        created_at: 0,
        expires_at: 1,
        cookie_hash: String::new(),
        logout_hints: Vec::new(),
    }
}

/// Delivery ids `d1`, `d2`, ...
pub fn ids() -> impl FnMut() -> String {
    let mut n = 0;
    move || {
        n += 1;
        format!("d{n}")
    }
}

//! Which relying parties get which logout token: one delivery per relying party with a
//! `backchannel_logout_uri` per ended session, or per subject for a user-wide logout; and the
//! session-ended events for the login system, one per ended session.

use std::collections::{HashMap, HashSet};

use super::event::LogoutEvent;
use crate::config::SessionEvents;
use crate::keys::Alg;
use crate::state::clients::Client;
use crate::state::deliveries::{Delivery, DeliveryKind, EndReason};

/// The `client_id` under which the admin API lists session-ended events.
pub const EVENTS_CLIENT: &str = "(session-events)";

/// The deliveries an event calls for: one per relying party with a `backchannel_logout_uri`
/// per ended session, or per subject for a user-wide logout. `clients` holds the registered
/// clients of the event (clients deleted since are skipped); `new_id` names each delivery.
pub fn plan(event: &LogoutEvent, clients: &[Client], mut new_id: impl FnMut() -> String) -> Vec<Delivery> {
    // Indexed once: a session may name hundreds of clients.
    let by_id: HashMap<&str, &Client> = clients.iter().map(|c| (c.client_id.as_str(), c)).collect();
    let members: Vec<HashSet<&str>> =
        event.sessions().iter().map(|s| s.clients.iter().map(String::as_str).collect()).collect();
    let subject = event.subject();
    let mut out = Vec::new();
    for id in event.client_ids() {
        let Some(client) = by_id.get(id) else { continue };
        let sessions = event
            .sessions()
            .iter()
            .zip(&members)
            .filter(|(_, m)| m.contains(id))
            .map(|(s, _)| (s.sid.as_str(), s.sub.as_str()));
        out.extend(plan_client(client, subject.as_deref(), sessions, |_| new_id()));
    }
    out
}

/// The deliveries one relying party gets of a logout (see [`plan`]): one per ended session it
/// is in (`sessions`: their `sid` and user), or for a user-wide logout (`subject`) one without
/// `sid`, unless it requires `sid`. None for a client without a back-channel URI. `new_id`
/// names its `j`-th delivery (from 0).
pub fn plan_client<'a>(
    client: &Client,
    subject: Option<&str>,
    sessions: impl IntoIterator<Item = (&'a str, &'a str)>,
    mut new_id: impl FnMut(usize) -> String,
) -> Vec<Delivery> {
    let Some(uri) = client.backchannel_logout_uri.as_deref() else { return Vec::new() };
    let delivery = |id: String, sub: &str, sid: Option<&str>| Delivery {
        id,
        client_id: client.client_id.clone(),
        uri: uri.to_string(),
        alg: client.id_token_signed_response_alg,
        sub: sub.to_string(),
        sid: sid.map(str::to_string),
        attempt: 1,
        last_error: None,
        nonce: None,
        issued_at: None,
        redriven: 0,
        kind: DeliveryKind::Logout,
    };
    match subject {
        Some(sub) if !client.backchannel_logout_session_required => vec![delivery(new_id(0), sub, None)],
        _ => sessions.into_iter().enumerate().map(|(j, (sid, sub))| delivery(new_id(j), sub, Some(sid))).collect(),
    }
}

/// One session-ended event per ended session of `event`, to the login system's `target`
/// (signed with the provider's RS256 key), saying why it ended and, when one asked, which
/// client.
pub fn plan_events(
    event: &LogoutEvent,
    target: &SessionEvents,
    reason: EndReason,
    initiator: Option<&str>,
    mut new_id: impl FnMut() -> String,
) -> Vec<Delivery> {
    let kind = DeliveryKind::SessionEnded {
        reason,
        initiator: initiator.map(str::to_string),
        audience: target.audience.clone(),
    };
    event
        .sessions()
        .iter()
        .map(|s| Delivery {
            id: new_id(),
            client_id: EVENTS_CLIENT.to_string(),
            uri: target.uri.clone(),
            alg: Alg::RS256,
            sub: s.sub.clone(),
            sid: Some(s.sid.clone()),
            attempt: 1,
            last_error: None,
            nonce: None,
            issued_at: None,
            redriven: 0,
            kind: kind.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Alg;
    use crate::testing::fixtures::{clients, ids, session};

    #[test]
    fn one_delivery_per_relying_party_with_a_backchannel_uri() {
        let event = LogoutEvent::Sessions(vec![session("s1", &["rp1", "rp2", "rp3", "gone"])]);
        let d = plan(&event, &clients(), ids());
        assert_eq!(d.len(), 2);
        assert_eq!((d[0].client_id.as_str(), d[0].uri.as_str(), d[0].alg), ("rp1", "https://rp1/bc", Alg::RS256));
        assert_eq!((d[1].client_id.as_str(), d[1].uri.as_str(), d[1].alg), ("rp2", "https://rp2/bc?k=v", Alg::ES256));
        assert!(d.iter().all(|d| d.sid.as_deref() == Some("s1") && d.sub == "alice" && d.attempt == 1));
        assert_ne!(d[0].id, d[1].id);
    }

    #[test]
    fn a_user_wide_logout_sends_sidless_tokens_except_to_session_required_clients() {
        let event = LogoutEvent::Subject {
            sub: "alice".into(),
            sessions: vec![session("s1", &["rp1", "rp2"]), session("s2", &["rp1", "rp2"]), session("s3", &["rp2"])],
        };
        let d = plan(&event, &clients(), ids());
        let summary: Vec<(&str, Option<&str>)> = d.iter().map(|d| (d.client_id.as_str(), d.sid.as_deref())).collect();
        assert_eq!(summary, [("rp1", None), ("rp2", Some("s1")), ("rp2", Some("s2")), ("rp2", Some("s3"))]);
    }

    #[test]
    fn one_session_ended_event_per_ended_session() {
        let target = SessionEvents { uri: "https://login.example/events".into(), audience: "login".into() };
        let event =
            LogoutEvent::Subject { sub: "alice".into(), sessions: vec![session("s1", &["rp1"]), session("s2", &[])] };
        let d = plan_events(&event, &target, EndReason::AdminLogoutSubject, None, ids());
        let sids: Vec<_> = d.iter().map(|d| d.sid.as_deref()).collect();
        assert_eq!(sids, [Some("s1"), Some("s2")]);
        assert!(d.iter().all(|d| d.uri == target.uri && d.client_id == EVENTS_CLIENT && d.sub == "alice"));
        assert_eq!(
            d[0].kind,
            DeliveryKind::SessionEnded {
                reason: EndReason::AdminLogoutSubject,
                initiator: None,
                audience: "login".into()
            }
        );
    }
}

//! What a delivery's token says and how it is sent: a logout token (Back-Channel Logout 1.0,
//! section 2.4: `typ` `logout+jwt`, POSTed as the form field `logout_token`), or a session-ended
//! Security Event Token for the login system (RFC 8417: `typ` `secevent+jwt`, POSTed as
//! `application/secevent+jwt`, RFC 8935). Signing itself is the platform's (WebCrypto).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde_json::{json, Value};

use crate::keys::Alg;
use crate::state::deliveries::{Delivery, DeliveryKind};

pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The event type of a session-ended event.
pub const SESSION_ENDED_EVENT: &str = "urn:edge-logout:event:session-ended";

/// The claims of `d`'s token, issued at `now` with the unique `jti`.
pub fn claims(d: &Delivery, issuer: &str, now: i64, ttl_s: i64, jti: &str) -> Value {
    if let DeliveryKind::SessionEnded { reason, initiator, audience } = &d.kind {
        let mut event = json!({ "sid": d.sid, "sub": d.sub, "reason": reason });
        if let Some(client) = initiator {
            event["client_id"] = Value::String(client.clone());
        }
        return json!({ "iss": issuer, "aud": audience, "iat": now, "jti": jti, "events": { SESSION_ENDED_EVENT: event } });
    }
    let mut c = json!({
        "iss": issuer,
        "aud": d.client_id,
        "iat": now,
        "exp": now + ttl_s,
        "jti": jti,
        "sub": d.sub,
        "events": { EVENT: {} },
    });
    if let Some(sid) = &d.sid {
        c["sid"] = Value::String(sid.clone());
    }
    c
}

/// The JWS `typ` of `d`'s token.
pub fn typ(d: &Delivery) -> &'static str {
    match d.kind {
        DeliveryKind::Logout => "logout+jwt",
        DeliveryKind::SessionEnded { .. } => "secevent+jwt",
    }
}

/// The JWS signing input (`base64url(header).base64url(claims)`) of a token of type `typ`.
pub fn signing_input(kid: &str, alg: Alg, typ: &str, claims: &Value) -> String {
    let header = json!({ "alg": alg.name(), "kid": kid, "typ": typ });
    format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()))
}

/// The compact JWT: signing input and signature.
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", B64.encode(signature))
}

/// The content type of `d`'s request, and what its body holds before the token: a logout token
/// is the form field `logout_token` and nothing else; a session-ended event is the token alone.
/// A compact JWS is base64url and dots, which a form body carries as they are.
pub fn envelope(d: &Delivery) -> (&'static str, &'static str) {
    match d.kind {
        DeliveryKind::Logout => ("application/x-www-form-urlencoded", "logout_token="),
        DeliveryKind::SessionEnded { .. } => ("application/secevent+jwt", ""),
    }
}

/// The content type and body of `d`'s request carrying `token` (a compact JWS).
pub fn request(d: &Delivery, token: &str) -> (&'static str, String) {
    let (content_type, prefix) = envelope(d);
    (content_type, format!("{prefix}{token}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::backchannel::event::LogoutEvent;
    use crate::protocol::backchannel::plan;
    use crate::testing::fixtures::{clients, ids, session};

    #[test]
    fn token_claims() {
        let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        let c = claims(&d, "https://id.example", 1000, 120, "j1");
        assert_eq!(
            c,
            json!({"iss": "https://id.example", "aud": "rp1", "iat": 1000, "exp": 1120, "jti": "j1", "sub": "alice",
                   "sid": "s1", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}})
        );
        assert!(c.get("nonce").is_none());
        let mut no_sid = d.clone();
        no_sid.sid = None;
        assert!(claims(&no_sid, "i", 0, 1, "j").get("sid").is_none());
    }

    #[test]
    fn tokens_verify_with_the_provider_keys() {
        let keys = crate::testing::keys();
        let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        for alg in Alg::ALL {
            let signer = keys.signer(alg).unwrap();
            let input = signing_input(&signer.kid, alg, typ(&d), &claims(&d, "https://id.example", 1000, 120, "j"));
            let jwt = assemble(&input, &signer.sign_bytes(input.as_bytes()));
            // The body carries the token unencoded (`envelope`): it must not need form encoding.
            assert_eq!(crate::http::form::encode_component(&jwt), jwt, "{alg}");
            let token = keys.verify::<Value>(&jwt).unwrap();
            assert_eq!(token.header().token_type.as_deref(), Some("logout+jwt"));
            assert_eq!(token.claims().custom["sid"], "s1");
        }
    }

    #[test]
    fn the_body_is_only_the_token() {
        let d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        assert_eq!(request(&d, "a.b-_.c"), ("application/x-www-form-urlencoded", "logout_token=a.b-_.c".to_string()));
    }

    #[test]
    fn a_session_ended_event_is_a_security_event_token() {
        use crate::state::deliveries::EndReason;
        let mut d = plan::plan(&LogoutEvent::Sessions(vec![session("s1", &["rp1"])]), &clients(), ids()).remove(0);
        d.kind = DeliveryKind::SessionEnded {
            reason: EndReason::RpLogout,
            initiator: Some("rp1".into()),
            audience: "https://login.example".into(),
        };
        let c = claims(&d, "https://id.example", 1000, 120, "j1");
        assert_eq!(
            c,
            json!({"iss": "https://id.example", "aud": "https://login.example", "iat": 1000, "jti": "j1",
                   "events": {SESSION_ENDED_EVENT: {"sid": "s1", "sub": "alice", "reason": "rp_logout", "client_id": "rp1"}}})
        );
        assert_eq!(typ(&d), "secevent+jwt");
        assert_eq!(request(&d, "a.b.c"), ("application/secevent+jwt", "a.b.c".to_string()));
    }
}

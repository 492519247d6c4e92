//! What a logout token says (Back-Channel Logout 1.0, section 2.4) and how it is sent: the
//! claims, the JWS signing input with `typ` `logout+jwt`, and the form body of the POST.
//! Signing itself is the platform's (WebCrypto).

use base64::{engine::general_purpose::URL_SAFE_NO_PAD as B64, Engine};
use serde_json::{json, Value};

use crate::http::form::encode_component;
use crate::keys::Alg;
use crate::state::deliveries::Delivery;

pub const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// The claims of a logout token for `d`, issued at `now` with the unique `jti`.
pub fn claims(d: &Delivery, issuer: &str, now: i64, ttl_s: i64, jti: &str) -> Value {
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

/// The JWS signing input (`base64url(header).base64url(claims)`) of a logout token.
pub fn signing_input(kid: &str, alg: Alg, claims: &Value) -> String {
    let header = json!({ "alg": alg.name(), "kid": kid, "typ": "logout+jwt" });
    format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()))
}

/// The compact JWT: signing input and signature.
pub fn assemble(signing_input: &str, signature: &[u8]) -> String {
    format!("{signing_input}.{}", B64.encode(signature))
}

/// The form body of a back-channel request: `logout_token` and nothing else.
pub fn request_body(token: &str) -> String {
    format!("logout_token={}", encode_component(token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::backchannel::plan;
    use crate::protocol::logout::LogoutEvent;
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
            let input = signing_input(&signer.kid, alg, &claims(&d, "https://id.example", 1000, 120, "j"));
            let jwt = assemble(&input, &signer.sign_bytes(input.as_bytes()));
            let token = keys.verify::<Value>(&jwt).unwrap();
            assert_eq!(token.header().token_type.as_deref(), Some("logout+jwt"));
            assert_eq!(token.claims().custom["sid"], "s1");
        }
    }

    #[test]
    fn the_body_is_only_the_token() {
        assert_eq!(request_body("a.b-_.c"), "logout_token=a.b-_.c");
    }
}

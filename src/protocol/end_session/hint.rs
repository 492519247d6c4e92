//! Verifying an `id_token_hint`: the provider issued it (signature by one of its keys, `iss`),
//! and to which client. It is accepted after its `exp`, as RP-Initiated Logout 1.0 allows and
//! every leading provider does, but never with an `iat` in the future beyond a small leeway.

use std::fmt;

use serde::Deserialize;

use crate::keys::{KeySet, VerifyError};
use crate::ports::Platform;

/// Clock skew tolerated on `iat`.
pub const IAT_LEEWAY_S: i64 = 300;

/// What a verified hint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedHint {
    pub sub: String,
    pub sid: Option<String>,
    /// The client the token was issued to (`azp`, or the one audience).
    pub client_id: String,
    /// Its `exp` (unix seconds), if it has one: how old it is decides whether it may end a
    /// session without the browser's cookie (`gather::hint_is_recent`).
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HintError {
    Signature(VerifyError),
    WrongIssuer,
    MissingClaim(&'static str),
    IssuedInTheFuture,
    /// Several audiences and no `azp` or `client_id` to choose among them.
    AmbiguousAudience,
    /// `client_id` was given and is not the client the token was issued to.
    ClientMismatch,
    /// A logout token (`typ` `logout+jwt`, or an `events` claim): every relying party holds
    /// those, so one must never stand for an ID token.
    NotAnIdToken,
}

impl fmt::Display for HintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HintError::Signature(e) => write!(f, "id_token_hint: {e}"),
            HintError::WrongIssuer => f.write_str("id_token_hint was not issued by this provider"),
            HintError::MissingClaim(c) => write!(f, "id_token_hint has no valid {c} claim"),
            HintError::IssuedInTheFuture => f.write_str("id_token_hint is issued in the future"),
            HintError::AmbiguousAudience => f.write_str("id_token_hint has several audiences and no azp"),
            HintError::ClientMismatch => f.write_str("client_id does not match the client of id_token_hint"),
            HintError::NotAnIdToken => f.write_str("id_token_hint is a logout token, not an ID token"),
        }
    }
}

/// `aud`: one audience or several (RFC 7519, section 4.1.3). Read by hand rather than as an
/// untagged enum, which would buffer the value in serde's `Content` first (size of the wasm).
enum Audience {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for Audience {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Audience;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Audience, E> {
                Ok(Audience::One(v.to_owned()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Audience, A::Error> {
                let mut all = Vec::new();
                while let Some(a) = seq.next_element::<String>()? {
                    all.push(a);
                }
                Ok(Audience::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

/// The hint's claims, read from its payload as one flat struct (not jwt-compact's `Claims<T>`,
/// whose `#[serde(flatten)]` buffers every member in serde's `Content`). The time claims are
/// read as jwt-compact reads them: an integer or a float (truncated) within chrono's range, else
/// the token is malformed; `nbf` is checked that way and otherwise ignored, as before.
#[derive(Deserialize)]
struct HintClaims {
    iss: Option<String>,
    sub: Option<String>,
    aud: Option<Audience>,
    azp: Option<String>,
    sid: Option<String>,
    #[serde(default, deserialize_with = "timestamp")]
    iat: Option<i64>,
    #[serde(default, deserialize_with = "timestamp")]
    exp: Option<i64>,
    #[serde(default, rename = "nbf", deserialize_with = "timestamp")]
    _nbf: Option<i64>,
    /// Whether an `events` member is present, whatever its value (`null` included).
    #[serde(default, rename = "events", deserialize_with = "present")]
    has_events: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// A NumericDate (unix seconds), as jwt-compact's `serde_timestamp` accepts it.
fn timestamp<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("UTC timestamp")
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<i64, E> {
            chrono::DateTime::from_timestamp(v, 0).map(|_| v).ok_or_else(|| E::custom("UTC timestamp overflow"))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<i64, E> {
            self.visit_i64(i64::try_from(v).map_err(E::custom)?)
        }
        #[allow(clippy::cast_possible_truncation)]
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<i64, E> {
            self.visit_i64(v as i64)
        }
    }
    d.deserialize_i64(V).map(Some)
}

/// The claims of a compact JWS whose signature was checked: its payload decoded and read.
fn claims_of(signing_input: &str) -> Option<HintClaims> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let (_, payload) = signing_input.split_once('.')?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// The media type a logout token declares (Back-Channel Logout 1.0, section 2.4), compared as
/// RFC 7515 says of `typ`: case-insensitively, with or without the `application/` prefix.
fn is_logout_type(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ.strip_prefix("application/").unwrap_or(&typ) == "logout+jwt"
}

/// Verifies `jwt` against the provider's keys (the signature checked by `platform`) and
/// `issuer`. `client_id` is the request's own `client_id` parameter, which must then name the
/// token's client.
pub async fn verify(
    keys: &KeySet,
    platform: &impl Platform,
    issuer: &str,
    jwt: &str,
    client_id: Option<&str>,
    now: i64,
) -> Result<VerifiedHint, HintError> {
    let candidates = keys.candidates(jwt).map_err(HintError::Signature)?;
    if candidates.token.header().token_type.as_deref().is_some_and(is_logout_type) {
        return Err(HintError::NotAnIdToken);
    }
    let mut signed = false;
    for key in &candidates.keys {
        if platform.signature_valid(key, candidates.signing_input.as_bytes(), &candidates.signature).await {
            signed = true;
            break;
        }
    }
    if !signed {
        return Err(HintError::Signature(VerifyError::BadSignature));
    }
    let c = claims_of(candidates.signing_input).ok_or(HintError::Signature(VerifyError::Malformed))?;
    if c.iat.is_some_and(|iat| iat > now + IAT_LEEWAY_S) {
        return Err(HintError::IssuedInTheFuture);
    }
    if c.has_events {
        return Err(HintError::NotAnIdToken);
    }
    if c.iss.as_deref() != Some(issuer) {
        return Err(HintError::WrongIssuer);
    }
    let sub = c.sub.filter(|s| !s.is_empty()).ok_or(HintError::MissingClaim("sub"))?;
    let audiences: Vec<&str> = match &c.aud {
        Some(Audience::One(a)) => vec![a.as_str()],
        Some(Audience::Many(list)) => list.iter().map(String::as_str).collect(),
        None => vec![],
    };
    if audiences.is_empty() {
        return Err(HintError::MissingClaim("aud"));
    }
    let token_client = match (&c.azp, audiences.as_slice(), client_id) {
        (Some(azp), _, _) => azp.clone(),
        (None, [one], _) => one.to_string(),
        // Several audiences: the request's client_id picks one of them, or nothing does.
        (None, _, Some(id)) if audiences.contains(&id) => id.to_string(),
        (None, _, Some(_)) => return Err(HintError::ClientMismatch),
        (None, _, None) => return Err(HintError::AmbiguousAudience),
    };
    if client_id.is_some_and(|id| id != token_client) {
        return Err(HintError::ClientMismatch);
    }
    Ok(VerifiedHint { sub, sid: c.sid.filter(|s| !s.is_empty()), client_id: token_client, expires_at: c.exp })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{generate, Alg};
    use crate::testing::{id_token_with, keys as test_keys, Recorder, ISSUER, NOW};
    use serde_json::{json, Value};

    fn id_token(custom: Value) -> String {
        id_token_with(test_keys(), Alg::RS256, custom, 60)
    }

    fn standard(sub: &str, sid: &str, aud: &str) -> Value {
        json!({"iss": ISSUER, "sub": sub, "sid": sid, "aud": aud})
    }

    fn check(jwt: &str, client_id: Option<&str>) -> Result<VerifiedHint, HintError> {
        futures::executor::block_on(verify(test_keys(), &Recorder::default(), ISSUER, jwt, client_id, NOW))
    }

    #[test]
    fn a_valid_hint_with_each_algorithm() {
        for alg in Alg::ALL {
            let jwt = id_token_with(test_keys(), alg, standard("alice", "s1", "rp1"), 60);
            assert_eq!(
                check(&jwt, None).unwrap(),
                VerifiedHint {
                    sub: "alice".into(),
                    sid: Some("s1".into()),
                    client_id: "rp1".into(),
                    expires_at: Some(NOW - 60 + 3600)
                }
            );
        }
    }

    #[test]
    fn expired_hints_are_accepted() {
        let jwt = id_token_with(test_keys(), Alg::RS256, standard("alice", "s1", "rp1"), 30 * 86400);
        assert!(check(&jwt, Some("rp1")).is_ok());
    }

    #[test]
    fn future_iat_is_rejected_beyond_the_leeway() {
        let ok = id_token_with(test_keys(), Alg::RS256, standard("alice", "s1", "rp1"), -(IAT_LEEWAY_S - 10));
        assert!(check(&ok, None).is_ok());
        let bad = id_token_with(test_keys(), Alg::RS256, standard("alice", "s1", "rp1"), -(IAT_LEEWAY_S + 10));
        assert_eq!(check(&bad, None), Err(HintError::IssuedInTheFuture));
    }

    #[test]
    fn issuer_and_claims() {
        let wrong_iss = id_token(json!({"iss": "https://evil.example", "sub": "a", "aud": "rp1"}));
        assert_eq!(check(&wrong_iss, None), Err(HintError::WrongIssuer));
        let no_iss = id_token(json!({"sub": "a", "aud": "rp1"}));
        assert_eq!(check(&no_iss, None), Err(HintError::WrongIssuer));
        let trailing = id_token(json!({"iss": format!("{ISSUER}/"), "sub": "a", "aud": "rp1"}));
        assert_eq!(check(&trailing, None), Err(HintError::WrongIssuer));
        let no_sub = id_token(json!({"iss": ISSUER, "aud": "rp1"}));
        assert_eq!(check(&no_sub, None), Err(HintError::MissingClaim("sub")));
        let no_aud = id_token(json!({"iss": ISSUER, "sub": "a"}));
        assert_eq!(check(&no_aud, None), Err(HintError::MissingClaim("aud")));
        let no_sid = id_token(json!({"iss": ISSUER, "sub": "a", "aud": "rp1"}));
        assert_eq!(check(&no_sid, None).unwrap().sid, None);
    }

    #[test]
    fn audience_forms_and_client_id() {
        let many = id_token(json!({"iss": ISSUER, "sub": "a", "aud": ["rp1", "rp2"]}));
        assert_eq!(check(&many, None), Err(HintError::AmbiguousAudience));
        assert_eq!(check(&many, Some("rp2")).unwrap().client_id, "rp2");
        assert_eq!(check(&many, Some("rp3")), Err(HintError::ClientMismatch));
        let azp = id_token(json!({"iss": ISSUER, "sub": "a", "aud": ["rp1", "rp2"], "azp": "rp1"}));
        assert_eq!(check(&azp, None).unwrap().client_id, "rp1");
        assert_eq!(check(&azp, Some("rp2")), Err(HintError::ClientMismatch));
        let one = id_token(standard("a", "s", "rp1"));
        assert_eq!(check(&one, Some("rp2")), Err(HintError::ClientMismatch));
        assert_eq!(check(&one, Some("rp1")).unwrap().client_id, "rp1");
    }

    /// An ID token whose header has `typ`, signed by the provider's RS256 key.
    fn typed_token(typ: &str, claims: Value) -> String {
        let mut c = jwt_compact::Claims::new(claims);
        c.issued_at = chrono::DateTime::from_timestamp(NOW - 60, 0);
        test_keys().signer(Alg::RS256).unwrap().sign(Some(typ), &c)
    }

    #[test]
    fn a_logout_token_typ_is_not_an_id_token() {
        for typ in ["logout+jwt", "LOGOUT+JWT", "application/logout+jwt", "Application/Logout+JWT"] {
            let jwt = typed_token(typ, standard("alice", "s1", "rp1"));
            assert_eq!(check(&jwt, None), Err(HintError::NotAnIdToken), "{typ}");
        }
        let jwt = typed_token("JWT", standard("alice", "s1", "rp1"));
        assert!(check(&jwt, None).is_ok(), "typ JWT is an ID token's");
    }

    #[test]
    fn an_events_claim_is_not_an_id_tokens() {
        let events = json!({"http://schemas.openid.net/event/backchannel-logout": {}});
        for value in [events, json!(null), json!({})] {
            let mut claims = standard("alice", "s1", "rp1");
            claims["events"] = value.clone();
            assert_eq!(check(&id_token(claims), None), Err(HintError::NotAnIdToken), "{value}");
        }
    }

    /// The time claims are read as jwt-compact's `Claims` read them before the hint had its own
    /// struct: integers or floats in range, anything else a malformed token.
    #[test]
    fn time_claims_are_numeric_dates() {
        let with = |name: &str, value: Value| {
            let mut claims = standard("alice", "s1", "rp1");
            claims[name] = value;
            let bare = jwt_compact::Claims::new(claims);
            check(&test_keys().signer(Alg::RS256).unwrap().sign(None, &bare), None)
        };
        assert_eq!(with("exp", json!(NOW as f64 + 0.5)).unwrap().expires_at, Some(NOW));
        assert_eq!(with("iat", json!((NOW + IAT_LEEWAY_S + 10) as f64)), Err(HintError::IssuedInTheFuture));
        for name in ["exp", "iat", "nbf"] {
            for bad in [json!("soon"), json!(i64::MAX), json!(u64::MAX), json!(null)] {
                assert_eq!(with(name, bad.clone()), Err(HintError::Signature(VerifyError::Malformed)), "{name} {bad}");
            }
        }
        let aud_bad = with("aud", json!({"rp1": true}));
        assert_eq!(aud_bad, Err(HintError::Signature(VerifyError::Malformed)));
        assert_eq!(with("aud", json!([])), Err(HintError::MissingClaim("aud")));
    }

    #[test]
    fn foreign_and_forged_tokens() {
        let foreign =
            KeySet::parse(&json!({"keys": [generate::private_jwk(Alg::RS256, "test-rs256")]}).to_string(), None)
                .unwrap();
        let jwt = id_token_with(&foreign, Alg::RS256, standard("a", "s", "rp1"), 60);
        assert_eq!(check(&jwt, None), Err(HintError::Signature(VerifyError::BadSignature)));
        assert!(matches!(check("garbage", None), Err(HintError::Signature(VerifyError::Malformed))));
    }
}

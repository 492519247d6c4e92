//! The provider's key set: private signing keys from `SIGNING_JWKS`, extra verification keys
//! from `ID_TOKEN_JWKS` (the login half's, or rotated-out ones), and the public JWKS served at
//! `jwks_uri`, which holds both, so that relying parties verify the login half's ID tokens with
//! the issuer's one `jwks_uri`; which keys may have signed a token.

use std::fmt;

use jwt_compact::prelude::*;
use serde::{de::DeserializeOwned, Deserialize};
use serde_json::Value;

use super::jwk::{parse_private, parse_public, SigningKey, VerifyingKey};
use super::{err, Alg, KeyError};

/// Why a token did not verify. The message is safe to show: it names no key material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    Malformed,
    AlgNotAllowed(String),
    UnknownKey,
    BadSignature,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifyError::Malformed => f.write_str("the token is not a well-formed JWT"),
            VerifyError::AlgNotAllowed(alg) => write!(f, "the algorithm {alg:?} is not accepted"),
            VerifyError::UnknownKey => f.write_str("the token was not signed by a key of this provider"),
            VerifyError::BadSignature => f.write_str("the token's signature is invalid"),
        }
    }
}

/// All keys of the provider.
pub struct KeySet {
    signing: Vec<SigningKey>,
    verifying: Vec<VerifyingKey>,
    public_jwks: Value,
}

#[derive(Deserialize)]
struct RawJwks {
    keys: Vec<Value>,
}

fn parse_jwks(json: &str) -> Result<Vec<Value>, KeyError> {
    let raw: RawJwks =
        serde_json::from_str(json).map_err(|e| err(format!("not a JWKS object {{\"keys\": [...]}}: {e}")))?;
    Ok(raw.keys)
}

/// A compact JWT taken apart for verification: which keys may have signed it (by `alg` and
/// `kid`, each key accepting only its own algorithm), and what they signed.
pub struct Candidates<'a, 'k> {
    pub token: UntrustedToken<'a>,
    pub keys: Vec<&'k VerifyingKey>,
    /// `base64url(header).base64url(payload)`.
    pub signing_input: &'a str,
    pub signature: Vec<u8>,
}

impl KeySet {
    /// `signing_jwks` is the private JWKS (`SIGNING_JWKS`); `extra_jwks` the optional public keys
    /// also accepted for `id_token_hint` (`ID_TOKEN_JWKS`).
    pub fn parse(signing_jwks: &str, extra_jwks: Option<&str>) -> Result<KeySet, KeyError> {
        let signing = parse_jwks(signing_jwks)?
            .iter()
            .enumerate()
            .map(|(i, v)| parse_private(v, i))
            .collect::<Result<Vec<_>, _>>()?;
        if signing.is_empty() {
            return Err(err("holds no keys"));
        }
        for (i, key) in signing.iter().enumerate() {
            if signing[..i].iter().any(|k| k.kid == key.kid) {
                return Err(err(format!("two keys share the kid {:?}", key.kid)));
            }
        }
        if !signing.iter().any(|k| k.alg == Alg::RS256) {
            return Err(err("needs an RS256 key: RS256 is the default ID token algorithm"));
        }
        let verifying: Vec<VerifyingKey> = signing.iter().map(|k| k.public().clone()).collect();
        let set = KeySet { signing, verifying, public_jwks: Value::Null }.published();
        match extra_jwks {
            None => Ok(set),
            Some(extra) => set.with_extra(extra),
        }
    }

    /// This set with the public keys of `extra_jwks` (`ID_TOKEN_JWKS`) accepted and published
    /// too. An error here is the extra set's: configuration names that setting for it, without
    /// parsing the signing keys a second time.
    pub fn with_extra(mut self, extra_jwks: &str) -> Result<KeySet, KeyError> {
        let extra = parse_jwks(extra_jwks)?
            .iter()
            .enumerate()
            .map(|(i, v)| parse_public(v, i))
            .collect::<Result<Vec<_>, _>>()?;
        // One kid, one key across both sets: a relying party picks the key by kid alone.
        for (i, key) in extra.iter().enumerate() {
            let Some(kid) = key.kid.as_deref() else { continue };
            if self.signing.iter().any(|k| k.kid == kid) {
                return Err(err(format!("key {i}: the kid {kid:?} is already a key of SIGNING_JWKS")));
            }
            if extra[..i].iter().any(|k| k.kid.as_deref() == Some(kid)) {
                return Err(err(format!("key {i}: two keys share the kid {kid:?}")));
            }
        }
        self.verifying.extend(extra);
        Ok(self.published())
    }

    /// With `public_jwks` built from the verifying keys.
    fn published(mut self) -> KeySet {
        self.public_jwks =
            serde_json::json!({ "keys": self.verifying.iter().map(VerifyingKey::public_jwk).collect::<Vec<_>>() });
        self
    }

    /// The JWKS served at `jwks_uri`: the public parts of the signing keys, then the
    /// `ID_TOKEN_JWKS` keys (public by construction: a private member is refused).
    pub fn public_jwks(&self) -> &Value {
        &self.public_jwks
    }

    /// The algorithms this provider can sign with.
    pub fn signing_algs(&self) -> Vec<Alg> {
        Alg::ALL.into_iter().filter(|a| self.signing.iter().any(|k| k.alg == *a)).collect()
    }

    /// The algorithms an `id_token_hint` may be signed with (signing and extra keys).
    pub fn verifying_algs(&self) -> Vec<Alg> {
        Alg::ALL.into_iter().filter(|a| self.verifying.iter().any(|k| k.alg == *a)).collect()
    }

    /// The newest key of `alg` (the last one listed), whatever its `sign_from`: for tests and
    /// tools. What signs at a given time is [`KeySet::signer_at`].
    pub fn signer(&self, alg: Alg) -> Option<&SigningKey> {
        self.signing.iter().rev().find(|k| k.alg == alg)
    }

    /// The key that signs with `alg` at `now`: the last one listed whose `sign_from` has come
    /// (a rotation appends the new key with a `sign_from` ahead, so that it is published before
    /// it signs); when none of `alg` may sign yet, the one that starts first.
    pub fn signer_at(&self, alg: Alg, now: i64) -> Option<&SigningKey> {
        let of_alg = || self.signing.iter().filter(move |k| k.alg == alg);
        of_alg().rev().find(|k| k.sign_from.is_none_or(|t| t <= now)).or_else(|| of_alg().min_by_key(|k| k.sign_from))
    }

    /// Verifies a compact JWT's signature with the key its `kid` names (or, without a `kid`, any
    /// key of its `alg`), and returns its claims. Time claims are not checked here.
    pub fn verify<T: DeserializeOwned>(&self, jwt: &str) -> Result<Token<T>, VerifyError> {
        let c = self.candidates(jwt)?;
        c.keys.iter().find_map(|k| k.verify(&c.token)).ok_or(VerifyError::BadSignature)
    }

    /// The keys that may have signed `jwt` (none: an error saying why), for a signature check
    /// made elsewhere (WebCrypto).
    pub fn candidates<'a>(&self, jwt: &'a str) -> Result<Candidates<'a, '_>, VerifyError> {
        let token = UntrustedToken::new(jwt).map_err(|_| VerifyError::Malformed)?;
        let alg = Alg::parse(token.algorithm())
            .ok_or_else(|| VerifyError::AlgNotAllowed(token.algorithm().chars().take(16).collect()))?;
        let kid = token.header().key_id.as_deref();
        let keys: Vec<&VerifyingKey> =
            self.verifying.iter().filter(|k| k.alg == alg && (kid.is_none() || k.kid.as_deref() == kid)).collect();
        if keys.is_empty() {
            return Err(VerifyError::UnknownKey);
        }
        let (signing_input, _) = jwt.rsplit_once('.').ok_or(VerifyError::Malformed)?;
        let signature = token.signature_bytes().to_vec();
        Ok(Candidates { token, keys, signing_input, signature })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::generate;
    use crate::testing::{jwks as test_jwks, keys as test_keys};

    fn claims() -> Claims<Value> {
        Claims::new(serde_json::json!({"sub": "alice"}))
    }

    #[test]
    fn signs_and_verifies_with_every_algorithm() {
        let keys = test_keys();
        for alg in Alg::ALL {
            let signer = keys.signer(alg).unwrap();
            let jwt = signer.sign(Some("logout+jwt"), &claims());
            let token = keys.verify::<Value>(&jwt).unwrap();
            assert_eq!(UntrustedToken::new(&jwt).unwrap().algorithm(), alg.name());
            assert_eq!(token.header().key_id.as_deref(), Some(signer.kid.as_str()));
            assert_eq!(token.header().token_type.as_deref(), Some("logout+jwt"));
            assert_eq!(token.claims().custom["sub"], "alice");
        }
    }

    /// The test RS256 key, an ES256 key signing from the start, and a newer ES256 key whose
    /// `sign_from` is `sign_from`.
    fn rotating(sign_from: Value) -> KeySet {
        let jwks: Value = serde_json::from_str(test_jwks()).unwrap();
        let mut new = generate::private_jwk(Alg::ES256, "es-new");
        new["sign_from"] = sign_from;
        let keys = serde_json::json!({"keys": [jwks["keys"][0], generate::private_jwk(Alg::ES256, "es-old"), new]});
        KeySet::parse(&keys.to_string(), None).unwrap()
    }

    #[test]
    fn a_new_key_is_published_at_once_and_signs_only_from_its_sign_from_time() {
        for at in [serde_json::json!(1_800_000_000), serde_json::json!("2027-01-15T08:00:00Z")] {
            let keys = rotating(at.clone());
            let t = 1_800_000_000;
            let kids: Vec<&str> =
                keys.public_jwks()["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
            assert!(kids.contains(&"es-new"), "published before it signs: {kids:?}");
            assert!(keys.public_jwks()["keys"].as_array().unwrap().iter().all(|k| k.get("sign_from").is_none()));
            let from = keys.signer(Alg::ES256).unwrap().sign_from.unwrap();
            assert_eq!(from, t, "{at}: 2027-01-15T08:00:00Z is 1800000000");
            assert_eq!(keys.signer_at(Alg::ES256, from - 1).unwrap().kid, "es-old", "{at}");
            assert_eq!(keys.signer_at(Alg::ES256, from).unwrap().kid, "es-new", "{at}");
            assert!(keys.signer_at(Alg::ES256, from).unwrap().private_jwk().get("sign_from").is_none());
            // Its tokens verify with the same set.
            let jwt = keys.signer_at(Alg::ES256, from).unwrap().sign(None, &claims());
            assert!(keys.verify::<Value>(&jwt).is_ok());
        }
        // The only key of an algorithm, not signing yet: it signs anyway (nothing else can).
        let jwks: Value = serde_json::from_str(test_jwks()).unwrap();
        let mut only = jwks["keys"][0].clone();
        only["sign_from"] = serde_json::json!(2_000_000_000);
        let keys = KeySet::parse(&serde_json::json!({"keys": [only]}).to_string(), None).unwrap();
        assert_eq!(keys.signer_at(Alg::RS256, 0).unwrap().kid, "test-rs256");
    }

    #[test]
    fn a_sign_from_that_is_not_a_time_is_refused() {
        for bad in
            [serde_json::json!("tomorrow"), serde_json::json!(-5), serde_json::json!(1.5), serde_json::json!(true)]
        {
            let jwks: Value = serde_json::from_str(test_jwks()).unwrap();
            let mut key = jwks["keys"][0].clone();
            key["sign_from"] = bad.clone();
            let e = KeySet::parse(&serde_json::json!({"keys": [key]}).to_string(), None).err().unwrap();
            assert!(e.0.contains("sign_from"), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn generated_rsa_keys_carry_the_crt_members() {
        let jwks: Value = serde_json::from_str(test_jwks()).unwrap();
        let rsa = &jwks["keys"][0];
        assert_eq!(rsa["kty"], "RSA");
        for member in ["n", "e", "d", "p", "q", "dp", "dq", "qi"] {
            assert!(rsa[member].as_str().is_some_and(|v| !v.is_empty()), "{member}");
        }
    }

    #[test]
    fn signature_checks_agree_with_verification() {
        let keys = test_keys();
        for alg in Alg::ALL {
            let jwt = keys.signer(alg).unwrap().sign(None, &claims());
            let c = keys.candidates(&jwt).unwrap();
            assert_eq!(c.keys.len(), 1);
            assert!(c.keys[0].signature_valid(c.signing_input.as_bytes(), &c.signature), "{alg}");
            let mut bad = c.signature.clone();
            bad[3] ^= 1;
            assert!(!c.keys[0].signature_valid(c.signing_input.as_bytes(), &bad), "{alg}");
            assert!(!c.keys[0].signature_valid(b"other input", &c.signature), "{alg}");
            assert!(!c.keys[0].signature_valid(c.signing_input.as_bytes(), &c.signature[..10]), "{alg}");
        }
    }

    #[test]
    fn public_jwks_has_no_private_members() {
        let jwks = test_keys().public_jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        for k in keys {
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(k.get(private).is_none(), "{private} in {k}");
            }
            assert!(k["kid"].is_string() && k["alg"].is_string());
            assert_eq!(k["use"], "sig");
        }
    }

    #[test]
    fn public_jwks_verifies_what_the_keys_sign() {
        let keys = test_keys();
        let public = KeySet {
            signing: vec![],
            verifying: test_keys().public_jwks()["keys"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, v)| parse_public(v, i).unwrap())
                .collect(),
            public_jwks: Value::Null,
        };
        for alg in Alg::ALL {
            let jwt = keys.signer(alg).unwrap().sign(None, &claims());
            assert!(public.verify::<Value>(&jwt).is_ok(), "{alg}");
        }
    }

    fn b64(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn rejects_alg_none_hmac_and_mismatched_alg() {
        let keys = test_keys();
        let body = b64(br#"{"sub":"alice"}"#);
        let none = format!("{}.{}.", b64(br#"{"alg":"none"}"#), body);
        assert_eq!(keys.verify::<Value>(&none).unwrap_err(), VerifyError::AlgNotAllowed("none".into()));

        // HS256 keyed with the public key's bytes: the classic key-confusion attack.
        let public = serde_json::to_vec(&keys.public_jwks()["keys"][0]).unwrap();
        let header = Header::empty().with_key_id("test-rs256");
        let hs = jwt_compact::alg::Hs256.token(&header, &claims(), &jwt_compact::alg::Hs256Key::new(public)).unwrap();
        assert!(matches!(keys.verify::<Value>(&hs), Err(VerifyError::AlgNotAllowed(_))));

        // An ES256 signature presented as RS256 under the RSA key's kid.
        let es = keys.signer(Alg::ES256).unwrap().sign(None, &claims());
        let sig = es.rsplit('.').next().unwrap();
        let forged = format!("{}.{}.{}", b64(br#"{"alg":"RS256","kid":"test-rs256"}"#), body, sig);
        assert_eq!(keys.verify::<Value>(&forged).unwrap_err(), VerifyError::BadSignature);

        // RS256 under the EC key's kid: no RS256 key has that kid.
        let mismatched = format!("{}.{}.{}", b64(br#"{"alg":"RS256","kid":"test-es256"}"#), body, sig);
        assert_eq!(keys.verify::<Value>(&mismatched).unwrap_err(), VerifyError::UnknownKey);
    }

    #[test]
    fn rejects_modified_and_foreign_tokens() {
        let keys = test_keys();
        let jwt = keys.signer(Alg::RS256).unwrap().sign(None, &claims());
        let mut parts: Vec<String> = jwt.split('.').map(str::to_string).collect();
        parts[1] = b64(br#"{"sub":"mallory"}"#);
        assert_eq!(keys.verify::<Value>(&parts.join(".")).unwrap_err(), VerifyError::BadSignature);

        let foreign = KeySet::parse(
            &serde_json::json!({"keys": [generate::private_jwk(Alg::RS256, "test-rs256")]}).to_string(),
            None,
        )
        .unwrap();
        let jwt = foreign.signer(Alg::RS256).unwrap().sign(None, &claims());
        assert_eq!(keys.verify::<Value>(&jwt).unwrap_err(), VerifyError::BadSignature);
        assert_eq!(keys.verify::<Value>("not.a.jwt").unwrap_err(), VerifyError::Malformed);
    }

    #[test]
    fn extra_verification_keys_are_accepted_for_verification_only() {
        let upstream = KeySet::parse(
            &serde_json::json!({"keys": [generate::private_jwk(Alg::RS256, "upstream")]}).to_string(),
            None,
        )
        .unwrap();
        let extra = upstream.public_jwks().to_string();
        let keys = KeySet::parse(test_jwks(), Some(&extra)).unwrap();
        let jwt = upstream.signer(Alg::RS256).unwrap().sign(None, &claims());
        assert!(keys.verify::<Value>(&jwt).is_ok());
        assert_eq!(keys.signer(Alg::RS256).unwrap().kid, "test-rs256");
        assert_eq!(keys.signing_algs(), Alg::ALL.to_vec());
    }

    #[test]
    fn public_jwks_publishes_both_sets_without_private_members() {
        let login =
            [generate::private_jwk(Alg::RS256, "login-rs256"), generate::private_jwk(Alg::ES256, "login-es256")];
        let login_public = serde_json::json!({ "keys": login.iter().map(|k| {
            let mut k = k.clone();
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                k.as_object_mut().unwrap().remove(private);
            }
            k
        }).collect::<Vec<_>>() });
        let keys = KeySet::parse(test_jwks(), Some(&login_public.to_string())).unwrap();
        let served = keys.public_jwks()["keys"].as_array().unwrap();
        let kids: Vec<&str> = served.iter().map(|k| k["kid"].as_str().unwrap()).collect();
        assert_eq!(kids, ["test-rs256", "test-es256", "test-eddsa", "login-rs256", "login-es256"]);
        for k in served {
            for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
                assert!(k.get(private).is_none(), "{private} in {k}");
            }
        }
        // What the login half signs verifies with the served JWKS alone, as a relying party does it.
        let served_set = KeySet {
            signing: vec![],
            verifying: served.iter().enumerate().map(|(i, v)| parse_public(v, i).unwrap()).collect(),
            public_jwks: Value::Null,
        };
        let login_keys = KeySet::parse(&serde_json::json!({ "keys": login }).to_string(), None).unwrap();
        for alg in [Alg::RS256, Alg::ES256] {
            let jwt = login_keys.signer(alg).unwrap().sign(None, &claims());
            assert!(served_set.verify::<Value>(&jwt).is_ok(), "{alg}");
        }
    }

    #[test]
    fn a_kid_names_one_key_across_both_sets() {
        let public = |kid: &str| {
            let mut k = generate::private_jwk(Alg::ES256, kid);
            k.as_object_mut().unwrap().remove("d");
            k
        };
        let clash = serde_json::json!({ "keys": [public("test-es256")] }).to_string();
        let e = KeySet::parse(test_jwks(), Some(&clash)).err().unwrap().0;
        assert!(e.contains("\"test-es256\" is already a key of SIGNING_JWKS"), "{e}");
        let twice = serde_json::json!({ "keys": [public("login"), public("login")] }).to_string();
        let e = KeySet::parse(test_jwks(), Some(&twice)).err().unwrap().0;
        assert!(e.contains("two keys share the kid \"login\""), "{e}");
        let distinct = serde_json::json!({ "keys": [public("login-1"), public("login-2")] }).to_string();
        assert!(KeySet::parse(test_jwks(), Some(&distinct)).is_ok());
    }

    #[test]
    fn configuration_errors_are_explained() {
        let e = |json: &str| KeySet::parse(json, None).err().unwrap().0;
        assert!(e("nope").contains("not a JWKS"));
        assert!(e(r#"{"keys": []}"#).contains("no keys"));
        let mut no_kid = generate::private_jwk(Alg::ES256, "x");
        no_kid.as_object_mut().unwrap().remove("kid");
        assert!(e(&serde_json::json!({"keys": [no_kid]}).to_string()).contains("kid"));
        let only_ec = serde_json::json!({"keys": [generate::private_jwk(Alg::ES256, "x")]}).to_string();
        assert!(e(&only_ec).contains("RS256"));
        let mut wrong_alg = generate::private_jwk(Alg::ES256, "x");
        wrong_alg["alg"] = "RS256".into();
        assert!(e(&serde_json::json!({"keys": [wrong_alg]}).to_string()).contains("does not fit"));
        let public_only = test_keys().public_jwks().to_string();
        assert!(e(&public_only).contains("private"));
        let extra_private = KeySet::parse(test_jwks(), Some(test_jwks())).err().unwrap().0;
        assert!(extra_private.contains("public keys only"));
    }

    /// What WebCrypto needs to import a private key, and a public half that is the private key's,
    /// are checked at parse time: the worker's own signer never sees a key it would fail with.
    #[test]
    fn private_keys_must_be_complete_and_consistent() {
        let e = |key: Value| KeySet::parse(&serde_json::json!({"keys": [key]}).to_string(), None).err().unwrap().0;
        for member in ["d", "p", "q", "dp", "dq", "qi"] {
            let mut rsa = generate::private_jwk(Alg::RS256, "r");
            rsa.as_object_mut().unwrap().remove(member);
            assert!(e(rsa).contains(&format!("needs the member \"{member}\"")), "{member}");
        }
        let rs = |kid| generate::private_jwk(Alg::RS256, kid);
        // Another key's public members, which the public JWKS would publish: refused (by the
        // JWK parsing of the Rust keys, which the host and the config check always run).
        for (alg, members) in [(Alg::RS256, &["n"][..]), (Alg::ES256, &["x", "y"][..]), (Alg::EdDSA, &["x"][..])] {
            let mut mixed = generate::private_jwk(alg, "a");
            let other = generate::private_jwk(alg, "b");
            for m in members {
                mixed[*m] = other[*m].clone();
            }
            let keys = serde_json::json!({"keys": [rs("r"), mixed]}).to_string();
            let error = KeySet::parse(&keys, None).err().unwrap().0;
            assert!(error.starts_with(&format!("key \"a\": not a valid private {alg} key")), "{alg}: {error}");
        }
    }

    /// Public JWKs are built from their members by hand (not serde's tagged `JsonWebKey`): each
    /// key type still parses, a missing member is named, and a malformed one (not a string,
    /// padded or not base64url) is refused without its value in the message.
    #[test]
    fn public_jwks_are_read_member_by_member() {
        let extra = |key: Value| KeySet::parse(test_jwks(), Some(&serde_json::json!({"keys": [key]}).to_string()));
        for alg in Alg::ALL {
            let private = generate::private_jwk(alg, "p");
            let mut public = private.as_object().unwrap().clone();
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                public.remove(private);
            }
            let public = Value::Object(public);
            let keys = extra(public.clone()).unwrap();
            // A signing set needs an RS256 key: another one beside an ES256 or EdDSA key.
            let mut signing = vec![private.clone()];
            if alg != Alg::RS256 {
                signing.push(generate::private_jwk(Alg::RS256, "r"));
            }
            let signer = KeySet::parse(&serde_json::json!({"keys": signing}).to_string(), None).unwrap();
            let token = signer.signer(alg).unwrap().sign(None, &jwt_compact::Claims::new(serde_json::json!({"a": 1})));
            assert!(keys.verify::<Value>(&token).is_ok(), "{alg}");
            let member = if alg == Alg::RS256 { "n" } else { "x" };
            let mut missing = public.clone();
            missing.as_object_mut().unwrap().remove(member);
            let error = extra(missing).err().unwrap().0;
            assert!(error.ends_with(&format!("not a valid JWK: missing field `{member}`")), "{alg}: {error}");
            let text = public[member].as_str().unwrap().to_string();
            for bad in [Value::from(7), Value::from(format!("{text}=")), Value::from(format!("{text}+/"))] {
                let mut malformed = public.clone();
                malformed[member] = bad.clone();
                let error = extra(malformed).err().unwrap().0;
                assert!(error.ends_with("not a valid JWK: a member is malformed"), "{alg} {bad}: {error}");
            }
        }
    }
}

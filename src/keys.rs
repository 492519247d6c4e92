//! The provider's keys: private signing keys from `SIGNING_JWKS`, extra verification keys from
//! `ID_TOKEN_JWKS`, and the public JWKS served at `jwks_uri`. Parsed once per isolate.
//!
//! Every key is tied to exactly one algorithm, so a token's `alg` header can only select a key of
//! the matching type: `none`, HS* with a public key's bytes, or RS256 against an EC key never verify.

use std::fmt;

use jwt_compact::{
    alg::{Ed25519, Es256, Rsa, RsaPrivateKey, RsaPublicKey, StrongKey},
    jwk::JsonWebKey,
    prelude::*,
    AlgorithmExt,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;

/// The signature algorithms this provider signs and verifies with. Anything else is rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
}

impl Alg {
    pub const ALL: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    pub fn name(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    pub fn parse(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|a| a.name() == name)
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err(msg: impl Into<String>) -> KeyError {
    KeyError(msg.into())
}

enum PrivateMaterial {
    Rsa(Box<StrongKey<RsaPrivateKey>>),
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_compact::SecretKey),
}

enum PublicMaterial {
    Rsa(Box<StrongKey<RsaPublicKey>>),
    Es256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_compact::PublicKey),
}

/// One private signing key of the provider.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    material: PrivateMaterial,
    /// The JWK as configured, for importing into the runtime's WebCrypto.
    private_jwk: Value,
}

/// One public key a token may be verified with.
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: Alg,
    material: PublicMaterial,
}

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

fn str_member<'a>(jwk: &'a Value, name: &str) -> Option<&'a str> {
    jwk.get(name).and_then(Value::as_str)
}

/// The algorithm a JWK is for: its `alg` when present (and then it must fit the key type),
/// otherwise the one algorithm this provider uses with that key type.
fn alg_of(jwk: &Value, index: usize) -> Result<Alg, KeyError> {
    let kty = str_member(jwk, "kty").unwrap_or("");
    let crv = str_member(jwk, "crv").unwrap_or("");
    let implied = match (kty, crv) {
        ("RSA", _) => Alg::RS256,
        ("EC", "P-256") => Alg::ES256,
        ("OKP", "Ed25519") => Alg::EdDSA,
        _ => {
            return Err(err(format!(
                "key {index}: unsupported key type {kty:?} {crv:?} (RSA, EC P-256 and OKP Ed25519 are)"
            )))
        }
    };
    match str_member(jwk, "alg") {
        None => Ok(implied),
        Some(name) => match Alg::parse(name) {
            Some(alg) if alg == implied => Ok(alg),
            Some(alg) => Err(err(format!("key {index}: alg {alg} does not fit key type {kty}"))),
            None => Err(err(format!("key {index}: unsupported alg {name:?} (RS256, ES256, EdDSA are)"))),
        },
    }
}

fn jwk_of(value: &Value, index: usize) -> Result<JsonWebKey<'static>, KeyError> {
    // serde's messages can quote the offending value: only "missing field" ones are kept, so
    // that no key material reaches an error message or a log.
    serde_json::from_value::<JsonWebKey<'static>>(value.clone()).map_err(|e| {
        let e = e.to_string();
        let detail = if e.starts_with("missing field") { e.as_str() } else { "a member is malformed" };
        err(format!("key {index}: not a valid JWK: {detail}"))
    })
}

fn parse_private(value: &Value, index: usize) -> Result<SigningKey, KeyError> {
    let kid = str_member(value, "kid")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| err(format!("key {index}: a signing key needs a \"kid\"")))?
        .to_string();
    if str_member(value, "alg").is_none() {
        return Err(err(format!("key {kid:?}: a signing key needs an \"alg\"")));
    }
    let alg = alg_of(value, index)?;
    let jwk = jwk_of(value, index)?;
    let bad = |what: &dyn fmt::Display| err(format!("key {kid:?}: not a valid private {alg} key: {what}"));
    let material = match alg {
        Alg::RS256 => {
            let mut key = RsaPrivateKey::try_from(&jwk).map_err(|e| bad(&e))?;
            // Without the CRT values every signature costs several times more.
            key.precompute().map_err(|e| bad(&e))?;
            let strong = StrongKey::try_from(key).map_err(|_| bad(&"RSA keys must have at least 2048 bits"))?;
            PrivateMaterial::Rsa(Box::new(strong))
        }
        Alg::ES256 => PrivateMaterial::Es256(p256::ecdsa::SigningKey::try_from(&jwk).map_err(|e| bad(&e))?),
        Alg::EdDSA => PrivateMaterial::Ed25519(ed25519_compact::SecretKey::try_from(&jwk).map_err(|e| bad(&e))?),
    };
    Ok(SigningKey { kid, alg, material, private_jwk: value.clone() })
}

fn parse_public(value: &Value, index: usize) -> Result<VerifyingKey, KeyError> {
    if str_member(value, "d").is_some() {
        return Err(err(format!("key {index}: ID_TOKEN_JWKS must hold public keys only")));
    }
    let kid = str_member(value, "kid").map(str::to_string);
    let alg = alg_of(value, index)?;
    let jwk = jwk_of(value, index)?;
    let bad = |what: &dyn fmt::Display| err(format!("key {index}: not a valid public {alg} key: {what}"));
    let material = match alg {
        Alg::RS256 => {
            let key = RsaPublicKey::try_from(&jwk).map_err(|e| bad(&e))?;
            PublicMaterial::Rsa(Box::new(
                StrongKey::try_from(key).map_err(|_| bad(&"RSA keys must have at least 2048 bits"))?,
            ))
        }
        Alg::ES256 => PublicMaterial::Es256(p256::ecdsa::VerifyingKey::try_from(&jwk).map_err(|e| bad(&e))?),
        Alg::EdDSA => PublicMaterial::Ed25519(ed25519_compact::PublicKey::try_from(&jwk).map_err(|e| bad(&e))?),
    };
    Ok(VerifyingKey { kid, alg, material })
}

impl SigningKey {
    fn public(&self) -> VerifyingKey {
        let material = match &self.material {
            PrivateMaterial::Rsa(k) => PublicMaterial::Rsa(Box::new(
                StrongKey::try_from(k.as_ref().as_ref().to_public_key())
                    .expect("the public half of a strong key is strong"),
            )),
            PrivateMaterial::Es256(k) => PublicMaterial::Es256(*k.verifying_key()),
            PrivateMaterial::Ed25519(k) => PublicMaterial::Ed25519(k.public_key()),
        };
        VerifyingKey { kid: Some(self.kid.clone()), alg: self.alg, material }
    }

    /// The private JWK as configured (all RSA CRT members included), for WebCrypto's importKey.
    pub fn private_jwk(&self) -> &Value {
        &self.private_jwk
    }

    /// The JWS signature of `input` (RS256: PKCS#1 v1.5; ES256: r || s; EdDSA: Ed25519).
    pub fn sign_bytes(&self, input: &[u8]) -> Vec<u8> {
        use jwt_compact::{Algorithm, AlgorithmSignature};
        match &self.material {
            PrivateMaterial::Rsa(k) => Rsa::rs256().sign(k.as_ref().as_ref(), input).as_bytes().into_owned(),
            PrivateMaterial::Es256(k) => Es256.sign(k, input).as_bytes().into_owned(),
            PrivateMaterial::Ed25519(k) => Ed25519.sign(k, input).as_bytes().into_owned(),
        }
    }

    /// Signs `claims` as a compact JWT with this key's `alg` and `kid`, and `typ` when given.
    pub fn sign<T: Serialize>(&self, typ: Option<&str>, claims: &Claims<T>) -> String {
        let mut header = Header::empty().with_key_id(self.kid.clone());
        if let Some(typ) = typ {
            header = header.with_token_type(typ);
        }
        let signed = match &self.material {
            PrivateMaterial::Rsa(k) => Rsa::rs256().token(&header, claims, k.as_ref().as_ref()),
            PrivateMaterial::Es256(k) => Es256.token(&header, claims, k),
            PrivateMaterial::Ed25519(k) => Ed25519.token(&header, claims, k),
        };
        signed.expect("signing serialisable claims cannot fail")
    }
}

impl VerifyingKey {
    /// The public JWK (with `kid`, `alg`, `use`), for `jwks_uri` and WebCrypto's importKey.
    pub fn public_jwk(&self) -> Value {
        let jwk = match &self.material {
            PublicMaterial::Rsa(k) => serde_json::to_value(JsonWebKey::from(k.as_ref().as_ref())),
            PublicMaterial::Es256(k) => serde_json::to_value(JsonWebKey::from(k)),
            PublicMaterial::Ed25519(k) => serde_json::to_value(JsonWebKey::from(k)),
        };
        let mut jwk = jwk.expect("a public JWK serialises");
        let obj = jwk.as_object_mut().expect("a JWK is an object");
        if let Some(kid) = &self.kid {
            obj.insert("kid".into(), Value::String(kid.clone()));
        }
        obj.insert("alg".into(), Value::String(self.alg.name().into()));
        obj.insert("use".into(), Value::String("sig".into()));
        jwk
    }

    fn verify<T: DeserializeOwned>(&self, token: &UntrustedToken<'_>) -> Option<Token<T>> {
        match &self.material {
            PublicMaterial::Rsa(k) => Rsa::rs256().validator(k.as_ref().as_ref()).validate(token).ok(),
            PublicMaterial::Es256(k) => Es256.validator(k).validate(token).ok(),
            PublicMaterial::Ed25519(k) => Ed25519.validator(k).validate(token).ok(),
        }
    }

    /// Whether `signature` is this key's JWS signature over `input`, computed in Rust (the
    /// worker checks with WebCrypto instead; the answers are the same).
    pub fn signature_valid(&self, input: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            PublicMaterial::Rsa(k) => check(&Rsa::rs256(), k.as_ref().as_ref(), input, signature),
            PublicMaterial::Es256(k) => check(&Es256, k, input, signature),
            PublicMaterial::Ed25519(k) => check(&Ed25519, k, input, signature),
        }
    }
}

/// One signature check, refusing a signature of the wrong length before parsing it (some
/// signature types panic on one).
fn check<A: jwt_compact::Algorithm>(alg: &A, key: &A::VerifyingKey, input: &[u8], signature: &[u8]) -> bool {
    use jwt_compact::AlgorithmSignature;
    if A::Signature::LENGTH.is_some_and(|len| len.get() != signature.len()) {
        return false;
    }
    A::Signature::try_from_slice(signature).is_ok_and(|sig| alg.verify_signature(&sig, key, input))
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
        let mut verifying: Vec<VerifyingKey> = signing.iter().map(SigningKey::public).collect();
        let public_jwks =
            serde_json::json!({ "keys": verifying.iter().map(VerifyingKey::public_jwk).collect::<Vec<_>>() });
        if let Some(extra) = extra_jwks {
            let extra = parse_jwks(extra)?
                .iter()
                .enumerate()
                .map(|(i, v)| parse_public(v, i))
                .collect::<Result<Vec<_>, _>>()?;
            verifying.extend(extra);
        }
        Ok(KeySet { signing, verifying, public_jwks })
    }

    /// The JWKS served at `jwks_uri`: public parts of the signing keys only.
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

    /// The key that signs with `alg`: the last one listed, so that a rotation appends the new key.
    pub fn signer(&self, alg: Alg) -> Option<&SigningKey> {
        self.signing.iter().rev().find(|k| k.alg == alg)
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

/// Key generation, for tests and the development setup.
pub mod generate {
    use super::*;
    use jwt_compact::alg::ModulusBits;

    fn with_meta(jwk: JsonWebKey<'_>, kid: &str, alg: Alg) -> Value {
        let mut v = serde_json::to_value(jwk).expect("a JWK serialises");
        let obj = v.as_object_mut().expect("a JWK is an object");
        obj.insert("kid".into(), kid.into());
        obj.insert("alg".into(), alg.name().into());
        obj.insert("use".into(), "sig".into());
        v
    }

    /// A private JWK for `alg`, as `SIGNING_JWKS` holds it.
    pub fn private_jwk(alg: Alg, kid: &str) -> Value {
        match alg {
            Alg::RS256 => {
                use base64::Engine;
                use rsa::traits::PrivateKeyParts;
                let (sk, _) =
                    Rsa::generate(&mut rand_core::OsRng, ModulusBits::TwoKibibytes).expect("RSA key generation");
                let key: &RsaPrivateKey = sk.as_ref();
                let mut jwk = with_meta(JsonWebKey::from(key), kid, alg);
                // jwt-compact leaves out the CRT members; WebCrypto's importKey needs them.
                let b64 = |n: &rsa::BigUint| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_bytes_be());
                jwk["dp"] = b64(key.dp().expect("precomputed")).into();
                jwk["dq"] = b64(key.dq().expect("precomputed")).into();
                jwk["qi"] = b64(&key.crt_coefficient().expect("two primes")).into();
                jwk
            }
            Alg::ES256 => {
                let sk = p256::ecdsa::SigningKey::random(&mut rand_core::OsRng);
                with_meta(JsonWebKey::from(&sk), kid, alg)
            }
            Alg::EdDSA => {
                let kp = ed25519_compact::KeyPair::generate();
                with_meta(JsonWebKey::from(&kp.sk), kid, alg)
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::OnceLock;

    /// One private JWKS with a key per algorithm, generated once per test binary.
    pub fn test_jwks() -> &'static str {
        static JWKS: OnceLock<String> = OnceLock::new();
        JWKS.get_or_init(|| {
            let keys: Vec<Value> = Alg::ALL
                .iter()
                .map(|a| generate::private_jwk(*a, &format!("test-{}", a.name().to_lowercase())))
                .collect();
            serde_json::json!({ "keys": keys }).to_string()
        })
    }

    pub fn test_keys() -> &'static KeySet {
        static KEYS: OnceLock<KeySet> = OnceLock::new();
        KEYS.get_or_init(|| KeySet::parse(test_jwks(), None).unwrap())
    }

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
        assert_eq!(keys.public_jwks()["keys"].as_array().unwrap().len(), 3);
        assert_eq!(keys.signer(Alg::RS256).unwrap().kid, "test-rs256");
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
}

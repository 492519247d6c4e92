//! One key, parsed from its JWK: a private signing key or a public verification key, each tied
//! to exactly one algorithm, and the signatures they make and check.
//!
//! The worker signs and verifies with the runtime's WebCrypto (`edge::signer`), so the Rust
//! signing code is only compiled where it is used: on the host (tests, fixtures, the keys tool)
//! and in a worker built with the `wasm-crypto` feature (`SIGNER=wasm`, for comparison). Leaving
//! it out of the default worker takes RSA's private-key arithmetic, ECDSA's nonces and Ed25519's
//! tables out of the upload (bench/ measures the size); the Rust verifier, unused there, is left
//! out by the linker. Keys are still parsed and checked in Rust everywhere.

use std::fmt;

#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
use jwt_compact::alg::RsaPrivateKey;
use jwt_compact::{
    alg::{Ed25519, Es256, Rsa, RsaPublicKey, StrongKey},
    jwk::JsonWebKey,
    prelude::*,
    AlgorithmExt,
};
use serde::de::DeserializeOwned;
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
use serde::Serialize;
use serde_json::Value;

use super::{err, Alg, KeyError};

/// The private key in Rust, where this build signs in Rust (see the module's comment).
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
enum PrivateMaterial {
    Rsa(Box<StrongKey<RsaPrivateKey>>),
    Es256(p256::ecdsa::SigningKey),
    Ed25519(ed25519_compact::SecretKey),
}

#[derive(Clone)]
enum PublicMaterial {
    Rsa(Box<StrongKey<RsaPublicKey>>),
    Es256(p256::ecdsa::VerifyingKey),
    Ed25519(ed25519_compact::PublicKey),
}

/// One private signing key of the provider.
pub struct SigningKey {
    pub kid: String,
    pub alg: Alg,
    /// When this key starts signing (unix seconds), from the private JWK's `sign_from` (unix
    /// seconds, or an RFC 3339 time): until then it is only published at `jwks_uri`, so that
    /// relying parties that cache the JWKS have it before the first token it signs.
    /// `None`: signs from the start.
    pub sign_from: Option<i64>,
    /// The JWK as configured, for importing into the runtime's WebCrypto.
    private_jwk: Value,
    /// Its public half, from the JWK's public members.
    public: VerifyingKey,
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
    material: PrivateMaterial,
}

/// One public key a token may be verified with.
#[derive(Clone)]
pub struct VerifyingKey {
    pub kid: Option<String>,
    pub alg: Alg,
    material: PublicMaterial,
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

#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
fn jwk_of(value: &Value, index: usize) -> Result<JsonWebKey<'static>, KeyError> {
    // serde's messages can quote the offending value: only "missing field" ones are kept, so
    // that no key material reaches an error message or a log.
    serde_json::from_value::<JsonWebKey<'static>>(value.clone()).map_err(|e| {
        let e = e.to_string();
        let detail = if e.starts_with("missing field") { e.as_str() } else { "a member is malformed" };
        err(format!("key {index}: not a valid JWK: {detail}"))
    })
}

/// The public JWK of a key for `alg` (whose `kty` [`alg_of`] checked), built from its members
/// rather than through `JsonWebKey`'s derived `Deserialize`: that one is internally tagged on
/// `kty`, so it buffers every member in serde's `Content` first, code the worker carries for
/// this alone (size of the wasm). Same rules and messages as serde's: each member a base64url
/// string without padding, a missing one named, a malformed one not quoted.
fn public_jwk_of(value: &Value, index: usize, alg: Alg) -> Result<JsonWebKey<'static>, KeyError> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use std::borrow::Cow;
    let invalid = |detail: &str| err(format!("key {index}: not a valid JWK: {detail}"));
    let string = |name: &str| match value.get(name) {
        None => Err(invalid(&format!("missing field `{name}`"))),
        Some(Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(invalid("a member is malformed")),
    };
    let bytes = |name: &str| {
        let text = string(name)?;
        URL_SAFE_NO_PAD.decode(text).map(Cow::Owned).map_err(|_| invalid("a member is malformed"))
    };
    Ok(match alg {
        Alg::RS256 => JsonWebKey::Rsa { modulus: bytes("n")?, public_exponent: bytes("e")?, private_parts: None },
        Alg::ES256 => JsonWebKey::EllipticCurve {
            curve: Cow::Owned(string("crv")?.to_owned()),
            x: bytes("x")?,
            y: bytes("y")?,
            secret: None,
        },
        Alg::EdDSA => {
            JsonWebKey::KeyPair { curve: Cow::Owned(string("crv")?.to_owned()), x: bytes("x")?, secret: None }
        }
    })
}

/// The members of each key type's public half (RFC 7518, section 6) and of its private half.
/// WebCrypto imports an RSA private key only with its CRT members.
fn members(alg: Alg) -> (&'static [&'static str], &'static [&'static str]) {
    match alg {
        Alg::RS256 => (&["kty", "n", "e"], &["d", "p", "q", "dp", "dq", "qi"]),
        Alg::ES256 => (&["kty", "crv", "x", "y"], &["d"]),
        Alg::EdDSA => (&["kty", "crv", "x"], &["d"]),
    }
}

/// The `sign_from` member of a private JWK: unix seconds, or an RFC 3339 time.
fn sign_from(value: &Value, kid: &str) -> Result<Option<i64>, KeyError> {
    let bad = || err(format!("key {kid:?}: \"sign_from\" must be unix seconds or an RFC 3339 time"));
    match value.get(SIGN_FROM) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_i64().filter(|t| *t >= 0).map(Some).ok_or_else(bad),
        Some(Value::String(t)) => {
            chrono::DateTime::parse_from_rfc3339(t).map(|t| Some(t.timestamp())).map_err(|_| bad())
        }
        Some(_) => Err(bad()),
    }
}

/// The private JWK member saying from when a key signs (see [`SigningKey::sign_from`]).
const SIGN_FROM: &str = "sign_from";

pub(super) fn parse_private(value: &Value, index: usize) -> Result<SigningKey, KeyError> {
    let kid = str_member(value, "kid")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| err(format!("key {index}: a signing key needs a \"kid\"")))?
        .to_string();
    let sign_from = sign_from(value, &kid)?;
    // The key itself, without the member only this provider reads (for WebCrypto's importKey).
    let mut value = value.clone();
    if let Some(obj) = value.as_object_mut() {
        obj.remove(SIGN_FROM);
    }
    let value = &value;
    if str_member(value, "alg").is_none() {
        return Err(err(format!("key {kid:?}: a signing key needs an \"alg\"")));
    }
    let alg = alg_of(value, index)?;
    let (public_members, private_members) = members(alg);
    if let Some(missing) = private_members.iter().find(|m| str_member(value, m).is_none_or(str::is_empty)) {
        return Err(err(format!("key {kid:?}: a private {alg} key needs the member {missing:?}")));
    }
    let mut public_jwk = serde_json::Map::new();
    for m in public_members.iter().chain(&["kid", "alg"]) {
        if let Some(v) = value.get(*m) {
            public_jwk.insert((*m).to_string(), v.clone());
        }
    }
    let public = parse_public(&Value::Object(public_jwk), index)
        .map_err(|KeyError(e)| err(format!("key {kid:?}: its public half: {e}")))?;
    Ok(SigningKey {
        #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
        material: private_material(value, index, &kid, alg)?,
        kid,
        alg,
        sign_from,
        private_jwk: value.clone(),
        public,
    })
}

/// The Rust private key of a JWK (whose parsing also refuses public members that are not the
/// private key's).
#[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
fn private_material(value: &Value, index: usize, kid: &str, alg: Alg) -> Result<PrivateMaterial, KeyError> {
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
    Ok(material)
}

pub(super) fn parse_public(value: &Value, index: usize) -> Result<VerifyingKey, KeyError> {
    if str_member(value, "d").is_some() {
        return Err(err(format!("key {index}: ID_TOKEN_JWKS must hold public keys only")));
    }
    let kid = str_member(value, "kid").map(str::to_string);
    let alg = alg_of(value, index)?;
    let jwk = public_jwk_of(value, index, alg)?;
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
    /// Its public half (with `kid`), as the public JWKS publishes it.
    pub fn public(&self) -> &VerifyingKey {
        &self.public
    }

    /// The private JWK as configured (all RSA CRT members included), for WebCrypto's importKey.
    pub fn private_jwk(&self) -> &Value {
        &self.private_jwk
    }

    /// The JWS signature of `input` (RS256: PKCS#1 v1.5; ES256: r || s; EdDSA: Ed25519).
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
    pub fn sign_bytes(&self, input: &[u8]) -> Vec<u8> {
        use jwt_compact::{Algorithm, AlgorithmSignature};
        match &self.material {
            PrivateMaterial::Rsa(k) => Rsa::rs256().sign(k.as_ref().as_ref(), input).as_bytes().into_owned(),
            PrivateMaterial::Es256(k) => Es256.sign(k, input).as_bytes().into_owned(),
            PrivateMaterial::Ed25519(k) => Ed25519.sign(k, input).as_bytes().into_owned(),
        }
    }

    /// Signs `claims` as a compact JWT with this key's `alg` and `kid`, and `typ` when given.
    #[cfg(any(not(target_arch = "wasm32"), feature = "wasm-crypto"))]
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

    pub(super) fn verify<T: DeserializeOwned>(&self, token: &UntrustedToken<'_>) -> Option<Token<T>> {
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

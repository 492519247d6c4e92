//! Signing and verifying with the runtime's WebCrypto: native code, several times cheaper in CPU
//! than the same crypto computed by wasm. Keys are imported once per isolate. The signatures are
//! those of the host's [`SigningKey::sign_bytes`] (byte for byte for RS256 and EdDSA, which are
//! deterministic), and the verdicts those of the host's [`VerifyingKey::signature_valid`] (the
//! e2e forgery tests check the worker's).
//!
//! Both fail closed. When WebCrypto cannot sign, the delivery fails and is retried; it never falls
//! back to RSA compiled to wasm, whose `rsa` crate has an unfixed timing advisory
//! (RUSTSEC-2023-0071, the Marvin attack). When it cannot verify, the token is not valid. The
//! Rust signer and verifier are in the worker only in a build with the `wasm-crypto` feature, and
//! used there only when chosen (`SIGNER=wasm`), for comparison.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use crate::keys::{Alg, SigningKey, VerifyingKey};

thread_local! {
    /// Imported signing keys by `kid`; `None` records an import that failed (not retried).
    static IMPORTED: RefCell<HashMap<String, Option<CryptoKey>>> = RefCell::new(HashMap::new());
    /// Imported verification keys by their public JWK, likewise.
    static VERIFIERS: RefCell<HashMap<String, Option<CryptoKey>>> = RefCell::new(HashMap::new());
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
    Ok(Reflect::get(&crypto, &"subtle".into())?.unchecked_into())
}

fn object(json: &str) -> Result<Object, JsValue> {
    Ok(JSON::parse(json)?.unchecked_into())
}

/// The WebCrypto algorithm objects for import and for signing.
fn algorithms(alg: Alg) -> (&'static str, &'static str) {
    match alg {
        Alg::RS256 => (r#"{"name":"RSASSA-PKCS1-v1_5","hash":{"name":"SHA-256"}}"#, r#"{"name":"RSASSA-PKCS1-v1_5"}"#),
        Alg::ES256 => (r#"{"name":"ECDSA","namedCurve":"P-256"}"#, r#"{"name":"ECDSA","hash":{"name":"SHA-256"}}"#),
        Alg::EdDSA => (r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#),
    }
}

async fn import(jwk: &str, alg: Alg, usage: &str) -> Result<CryptoKey, JsValue> {
    let (import_alg, _) = algorithms(alg);
    let usages = js_sys::Array::of1(&usage.into());
    let promise = subtle()?.import_key_with_object("jwk", &object(jwk)?, &object(import_alg)?, false, &usages)?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

fn import_failed(what: &str, alg: Alg, e: &JsValue) {
    worker::console_warn!(
        "{}",
        serde_json::json!({"event": "webcrypto_import_failed", "key": what, "alg": alg.name(), "error": e.as_string()})
    );
}

async fn imported(key: &SigningKey) -> Option<CryptoKey> {
    if let Some(cached) = IMPORTED.with(|m| m.borrow().get(&key.kid).cloned()) {
        return cached;
    }
    let result = match import(&key.private_jwk().to_string(), key.alg, "sign").await {
        Ok(k) if signs_for_its_public_key(key, &k).await => Some(k),
        Ok(_) => {
            worker::console_error!(
                "{}",
                serde_json::json!({"event": "signing_key_mismatch", "key": key.kid, "alg": key.alg.name(),
                    "error": "its signatures do not verify with its public members: fix SIGNING_JWKS"})
            );
            None
        }
        Err(e) => {
            import_failed(&key.kid, key.alg, &e);
            None
        }
    };
    IMPORTED.with(|m| m.borrow_mut().insert(key.kid.clone(), result.clone()));
    result
}

/// Whether a signature of the imported private key verifies with the key's public members, the
/// ones `jwks_uri` publishes. The default build does not parse private keys in Rust (which would
/// refuse a JWK whose members disagree, src/keys/jwk.rs), so one probe per key and isolate does:
/// a key whose tokens no relying party could verify never signs (fail closed).
async fn signs_for_its_public_key(key: &SigningKey, private: &CryptoKey) -> bool {
    const PROBE: &[u8] = b"edge-logout key check";
    let Some(public) = imported_public(key.public()).await else { return false };
    match webcrypto_sign(private, key.alg, PROBE).await {
        Ok(signature) => webcrypto_verify(&public, key.alg, PROBE, &signature).await.unwrap_or(false),
        Err(_) => false,
    }
}

async fn webcrypto_sign(key: &CryptoKey, alg: Alg, input: &[u8]) -> Result<Vec<u8>, JsValue> {
    let (_, sign_alg) = algorithms(alg);
    let promise = subtle()?.sign_with_object_and_u8_array(&object(sign_alg)?, key, input)?;
    let buffer = JsFuture::from(promise).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The JWS signature of `input` with `key`: WebCrypto's, or with `use_webcrypto` false the
/// wasm signer's. An error when WebCrypto cannot sign (the caller retries later).
pub async fn sign(key: &SigningKey, input: &[u8], use_webcrypto: bool) -> Result<Vec<u8>, String> {
    if !use_webcrypto {
        // Config refuses SIGNER=wasm in a build without the wasm signer.
        #[cfg(feature = "wasm-crypto")]
        return Ok(key.sign_bytes(input));
        #[cfg(not(feature = "wasm-crypto"))]
        return Err("this build has no wasm signer (the wasm-crypto feature)".into());
    }
    let k = imported(key).await.ok_or_else(|| format!("WebCrypto could not import the key {}", key.kid))?;
    webcrypto_sign(&k, key.alg, input).await.map_err(|e| {
        let error = e.as_string().unwrap_or_else(|| "an exception".into());
        format!("WebCrypto could not sign with {}: {}", key.kid, error.chars().take(200).collect::<String>())
    })
}

async fn imported_public(key: &VerifyingKey) -> Option<CryptoKey> {
    let jwk = key.public_jwk().to_string();
    if let Some(cached) = VERIFIERS.with(|m| m.borrow().get(&jwk).cloned()) {
        return cached;
    }
    let result = match import(&jwk, key.alg, "verify").await {
        Ok(k) => Some(k),
        Err(e) => {
            import_failed(key.kid.as_deref().unwrap_or("(no kid)"), key.alg, &e);
            None
        }
    };
    VERIFIERS.with(|m| m.borrow_mut().insert(jwk, result.clone()));
    result
}

async fn webcrypto_verify(key: &CryptoKey, alg: Alg, input: &[u8], signature: &[u8]) -> Result<bool, JsValue> {
    let (_, sign_alg) = algorithms(alg);
    let promise = subtle()?.verify_with_object_and_u8_array_and_u8_array(&object(sign_alg)?, key, signature, input)?;
    Ok(JsFuture::from(promise).await?.as_bool().unwrap_or(false))
}

/// Whether `signature` is `key`'s JWS signature over `input`.
///
/// The default build has no Rust verifier (see src/keys/jwk.rs): WebCrypto decides alone, and a
/// key it cannot import or a check that throws counts as not valid (fail closed; WebCrypto's
/// `verify` answers false for a malformed signature, it throws only for unusable keys or
/// algorithms: https://w3c.github.io/webcrypto/#SubtleCrypto-method-verify).
pub async fn signature_valid(key: &VerifyingKey, input: &[u8], signature: &[u8], use_webcrypto: bool) -> bool {
    if !use_webcrypto {
        #[cfg(feature = "wasm-crypto")]
        return key.signature_valid(input, signature);
    }
    let Some(k) = imported_public(key).await else { return false };
    match webcrypto_verify(&k, key.alg, input, signature).await {
        Ok(valid) => valid,
        Err(e) => {
            worker::console_warn!(
                "{}",
                serde_json::json!({"event": "webcrypto_verify_failed", "alg": key.alg.name(), "error": e.as_string()})
            );
            false
        }
    }
}

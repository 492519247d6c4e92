//! Verifying with the runtime's WebCrypto (the `id_token_hint`s), and the optional Rust signer.
//! Signing with WebCrypto is post.js's, with the POST (src/edge/post.js says why).
//!
//! Both fail closed. When WebCrypto cannot sign, the delivery fails and is retried; it never falls
//! back to RSA compiled to wasm, whose `rsa` crate has an unfixed timing advisory
//! (RUSTSEC-2023-0071, the Marvin attack). When it cannot verify, the token is not valid. The
//! verdicts are those of the host's [`crate::keys::VerifyingKey::signature_valid`] (the e2e
//! forgery tests check the worker's). The Rust signer and verifier are in the worker only in a
//! build with the `wasm-crypto` feature, and used there only when chosen (`SIGNER=wasm`), for
//! comparison.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use crate::keys::{Alg, SigningKey, VerifyingKey};

thread_local! {
    /// Imported verification keys by `alg:kid` (kids are unique across both key sets), or by
    /// public JWK for a key without one; `None` records an import that failed (not retried).
    static VERIFIERS: RefCell<HashMap<String, Option<CryptoKey>>> = RefCell::new(HashMap::new());
}

fn subtle() -> Result<SubtleCrypto, JsValue> {
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into())?;
    Ok(Reflect::get(&crypto, &"subtle".into())?.unchecked_into())
}

fn object(json: &str) -> Result<Object, JsValue> {
    Ok(JSON::parse(json)?.unchecked_into())
}

/// The WebCrypto algorithm objects for import and for verifying (post.js has the same for signing).
fn algorithms(alg: Alg) -> (&'static str, &'static str) {
    match alg {
        Alg::RS256 => (r#"{"name":"RSASSA-PKCS1-v1_5","hash":{"name":"SHA-256"}}"#, r#"{"name":"RSASSA-PKCS1-v1_5"}"#),
        Alg::ES256 => (r#"{"name":"ECDSA","namedCurve":"P-256"}"#, r#"{"name":"ECDSA","hash":{"name":"SHA-256"}}"#),
        Alg::EdDSA => (r#"{"name":"Ed25519"}"#, r#"{"name":"Ed25519"}"#),
    }
}

async fn import(jwk: &str, alg: Alg) -> Result<CryptoKey, JsValue> {
    let (import_alg, _) = algorithms(alg);
    let usages = js_sys::Array::of1(&"verify".into());
    let promise = subtle()?.import_key_with_object("jwk", &object(jwk)?, &object(import_alg)?, false, &usages)?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

/// The JWS signature of `input` by the Rust signer compiled to wasm (`SIGNER=wasm`, only in a
/// build with the `wasm-crypto` feature; config refuses it otherwise).
pub fn sign_in_wasm(key: &SigningKey, input: &[u8]) -> Result<Vec<u8>, String> {
    #[cfg(feature = "wasm-crypto")]
    return Ok(key.sign_bytes(input));
    #[cfg(not(feature = "wasm-crypto"))]
    {
        let _ = (key, input);
        Err("this build has no wasm signer (the wasm-crypto feature)".into())
    }
}

async fn imported_public(key: &VerifyingKey) -> Option<CryptoKey> {
    let name = match &key.kid {
        Some(kid) => format!("{}:{kid}", key.alg.name()),
        None => key.public_jwk().to_string(),
    };
    if let Some(cached) = VERIFIERS.with(|m| m.borrow().get(&name).cloned()) {
        return cached;
    }
    let result = match import(&key.public_jwk().to_string(), key.alg).await {
        Ok(k) => Some(k),
        Err(e) => {
            worker::console_warn!(
                "{}",
                serde_json::json!({"event": "webcrypto_import_failed", "key": key.kid, "alg": key.alg.name(), "error": e.as_string()})
            );
            None
        }
    };
    VERIFIERS.with(|m| m.borrow_mut().insert(name, result.clone()));
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

//! Signing with the runtime's WebCrypto: native code, several times cheaper in CPU than the
//! same RSA signature computed by wasm. Keys are imported once per isolate. The signatures are
//! those of [`SigningKey::sign_bytes`] (byte for byte for RS256 and EdDSA, which are
//! deterministic), which remains the fallback when an import fails.

use std::cell::RefCell;
use std::collections::HashMap;

use js_sys::{Object, Reflect, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{CryptoKey, SubtleCrypto};

use crate::keys::{Alg, SigningKey};

thread_local! {
    /// Imported keys by `kid`; `None` records an import that failed (so it is not retried).
    static IMPORTED: RefCell<HashMap<String, Option<CryptoKey>>> = RefCell::new(HashMap::new());
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

async fn import(key: &SigningKey) -> Result<CryptoKey, JsValue> {
    let (import_alg, _) = algorithms(key.alg);
    let usages = js_sys::Array::of1(&"sign".into());
    let promise = subtle()?.import_key_with_object(
        "jwk",
        &object(&key.private_jwk().to_string())?,
        &object(import_alg)?,
        false,
        &usages,
    )?;
    Ok(JsFuture::from(promise).await?.unchecked_into())
}

async fn imported(key: &SigningKey) -> Option<CryptoKey> {
    if let Some(cached) = IMPORTED.with(|m| m.borrow().get(&key.kid).cloned()) {
        return cached;
    }
    let result = match import(key).await {
        Ok(k) => Some(k),
        Err(e) => {
            worker::console_warn!(
                "{{\"event\":\"webcrypto_import_failed\",\"kid\":{:?},\"alg\":\"{}\",\"error\":{:?}}}",
                key.kid,
                key.alg,
                e.as_string().unwrap_or_default()
            );
            None
        }
    };
    IMPORTED.with(|m| m.borrow_mut().insert(key.kid.clone(), result.clone()));
    result
}

async fn webcrypto_sign(key: &CryptoKey, alg: Alg, input: &[u8]) -> Result<Vec<u8>, JsValue> {
    let (_, sign_alg) = algorithms(alg);
    let promise = subtle()?.sign_with_object_and_u8_array(&object(sign_alg)?, key, input)?;
    let buffer = JsFuture::from(promise).await?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// The JWS signature of `input` with `key`.
pub async fn sign(key: &SigningKey, input: &[u8], use_webcrypto: bool) -> Vec<u8> {
    if use_webcrypto {
        if let Some(k) = imported(key).await {
            match webcrypto_sign(&k, key.alg, input).await {
                Ok(sig) => return sig,
                Err(e) => worker::console_warn!(
                    "{{\"event\":\"webcrypto_sign_failed\",\"kid\":{:?},\"error\":{:?}}}",
                    key.kid,
                    e.as_string().unwrap_or_default()
                ),
            }
        }
    }
    key.sign_bytes(input)
}

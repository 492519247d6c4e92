//! Key generation, for tests and the development setup.

use jwt_compact::alg::{ModulusBits, Rsa, RsaPrivateKey};
use jwt_compact::jwk::JsonWebKey;
use serde_json::Value;

use super::Alg;

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
            let (sk, _) = Rsa::generate(&mut rand_core::OsRng, ModulusBits::TwoKibibytes).expect("RSA key generation");
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

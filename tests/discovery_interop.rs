//! Interoperability with a relying-party library: the `openidconnect` crate reads our discovery
//! document (with the logout metadata), our public JWKS, and verifies ID tokens signed by our keys.

use std::str::FromStr;

use edge_logout::config::Config;
use edge_logout::keys::{generate::private_jwk, Alg};
use jwt_compact::{Claims, TimeOptions};
use openidconnect::core::{
    CoreAuthDisplay, CoreClaimName, CoreClaimType, CoreClientAuthMethod, CoreGrantType, CoreIdToken,
    CoreIdTokenVerifier, CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseMode, CoreResponseType,
    CoreSubjectIdentifierType,
};
use openidconnect::{
    AdditionalProviderMetadata, ClaimsVerificationError, ClientId, EndSessionUrl, IssuerUrl, Nonce, ProviderMetadata,
    ProviderMetadataWithLogout, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const ISSUER: &str = "https://id.example.com";
const CLIENT_ID: &str = "interop-rp";

/// The logout members of our discovery document: RP-Initiated, Back-Channel and Front-Channel
/// Logout 1.0 metadata, as a relying party reading them with `openidconnect` would declare them.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct LogoutMetadata {
    end_session_endpoint: EndSessionUrl,
    backchannel_logout_supported: bool,
    backchannel_logout_session_supported: bool,
    frontchannel_logout_supported: bool,
    frontchannel_logout_session_supported: bool,
}
impl AdditionalProviderMetadata for LogoutMetadata {}

type LogoutProviderMetadata = ProviderMetadata<
    LogoutMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

fn provider_metadata() -> Value {
    json!({
        "authorization_endpoint": "https://login.example.com/authorize",
        "token_endpoint": "https://login.example.com/token",
        "userinfo_endpoint": "https://login.example.com/userinfo",
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "scopes_supported": ["openid", "profile", "email"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "sid", "auth_time"],
    })
}

/// A configuration as the worker loads it: a key per algorithm, with kids.
fn config() -> Config {
    let keys: Vec<Value> =
        Alg::ALL.iter().map(|a| private_jwk(*a, &format!("interop-{}", a.name().to_lowercase()))).collect();
    let settings = [
        ("ISSUER", ISSUER.to_string()),
        ("SIGNING_JWKS", json!({ "keys": keys }).to_string()),
        ("ADMIN_TOKEN", "interop-admin-token-0123456789".to_string()),
        ("PROVIDER_METADATA", provider_metadata().to_string()),
    ];
    Config::from_lookup(|name| settings.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
        .expect("the configuration loads")
}

fn discovery(config: &Config) -> Value {
    edge_logout::app::discovery(config)
}

#[test]
fn core_provider_metadata_reads_our_discovery_document() {
    let config = config();
    let doc = discovery(&config);
    let meta: CoreProviderMetadata = serde_json::from_value(doc.clone()).expect("CoreProviderMetadata parses");
    assert_eq!(meta.issuer(), &IssuerUrl::new(ISSUER.into()).unwrap());
    assert_eq!(meta.jwks_uri().as_str(), format!("{ISSUER}/jwks"));
    assert_eq!(meta.authorization_endpoint().as_str(), "https://login.example.com/authorize");
    assert_eq!(meta.token_endpoint().unwrap().as_str(), "https://login.example.com/token");
    // Unknown algorithm names would be skipped silently (VecSkipError): all three must be known.
    assert_eq!(
        meta.id_token_signing_alg_values_supported(),
        &vec![
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EdDsa
        ],
    );
    assert_eq!(meta.response_types_supported().len(), 1);
    assert_eq!(meta.subject_types_supported(), &vec![CoreSubjectIdentifierType::Public]);

    // The library's own RP-Initiated Logout metadata type.
    let with_logout: ProviderMetadataWithLogout =
        serde_json::from_value(doc).expect("ProviderMetadataWithLogout parses");
    assert_eq!(
        with_logout.additional_metadata().end_session_endpoint.as_ref().map(|u| u.as_str()),
        Some(format!("{ISSUER}/session/end").as_str()),
    );
}

#[test]
fn additional_metadata_exposes_the_logout_members() {
    let config = config();
    let meta: LogoutProviderMetadata =
        serde_json::from_value(discovery(&config)).expect("provider metadata with logout members parses");
    let logout = meta.additional_metadata();
    assert_eq!(logout.end_session_endpoint.as_str(), format!("{ISSUER}/session/end"));
    assert_eq!(logout.end_session_endpoint.url().origin(), meta.issuer().url().origin());
    assert!(logout.backchannel_logout_supported);
    assert!(logout.backchannel_logout_session_supported);
    assert!(logout.frontchannel_logout_supported);
    assert!(logout.frontchannel_logout_session_supported);
}

#[test]
fn discovery_round_trips_through_the_library() {
    // What the library would re-serialise (e.g. to cache it) reads back the same.
    let config = config();
    let meta: LogoutProviderMetadata = serde_json::from_value(discovery(&config)).unwrap();
    let again: LogoutProviderMetadata = serde_json::from_value(serde_json::to_value(&meta).unwrap()).unwrap();
    assert_eq!(again.issuer(), meta.issuer());
    assert_eq!(again.additional_metadata().end_session_endpoint, meta.additional_metadata().end_session_endpoint);
}

fn public_jwks(config: &Config) -> CoreJsonWebKeySet {
    serde_json::from_value(config.keys.public_jwks().clone()).expect("CoreJsonWebKeySet parses")
}

#[test]
fn core_json_web_key_set_reads_our_public_keys() {
    use openidconnect::JsonWebKey;
    let config = config();
    let jwks = public_jwks(&config);
    assert_eq!(jwks.keys().len(), 3);
    for alg in Alg::ALL {
        let kid = config.keys.signer(alg).unwrap().kid.clone();
        let key = jwks
            .keys()
            .iter()
            .find(|k| k.key_id().map(|id| id.as_str()) == Some(kid.as_str()))
            .unwrap_or_else(|| panic!("no key {kid} in {:?}", jwks.keys()));
        let lib_alg = core_alg(alg);
        // The key must be usable for its algorithm (its kty, crv and alg agree).
        key.verify_signature(&lib_alg, b"message", b"not a signature")
            .expect_err("a garbage signature does not verify");
        assert!(
            !matches!(
                key.verify_signature(&lib_alg, b"m", b"x"),
                Err(SignatureVerificationError::InvalidKey(_) | SignatureVerificationError::UnsupportedAlg(_))
            ),
            "{kid}: openidconnect finds the key unusable for {}",
            alg.name(),
        );
        let sig = config.keys.signer(alg).unwrap().sign_bytes(b"signed by the provider");
        key.verify_signature(&lib_alg, b"signed by the provider", &sig)
            .unwrap_or_else(|e| panic!("{kid}: our {} signature does not verify: {e}", alg.name()));
    }
}

fn core_alg(alg: Alg) -> CoreJwsSigningAlgorithm {
    match alg {
        Alg::RS256 => CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
        Alg::ES256 => CoreJwsSigningAlgorithm::EcdsaP256Sha256,
        Alg::EdDSA => CoreJwsSigningAlgorithm::EdDsa,
    }
}

/// An ID token as the login system would mint it, signed with our key for `alg`.
fn id_token(config: &Config, alg: Alg, aud: &str) -> String {
    let claims = Claims::new(json!({
        "iss": ISSUER,
        "aud": aud,
        "sub": "alice",
        "sid": "session-1",
    }))
    .set_duration_and_issuance(&TimeOptions::default(), chrono::Duration::minutes(5));
    config.keys.signer(alg).unwrap().sign(None, &claims)
}

fn verifier(config: &Config) -> CoreIdTokenVerifier<'static> {
    let meta: CoreProviderMetadata = serde_json::from_value(discovery(config)).unwrap();
    CoreIdTokenVerifier::new_public_client(ClientId::new(CLIENT_ID.into()), meta.issuer().clone(), public_jwks(config))
        .set_allowed_algs(meta.id_token_signing_alg_values_supported().iter().cloned())
}

#[test]
fn id_tokens_signed_by_our_keys_verify_with_the_library() {
    let config = config();
    let verifier = verifier(&config);
    for alg in Alg::ALL {
        let jwt = id_token(&config, alg, CLIENT_ID);
        let token = CoreIdToken::from_str(&jwt).unwrap_or_else(|e| panic!("{}: CoreIdToken parses: {e}", alg.name()));
        let claims = token
            .claims(&verifier, |_: Option<&Nonce>| Ok(()))
            .unwrap_or_else(|e| panic!("{}: the ID token does not verify: {e}", alg.name()));
        assert_eq!(claims.subject().as_str(), "alice");
        assert_eq!(claims.issuer().as_str(), ISSUER);
        assert_eq!(claims.audiences().len(), 1);
        assert_eq!(claims.audiences()[0].as_str(), CLIENT_ID);
        assert_eq!(token.signing_alg().unwrap(), &core_alg(alg));
    }
}

#[test]
fn the_library_rejects_what_it_should() {
    let config = config();
    let verifier = verifier(&config);
    let check = |jwt: &str| CoreIdToken::from_str(jwt).unwrap().claims(&verifier, |_: Option<&Nonce>| Ok(())).err();

    // Another audience.
    let other = id_token(&config, Alg::RS256, "someone-else");
    assert!(matches!(check(&other), Some(ClaimsVerificationError::InvalidAudience(_))), "{:?}", check(&other));

    // A flipped signature bit.
    let good = id_token(&config, Alg::ES256, CLIENT_ID);
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut sig = sig.as_bytes().to_vec();
    sig[3] = if sig[3] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{input}.{}", String::from_utf8(sig).unwrap());
    assert!(
        matches!(check(&tampered), Some(ClaimsVerificationError::SignatureVerification(_))),
        "{:?}",
        check(&tampered)
    );

    // Signed by a key that is not ours.
    let stranger_jwks = json!({ "keys": [private_jwk(Alg::RS256, &config.keys.signer(Alg::RS256).unwrap().kid)] });
    let stranger = edge_logout::keys::KeySet::parse(&stranger_jwks.to_string(), None).unwrap();
    let claims = Claims::new(json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "alice"}))
        .set_duration_and_issuance(&TimeOptions::default(), chrono::Duration::minutes(5));
    let forged = stranger.signer(Alg::RS256).unwrap().sign(None, &claims);
    assert!(matches!(check(&forged), Some(ClaimsVerificationError::SignatureVerification(_))), "{:?}", check(&forged));
}

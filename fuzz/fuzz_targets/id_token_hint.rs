//! `id_token_hint`s: arbitrary text, and valid signed ID tokens with their header, claims or
//! signature mutated, so that every verification path is reached. Parsing and verification
//! never panic, nothing unsigned by the provider's keys is accepted, and a mutated token is
//! accepted only when what was signed and the signature's bytes are unchanged.
#![no_main]

use std::sync::OnceLock;

use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;
use edge_logout::keys::Alg;
use edge_logout::protocol::end_session::hint;
use edge_logout::testing::{self, ISSUER, NOW};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

/// base64url as leniently as any decoder might read it: other trailing bits, padding or not.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// One valid ID token per algorithm, signed once.
fn valid() -> &'static [String; 3] {
    static TOKENS: OnceLock<[String; 3]> = OnceLock::new();
    TOKENS.get_or_init(|| {
        Alg::ALL.map(|alg| testing::id_token(alg, json!({"iss": ISSUER, "sub": "alice", "sid": "sid-1", "aud": "rp1"})))
    })
}

fn verify(text: &str, client_id: Option<&str>) -> bool {
    let keys = &testing::config().keys;
    futures::executor::block_on(hint::verify(keys, &testing::Recorder::default(), ISSUER, text, client_id, NOW)).is_ok()
}

fuzz_target!(
    // Key generation (RSA) and the valid tokens are made once, here.
    init: {
        valid();
    },
    |data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    if mode & 0x80 != 0 {
        // Arbitrary text: never accepted.
        let Ok(text) = std::str::from_utf8(rest) else { return };
        let client_id = text.split('.').nth(3);
        assert!(!verify(text, client_id), "a forged hint verified: {text}");
        return;
    }
    // A valid token (algorithm by `mode`), one of its three parts (by `mode`) mutated: either
    // bytes replaced at the positions `rest` names, or the part replaced by `rest` itself.
    let original = &valid()[usize::from(mode % 3)];
    let mut parts: Vec<Vec<u8>> = original.split('.').map(|p| p.as_bytes().to_vec()).collect();
    let part = usize::from((mode / 3) % 3);
    if mode & 0x40 != 0 {
        parts[part] = rest.to_vec();
    } else {
        for pair in rest.chunks_exact(2) {
            let target = &mut parts[part];
            if target.is_empty() {
                break;
            }
            let at = usize::from(pair[0]) % target.len();
            target[at] = pair[1];
        }
    }
    let Ok(mutated) = String::from_utf8(parts.join(&b'.')) else { return };
    if !verify(&mutated, None) {
        return;
    }
    // Accepted: the signed input must be the original's, and the signature the same bytes
    // (base64url may spell them with other trailing bits).
    let (signed, signature) = mutated.rsplit_once('.').expect("three parts");
    let (original_signed, original_signature) = original.rsplit_once('.').expect("three parts");
    assert_eq!(signed, original_signed, "a mutated token verified: {mutated}");
    assert_eq!(LENIENT.decode(signature).ok(), LENIENT.decode(original_signature).ok(), "a mutated signature verified: {mutated}");
});

//! Arbitrary text as an `id_token_hint`: parsing and verification never panic, and nothing
//! unsigned by the provider's keys is ever accepted.
#![no_main]

use edge_logout::end_session::hint;
use edge_logout::testing::{self, ISSUER, NOW};
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    // Key generation (RSA) happens once, here, not in the first input's time.
    init: {
        testing::config();
    },
    |data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let keys = &testing::config().keys;
    let client_id = text.split('.').nth(3);
    let verified = futures::executor::block_on(hint::verify(keys, &testing::Quiet, ISSUER, text, client_id, NOW));
    assert!(verified.is_err(), "a forged hint verified: {text}");
});

//! Cookie headers: never panic; a value found is a substring of the header without separators.
#![no_main]

use edge_logout::http::cookies;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    for name in ["op_session", "op_session_confirm", ""] {
        if let Some(v) = cookies::get(Some(header), name) {
            assert!(header.contains(v) && !v.contains(';'));
        }
    }
});

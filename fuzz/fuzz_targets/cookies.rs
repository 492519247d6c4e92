//! Cookie headers: never panic; the value found for a name is that of the first pair of the
//! header (split at `;`, then at the first `=`) whose trimmed name is exactly the name, trimmed
//! and without surrounding quotes, and nothing is found when no pair has that name. Also a
//! header made of known pairs around the fuzzed text gives back the known values.
#![no_main]

use edge_logout::http::cookies;
use libfuzzer_sys::fuzz_target;

/// RFC 6265 5.4's reading, written out independently of `cookies::get`.
fn first<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    for pair in header.split(';') {
        let Some(eq) = pair.find('=') else { continue };
        if pair[..eq].trim() == name {
            return Some(pair[eq + 1..].trim().trim_matches('"'));
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for name in ["op_session", "op_session_confirm", "__Host-op_session_confirm", ""] {
        assert_eq!(cookies::get(Some(text), name), first(text, name), "{name} in {text:?}");
    }
    // The fuzzed text as another cookie's value between known pairs: the known ones still
    // come back exactly, unless the text itself carries a `;` and a pair of that name first.
    if !text.contains(';') && !text.contains('"') {
        let header = format!("a=1; op_session=known-{}; other={text}; op_session_confirm=bind", text.len());
        assert_eq!(cookies::get(Some(&header), "op_session"), Some(format!("known-{}", text.len()).as_str()));
        assert_eq!(cookies::get(Some(&header), "op_session_confirm"), Some("bind"));
        assert_eq!(cookies::get(Some(&header), "other"), Some(text.trim()));
    }
    assert_eq!(cookies::get(None, "op_session"), None);
});

//! Redirect building: the target starts with the registered URI byte for byte and adds only
//! `state`, which a URL parser reads back exactly.
#![no_main]

use edge_logout::protocol::end_session::decision::redirect_url;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(state) = std::str::from_utf8(data) else { return };
    for registered in ["https://rp.example/bye", "https://rp.example/q?x=1", "https://rp.example/q?"] {
        let url = redirect_url(registered, Some(state));
        assert!(url.starts_with(registered));
        assert!(url.bytes().all(|b| b.is_ascii_graphic()), "unsafe byte in {url:?}");
        let parsed = url::Url::parse(&url).unwrap();
        let states: Vec<String> =
            parsed.query_pairs().filter(|(k, _)| k == "state").map(|(_, v)| v.into_owned()).collect();
        assert_eq!(states, [state]);
    }
});

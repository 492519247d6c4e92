//! Client registrations: never panic; what is accepted has only absolute https URIs without
//! fragments, and a front-channel URI on the origin of a redirect URI; and registering the
//! accepted client again gives the same client.
#![no_main]

use edge_logout::http::uris::{self, UriPolicy};
use edge_logout::keys::Alg;
use edge_logout::state::clients::Client;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (id, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (String::from_utf8_lossy(&data[..i]).into_owned(), &data[i + 1..]),
        None => ("rp1".to_string(), data),
    };
    let Ok(c) = Client::from_registration(&id, body, UriPolicy::HttpsOnly, &Alg::ALL) else { return };
    let all = c
        .redirect_uris
        .iter()
        .chain(&c.post_logout_redirect_uris)
        .chain(&c.backchannel_logout_uri)
        .chain(&c.frontchannel_logout_uri)
        .chain(&c.client_uri);
    for uri in all {
        let url = uris::parse_absolute(uri, UriPolicy::HttpsOnly).expect("accepted URIs are valid");
        assert_eq!(url.scheme(), "https");
        assert!(!uri.contains('#'));
    }
    let again = serde_json::to_vec(&c).expect("a client serialises");
    assert_eq!(Client::from_registration(&id, &again, UriPolicy::HttpsOnly, &Alg::ALL).as_ref(), Ok(&c));
    if let Some(fc) = &c.frontchannel_logout_uri {
        let fc = url::Url::parse(fc).unwrap();
        assert!(c.redirect_uris.iter().any(|r| url::Url::parse(r).unwrap().origin() == fc.origin()));
    }
});

//! Client registrations: never panic; what is accepted has only absolute https URIs without
//! fragments, and a front-channel URI on the origin of a redirect URI; its notification URIs
//! (back- and front-channel, which the provider and the user's browser call) never aim at
//! localhost or a loopback, private, link-local or unspecified address, however the host is
//! spelled (read back by the URL parser, checked by this file's own ranges); and registering
//! the accepted client again gives the same client.
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
    for uri in c.backchannel_logout_uri.iter().chain(&c.frontchannel_logout_uri) {
        let host = url::Url::parse(uri).expect("accepted URIs parse").host().map(|h| h.to_owned());
        assert!(!host.as_ref().is_some_and(is_local), "{uri}: a local or private notification host was accepted");
    }
    if let Some(fc) = &c.frontchannel_logout_uri {
        let fc = url::Url::parse(fc).unwrap();
        assert!(c.redirect_uris.iter().any(|r| url::Url::parse(r).unwrap().origin() == fc.origin()));
    }
});

/// Local or not public, by the ranges themselves (RFC 6761, 1918, 3927, 4193, 4291).
fn is_local(host: &url::Host<String>) -> bool {
    use std::net::{IpAddr, Ipv4Addr};
    let v4 = |ip: Ipv4Addr| {
        let [a, b, ..] = ip.octets();
        a == 127
            || a == 10
            || a == 0
            || (a == 172 && (16..=31).contains(&b))
            || (a == 192 && b == 168)
            || (a == 169 && b == 254)
    };
    let ip = match host {
        url::Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            return d == "localhost" || d.ends_with(".localhost");
        }
        url::Host::Ipv4(ip) => IpAddr::V4(*ip),
        url::Host::Ipv6(ip) => IpAddr::V6(*ip),
    };
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => {
            let s = ip.segments();
            ip == std::net::Ipv6Addr::LOCALHOST
                || ip == std::net::Ipv6Addr::UNSPECIFIED
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some_and(v4)
        }
    }
}

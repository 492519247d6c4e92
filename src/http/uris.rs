//! Which URIs a relying party may register, how they compare, and how parameters are added to
//! one.
//!
//! Registered URIs are kept byte for byte as given: redirects compare by simple string equality
//! (RP-Initiated Logout 1.0, section 3), so no normalisation is ever applied to them.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::form::encode_component;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriPolicy {
    HttpsOnly,
    /// Local development and tests only (`ALLOW_HTTP_URIS=true`).
    AllowHttp,
}

/// Parses an absolute `https` (or, when allowed, `http`) URI with a host, no fragment and no
/// userinfo, written in plain ASCII with no spaces or control characters (which URL parsers
/// silently drop, and which could otherwise end up in a `Location` header).
pub fn parse_absolute(raw: &str, policy: UriPolicy) -> Result<Url, String> {
    if raw.is_empty() {
        return Err("is empty".into());
    }
    if raw.len() > 2000 {
        return Err("is longer than 2000 characters".into());
    }
    if !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be ASCII without spaces or control characters".into());
    }
    if raw.contains('#') {
        return Err("must not have a fragment".into());
    }
    if raw.contains('\\') {
        return Err("must not contain a backslash".into());
    }
    // Checked before parsing: the URL parser would read a host after "https:/" too, and map it.
    let Some((scheme, after_colon)) = raw.split_once(':') else { return Err("is not an absolute URI".into()) };
    match (scheme.to_ascii_lowercase().as_str(), policy) {
        ("https", _) | ("http", UriPolicy::AllowHttp) => {}
        ("http", UriPolicy::HttpsOnly) => return Err("must use https".into()),
        (other, _) => return Err(format!("has the scheme {other:?}; only https is allowed")),
    }
    let Some(rest) = after_colon.strip_prefix("//") else {
        return Err("must be of the form scheme://host/...".into());
    };
    plain_host(rest.split(['/', '?']).next().unwrap_or(""))?;
    let url = Url::parse(raw).map_err(|e| format!("is not an absolute URI ({e})"))?;
    match (url.scheme(), policy) {
        ("https", _) | ("http", UriPolicy::AllowHttp) => {}
        ("http", UriPolicy::HttpsOnly) => return Err("must use https".into()),
        (other, _) => return Err(format!("has the scheme {other:?}; only https is allowed")),
    }
    // The raw text must itself start with the scheme and "//": rejects "https:example.com".
    if !raw[url.scheme().len()..].starts_with("://") {
        return Err("must be of the form scheme://host/...".into());
    }
    // What follows "scheme://" up to the path: a plain host[:port]. Userinfo (even empty),
    // percent-encoding, or an empty authority would be rewritten by URL parsers.
    let after_scheme = raw.split_once("://").map(|(_, rest)| rest).unwrap_or("");
    let authority = after_scheme.split(['/', '?']).next().unwrap_or("");
    if authority.is_empty() || authority.contains(['@', '%']) {
        return Err("must have a plain host (no user information, no percent-encoding)".into());
    }
    // Dot segments, plain or percent-encoded, are resolved away by browsers.
    let path = after_scheme[authority.len()..].split(['?']).next().unwrap_or("");
    if path.to_ascii_lowercase().contains("%2e") || path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err("must not contain dot segments".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must have a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user information".into());
    }
    Ok(url)
}

/// Checks the host of an authority (`host[:port]`, checked whole below) before any URL parser
/// maps it: letters, digits, `-` and `.`, or an IPv6 literal in brackets, and an `xn--` host in
/// lowercase. No real host is refused (DNS names are letters, digits and hyphens; an
/// internationalised one is registered in its `xn--` form), and what a parser would rewrite
/// (percent-encoding, symbols, a host after `https:/`) is refused instead of normalised.
fn plain_host(authority: &str) -> Result<(), String> {
    if authority.contains(['@', '%']) {
        return Err("must have a plain host (no user information, no percent-encoding)".into());
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => {
            let literal = v6.split(']').next().unwrap_or("");
            if !literal.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.') {
                return Err("must have a plain host (an IPv6 literal of hex digits)".into());
            }
            return Ok(());
        }
        None => authority.rsplit_once(':').map_or(authority, |(host, _port)| host),
    };
    if host.is_empty() {
        return Err("must have a host right after scheme://".into());
    }
    if !host.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        return Err(
            "must have a plain host (letters, digits, '-' and '.'; an internationalised name in its xn-- form)".into(),
        );
    }
    if host.to_ascii_lowercase().contains("xn--") && host.bytes().any(|b| b.is_ascii_uppercase()) {
        return Err("must have its xn-- host in lowercase".into());
    }
    host.split('.').filter(|l| l.starts_with("xn--")).try_for_each(punycode_label)
}

/// An `xn--` label must decode to a name a person could type. The `url` crate runs with idna's
/// ASCII-only back end (`idna_adapter` 1.0 in Cargo.lock: no Unicode tables, ~50 kB less
/// gzipped wasm), which does not validate what an `xn--` label decodes to; this check, without
/// tables, refuses what is certainly not a valid IDNA label (bad Punycode, ASCII only, capitals,
/// controls, spaces, invisible and bidirectional formatting characters such as U+200F, which
/// idna's own checks assume were refused earlier, private use and noncharacters). It is not a
/// full IDNA validation: a host is compared as registered, byte for byte, so a label that
/// passes here and no browser resolves only fails its own relying party.
fn punycode_label(label: &str) -> Result<(), String> {
    let invalid = || Err(format!("must have a valid xn-- label ({label:?} does not decode to a valid name)"));
    let Some(decoded) = idna::punycode::decode(&label[4..]) else { return invalid() };
    if decoded.iter().all(char::is_ascii) {
        return invalid();
    }
    let refused = |c: char| {
        c.is_control()
            || c.is_whitespace()
            || c.is_uppercase()
            || matches!(c as u32,
                0xAD | 0x34F | 0x61C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
                | 0x200B..=0x200F | 0x2028..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
                | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFFF | 0xFDD0..=0xFDEF | 0xE000..=0xF8FF
                | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF | 0xF0000..)
            || c as u32 & 0xFFFE == 0xFFFE
    };
    if decoded.into_iter().any(refused) {
        return invalid();
    }
    Ok(())
}

/// Parses a URI this service itself calls or frames (`backchannel_logout_uri`,
/// `frontchannel_logout_uri`): [`parse_absolute`], and, unless local runs are allowed
/// ([`UriPolicy::AllowHttp`]), a host that is neither `localhost` nor an IP literal of a
/// loopback, private or link-local range, so that a registration cannot aim the provider's
/// requests (or a user's browser) at the provider's own network.
pub fn parse_reachable(raw: &str, policy: UriPolicy) -> Result<Url, String> {
    let url = parse_absolute(raw, policy)?;
    if policy == UriPolicy::HttpsOnly && url.host().is_some_and(|h| is_local(&h)) {
        return Err("must not point to localhost or a loopback, private or link-local address".into());
    }
    Ok(url)
}

/// `localhost` (and its subdomains, RFC 6761), or an IP literal that is not public. The URL
/// parser has already read every IPv4 spelling (`0x7f.1`, `2130706433`) as an address.
fn is_local(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Host::Ipv4(ip) => is_local_v4(ip),
        Host::Ipv6(ip) => is_local_v6(ip),
    }
}

/// 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, 0/8 (0.0.0.0 reaches the host itself),
/// 100.64/10 (carrier-grade NAT, RFC 6598: a provider's internal network) and 198.18/15
/// (benchmarking, RFC 2544: lab networks).
fn is_local_v4(ip: &Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || a == 0
        || (a == 100 && b & 0xc0 == 64)
        || (a == 198 && b & 0xfe == 18)
}

/// ::1, ::, fc00::/7 (unique local), fe80::/10 (link-local), 64:ff9b:1::/48 (local-use NAT64,
/// RFC 8215), and the IPv4 address an IPv6 one carries judged as IPv4: ::ffff:-mapped,
/// 64:ff9b::/96 (NAT64, RFC 6052: its last 32 bits) and 2002::/16 (6to4, RFC 3056: bits 16-47).
fn is_local_v6(ip: &Ipv6Addr) -> bool {
    let seg = ip.segments();
    let v4 = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    let embedded = if seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(v4(seg[6], seg[7]))
    } else if seg[0] == 0x2002 {
        Some(v4(seg[1], seg[2]))
    } else {
        ip.to_ipv4_mapped()
    };
    ip.is_loopback()
        || ip.is_unspecified()
        || seg[0] & 0xfe00 == 0xfc00
        || seg[0] & 0xffc0 == 0xfe80
        || seg[..3] == [0x64, 0xff9b, 1]
        || embedded.is_some_and(|v4| is_local_v4(&v4))
}

/// Scheme, host and port equality, as Front-Channel Logout 1.0 requires of a
/// `frontchannel_logout_uri` and one of the client's `redirect_uris`.
pub fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// `uri` with `params` added as more query parameters, each encoded so that the receiver
/// decodes exactly the value given; any query already there is kept as it is (a trailing `?` or
/// `&` is not doubled). The one way this service adds a parameter to a registered URI.
pub fn with_query(uri: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return uri.to_string();
    }
    let sep = match uri.find('?') {
        None => "?",
        Some(_) if uri.ends_with('?') || uri.ends_with('&') => "",
        Some(_) => "&",
    };
    let added: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", encode_component(v))).collect();
    format!("{uri}{sep}{}", added.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_https_with_query() {
        assert!(parse_absolute("https://rp.example.com/logged-out?x=1", UriPolicy::HttpsOnly).is_ok());
        assert!(parse_absolute("https://rp.example.com:8443", UriPolicy::HttpsOnly).is_ok());
        assert!(parse_absolute("https://rp.example.com/a.b/c..d/?x=../y", UriPolicy::HttpsOnly).is_ok());
    }

    /// Hosts are plain ASCII names: an internationalised host is registered in its `xn--` form,
    /// and anything a URL parser would rewrite is refused rather than mapped. The refused inputs
    /// below include what the fuzz targets found when `url` ran with idna's ASCII-only stub.
    #[test]
    fn hosts_are_ascii_only() {
        let puny = parse_absolute("https://xn--bcher-kva.example/cb", UriPolicy::HttpsOnly).unwrap();
        assert_eq!(puny.host_str(), Some("xn--bcher-kva.example"));
        assert!(
            parse_absolute("https://RP.Example.COM/cb", UriPolicy::HttpsOnly).unwrap().as_str()
                == "https://rp.example.com/cb"
        );
        assert!(parse_absolute("https://b%C3%BCcher.example/cb", UriPolicy::HttpsOnly).is_err());
    }

    /// An internationalised host is accepted in its `xn--` form only, and that form must decode
    /// to a plausible name: `url` runs with idna's ASCII-only back end, which does not check it
    /// (and whose debug assertions a label decoding to U+200F trips, in fuzz builds).
    #[test]
    fn internationalised_hosts_in_their_xn_form_only() {
        for good in ["https://xn--bcher-kva.example/cb", "https://rp.xn--mnchen-3ya.de/cb", "https://xn--n3h.example/"]
        {
            let url = parse_absolute(good, UriPolicy::HttpsOnly).unwrap_or_else(|e| panic!("{good}: {e}"));
            assert_eq!(url.as_str(), good, "kept as registered");
        }
        let err = parse_absolute("https://bücher.example/cb", UriPolicy::HttpsOnly).unwrap_err();
        assert!(err.contains("ASCII"), "{err}");
        // U+200F, U+200D, U+0080, a capital Ü, plain ASCII, bad Punycode.
        for label in ["xn--a-ygn", "xn--a-ugn", "xn--a", "xn--bcher-2pa", "xn--abc-", "xn--99999999999"] {
            let uri = format!("https://{label}.example/cb");
            let err = parse_absolute(&uri, UriPolicy::HttpsOnly).expect_err(&uri);
            assert!(err.contains("xn--") || err.contains("plain host"), "{uri}: {err}");
        }
    }

    /// Every code point as an `xn--` label (alone, between letters, after a Hebrew letter)
    /// either is refused or parses to the host as written, and none trips a debug assertion of
    /// `idna` with its ASCII-only back end (U+200F did, before `punycode_label`). Every code point
    /// up to U+FFFF, then every 7th.
    #[test]
    fn no_xn_label_trips_idna() {
        let points = (0x80u32..0x1_0000).chain((0x1_0000..0x11_0000).step_by(7));
        for c in points.filter_map(char::from_u32) {
            for label in [c.to_string(), format!("a{c}b"), format!("\u{5d0}{c}")] {
                let Some(puny) = idna::punycode::encode_str(&label) else { continue };
                let uri = format!("https://xn--{puny}.example/cb");
                if let Ok(url) = parse_absolute(&uri, UriPolicy::HttpsOnly) {
                    assert_eq!(url.as_str(), uri);
                }
            }
        }
    }

    #[test]
    fn rejects_what_could_mislead() {
        for bad in [
            "",
            "/relative",
            "rp.example.com/x",
            "https://rp.example.com/#frag",
            "https://user:pw@rp.example.com/",
            "https://user@rp.example.com/",
            "javascript:alert(1)",
            "data:text/html,x",
            "https:rp.example.com",
            "https:/rp.example.com",
            "https://rp.example.com/\r\nSet-Cookie: x=1",
            "https://rp.example.com/ x",
            "https://rp.exаmple.com/",
            "https://rp.example.com\\@evil.example/",
            "https://rp.example.com/%2e%2e/x",
            "https://rp.example.com/bye/%2E%2E/evil",
            "https://rp.example.com/bye/../evil",
            "https://rp.example.com/./x",
            "https://rp%2eexample.com/x",
            "https://%72p.example.com/x",
            "https://:@rp.example.com/",
            "https://@rp.example.com/",
            "https:///bye",
            "https:////rp.example.com/",
            "ftp://rp.example.com/",
            "http://rp.example.com/",
        ] {
            assert!(parse_absolute(bad, UriPolicy::HttpsOnly).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn http_only_when_allowed() {
        assert!(parse_absolute("http://127.0.0.1:9000/cb", UriPolicy::AllowHttp).is_ok());
        assert!(parse_absolute("http://127.0.0.1:9000/cb", UriPolicy::HttpsOnly).is_err());
    }

    fn refused(uri: &str) -> bool {
        parse_reachable(uri, UriPolicy::HttpsOnly).is_err()
    }

    #[test]
    fn localhost_is_not_reachable() {
        for uri in
            ["https://localhost/bc", "https://LOCALHOST:8443/bc", "https://localhost./bc", "https://rp.localhost/bc"]
        {
            assert!(refused(uri), "{uri}");
        }
        assert!(!refused("https://localhost.example.com/bc"));
        assert!(!refused("https://mylocalhost/bc"));
    }

    #[test]
    fn loopback_v4_is_not_reachable() {
        for uri in
            ["https://127.0.0.1/bc", "https://127.255.255.254:9/bc", "https://0x7f.1/bc", "https://2130706433/bc"]
        {
            assert!(refused(uri), "{uri}");
        }
    }

    #[test]
    fn private_v4_is_not_reachable() {
        for uri in [
            "https://10.0.0.1/bc",
            "https://10.255.255.255/bc",
            "https://172.16.0.1/bc",
            "https://172.31.255.255/bc",
            "https://192.168.1.1/bc",
        ] {
            assert!(refused(uri), "{uri}");
        }
        for uri in
            ["https://172.15.255.255/bc", "https://172.32.0.1/bc", "https://192.169.0.1/bc", "https://11.0.0.1/bc"]
        {
            assert!(!refused(uri), "{uri} is public");
        }
    }

    #[test]
    fn link_local_and_unspecified_v4_are_not_reachable() {
        for uri in ["https://169.254.169.254/latest", "https://169.254.0.1/bc", "https://0.0.0.0/bc", "https://0/bc"] {
            assert!(refused(uri), "{uri}");
        }
        assert!(!refused("https://169.253.0.1/bc"));
    }

    #[test]
    fn local_v6_is_not_reachable() {
        for uri in [
            "https://[::1]/bc",
            "https://[::]/bc",
            "https://[fc00::1]/bc",
            "https://[fdff:ffff::1]:8443/bc",
            "https://[fe80::1]/bc",
            "https://[febf::1]/bc",
        ] {
            assert!(refused(uri), "{uri}");
        }
        for uri in ["https://[2001:db8::1]/bc", "https://[fec0::1]/bc", "https://[fbff::1]/bc"] {
            assert!(!refused(uri), "{uri} is not in a local range");
        }
    }

    #[test]
    fn mapped_v4_is_judged_as_v4() {
        for uri in [
            "https://[::ffff:127.0.0.1]/bc",
            "https://[::ffff:10.1.2.3]/bc",
            "https://[::ffff:172.16.0.1]/bc",
            "https://[::ffff:192.168.0.1]/bc",
            "https://[::ffff:169.254.169.254]/bc",
            "https://[::ffff:0.0.0.0]/bc",
            "https://[::ffff:7f00:1]/bc",
        ] {
            assert!(refused(uri), "{uri}");
        }
        assert!(!refused("https://[::ffff:8.8.8.8]/bc"));
    }

    #[test]
    fn shared_and_benchmarking_v4_ranges_are_not_reachable() {
        for uri in [
            "https://100.64.0.1/bc",
            "https://100.127.255.254/bc",
            "https://198.18.0.1/bc",
            "https://198.19.255.254/bc",
            "https://[::ffff:100.64.0.1]/bc",
        ] {
            assert!(refused(uri), "{uri}");
        }
        for uri in
            ["https://100.63.255.255/bc", "https://100.128.0.1/bc", "https://198.17.0.1/bc", "https://198.20.0.1/bc"]
        {
            assert!(!refused(uri), "{uri} is public");
        }
    }

    #[test]
    fn v6_addresses_carrying_a_local_v4_are_not_reachable() {
        for uri in [
            "https://[64:ff9b::7f00:1]/bc",
            "https://[64:ff9b::a00:1]/bc",
            "https://[64:ff9b::a9fe:a9fe]/bc",
            "https://[64:ff9b:1::808:808]/bc",
            "https://[2002:7f00:1::1]/bc",
            "https://[2002:c0a8:101::]/bc",
            "https://[2002:6440:1::1]/bc",
        ] {
            assert!(refused(uri), "{uri}");
        }
        for uri in ["https://[64:ff9b::808:808]/bc", "https://[2002:808:808::1]/bc"] {
            assert!(!refused(uri), "{uri} carries a public IPv4 address");
        }
    }

    #[test]
    fn local_runs_may_use_local_hosts() {
        for uri in
            ["http://127.0.0.1:9000/bc", "http://localhost:9000/bc", "http://[::1]:9000/bc", "https://10.0.0.1/bc"]
        {
            assert!(parse_reachable(uri, UriPolicy::AllowHttp).is_ok(), "{uri}");
        }
        assert!(parse_reachable("https://rp.example.com/bc", UriPolicy::HttpsOnly).is_ok());
        assert!(parse_reachable("http://rp.example.com/bc", UriPolicy::HttpsOnly).is_err(), "still https only");
    }

    #[test]
    fn origins() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert!(same_origin(&u("https://a.example/x"), &u("https://a.example:443/y?z")));
        assert!(!same_origin(&u("https://a.example/x"), &u("https://a.example:444/x")));
        assert!(!same_origin(&u("https://a.example/x"), &u("http://a.example/x")));
        assert!(!same_origin(&u("https://a.example/x"), &u("https://b.a.example/x")));
    }

    #[test]
    fn parameters_are_added_to_any_query_exactly_once() {
        assert_eq!(with_query("https://rp/x", &[]), "https://rp/x");
        assert_eq!(with_query("https://rp/x", &[("a", "1 2")]), "https://rp/x?a=1%202");
        assert_eq!(with_query("https://rp/x?k=v", &[("a", "1"), ("b", "&")]), "https://rp/x?k=v&a=1&b=%26");
        assert_eq!(with_query("https://rp/x?", &[("a", "1")]), "https://rp/x?a=1");
        assert_eq!(with_query("https://rp/x?k=v&", &[("a", "1")]), "https://rp/x?k=v&a=1");
    }
}

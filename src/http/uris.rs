//! Which URIs a relying party may register, how they compare, and how parameters are added to
//! one.
//!
//! Registered URIs are kept byte for byte as given: redirects compare by simple string equality
//! (RP-Initiated Logout 1.0, section 3), so no normalisation is ever applied to them.

use url::Url;

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

//! Reading the `Cookie` header and writing `Set-Cookie`. Hand-written because it is a dozen
//! lines, while the `cookie` crate would bring the `time` crate into the wasm.

/// The value of the cookie `name` in a `Cookie` header (RFC 6265 section 5.4 form:
/// `a=1; b=2`). When a name appears twice, browsers send the most specific path first: the
/// first one wins. For a cookie a sibling subdomain could set too, use [`get_all`].
pub fn get<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    get_all(header, name).into_iter().next()
}

/// Every distinct value of the cookie `name`, in the order sent. A browser sends two cookies of
/// one name when they differ in domain or path; one may have been planted by a sibling
/// subdomain (cookie tossing, RFC 6265 section 8.6), and its path can put it first: the
/// caller must not trust the first blindly.
pub fn get_all<'a>(header: Option<&'a str>, name: &str) -> Vec<&'a str> {
    let mut values: Vec<&str> = Vec::new();
    for pair in header.unwrap_or_default().split(';') {
        let Some((n, v)) = pair.split_once('=') else { continue };
        let v = v.trim().trim_matches('"');
        if n.trim() == name && !values.contains(&v) {
            values.push(v);
        }
    }
    values
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
}

/// Attributes of a cookie this service sets or clears.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    pub path: &'a str,
    pub domain: Option<&'a str>,
    pub secure: bool,
    pub same_site: SameSite,
}

/// A `Set-Cookie` value. `value` must already be cookie-safe (this service only sets base64url).
pub fn set(name: &str, value: &str, max_age: i64, a: &Attributes<'_>) -> String {
    let mut s = format!("{name}={value}; Max-Age={max_age}; Path={}; HttpOnly", a.path);
    if let Some(d) = a.domain {
        s.push_str("; Domain=");
        s.push_str(d);
    }
    if a.secure {
        s.push_str("; Secure");
    }
    s.push_str(match a.same_site {
        SameSite::Lax => "; SameSite=Lax",
        SameSite::Strict => "; SameSite=Strict",
    });
    s
}

/// A `Set-Cookie` value that deletes the cookie (same name, path and domain, `Max-Age=0`).
pub fn clear(name: &str, a: &Attributes<'_>) -> String {
    set(name, "", 0, a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cookies() {
        let h = Some("a=1; op_session=abc-_; op_session_x=2;b=\"q\"");
        assert_eq!(get(h, "op_session"), Some("abc-_"));
        assert_eq!(get(h, "b"), Some("q"));
        assert_eq!(get(h, "op"), None);
        assert_eq!(get(None, "a"), None);
        assert_eq!(get(Some("a=1; a=2"), "a"), Some("1"));
        assert_eq!(get(Some("garbage"), "garbage"), None);
    }

    #[test]
    fn every_value_of_a_name_sent_twice_is_read_once_each_in_order() {
        assert_eq!(get_all(Some("op=planted; a=1; op=mine; op=planted"), "op"), ["planted", "mine"]);
        assert_eq!(get_all(Some("op=1"), "op"), ["1"]);
        assert!(get_all(Some("a=1"), "op").is_empty());
        assert!(get_all(None, "op").is_empty());
    }

    #[test]
    fn writes_and_clears() {
        let a = Attributes { path: "/", domain: Some("example.com"), secure: true, same_site: SameSite::Lax };
        assert_eq!(
            clear("op_session", &a),
            "op_session=; Max-Age=0; Path=/; HttpOnly; Domain=example.com; Secure; SameSite=Lax"
        );
        let b = Attributes { path: "/session/end", domain: None, secure: false, same_site: SameSite::Strict };
        assert_eq!(set("x", "v", 600, &b), "x=v; Max-Age=600; Path=/session/end; HttpOnly; SameSite=Strict");
    }
}

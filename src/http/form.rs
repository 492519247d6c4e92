//! Strict `application/x-www-form-urlencoded` decoding (for queries, bodies and path segments).
//!
//! Stricter than the usual URL libraries, which pass `%ZZ` through and replace invalid UTF-8:
//! here a stray `%`, a non-hex escape or bytes that are not UTF-8 are errors, so that what the
//! service acts on is exactly what the client sent.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    BadPercentEncoding,
    NotUtf8,
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BadPercentEncoding => f.write_str("the request has invalid percent-encoding"),
            FormError::NotUtf8 => f.write_str("the request is not valid UTF-8"),
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes percent-escapes (and `+` as a space when `plus_is_space`), strictly.
pub fn percent_decode(input: &[u8], plus_is_space: bool) -> Result<String, FormError> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let (Some(h), Some(l)) =
                    (input.get(i + 1).copied().and_then(hex), input.get(i + 2).copied().and_then(hex))
                else {
                    return Err(FormError::BadPercentEncoding);
                };
                out.push(h << 4 | l);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| FormError::NotUtf8)
}

/// Splits and decodes a form body or query string into its pairs, in order. Empty pieces
/// (`a=1&&b=2`, a trailing `&`) are skipped; a piece without `=` is a name with an empty value.
pub fn parse(input: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    input
        .split(|&b| b == b'&')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            Ok((percent_decode(name, true)?, percent_decode(value, true)?))
        })
        .collect()
}

/// Encodes a value for a query string: everything but unreserved characters is escaped.
pub fn encode_component(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(s: &str) -> Result<Vec<(String, String)>, FormError> {
        parse(s.as_bytes())
    }

    #[test]
    fn decodes_pairs_in_order() {
        assert_eq!(
            pairs("a=1&b=x+y%2Bz&c=&d&&e=%C3%A9").unwrap(),
            [("a", "1"), ("b", "x y+z"), ("c", ""), ("d", ""), ("e", "é")].map(|(a, b)| (a.to_string(), b.to_string()))
        );
        assert_eq!(pairs("").unwrap(), []);
        assert_eq!(pairs("a=b=c").unwrap(), [("a".to_string(), "b=c".to_string())]);
    }

    #[test]
    fn rejects_bad_escapes_and_bad_utf8() {
        for bad in ["a=%ZZ", "a=%", "a=%4", "a=%4g", "%zz=1", "a=100%"] {
            assert_eq!(pairs(bad), Err(FormError::BadPercentEncoding), "{bad}");
        }
        for bad in ["a=%FF", "a=%C3", "a=%C3%28", "a=%ED%A0%80"] {
            assert_eq!(pairs(bad), Err(FormError::NotUtf8), "{bad}");
        }
        assert_eq!(parse(b"a=\xff"), Err(FormError::NotUtf8));
    }

    #[test]
    fn path_segments_keep_plus() {
        assert_eq!(percent_decode(b"a+b%2Fc", false).unwrap(), "a+b/c");
    }

    #[test]
    fn encoding_round_trips() {
        let s = "a b&c=d/é?#%+";
        assert_eq!(percent_decode(encode_component(s).as_bytes(), true).unwrap(), s);
        assert_eq!(encode_component("AZaz09-._~"), "AZaz09-._~");
    }
}

//! Content negotiation by q-values: which of JSON and HTML a client prefers, and the weights
//! `Accept-Language` is read with.

/// A `q` weight (RFC 9110 12.4.2: `"0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]`) in thousandths,
/// 0 to 1000. Parsed to the grammar rather than as a float: exact, and no float parser in the wasm.
pub fn qvalue(q: &str) -> Option<u16> {
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths =
        frac.bytes().chain(std::iter::repeat(b'0')).take(3).fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The `q` parameter among a list item's parameters: 1000 when absent, `None` when malformed.
pub fn weight<'a>(mut params: impl Iterator<Item = &'a str>) -> Option<u16> {
    match params.find_map(|p| p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q="))) {
        None => Some(1000),
        Some(q) => qvalue(q.trim()),
    }
}

/// Whether the client prefers JSON to HTML, by the `Accept` header's q-values (RFC 9110 12.5.1).
pub fn prefers_json(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    let (mut json, mut html) = (None::<u16>, None::<u16>);
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        // A malformed weight counts as the default, as before: the item is still named.
        let q = weight(parts).unwrap_or(1000);
        match media.as_str() {
            "application/json" => json = Some(json.map_or(q, |j| j.max(q))),
            "text/html" => html = Some(html.map_or(q, |h| h.max(q))),
            _ => {}
        }
    }
    match (json, html) {
        (Some(j), Some(h)) => j > h,
        (Some(j), None) => j > 0,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qvalues_follow_the_grammar() {
        for (q, want) in [
            ("1", Some(1000)),
            ("1.000", Some(1000)),
            ("0", Some(0)),
            ("0.5", Some(500)),
            ("0.05", Some(50)),
            ("0.001", Some(1)),
            ("0.", Some(0)),
            ("1.", Some(1000)),
        ] {
            assert_eq!(qvalue(q), want, "{q}");
        }
        for q in ["", "2", "1.001", "0.0001", "-0.5", ".5", "0.5x", "01", "0,5", "1e0", "NaN", "inf"] {
            assert_eq!(qvalue(q), None, "{q}");
        }
        assert_eq!(weight(["a=b", " q=0.3"].into_iter()), Some(300));
        assert_eq!(weight(std::iter::empty()), Some(1000));
        assert_eq!(weight(["q=x"].into_iter()), None);
    }

    #[test]
    fn json_preference_follows_q_values() {
        assert!(prefers_json(Some("application/json")));
        assert!(prefers_json(Some("text/html;q=0.5, application/json")));
        assert!(!prefers_json(Some("text/html, application/json;q=0.9")));
        assert!(!prefers_json(Some("text/html,application/xhtml+xml,*/*;q=0.8")));
        assert!(!prefers_json(Some("application/json;q=0")));
        assert!(!prefers_json(None));
    }
}

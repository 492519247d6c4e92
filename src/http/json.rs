//! Reading a JSON object body into a typed input: the one check every JSON body goes through.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Why a body is not the expected JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonBodyError {
    /// Not JSON at all.
    Syntax(String),
    /// JSON, but not an object.
    NotAnObject,
    /// An object that does not fit the input (a wrong type, a member given twice...).
    Input(String),
}

impl fmt::Display for JsonBodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonBodyError::Syntax(e) => write!(f, "the body is not JSON: {e}"),
            JsonBodyError::NotAnObject => f.write_str("the body must be a JSON object"),
            JsonBodyError::Input(e) => f.write_str(e),
        }
    }
}

/// Parses `body` twice: as a value (syntax, nesting depth, an object), then into `T`, where a
/// member given twice is an error rather than "last one wins".
pub fn object<T: DeserializeOwned>(body: &[u8]) -> Result<T, JsonBodyError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| JsonBodyError::Syntax(e.to_string()))?;
    if !value.is_object() {
        return Err(JsonBodyError::NotAnObject);
    }
    serde_json::from_slice(body).map_err(|e| JsonBodyError::Input(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    struct Input {
        #[allow(dead_code)]
        a: String,
    }

    #[test]
    fn syntax_shape_and_duplicates_are_told_apart() {
        assert!(matches!(object::<Input>(b"{"), Err(JsonBodyError::Syntax(_))));
        assert_eq!(object::<Input>(b"[]").unwrap_err(), JsonBodyError::NotAnObject);
        let dup = object::<Input>(br#"{"a": "x", "a": "y"}"#).unwrap_err();
        assert!(matches!(&dup, JsonBodyError::Input(e) if e.contains("duplicate")), "{dup:?}");
        assert!(object::<Input>(br#"{"a": "x"}"#).is_ok());
    }
}

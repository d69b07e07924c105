//! Fields of JSON carried in string payloads (`std_msgs/String` whose `data` is JSON), found
//! by dotted paths such as `meta.command_id` or `steps.0.action`.
//!
//! Parsing is serde_json's (its recursion limit stops hostile nesting); this module only
//! walks the parsed value. A payload that is not JSON, or a path that ends on an object or
//! array, is an error the caller counts; a path that is simply absent is `None`.

use std::fmt;

/// Why a field could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The path text is not a usable dotted path.
    #[error("invalid JSON field path {path:?}: {reason}")]
    Path {
        /// The path as written.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The payload is not JSON.
    #[error("payload is not JSON: {reason}")]
    NotJson {
        /// serde_json's description, with line and column.
        reason: String,
    },
    /// The path leads to an object or array, which has no single value.
    #[error("JSON field {path} is an {kind}, not a string, number or boolean")]
    NotScalar {
        /// The path.
        path: String,
        /// `object` or `array`.
        kind: &'static str,
    },
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// A validated dotted path: object keys, or indices into arrays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonPath {
    text: String,
    segments: Vec<String>,
}

impl JsonPath {
    /// Parses `a.b.0.c`: segments of ASCII letters, digits, `_` and `-`.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = |reason| Error::Path {
            path: text.to_owned(),
            reason,
        };
        if text.trim().is_empty() {
            return Err(invalid("empty path"));
        }
        let segments: Vec<String> = text.split('.').map(str::to_owned).collect();
        if segments.iter().any(|s| s.is_empty()) {
            return Err(invalid("empty segment (leading, trailing or doubled '.')"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if !segments.iter().all(|s| s.chars().all(allowed)) {
            return Err(invalid(
                "only ASCII letters, digits, '_' and '-' between dots",
            ));
        }
        Ok(Self {
            text: text.to_owned(),
            segments,
        })
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A scalar found at a path.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A JSON string.
    String(String),
    /// A JSON number, as written (integers stay integers).
    Number(serde_json::Number),
    /// A JSON boolean.
    Bool(bool),
}

impl Scalar {
    /// The value as a correlation key: strings as they are, numbers and booleans as JSON
    /// writes them (`42`, `true`), so `"42"` and `42` name the same command.
    pub fn to_key(&self) -> String {
        match self {
            Scalar::String(s) => s.clone(),
            Scalar::Number(n) => n.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }
    }

    /// The value as a number: numbers, and strings that parse as one.
    pub fn to_f64(&self) -> Option<f64> {
        match self {
            Scalar::Number(n) => n.as_f64(),
            Scalar::String(s) => s.trim().parse().ok(),
            Scalar::Bool(_) => None,
        }
    }
}

/// A parsed JSON payload, read by several paths without parsing again.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPayload(serde_json::Value);

impl JsonPayload {
    /// Parses `text` as JSON.
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map(Self)
            .map_err(|e| Error::NotJson {
                reason: e.to_string(),
            })
    }

    /// The scalar at `path`; `None` when any step is missing or the value is `null`.
    pub fn field(&self, path: &JsonPath) -> Result<Option<Scalar>> {
        let mut value = &self.0;
        for segment in &path.segments {
            let next = match value {
                serde_json::Value::Object(map) => map.get(segment),
                serde_json::Value::Array(items) => {
                    segment.parse::<usize>().ok().and_then(|i| items.get(i))
                }
                _ => None,
            };
            match next {
                Some(v) => value = v,
                None => return Ok(None),
            }
        }
        match value {
            serde_json::Value::Null => Ok(None),
            serde_json::Value::Bool(b) => Ok(Some(Scalar::Bool(*b))),
            serde_json::Value::Number(n) => Ok(Some(Scalar::Number(n.clone()))),
            serde_json::Value::String(s) => Ok(Some(Scalar::String(s.clone()))),
            serde_json::Value::Array(_) => Err(Error::NotScalar {
                path: path.text.clone(),
                kind: "array",
            }),
            serde_json::Value::Object(_) => Err(Error::NotScalar {
                path: path.text.clone(),
                kind: "object",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn path(p: &str) -> JsonPath {
        JsonPath::parse(p).unwrap()
    }

    #[test]
    fn nested_keys_and_array_indices_reach_their_scalars() {
        let p = JsonPayload::parse(
            r#"{"command_id": "c-7", "meta": {"seq": 42, "ok": true},
                "steps": [{"action": "pick"}, {"action": "place"}], "confidence": 0.93}"#,
        )
        .unwrap();
        assert_eq!(
            p.field(&path("command_id")).unwrap(),
            Some(Scalar::String("c-7".into()))
        );
        assert_eq!(p.field(&path("meta.seq")).unwrap().unwrap().to_key(), "42");
        assert_eq!(p.field(&path("meta.ok")).unwrap().unwrap().to_key(), "true");
        assert_eq!(
            p.field(&path("steps.1.action")).unwrap().unwrap().to_key(),
            "place"
        );
        assert_eq!(
            p.field(&path("confidence")).unwrap().unwrap().to_f64(),
            Some(0.93)
        );
    }

    #[test]
    fn absent_fields_and_nulls_are_none_not_errors() {
        let p = JsonPayload::parse(r#"{"a": null, "b": [1]}"#).unwrap();
        for missing in ["a", "x", "a.b", "b.5", "b.x"] {
            assert_eq!(p.field(&path(missing)).unwrap(), None, "{missing}");
        }
    }

    #[test]
    fn objects_arrays_and_non_json_are_errors_that_say_why() {
        let p = JsonPayload::parse(r#"{"a": {"b": 1}, "c": []}"#).unwrap();
        assert!(p
            .field(&path("a"))
            .unwrap_err()
            .to_string()
            .contains("object"));
        assert!(p
            .field(&path("c"))
            .unwrap_err()
            .to_string()
            .contains("array"));
        let err = JsonPayload::parse("pick up the cup")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not JSON") && err.contains("column"), "{err}");
        assert!(JsonPayload::parse(&"[".repeat(10_000)).is_err());
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in ["", " ", ".a", "a.", "a..b", "a b", "a.ü"] {
            assert!(JsonPath::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn numeric_and_string_ids_name_the_same_key() {
        let n = JsonPayload::parse(r#"{"id": 42}"#).unwrap();
        let s = JsonPayload::parse(r#"{"id": "42"}"#).unwrap();
        let id = path("id");
        assert_eq!(
            n.field(&id).unwrap().unwrap().to_key(),
            s.field(&id).unwrap().unwrap().to_key()
        );
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_and_paths_never_panic(text in "\\PC{0,200}", p in "[a-z0-9.]{0,12}") {
            if let (Ok(payload), Ok(path)) = (JsonPayload::parse(&text), JsonPath::parse(&p)) {
                let _ = payload.field(&path);
            }
        }
    }
}

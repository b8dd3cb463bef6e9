//! Strict decoders shared by the token parser and the key-set parser.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// Decodes base64url without padding, rejecting the standard alphabet, padding, whitespace and
/// non-canonical trailing bits (the `base64` crate's `URL_SAFE_NO_PAD` does all of that).
pub(crate) fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Encodes bytes as base64url without padding.
#[cfg(any(test, feature = "testing"))]
pub(crate) fn encode_base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A JSON object whose top-level member names are unique.
///
/// RFC 7515 §5.2 lets a parser either reject duplicate header parameters or take the last one;
/// taking the last one lets two parsers disagree about the same bytes, so this crate rejects them.
pub(crate) struct StrictObject(pub(crate) Map<String, Value>);

impl<'de> Deserialize<'de> for StrictObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(StrictObjectVisitor)
    }
}

struct StrictObjectVisitor;

impl<'de> Visitor<'de> for StrictObjectVisitor {
    type Value = StrictObject;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON object with unique member names")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<StrictObject, A::Error> {
        let mut members = Map::new();
        while let Some((name, value)) = access.next_entry::<String, Value>()? {
            if members.contains_key(&name) {
                return Err(A::Error::custom("duplicate member name"));
            }
            members.insert(name, value);
        }
        Ok(StrictObject(members))
    }
}

/// Parses bytes as one JSON object with unique top-level member names, or nothing.
pub(crate) fn parse_strict_object(bytes: &[u8]) -> Option<Map<String, Value>> {
    serde_json::from_slice::<StrictObject>(bytes)
        .ok()
        .map(|object| object.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_is_strict() {
        assert_eq!(decode_base64url("Zm9v"), Some(b"foo".to_vec()));
        assert_eq!(decode_base64url("Zm8"), Some(b"fo".to_vec()));
        // Padding, the standard alphabet, whitespace and non-canonical trailing bits are all refused.
        for bad in ["Zm8=", "+/8", "Zm 9v", "Zm9", "Zm9v\n", "Zm9\u{e9}"] {
            assert_eq!(decode_base64url(bad), None, "{bad:?} must be refused");
        }
        assert_eq!(decode_base64url("_-8"), Some(vec![0xff, 0xef]));
    }

    #[test]
    fn strict_object_refuses_duplicates_and_non_objects() {
        assert!(parse_strict_object(br#"{"a":1,"b":{"a":2}}"#).is_some());
        assert!(parse_strict_object(br#"{"a":1,"a":2}"#).is_none());
        assert!(parse_strict_object(b"[1]").is_none());
        assert!(parse_strict_object(b"\"s\"").is_none());
        assert!(parse_strict_object(b"{} {}").is_none());
        assert!(parse_strict_object(b"").is_none());
    }
}

//! Numeric codes that the platform sends sometimes as numbers and sometimes as strings.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A code such as `resultInfo.code` or `resultInfo.subcode`.
///
/// The platform's examples show both `"code": 500` and `"code": "200"`. Both are read, and the
/// original form is kept so that serialization writes back exactly what arrived. Text that is not a
/// number is kept as well (as [`ResultCode::Text`]) rather than rejected; [`ResultCode::as_i64`]
/// then returns `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ResultCode {
    /// The code arrived as a JSON number.
    Number(serde_json::Number),
    /// The code arrived as a JSON string.
    Text(String),
}

impl ResultCode {
    /// The code as an integer, whichever form it arrived in; `None` for non-integral or non-numeric text.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Number(number) => number.as_i64(),
            Self::Text(text) => text.trim().parse().ok(),
        }
    }

    /// True when the code arrived as a string.
    pub fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }
}

impl From<i64> for ResultCode {
    fn from(code: i64) -> Self {
        Self::Number(code.into())
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(number) => write!(formatter, "{number}"),
            Self::Text(text) => formatter.write_str(text),
        }
    }
}

impl Serialize for ResultCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Number(number) => number.serialize(serializer),
            Self::Text(text) => serializer.serialize_str(text),
        }
    }
}

impl<'de> Deserialize<'de> for ResultCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Both forms are legitimate on the wire, so the representation is decided by what arrives.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Number(serde_json::Number),
            Text(String),
        }
        Ok(match Either::deserialize(deserializer)? {
            Either::Number(number) => Self::Number(number),
            Either::Text(text) => Self::Text(text),
        })
    }
}

//! [`verdict`]: what [`negotiate`](crate::negotiate) decides, without building the model.
//!
//! A webhook that only forwards the body (or only logs that it came) needs the decision — Graph,
//! legacy or invalid, and what to answer — not the typed notifications. Building them is most of
//! the work of negotiating (`cargo xtask bench`); checking a typical Graph body's envelope without
//! building anything costs a fraction of it. Every other body (legacy, invalid, or Graph with
//! surprises such as a repeated member) is negotiated in full, so the decision is always the one
//! [`negotiate`](crate::negotiate) makes.

use callhook_model::wire::Key;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::{Action, InvalidBody, LegacyPolicy, Negotiation, Protocol, UTF8_BYTE_ORDER_MARK};

/// The decision about a body: [`Negotiation`] without the notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A valid Graph envelope: answer 202.
    Graph,
    /// A legacy notification, answered with `action` (204 under the default policy).
    Legacy {
        /// What to answer.
        action: Action,
    },
    /// Neither: answer 400 with this reason.
    Invalid(InvalidBody),
}

impl Verdict {
    /// What to answer.
    pub fn action(&self) -> Action {
        match self {
            Self::Graph => Action::Accept,
            Self::Legacy { action } => *action,
            Self::Invalid(_) => Action::Reject,
        }
    }

    /// The format, or `None` for an invalid body.
    pub fn protocol(&self) -> Option<Protocol> {
        match self {
            Self::Graph => Some(Protocol::Graph),
            Self::Legacy { .. } => Some(Protocol::Legacy),
            Self::Invalid(_) => None,
        }
    }

    /// Why the body is invalid, when it is.
    pub fn invalid(&self) -> Option<&InvalidBody> {
        match self {
            Self::Invalid(reason) => Some(reason),
            _ => None,
        }
    }
}

impl Negotiation {
    /// The decision, without the notifications.
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::Graph(_) => Verdict::Graph,
            Self::Legacy { action, .. } => Verdict::Legacy { action: *action },
            Self::Invalid(reason) => Verdict::Invalid(reason.clone()),
        }
    }
}

/// Decides what [`negotiate`](crate::negotiate) decides for `body`, building the notifications only
/// when the body is not a plain Graph envelope. No IO, never panics.
///
/// ```
/// use callhook_protocol::{negotiate, verdict, Action, LegacyPolicy, Verdict};
///
/// let graph = br#"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/8e8d"}]}"#;
/// assert_eq!(verdict(graph, LegacyPolicy::default()), Verdict::Graph);
/// let legacy = br#"{"id":"8e8d","participants":[],"callState":"incoming"}"#;
/// assert_eq!(verdict(legacy, LegacyPolicy::default()).action(), Action::Redeliver);
/// let invalid = br#"{"value":[{"changeType":"created"}]}"#;
/// assert_eq!(
///     verdict(invalid, LegacyPolicy::default()),
///     negotiate(invalid, LegacyPolicy::default()).verdict()
/// );
/// ```
pub fn verdict(body: &[u8], policy: LegacyPolicy) -> Verdict {
    if is_plain_graph_envelope(body) {
        return Verdict::Graph;
    }
    crate::negotiate(body, policy).verdict()
}

/// True when `body` is certainly a valid Graph envelope: JSON (checked in full) whose top level is
/// an object with one `value` member, an array of objects with one `resourceUrl` string each.
/// False means "negotiate in full", not "invalid".
pub(crate) fn is_plain_graph_envelope(body: &[u8]) -> bool {
    let body = body.strip_prefix(UTF8_BYTE_ORDER_MARK).unwrap_or(body);
    let Ok(text) = std::str::from_utf8(body) else {
        return false;
    };
    if crate::scan::is_graph_envelope(text) {
        return true;
    }
    let mut deserializer = serde_json::Deserializer::from_str(text);
    EnvelopeCheck::deserialize(&mut deserializer).is_ok() && deserializer.end().is_ok()
}

/// Why the check gave up; [`negotiate`](crate::negotiate) finds the real reason, if any.
const GIVE_UP: &str = "not a plain Graph envelope";

fn give_up<E: serde::de::Error>() -> E {
    E::custom(GIVE_UP)
}

/// The top-level object.
struct EnvelopeCheck;

impl<'de> Deserialize<'de> for EnvelopeCheck {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EnvelopeCheck)
    }
}

impl<'de> Visitor<'de> for EnvelopeCheck {
    type Value = EnvelopeCheck;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a Graph envelope")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<EnvelopeCheck, A::Error> {
        let mut has_value = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() == "value" {
                // A repeated member: the full negotiation decides which one counts.
                if has_value {
                    return Err(give_up());
                }
                has_value = true;
                map.next_value_seed(ItemsCheck)?;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        if has_value {
            Ok(EnvelopeCheck)
        } else {
            Err(give_up())
        }
    }
}

/// `value`: an array of notifications.
struct ItemsCheck;

impl<'de> DeserializeSeed<'de> for ItemsCheck {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ItemsCheck {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("an array of notifications")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(ItemCheck)?.is_some() {}
        Ok(())
    }
}

/// One notification: an object with one `resourceUrl` string.
struct ItemCheck;

impl<'de> DeserializeSeed<'de> for ItemCheck {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemCheck {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a notification")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut has_resource_url = false;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.as_str() == "resourceUrl" {
                if has_resource_url {
                    return Err(give_up());
                }
                has_resource_url = true;
                map.next_value_seed(StringCheck)?;
            } else {
                map.next_value::<Skip>()?;
            }
        }
        if has_resource_url {
            Ok(())
        } else {
            Err(give_up())
        }
    }
}

/// Any JSON value, checked and not kept. (serde's `IgnoredAny` would skip nested arrays and objects
/// without the parser's nesting limit, which the full negotiation enforces.)
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(Skip)
    }
}

impl<'de> Visitor<'de> for Skip {
    type Value = Skip;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, _value: bool) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_i64<E: serde::de::Error>(self, _value: i64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_u64<E: serde::de::Error>(self, _value: u64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_f64<E: serde::de::Error>(self, _value: f64) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_str<E: serde::de::Error>(self, _value: &str) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_key::<Skip>()?.is_some() {
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

/// Any string, not kept.
struct StringCheck;

impl<'de> DeserializeSeed<'de> for StringCheck {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for StringCheck {
    type Value = ();

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, _text: &str) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::is_plain_graph_envelope;

    #[test]
    fn a_typical_incoming_call_takes_the_light_path() {
        let body = include_bytes!("../benches/data/incoming-call.json");
        assert!(is_plain_graph_envelope(body));
    }

    #[test]
    fn anything_unusual_is_left_to_the_full_negotiation() {
        let cases: [&[u8]; 10] = [
            br#"{"value":[{"resourceUrl":"/a"}],"value":[]}"#,
            br#"{"value":[{"resourceUrl":"/a","resourceUrl":"/b"}]}"#,
            br#"{"value":[{"resourceUrl":5}]}"#,
            br#"{"value":[{"changeType":"created"}]}"#,
            br#"{"value":[1]}"#,
            br#"{"value":{}}"#,
            br#"{"participants":[],"callState":"incoming"}"#,
            br#"[{"value":[]}]"#,
            br#"{"value":[]} x"#,
            b"{\"value\":[{\"resourceUrl\":\"\xff\"}]}",
        ];
        for body in cases {
            assert!(
                !is_plain_graph_envelope(body),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

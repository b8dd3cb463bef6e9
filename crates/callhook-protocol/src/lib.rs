//! Protocol negotiation for Teams calling webhooks: is a body a Graph notification, a legacy Skype
//! calling notification, or neither — and what does the webhook answer?
//!
//! The decision is made from the body alone, never from request order or counters (a counter that
//! answers 204 to "the first POST" breaks when the platform skips the legacy hop or calls overlap):
//!
//! * a JSON object with a `value` member is **Graph**: answer [`Action::Accept`] (202) when its
//!   envelope is valid (see [`callhook_model::graph`]), else [`Action::Reject`] (400);
//! * a JSON object without `value` but with legacy markers (`participants` + `callState`,
//!   `operationOutcome`, or `type` + `currentState`) is **legacy**: answer [`Action::Redeliver`]
//!   (204, so that the platform re-sends it in Graph format) under the default [`LegacyPolicy`], or
//!   [`Action::Accept`] under [`LegacyPolicy::Accept`];
//! * anything else is **invalid**: answer [`Action::Reject`] (400) with an [`InvalidBody`] reason a
//!   person can act on.
//!
//! [`negotiate`] parses the body into a JSON tree once and reads the model from it (the model's
//! one, tolerant reader). [`decide`] makes the same decision from one pass that builds nothing,
//! keeping the facts a webhook routes and logs by. Both read with `serde_json`; neither does IO or
//! panics, whatever the bytes.
//!
//! # Example
//!
//! ```
//! use callhook_protocol::{negotiate, Action, LegacyPolicy, Protocol};
//!
//! let legacy = br#"{"id":"8e8d","participants":[],"callState":"incoming","isMultiparty":false}"#;
//! let negotiation = negotiate(legacy, LegacyPolicy::default());
//! assert_eq!(negotiation.protocol(), Some(Protocol::Legacy));
//! assert_eq!(negotiation.action(), Action::Redeliver);
//! assert_eq!(negotiation.action().status_code(), 204);
//!
//! let graph = br##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/8e8d",
//!   "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##;
//! let negotiation = negotiate(graph, LegacyPolicy::default());
//! assert_eq!(negotiation.action(), Action::Accept);
//! let notifications = negotiation.graph().expect("a Graph body");
//! assert_eq!(notifications.value[0].call_id(), Some("8e8d"));
//!
//! let negotiation = negotiate(br#"{"value":{}}"#, LegacyPolicy::default());
//! assert_eq!(negotiation.action(), Action::Reject);
//! assert_eq!(negotiation.invalid().expect("invalid").to_string(), "`value` must be an array");
//! # Ok::<(), serde_json::Error>(())
//! ```

#![warn(missing_docs)]

pub mod headers;
mod verdict;

use callhook_model::graph::EnvelopeError;
use callhook_model::{CommsNotifications, LegacyNotification};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use verdict::{Decision, Verdict, decide, decide_summaries, decide_without_facts, verdict};

/// What to answer to a body in the legacy Skype calling format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LegacyPolicy {
    /// Answer 204 so that the platform re-sends the notification in Graph format (the default).
    #[default]
    Redeliver,
    /// Accept legacy bodies and hand them on like Graph ones.
    Accept,
}

impl LegacyPolicy {
    /// The action this policy takes for a legacy body.
    pub fn action(self) -> Action {
        match self {
            Self::Redeliver => Action::Redeliver,
            Self::Accept => Action::Accept,
        }
    }
}

/// What the webhook answers, as far as the body decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Take the notification (202 Accepted once it is handed on).
    Accept,
    /// A legacy body under [`LegacyPolicy::Redeliver`]: 204 No Content, empty body, so that the
    /// platform re-sends the event in Graph format.
    Redeliver,
    /// The body is neither format: 400 Bad Request with the reason.
    Reject,
}

impl Action {
    /// The HTTP status code of this action: 202, 204 or 400.
    pub fn status_code(self) -> u16 {
        match self {
            Self::Accept => 202,
            Self::Redeliver => 204,
            Self::Reject => 400,
        }
    }
}

/// The notification format of a valid body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// Microsoft Graph `commsNotifications`.
    Graph,
    /// The legacy Skype calling format.
    Legacy,
}

impl Protocol {
    /// `"graph"` or `"legacy"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Graph => "graph",
            Self::Legacy => "legacy",
        }
    }
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Why a body is neither a Graph nor a legacy notification. `Display` is the reason for a person.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidBody {
    /// The body is empty or only whitespace.
    #[error("body is empty")]
    Empty,
    /// The body is not JSON.
    #[error("not JSON at line {line} column {column}: {detail}")]
    NotJson {
        /// The line of the first error, from 1.
        line: usize,
        /// The column of the first error, from 1 (0 when the input ended early on an empty line).
        column: usize,
        /// What the parser expected or found, for example `expected value`.
        detail: String,
    },
    /// The body is JSON but not an object.
    #[error("body is a JSON {found}, not an object")]
    NotAnObject {
        /// What the body is: `array`, `string`, `number`, `boolean` or `null`.
        found: &'static str,
    },
    /// The object has no `value` and none of the legacy markers.
    #[error(
        "JSON object has neither `value` nor legacy markers \
         (`participants` + `callState`, `operationOutcome`, or `type` + `currentState`)"
    )]
    NeitherFormat,
    /// The object is one Graph notification (it has `changeType` and a `resourceUrl` or `resource`)
    /// without the envelope around it, as in some documentation examples.
    #[error(
        "JSON object is a single Graph notification without its envelope: the platform sends \
         `{{\"value\": [ ... ]}}` with the notifications inside `value`"
    )]
    NotificationWithoutEnvelope,
    /// `value` is present but not an array.
    #[error("`value` must be an array")]
    ValueNotArray,
    /// An item of `value` is not an object.
    #[error("`value[{index}]` must be an object")]
    ItemNotObject {
        /// The item's position in `value`, from 0.
        index: usize,
    },
    /// An item of `value` has neither a `resourceUrl` string nor a `resource` string.
    #[error(
        "`value[{index}]` has neither a `resourceUrl` nor a `resource` string, so it names no call"
    )]
    ItemWithoutResource {
        /// The item's position in `value`, from 0.
        index: usize,
    },
    /// The envelope is refused for another reason of the model, in its words.
    #[error("{reason}")]
    Envelope {
        /// The model's reason.
        reason: String,
    },
}

impl From<EnvelopeError> for InvalidBody {
    fn from(error: EnvelopeError) -> Self {
        match error {
            EnvelopeError::NotAnObject => Self::NotAnObject { found: "value" },
            EnvelopeError::MissingValue => Self::NeitherFormat,
            EnvelopeError::ValueNotArray => Self::ValueNotArray,
            EnvelopeError::ItemNotObject { index } => Self::ItemNotObject { index },
            EnvelopeError::ItemWithoutResource { index } => Self::ItemWithoutResource { index },
            // A reason a later model names that this version does not know by name.
            other => Self::Envelope {
                reason: other.to_string(),
            },
        }
    }
}

/// The outcome of [`negotiate`]: the body's format, its model, and what to answer.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Negotiation {
    /// A Graph notification; the answer is [`Action::Accept`].
    Graph(CommsNotifications),
    /// A legacy notification, and the answer the policy chose.
    Legacy {
        /// The notification.
        notification: Box<LegacyNotification>,
        /// [`Action::Redeliver`] or [`Action::Accept`], from the [`LegacyPolicy`].
        action: Action,
    },
    /// Neither format; the answer is [`Action::Reject`].
    Invalid(InvalidBody),
}

impl Negotiation {
    /// What to answer.
    pub fn action(&self) -> Action {
        match self {
            Self::Graph(_) => Action::Accept,
            Self::Legacy { action, .. } => *action,
            Self::Invalid(_) => Action::Reject,
        }
    }

    /// The format, or `None` for an invalid body.
    pub fn protocol(&self) -> Option<Protocol> {
        match self {
            Self::Graph(_) => Some(Protocol::Graph),
            Self::Legacy { .. } => Some(Protocol::Legacy),
            Self::Invalid(_) => None,
        }
    }

    /// The Graph notifications, when the body is Graph.
    pub fn graph(&self) -> Option<&CommsNotifications> {
        match self {
            Self::Graph(notifications) => Some(notifications),
            _ => None,
        }
    }

    /// The legacy notification, when the body is legacy.
    pub fn legacy(&self) -> Option<&LegacyNotification> {
        match self {
            Self::Legacy { notification, .. } => Some(notification),
            _ => None,
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

/// The UTF-8 byte order mark, which some HTTP clients put before JSON; it is skipped.
const UTF8_BYTE_ORDER_MARK: &[u8] = b"\xEF\xBB\xBF";

/// Decides, from the body alone, whether it is a Graph notification, a legacy notification or
/// neither, and what to answer. See the [crate documentation](crate) for the rules.
///
/// This function does no IO and never panics.
pub fn negotiate(body: &[u8], policy: LegacyPolicy) -> Negotiation {
    let body = body.strip_prefix(UTF8_BYTE_ORDER_MARK).unwrap_or(body);
    if body.iter().all(u8::is_ascii_whitespace) {
        return Negotiation::Invalid(InvalidBody::Empty);
    }
    // One reader: parse to a JSON tree, then read the model from it. The server decides from
    // `decide`, which builds nothing; this builds the bot's whole model, so it is off that path.
    let object = match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => object,
        Ok(other) => {
            return Negotiation::Invalid(InvalidBody::NotAnObject {
                found: json_kind(&other),
            });
        }
        Err(error) => return Negotiation::Invalid(not_json(&error, body)),
    };
    // `value` decides first: a Graph body is recognised by it even if it also carried legacy-looking
    // members, and a malformed `value` is reported as such rather than as "neither format".
    if object.contains_key("value") {
        return match CommsNotifications::from_json_object(object) {
            Ok(notifications) => Negotiation::Graph(notifications),
            Err(error) => Negotiation::Invalid(error.into()),
        };
    }
    let one_notification = looks_like_one_notification(&object);
    match LegacyNotification::from_json_object(object) {
        Some(notification) => Negotiation::Legacy {
            notification: Box::new(notification),
            action: policy.action(),
        },
        None if one_notification => Negotiation::Invalid(InvalidBody::NotificationWithoutEnvelope),
        None => Negotiation::Invalid(InvalidBody::NeitherFormat),
    }
}

/// True for an object that is one `commsNotification` item: a `changeType` and a resource path.
fn looks_like_one_notification(object: &serde_json::Map<String, Value>) -> bool {
    object.contains_key("changeType")
        && (object.contains_key("resourceUrl") || object.contains_key("resource"))
}

/// The reason for a body that is not JSON, without the position suffix serde adds to its message.
///
/// A body that starts with a member name (`"resource": ...`) is a piece cut out of an object, as
/// pasted from a log; the parser reads the name as a whole string and stops at the colon, so the
/// detail says what that means.
fn not_json(error: &serde_json::Error, body: &[u8]) -> InvalidBody {
    let (line, column) = (error.line(), error.column());
    let message = error.to_string();
    let suffix = format!(" at line {line} column {column}");
    let mut detail = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
    let starts_with_string = body
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|byte| *byte == b'"');
    if starts_with_string && detail == "trailing characters" {
        detail.push_str(
            " after a string: the body starts with a member (`\"name\": ...`) instead of `{`, \
             as a fragment of an object would",
        );
    }
    InvalidBody::NotJson {
        line,
        column,
        detail,
    }
}

/// The name of a JSON value's kind, for messages.
fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

//! [`verdict`]: what [`negotiate`](crate::negotiate) decides, without building the model.
//!
//! A webhook that only forwards the body (or only logs that it came) needs the decision — Graph,
//! legacy or invalid, and what to answer — not the typed notifications. Building them is most of
//! the work of negotiating (`cargo xtask bench`); scanning a typical Graph body's envelope without
//! building anything (`scan.rs`) costs a fifth of it. Every other body (legacy, invalid, or Graph with
//! surprises such as a repeated member) is negotiated in full, so the decision is always the one
//! [`negotiate`](crate::negotiate) makes.

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

/// True when `body` is certainly a valid Graph envelope (the scan of `scan.rs`); false means
/// "negotiate in full", not "invalid".
pub(crate) fn is_plain_graph_envelope(body: &[u8]) -> bool {
    let body = body.strip_prefix(UTF8_BYTE_ORDER_MARK).unwrap_or(body);
    std::str::from_utf8(body).is_ok_and(crate::scan::is_graph_envelope)
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

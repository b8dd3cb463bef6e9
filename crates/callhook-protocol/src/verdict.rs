//! [`decide`] and [`verdict`]: what [`negotiate`](crate::negotiate) decides, without building the
//! model.
//!
//! A webhook needs the decision (Graph, legacy or invalid, and what to answer) and, for a Graph
//! body, a few facts of each notification (routing's, the log line's), not the typed
//! notifications. Both come from one pass of `serde_json` over the body:
//! [`read_facts`](callhook_model::read_facts) reads a Graph body exactly when the model reads it
//! (it skips what it does not keep by the rules of the model's JSON tree), so its success is the
//! Graph decision, and its facts are kept for whoever needs them next. Every other body (legacy or
//! invalid) is negotiated in full, so that its answer and its reason are the ones
//! [`negotiate`](crate::negotiate) gives.

use callhook_model::{Facts, LegacyNotification, check_graph, read_facts, read_summaries};

use crate::{Action, InvalidBody, LegacyPolicy, Negotiation, Protocol};

/// The decision about a body: [`Negotiation`] without the notifications.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

/// The decision about a body, with what the next reader needs: the facts of a Graph body
/// (borrowed from it), the legacy notification of a legacy body, or the reason for refusing it.
/// Made once per body by [`decide`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Decision<'a> {
    /// A valid Graph envelope (answer 202), and the facts of its notifications.
    Graph(Facts<'a>),
    /// A legacy notification, and what the policy answers.
    Legacy {
        /// The notification.
        notification: Box<LegacyNotification>,
        /// [`Action::Redeliver`] or [`Action::Accept`].
        action: Action,
    },
    /// Neither format: answer 400 with this reason.
    Invalid(InvalidBody),
}

impl Decision<'_> {
    /// The decision alone.
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::Graph(_) => Verdict::Graph,
            Self::Legacy { action, .. } => Verdict::Legacy { action: *action },
            Self::Invalid(reason) => Verdict::Invalid(reason.clone()),
        }
    }

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

    /// The facts of a Graph body.
    pub fn facts(&self) -> Option<&Facts<'_>> {
        match self {
            Self::Graph(facts) => Some(facts),
            _ => None,
        }
    }
}

/// Decides what [`negotiate`](crate::negotiate) decides for `body`, keeping the facts of a Graph
/// body instead of building its notifications. No IO, never panics.
///
/// ```
/// use callhook_protocol::{decide, negotiate, Decision, LegacyPolicy};
///
/// let body = br##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/8e8d",
///   "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##;
/// let Decision::Graph(facts) = decide(body, LegacyPolicy::default()) else { panic!() };
/// assert_eq!(facts.new_incoming_calls().len(), 1);
/// assert_eq!(
///     decide(body, LegacyPolicy::default()).verdict(),
///     negotiate(body, LegacyPolicy::default()).verdict()
/// );
/// ```
pub fn decide(body: &[u8], policy: LegacyPolicy) -> Decision<'_> {
    match read_facts(body) {
        Ok(facts) => Decision::Graph(facts),
        Err(_) => decide_other(body, policy),
    }
}

/// Decides as [`decide`] does, reading of a Graph body only each notification's facts (those of
/// a log line) and not the routing facts of its new incoming calls
/// ([`read_summaries`](callhook_model::read_summaries)): its `Decision::Graph` holds the same
/// notifications as [`decide`]'s and no new incoming call. For a caller without region rules
/// that logs each notification. No IO, never panics.
///
/// ```
/// use callhook_protocol::{decide, decide_summaries, Decision, LegacyPolicy};
///
/// let body = br##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/8e8d",
///   "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##;
/// let Decision::Graph(facts) = decide_summaries(body, LegacyPolicy::default()) else { panic!() };
/// assert_eq!(facts.notifications()[0].state(), Some("incoming"));
/// assert_eq!(facts.new_incoming_calls().len(), 0);
/// assert_eq!(
///     decide_summaries(body, LegacyPolicy::default()).verdict(),
///     decide(body, LegacyPolicy::default()).verdict()
/// );
/// ```
pub fn decide_summaries(body: &[u8], policy: LegacyPolicy) -> Decision<'_> {
    match read_summaries(body) {
        Ok(facts) => Decision::Graph(facts),
        Err(_) => decide_other(body, policy),
    }
}

/// Decides as [`decide`] does, without reading the facts of a Graph body: it is checked by the
/// same rules and its notifications counted, and its `Decision::Graph` holds
/// [`Facts::unread`] (no facts, [`Facts::is_read`] false). For a caller that reads no fact: a
/// webhook without region rules whose log line is off. No IO, never panics.
///
/// ```
/// use callhook_protocol::{decide, decide_without_facts, Decision, LegacyPolicy};
///
/// let body = br##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/8e8d",
///   "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##;
/// let Decision::Graph(facts) = decide_without_facts(body, LegacyPolicy::default()) else { panic!() };
/// assert!(!facts.is_read());
/// assert_eq!(facts.len(), 1);
/// assert_eq!(
///     decide_without_facts(body, LegacyPolicy::default()).verdict(),
///     decide(body, LegacyPolicy::default()).verdict()
/// );
/// ```
pub fn decide_without_facts(body: &[u8], policy: LegacyPolicy) -> Decision<'_> {
    match check_graph(body) {
        Ok(count) => Decision::Graph(Facts::unread(count)),
        Err(_) => decide_other(body, policy),
    }
}

/// The decision on a body the facts reader refused: legacy or invalid, as
/// [`negotiate`](crate::negotiate) says.
fn decide_other(body: &[u8], policy: LegacyPolicy) -> Decision<'_> {
    match crate::negotiate(body, policy) {
        Negotiation::Legacy {
            notification,
            action,
        } => Decision::Legacy {
            notification,
            action,
        },
        Negotiation::Invalid(reason) => Decision::Invalid(reason),
        // The facts reader reads every body the model reads (tested on generated, mutated and
        // real bodies, and fuzzed); were one ever missed, it is still accepted, not refused.
        Negotiation::Graph(_) => Decision::Graph(Facts::default()),
    }
}

/// Decides what [`negotiate`](crate::negotiate) decides for `body`, building nothing for a Graph
/// body. No IO, never panics.
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
    decide_without_facts(body, policy).verdict()
}

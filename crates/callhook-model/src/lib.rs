//! Typed models of what the Microsoft Teams calling platform POSTs to a calling bot's webhook.
//!
//! Two formats exist:
//!
//! * [`graph`]: Microsoft Graph `commsNotifications`, the format a bot works with;
//! * [`legacy`]: the Skype calling format the platform may send first, which a bot answers with
//!   `204 No Content` so that the platform re-sends the event in Graph format.
//!
//! The models are tolerant by design, because the platform adds fields and values over time and a
//! webhook must never refuse a real notification over a detail: unknown members are kept in `extra`
//! at every level, enumerations compare case-insensitively and keep unknown values, codes such as
//! `resultInfo.code` accept numbers and numeric strings, and a resource that does not fit the model is
//! kept as raw JSON. Serializing writes back what was read (see [`graph`] for the two documented
//! normalisations). This crate does no IO, no HTTP and no cryptography.
//!
//! # Example
//!
//! ```
//! use callhook_model::{CallState, CommsNotifications};
//!
//! let body = r##"{"value":[{"changeType":"Created",
//!   "resourceUrl":"/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
//!   "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming","tenantId":"contoso-tenant",
//!     "source":{"identity":{"phone":{"id":"+15555550100"}},"region":"amer"},
//!     "targets":[{"identity":{"applicationInstance":{"id":"bot-instance-id"}}}],
//!     "somethingNew":{"kept":true}}}]}"##;
//!
//! let notifications: CommsNotifications = serde_json::from_str(body)?;
//! let notification = &notifications.value[0];
//! assert!(notification.is_new_incoming_call());
//! assert_eq!(notification.call_id(), Some("57DAB8B1894C409AB240BD8BEAE78896"));
//! assert_eq!(notification.state(), Some(&CallState::Incoming));
//!
//! let call = notification.call().expect("the resource is a call");
//! assert_eq!(call.tenant_id(), Some("contoso-tenant"));
//! assert_eq!(call.caller_phone_number(), Some("+15555550100"));
//! assert_eq!(call.source_region(), Some("amer"));
//! assert_eq!(call.target_application_ids().collect::<Vec<_>>(), ["bot-instance-id"]);
//! assert!(call.extra.contains_key("somethingNew"));
//! # Ok::<(), serde_json::Error>(())
//! ```

#![warn(missing_docs)]

mod code;
mod enums;
mod fit;
pub mod graph;
pub mod legacy;
mod macros;
mod wire;

pub use graph::facts::{
    Facts, FactsError, IncomingCallFacts, NotificationFacts, NotificationSummary, check_graph,
    read_facts, read_summaries,
};
pub use graph::{
    Call, CallDirection, CallState, ChangeType, CommsNotification, CommsNotifications,
    EnvelopeError, Identity, IdentitySet, Modality, Participant, Resource, ResourceData,
    ResultCode, ResultInfo,
};
pub use legacy::{
    CallStateChange, Conversation, ConversationResult, LegacyCallState, LegacyKind,
    LegacyNotification,
};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

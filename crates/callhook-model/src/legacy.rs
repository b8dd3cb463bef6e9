//! The legacy Skype calling format, which the platform may send first "for compatibility with the
//! previous Skype protocol" before re-sending the same event in Graph format.
//!
//! A legacy body has no `value` member and carries one of three sets of markers, checked in this
//! order (see [`LegacyKind::detect`]):
//!
//! 1. `operationOutcome` — a [`ConversationResult`];
//! 2. `participants` and `callState` — a [`Conversation`];
//! 3. `type` and `currentState` — a real-time-media [`CallStateChange`].
//!
//! The markers alone decide the kind. The same tolerance as in the Graph model applies (unknown
//! members kept in `extra`, case-insensitive enumerations that keep unknown values), and a body whose
//! markers are present but whose members do not fit the model is still accepted: it is kept whole in
//! the `extra` of its kind, with every modelled field `None`.

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

pub use crate::code::ResultCode;
pub use crate::enums::{LegacyCallState, LegacyModality, LegacyOutcome};
use crate::macros::model_struct;

/// Which legacy body a JSON object is, decided from its markers alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LegacyKind {
    /// A `Conversation`: `participants` and `callState`.
    Conversation,
    /// A `ConversationResult`: `operationOutcome`.
    ConversationResult,
    /// A real-time-media `callStateChange`: `type` and `currentState`.
    CallStateChange,
}

impl LegacyKind {
    /// The kind of legacy body `object` is, or `None` when it carries no legacy markers.
    pub fn detect(object: &Map<String, Value>) -> Option<Self> {
        if object.contains_key("operationOutcome") {
            Some(Self::ConversationResult)
        } else if object.contains_key("participants") && object.contains_key("callState") {
            Some(Self::Conversation)
        } else if object.contains_key("type") && object.contains_key("currentState") {
            Some(Self::CallStateChange)
        } else {
            None
        }
    }

    /// The kind's name in lower camel case: `conversation`, `conversationResult`, `callStateChange`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Conversation => "conversation",
            Self::ConversationResult => "conversationResult",
            Self::CallStateChange => "callStateChange",
        }
    }
}

impl std::fmt::Display for LegacyKind {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A body in the legacy Skype calling format.
#[derive(Debug, Clone, PartialEq)]
pub enum LegacyNotification {
    /// A `Conversation` (an incoming call offered in the legacy format).
    Conversation(Conversation),
    /// A `ConversationResult` (the outcome of an answer or other operation).
    ConversationResult(ConversationResult),
    /// A real-time-media `callStateChange`.
    CallStateChange(CallStateChange),
}

impl LegacyNotification {
    /// Reads a legacy body from a parsed JSON object; `None` when it carries no legacy markers.
    ///
    /// Never fails once the markers are present: members that do not fit the model leave the whole
    /// object in the kind's `extra`.
    pub fn from_json_object(object: Map<String, Value>) -> Option<Self> {
        let kind = LegacyKind::detect(&object)?;
        let value = Value::Object(object);
        Some(match kind {
            LegacyKind::Conversation => Self::Conversation(read_or_keep(value)),
            LegacyKind::ConversationResult => Self::ConversationResult(read_or_keep(value)),
            LegacyKind::CallStateChange => Self::CallStateChange(read_or_keep(value)),
        })
    }

    /// Which kind of legacy body this is.
    pub fn kind(&self) -> LegacyKind {
        match self {
            Self::Conversation(_) => LegacyKind::Conversation,
            Self::ConversationResult(_) => LegacyKind::ConversationResult,
            Self::CallStateChange(_) => LegacyKind::CallStateChange,
        }
    }

    /// The `id` (the conversation, that is the call).
    pub fn id(&self) -> Option<&str> {
        match self {
            Self::Conversation(conversation) => conversation.id.as_deref(),
            Self::ConversationResult(result) => result.id.as_deref(),
            Self::CallStateChange(change) => change.id.as_deref(),
        }
    }

    /// The call state: `callState`, or `currentState` of a `callStateChange`.
    pub fn call_state(&self) -> Option<&LegacyCallState> {
        match self {
            Self::Conversation(conversation) => conversation.call_state.as_ref(),
            Self::ConversationResult(result) => result.call_state.as_ref(),
            Self::CallStateChange(change) => change.current_state.as_ref(),
        }
    }

    /// `links.call`, when present.
    pub fn call_link(&self) -> Option<&str> {
        let links = match self {
            Self::Conversation(conversation) => conversation.links.as_ref(),
            Self::ConversationResult(result) => result.links.as_ref(),
            Self::CallStateChange(_) => None,
        };
        links.and_then(|links| links.call.as_deref())
    }

    /// The tenant: `tenantId` of a conversation, else of its originator.
    pub fn tenant_id(&self) -> Option<&str> {
        match self {
            Self::Conversation(conversation) => conversation.tenant_id.as_deref().or_else(|| {
                conversation
                    .originator()
                    .and_then(|participant| participant.tenant_id.as_deref())
            }),
            Self::ConversationResult(_) | Self::CallStateChange(_) => None,
        }
    }
}

impl Serialize for LegacyNotification {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Conversation(conversation) => conversation.serialize(serializer),
            Self::ConversationResult(result) => result.serialize(serializer),
            Self::CallStateChange(change) => change.serialize(serializer),
        }
    }
}

/// Reads a legacy struct, or keeps the whole object in its `extra` when it does not fit.
fn read_or_keep<T: for<'de> Deserialize<'de> + Default + HasExtra>(value: Value) -> T {
    match T::deserialize(&value) {
        Ok(parsed) => parsed,
        Err(_) => {
            let mut kept = T::default();
            if let Value::Object(object) = value {
                *kept.extra_mut() = object;
            }
            kept
        }
    }
}

/// Access to the `extra` members of a legacy struct, for [`read_or_keep`].
trait HasExtra {
    fn extra_mut(&mut self) -> &mut Map<String, Value>;
}

macro_rules! has_extra {
    ($($name:ident),+) => {
        $(impl HasExtra for $name {
            fn extra_mut(&mut self) -> &mut Map<String, Value> {
                &mut self.extra
            }
        })+
    };
}

has_extra!(Conversation, ConversationResult, CallStateChange);

model_struct! {
    /// A legacy `Conversation`: a call offered to the bot.
    Conversation {
        /// The conversation (call) id.
        id: String = "id",
        /// The participants.
        participants: Vec<LegacyParticipant> = "participants",
        /// Whether the conversation has more than two parties.
        is_multiparty: bool = "isMultiparty",
        /// The modalities offered.
        presented_modality_types: Vec<LegacyModality> = "presentedModalityTypes",
        /// The call's state.
        call_state: LegacyCallState = "callState",
        /// The tenant.
        tenant_id: String = "tenantId",
        /// Links (`links.call`).
        links: LegacyLinks = "links",
        /// The subject.
        subject: String = "subject",
        /// The chat thread id.
        thread_id: String = "threadId",
        /// The bot's app id.
        app_id: String = "appId",
        /// Opaque state of the bot.
        app_state: String = "appState",
        /// A correlation id.
        correlation_id: String = "correlationId",
    }
}

impl Conversation {
    /// The participants; empty when there are none.
    pub fn participants(&self) -> &[LegacyParticipant] {
        self.participants.as_deref().unwrap_or_default()
    }

    /// The participant that placed the call (`originator: true`).
    pub fn originator(&self) -> Option<&LegacyParticipant> {
        self.participants()
            .iter()
            .find(|participant| participant.originator == Some(true))
    }
}

/// The kind of a legacy identity, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegacyIdentityKind {
    /// `8:` or `29:`: a user.
    User,
    /// `28:`: a bot.
    Bot,
    /// Any other prefix, or none.
    Other,
}

model_struct! {
    /// A participant of a legacy `Conversation`.
    LegacyParticipant {
        /// The identity, for example `8:orgid:...` (user) or `28:<app id>` (bot).
        identity: String = "identity",
        /// The participant id.
        participant_id: String = "participantId",
        /// The endpoint id.
        endpoint_id: String = "endpointId",
        /// The language, for example `en-us`.
        language_id: String = "languageId",
        /// The tenant.
        tenant_id: String = "tenantId",
        /// The region, for example `amer`.
        region: String = "region",
        /// Whether this participant placed the call.
        originator: bool = "originator",
        /// Whether the participant is hidden.
        is_hidden: bool = "isHidden",
        /// The endpoint type (`endPointType`, spelled so on the wire).
        end_point_type: String = "endPointType",
        /// Whether the participant is kept out of the default audio routing group.
        remove_from_default_audio_routing_group: bool = "removeFromDefaultAudioRoutingGroup",
        /// The display name.
        display_name: String = "displayName",
    }
}

impl LegacyParticipant {
    /// The kind of identity, from its prefix (`8:` and `29:` user, `28:` bot).
    pub fn identity_kind(&self) -> LegacyIdentityKind {
        match self
            .identity
            .as_deref()
            .and_then(|identity| identity.split_once(':'))
        {
            Some(("8" | "29", _)) => LegacyIdentityKind::User,
            Some(("28", _)) => LegacyIdentityKind::Bot,
            _ => LegacyIdentityKind::Other,
        }
    }
}

model_struct! {
    /// The `links` of a legacy body.
    LegacyLinks {
        /// The call's link.
        call: String = "call",
    }
}

model_struct! {
    /// A legacy `ConversationResult`: the outcome of an operation on a conversation.
    ConversationResult {
        /// The conversation (call) id.
        id: String = "id",
        /// The bot's app id.
        app_id: String = "appId",
        /// Opaque state of the bot.
        app_state: String = "appState",
        /// Links (`links.call`).
        links: LegacyLinks = "links",
        /// The call's state.
        call_state: LegacyCallState = "callState",
        /// The outcome.
        operation_outcome: OperationOutcome = "operationOutcome",
    }
}

model_struct! {
    /// The `operationOutcome` of a legacy `ConversationResult`.
    OperationOutcome {
        /// The outcome's type, for example `answerOutcome` (`type` on the wire).
        outcome_type: String = "type",
        /// The operation id.
        id: String = "id",
        /// `success` or `failure`.
        outcome: LegacyOutcome = "outcome",
        /// Why the operation failed.
        failure_reason: String = "failureReason",
    }
}

model_struct! {
    /// A legacy real-time-media `callStateChange`.
    CallStateChange {
        /// The call id.
        id: String = "id",
        /// The notification type, `callStateChange` (`type` on the wire).
        notification_type: String = "type",
        /// The new state.
        current_state: LegacyCallState = "currentState",
        /// Why the state changed, as a number or a numeric string.
        state_change_code: ResultCode = "stateChangeCode",
    }
}

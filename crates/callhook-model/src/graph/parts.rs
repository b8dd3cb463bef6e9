//! The building blocks of Graph resources: identities, participant information, meeting and chat
//! information, and the small value objects of a call.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::code::ResultCode;
use crate::enums::{EndpointType, MediaDirection, MediaStatus, Modality, Tone};
use crate::macros::model_struct;

model_struct! {
    /// A Graph `identity`: one user, application, application instance, phone, guest or device.
    Identity {
        /// `@odata.type`, when the platform names the identity kind explicitly.
        odata_type: String = "@odata.type",
        /// The identity's id (an Entra object id, an app id, or a phone number for `phone`).
        id: String = "id",
        /// A display name.
        display_name: String = "displayName",
        /// The tenant of a user or application instance.
        tenant_id: String = "tenantId",
    }
}

model_struct! {
    /// A Graph `identitySet` (`communicationsIdentitySet`): who someone is, by kind.
    IdentitySet {
        /// `@odata.type`, when present.
        odata_type: String = "@odata.type",
        /// A Teams user.
        user: Identity = "user",
        /// An application (for example the bot itself as a call target).
        application: Identity = "application",
        /// An application instance (a resource account, as used by phone-number bots).
        application_instance: Identity = "applicationInstance",
        /// A PSTN phone number (in `id`).
        phone: Identity = "phone",
        /// A guest.
        guest: Identity = "guest",
        /// A device.
        device: Identity = "device",
        /// An encrypted identity.
        encrypted: Identity = "encrypted",
        /// The kind of endpoint.
        endpoint_type: EndpointType = "endpointType",
    }
}

impl IdentitySet {
    /// The first identity present, in the order user, application instance, application, phone,
    /// guest, device, encrypted.
    pub fn primary(&self) -> Option<&Identity> {
        self.user
            .as_ref()
            .or(self.application_instance.as_ref())
            .or(self.application.as_ref())
            .or(self.phone.as_ref())
            .or(self.guest.as_ref())
            .or(self.device.as_ref())
            .or(self.encrypted.as_ref())
    }
}

model_struct! {
    /// A Graph `participantInfo`: the caller (`call.source`) or a roster entry's `info`.
    ParticipantInfo {
        /// Who the participant is.
        identity: IdentitySet = "identity",
        /// The participant's home region (for example `westus` or `amer`).
        region: String = "region",
        /// The participant's language (for example `en-US`).
        language_id: String = "languageId",
        /// The kind of endpoint.
        endpoint_type: EndpointType = "endpointType",
        /// The ISO country code of the participant's location.
        country_code: String = "countryCode",
        /// The participant id.
        participant_id: String = "participantId",
        /// The client platform id.
        platform_id: String = "platformId",
    }
}

model_struct! {
    /// A Graph `invitationParticipantInfo`: a call target.
    InvitationParticipantInfo {
        /// Who the target is.
        identity: IdentitySet = "identity",
        /// The kind of endpoint.
        endpoint_type: EndpointType = "endpointType",
        /// Whether the target is hidden.
        hidden: bool = "hidden",
        /// The call this target replaces.
        replaces_call_id: String = "replacesCallId",
        /// The participant id.
        participant_id: String = "participantId",
        /// Whether the target is kept out of the default audio routing group.
        remove_from_default_audio_routing_group: bool = "removeFromDefaultAudioRoutingGroup",
    }
}

model_struct! {
    /// A Graph `organizerMeetingInfo`: a meeting named by its organizer.
    OrganizerMeetingInfo {
        /// `@odata.type` (`#microsoft.graph.organizerMeetingInfo`).
        odata_type: String = "@odata.type",
        /// The organizer.
        organizer: IdentitySet = "organizer",
    }
}

model_struct! {
    /// A Graph `tokenMeetingInfo`: a meeting named by a token.
    TokenMeetingInfo {
        /// `@odata.type` (`#microsoft.graph.tokenMeetingInfo`).
        odata_type: String = "@odata.type",
        /// The token.
        token: String = "token",
    }
}

model_struct! {
    /// A Graph `joinMeetingIdMeetingInfo`: a meeting named by its join id and passcode.
    JoinMeetingIdMeetingInfo {
        /// `@odata.type` (`#microsoft.graph.joinMeetingIdMeetingInfo`).
        odata_type: String = "@odata.type",
        /// The meeting's join id.
        join_meeting_id: String = "joinMeetingId",
        /// The passcode.
        passcode: String = "passcode",
    }
}

/// A Graph `meetingInfo`, dispatched on its `@odata.type`.
///
/// A kind this version does not know, or a known kind whose fields do not fit the model, is kept as
/// [`MeetingInfo::Unknown`] with the raw JSON; reading a `meetingInfo` never fails.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum MeetingInfo {
    /// `#microsoft.graph.organizerMeetingInfo`.
    Organizer(Box<OrganizerMeetingInfo>),
    /// `#microsoft.graph.tokenMeetingInfo`.
    Token(Box<TokenMeetingInfo>),
    /// `#microsoft.graph.joinMeetingIdMeetingInfo`.
    JoinMeetingId(Box<JoinMeetingIdMeetingInfo>),
    /// Any other kind, or a known kind that did not fit the model, as sent.
    Unknown(Value),
}

/// The kinds of `meetingInfo` the model reads, by the name of their `@odata.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MeetingInfoKind {
    Organizer,
    Token,
    JoinMeetingId,
}

impl MeetingInfoKind {
    /// The kind of a type name (without `#` and namespace), compared case-insensitively.
    pub(crate) fn of(name: &str) -> Option<Self> {
        [
            ("organizerMeetingInfo", Self::Organizer),
            ("tokenMeetingInfo", Self::Token),
            ("joinMeetingIdMeetingInfo", Self::JoinMeetingId),
        ]
        .into_iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(_, kind)| kind)
    }
}

impl MeetingInfo {
    /// The `@odata.type` as sent, whichever the variant.
    pub fn odata_type(&self) -> Option<&str> {
        match self {
            Self::Organizer(info) => info.odata_type.as_deref(),
            Self::Token(info) => info.odata_type.as_deref(),
            Self::JoinMeetingId(info) => info.odata_type.as_deref(),
            Self::Unknown(value) => value.get("@odata.type").and_then(Value::as_str),
        }
    }

    /// Reads a `meetingInfo` from JSON; never fails.
    pub fn from_value(value: Value) -> Self {
        let read = match super::graph_type_name(&value).and_then(MeetingInfoKind::of) {
            Some(MeetingInfoKind::Organizer) => super::read_with_fallback(value, Self::Organizer),
            Some(MeetingInfoKind::Token) => super::read_with_fallback(value, Self::Token),
            Some(MeetingInfoKind::JoinMeetingId) => {
                super::read_with_fallback(value, Self::JoinMeetingId)
            }
            None => Err(value),
        };
        read.unwrap_or_else(Self::Unknown)
    }
}

impl Serialize for MeetingInfo {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Organizer(info) => info.serialize(serializer),
            Self::Token(info) => info.serialize(serializer),
            Self::JoinMeetingId(info) => info.serialize(serializer),
            Self::Unknown(value) => value.serialize(serializer),
        }
    }
}

impl<'de> Deserialize<'de> for MeetingInfo {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Value::deserialize(deserializer).map(Self::from_value)
    }
}

model_struct! {
    /// A Graph `chatInfo`: the Teams chat a meeting call belongs to.
    ChatInfo {
        /// The chat thread id.
        thread_id: String = "threadId",
        /// The message id.
        message_id: String = "messageId",
        /// The id of the reply chain's root message.
        reply_chain_message_id: String = "replyChainMessageId",
    }
}

model_struct! {
    /// A Graph `incomingContext`: on whose behalf, and after which transfer, a call arrives.
    IncomingContext {
        /// The participant that placed the call.
        source_participant_id: String = "sourceParticipantId",
        /// The participant that is observed (for policy-based recording).
        observed_participant_id: String = "observedParticipantId",
        /// The identity the call is on behalf of.
        on_behalf_of: IdentitySet = "onBehalfOf",
        /// The identity that transferred the call.
        transferor: IdentitySet = "transferor",
    }
}

model_struct! {
    /// A Graph `callMediaState` (for example `{"audio":"active"}`).
    MediaState {
        /// The audio state.
        audio: MediaStatus = "audio",
    }
}

model_struct! {
    /// A Graph `toneInfo`: a DTMF key the caller pressed.
    ToneInfo {
        /// The order of the tone in the call, as a number or a numeric string (documented as a
        /// number; numbers arrive as strings elsewhere in the same notifications).
        sequence_id: ResultCode = "sequenceId",
        /// The key.
        tone: Tone = "tone",
    }
}

model_struct! {
    /// A Graph `resultInfo`: why a call ended or how an operation finished.
    ResultInfo {
        /// The code, as a number or a numeric string (both occur).
        code: ResultCode = "code",
        /// The subcode, as a number or a numeric string (both occur).
        subcode: ResultCode = "subcode",
        /// The subcode under the spelling `subCode`, which documentation examples use;
        /// [`ResultInfo::subcode_value`] reads either.
        sub_code: ResultCode = "subCode",
        /// A message for people.
        message: String = "message",
    }
}

impl ResultInfo {
    /// The code as an integer, sent as a number or a numeric string.
    pub fn code_value(&self) -> Option<i64> {
        self.code.as_ref().and_then(ResultCode::as_i64)
    }

    /// The subcode as an integer: `subcode`, else `subCode`, sent as a number or a numeric string.
    pub fn subcode_value(&self) -> Option<i64> {
        self.subcode
            .as_ref()
            .or(self.sub_code.as_ref())
            .and_then(ResultCode::as_i64)
    }
}

model_struct! {
    /// A Graph `mediaStream` of a participant.
    MediaStream {
        /// The modality of the stream.
        media_type: Modality = "mediaType",
        /// The stream's label.
        label: String = "label",
        /// The media source id.
        source_id: String = "sourceId",
        /// Which way media flows.
        direction: MediaDirection = "direction",
        /// Whether the server muted the stream.
        server_muted: bool = "serverMuted",
    }
}

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
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// The identity's id (an Entra object id, an app id, or a phone number for `phone`).
        id: String,
        /// A display name.
        display_name: String,
        /// The tenant of a user or application instance.
        tenant_id: String,
    }
}

model_struct! {
    /// A Graph `identitySet` (`communicationsIdentitySet`): who someone is, by kind.
    IdentitySet {
        /// `@odata.type`, when present.
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// A Teams user.
        user: Identity,
        /// An application (for example the bot itself as a call target).
        application: Identity,
        /// An application instance (a resource account, as used by phone-number bots).
        application_instance: Identity,
        /// A PSTN phone number (in `id`).
        phone: Identity,
        /// A guest.
        guest: Identity,
        /// A device.
        device: Identity,
        /// An encrypted identity.
        encrypted: Identity,
        /// The kind of endpoint.
        endpoint_type: EndpointType,
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
        identity: IdentitySet,
        /// The participant's home region (for example `westus` or `amer`).
        region: String,
        /// The participant's language (for example `en-US`).
        language_id: String,
        /// The kind of endpoint.
        endpoint_type: EndpointType,
        /// The ISO country code of the participant's location.
        country_code: String,
        /// The participant id.
        participant_id: String,
        /// The client platform id.
        platform_id: String,
    }
}

model_struct! {
    /// A Graph `invitationParticipantInfo`: a call target.
    InvitationParticipantInfo {
        /// Who the target is.
        identity: IdentitySet,
        /// The kind of endpoint.
        endpoint_type: EndpointType,
        /// Whether the target is hidden.
        hidden: bool,
        /// The call this target replaces.
        replaces_call_id: String,
        /// The participant id.
        participant_id: String,
        /// Whether the target is kept out of the default audio routing group.
        remove_from_default_audio_routing_group: bool,
    }
}

model_struct! {
    /// A Graph `organizerMeetingInfo`: a meeting named by its organizer.
    OrganizerMeetingInfo {
        /// `@odata.type` (`#microsoft.graph.organizerMeetingInfo`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// The organizer.
        organizer: IdentitySet,
    }
}

model_struct! {
    /// A Graph `tokenMeetingInfo`: a meeting named by a token.
    TokenMeetingInfo {
        /// `@odata.type` (`#microsoft.graph.tokenMeetingInfo`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// The token.
        token: String,
    }
}

model_struct! {
    /// A Graph `joinMeetingIdMeetingInfo`: a meeting named by its join id and passcode.
    JoinMeetingIdMeetingInfo {
        /// `@odata.type` (`#microsoft.graph.joinMeetingIdMeetingInfo`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// The meeting's join id.
        join_meeting_id: String,
        /// The passcode.
        passcode: String,
    }
}

/// A Graph `meetingInfo`, dispatched on its `@odata.type`.
///
/// A kind this version does not know, or a known kind whose fields do not fit the model, is kept as
/// [`MeetingInfo::Unknown`] with the raw JSON; reading a `meetingInfo` never fails.
#[derive(Debug, Clone, PartialEq)]
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

impl MeetingInfo {
    /// Reads a `meetingInfo` from JSON; never fails.
    pub fn from_value(value: Value) -> Self {
        let kind = super::graph_type_name(&value).map(str::to_ascii_lowercase);
        let parsed = match kind.as_deref() {
            Some("organizermeetinginfo") => OrganizerMeetingInfo::deserialize(&value)
                .map(|info| Self::Organizer(Box::new(info))),
            Some("tokenmeetinginfo") => {
                TokenMeetingInfo::deserialize(&value).map(|info| Self::Token(Box::new(info)))
            }
            Some("joinmeetingidmeetinginfo") => JoinMeetingIdMeetingInfo::deserialize(&value)
                .map(|info| Self::JoinMeetingId(Box::new(info))),
            _ => return Self::Unknown(value),
        };
        match parsed {
            Ok(info) => info,
            // A model mismatch must not make the whole call unreadable: keep the raw JSON.
            Err(_) => Self::Unknown(value),
        }
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
        thread_id: String,
        /// The message id.
        message_id: String,
        /// The id of the reply chain's root message.
        reply_chain_message_id: String,
    }
}

model_struct! {
    /// A Graph `incomingContext`: on whose behalf, and after which transfer, a call arrives.
    IncomingContext {
        /// The participant that placed the call.
        source_participant_id: String,
        /// The participant that is observed (for policy-based recording).
        observed_participant_id: String,
        /// The identity the call is on behalf of.
        on_behalf_of: IdentitySet,
        /// The identity that transferred the call.
        transferor: IdentitySet,
    }
}

model_struct! {
    /// A Graph `callMediaState` (for example `{"audio":"active"}`).
    MediaState {
        /// The audio state.
        audio: MediaStatus,
    }
}

model_struct! {
    /// A Graph `toneInfo`: a DTMF key the caller pressed.
    ToneInfo {
        /// The order of the tone in the call.
        sequence_id: i64,
        /// The key.
        tone: Tone,
    }
}

model_struct! {
    /// A Graph `resultInfo`: why a call ended or how an operation finished.
    ResultInfo {
        /// The code, as a number or a numeric string (both occur).
        code: ResultCode,
        /// The subcode, as a number or a numeric string (both occur).
        subcode: ResultCode,
        /// A message for people.
        message: String,
    }
}

model_struct! {
    /// A Graph `mediaStream` of a participant.
    MediaStream {
        /// The modality of the stream.
        media_type: Modality,
        /// The stream's label.
        label: String,
        /// The media source id.
        source_id: String,
        /// Which way media flows.
        direction: MediaDirection,
        /// Whether the server muted the stream.
        server_muted: bool,
    }
}

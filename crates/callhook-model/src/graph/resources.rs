//! The resources that appear in `resourceData`: calls, participants, operations and content-sharing
//! sessions.

use serde_json::Value;

use crate::enums::{
    CallDirection, CallState, Modality, OperationStatus, PlayPromptCompletionReason,
    RecordCompletionReason,
};
use crate::graph::parts::{
    ChatInfo, IdentitySet, IncomingContext, InvitationParticipantInfo, MediaState, MediaStream,
    MeetingInfo, ParticipantInfo, ResultInfo, ToneInfo,
};
use crate::macros::model_struct;

model_struct! {
    /// A Graph `call` resource, with every documented property and those seen in real traffic.
    Call {
        /// `@odata.type` (`#microsoft.graph.call`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// `@odata.id`, the resource path.
        #[serde(rename = "@odata.id")]
        odata_id: String,
        /// `@odata.etag`.
        #[serde(rename = "@odata.etag")]
        odata_etag: String,
        /// The call id.
        id: String,
        /// The call's state.
        state: CallState,
        /// Whether the call is incoming or outgoing.
        direction: CallDirection,
        /// Where the platform sends this call's notifications.
        callback_uri: String,
        /// The id shared by every leg of the call chain.
        call_chain_id: String,
        /// Call options (kept as JSON).
        call_options: Value,
        /// Call routes (kept as JSON).
        call_routes: Vec<Value>,
        /// The Teams chat of a meeting call.
        chat_info: ChatInfo,
        /// On whose behalf the call arrives.
        incoming_context: IncomingContext,
        /// Media configuration (kept as JSON).
        media_config: Value,
        /// Media state, for example `{"audio":"active"}`.
        media_state: MediaState,
        /// The meeting this call joins.
        meeting_info: MeetingInfo,
        /// The meeting's capabilities (kept as JSON; seen in traffic).
        meeting_capability: Value,
        /// The bot's own participant id in this call.
        my_participant_id: String,
        /// The modalities the caller asks for.
        requested_modalities: Vec<Modality>,
        /// The modalities in use (seen in traffic).
        active_modalities: Vec<Modality>,
        /// Why the call ended.
        result_info: ResultInfo,
        /// The caller.
        source: ParticipantInfo,
        /// The subject.
        subject: String,
        /// The callees (usually the bot, as an application or application instance).
        targets: Vec<InvitationParticipantInfo>,
        /// The tenant of the call (seen in traffic).
        tenant_id: String,
        /// A DTMF key the caller pressed.
        tone_info: ToneInfo,
        /// Transcription state (kept as JSON).
        transcription: Value,
        /// Application metadata of policy-based recording (kept as JSON).
        application_metadata: Value,
    }
}

impl Call {
    /// The tenant: `tenantId` of the call, else the caller's user tenant
    /// (`source.identity.user.tenantId`).
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref().or_else(|| {
            self.caller()
                .and_then(|identity| identity.user.as_ref())
                .and_then(|user| user.tenant_id.as_deref())
        })
    }

    /// The caller's identities (`source.identity`).
    pub fn caller(&self) -> Option<&IdentitySet> {
        self.source
            .as_ref()
            .and_then(|source| source.identity.as_ref())
    }

    /// The call targets; empty when there are none.
    pub fn targets(&self) -> &[InvitationParticipantInfo] {
        self.targets.as_deref().unwrap_or_default()
    }

    /// The call chain id.
    pub fn call_chain_id(&self) -> Option<&str> {
        self.call_chain_id.as_deref()
    }

    /// The caller's region (`source.region`).
    pub fn source_region(&self) -> Option<&str> {
        self.source
            .as_ref()
            .and_then(|source| source.region.as_deref())
    }

    /// The caller's phone number (`source.identity.phone.id`) for PSTN calls.
    pub fn caller_phone_number(&self) -> Option<&str> {
        self.caller()
            .and_then(|identity| identity.phone.as_ref())
            .and_then(|phone| phone.id.as_deref())
    }

    /// The ids of the targets' `application` and `applicationInstance` identities, in order.
    pub fn target_application_ids(&self) -> impl Iterator<Item = &str> {
        self.targets()
            .iter()
            .filter_map(|target| target.identity.as_ref())
            .flat_map(|identity| {
                [
                    identity.application.as_ref(),
                    identity.application_instance.as_ref(),
                ]
            })
            .flatten()
            .filter_map(|application| application.id.as_deref())
    }

    /// The call's state.
    pub fn state(&self) -> Option<&CallState> {
        self.state.as_ref()
    }
}

model_struct! {
    /// A Graph `participant`, as found in roster notifications.
    Participant {
        /// `@odata.type` (`#microsoft.graph.participant`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// `@odata.id`.
        #[serde(rename = "@odata.id")]
        odata_id: String,
        /// `@odata.etag`.
        #[serde(rename = "@odata.etag")]
        odata_etag: String,
        /// The participant id.
        id: String,
        /// Who the participant is.
        info: ParticipantInfo,
        /// The participant's media streams.
        media_streams: Vec<MediaStream>,
        /// Whether the participant is muted.
        is_muted: bool,
        /// Whether the participant waits in the lobby.
        is_in_lobby: bool,
        /// Opaque metadata.
        metadata: String,
        /// Recording information (kept as JSON).
        recording_info: Value,
        /// Restricted experience (kept as JSON).
        restricted_experience: Value,
    }
}

model_struct! {
    /// A Graph `playPromptOperation`.
    PlayPromptOperation {
        /// `@odata.type` (`#microsoft.graph.playPromptOperation`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// `@odata.id`.
        #[serde(rename = "@odata.id")]
        odata_id: String,
        /// `@odata.etag`.
        #[serde(rename = "@odata.etag")]
        odata_etag: String,
        /// The operation id.
        id: String,
        /// The operation's status.
        status: OperationStatus,
        /// The client context the bot passed when it started the operation.
        client_context: String,
        /// How the operation finished.
        result_info: ResultInfo,
        /// Why the prompt stopped.
        completion_reason: PlayPromptCompletionReason,
    }
}

model_struct! {
    /// A Graph `recordOperation` (record a response).
    RecordOperation {
        /// `@odata.type` (`#microsoft.graph.recordOperation`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// `@odata.id`.
        #[serde(rename = "@odata.id")]
        odata_id: String,
        /// `@odata.etag`.
        #[serde(rename = "@odata.etag")]
        odata_etag: String,
        /// The operation id.
        id: String,
        /// The operation's status.
        status: OperationStatus,
        /// The client context the bot passed when it started the operation.
        client_context: String,
        /// How the operation finished.
        result_info: ResultInfo,
        /// Why the recording stopped.
        completion_reason: RecordCompletionReason,
        /// Where to download the recording.
        recording_location: String,
        /// The token to download the recording with.
        recording_access_token: String,
    }
}

model_struct! {
    /// Any other Graph operation (`commsOperation` or a `#microsoft.graph.*Operation` this version does
    /// not model specifically, such as `subscribeToToneOperation` or `muteParticipantOperation`).
    Operation {
        /// `@odata.type`.
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// `@odata.id`.
        #[serde(rename = "@odata.id")]
        odata_id: String,
        /// `@odata.etag`.
        #[serde(rename = "@odata.etag")]
        odata_etag: String,
        /// The operation id.
        id: String,
        /// The operation's status.
        status: OperationStatus,
        /// The client context the bot passed when it started the operation.
        client_context: String,
        /// How the operation finished.
        result_info: ResultInfo,
    }
}

model_struct! {
    /// A Graph `contentSharingSession`.
    ContentSharingSession {
        /// `@odata.type` (`#microsoft.graph.contentSharingSession`).
        #[serde(rename = "@odata.type")]
        odata_type: String,
        /// `@odata.id`.
        #[serde(rename = "@odata.id")]
        odata_id: String,
        /// `@odata.etag`.
        #[serde(rename = "@odata.etag")]
        odata_etag: String,
        /// The session id.
        id: String,
    }
}

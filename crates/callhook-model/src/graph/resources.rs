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
        odata_type: String = "@odata.type",
        /// `@odata.id`, the resource path.
        odata_id: String = "@odata.id",
        /// `@odata.etag`.
        odata_etag: String = "@odata.etag",
        /// The call id.
        id: String = "id",
        /// The call's state.
        state: CallState = "state",
        /// The call's state under its pre-release (2018) name; [`Call::state`] reads either.
        call_state: CallState = "callState",
        /// Who answered the call (pre-release 2018 notifications of a redirected call).
        answered_by: IdentitySet = "answeredBy",
        /// Why the call ended (pre-release 2018 notifications, and some later terminations).
        termination_reason: String = "terminationReason",
        /// Whether the call is incoming or outgoing.
        direction: CallDirection = "direction",
        /// Where the platform sends this call's notifications.
        callback_uri: String = "callbackUri",
        /// The id shared by every leg of the call chain.
        call_chain_id: String = "callChainId",
        /// Call options (kept as JSON).
        call_options: Value = "callOptions",
        /// Call routes (kept as JSON).
        call_routes: Vec<Value> = "callRoutes",
        /// The Teams chat of a meeting call.
        chat_info: ChatInfo = "chatInfo",
        /// On whose behalf the call arrives.
        incoming_context: IncomingContext = "incomingContext",
        /// Media configuration (kept as JSON).
        media_config: Value = "mediaConfig",
        /// Media state, for example `{"audio":"active"}`.
        media_state: MediaState = "mediaState",
        /// The meeting this call joins.
        meeting_info: MeetingInfo = "meetingInfo",
        /// The meeting's capabilities (kept as JSON; seen in traffic).
        meeting_capability: Value = "meetingCapability",
        /// The bot's own participant id in this call.
        my_participant_id: String = "myParticipantId",
        /// The modalities the caller asks for.
        requested_modalities: Vec<Modality> = "requestedModalities",
        /// The modalities in use (seen in traffic).
        active_modalities: Vec<Modality> = "activeModalities",
        /// Why the call ended.
        result_info: ResultInfo = "resultInfo",
        /// The caller.
        source: ParticipantInfo = "source",
        /// The subject.
        subject: String = "subject",
        /// The callees (usually the bot, as an application or application instance).
        targets: Vec<InvitationParticipantInfo> = "targets",
        /// The tenant of the call (seen in traffic).
        tenant_id: String = "tenantId",
        /// A DTMF key the caller pressed.
        tone_info: ToneInfo = "toneInfo",
        /// Transcription state (kept as JSON).
        transcription: Value = "transcription",
        /// Application metadata of policy-based recording (kept as JSON).
        application_metadata: Value = "applicationMetadata",
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

    /// The call's state: `state`, else the pre-release `callState`.
    pub fn state(&self) -> Option<&CallState> {
        self.state.as_ref().or(self.call_state.as_ref())
    }

    /// How the call ended, when it did (`resultInfo`).
    pub fn result_info(&self) -> Option<&ResultInfo> {
        self.result_info.as_ref()
    }

    /// The meeting this call joins (`meetingInfo`), for example the organizer of a policy-based
    /// recording call.
    pub fn meeting_info(&self) -> Option<&MeetingInfo> {
        self.meeting_info.as_ref()
    }

    /// The application metadata of a policy-based recording call (`applicationMetadata`), as sent.
    pub fn application_metadata(&self) -> Option<&Value> {
        self.application_metadata.as_ref()
    }
}

model_struct! {
    /// A Graph `participant`, as found in roster notifications.
    Participant {
        /// `@odata.type` (`#microsoft.graph.participant`).
        odata_type: String = "@odata.type",
        /// `@odata.id`.
        odata_id: String = "@odata.id",
        /// `@odata.etag`.
        odata_etag: String = "@odata.etag",
        /// The participant id.
        id: String = "id",
        /// Who the participant is.
        info: ParticipantInfo = "info",
        /// The participant's media streams.
        media_streams: Vec<MediaStream> = "mediaStreams",
        /// Whether the participant is muted.
        is_muted: bool = "isMuted",
        /// Whether the participant waits in the lobby.
        is_in_lobby: bool = "isInLobby",
        /// Opaque metadata.
        metadata: String = "metadata",
        /// Recording information (kept as JSON).
        recording_info: Value = "recordingInfo",
        /// Restricted experience (kept as JSON).
        restricted_experience: Value = "restrictedExperience",
    }
}

model_struct! {
    /// A Graph `playPromptOperation`.
    PlayPromptOperation {
        /// `@odata.type` (`#microsoft.graph.playPromptOperation`).
        odata_type: String = "@odata.type",
        /// `@odata.id`.
        odata_id: String = "@odata.id",
        /// `@odata.etag`.
        odata_etag: String = "@odata.etag",
        /// The operation id.
        id: String = "id",
        /// The operation's status.
        status: OperationStatus = "status",
        /// The client context the bot passed when it started the operation.
        client_context: String = "clientContext",
        /// How the operation finished.
        result_info: ResultInfo = "resultInfo",
        /// Why the prompt stopped.
        completion_reason: PlayPromptCompletionReason = "completionReason",
    }
}

model_struct! {
    /// A Graph `recordOperation` (record a response).
    RecordOperation {
        /// `@odata.type` (`#microsoft.graph.recordOperation`).
        odata_type: String = "@odata.type",
        /// `@odata.id`.
        odata_id: String = "@odata.id",
        /// `@odata.etag`.
        odata_etag: String = "@odata.etag",
        /// The operation id.
        id: String = "id",
        /// The operation's status.
        status: OperationStatus = "status",
        /// The client context the bot passed when it started the operation.
        client_context: String = "clientContext",
        /// How the operation finished.
        result_info: ResultInfo = "resultInfo",
        /// Why the recording stopped.
        completion_reason: RecordCompletionReason = "completionReason",
        /// Where to download the recording.
        recording_location: String = "recordingLocation",
        /// The token to download the recording with.
        recording_access_token: String = "recordingAccessToken",
    }
}

model_struct! {
    /// Any other Graph operation (`commsOperation` or a `#microsoft.graph.*Operation` this version does
    /// not model specifically, such as `subscribeToToneOperation` or `muteParticipantOperation`).
    Operation {
        /// `@odata.type`.
        odata_type: String = "@odata.type",
        /// `@odata.id`.
        odata_id: String = "@odata.id",
        /// `@odata.etag`.
        odata_etag: String = "@odata.etag",
        /// The operation id.
        id: String = "id",
        /// The operation's status.
        status: OperationStatus = "status",
        /// The client context the bot passed when it started the operation.
        client_context: String = "clientContext",
        /// How the operation finished.
        result_info: ResultInfo = "resultInfo",
    }
}

model_struct! {
    /// A Graph `contentSharingSession`.
    ContentSharingSession {
        /// `@odata.type` (`#microsoft.graph.contentSharingSession`).
        odata_type: String = "@odata.type",
        /// `@odata.id`.
        odata_id: String = "@odata.id",
        /// `@odata.etag`.
        odata_etag: String = "@odata.etag",
        /// The session id.
        id: String = "id",
    }
}

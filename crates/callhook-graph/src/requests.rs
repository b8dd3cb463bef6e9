//! The bodies of the call actions, serialized exactly as Microsoft Graph documents them.
//!
//! Types that travel in both directions (identities, participant information, modalities) are
//! `callhook-model`'s and re-exported here; the types only requests use (media configuration,
//! prompts, call options, reject reasons) live here. See `docs/architecture.md`.

use std::time::Duration;

use serde::Serialize;

pub use callhook_model::graph::{
    Identity, IdentitySet, InvitationParticipantInfo, Modality, ParticipantInfo,
};

/// The shortest and longest `timeout` of a redirect, in seconds.
pub const REDIRECT_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 15..=90;

/// A media file: `{"uri", "resourceId"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaInfo {
    /// Where the file is (https).
    pub uri: String,
    /// The id the platform caches it under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
}

impl MediaInfo {
    /// The file at `uri`.
    pub fn new(uri: impl Into<String>) -> Self {
        Self {
            uri: uri.into(),
            resource_id: None,
        }
    }

    /// With the id the platform caches it under.
    #[must_use]
    pub fn resource_id(mut self, id: impl Into<String>) -> Self {
        self.resource_id = Some(id.into());
        self
    }
}

/// How the call's media is handled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "@odata.type")]
#[non_exhaustive]
pub enum MediaConfig {
    /// The platform handles the media (prompts, recording, tones): `serviceHostedMediaConfig`.
    #[serde(rename = "#microsoft.graph.serviceHostedMediaConfig")]
    ServiceHosted {
        /// Files the platform fetches ahead of time.
        #[serde(rename = "preFetchMedia", skip_serializing_if = "Vec::is_empty")]
        pre_fetch_media: Vec<MediaInfo>,
    },
    /// The bot handles the media itself: `appHostedMediaConfig` with the media platform's blob.
    #[serde(rename = "#microsoft.graph.appHostedMediaConfig")]
    AppHosted {
        /// The media session configuration blob.
        blob: String,
    },
}

impl MediaConfig {
    /// Service-hosted media with nothing pre-fetched.
    #[must_use]
    pub fn service_hosted() -> Self {
        Self::ServiceHosted {
            pre_fetch_media: Vec::new(),
        }
    }
}

/// `incomingCallOptions` of an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct IncomingCallOptions {
    /// Always `#microsoft.graph.incomingCallOptions`.
    #[serde(rename = "@odata.type")]
    odata_type: IncomingCallOptionsType,
    /// Send content-sharing notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_content_sharing_notification_enabled: Option<bool>,
    /// Send roster updates as deltas.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_delta_roster_enabled: Option<bool>,
    /// Send roster updates for interactive participants only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_interactive_roster_enabled: Option<bool>,
    /// Hide the bot once the call is escalated to a group call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hide_bot_after_escalation: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
enum IncomingCallOptionsType {
    #[default]
    #[serde(rename = "#microsoft.graph.incomingCallOptions")]
    IncomingCallOptions,
}

/// `POST /communications/calls/{id}/answer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AnswerRequest {
    /// Where every later notification of the call goes: the owning instance's `callbackUri`.
    pub callback_uri: String,
    /// The modalities the bot accepts.
    pub accepted_modalities: Vec<Modality>,
    /// The media configuration.
    pub media_config: MediaConfig,
    /// Call options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_options: Option<IncomingCallOptions>,
    /// How many participants the bot serves (policy-based recording).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participant_capacity: Option<u32>,
}

impl AnswerRequest {
    /// Answers with audio and service-hosted media, naming `callback_uri`.
    pub fn new(callback_uri: impl Into<String>) -> Self {
        Self {
            callback_uri: callback_uri.into(),
            accepted_modalities: vec![Modality::Audio],
            media_config: MediaConfig::service_hosted(),
            call_options: None,
            participant_capacity: None,
        }
    }

    /// Accepts these modalities.
    #[must_use]
    pub fn modalities(mut self, modalities: impl IntoIterator<Item = Modality>) -> Self {
        self.accepted_modalities = modalities.into_iter().collect();
        self
    }

    /// With this media configuration.
    #[must_use]
    pub fn media_config(mut self, media_config: MediaConfig) -> Self {
        self.media_config = media_config;
        self
    }

    /// With these call options.
    #[must_use]
    pub fn call_options(mut self, options: IncomingCallOptions) -> Self {
        self.call_options = Some(options);
        self
    }

    /// With a participant capacity.
    #[must_use]
    pub fn participant_capacity(mut self, capacity: u32) -> Self {
        self.participant_capacity = Some(capacity);
        self
    }
}

/// Why a call is rejected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum RejectReason {
    /// No reason given.
    #[default]
    None,
    /// The bot is busy.
    Busy,
    /// The caller may not call the bot.
    Forbidden,
}

/// `POST /communications/calls/{id}/reject`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RejectRequest {
    /// Why.
    pub reason: RejectReason,
    /// Where the call's last notifications go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
}

impl RejectRequest {
    /// Rejects for `reason`.
    #[must_use]
    pub fn new(reason: RejectReason) -> Self {
        Self {
            reason,
            callback_uri: None,
        }
    }

    /// Names the `callbackUri`.
    #[must_use]
    pub fn callback_uri(mut self, uri: impl Into<String>) -> Self {
        self.callback_uri = Some(uri.into());
        self
    }
}

/// `POST /communications/calls/{id}/redirect`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RedirectRequest {
    /// Who the call goes to.
    pub targets: Vec<InvitationParticipantInfo>,
    /// Seconds to wait for the targets, 15 to 90.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Where the call's notifications go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub callback_uri: Option<String>,
}

impl RedirectRequest {
    /// Redirects to `targets`.
    pub fn new(targets: impl IntoIterator<Item = InvitationParticipantInfo>) -> Self {
        Self {
            targets: targets.into_iter().collect(),
            timeout: None,
            callback_uri: None,
        }
    }

    /// Waits `timeout` for the targets; [`RedirectRequest::check`] refuses less than 15 s or more
    /// than 90 s.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout.as_secs());
        self
    }

    /// Names the `callbackUri`.
    #[must_use]
    pub fn callback_uri(mut self, uri: impl Into<String>) -> Self {
        self.callback_uri = Some(uri.into());
        self
    }

    /// What Graph would refuse: no target, or a timeout outside 15–90 s.
    ///
    /// # Errors
    ///
    /// The problem, in words.
    pub fn check(&self) -> Result<(), String> {
        if self.targets.is_empty() {
            return Err("a redirect needs at least one target".to_owned());
        }
        match self.timeout {
            Some(timeout) if !REDIRECT_TIMEOUT_SECS.contains(&timeout) => Err(format!(
                "timeout {timeout} s is outside {}–{} s",
                REDIRECT_TIMEOUT_SECS.start(),
                REDIRECT_TIMEOUT_SECS.end()
            )),
            _ => Ok(()),
        }
    }
}

/// A prompt to play: `mediaPrompt` with its `mediaInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Prompt {
    #[serde(rename = "@odata.type")]
    odata_type: PromptType,
    /// The file.
    pub media_info: MediaInfo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum PromptType {
    #[serde(rename = "#microsoft.graph.mediaPrompt")]
    MediaPrompt,
}

impl Prompt {
    /// Plays `media`.
    #[must_use]
    pub fn media(media: MediaInfo) -> Self {
        Self {
            odata_type: PromptType::MediaPrompt,
            media_info: media,
        }
    }
}

/// `POST /communications/calls/{id}/playPrompt`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PlayPromptRequest {
    /// Echoed in the operation's notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
    /// What to play, in order.
    pub prompts: Vec<Prompt>,
}

impl PlayPromptRequest {
    /// Plays `prompts`.
    pub fn new(prompts: impl IntoIterator<Item = Prompt>) -> Self {
        Self {
            client_context: None,
            prompts: prompts.into_iter().collect(),
        }
    }

    /// With a client context.
    #[must_use]
    pub fn client_context(mut self, context: impl Into<String>) -> Self {
        self.client_context = Some(context.into());
        self
    }
}

/// `POST /communications/calls/{id}/recordResponse`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct RecordResponseRequest {
    /// Whether the caller may interrupt the prompts.
    #[serde(rename = "bargeInAllowed", skip_serializing_if = "Option::is_none")]
    pub barge_in_allowed: Option<bool>,
    /// Echoed in the operation's notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
    /// Prompts played before recording.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub prompts: Vec<Prompt>,
    /// Seconds of silence before the recording starts that end it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_silence_timeout_in_seconds: Option<u32>,
    /// Seconds of silence after speech that end it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_silence_timeout_in_seconds: Option<u32>,
    /// The longest recording, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_record_duration_in_seconds: Option<u32>,
    /// Whether a beep is played before recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub play_beep: Option<bool>,
    /// DTMF keys that end the recording, for example `#`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stop_tones: Vec<String>,
}

/// `POST /communications/calls/{id}/subscribeToTone`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SubscribeToToneRequest {
    /// Echoed in the operation's notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_context: Option<String>,
}

impl SubscribeToToneRequest {
    /// With a client context.
    #[must_use]
    pub fn client_context(mut self, context: impl Into<String>) -> Self {
        self.client_context = Some(context.into());
        self
    }
}

/// `POST /communications/calls/{id}/transfer`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TransferRequest {
    /// Who the call is transferred to.
    pub transfer_target: InvitationParticipantInfo,
    /// For a consultative transfer, the participant being transferred.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transferee: Option<ParticipantInfo>,
}

impl TransferRequest {
    /// Transfers the call to `target`.
    #[must_use]
    pub fn new(target: InvitationParticipantInfo) -> Self {
        Self {
            transfer_target: target,
            transferee: None,
        }
    }
}

/// A call target that is a Teams user.
pub fn user_target(id: impl Into<String>, display_name: Option<&str>) -> InvitationParticipantInfo {
    InvitationParticipantInfo {
        identity: Some(IdentitySet {
            user: Some(identity(id.into(), display_name)),
            ..IdentitySet::default()
        }),
        ..InvitationParticipantInfo::default()
    }
}

/// A call target that is a phone number (E.164, for example `+15555550100`).
pub fn phone_target(number: impl Into<String>) -> InvitationParticipantInfo {
    InvitationParticipantInfo {
        identity: Some(IdentitySet {
            phone: Some(identity(number.into(), None)),
            ..IdentitySet::default()
        }),
        ..InvitationParticipantInfo::default()
    }
}

fn identity(id: String, display_name: Option<&str>) -> Identity {
    Identity {
        id: Some(id),
        display_name: display_name.map(str::to_owned),
        ..Identity::default()
    }
}

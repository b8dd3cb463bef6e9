//! Enumerations whose values the platform sends as text.
//!
//! Every enumeration here is *lenient*: parsing compares case-insensitively against the documented
//! spellings, and a value this version does not know is kept as [`Unknown`](ChangeType::Unknown)
//! with its original text instead of being rejected, because the platform adds values over time.
//! Serialization writes the documented lower-camel spelling for known values (so `"Incoming"` is
//! written back as `"incoming"`) and the original text for unknown ones.
//!
//! Where the platform documents a value literally called `unknown` (modalities, legacy call states),
//! it is not a separate variant: it is kept as `Unknown("unknown")`, which loses nothing.

use std::fmt;

/// Declares a lenient text enumeration: known variants, `Unknown(String)`, case-insensitive parsing.
macro_rules! lenient_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident => $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$variant_meta])* $variant, )+
            /// A value this version does not model, kept exactly as it was sent.
            Unknown(String),
        }

        impl $name {
            /// Every documented spelling, in the platform's lower-camel form.
            pub const DOCUMENTED_SPELLINGS: &'static [&'static str] = &[$($text),+];

            /// Reads a value, comparing case-insensitively; unknown text becomes `Unknown`.
            pub fn parse(text: &str) -> Self {
                $(
                    if text.eq_ignore_ascii_case($text) {
                        return Self::$variant;
                    }
                )+
                Self::Unknown(text.to_owned())
            }

            /// The documented spelling of a known value, or the original text of an unknown one.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $text, )+
                    Self::Unknown(text) => text,
                }
            }

            /// True when this version does not know the value.
            pub fn is_unknown(&self) -> bool {
                matches!(self, Self::Unknown(_))
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self::parse(text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(LenientTextVisitor { type_name: stringify!($name), parse: Self::parse })
            }
        }

        impl crate::fit::Fits for $name {
            // Any string reads (unknown text is kept); anything else is refused.
            fn fits<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
                crate::fit::read_leaf(deserializer, crate::fit::Leaf::Text)
            }
        }
    };
}

/// Reads any JSON string (borrowed or owned) into a lenient enumeration without copying it.
struct LenientTextVisitor<T> {
    type_name: &'static str,
    parse: fn(&str) -> T,
}

impl<T> serde::de::Visitor<'_> for LenientTextVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "a string for {}", self.type_name)
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        Ok((self.parse)(text))
    }
}

lenient_enum! {
    /// `changeType` of a Graph `commsNotification`.
    ChangeType {
        /// A resource was created, for example a new incoming call.
        Created => "created",
        /// A resource changed, for example a call became established.
        Updated => "updated",
        /// A resource went away, for example a call terminated or an operation finished.
        Deleted => "deleted",
    }
}

lenient_enum! {
    /// `state` of a Graph `call`.
    CallState {
        /// The call is offered to the bot and waits for answer, reject or redirect.
        Incoming => "incoming",
        /// The call is being set up.
        Establishing => "establishing",
        /// The callee is being alerted.
        Ringing => "ringing",
        /// The call is up.
        Established => "established",
        /// The call is on hold.
        Hold => "hold",
        /// The call is being transferred.
        Transferring => "transferring",
        /// The transfer target accepted.
        TransferAccepted => "transferAccepted",
        /// The call is being redirected.
        Redirecting => "redirecting",
        /// The call is being torn down.
        Terminating => "terminating",
        /// The call is over.
        Terminated => "terminated",
    }
}

lenient_enum! {
    /// `direction` of a Graph `call`.
    CallDirection {
        /// The call was placed to the bot.
        Incoming => "incoming",
        /// The bot placed the call.
        Outgoing => "outgoing",
    }
}

lenient_enum! {
    /// A Graph modality (`requestedModalities`, `activeModalities`, `mediaStreams[].mediaType`).
    Modality {
        /// Audio.
        Audio => "audio",
        /// Video.
        Video => "video",
        /// Screen sharing carried as video.
        VideoBasedScreenSharing => "videoBasedScreenSharing",
        /// Data.
        Data => "data",
    }
}

lenient_enum! {
    /// A value of Graph `mediaState` (for example `mediaState.audio`).
    MediaStatus {
        /// The media flows.
        Active => "active",
        /// The media does not flow.
        Inactive => "inactive",
    }
}

lenient_enum! {
    /// `direction` of a Graph `mediaStream`.
    MediaDirection {
        /// Neither sending nor receiving.
        Inactive => "inactive",
        /// Sending only.
        SendOnly => "sendOnly",
        /// Receiving only.
        ReceiveOnly => "receiveOnly",
        /// Sending and receiving.
        SendReceive => "sendReceive",
    }
}

lenient_enum! {
    /// `status` of a Graph operation (`commsOperation` and its kinds).
    OperationStatus {
        /// The operation has not started.
        NotStarted => "notStarted",
        /// The operation runs.
        Running => "running",
        /// The operation finished successfully.
        Completed => "completed",
        /// The operation failed.
        Failed => "failed",
    }
}

lenient_enum! {
    /// `tone` of a Graph `toneInfo` (a DTMF key).
    Tone {
        /// Key 0.
        Tone0 => "tone0",
        /// Key 1.
        Tone1 => "tone1",
        /// Key 2.
        Tone2 => "tone2",
        /// Key 3.
        Tone3 => "tone3",
        /// Key 4.
        Tone4 => "tone4",
        /// Key 5.
        Tone5 => "tone5",
        /// Key 6.
        Tone6 => "tone6",
        /// Key 7.
        Tone7 => "tone7",
        /// Key 8.
        Tone8 => "tone8",
        /// Key 9.
        Tone9 => "tone9",
        /// Key `*`.
        Star => "star",
        /// Key `#`.
        Pound => "pound",
        /// Key A.
        A => "a",
        /// Key B.
        B => "b",
        /// Key C.
        C => "c",
        /// Key D.
        D => "d",
        /// Hook flash.
        Flash => "flash",
    }
}

lenient_enum! {
    /// `endpointType` of a Graph participant or identity.
    EndpointType {
        /// A regular Teams client.
        Default => "default",
        /// Voicemail.
        Voicemail => "voicemail",
        /// A Skype for Business client.
        SkypeForBusiness => "skypeForBusiness",
        /// A Skype for Business `VoIP` phone.
        SkypeForBusinessVoipPhone => "skypeForBusinessVoipPhone",
    }
}

lenient_enum! {
    /// `completionReason` of a Graph `playPromptOperation`.
    PlayPromptCompletionReason {
        /// The prompt played to the end.
        CompletedSuccessfully => "completedSuccessfully",
        /// The prompt was cancelled.
        MediaOperationCanceled => "mediaOperationCanceled",
    }
}

lenient_enum! {
    /// `completionReason` of a Graph `recordOperation`.
    RecordCompletionReason {
        /// The recording was cancelled.
        OperationCanceled => "operationCanceled",
        /// A stop tone was pressed.
        StopToneDetected => "stopToneDetected",
        /// The maximum duration was reached.
        MaxRecordDurationReached => "maxRecordDurationReached",
        /// Nothing was said at the start.
        InitialSilenceTimeout => "initialSilenceTimeout",
        /// Silence lasted too long.
        MaxSilenceTimeout => "maxSilenceTimeout",
        /// The prompt before the recording failed.
        PlayPromptFailed => "playPromptFailed",
        /// The beep before the recording failed.
        PlayBeepFailed => "playBeepFailed",
        /// No media arrived in time.
        MediaReceiveTimeout => "mediaReceiveTimeout",
        /// Any other failure.
        UnspecifiedError => "unspecifiedError",
    }
}

lenient_enum! {
    /// `callState` / `currentState` of the legacy Skype calling format (documented in Pascal case,
    /// delivered in lower case; both are read).
    LegacyCallState {
        /// No call.
        Idle => "idle",
        /// The call is offered to the bot.
        Incoming => "incoming",
        /// The call is being set up.
        Establishing => "establishing",
        /// The call is up.
        Established => "established",
        /// The call is on hold.
        Hold => "hold",
        /// The call left hold.
        Unhold => "unhold",
        /// The call is being transferred.
        Transferring => "transferring",
        /// The call is being redirected.
        Redirecting => "redirecting",
        /// The call is being torn down.
        Terminating => "terminating",
        /// The call is over.
        Terminated => "terminated",
    }
}

lenient_enum! {
    /// A modality of the legacy Skype calling format (`presentedModalityTypes`).
    LegacyModality {
        /// Audio.
        Audio => "audio",
        /// Video.
        Video => "video",
        /// Screen sharing carried as video.
        VideoBasedScreenSharing => "videoBasedScreenSharing",
    }
}

lenient_enum! {
    /// `operationOutcome.outcome` of a legacy `ConversationResult`.
    LegacyOutcome {
        /// The operation succeeded.
        Success => "success",
        /// The operation failed.
        Failure => "failure",
    }
}

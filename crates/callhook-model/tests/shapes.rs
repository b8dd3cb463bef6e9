//! Every notification shape under `tests/data` is read, summarised into a snapshot, and written back
//! without loss.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

use std::path::Path;

use callhook_model::graph::{MeetingInfo, Resource, ResourceData};
use callhook_model::legacy::LegacyNotification;
use callhook_model::{Call, CommsNotification, CommsNotifications};
use serde_json::{Map, Value, json};

#[path = "support/data.rs"]
mod data;
use data::{file_stem, shape_files as data_files};

#[test]
fn graph_shapes() {
    let files = data_files("graph");
    assert!(
        files.len() >= 20,
        "expected every Graph shape, found {}",
        files.len()
    );
    for file in files {
        check_graph(&file);
    }
}

#[test]
fn legacy_shapes() {
    let files = data_files("legacy");
    assert!(
        files.len() >= 5,
        "expected every legacy shape, found {}",
        files.len()
    );
    for file in files {
        check_legacy(&file);
    }
}

/// Reads a Graph body, snapshots its summary, and checks the round trip.
fn check_graph(file: &Path) {
    let name = file_stem(file);
    let original = read_json(file);
    let notifications = CommsNotifications::from_value(original.clone())
        .unwrap_or_else(|error| panic!("{name}: not a Graph envelope: {error}"));

    let written = serde_json::to_value(&notifications).unwrap();
    let mut case_normalised = Vec::new();
    compare_written(&original, &written, "$", &mut case_normalised);
    let reread = CommsNotifications::from_value(written).unwrap();
    assert_eq!(
        reread, notifications,
        "{name}: parse -> serialize -> parse changed the model"
    );

    let summary = json!({
        "envelopeExtraKeys": keys(&notifications.extra),
        "notifications": notifications.iter().map(summarise_notification).collect::<Vec<_>>(),
        "caseNormalisedOnWrite": case_normalised,
    });
    insta::assert_json_snapshot!(format!("graph__{name}"), summary);
}

/// Reads a legacy body, snapshots its summary, and checks the round trip.
fn check_legacy(file: &Path) {
    let name = file_stem(file);
    let original = read_json(file);
    let Value::Object(object) = original.clone() else {
        panic!("{name}: not an object")
    };
    let notification = LegacyNotification::from_json_object(object)
        .unwrap_or_else(|| panic!("{name}: no legacy markers"));

    let written = serde_json::to_value(&notification).unwrap();
    let mut case_normalised = Vec::new();
    compare_written(&original, &written, "$", &mut case_normalised);
    let Value::Object(written) = written else {
        panic!("{name}: written form is not an object")
    };
    let reread = LegacyNotification::from_json_object(written).unwrap();
    assert_eq!(
        reread, notification,
        "{name}: parse -> serialize -> parse changed the model"
    );

    let summary = json!({
        "legacy": summarise_legacy(&notification),
        "caseNormalisedOnWrite": case_normalised,
    });
    insta::assert_json_snapshot!(format!("legacy__{name}"), summary);
}

fn summarise_notification(notification: &CommsNotification) -> Value {
    json!({
        "changeType": notification.change_type().map(|change| format!("{change:?}")),
        "resourceUrl": notification.resource_url,
        "callId": notification.call_id(),
        "resourceType": notification.resource_type(),
        "resourceData": match &notification.resource_data {
            ResourceData::Absent => json!("absent"),
            ResourceData::Object(resource) => summarise_resource(resource),
            ResourceData::Array(resources) => {
                Value::Array(resources.iter().map(summarise_resource).collect())
            }
        },
        "state": notification.state().map(|state| format!("{state:?}")),
        "isNewIncomingCall": notification.is_new_incoming_call(),
        "itemExtraKeys": keys(&notification.extra),
    })
}

fn summarise_resource(resource: &Resource) -> Value {
    let detail = match resource {
        Resource::Call(call) => summarise_call(call),
        Resource::Participant(participant) => json!({
            "id": participant.id,
            "identity": participant.info.as_ref()
                .and_then(|info| info.identity.as_ref())
                .and_then(|identity| identity.primary())
                .and_then(|identity| identity.id.as_deref()),
            "isMuted": participant.is_muted,
            "isInLobby": participant.is_in_lobby,
            "mediaStreams": participant.media_streams.iter().flatten()
                .map(|stream| format!("{:?} {:?}", stream.media_type, stream.direction))
                .collect::<Vec<_>>(),
        }),
        Resource::PlayPromptOperation(operation) => json!({
            "id": operation.id,
            "status": format!("{:?}", operation.status),
            "clientContext": operation.client_context,
            "completionReason": format!("{:?}", operation.completion_reason),
            "resultCode": operation.result_info.as_ref().and_then(|info| info.code.as_ref()).and_then(callhook_model::ResultCode::as_i64),
        }),
        Resource::RecordOperation(operation) => json!({
            "id": operation.id,
            "status": format!("{:?}", operation.status),
            "completionReason": format!("{:?}", operation.completion_reason),
            "recordingLocation": operation.recording_location,
            "hasAccessToken": operation.recording_access_token.is_some(),
            "resultCode": operation.result_info.as_ref().and_then(|info| info.code.as_ref()).and_then(callhook_model::ResultCode::as_i64),
        }),
        Resource::Operation(operation) => json!({
            "id": operation.id,
            "status": format!("{:?}", operation.status),
            "clientContext": operation.client_context,
        }),
        Resource::ContentSharingSession(session) => json!({ "id": session.id }),
        Resource::Unknown(raw) => json!({ "raw": raw }),
        other => json!({ "kind this test does not know": other.kind_name() }),
    };
    json!({ "kind": resource.kind_name(), "odataType": resource.odata_type(), "detail": detail })
}

fn summarise_call(call: &Call) -> Value {
    let result_info = call.result_info.as_ref().map(|info| {
        json!({
            "code": info.code.as_ref().map(callhook_model::ResultCode::as_i64),
            "codeWasText": info.code.as_ref().map(callhook_model::ResultCode::is_text),
            "subcode": info.subcode.as_ref().map(callhook_model::ResultCode::as_i64),
            "message": info.message,
        })
    });
    let meeting_info = call.meeting_info.as_ref().map(|info| match info {
        MeetingInfo::Organizer(organizer) => json!({"organizer": organizer.organizer.as_ref()
            .and_then(|identity| identity.primary()).and_then(|identity| identity.id.as_deref())}),
        MeetingInfo::Token(token) => json!({"token": token.token}),
        MeetingInfo::JoinMeetingId(join) => {
            json!({"joinMeetingId": join.join_meeting_id, "passcode": join.passcode})
        }
        MeetingInfo::Unknown(raw) => json!({"unknown": raw}),
        other => json!({"kind this test does not know": other.odata_type()}),
    });
    json!({
        "id": call.id,
        "state": call.state().map(|state| format!("{state:?}")),
        "direction": call.direction.as_ref().map(|direction| format!("{direction:?}")),
        "tenantId": call.tenant_id(),
        "caller": call.caller().and_then(|identity| identity.primary()).and_then(|identity| identity.id.as_deref()),
        "callerPhoneNumber": call.caller_phone_number(),
        "sourceRegion": call.source_region(),
        "callChainId": call.call_chain_id(),
        "targetApplicationIds": call.target_application_ids().collect::<Vec<_>>(),
        "targets": call.targets().len(),
        "requestedModalities": call.requested_modalities.as_ref()
            .map(|modalities| modalities.iter().map(|modality| format!("{modality:?}")).collect::<Vec<_>>()),
        "mediaState": call.media_state.as_ref().map(|state| format!("{:?}", state.audio)),
        "meetingInfo": meeting_info,
        "chatThreadId": call.chat_info.as_ref().and_then(|chat| chat.thread_id.as_deref()),
        "incomingContext": call.incoming_context.as_ref().map(|context| json!({
            "sourceParticipantId": context.source_participant_id,
            "observedParticipantId": context.observed_participant_id,
            "onBehalfOf": context.on_behalf_of.as_ref().and_then(|identity| identity.primary()).and_then(|identity| identity.id.as_deref()),
            "transferor": context.transferor.as_ref().and_then(|identity| identity.primary()).and_then(|identity| identity.id.as_deref()),
        })),
        "resultInfo": result_info,
        "toneInfo": call.tone_info.as_ref().map(|tone| json!({"sequenceId": tone.sequence_id, "tone": format!("{:?}", tone.tone)})),
        "myParticipantId": call.my_participant_id,
        "hasApplicationMetadata": call.application_metadata.is_some(),
        "callExtraKeys": keys(&call.extra),
    })
}

fn summarise_legacy(notification: &LegacyNotification) -> Value {
    let detail = match notification {
        LegacyNotification::Conversation(conversation) => json!({
            "participants": conversation.participants().iter()
                .map(|participant| json!({
                    "identity": participant.identity,
                    "kind": format!("{:?}", participant.identity_kind()),
                    "originator": participant.originator,
                }))
                .collect::<Vec<_>>(),
            "originator": conversation.originator().and_then(|participant| participant.identity.as_deref()),
            "isMultiparty": conversation.is_multiparty,
            "modalities": conversation.presented_modality_types.as_ref()
                .map(|modalities| modalities.iter().map(|modality| format!("{modality:?}")).collect::<Vec<_>>()),
            "extraKeys": keys(&conversation.extra),
        }),
        LegacyNotification::ConversationResult(result) => json!({
            "outcome": result.operation_outcome.as_ref().map(|outcome| json!({
                "type": outcome.outcome_type,
                "id": outcome.id,
                "outcome": format!("{:?}", outcome.outcome),
                "failureReason": outcome.failure_reason,
            })),
            "linksExtraKeys": result.links.as_ref().map(|links| keys(&links.extra)),
            "extraKeys": keys(&result.extra),
        }),
        LegacyNotification::CallStateChange(change) => json!({
            "type": change.notification_type,
            "stateChangeCode": change.state_change_code.as_ref().map(callhook_model::ResultCode::as_i64),
            "extraKeys": keys(&change.extra),
        }),
    };
    json!({
        "kind": notification.kind().as_str(),
        "id": notification.id(),
        "callState": notification.call_state().map(|state| format!("{state:?}")),
        "callLink": notification.call_link(),
        "tenantId": notification.tenant_id(),
        "detail": detail,
    })
}

/// Checks that `written` holds everything `original` held. Strings may differ in letter case only
/// (the documented normalisation of known enumeration values); each such place is recorded so that
/// the snapshot shows it.
fn compare_written(
    original: &Value,
    written: &Value,
    path: &str,
    case_normalised: &mut Vec<String>,
) {
    match (original, written) {
        (Value::Object(original), Value::Object(written)) => {
            for key in original.keys() {
                assert!(written.contains_key(key), "{path}.{key} was lost on write");
            }
            for key in written.keys() {
                assert!(
                    original.contains_key(key),
                    "{path}.{key} was invented on write"
                );
            }
            for (key, value) in original {
                compare_written(
                    value,
                    &written[key],
                    &format!("{path}.{key}"),
                    case_normalised,
                );
            }
        }
        (Value::Array(original), Value::Array(written)) => {
            assert_eq!(
                original.len(),
                written.len(),
                "{path}: array length changed on write"
            );
            for (index, (original, written)) in original.iter().zip(written).enumerate() {
                compare_written(
                    original,
                    written,
                    &format!("{path}[{index}]"),
                    case_normalised,
                );
            }
        }
        (Value::String(original), Value::String(written)) if original != written => {
            assert!(
                original.eq_ignore_ascii_case(written),
                "{path}: {original:?} written as {written:?}"
            );
            case_normalised.push(format!("{path}: {original} -> {written}"));
        }
        _ => assert_eq!(original, written, "{path} changed on write"),
    }
}

fn keys(object: &Map<String, Value>) -> Vec<&str> {
    object.keys().map(String::as_str).collect()
}

fn read_json(file: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap()
}

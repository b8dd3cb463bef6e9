//! The request bodies, serialized exactly as Microsoft Graph documents them (snapshots).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use callhook_graph::IncomingCall;
use callhook_graph::requests::{
    AnswerRequest, IncomingCallOptions, MediaConfig, MediaInfo, Modality, PlayPromptRequest,
    Prompt, RecordResponseRequest, RedirectRequest, RejectReason, RejectRequest,
    SubscribeToToneRequest, TransferRequest, phone_target, user_target,
};
use callhook_model::CommsNotifications;
use callhook_routing::{Partition, PartitionConfig};
use insta::assert_json_snapshot;

/// The documentation's incoming call, with the tenant real calls carry.
const INCOMING_CALL: &str = r##"{"@odata.type":"#microsoft.graph.commsNotifications","value":[{"@odata.type":"#microsoft.graph.commsNotification",
 "changeType":"created","resourceUrl":"/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
 "resourceData":{"@odata.type":"#microsoft.graph.call","@odata.id":"/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
  "@odata.etag":"W/\"5445\"","state":"incoming","direction":"incoming","tenantId":"72f988bf-86f1-41af-91ab-2d7cd011db47",
  "source":{"identity":{"user":{"displayName":"Test User","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698"}},"region":"westus","languageId":"en-US"},
  "targets":[{"identity":{"application":{"displayName":"Test BOT","id":"8A34A46B-3D17-4ADC-8DCE-DC4E7D572698"}}}],
  "requestedModalities":["audio","video","somethingNew"]}}]}"##;

/// The same call, established.
const ESTABLISHED: &str = r##"{"value":[{"changeType":"updated","resourceUrl":"/communications/calls/57DAB8B1894C409AB240BD8BEAE78896",
 "resourceData":{"@odata.type":"#microsoft.graph.call","state":"established"}}]}"##;

#[test]
fn answer_with_service_hosted_media() {
    let mut options = IncomingCallOptions::default();
    options.is_content_sharing_notification_enabled = Some(true);
    let request = AnswerRequest::new("https://bot.contoso.com/api/calls/0")
        .media_config(MediaConfig::ServiceHosted {
            pre_fetch_media: vec![
                MediaInfo::new("https://cdn.contoso.com/beep.wav")
                    .resource_id("f8971b04-b53e-418c-9222-c82ce681a582"),
                MediaInfo::new("https://cdn.contoso.com/cool.wav")
                    .resource_id("86dc814b-c172-4428-9112-60f8ecae1edb"),
            ],
        })
        .call_options(options)
        .participant_capacity(200);
    assert_json_snapshot!(request);
}

#[test]
fn answer_with_app_hosted_media() {
    let request = AnswerRequest::new("https://bot.contoso.com/api/calls/0")
        .modalities([Modality::Audio, Modality::Video])
        .media_config(MediaConfig::AppHosted {
            blob: "<Media Session Configuration Blob>".to_owned(),
        });
    assert_json_snapshot!(request);
}

#[test]
fn reject_redirect_and_transfer() {
    assert_json_snapshot!(
        "reject",
        RejectRequest::new(RejectReason::Busy).callback_uri("https://bot.contoso.com/api/calls/0")
    );
    assert_json_snapshot!(
        "reject_without_callback",
        RejectRequest::new(RejectReason::None)
    );
    let redirect = RedirectRequest::new([user_target(
        "7e1b4346-85a6-4bdd-abe3-d11c5d420efe",
        Some("test user"),
    )])
    .timeout(Duration::from_secs(30))
    .callback_uri("https://bot.contoso.com/api/calls/0");
    assert!(redirect.check().is_ok());
    assert_json_snapshot!("redirect", redirect);
    assert_json_snapshot!(
        "transfer",
        TransferRequest::new(phone_target("+12345678901"))
    );
}

#[test]
fn media_operations() {
    assert_json_snapshot!(
        "play_prompt",
        PlayPromptRequest::new([Prompt::media(
            MediaInfo::new("https://cdn.contoso.com/beep.wav")
                .resource_id("1D6DE2D4-CD51-4309-8DAA-70768651088E")
        )])
        .client_context("d45324c1-fcb5-430a-902c-f20af696537c")
    );
    let mut record = RecordResponseRequest::default();
    record.barge_in_allowed = Some(true);
    record.client_context = Some("d45324c1-fcb5-430a-902c-f20af696537c".to_owned());
    record.prompts = vec![Prompt::media(
        MediaInfo::new("https://cdn.contoso.com/beep.wav")
            .resource_id("1D6DE2D4-CD51-4309-8DAA-70768651088E"),
    )];
    record.max_record_duration_in_seconds = Some(10);
    record.initial_silence_timeout_in_seconds = Some(5);
    record.max_silence_timeout_in_seconds = Some(2);
    record.play_beep = Some(true);
    record.stop_tones = vec!["#".to_owned(), "1".to_owned(), "*".to_owned()];
    assert_json_snapshot!("record_response", record);
    assert_json_snapshot!(
        "subscribe_to_tone",
        SubscribeToToneRequest::default().client_context("fd1c7836-4d84-4e24-b6aa-23188688cc54")
    );
}

#[test]
fn an_incoming_call_is_answered_with_this_partitions_callback_uri() {
    let notifications: CommsNotifications = serde_json::from_str(INCOMING_CALL).unwrap();
    let partition = Partition::build(
        &PartitionConfig {
            id: "pod-3".into(),
            public_url: "https://bot.example.com".into(),
            url_template: None,
        },
        "/api/calls",
    )
    .unwrap();
    let arrived = Instant::now();
    let calls = IncomingCall::all(&notifications, arrived);
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.call_id(), "57DAB8B1894C409AB240BD8BEAE78896");
    assert_eq!(
        call.tenant_id(),
        Some("72f988bf-86f1-41af-91ab-2d7cd011db47")
    );
    let reference = call.call();
    assert_eq!(reference.id(), call.call_id());
    assert_eq!(
        reference.deadline_instant().instant(),
        arrived + Duration::from_secs(15)
    );
    assert_eq!(
        call.clone().policy_recording().deadline().instant(),
        arrived + Duration::from_secs(5)
    );
    assert_json_snapshot!("incoming_call_answer", call.answer(&partition));
    assert_json_snapshot!(
        "incoming_call_reject",
        call.reject(RejectReason::Forbidden, &partition)
    );
}

#[test]
fn later_notifications_are_not_incoming_calls() {
    let notifications: CommsNotifications = serde_json::from_str(ESTABLISHED).unwrap();
    assert!(IncomingCall::all(&notifications, Instant::now()).is_empty());
}

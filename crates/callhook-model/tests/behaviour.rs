//! The model's rules, one small check per rule.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

use callhook_model::graph::{
    CallDirection, MediaStatus, MeetingInfo, Modality, Tone, call_id_from_path,
};
use callhook_model::{
    CallState, ChangeType, CommsNotification, CommsNotifications, EnvelopeError, LegacyCallState,
    Resource, ResourceData, ResultCode,
};
use proptest::prelude::*;
use serde_json::{Value, json};

#[test]
fn enumerations_compare_case_insensitively_and_keep_unknown_values() {
    let cases: &[(&str, CallState)] = &[
        ("incoming", CallState::Incoming),
        ("Incoming", CallState::Incoming),
        ("INCOMING", CallState::Incoming),
        ("transferaccepted", CallState::TransferAccepted),
        ("parked", CallState::Unknown("parked".to_owned())),
        (" incoming", CallState::Unknown(" incoming".to_owned())),
    ];
    for (text, expected) in cases {
        let parsed: CallState = serde_json::from_value(json!(text)).unwrap();
        assert_eq!(&parsed, expected, "{text:?}");
    }
    // Known values are written in the documented spelling, unknown ones as they came.
    assert_eq!(
        serde_json::to_value(CallState::parse("TRANSFERACCEPTED")).unwrap(),
        json!("transferAccepted")
    );
    assert_eq!(
        serde_json::to_value(CallState::parse("Parked")).unwrap(),
        json!("Parked")
    );
    assert_eq!(ChangeType::parse("DELETED"), ChangeType::Deleted);
    assert_eq!(CallDirection::parse("Outgoing"), CallDirection::Outgoing);
    assert_eq!(MediaStatus::parse("ACTIVE"), MediaStatus::Active);
    assert_eq!(Tone::parse("Pound"), Tone::Pound);
    assert_eq!(LegacyCallState::parse("Unhold"), LegacyCallState::Unhold);
    // The documented value `unknown` is kept as text, not confused with anything known.
    assert_eq!(
        Modality::parse("unknown"),
        Modality::Unknown("unknown".to_owned())
    );
    assert!(Modality::parse("unknown").is_unknown());
}

#[test]
fn a_member_that_does_not_fit_is_kept_in_extra_and_the_rest_stays_readable() {
    assert!(serde_json::from_value::<CallState>(json!(3)).is_err());
    let raw = json!({"@odata.type": "#microsoft.graph.call", "state": 3, "id": 7,
        "direction": "incoming", "source": {"region": ["emea"]}, "tenantId": "t"});
    let resource = Resource::from_value(raw.clone());
    let Resource::Call(call) = &resource else {
        panic!("{resource:?}")
    };
    assert_eq!((call.state(), call.id.as_deref()), (None, None));
    assert_eq!(call.direction, Some(CallDirection::Incoming));
    assert_eq!(call.tenant_id(), Some("t"));
    assert_eq!(call.source, None);
    assert_eq!(call.extra.get("state"), Some(&json!(3)));
    assert_eq!(call.extra.get("source"), Some(&json!({"region": ["emea"]})));
    // Written back as it came.
    assert_eq!(serde_json::to_value(&resource).unwrap(), raw);
    // A resource that is not an object stays raw.
    assert!(matches!(
        Resource::from_value(json!([1])),
        Resource::Unknown(_)
    ));
}

#[test]
fn result_codes_accept_numbers_and_numeric_strings_and_keep_the_form() {
    let cases = [
        (json!(500), Some(500), false),
        (json!("200"), Some(200), true),
        (json!(" 5001 "), Some(5001), true),
        (json!(-1), Some(-1), false),
        (json!("n/a"), None, true),
        (json!(1.5), None, false),
    ];
    for (input, expected, is_text) in cases {
        let code: ResultCode = serde_json::from_value(input.clone()).unwrap();
        assert_eq!(code.as_i64(), expected, "{input}");
        assert_eq!(code.is_text(), is_text, "{input}");
        assert_eq!(
            serde_json::to_value(&code).unwrap(),
            input,
            "written back as it came"
        );
    }
    assert!(serde_json::from_value::<ResultCode>(json!(true)).is_err());
    assert!(serde_json::from_value::<ResultCode>(json!({"code": 1})).is_err());
}

#[test]
fn call_ids_come_from_either_path_form() {
    let cases = [
        ("/communications/calls/abc", Some("abc")),
        ("/communications/calls/abc/participants", Some("abc")),
        ("/communications/calls/abc/operations/op-1", Some("abc")),
        (
            "/communications/calls/abc/contentsharingsessions/s-1",
            Some("abc"),
        ),
        ("/app/calls/abc", Some("abc")),
        ("/v1.0/Communications/CALLS/abc?x=1", Some("abc")),
        ("/communications/calls/", None),
        ("/communications/calls", None),
        ("/communications/onlineMeetings/abc", None),
        ("", None),
    ];
    for (path, expected) in cases {
        assert_eq!(call_id_from_path(path), expected, "{path:?}");
    }
}

#[test]
fn call_id_falls_back_to_resource_then_to_the_call_id() {
    let from_resource =
        item(json!({"resourceUrl": "/other", "resource": "/app/calls/from-resource"}));
    assert_eq!(from_resource.call_id(), Some("from-resource"));
    let from_call = item(json!({"resourceUrl": "/other",
        "resourceData": {"@odata.type": "#microsoft.graph.call", "id": "from-call"}}));
    assert_eq!(from_call.call_id(), Some("from-call"));
}

#[test]
fn odata_types_dispatch_case_insensitively_with_or_without_hash_and_namespace() {
    let cases = [
        ("#microsoft.graph.call", "call"),
        ("microsoft.graph.call", "call"),
        ("#MICROSOFT.GRAPH.CALL", "call"),
        ("call", "call"),
        ("#microsoft.graph.participant", "participant"),
        (
            "#microsoft.graph.PlayPromptOperation",
            "playPromptOperation",
        ),
        ("#microsoft.graph.recordOperation", "recordOperation"),
        ("#microsoft.graph.commsOperation", "operation"),
        ("#microsoft.graph.muteParticipantOperation", "operation"),
        (
            "#microsoft.graph.contentSharingSession",
            "contentSharingSession",
        ),
        ("#other.namespace.call", "unknown"),
        ("#microsoft.graph.audioRoutingGroup", "unknown"),
        ("", "unknown"),
    ];
    for (odata_type, kind) in cases {
        let resource = Resource::from_value(json!({"@odata.type": odata_type}));
        assert_eq!(resource.kind_name(), kind, "{odata_type:?}");
        assert_eq!(
            resource.odata_type(),
            Some(odata_type),
            "the type is kept as sent"
        );
    }
    assert_eq!(
        Resource::from_value(json!({"state": "incoming"})).kind_name(),
        "unknown"
    );
    assert_eq!(
        Resource::from_value(json!({"@odata.type": 1})).kind_name(),
        "unknown"
    );
    assert_eq!(Resource::from_value(json!([1, 2])).kind_name(), "unknown");
}

#[test]
fn only_the_envelope_decides_validity() {
    let cases = [
        (json!([]), EnvelopeError::NotAnObject),
        (json!({}), EnvelopeError::MissingValue),
        (json!({"value": {}}), EnvelopeError::ValueNotArray),
        (json!({"value": "x"}), EnvelopeError::ValueNotArray),
        (
            json!({"value": [{"resourceUrl": "/a"}, 3]}),
            EnvelopeError::ItemNotObject { index: 1 },
        ),
        (
            json!({"value": [{"changeType": "created"}]}),
            EnvelopeError::ItemWithoutResource { index: 0 },
        ),
        (
            json!({"value": [{"resourceUrl": 7}]}),
            EnvelopeError::ItemWithoutResource { index: 0 },
        ),
        (
            json!({"value": [{"resource": "/app/calls/1"}, {"resourceUrl": null, "resource": 7}]}),
            EnvelopeError::ItemWithoutResource { index: 1 },
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            CommsNotifications::from_value(body.clone()),
            Err(expected),
            "{body}"
        );
    }
    assert_eq!(
        EnvelopeError::ItemNotObject { index: 1 }.to_string(),
        "`value[1]` must be an object"
    );
    assert_eq!(
        EnvelopeError::ValueNotArray.to_string(),
        "`value` must be an array"
    );
    // An empty batch and an item with nothing but `resourceUrl` are valid.
    assert!(
        CommsNotifications::from_value(json!({"value": []}))
            .unwrap()
            .is_empty()
    );
    let minimal = item(json!({"resourceUrl": "/communications/calls/x"}));
    assert_eq!(minimal.change_type, None);
    assert_eq!(minimal.resource_data, ResourceData::Absent);
    // The serde entry points apply the same rule.
    assert!(serde_json::from_value::<CommsNotifications>(json!({"value": [{}]})).is_err());
    assert!(serde_json::from_value::<CommsNotification>(json!({"changeType": "created"})).is_err());
}

#[test]
fn a_new_incoming_call_needs_created_and_state_incoming() {
    let call = |change: &str, state: &str| {
        item(
            json!({"changeType": change, "resourceUrl": "/communications/calls/x",
            "resourceData": {"@odata.type": "#microsoft.graph.call", "state": state}}),
        )
    };
    assert!(call("created", "incoming").is_new_incoming_call());
    assert!(call("CREATED", "Incoming").is_new_incoming_call());
    assert!(!call("updated", "incoming").is_new_incoming_call());
    assert!(!call("created", "established").is_new_incoming_call());
    assert!(
        !item(json!({"changeType": "created", "resourceUrl": "/communications/calls/x"}))
            .is_new_incoming_call()
    );
    let participant = item(
        json!({"changeType": "created", "resourceUrl": "/communications/calls/x/participants",
        "resourceData": [{"@odata.type": "#microsoft.graph.call", "state": "incoming"}]}),
    );
    assert!(
        !participant.is_new_incoming_call(),
        "only a single call object counts"
    );
}

#[test]
fn the_resource_type_of_an_array_is_its_first_elements() {
    let array = item(json!({"resourceUrl": "/x", "resourceData": [
        {"@odata.type": "#microsoft.graph.participant"}, {"@odata.type": "#microsoft.graph.call"}]}));
    assert_eq!(array.resource_type(), Some("#microsoft.graph.participant"));
    assert_eq!(array.resource_data.resources().len(), 2);
    assert_eq!(
        item(json!({"resourceUrl": "/x", "resourceData": []})).resource_type(),
        None
    );
    assert_eq!(item(json!({"resourceUrl": "/x"})).resource_type(), None);
}

#[test]
fn the_tenant_falls_back_to_the_callers_user_tenant() {
    let notification = item(
        json!({"resourceUrl": "/communications/calls/x", "resourceData": {
        "@odata.type": "#microsoft.graph.call",
        "source": {"identity": {"user": {"id": "u", "tenantId": "user-tenant"}}}}}),
    );
    assert_eq!(
        notification.call().unwrap().tenant_id(),
        Some("user-tenant")
    );
}

#[test]
fn meeting_info_is_read_by_its_odata_type_wherever_it_is_and_whatever_it_holds() {
    // (meetingInfo as sent, the variant the model must hold)
    let cases = [
        (
            r##"{"@odata.type":"#microsoft.graph.organizerMeetingInfo","organizer":{"user":{"id":"u","tenantId":"t"}},"allowConversationWithoutHost":true}"##,
            "organizer",
        ),
        (
            r##"{"@odata.type":"#Microsoft.Graph.TokenMeetingInfo","token":"x"}"##,
            "token",
        ),
        (
            r##"{"@odata.type":"#microsoft.graph.joinMeetingIdMeetingInfo","joinMeetingId":"123","passcode":"p","future":[1]}"##,
            "join",
        ),
        (
            r##"{"@odata.type":"#microsoft.graph.futureMeetingInfo","a":{"b":1}}"##,
            "unknown",
        ),
        ("null", "absent"),
        // A known kind with a member that does not fit: the member is kept in its `extra`.
        (
            r##"{"@odata.type":"#microsoft.graph.tokenMeetingInfo","token":5}"##,
            "token",
        ),
        // `@odata.type` not first, or repeated (the last occurrence decides).
        (
            r##"{"token":"x","@odata.type":"#microsoft.graph.tokenMeetingInfo"}"##,
            "token",
        ),
        (
            r##"{"@odata.type":"#microsoft.graph.futureMeetingInfo","@odata.type":"#microsoft.graph.tokenMeetingInfo","token":"x"}"##,
            "token",
        ),
        (
            r##"{"@odata.type":"#microsoft.graph.tokenMeetingInfo","@odata.type":"#microsoft.graph.futureMeetingInfo"}"##,
            "unknown",
        ),
    ];
    for (meeting_info, variant) in cases {
        let body = format!(
            r##"{{"value":[{{"resourceUrl":"/communications/calls/c","resourceData":{{"@odata.type":"#microsoft.graph.call","meetingInfo":{meeting_info},"state":"incoming"}}}}]}}"##
        );
        let tolerant =
            CommsNotifications::from_value(serde_json::from_str(&body).unwrap()).unwrap();
        let call = tolerant.value[0].call().unwrap();
        let found = match &call.meeting_info {
            None => "absent",
            Some(MeetingInfo::Organizer(_)) => "organizer",
            Some(MeetingInfo::Token(_)) => "token",
            Some(MeetingInfo::JoinMeetingId(_)) => "join",
            Some(MeetingInfo::Unknown(_)) => "unknown",
            Some(_) => "a kind this test does not know",
        };
        assert_eq!(found, variant, "{meeting_info}");
        assert_eq!(call.state, Some(CallState::Incoming), "{meeting_info}");
    }
}

#[test]
fn an_explicit_null_on_a_modelled_field_reads_as_absent() {
    // Documented normalisation: `null` and absence mean the same in Graph, and the model writes
    // neither. Unmodelled nulls are kept.
    let notification = item(
        json!({"resourceUrl": "/communications/calls/x", "resourceData": {
        "@odata.type": "#microsoft.graph.call", "subject": null, "futureField": null}}),
    );
    let call = notification.call().unwrap();
    assert_eq!(call.subject, None);
    let written = serde_json::to_value(&notification).unwrap();
    assert_eq!(
        written["resourceData"],
        json!({"@odata.type": "#microsoft.graph.call", "futureField": null})
    );
}

proptest! {
    /// Whatever JSON arrives, reading never panics, and what is read survives a round trip.
    #[test]
    fn any_json_reads_without_panic_and_round_trips(body in envelope_like()) {
        let tolerant = CommsNotifications::from_value(body);
        if let Ok(notifications) = tolerant {
            let written = serde_json::to_value(&notifications).unwrap();
            let reread = CommsNotifications::from_value(written).unwrap();
            prop_assert_eq!(reread, notifications);
        }
    }
}

/// JSON shaped like notifications: the model's own keys and values, mixed with noise.
fn envelope_like() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("@odata.type".to_owned()),
        Just("changeType".to_owned()),
        Just("resourceUrl".to_owned()),
        Just("resource".to_owned()),
        Just("resourceData".to_owned()),
        Just("state".to_owned()),
        Just("source".to_owned()),
        Just("identity".to_owned()),
        Just("user".to_owned()),
        Just("resultInfo".to_owned()),
        Just("code".to_owned()),
        Just("targets".to_owned()),
        Just("meetingInfo".to_owned()),
        Just("toneInfo".to_owned()),
        Just("tenantId".to_owned()),
        Just("info".to_owned()),
        Just("mediaStreams".to_owned()),
        "[a-zA-Z]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        prop_oneof![
            Just("#microsoft.graph.call"),
            Just("#microsoft.graph.participant"),
            Just("#microsoft.graph.playPromptOperation"),
            Just("#microsoft.graph.recordOperation"),
            Just("#microsoft.graph.fooOperation"),
            Just("#microsoft.graph.tokenMeetingInfo"),
            Just("created"),
            Just("Incoming"),
            Just("/communications/calls/x"),
            Just("500"),
            Just(""),
        ]
        .prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ];
    let value = leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    });
    prop::collection::vec(value, 0..4).prop_map(|items| json!({"value": items}))
}

fn item(value: Value) -> CommsNotification {
    serde_json::from_value(value).unwrap()
}

/// The variations real bodies show, each of which once made a call unreadable or a body refused:
/// `resource` without `resourceUrl`, a path without its leading slash, enumerations in any case,
/// `subCode`, `null` optional members, `@odata.type` without `#`, numbers as strings, and the
/// pre-release 2018 names (`callState`, `answeredBy`, `terminationReason`, `endpointIdentity`).
#[test]
fn the_variations_of_real_bodies_are_read_by_both_paths() {
    let body = json!({"value": [
        {"changeType": "Created", "resource": "/app/calls/57DA",
         "resourceData": {"@odata.type": "microsoft.graph.call", "state": "Incoming",
            "source": {"identity": {"user": {"@odata.type": "#microsoft.graph.endpointIdentity",
                "id": "caller", "tenantId": "tenant-1", "language": "en-US"}},
                "region": null, "languageId": null, "countryCode": null},
            "targets": [{"identity": {"application": {"id": "bot", "displayName": null}}}],
            "toneInfo": {"sequenceId": "3", "tone": "Tone1"},
            "resultInfo": {"code": "500", "subCode": 7000}}},
        {"changeType": "UPDATED", "resourceUrl": "communications/calls/57DA",
         "resourceData": {"@odata.type": "#microsoft.graph.call", "callState": "terminated",
            "answeredBy": {"user": {"@odata.type": "#microsoft.graph.endpointIdentity", "id": "u2"}},
            "terminationReason": "AppRedirected", "id": null}}
    ]});
    let tolerant = CommsNotifications::from_value(body).unwrap();
    let [incoming, terminated] = &tolerant.value[..] else {
        panic!("two notifications")
    };
    assert!(incoming.is_new_incoming_call());
    assert_eq!(incoming.call_id(), Some("57DA"));
    assert_eq!(incoming.resource_path(), Some("/app/calls/57DA"));
    assert_eq!(incoming.resource_url, None);
    let call = incoming.call().unwrap();
    assert_eq!(call.tenant_id(), Some("tenant-1"));
    assert_eq!(call.target_application_ids().collect::<Vec<_>>(), ["bot"]);
    assert_eq!(call.source_region(), None);
    let tone = call.tone_info.as_ref().unwrap();
    assert_eq!(
        tone.sequence_id.as_ref().and_then(ResultCode::as_i64),
        Some(3)
    );
    let result = call.result_info().unwrap();
    assert_eq!(
        (result.code_value(), result.subcode_value()),
        (Some(500), Some(7000))
    );

    assert_eq!(terminated.call_id(), Some("57DA"));
    assert_eq!(terminated.change_type(), Some(&ChangeType::Updated));
    let call = terminated.call().unwrap();
    assert_eq!(call.state(), Some(&CallState::Terminated));
    assert_eq!(call.termination_reason.as_deref(), Some("AppRedirected"));
    let answered = call.answered_by.as_ref().and_then(|set| set.user.as_ref());
    assert_eq!(answered.and_then(|user| user.id.as_deref()), Some("u2"));
    assert_eq!(call.id, None);
}

/// The reading of `call_id_from_path` as its documentation words it: the segment after the first
/// `calls` segment (compared case-insensitively), up to the query or the fragment.
fn call_id_as_documented(path: &str) -> Option<&str> {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let mut segments = path[..end].split('/');
    segments.find(|segment| segment.eq_ignore_ascii_case("calls"))?;
    segments.next().filter(|id| !id.is_empty())
}

#[test]
fn call_id_from_path_is_the_documented_reading_of_every_short_path() {
    // Every path of up to five pieces from these, so that each mark meets each other and the
    // segments around them: 11^5 + ... paths.
    let pieces = [
        "/", "calls", "CaLLs", "id-1", "", "?", "#", "x=1", "é", "callsx", "/calls/",
    ];
    let mut paths = vec![String::new()];
    let mut checked = 0;
    for _ in 0..5 {
        let mut longer = Vec::new();
        for path in &paths {
            for piece in pieces {
                let candidate = format!("{path}{piece}");
                assert_eq!(
                    call_id_from_path(&candidate),
                    call_id_as_documented(&candidate),
                    "{candidate:?}"
                );
                checked += 1;
                longer.push(candidate);
            }
        }
        paths = longer;
    }
    assert!(checked > 160_000, "{checked} paths");
}

//! The facts reader agrees with the full model on every body the model reads: the shapes under
//! `tests/data`, the server's scenario payloads, the real-world bodies in `shared/realworld` (when
//! present), hand-written edge cases and generated envelopes.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stdout,
    reason = "test helpers fail the test by panicking, and say what they skipped"
)]

use std::path::Path;

use callhook_model::graph::EnvelopeError;
use callhook_model::{
    CallState, ChangeType, CommsNotifications, Facts, FactsError, IncomingCallFacts, check_graph,
    read_facts, read_summaries,
};
use proptest::prelude::*;
use serde_json::{Value, json};

#[path = "support/data.rs"]
mod data;
use data::json_files;

#[test]
fn facts_agree_with_the_model_on_every_shape() {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = json_files(&manifest.join("tests/data/graph"));
    files.extend(json_files(&manifest.join("../callhook-server/scenarios")));
    assert!(
        files.len() >= 25,
        "expected every shape, found {}",
        files.len()
    );
    let mut incoming_calls = 0;
    for file in &files {
        let body = std::fs::read(file).unwrap();
        let name = file.display().to_string();
        // The scenario folder also holds a legacy payload, which is no Graph body.
        if name.contains("legacy") {
            continue;
        }
        incoming_calls += check(&name, &body).unwrap_or_else(|| panic!("{name}: model refused"));
    }
    assert!(
        incoming_calls >= 5,
        "too few incoming calls: {incoming_calls}"
    );
}

#[test]
fn facts_agree_with_the_model_on_real_world_bodies() {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realworld");
    let Ok(sources) = std::fs::read_to_string(folder.join("SOURCES.md")) else {
        println!("skipped: no real-world bodies at {}", folder.display());
        return;
    };
    let graph_bodies: Vec<&str> = sources
        .lines()
        .filter(|line| line.starts_with("- `bodies/") && line.contains("**expected: graph"))
        .filter_map(|line| line.split('`').nth(1))
        .collect();
    assert!(
        graph_bodies.len() >= 90,
        "found {} graph bodies",
        graph_bodies.len()
    );
    let (mut compared, mut incoming_calls) = (0, 0);
    for file in graph_bodies {
        let body = std::fs::read(folder.join(file)).unwrap();
        match check(file, &body) {
            Some(calls) => {
                compared += 1;
                incoming_calls += calls;
            }
            None => println!(
                "{file}: the model refuses it; facts: {:?}",
                summary_of(&body)
            ),
        }
    }
    println!("compared {compared} real-world bodies, {incoming_calls} new incoming calls");
    assert!(compared >= 50 && incoming_calls >= 5);
}

#[test]
fn repeated_members_count_by_their_last_occurrence() {
    let bodies = [
        r##"{"value":[],"value":[{"changeType":"created","resourceUrl":"/communications/calls/a",
            "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##,
        r##"{"value":[5],"value":[]}"##,
        r##"{"value":[{"changeType":"created","changeType":"updated","resourceUrl":"/x","resourceUrl":"/communications/calls/b",
            "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##,
        r##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/c",
            "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"},"resourceData":null}]}"##,
        r##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/d",
            "resourceData":{"@odata.type":"#microsoft.graph.participant","state":"incoming",
              "@odata.type":"#microsoft.graph.call","state":5,"state":"Incoming"}}]}"##,
        r##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/e",
            "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming",
              "source":{"region":"emea","identity":{"phone":{"id":"+1"}}},"source":{"region":"amer"},
              "targets":[{"identity":{"application":{"id":"first"}}}],
              "targets":[{"identity":{"applicationInstance":{"id":"i"},"application":{"id":"a","id":"b"}}}],
              "tenantId":"t","tenantId":null}}]}"##,
        r##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/f",
            "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming",
              "source":"not an object","source":{"identity":{"user":{"tenantId":"from-user"}}}}}]}"##,
    ];
    for (index, body) in bodies.iter().enumerate() {
        check(&format!("body {index}"), body.as_bytes())
            .unwrap_or_else(|| panic!("body {index}: model refused"));
    }
    let facts = read_facts(bodies[5].as_bytes()).unwrap();
    let call = facts.new_incoming_calls().next().unwrap();
    assert_eq!(call.source_region(), Some("amer"));
    assert_eq!(call.caller_phone_number(), None);
    assert_eq!(call.tenant_id(), None);
    assert_eq!(
        call.target_application_ids().collect::<Vec<_>>(),
        ["b", "i"]
    );
}

#[test]
fn a_member_that_does_not_fit_drops_only_its_own_fact() {
    // Each member below does not fit the model, which keeps it in the call's `extra`: the call
    // stays a call (and here a new incoming call), and the facts drop that member as the model
    // does (`agree` compares every fact with the model's accessors).
    let misfits = [
        json!({"source": "not-an-object"}),
        json!({"source": {"identity": {"phone": {"id": 15555550100_u64}}}}),
        json!({"source": {"region": ["emea"]}}),
        json!({"source": {"endpointType": 1}}),
        json!({"targets": {"identity": {}}}),
        json!({"targets": [null]}),
        json!({"targets": [{"identity": {"application": {"id": "a"}}}, 3]}),
        json!({"targets": [{"hidden": "yes"}]}),
        json!({"targets": [{"identity": {"applicationInstance": []}}]}),
        json!({"toneInfo": {"tone": 1}}),
        json!({"resultInfo": {"code": true}}),
        json!({"resultInfo": {"message": 1}}),
        json!({"requestedModalities": "audio"}),
        json!({"requestedModalities": ["audio", null]}),
        json!({"callRoutes": {}}),
        json!({"chatInfo": []}),
        json!({"incomingContext": {"onBehalfOf": {"user": "u"}}}),
        json!({"mediaState": {"audio": false}}),
        json!({"direction": 1}),
        json!({"id": 1}),
        json!({"tenantId": {}}),
        json!({"@odata.etag": 5}),
    ];
    // And these fit: null for any member, unknown members of any kind, any `meetingInfo`, any JSON
    // in the members kept as JSON, numbers and numeric text as result codes and sequence ids.
    let fits = [
        json!({"source": null, "targets": null, "toneInfo": null, "id": null}),
        json!({"somethingNew": {"deep": [1, {"x": null}]}, "meetingInfo": 5}),
        json!({"meetingInfo": {"@odata.type": "#microsoft.graph.tokenMeetingInfo", "token": 42}}),
        json!({"callOptions": [1, 2], "mediaConfig": "x", "transcription": null, "callRoutes": [1, "a"]}),
        json!({"resultInfo": {"code": 500, "subcode": "5001"}, "toneInfo": {"sequenceId": -3}}),
        json!({"resultInfo": {"code": "0", "subCode": 7000}, "toneInfo": {"sequenceId": "3"}}),
        json!({"toneInfo": {"sequenceId": 1.5}, "callState": "Incoming", "terminationReason": null}),
        json!({"toneInfo": {"sequenceId": 9_223_372_036_854_775_808_u64}}),
        json!({"targets": [], "requestedModalities": ["Audio", "somethingNew"]}),
        json!({"source": {"identity": {"phone": {"id": "+1", "somethingNew": 1}}, "region": "amer"}}),
    ];
    for (members, expected_fit) in misfits
        .iter()
        .map(|members| (members, false))
        .chain(fits.iter().map(|members| (members, true)))
    {
        let mut call =
            json!({"@odata.type": "#microsoft.graph.call", "state": "incoming", "id": "x"});
        for (key, value) in members.as_object().unwrap() {
            call[key] = value.clone();
        }
        let body = json!({"value": [{"changeType": "created", "resourceUrl": "/app/x", "resourceData": call}]});
        let body = serde_json::to_vec(&body).unwrap();
        let incoming_calls = check(&members.to_string(), &body).unwrap();
        assert_eq!(incoming_calls, 1, "{members} (fits: {expected_fit})");
        let model = model_of(&body).unwrap();
        let call = model.value[0].call().unwrap();
        for key in members.as_object().unwrap().keys() {
            let unmodelled = key.starts_with("somethingNew");
            assert_eq!(
                call.extra.contains_key(key.as_str()),
                !expected_fit || unmodelled,
                "{members}: {key} in extra"
            );
        }
    }
    // A state that does not fit leaves a call with no state: not a new incoming call.
    let body = br##"{"value":[{"changeType":"created","resourceUrl":"/app/x","resourceData":
        {"@odata.type":"#microsoft.graph.call","state":3,"source":{"region":"amer"}}}]}"##;
    assert_eq!(check("state 3", body), Some(0));
}

#[test]
fn text_is_borrowed_from_the_body_unless_escaped() {
    let body = br##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/a\u0062c",
        "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming",
          "source":{"region":"em\u0065a"},"targets":[{"identity":{"application":{"id":"bot"}}}]}}]}"##;
    check("escapes", body).unwrap();
    let facts = read_facts(body).unwrap();
    let notification = &facts.notifications()[0];
    assert_eq!(
        notification.resource_url(),
        Some("/communications/calls/abc")
    );
    assert_eq!(notification.call_id(), Some("abc"));
    let call = facts.new_incoming_calls().next().unwrap();
    assert_eq!(call.source_region(), Some("emea"));
    // Unescaped text points into the body.
    let body_range = body.as_ptr_range();
    let id = call.target_application_ids().next().unwrap();
    assert!(body_range.contains(&id.as_ptr()));
    assert!(body_range.contains(&notification.change_type().unwrap().as_ptr()));
    assert!(!body_range.contains(&notification.resource_url().unwrap().as_ptr()));
}

#[test]
fn items_with_only_resource_are_read_as_the_model_reads_them() {
    let body = br##"{"value":[{"changeType":"created","resource":"/app/calls/57DA",
        "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming","source":{"region":"amer"}}},
        {"changeType":"updated","resource":"/app/calls/57DA","resourceData":{"@odata.type":"#microsoft.graph.call","callState":"Established"}}]}"##;
    let model = model_of(body).unwrap();
    let facts = read_facts(body).unwrap();
    agree("resource only", &model, &facts);
    let [first, second] = facts.notifications() else {
        panic!("two notifications")
    };
    assert_eq!(first.resource_url(), Some("/app/calls/57DA"));
    assert_eq!(first.call_id(), Some("57DA"));
    assert!(first.is_new_incoming_call());
    assert_eq!(second.state(), Some("Established"));
    assert_eq!(second.summary().state, Some("established"));
    assert_eq!(
        facts.new_incoming_calls().next().unwrap().source_region(),
        Some("amer")
    );
}

#[test]
fn an_item_without_any_resource_path_is_refused_by_both_readers() {
    let body = br##"{"value":[{"changeType":"created","resource":"/app/calls/57DA"},
        {"changeType":"deleted","resourceData":{"@odata.type":"#microsoft.graph.call","id":"from-call"}}]}"##;
    assert!(model_of(body).is_none());
    match read_facts(body) {
        Err(FactsError::NotAnEnvelope(EnvelopeError::ItemWithoutResource { index: 1 })) => {}
        other => panic!("expected the second item refused, got {other:?}"),
    }
}

#[test]
fn bodies_that_are_not_envelopes_are_refused_as_the_model_refuses_them() {
    let cases: &[(&[u8], EnvelopeError)] = &[
        (b"[]", EnvelopeError::NotAnObject),
        (b"\"value\"", EnvelopeError::NotAnObject),
        (b"{}", EnvelopeError::MissingValue),
        (
            br#"{"id":"8e8d","participants":[],"callState":"incoming"}"#,
            EnvelopeError::MissingValue,
        ),
        (br#"{"value":{}}"#, EnvelopeError::ValueNotArray),
        (br#"{"value":null}"#, EnvelopeError::ValueNotArray),
        (
            br#"{"value":[{"resourceUrl":"/a"},[],{}]}"#,
            EnvelopeError::ItemNotObject { index: 1 },
        ),
    ];
    for (body, expected) in cases {
        let text = String::from_utf8_lossy(body);
        let model = serde_json::from_slice::<Value>(body).unwrap();
        assert_eq!(
            CommsNotifications::from_value(model).as_ref().err(),
            Some(expected),
            "{text}"
        );
        match read_facts(body) {
            Err(FactsError::NotAnEnvelope(error)) => assert_eq!(&error, expected, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
        assert_eq!(same_decision(body), Ok(()));
    }
    for body in [
        &b""[..],
        b"  ",
        b"{",
        b"{\"value\":[]} x",
        b"{\"value\":[1,]}",
        b"\xff",
        b"{\"value\":[\"\xff\"]}",
    ] {
        let error = read_facts(body).unwrap_err();
        assert!(matches!(error, FactsError::NotJson(_)), "{body:?}: {error}");
        assert_eq!(same_decision(body), Ok(()));
    }
    // A byte order mark is skipped, as the protocol negotiation skips it.
    let facts = read_facts(b"\xEF\xBB\xBF{\"value\":[{\"resourceUrl\":\"/a\"}]}").unwrap();
    assert_eq!(facts.len(), 1);
}

#[test]
fn skipped_members_are_checked_as_the_model_checks_them() {
    // The model's JSON tree refuses these bodies, and so does the facts reader, though it builds
    // nothing of the members they are in: wherever they stand.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let bodies = [
        format!(r#"{{"value":[{{"resourceUrl":"/a","deep":{deep}}}]}}"#),
        format!(r#"{{"value":[{{"resourceUrl":"/a"}}],"deep":{deep}}}"#),
        format!(
            r##"{{"value":[{{"resourceUrl":"/a","resourceData":{{"@odata.type":"#microsoft.graph.call","x":{deep}}}}}]}}"##
        ),
        r#"{"value":[{"resourceUrl":"/a","big":1e400}]}"#.to_owned(),
        r#"{"big":-1e400,"value":[{"resourceUrl":"/a"}]}"#.to_owned(),
        r#"{"value":[{"resourceUrl":"/a","lone":"\ud800"}]}"#.to_owned(),
        r#"{"value":[{"resourceUrl":"/a","\udc00":1}]}"#.to_owned(),
        r#"{"value":[{"resourceUrl":"/a","resourceData":[{"@odata.type":"x","y":"\ud83d"}]}]}"#
            .to_owned(),
        r#"{"value":[{"resourceUrl":"/a","resourceData":{"source":{"identity":{"user":{"z":1e999}}}}}]}"#
            .to_owned(),
    ];
    for body in &bodies {
        assert!(serde_json::from_str::<Value>(body).is_err(), "{body}");
        assert!(
            matches!(read_facts(body.as_bytes()), Err(FactsError::NotJson(_))),
            "{body}"
        );
        assert_eq!(same_decision(body.as_bytes()), Ok(()));
    }
    // Just within the limits, both read the body.
    let deep = format!("{}{}", "[".repeat(120), "]".repeat(120));
    let body = format!(
        r#"{{"value":[{{"resourceUrl":"/a","deep":{deep},"n":1e300,"s":"\ud83d\ude00"}}]}}"#
    );
    assert!(model_of(body.as_bytes()).is_some());
    assert_eq!(read_facts(body.as_bytes()).unwrap().len(), 1);
}

#[test]
fn summaries_serialize_like_the_protocol_summary_entries() {
    let body = br##"{"value":[{"changeType":"Created","resourceUrl":"/communications/calls/8e8d",
      "resourceData":{"@odata.type":"#microsoft.graph.call","state":"INCOMING"}},
      {"changeType":"archived","resourceUrl":"/x","resourceData":[]}]}"##;
    let facts = read_facts(body).unwrap();
    let summaries: Vec<_> = facts.summaries().collect();
    assert_eq!(
        serde_json::to_value(summaries).unwrap(),
        json!([
            {"changeType": "created", "resourceUrl": "/communications/calls/8e8d",
             "resourceType": "#microsoft.graph.call", "state": "incoming", "callId": "8e8d"},
            {"changeType": "archived", "resourceUrl": "/x", "resourceType": null, "state": null,
             "callId": null},
        ])
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    /// On generated envelopes, the facts reader agrees with the model wherever the model reads the
    /// body, and refuses a body for the model's reason.
    #[test]
    fn facts_agree_with_the_model_on_generated_envelopes(envelope in envelope()) {
        let body = serde_json::to_vec(&envelope).unwrap();
        prop_assert_eq!(same_decision(&body), Ok(()));
        match CommsNotifications::from_value(envelope) {
            Ok(model) => agree("generated", &model, &read_facts(&body).unwrap()),
            Err(expected) => match read_facts(&body) {
                Err(FactsError::NotAnEnvelope(error)) => prop_assert_eq!(error, expected),
                other => prop_assert!(false, "expected {expected:?}, got {other:?}"),
            },
        }
    }

    /// Whatever the bytes, reading facts never panics.
    #[test]
    fn any_bytes_read_without_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        prop_assert_eq!(same_decision(&body), Ok(()));
    }
}

/// Checks that `check_graph` and `read_summaries` decide `body` exactly as `read_facts` does: the
/// same count of notifications (and for `read_summaries` the same facts of each), or the same
/// error, to the byte of its message.
fn same_decision(body: &[u8]) -> Result<(), String> {
    let read = read_facts(body)
        .map(|facts| facts.len())
        .map_err(|error| error.to_string());
    let checked = check_graph(body).map_err(|error| error.to_string());
    if read != checked {
        return Err(format!(
            "{:?}: read_facts {read:?}, check_graph {checked:?}",
            String::from_utf8_lossy(body)
        ));
    }
    // `read_summaries` keeps the same facts of each notification, and no routing fact.
    let full = read_facts(body).map(|facts| facts.notifications().to_vec());
    let summaries = read_summaries(body).map(|facts| {
        assert_eq!(
            facts.new_incoming_calls().len(),
            0,
            "read_summaries kept routing facts"
        );
        facts.notifications().to_vec()
    });
    match (&full, &summaries) {
        (Ok(full), Ok(summaries)) if full == summaries => Ok(()),
        (Err(full), Err(summaries)) if full.to_string() == summaries.to_string() => Ok(()),
        _ => Err(format!(
            "{:?}: read_facts {full:?}, read_summaries {summaries:?}",
            String::from_utf8_lossy(body)
        )),
    }
}

/// Reads `body` with both readers and checks that they agree; returns the number of new incoming
/// calls, or `None` when the model refuses the body (which the facts reader may read).
fn check(name: &str, body: &[u8]) -> Option<usize> {
    same_decision(body).unwrap_or_else(|problem| panic!("{name}: {problem}"));
    let model = model_of(body)?;
    let facts = read_facts(body).unwrap_or_else(|error| panic!("{name}: {error}"));
    agree(name, &model, &facts);
    Some(facts.new_incoming_calls().len())
}

/// The model of a body as the protocol negotiation reads it: the tolerant path, after a byte order
/// mark.
fn model_of(body: &[u8]) -> Option<CommsNotifications> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let value = serde_json::from_slice::<Value>(body).ok()?;
    CommsNotifications::from_value(value).ok()
}

fn summary_of(body: &[u8]) -> Result<Vec<String>, String> {
    let facts = read_facts(body).map_err(|error| error.to_string())?;
    Ok(facts
        .summaries()
        .map(|summary| serde_json::to_string(&summary).unwrap())
        .collect())
}

/// The facts equal what the model gives, notification by notification.
fn agree(name: &str, model: &CommsNotifications, facts: &Facts<'_>) {
    assert_eq!(facts.len(), model.len(), "{name}: notifications");
    for (index, (notification, facts)) in model.iter().zip(facts.notifications()).enumerate() {
        let name = format!("{name}[{index}]");
        assert_eq!(
            facts
                .change_type()
                .map(callhook_model::ChangeType::parse)
                .as_ref(),
            notification.change_type(),
            "{name}: changeType"
        );
        assert_eq!(facts.resource_url(), notification.resource_path(), "{name}");
        assert_eq!(
            facts.resource_type(),
            notification.resource_type(),
            "{name}: type"
        );
        assert_eq!(
            facts.state().map(CallState::parse).as_ref(),
            notification.state(),
            "{name}: state"
        );
        assert_eq!(facts.call_id(), notification.call_id(), "{name}: call id");
        assert_eq!(
            facts.is_new_incoming_call(),
            notification.is_new_incoming_call(),
            "{name}: new incoming call"
        );
        let summary = facts.summary();
        let expected_change = notification.change_type().map(ChangeType::as_str);
        assert_eq!(
            summary.change_type,
            expected_change.unwrap_or_default(),
            "{name}"
        );
        assert_eq!(
            summary.resource_url,
            notification.resource_path().unwrap_or_default(),
            "{name}"
        );
        assert_eq!(
            summary.resource_type,
            notification.resource_type(),
            "{name}"
        );
        assert_eq!(
            summary.state,
            notification.state().map(CallState::as_str),
            "{name}"
        );
        assert_eq!(summary.call_id, notification.call_id(), "{name}");
    }
    let expected: Vec<usize> = model
        .iter()
        .enumerate()
        .filter(|(_, notification)| notification.is_new_incoming_call())
        .map(|(index, _)| index)
        .collect();
    let found: Vec<usize> = facts
        .new_incoming_calls()
        .map(IncomingCallFacts::index)
        .collect();
    assert_eq!(found, expected, "{name}: new incoming calls");
    for routing in facts.new_incoming_calls() {
        let call = model.value[routing.index()].call().unwrap();
        let name = format!("{name}[{}]", routing.index());
        assert_eq!(
            routing.source_region(),
            call.source_region(),
            "{name}: region"
        );
        assert_eq!(
            routing.caller_phone_number(),
            call.caller_phone_number(),
            "{name}: phone"
        );
        assert_eq!(routing.tenant_id(), call.tenant_id(), "{name}: tenant");
        assert!(
            routing
                .target_application_ids()
                .eq(call.target_application_ids()),
            "{name}: targets"
        );
    }
}

/// Envelopes shaped like Graph notifications, calls above all, whose members are mostly of the
/// model's types and sometimes noise, in any order.
fn envelope() -> impl Strategy<Value = Value> {
    let item = object(vec![
        member_weighted(
            0.9,
            "changeType",
            text_or(&["created", "created", "Created", "updated", "deleted", ""]),
        ),
        member_weighted(
            0.95,
            "resourceUrl",
            text_or(&["/communications/calls/c-1", "/communications/calls/", "/x"]),
        ),
        member("resource", text_or(&["/app/calls/c-2", "/app/calls/"])),
        member(
            "@odata.type",
            text_or(&["#microsoft.graph.commsNotification"]),
        ),
        member(
            "resourceData",
            prop_oneof![
                4 => call(),
                2 => prop::collection::vec(prop_oneof![3 => call(), 1 => noise()], 0..3)
                    .prop_map(Value::Array),
                1 => noise(),
            ],
        ),
    ]);
    let items = prop::collection::vec(prop_oneof![24 => item, 1 => noise()], 0..4);
    prop_oneof![
        24 => items.prop_map(|items| json!({"value": items})),
        1 => noise().prop_map(|value| json!({"value": value})),
        1 => noise(),
    ]
}

/// A resource that is mostly a call.
fn call() -> BoxedStrategy<Value> {
    let identity = || {
        mostly(object(vec![
            member("id", text_or(&["id-1", "+15555550100", ""])),
            member("tenantId", text_or(&["tenant-1"])),
        ]))
    };
    let identity_set = || {
        mostly(object(vec![
            member("user", identity()),
            member("application", identity()),
            member("applicationInstance", identity()),
            member("phone", identity()),
            member("endpointType", text_or(&["default"])),
        ]))
    };
    let target = mostly(object(vec![
        member_weighted(0.9, "identity", identity_set()),
        member("hidden", mostly(any::<bool>().prop_map(Value::from))),
        member("endpointType", text_or(&["default"])),
    ]));
    object(vec![
        member(
            "@odata.type",
            text_or(&[
                "#microsoft.graph.call",
                "call",
                "#Microsoft.Graph.CALL",
                "#microsoft.graph.participant",
            ]),
        ),
        member_weighted(
            0.9,
            "state",
            text_or(&[
                "incoming",
                "incoming",
                "Incoming",
                "established",
                "terminated",
            ]),
        ),
        member("id", text_or(&["call-id", ""])),
        member("tenantId", text_or(&["tenant-2"])),
        member("direction", text_or(&["incoming"])),
        member_weighted(
            0.9,
            "source",
            mostly(object(vec![
                member("identity", identity_set()),
                member("region", text_or(&["amer", "emea"])),
                member("languageId", text_or(&["en-US"])),
            ])),
        ),
        member_weighted(
            0.9,
            "targets",
            mostly(prop::collection::vec(target, 0..3).prop_map(Value::Array)),
        ),
        member(
            "toneInfo",
            mostly(object(vec![
                member(
                    "sequenceId",
                    prop_oneof![any::<i64>().prop_map(Value::from), noise()],
                ),
                member("tone", text_or(&["tone1"])),
            ])),
        ),
        member(
            "resultInfo",
            mostly(object(vec![member(
                "code",
                prop_oneof![
                    any::<u64>().prop_map(Value::from),
                    text_or(&["200"]),
                    noise()
                ],
            )])),
        ),
        member(
            "requestedModalities",
            mostly(
                prop::collection::vec(text_or(&["audio", "video"]), 0..3).prop_map(Value::Array),
            ),
        ),
        member("meetingInfo", noise()),
        member("callOptions", noise()),
        member("somethingNew", noise()),
    ])
}

/// An object of some of `members`, in any order.
fn object(members: Vec<BoxedStrategy<Option<(String, Value)>>>) -> BoxedStrategy<Value> {
    members
        .prop_map(|members| members.into_iter().flatten().collect::<Vec<_>>())
        .prop_shuffle()
        .prop_map(|members| Value::Object(members.into_iter().collect()))
        .boxed()
}

/// A member that is present six times in ten.
fn member(
    key: &'static str,
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Option<(String, Value)>> {
    member_weighted(0.6, key, value)
}

/// A member that is present with the probability `presence`.
fn member_weighted(
    presence: f64,
    key: &'static str,
    value: impl Strategy<Value = Value> + 'static,
) -> BoxedStrategy<Option<(String, Value)>> {
    prop::option::weighted(
        presence,
        value.prop_map(move |value| (key.to_owned(), value)),
    )
    .boxed()
}

/// Mostly one of `texts`, sometimes a short random text or noise.
fn text_or(texts: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        48 => prop::sample::select(texts).prop_map(Value::from),
        1 => ".{0,4}".prop_map(Value::from),
        1 => noise(),
    ]
    .boxed()
}

/// Mostly `value`, sometimes noise.
fn mostly(value: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![48 => value, 1 => noise()].boxed()
}

/// Any small JSON value.
fn noise() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        ".{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(("[a-z@.]{1,6}", inner), 0..3)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
    .boxed()
}

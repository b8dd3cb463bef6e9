//! Negotiation over every notification shape, every invalid body, and arbitrary bytes.

#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

use callhook_protocol::{
    Action, InvalidBody, LegacyPolicy, Negotiation, Protocol, negotiate, verdict,
};
use proptest::prelude::*;
use serde_json::json;

#[path = "../../callhook-model/tests/support/data.rs"]
mod data;
use data::shapes as model_data;

/// Negotiates `body` under both policies and checks the protocol and both actions.
fn check(
    name: &str,
    body: &[u8],
    protocol: Protocol,
    default_action: Action,
    accept_action: Action,
) -> Negotiation {
    let by_default = negotiate(body, LegacyPolicy::Redeliver);
    assert_eq!(
        by_default.protocol(),
        Some(protocol),
        "{name}: {by_default:?}"
    );
    assert_eq!(by_default.action(), default_action, "{name}");
    let accepting = negotiate(body, LegacyPolicy::Accept);
    assert_eq!(accepting.protocol(), Some(protocol), "{name}");
    assert_eq!(accepting.action(), accept_action, "{name}");
    by_default
}

#[test]
fn every_graph_shape_is_graph_and_accepted() {
    for (name, body) in model_data("graph") {
        let negotiation = check(
            &name,
            &body,
            Protocol::Graph,
            Action::Accept,
            Action::Accept,
        );
        assert!(!negotiation.graph().unwrap().value.is_empty(), "{name}");
    }
}

#[test]
fn every_legacy_shape_is_redelivered_by_default_and_accepted_on_request() {
    for (name, body) in model_data("legacy") {
        let negotiation = check(
            &name,
            &body,
            Protocol::Legacy,
            Action::Redeliver,
            Action::Accept,
        );
        assert!(negotiation.legacy().is_some(), "{name}");
    }
}

/// Checks that `body` is rejected with exactly `reason`, under both policies.
fn check_invalid(body: &[u8], reason: &str) {
    for policy in [LegacyPolicy::Redeliver, LegacyPolicy::Accept] {
        let negotiation = negotiate(body, policy);
        assert_eq!(
            negotiation.action(),
            Action::Reject,
            "{:?}",
            String::from_utf8_lossy(body)
        );
        assert_eq!(negotiation.action().status_code(), 400);
        assert_eq!(negotiation.protocol(), None);
        assert!(negotiation.graph().is_none() && negotiation.legacy().is_none());
        let invalid = negotiation.invalid().unwrap();
        assert_eq!(
            invalid.to_string(),
            reason,
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn invalid_bodies_are_rejected_with_a_reason_a_person_can_act_on() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "body is empty"),
        (b" \r\n\t ", "body is empty"),
        (b"\xEF\xBB\xBF", "body is empty"),
        (
            b"{\"value\": [1,}",
            "not JSON at line 1 column 14: expected value",
        ),
        (
            b"{\"value\": [] ",
            "not JSON at line 1 column 13: EOF while parsing an object",
        ),
        (b"hello", "not JSON at line 1 column 1: expected value"),
        (
            b"{\"value\":[]}{}",
            "not JSON at line 1 column 13: trailing characters",
        ),
        (
            b"{\"a\":\"\xFF\"}",
            "not JSON at line 1 column 7: invalid unicode code point",
        ),
        (
            b"{\n  \"value\": nope\n}",
            "not JSON at line 2 column 13: expected ident",
        ),
        (b"[]", "body is a JSON array, not an object"),
        (b"\"value\"", "body is a JSON string, not an object"),
        (b"42", "body is a JSON number, not an object"),
        (b"true", "body is a JSON boolean, not an object"),
        (b"null", "body is a JSON null, not an object"),
        (
            b"{}",
            "JSON object has neither `value` nor legacy markers (`participants` + `callState`, `operationOutcome`, or `type` + `currentState`)",
        ),
        (
            b"{\"values\":[]}",
            "JSON object has neither `value` nor legacy markers (`participants` + `callState`, `operationOutcome`, or `type` + `currentState`)",
        ),
        (
            b"{\"participants\":[]}",
            "JSON object has neither `value` nor legacy markers (`participants` + `callState`, `operationOutcome`, or `type` + `currentState`)",
        ),
        (
            b"{\"type\":\"callStateChange\"}",
            "JSON object has neither `value` nor legacy markers (`participants` + `callState`, `operationOutcome`, or `type` + `currentState`)",
        ),
        (b"{\"value\":{}}", "`value` must be an array"),
        (b"{\"value\":null}", "`value` must be an array"),
        (b"{\"value\":\"[]\"}", "`value` must be an array"),
        (
            b"{\"value\":[{\"resourceUrl\":\"/a\"},[]]}",
            "`value[1]` must be an object",
        ),
        (
            b"{\"value\":[{\"changeType\":\"created\"}]}",
            "`value[0]` has neither a `resourceUrl` nor a `resource` string, so it names no call",
        ),
        (
            b"{\"value\":[{\"resourceUrl\":null,\"resource\":5}]}",
            "`value[0]` has neither a `resourceUrl` nor a `resource` string, so it names no call",
        ),
        (
            b"{\"changeType\":\"created\",\"resource\":\"/app/calls/1\"}",
            "JSON object is a single Graph notification without its envelope: the platform sends `{\"value\": [ ... ]}` with the notifications inside `value`",
        ),
    ];
    for (body, reason) in cases {
        check_invalid(body, reason);
    }
}

#[test]
fn invalid_reasons_carry_their_position() {
    let negotiation = negotiate(b"{\"value\": [1,}", LegacyPolicy::Redeliver);
    assert_eq!(
        negotiation.invalid(),
        Some(&InvalidBody::NotJson {
            line: 1,
            column: 14,
            detail: "expected value".to_owned()
        })
    );
    let negotiation = negotiate(
        b"{\"value\":[{\"resourceUrl\":\"/a\"},{\"resourceUrl\":\"/b\"},7]}",
        LegacyPolicy::Redeliver,
    );
    assert_eq!(
        negotiation.invalid(),
        Some(&InvalidBody::ItemNotObject { index: 2 })
    );
}

#[test]
fn nesting_too_deep_is_rejected_not_a_crash() {
    let body = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let negotiation = negotiate(body.as_bytes(), LegacyPolicy::Redeliver);
    assert_eq!(negotiation.action(), Action::Reject);
    assert!(
        negotiation
            .invalid()
            .unwrap()
            .to_string()
            .contains("recursion limit exceeded")
    );
}

#[test]
fn value_wins_over_legacy_markers() {
    let body = br#"{"value":[],"participants":[],"callState":"incoming"}"#;
    assert_eq!(
        negotiate(body, LegacyPolicy::Redeliver).protocol(),
        Some(Protocol::Graph)
    );
    let body = br#"{"value":7,"participants":[],"callState":"incoming"}"#;
    assert_eq!(
        negotiate(body, LegacyPolicy::Redeliver).invalid(),
        Some(&InvalidBody::ValueNotArray)
    );
}

#[test]
fn each_legacy_marker_alone_is_enough() {
    let cases: &[(&[u8], &str)] = &[
        (br#"{"participants":"x","callState":1}"#, "conversation"),
        (br#"{"operationOutcome":null}"#, "conversationResult"),
        (
            br#"{"type":7,"currentState":"Established"}"#,
            "callStateChange",
        ),
    ];
    for (body, kind) in cases {
        let negotiation = check(
            kind,
            body,
            Protocol::Legacy,
            Action::Redeliver,
            Action::Accept,
        );
        assert_eq!(negotiation.legacy().unwrap().kind().as_str(), *kind);
    }
}

#[test]
fn the_decision_depends_on_the_body_only() {
    // A counter or "first request" rule would answer differently the second time, or after a
    // Graph body; the same body must always give the same answer.
    let legacy = model_data("legacy").remove(0).1;
    let graph = model_data("graph").remove(0).1;
    let first_legacy = negotiate(&legacy, LegacyPolicy::Redeliver);
    let first_graph = negotiate(&graph, LegacyPolicy::Redeliver);
    for _ in 0..3 {
        assert_eq!(negotiate(&graph, LegacyPolicy::Redeliver), first_graph);
        assert_eq!(negotiate(&legacy, LegacyPolicy::Redeliver), first_legacy);
        assert_eq!(negotiate(&legacy, LegacyPolicy::Redeliver), first_legacy);
    }
    assert_eq!(first_legacy.action(), Action::Redeliver);
    assert_eq!(first_graph.action(), Action::Accept);
}

#[test]
fn the_legacy_policy_reads_from_configuration_text() {
    assert_eq!(
        serde_json::from_value::<LegacyPolicy>(json!("redeliver")).unwrap(),
        LegacyPolicy::Redeliver
    );
    assert_eq!(
        serde_json::from_value::<LegacyPolicy>(json!("accept")).unwrap(),
        LegacyPolicy::Accept
    );
    assert!(serde_json::from_value::<LegacyPolicy>(json!("reject")).is_err());
    assert!(serde_json::from_value::<LegacyPolicy>(json!(true)).is_err());
    assert_eq!(LegacyPolicy::default(), LegacyPolicy::Redeliver);
    assert_eq!(Action::Accept.status_code(), 202);
    assert_eq!(Action::Redeliver.status_code(), 204);
    assert_eq!(Protocol::Graph.as_str(), "graph");
    assert_eq!(Protocol::Legacy.to_string(), "legacy");
}

#[test]
fn header_names_are_the_platforms() {
    use callhook_protocol::headers;
    assert_eq!(headers::MESSAGE_ID, "X-Microsoft-Skype-Message-ID");
    assert_eq!(
        headers::ORIGINAL_MESSAGE_ID,
        "X-Microsoft-Skype-Original-Message-ID"
    );
    assert_eq!(headers::CHAIN_ID, "X-Microsoft-Skype-Chain-ID");
    assert_eq!(headers::CALLER_REGION, "X-Microsoft-Skype-Caller-Region");
    assert_eq!(headers::SCENARIO_ID, "Scenario-Id");
    assert_eq!(headers::CLIENT_REQUEST_ID, "Client-Request-Id");
    assert_eq!(headers::MS_TEAMS_RING, "MS-Teams-Ring");
    assert_eq!(headers::MS_TEAMS_PARTITION, "MS-Teams-Partition");
    assert_eq!(headers::MS_TEAMS_REGION, "MS-Teams-Region");
}

/// Every valid body, to mutate; read once.
static VALID_BODIES: std::sync::LazyLock<Vec<Vec<u8>>> = std::sync::LazyLock::new(|| {
    model_data("graph")
        .into_iter()
        .chain(model_data("legacy"))
        .map(|(_, body)| body)
        .collect()
});

/// A small edit of a byte string: flip, delete, insert, or truncate.
#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, bits: u8 },
    Delete { at: usize },
    Insert { at: usize, byte: u8 },
    Truncate { at: usize },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        any::<usize>().prop_map(|at| Mutation::Delete { at }),
        (
            any::<usize>(),
            prop::sample::select(b"{}[]\",:0-e.\\ nu\xFF".to_vec())
        )
            .prop_map(|(at, byte)| Mutation::Insert { at, byte }),
        any::<usize>().prop_map(|at| Mutation::Truncate { at }),
    ]
}

fn apply(body: &mut Vec<u8>, mutation: &Mutation) {
    let length = body.len().max(1);
    match *mutation {
        Mutation::Flip { at, bits } => {
            if let Some(byte) = body.get_mut(at % length) {
                *byte ^= bits;
            }
        }
        Mutation::Delete { at } => {
            if !body.is_empty() {
                body.remove(at % length);
            }
        }
        Mutation::Insert { at, byte } => body.insert(at % (body.len() + 1), byte),
        Mutation::Truncate { at } => body.truncate(at % length),
    }
}

/// The answer must always agree with the format.
fn consistent(negotiation: &Negotiation) -> bool {
    match negotiation {
        Negotiation::Graph(_) => {
            negotiation.action() == Action::Accept && negotiation.graph().is_some()
        }
        Negotiation::Legacy { .. } => {
            negotiation.action() == Action::Redeliver && negotiation.legacy().is_some()
        }
        Negotiation::Invalid(reason) => {
            negotiation.action() == Action::Reject && !reason.to_string().is_empty()
        }
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let negotiation = negotiate(&body, LegacyPolicy::Redeliver);
        prop_assert!(consistent(&negotiation));
        prop_assert_eq!(verdict(&body, LegacyPolicy::Redeliver), negotiation.verdict());
        prop_assert_eq!(negotiate(&body, LegacyPolicy::Redeliver), negotiation);
    }

    #[test]
    fn mutated_valid_bodies_never_panic(
        index in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let mut body = index.get(&VALID_BODIES).clone();
        for mutation in &mutations {
            apply(&mut body, mutation);
        }
        let negotiation = negotiate(&body, LegacyPolicy::Redeliver);
        prop_assert!(consistent(&negotiation));
        for policy in [LegacyPolicy::Redeliver, LegacyPolicy::Accept] {
            prop_assert_eq!(verdict(&body, policy), negotiate(&body, policy).verdict());
        }
    }
}

/// JSON values of every kind, with the strings and numbers a scanner can get wrong.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        "[\"\\\\/\u{0}-\u{1f}a-z\u{e9}\u{1F600}]{0,6}".prop_map(Value::from),
        prop_oneof![Just("value"), Just("resourceUrl"), Just("")].prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 48, 5, |inner| {
        let key = prop_oneof![
            Just("value".to_owned()),
            Just("resourceUrl".to_owned()),
            "[a-zA-Z\"\\\u{1}]{0,5}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// Envelopes built from arbitrary JSON, as serde_json writes it and with a small edit: the
    /// verdict (from the facts reader) always decides as the full negotiation does.
    #[test]
    fn the_verdict_agrees_on_envelopes_of_arbitrary_json(
        items in prop::collection::vec(
            (json_value(), prop::collection::vec(("[a-z]{1,3}", json_value()), 0..3)),
            0..3,
        ),
        extra in json_value(),
        mutations in prop::collection::vec(mutation(), 0..2),
    ) {
        let items: Vec<serde_json::Value> = items
            .into_iter()
            .map(|(resource_url, members)| {
                let mut item = serde_json::Map::new();
                item.insert("resourceUrl".to_owned(), resource_url);
                for (key, value) in members {
                    item.insert(key, value);
                }
                serde_json::Value::Object(item)
            })
            .collect();
        let envelope = json!({ "value": items, "extra": extra });
        let mut body = serde_json::to_vec(&envelope).unwrap();
        for mutation in &mutations {
            apply(&mut body, mutation);
        }
        for policy in [LegacyPolicy::Redeliver, LegacyPolicy::Accept] {
            prop_assert_eq!(verdict(&body, policy), negotiate(&body, policy).verdict());
        }
    }
}

#[test]
fn the_verdict_is_the_negotiations_decision_for_every_shape() {
    let mut bodies: Vec<Vec<u8>> = VALID_BODIES.clone();
    bodies.extend(
        [
            "",
            " ",
            "\u{feff}{\"value\":[]}",
            "{\"value\":[]}",
            "{\"value\":[{\"resourceUrl\":\"/a\"}],\"value\":{}}",
            "{\"value\":{},\"value\":[{\"resourceUrl\":\"/a\"}]}",
            "{\"value\":[{\"resourceUrl\":1,\"resourceUrl\":\"/a\"}]}",
            "{\"value\":[{\"resourceUrl\":\"/a\",\"resourceUrl\":1}]}",
            "{\"value\":[{\"resourceUrl\":\"/a\"}]} {}",
            "{\"valu\\u0065\":[{\"resource\\u0055rl\":\"/a\"}]}",
            "{\"valu\\u0065\":[{\"resourceUrl\":\"/a\"}],\"value\":[]}",
            "{\"value\":[{\"resourceUrl\":\"\\ud800\"}]}",
            "{\"value\":[{\"resourceUrl\":\"/a\u{1}\"}]}",
            "{\"value\":[{\"resourceUrl\":\"/a\",\"x\":01}]}",
            "{\"participants\":[],\"callState\":\"incoming\",\"value\":[{\"resourceUrl\":\"/a\"}]}",
            "{\"participants\":[],\"callState\":\"incoming\"}",
            "[1]",
            "null",
        ]
        .map(|text| text.as_bytes().to_vec()),
    );
    bodies.push(format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes());
    bodies.push(
        format!(
            "{{\"value\":[{{\"resourceUrl\":\"/a\",\"deep\":{}{}}}]}}",
            "[".repeat(200),
            "]".repeat(200)
        )
        .into_bytes(),
    );
    for body in &bodies {
        for policy in [LegacyPolicy::Redeliver, LegacyPolicy::Accept] {
            assert_eq!(
                verdict(body, policy),
                negotiate(body, policy).verdict(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}

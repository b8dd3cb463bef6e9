//! The object `callhook classify` prints, over every notification shape the model owns, and its
//! exact members.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

use std::collections::BTreeMap;

use callhook_protocol::{LegacyPolicy, negotiate};
use callhook_server::classify::{Summary, classify_bytes};
use serde_json::{Value, json};

#[path = "../../callhook-model/tests/support/data.rs"]
mod data;
use data::shapes as model_data;

/// The printed line of every shape of `kind`, which must be the summary's JSON.
fn summaries(kind: &str) -> BTreeMap<String, Value> {
    model_data(kind)
        .into_iter()
        .map(|(name, body)| {
            let printed: Value = serde_json::from_str(&classify_bytes(&body).unwrap()).unwrap();
            let summary = Summary::of(&negotiate(&body, LegacyPolicy::Redeliver)).unwrap();
            assert_eq!(printed, serde_json::to_value(&summary).unwrap(), "{name}");
            assert_eq!(printed["protocol"], kind, "{name}");
            (name, printed)
        })
        .collect()
}

#[test]
fn every_graph_shape_summarized() {
    insta::assert_json_snapshot!("graph_summaries", summaries("graph"));
}

#[test]
fn every_legacy_shape_summarized() {
    insta::assert_json_snapshot!("legacy_summaries", summaries("legacy"));
}

#[test]
fn summaries_have_exactly_the_documented_members() {
    let graph = br#"{"value":[{"resourceUrl":"/communications/calls/c1","changeType":"DELETED"}]}"#;
    let summary: Value = serde_json::from_str(&classify_bytes(graph).unwrap()).unwrap();
    assert_eq!(
        summary,
        json!({"protocol": "graph", "notifications": [{"changeType": "deleted",
            "resourceUrl": "/communications/calls/c1", "resourceType": null, "state": null, "callId": "c1"}]})
    );
    let legacy = br#"{"type":"callStateChange","currentState":"Terminated"}"#;
    let summary: Value = serde_json::from_str(&classify_bytes(legacy).unwrap()).unwrap();
    assert_eq!(
        summary,
        json!({"protocol": "legacy", "notifications": [{"changeType": "legacy", "resourceUrl": "/legacy",
            "resourceType": "callStateChange", "state": "terminated", "callId": null}]})
    );
    assert_eq!(
        classify_bytes(br#"{"value":{}}"#).unwrap_err(),
        "`value` must be an array"
    );
}

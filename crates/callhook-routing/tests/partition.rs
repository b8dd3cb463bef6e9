//! Partitions, driven by `tests/data/partition_cases.json`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking, which is what they are for"
)]

use callhook_routing::{
    DEFAULT_WEBHOOK_PATH, Partition, PartitionConfig, PartitionDecision, PartitionError,
    PartitionIdProblem, build_callback_uri, parse_callback_uri,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Cases {
    builds: Vec<BuildCase>,
    build_errors: Vec<BuildErrorCase>,
    path_segments: Vec<PathSegmentSuite>,
    /// `[uri, public_url, webhook_path, expected id or null]`.
    parses: Vec<(String, String, String, Option<String>)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildCase {
    name: String,
    config: PartitionConfig,
    webhook_path: String,
    callback_uri: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BuildErrorCase {
    name: String,
    config: PartitionConfig,
    webhook_path: String,
    error: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathSegmentSuite {
    name: String,
    config: PartitionConfig,
    webhook_path: String,
    /// `[segment, expected decision]`.
    cases: Vec<(String, String)>,
}

fn cases() -> Cases {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/partition_cases.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Renders a path-segment decision in the compact form of the data file.
fn check(partition: &Partition, segment: &str) -> String {
    match partition.decide_path_segment(segment) {
        PartitionDecision::Own => "own".to_owned(),
        PartitionDecision::Misdirected => "misdirected".to_owned(),
        PartitionDecision::Redirect { location } => {
            // A Location never carries anything but a valid id taken from the request.
            assert!(
                !location.contains(['\r', '\n', ' ', '%', '@']),
                "{location:?}"
            );
            format!("redirect {location}")
        }
        other => format!("a decision this test does not know: {other:?}"),
    }
}

#[test]
fn valid_configurations_give_their_callback_uri() {
    let cases = cases();
    assert!(cases.builds.len() >= 8);
    for case in &cases.builds {
        let partition = Partition::build(&case.config, &case.webhook_path)
            .unwrap_or_else(|error| panic!("{}: {error}", case.name));
        assert_eq!(partition.callback_uri(), case.callback_uri, "{}", case.name);
        assert_eq!(partition.id(), case.config.id, "{}", case.name);
        assert_eq!(
            partition.has_url_template(),
            case.config.url_template.is_some(),
            "{}",
            case.name
        );
        // The callbackUri parses back to this partition's id.
        assert_eq!(
            parse_callback_uri(
                partition.callback_uri(),
                &case.config.public_url,
                &case.webhook_path
            )
            .as_deref(),
            Some(case.config.id.as_str()),
            "{}",
            case.name
        );
    }
}

#[test]
fn invalid_configurations_are_refused_with_the_offending_setting() {
    let cases = cases();
    assert!(cases.build_errors.len() >= 20);
    let mut failures = Vec::new();
    for case in &cases.build_errors {
        match Partition::build(&case.config, &case.webhook_path) {
            Ok(partition) => failures.push(format!("{}: accepted as {partition:?}", case.name)),
            Err(error) if format!("{}: {error}", error.entry()) != case.error => {
                failures.push(format!(
                    "{}:\n  expected {}\n  actual   {}: {error}",
                    case.name,
                    case.error,
                    error.entry()
                ));
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn path_segments_are_decided_without_echoing_bad_input() {
    let cases = cases();
    let mut failures = Vec::new();
    for suite in &cases.path_segments {
        let partition = Partition::build(&suite.config, &suite.webhook_path).unwrap();
        for (segment, expected) in &suite.cases {
            let actual = check(&partition, segment);
            if &actual != expected {
                failures.push(format!(
                    "{} / {segment:?}:\n  expected {expected}\n  actual   {actual}",
                    suite.name
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn callback_uris_parse_back_only_in_their_exact_form() {
    let cases = cases();
    assert!(cases.parses.len() >= 10);
    for (uri, public_url, webhook_path, expected) in &cases.parses {
        assert_eq!(
            &parse_callback_uri(uri, public_url, webhook_path),
            expected,
            "{uri} against {public_url} + {webhook_path}"
        );
    }
}

#[test]
fn the_bot_helper_builds_the_same_uri_as_the_partition() {
    let config = PartitionConfig {
        id: "emea-0".to_owned(),
        public_url: "https://emea.bot.example.com".to_owned(),
        url_template: None,
    };
    let partition = Partition::build(&config, DEFAULT_WEBHOOK_PATH).unwrap();
    assert_eq!(
        build_callback_uri(&config.public_url, DEFAULT_WEBHOOK_PATH, "emea-0").unwrap(),
        partition.callback_uri()
    );
    assert_eq!(DEFAULT_WEBHOOK_PATH, "/api/calls");
    assert_eq!(
        build_callback_uri(&config.public_url, DEFAULT_WEBHOOK_PATH, "../x").unwrap_err(),
        PartitionError::InvalidId {
            id: "../x".to_owned(),
            problem: PartitionIdProblem::ForbiddenCharacter('.'),
        }
    );
}

#[test]
fn unknown_configuration_keys_are_refused() {
    let error = serde_json::from_str::<PartitionConfig>(
        r#"{"id": "a", "public_url": "https://bot.example.com", "template": "x"}"#,
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("unknown field `template`"),
        "{error}"
    );
    let error = serde_json::from_str::<PartitionConfig>(r#"{"id": "a"}"#).unwrap_err();
    assert!(
        error.to_string().contains("missing field `public_url`"),
        "{error}"
    );
}

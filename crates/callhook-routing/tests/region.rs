//! Region affinity, driven by `tests/data/region_cases.json` and `tests/data/config_errors.json`.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test by panicking, which is what they are for"
)]

use callhook_routing::{
    Decision, HOP_MARKER_PARAM, HandleHereReason, PolicyError, RegionPolicy, RoutingConfig,
    RoutingInput, hop_marker_value, is_hop_marked,
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySuite {
    policy: String,
    config: RoutingConfig,
    cases: Vec<DecisionCase>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionCase {
    name: String,
    input: InputFixture,
    expect: String,
}

/// An owned form of [`RoutingInput`], because the real one borrows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputFixture {
    #[serde(default = "yes")]
    new_incoming_call: bool,
    tenant: Option<String>,
    caller_region_header: Option<String>,
    source_region: Option<String>,
    phone: Option<String>,
    #[serde(default)]
    targets: Vec<String>,
    /// The request's query string; the hop marker is read from it with `is_hop_marked`.
    #[serde(default)]
    query: String,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigErrorCase {
    name: String,
    config: RoutingConfig,
    error: String,
}

fn load<T: for<'de> Deserialize<'de>>(file: &str) -> T {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{path}: {error}"))
}

/// Renders a decision in the compact form the data files use.
fn render(decision: &Decision<'_>) -> String {
    match decision {
        Decision::Redirect(redirect) => format!(
            "redirect {} by rule {} to {}",
            redirect.region, redirect.rule_index, redirect.location
        ),
        Decision::HandleHere(HandleHereReason::NotNewIncomingCall) => {
            "handle here: not_new_incoming_call".to_owned()
        }
        Decision::HandleHere(HandleHereReason::NoRuleMatched) => {
            "handle here: no_rule_matched".to_owned()
        }
        Decision::HandleHere(HandleHereReason::RuleNamesOwnRegion { rule_index }) => {
            format!("handle here: rule_names_own_region by rule {rule_index}")
        }
        Decision::HandleHere(HandleHereReason::HopMarkedButRulesSayElsewhere {
            rule_index,
            region,
        }) => format!(
            "handle here: hop_marked_but_rules_say_elsewhere by rule {rule_index} ({region})"
        ),
        other => format!("a decision this test does not know: {other:?}"),
    }
}

/// Decides one case with the index and with the linear reference, which must agree, and checks
/// that `explain` reports the same decision.
fn check(policy: &RegionPolicy, input: &InputFixture) -> String {
    let targets: Vec<&str> = input.targets.iter().map(String::as_str).collect();
    let routing_input = RoutingInput {
        is_new_incoming_call: input.new_incoming_call,
        tenant_id: input.tenant.as_deref(),
        caller_region_header: input.caller_region_header.as_deref(),
        source_region: input.source_region.as_deref(),
        caller_phone_number: input.phone.as_deref(),
        target_ids: &targets,
        hop_marked: is_hop_marked(&input.query),
    };
    let decision = policy.decide(&routing_input);
    assert_eq!(decision, policy.decide_without_index(&routing_input));
    assert_eq!(policy.explain(&routing_input).decision, decision);
    render(&decision)
}

#[test]
fn decisions_match_the_table() {
    let suites: Vec<PolicySuite> = load("region_cases.json");
    let mut failures = Vec::new();
    let mut count = 0;
    for suite in &suites {
        let policy = RegionPolicy::build(&suite.config)
            .unwrap_or_else(|error| panic!("{}: {error}", suite.policy));
        for case in &suite.cases {
            count += 1;
            let actual = check(&policy, &case.input);
            if actual != case.expect {
                failures.push(format!(
                    "{} / {}:\n  expected {}\n  actual   {actual}",
                    suite.policy, case.name, case.expect
                ));
            }
        }
    }
    assert!(count >= 30, "the table lost cases: {count}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn invalid_configurations_are_refused_with_the_offending_entry() {
    let cases: Vec<ConfigErrorCase> = load("config_errors.json");
    let mut failures = Vec::new();
    for case in &cases {
        match RegionPolicy::build(&case.config) {
            Ok(_) => failures.push(format!("{}: accepted", case.name)),
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
    assert!(cases.len() >= 20);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn configuration_errors_are_typed() {
    let config: RoutingConfig = serde_json::from_str(
        r#"{"region": "emea", "deployments": {"amer": "https://a.example.com/"},
            "rules": [{"region": "amre", "tenant": "t"}]}"#,
    )
    .unwrap();
    assert_eq!(
        RegionPolicy::build(&config).unwrap_err(),
        PolicyError::UnknownRuleRegion {
            rule_index: 0,
            region: "amre".to_owned(),
            known: "amer, emea".to_owned(),
        }
    );
}

#[test]
fn unknown_configuration_keys_are_refused() {
    let cases = [
        (r#"{"region": "emea", "rule": []}"#, "unknown field `rule`"),
        (
            r#"{"region": "emea", "rules": [{"region": "emea", "tennant": "t"}]}"#,
            "unknown field `tennant`",
        ),
        (r#"{"deployments": {}}"#, "missing field `region`"),
        (
            r#"{"region": "emea", "rules": [{"tenant": "t"}]}"#,
            "missing field `region`",
        ),
    ];
    for (text, expected) in cases {
        let error = serde_json::from_str::<RoutingConfig>(text).unwrap_err();
        assert!(error.to_string().contains(expected), "{text}: {error}");
    }
}

#[test]
fn a_minimal_configuration_defaults_to_no_deployments_and_no_rules() {
    let config: RoutingConfig = serde_json::from_str(r#"{"region": "emea"}"#).unwrap();
    assert!(config.deployments.is_empty());
    assert!(config.rules.is_empty());
    let policy = RegionPolicy::build(&config).unwrap();
    assert_eq!(policy.own_region(), "emea");
    assert!(policy.rules().is_empty());
}

#[test]
fn locations_come_from_configuration_only() {
    let config: RoutingConfig = serde_json::from_str(
        r#"{"region": "emea", "deployments": {"AMER": "https://amer.bot.example.com/api/calls"}}"#,
    )
    .unwrap();
    let policy = RegionPolicy::build(&config).unwrap();
    assert_eq!(
        policy.location_for_region("amer"),
        Some("https://amer.bot.example.com/api/calls?callhook-hop=emea")
    );
    assert_eq!(policy.location_for_region("apac"), None);
}

#[test]
fn the_deployments_disagree_only_when_the_hop_marker_stopped_a_redirect() {
    let config: RoutingConfig = serde_json::from_str(
        r#"{"region": "emea", "deployments": {"amer": "https://amer.example.com/"},
            "rules": [{"region": "amer", "caller_region": "amer"}]}"#,
    )
    .unwrap();
    let policy = RegionPolicy::build(&config).unwrap();
    let mut input = RoutingInput {
        is_new_incoming_call: true,
        caller_region_header: Some("amer"),
        ..RoutingInput::default()
    };
    let redirect = policy.decide(&input);
    assert!(!redirect.deployments_disagree());
    assert_eq!(
        redirect.location(),
        Some("https://amer.example.com/?callhook-hop=emea")
    );
    input.hop_marked = true;
    let stopped = policy.decide(&input);
    assert!(stopped.deployments_disagree());
    assert_eq!(stopped.location(), None);
    input.caller_region_header = Some("emea");
    assert!(!policy.decide(&input).deployments_disagree());
}

#[test]
fn hop_marker_detection() {
    let marked = [
        "callhook-hop=emea",
        "?callhook-hop=emea",
        "a=b&callhook-hop=emea",
        "a=b;callhook-hop=emea&c=d",
        "callhook-hop",
        "callhook-hop=",
        "CALLHOOK-HOP=emea",
        "callhook%2dhop=emea",
        "callhook%2Dhop=emea",
        "%63allhook-hop=emea",
        "&&callhook-hop=emea&&",
    ];
    for query in marked {
        assert!(is_hop_marked(query), "{query:?} should be marked");
    }
    let unmarked = [
        "",
        "?",
        "&",
        "=",
        "callhook-ho=emea",
        "callhook-hopp=emea",
        "xcallhook-hop=emea",
        "a=callhook-hop",
        "callhook_hop=emea",
        "callhook-hop%",
        "callhook-hop%2",
        "callhook-hop%zz=1",
        "%",
        "%%%",
        "callhook+hop=emea",
        "ca%llhook-hop=1",
    ];
    for query in unmarked {
        assert!(!is_hop_marked(query), "{query:?} should not be marked");
    }
    assert_eq!(hop_marker_value("a=b&callhook-hop=emea&c"), Some("emea"));
    assert_eq!(hop_marker_value("callhook-hop"), Some(""));
    assert_eq!(hop_marker_value("a=b"), None);
    assert_eq!(HOP_MARKER_PARAM, "callhook-hop");
}

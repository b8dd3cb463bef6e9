//! Explanations, as snapshots: every case of the mixed policy in `tests/data/region_cases.json`,
//! rendered as a log line and as JSON.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code fails the test by panicking, which is what it is for"
)]

use callhook_routing::{RegionPolicy, RoutingConfig, RoutingInput, is_hop_marked};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct PolicySuite {
    config: RoutingConfig,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    input: serde_json::Value,
}

/// The same owned input form as in `region.rs`.
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
    #[serde(default)]
    query: String,
}

fn yes() -> bool {
    true
}

fn mixed_policy_cases() -> (RegionPolicy, Vec<(String, InputFixture)>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/region_cases.json");
    let suites: Vec<PolicySuite> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let suite = suites.into_iter().next().unwrap();
    let cases = suite
        .cases
        .into_iter()
        .map(|case| (case.name, serde_json::from_value(case.input).unwrap()))
        .collect();
    (RegionPolicy::build(&suite.config).unwrap(), cases)
}

/// Explains one input and hands the explanation to `use_it`, because the routing input borrows
/// from locals of this function.
fn check<T>(
    policy: &RegionPolicy,
    input: &InputFixture,
    use_it: impl FnOnce(&callhook_routing::Explanation<'_>) -> T,
) -> T {
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
    let explanation = policy.explain(&routing_input);
    assert_eq!(explanation.decision, policy.decide(&routing_input));
    use_it(&explanation)
}

#[test]
fn explanations_as_log_lines() {
    let (policy, cases) = mixed_policy_cases();
    let lines: Vec<String> = cases
        .iter()
        .map(|(name, input)| {
            format!(
                "{name}\n  {}",
                check(&policy, input, |explanation| explanation.to_string())
            )
        })
        .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

#[test]
fn explanations_as_json() {
    let (policy, cases) = mixed_policy_cases();
    let chosen = [
        "a tenant rule matches the verified tenant, ignoring case",
        "only a new incoming call can be redirected",
        "an earlier rule with two conditions beats a later tenant rule",
        "a rule naming this deployment's own region means handle here",
        "the hop marker stops a redirect the rules ask for, and says the deployments disagree",
        "no rule matches: handle here",
    ];
    let explanations: Vec<serde_json::Value> = chosen
        .iter()
        .map(|wanted| {
            let (name, input) = cases.iter().find(|(name, _)| name == wanted).unwrap();
            serde_json::json!({
                "case": name,
                "explanation": check(&policy, input, |explanation| {
                    serde_json::to_value(explanation).unwrap()
                }),
            })
        })
        .collect();
    insta::assert_json_snapshot!(explanations);
}

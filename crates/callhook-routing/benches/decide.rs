//! Deciding a typical incoming call against a policy of 1,000 tenant rules, with the tenant index
//! (`decide`) and, as the baseline, a linear scan over the same rules (`decide_without_index`).
#![allow(
    clippy::panic,
    reason = "a benchmark whose fixed policy is invalid can only stop; there is nothing to measure"
)]

use std::collections::BTreeMap;
use std::hint::black_box;

use callhook_routing::{RegionPolicy, RoutingConfig, RoutingInput, RuleConfig};
use criterion::{Criterion, criterion_group, criterion_main};

const TENANT_RULES: usize = 1_000;

fn tenant_id(number: usize) -> String {
    format!("{number:08x}-86f1-41af-91ab-2d7cd011db47")
}

fn policy_with_tenant_rules() -> RegionPolicy {
    let config = RoutingConfig {
        region: "emea".to_owned(),
        deployments: BTreeMap::from([
            (
                "amer".to_owned(),
                "https://amer.bot.example.com/api/calls".to_owned(),
            ),
            (
                "apac".to_owned(),
                "https://apac.bot.example.com/api/calls".to_owned(),
            ),
        ]),
        rules: (0..TENANT_RULES)
            .map(|number| RuleConfig {
                region: if number % 2 == 0 { "amer" } else { "apac" }.to_owned(),
                tenant: Some(tenant_id(number)),
                ..RuleConfig::default()
            })
            .collect(),
    };
    match RegionPolicy::build(&config) {
        Ok(policy) => policy,
        Err(error) => panic!("the benchmark policy is valid: {error}"),
    }
}

fn decide(criterion: &mut Criterion) {
    let policy = policy_with_tenant_rules();
    // The tenant of the last rule, in upper case as some tokens carry it: the worst case of the scan.
    let hit_tenant = tenant_id(TENANT_RULES - 1).to_ascii_uppercase();
    let miss_tenant = "ffffffff-0000-0000-0000-000000000000".to_owned();
    let targets = ["8a34a46b-3d17-4adc-8dce-dc4e7d572698"];
    let input_for = |tenant: &'static str| RoutingInput {
        is_new_incoming_call: true,
        tenant_id: Some(tenant),
        caller_region_header: Some("amer"),
        source_region: Some("westus"),
        caller_phone_number: None,
        target_ids: &targets,
        hop_marked: false,
    };
    let hit = input_for(hit_tenant.leak());
    let miss = input_for(miss_tenant.leak());

    let mut group = criterion.benchmark_group("decide_1000_tenant_rules");
    group.bench_function("indexed/hit", |bencher| {
        bencher.iter(|| policy.decide(black_box(&hit)).location().is_some());
    });
    group.bench_function("indexed/miss", |bencher| {
        bencher.iter(|| policy.decide(black_box(&miss)).location().is_some());
    });
    group.bench_function("linear_scan/hit", |bencher| {
        bencher.iter(|| {
            policy
                .decide_without_index(black_box(&hit))
                .location()
                .is_some()
        });
    });
    group.bench_function("linear_scan/miss", |bencher| {
        bencher.iter(|| {
            policy
                .decide_without_index(black_box(&miss))
                .location()
                .is_some()
        });
    });
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);

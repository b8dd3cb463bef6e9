//! `docs/operations.md` documents every metric `/metrics` exposes, and nothing else: the metrics
//! table there and the families a running server exposes must be the same set, so that a metric
//! cannot be added, renamed or removed without its documentation.
//!
//! A labelled family (a counter by outcome, reason or result) appears in the exposition only once
//! it has a sample, so the test makes the server do one of everything first: a refused token, an
//! accepted delivery and a delivery shed by the sink's in-flight limit, with the shared
//! de-duplication store configured so that its metrics are exposed too. The metrics registered in
//! `src/metrics.rs` are read from the source as well, so that a new family the test does not make
//! appear fails here, naming it, instead of escaping the check.
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "helpers of tests (the shared support module among them): a panic is a failed test"
)]

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use support::{Issuer, auth_section, metrics_text, payload, post, start};

/// The metrics table of `docs/operations.md`: the section it lives in.
const METRICS_SECTION: &str = "## Metrics";

fn read(relative: &str) -> String {
    let path = format!("{}/{relative}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"))
}

/// The metric names of the exposition, as a query names them: a counter family `x` is sampled as
/// `x_total`, a gauge and a histogram by their own name (a histogram's `_bucket`, `_sum` and
/// `_count` series belong to it).
fn exposed_metrics(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .map(|declaration| {
            let mut words = declaration.split_whitespace();
            let name = words.next().unwrap_or_default();
            match words.next() {
                Some("counter") => format!("{name}_total"),
                _ => name.to_owned(),
            }
        })
        .collect()
}

/// The first cell of every row of the metrics table in `docs/operations.md`: one metric per row,
/// written as code.
fn documented_metrics(markdown: &str) -> BTreeSet<String> {
    let section = markdown
        .split_once(&format!("\n{METRICS_SECTION}\n"))
        .map(|(_, rest)| rest)
        .unwrap_or_else(|| panic!("docs/operations.md has no `{METRICS_SECTION}` section"));
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter_map(|line| line.strip_prefix("| `callhook_"))
        .map(|rest| {
            let name = rest.split('`').next().unwrap_or_default();
            format!("callhook_{name}")
        })
        .collect()
}

/// The families `src/metrics.rs` registers on its registry (`registry.register("name", ...)`),
/// with the registry's `callhook_` prefix. The collectors' metrics are written at every scrape, so
/// the exposition shows them without this.
fn registered_families(source: &str) -> BTreeSet<String> {
    source
        .split("registry.register(")
        .skip(1)
        .filter_map(|call| call.split('"').nth(1))
        .map(|name| format!("callhook_{name}"))
        .collect()
}

#[actix_web::test]
async fn every_metric_is_documented_in_operations_docs_and_every_documented_one_exists() {
    let issuer = Issuer::start().await;
    // A bot slow enough that a second delivery finds the sink's one place taken.
    let bot = support::bot(200, Duration::from_millis(400)).await;
    // Redis is never reached (no request carries a message id, and nothing listens on port 1):
    // the store only has to be configured for its metrics to be exposed.
    let toml = format!(
        r#"{auth}
[sink]
kind = "forward"
url = "{bot}/notifications"
max_in_flight = 1
max_wait_ms = 50

[dedup]
store = "redis"
url = "redis://127.0.0.1:1"
connect_timeout_ms = 50
command_timeout_ms = 50
claim_ttl_ms = 6000
"#,
        auth = auth_section(&issuer.openid_url()),
        bot = bot.uri(),
    );
    let callhook = start(&toml, true).await;
    let webhook = callhook.url("/api/calls");

    let refused = post(&webhook, None, None, payload("established.json")).await;
    assert_eq!(refused.status(), 401);
    let token = issuer.token();
    let (first, second) = futures_util::join!(
        post(&webhook, Some(&token), None, payload("established.json")),
        post(&webhook, Some(&token), None, payload("established.json")),
    );
    let mut statuses = [first.status().as_u16(), second.status().as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 503], "one delivered, one shed");

    let exposition = metrics_text(&callhook).await;
    callhook.stop().await;
    let exposed = exposed_metrics(&exposition);

    let registered = registered_families(&read("src/metrics.rs"));
    assert!(
        registered.len() >= 7,
        "the registrations of src/metrics.rs were not found: {registered:?}"
    );
    let never_shown: Vec<_> = registered
        .iter()
        .filter(|family| {
            !exposed.contains(*family) && !exposed.contains(&format!("{family}_total"))
        })
        .collect();
    assert!(
        never_shown.is_empty(),
        "registered in src/metrics.rs but not in the exposition: {never_shown:?}; make this test \
         give them a sample\n{exposition}"
    );

    let documented = documented_metrics(&read("../../docs/operations.md"));
    let undocumented: Vec<_> = exposed.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "exposed by /metrics but missing from the `{METRICS_SECTION}` table of \
         docs/operations.md: {undocumented:?}"
    );
    let stale: Vec<_> = documented.difference(&exposed).collect();
    assert!(
        stale.is_empty(),
        "documented in docs/operations.md but not exposed by /metrics: {stale:?}"
    );

    let readme = read("README.md");
    let missing: Vec<_> = exposed
        .iter()
        .filter(|name| !readme.contains(&format!("`{name}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "missing from the metrics table of crates/callhook-server/README.md: {missing:?}"
    );
}

#[test]
fn the_exposition_is_read_with_the_names_a_query_uses() {
    let exposition = "# HELP callhook_requests Requests.\n# TYPE callhook_requests counter\n\
        callhook_requests_total{outcome=\"accepted\"} 1\n# TYPE callhook_keys_ready gauge\n\
        callhook_keys_ready 1\n# TYPE callhook_request_duration_seconds histogram\n# EOF\n";
    let expected: BTreeSet<String> = [
        "callhook_requests_total",
        "callhook_keys_ready",
        "callhook_request_duration_seconds",
    ]
    .map(str::to_owned)
    .into();
    assert_eq!(exposed_metrics(exposition), expected);
    let markdown = "# Ops\n\n## Metrics\n\n| metric | type |\n| --- | --- |\n\
        | `callhook_keys_ready` | gauge |\n| `callhook_requests_total` | counter |\n\n\
        ## Logs\n\n| `callhook_not_a_metric` | |\n";
    let documented: BTreeSet<String> = ["callhook_keys_ready", "callhook_requests_total"]
        .map(str::to_owned)
        .into();
    assert_eq!(documented_metrics(markdown), documented);
    let source = "registry.register(\n  \"requests\",\n  \"help\", x);\nregistry.register(\"sink_shed\", \"h\", y);";
    let families: BTreeSet<String> = ["callhook_requests", "callhook_sink_shed"]
        .map(str::to_owned)
        .into();
    assert_eq!(registered_families(source), families);
}

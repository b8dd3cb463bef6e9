//! Explains routing decisions with `callhook-routing`, the way a `callhook route` command would.
//!
//! ```text
//! cargo run -p callhook-examples --bin route                      # a built-in tour
//! cargo run -p callhook-examples --bin route -- routing.json input.json
//! ```
//!
//! `routing.json` is the `[routing]` section as JSON (`region`, `deployments`, `rules`); `input.json`
//! describes one request: `{"new_incoming_call": true, "tenant": "...", "caller_region_header": "amer",
//! "source_region": "westus", "phone": "+14255550123", "targets": ["..."], "query": "callhook-hop=emea"}`
//! (every key optional). The explanation is printed as one line and as JSON.
#![allow(
    clippy::print_stdout,
    reason = "an example shows its results on the terminal"
)]

use anyhow::{Context, bail};
use callhook_routing::{
    DEFAULT_WEBHOOK_PATH, Partition, PartitionConfig, RegionPolicy, RoutingConfig, RoutingInput,
    is_hop_marked,
};
use serde_json::{Value, json};

fn main() -> anyhow::Result<()> {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.as_slice() {
        [] => tour(),
        [config_path, input_path] => explain_files(config_path, input_path),
        _ => bail!("usage: route [ROUTING_CONFIG.json INPUT.json]"),
    }
}

/// The request facts the server would extract, in owned form.
struct OwnedInput {
    new_incoming_call: bool,
    tenant: Option<String>,
    caller_region_header: Option<String>,
    source_region: Option<String>,
    phone: Option<String>,
    targets: Vec<String>,
    query: String,
}

impl OwnedInput {
    fn from_json(value: &Value) -> anyhow::Result<Self> {
        let text = |key: &str| -> anyhow::Result<Option<String>> {
            match value.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(other) => bail!("input.{key}: expected a string, found {other}"),
            }
        };
        let targets = match value.get("targets") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .context("input.targets: expected strings")
                })
                .collect::<anyhow::Result<_>>()?,
            Some(other) => bail!("input.targets: expected an array, found {other}"),
        };
        Ok(Self {
            new_incoming_call: value
                .get("new_incoming_call")
                .and_then(Value::as_bool)
                .unwrap_or(true),
            tenant: text("tenant")?,
            caller_region_header: text("caller_region_header")?,
            source_region: text("source_region")?,
            phone: text("phone")?,
            targets,
            query: text("query")?.unwrap_or_default(),
        })
    }

    /// Explains this input against `policy`, as a log line and as JSON.
    fn explain(&self, policy: &RegionPolicy) -> anyhow::Result<(String, String)> {
        let targets: Vec<&str> = self.targets.iter().map(String::as_str).collect();
        let input = RoutingInput {
            is_new_incoming_call: self.new_incoming_call,
            tenant_id: self.tenant.as_deref(),
            caller_region_header: self.caller_region_header.as_deref(),
            source_region: self.source_region.as_deref(),
            caller_phone_number: self.phone.as_deref(),
            target_ids: &targets,
            hop_marked: is_hop_marked(&self.query),
        };
        let explanation = policy.explain(&input);
        Ok((
            explanation.to_string(),
            serde_json::to_string_pretty(&explanation)?,
        ))
    }
}

fn explain_files(config_path: &str, input_path: &str) -> anyhow::Result<()> {
    let config_text =
        std::fs::read_to_string(config_path).with_context(|| format!("reading {config_path}"))?;
    let config: RoutingConfig =
        serde_json::from_str(&config_text).with_context(|| format!("parsing {config_path}"))?;
    let policy = RegionPolicy::build(&config)?;
    let input_text =
        std::fs::read_to_string(input_path).with_context(|| format!("reading {input_path}"))?;
    let input_json: Value =
        serde_json::from_str(&input_text).with_context(|| format!("parsing {input_path}"))?;
    let (line, json) = OwnedInput::from_json(&input_json)?.explain(&policy)?;
    println!("{line}\n{json}");
    Ok(())
}

fn tour() -> anyhow::Result<()> {
    let config: RoutingConfig = serde_json::from_value(json!({
        "region": "emea",
        "deployments": {
            "amer": "https://amer.bot.example.com/api/calls",
            "apac": "https://apac.bot.example.com/api/calls"
        },
        "rules": [
            { "region": "amer", "tenant": "72f988bf-86f1-41af-91ab-2d7cd011db47" },
            { "region": "apac", "caller_region": "apac" },
            { "region": "apac", "phone_prefix": "+61" }
        ]
    }))?;
    let policy = RegionPolicy::build(&config)?;
    println!("routing policy of region {}:", policy.own_region());

    let inputs = [
        json!({ "tenant": "72F988BF-86F1-41AF-91AB-2D7CD011DB47", "caller_region_header": "emea" }),
        json!({ "caller_region_header": "APAC" }),
        json!({ "phone": "+61 2 9999 0000" }),
        json!({ "caller_region_header": "emea", "source_region": "westeurope" }),
        json!({ "new_incoming_call": false, "caller_region_header": "apac" }),
        json!({ "caller_region_header": "apac", "query": "callhook-hop=apac" }),
    ];
    for input in &inputs {
        let (line, _) = OwnedInput::from_json(input)?.explain(&policy)?;
        println!("  {input}\n    -> {line}");
    }

    let broken: RoutingConfig = serde_json::from_value(json!({
        "region": "emea",
        "deployments": { "amer": "http://amer.bot.example.com/api/calls" }
    }))?;
    if let Err(error) = RegionPolicy::build(&broken) {
        println!("a configuration error names its entry:\n  {error}");
    }

    let partition = Partition::build(
        &PartitionConfig {
            id: "emea-0".to_owned(),
            public_url: "https://emea-0.bot.example.com".to_owned(),
            url_template: Some("https://{id}.bot.example.com/api/calls/{id}".to_owned()),
        },
        DEFAULT_WEBHOOK_PATH,
    )?;
    println!(
        "partition {}: answer calls with callbackUri {}",
        partition.id(),
        partition.callback_uri()
    );
    for segment in ["emea-0", "emea-1", "../admin"] {
        println!(
            "  {DEFAULT_WEBHOOK_PATH}/{segment} -> {:?}",
            partition.decide_path_segment(segment)
        );
    }
    Ok(())
}

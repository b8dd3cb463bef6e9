//! Routing decisions for the webhook of a Microsoft Teams calling bot: which deployment (region
//! affinity) and which instance (partition) a notification belongs to.
//!
//! Everything here is a pure function of typed inputs: no IO, no HTTP types, no panics. The server
//! extracts the inputs from the verified token, the headers and the payload, and turns the decisions
//! into `302 Found`, `421 Misdirected Request` or processing.
//!
//! - [`RegionPolicy`] is built from a [`RoutingConfig`] and decides, for a
//!   [`RoutingInput`], whether to handle a notification here or redirect it to another regional
//!   deployment. Only a new incoming call can be redirected; the `Location` comes from configuration
//!   only and carries the hop marker [`HOP_MARKER_PARAM`], and a marked request is never redirected
//!   again. [`RegionPolicy::explain`] says which rule matched and why.
//! - [`Partition`] is built from a [`PartitionConfig`] and gives the
//!   `callbackUri` a bot names when it answers a call, and decides requests that arrive on
//!   `{webhook_path}/{partition id}`.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use callhook_routing::{
//!     Decision, DEFAULT_WEBHOOK_PATH, Partition, PartitionConfig, PartitionDecision, RegionPolicy,
//!     RoutingConfig, RoutingInput, RuleConfig, is_hop_marked,
//! };
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = RegionPolicy::build(&RoutingConfig {
//!     region: "emea".to_owned(),
//!     deployments: BTreeMap::from([(
//!         "amer".to_owned(),
//!         "https://amer.bot.example.com/api/calls".to_owned(),
//!     )]),
//!     rules: vec![RuleConfig {
//!         region: "amer".to_owned(),
//!         caller_region: Some("amer".to_owned()),
//!         ..RuleConfig::default()
//!     }],
//! })?;
//!
//! let mut input = RoutingInput {
//!     is_new_incoming_call: true,
//!     tenant_id: Some("72f988bf-86f1-41af-91ab-2d7cd011db47"),
//!     caller_region_header: Some("AMER"),
//!     hop_marked: is_hop_marked(""),
//!     ..RoutingInput::default()
//! };
//! let decision = policy.decide(&input);
//! assert_eq!(
//!     decision.location(),
//!     Some("https://amer.bot.example.com/api/calls?callhook-hop=emea")
//! );
//!
//! // The amer deployment receives the re-POST with the marker and never sends it back.
//! input.hop_marked = is_hop_marked("callhook-hop=emea");
//! assert!(matches!(policy.decide(&input), Decision::HandleHere(_)));
//! println!("{}", policy.explain(&input));
//!
//! let partition = Partition::build(
//!     &PartitionConfig {
//!         id: "emea-0".to_owned(),
//!         public_url: "https://emea.bot.example.com".to_owned(),
//!         url_template: None,
//!     },
//!     DEFAULT_WEBHOOK_PATH,
//! )?;
//! assert_eq!(partition.callback_uri(), "https://emea.bot.example.com/api/calls/emea-0");
//! assert_eq!(partition.decide_path_segment("emea-0"), PartitionDecision::Own);
//! assert_eq!(partition.decide_path_segment("emea-1"), PartitionDecision::Misdirected);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod config;
mod explain;
mod partition;
mod region;
mod url_rules;

pub use config::{PartitionConfig, RoutingConfig, RuleConfig};
pub use explain::{ConditionMatch, Explanation, MatchedRule};
pub use partition::{
    DEFAULT_WEBHOOK_PATH, PARTITION_ID_MAX_CHARS, Partition, PartitionDecision, PartitionEntry,
    PartitionError, PartitionIdProblem, URL_TEMPLATE_ID_PLACEHOLDER, UrlTemplateProblem,
    WebhookPathProblem, build_callback_uri, parse_callback_uri, validate_partition_id,
};
pub use region::{
    Condition, ConditionProblem, ConfigEntry, Decision, HOP_MARKER_PARAM, HandleHereReason,
    PolicyError, REGION_NAME_MAX_CHARS, Redirect, RegionPolicy, RoutingInput, TENANT_ID_MAX_BYTES,
    hop_marker_value, is_hop_marked,
};
pub use url_rules::UrlRejection;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

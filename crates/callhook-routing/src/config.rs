//! The settings of a region policy and of a partition: plain data. They deserialize with serde,
//! refusing unknown fields, so that a program can read them from its own configuration file under
//! whatever section it chooses (the reference server's `[routing]` and `[partition]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The settings of a [`RegionPolicy`](crate::RegionPolicy): region affinity for new incoming calls.
///
/// Region names compare case-insensitively everywhere (`AMER` and `amer` are the same region).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// This deployment's region, for example `emea`.
    pub region: String,
    /// Region name to that deployment's webhook URL. This map is the only source of any `Location`
    /// header: request data never chooses where a redirect points. It may also list this deployment's
    /// own region, so that every deployment can share one map.
    #[serde(default)]
    pub deployments: BTreeMap<String, String>,
    /// Ordered rules; the first rule whose conditions all hold decides, and when no rule matches the
    /// notification is handled here.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// One of [`RoutingConfig::rules`]: where to send a new incoming call when every given condition
/// holds.
///
/// A rule needs at least one condition. All comparisons ignore ASCII case.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// The region whose deployment should handle the call: a key of `deployments`, or this
    /// deployment's own region (which means "handle here").
    pub region: String,
    /// Matches the verified tenant (`tid` claim of the platform's token); GUIDs, compared
    /// case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Matches the `X-Microsoft-Skype-Caller-Region` header (values such as `amer`, `emea`, `apac`),
    /// case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller_region: Option<String>,
    /// Matches the payload's `source.region` (values such as `westus`), case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_region: Option<String>,
    /// Matches the start of a PSTN caller's phone number. Written in E.164 form with a leading `+`
    /// (for example `+1425`); spaces, `-`, `.`, `(` and `)` are ignored on both sides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_prefix: Option<String>,
    /// Matches any of the call's target identities (the bot application or application instance that
    /// was called), case-insensitively.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
}

/// The settings of a [`Partition`](crate::Partition): this instance's identity for per-call
/// callbacks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionConfig {
    /// This instance's partition id: 1 to 64 characters from `A-Z`, `a-z`, `0-9`, `-` and `_`.
    pub id: String,
    /// The public base URL of this instance, for example `https://emea.bot.example.com`; https, or
    /// http on a loopback host.
    pub public_url: String,
    /// Optional URL of any partition's webhook, with `{id}` standing for the partition id, for example
    /// `https://bot.example.com/api/calls/{id}` or `https://{id}.bot.example.com/api/calls/{id}`.
    /// When set, a request for another partition is redirected there instead of refused. With this
    /// instance's own id filled in, the template must give this instance's `callbackUri`, so that a
    /// redirect always reaches the instance that owns the id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_template: Option<String>,
}

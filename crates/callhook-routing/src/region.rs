//! Region affinity: which deployment a new incoming call belongs to.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Serialize;

use crate::config::{RoutingConfig, RuleConfig};
use crate::url_rules::{UrlRejection, parse_webhook_url};

/// The query parameter that marks a redirected notification. Its value is the region of the
/// deployment that redirected it, e.g. `?callhook-hop=emea`.
pub const HOP_MARKER_PARAM: &str = "callhook-hop";

/// The longest tenant id a rule may name, in bytes. Tenant ids are GUIDs (36 characters); the bound
/// lets [`RegionPolicy::decide`] normalise the request's tenant on the stack instead of the heap.
pub const TENANT_ID_MAX_BYTES: usize = 128;

/// The longest region name, in characters.
pub const REGION_NAME_MAX_CHARS: usize = 64;

/// What the server extracted from one request, the only input of a routing decision.
///
/// The server fills it from the verified token, the headers, the query string and the payload; this
/// crate never sees HTTP or the wire types.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoutingInput<'a> {
    /// True only for a Graph `created` notification of a call in state `incoming`: nothing else can
    /// be redirected, because later notifications of a call must reach the deployment that holds it.
    pub is_new_incoming_call: bool,
    /// The verified tenant (`tid` claim).
    pub tenant_id: Option<&'a str>,
    /// The `X-Microsoft-Skype-Caller-Region` header, as received.
    pub caller_region_header: Option<&'a str>,
    /// The payload's `source.region`, for example `westus`.
    pub source_region: Option<&'a str>,
    /// A PSTN caller's phone number (the payload's `source.identity.phone.id`), for example
    /// `+14255550123`.
    pub caller_phone_number: Option<&'a str>,
    /// The ids of the call's targets (`targets[].identity.application.id`,
    /// `targets[].identity.applicationInstance.id`, ...).
    pub target_ids: &'a [&'a str],
    /// Whether the request URL carries the hop marker (see [`is_hop_marked`]).
    pub hop_marked: bool,
}

/// The outcome of [`RegionPolicy::decide`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Decision<'policy> {
    /// Process the notification in this deployment.
    HandleHere(HandleHereReason<'policy>),
    /// Answer `302 Found` with [`Redirect::location`].
    Redirect(Redirect<'policy>),
}

impl<'policy> Decision<'policy> {
    /// The `Location` to answer with, when the decision is a redirect.
    pub fn location(&self) -> Option<&'policy str> {
        match self {
            Self::Redirect(redirect) => Some(redirect.location),
            Self::HandleHere(_) => None,
        }
    }

    /// Whether this deployment's rules would have redirected a notification that another deployment
    /// already redirected here: the deployments' configurations disagree, which the server logs.
    pub fn deployments_disagree(&self) -> bool {
        matches!(
            self,
            Self::HandleHere(HandleHereReason::HopMarkedButRulesSayElsewhere { .. })
        )
    }
}

/// A redirect to another deployment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Redirect<'policy> {
    /// The target region, as written in `deployments`.
    pub region: &'policy str,
    /// The value of the `Location` header: the configured deployment URL plus the hop marker. Built
    /// from configuration only, when the policy was built.
    pub location: &'policy str,
    /// The index of the rule that matched, in `rules`.
    pub rule_index: usize,
}

/// Why a notification is handled where it arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum HandleHereReason<'policy> {
    /// Only a Graph `created` notification of a call in state `incoming` can be redirected.
    NotNewIncomingCall,
    /// No rule matched.
    NoRuleMatched,
    /// The first matching rule names this deployment's own region.
    RuleNamesOwnRegion {
        /// The index of the rule that matched.
        rule_index: usize,
    },
    /// A rule sends the call elsewhere, but the request carries the hop marker: another deployment
    /// already redirected it here, and redirecting again could bounce it forever. The two
    /// deployments' rules disagree; the server should log a warning.
    HopMarkedButRulesSayElsewhere {
        /// The index of the rule that matched.
        rule_index: usize,
        /// The region that rule names.
        region: &'policy str,
    },
}

/// A rule condition, named as in the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Condition {
    /// `tenant`: the verified tenant.
    Tenant,
    /// `caller_region`: the `X-Microsoft-Skype-Caller-Region` header.
    CallerRegion,
    /// `source_region`: the payload's `source.region`.
    SourceRegion,
    /// `phone_prefix`: the start of a PSTN caller's number.
    PhonePrefix,
    /// `target_id`: one of the call's target identities.
    TargetId,
}

impl Condition {
    /// The configuration key of this condition.
    pub fn config_key(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::CallerRegion => "caller_region",
            Self::SourceRegion => "source_region",
            Self::PhonePrefix => "phone_prefix",
            Self::TargetId => "target_id",
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.config_key())
    }
}

/// Why a rule condition's configured value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionProblem {
    /// The value is empty.
    Empty,
    /// The value starts or ends with whitespace, so it would silently never match.
    SurroundingWhitespace,
    /// The tenant id is longer than [`TENANT_ID_MAX_BYTES`].
    TenantTooLong,
    /// The phone prefix is not `+` followed by 1 to 15 digits.
    NotAPhonePrefix,
}

impl fmt::Display for ConditionProblem {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => formatter.write_str("must not be empty"),
            Self::SurroundingWhitespace => {
                formatter.write_str("must not start or end with whitespace")
            }
            Self::TenantTooLong => write!(
                formatter,
                "is longer than {TENANT_ID_MAX_BYTES} bytes, which no tenant id is"
            ),
            Self::NotAPhonePrefix => formatter.write_str(
                "is not a phone number prefix in E.164 form (`+` and 1 to 15 digits, e.g. `+1425`)",
            ),
        }
    }
}

/// A [`RoutingConfig`] that cannot be used. [`PolicyError::entry`] says which entry; the message
/// says what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// A region name is empty, too long or uses characters outside `A-Z a-z 0-9 - _`.
    #[error(
        "`{name}` is not a region name (1 to {REGION_NAME_MAX_CHARS} characters from A-Z, a-z, 0-9, `-`, `_`)"
    )]
    InvalidRegionName {
        /// The deployment whose key is the name, or `None` for this deployment's own region.
        deployment: Option<String>,
        /// The offending name.
        name: String,
    },
    /// Two deployments name the same region (names compare case-insensitively).
    #[error("same region as `{first}` (region names compare case-insensitively)")]
    DuplicateRegion {
        /// The first spelling, in key order.
        first: String,
        /// The second spelling.
        second: String,
    },
    /// A deployment URL breaks the https-or-loopback rule.
    #[error("`{url}`: {problem}")]
    DeploymentUrl {
        /// The region whose URL is wrong.
        region: String,
        /// The configured URL.
        url: String,
        /// What is wrong with it.
        problem: UrlRejection,
    },
    /// A rule names a region that is neither this deployment's nor in `deployments`.
    #[error("unknown region `{region}`; known: {known}")]
    UnknownRuleRegion {
        /// The index of the rule in `rules`.
        rule_index: usize,
        /// The unknown region.
        region: String,
        /// The known regions, comma-separated.
        known: String,
    },
    /// A rule has no condition at all, so it would match everything; say so with an explicit
    /// condition instead.
    #[error(
        "the rule has no condition; give at least one of tenant, caller_region, source_region, phone_prefix, target_id"
    )]
    RuleWithoutCondition {
        /// The index of the rule in `rules`.
        rule_index: usize,
    },
    /// A rule condition's value cannot match anything sensible.
    #[error("`{value}` {problem}")]
    InvalidCondition {
        /// The index of the rule in `rules`.
        rule_index: usize,
        /// Which condition.
        condition: Condition,
        /// The configured value.
        value: String,
        /// What is wrong with it.
        problem: ConditionProblem,
    },
}

/// The entry of a [`RoutingConfig`] that a [`PolicyError`] is about. Its `Display` is the entry's
/// path in the [`RoutingConfig`] (`region`, `deployments.amer`, `rules[2].tenant`); a program
/// that reads the configuration from a file puts its own section in front.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigEntry<'a> {
    /// `region`: this deployment's region.
    Region,
    /// The entry of `deployments` for this region.
    Deployment(&'a str),
    /// The rule at this index of `rules`.
    Rule(usize),
    /// The `region` of the rule at this index.
    RuleRegion(usize),
    /// A condition of the rule at this index.
    RuleCondition(usize, Condition),
}

impl fmt::Display for ConfigEntry<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigEntry::Region => formatter.write_str("region"),
            ConfigEntry::Deployment(region) => write!(formatter, "deployments.{region}"),
            ConfigEntry::Rule(index) => write!(formatter, "rules[{index}]"),
            ConfigEntry::RuleRegion(index) => write!(formatter, "rules[{index}].region"),
            ConfigEntry::RuleCondition(index, condition) => {
                write!(formatter, "rules[{index}].{condition}")
            }
        }
    }
}

impl PolicyError {
    /// The entry of the configuration that is wrong.
    #[must_use]
    pub fn entry(&self) -> ConfigEntry<'_> {
        match self {
            PolicyError::InvalidRegionName {
                deployment: None, ..
            } => ConfigEntry::Region,
            PolicyError::InvalidRegionName {
                deployment: Some(region),
                ..
            }
            | PolicyError::DeploymentUrl { region, .. }
            | PolicyError::DuplicateRegion { second: region, .. } => {
                ConfigEntry::Deployment(region)
            }
            PolicyError::UnknownRuleRegion { rule_index, .. } => {
                ConfigEntry::RuleRegion(*rule_index)
            }
            PolicyError::RuleWithoutCondition { rule_index } => ConfigEntry::Rule(*rule_index),
            PolicyError::InvalidCondition {
                rule_index,
                condition,
                ..
            } => ConfigEntry::RuleCondition(*rule_index, *condition),
        }
    }
}

/// A validated [`RoutingConfig`], ready to decide.
///
/// Built once at start-up; [`RegionPolicy::decide`] then allocates nothing and cannot panic.
#[derive(Debug, Clone)]
pub struct RegionPolicy {
    own_region: String,
    rules: Vec<CompiledRule>,
    rule_configs: Vec<RuleConfig>,
    /// Lower-case tenant id to the indexes of the rules with that tenant condition, ascending.
    rules_by_tenant: HashMap<String, Vec<usize>>,
    /// Indexes of the rules without a tenant condition, ascending.
    rules_without_tenant: Vec<usize>,
    /// Lower-case region name to (region as configured, precomputed `Location`).
    deployments: BTreeMap<String, (String, String)>,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    tenant: Option<String>,
    caller_region: Option<String>,
    source_region: Option<String>,
    /// Only the digits of the configured prefix.
    phone_prefix_digits: Option<String>,
    target_id: Option<String>,
    target: RuleTarget,
}

#[derive(Debug, Clone)]
enum RuleTarget {
    OwnRegion,
    Elsewhere { region: String, location: String },
}

impl RegionPolicy {
    /// Validates `config` and precomputes every `Location`.
    ///
    /// # Errors
    ///
    /// A [`PolicyError`] naming the first offending entry: an invalid or duplicate region, a
    /// deployment URL that is not https (http only on loopback), a rule naming an unknown region, a
    /// rule without conditions or with an unusable condition value.
    pub fn build(config: &RoutingConfig) -> Result<Self, PolicyError> {
        check_region_name(None, &config.region)?;
        let own_region_key = config.region.to_ascii_lowercase();

        let mut deployments: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (region, raw_url) in &config.deployments {
            check_region_name(Some(region), region)?;
            let key = region.to_ascii_lowercase();
            if let Some((first, _)) = deployments.get(&key) {
                return Err(PolicyError::DuplicateRegion {
                    first: first.clone(),
                    second: region.clone(),
                });
            }
            let location =
                location_with_hop_marker(raw_url, &config.region).map_err(|problem| {
                    PolicyError::DeploymentUrl {
                        region: region.clone(),
                        url: raw_url.clone(),
                        problem,
                    }
                })?;
            deployments.insert(key, (region.clone(), location));
        }

        let mut rules = Vec::with_capacity(config.rules.len());
        let mut rules_by_tenant: HashMap<String, Vec<usize>> = HashMap::new();
        let mut rules_without_tenant = Vec::new();
        for (rule_index, rule) in config.rules.iter().enumerate() {
            let compiled = compile_rule(rule_index, rule, &own_region_key, &deployments, config)?;
            match &compiled.tenant {
                Some(tenant) => rules_by_tenant
                    .entry(tenant.clone())
                    .or_default()
                    .push(rule_index),
                None => rules_without_tenant.push(rule_index),
            }
            rules.push(compiled);
        }

        Ok(Self {
            own_region: config.region.clone(),
            rules,
            rule_configs: config.rules.clone(),
            rules_by_tenant,
            rules_without_tenant,
            deployments,
        })
    }

    /// This deployment's region, as configured.
    pub fn own_region(&self) -> &str {
        &self.own_region
    }

    /// The rules, as configured, in order.
    pub fn rules(&self) -> &[RuleConfig] {
        &self.rule_configs
    }

    /// The precomputed `Location` for a region (compared case-insensitively), if it has a deployment.
    pub fn location_for_region(&self, region: &str) -> Option<&str> {
        self.deployments
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(region))
            .map(|(_, (_, location))| location.as_str())
    }

    /// Decides where a notification belongs. Allocates nothing.
    ///
    /// Order: a notification that is not a new incoming call is handled here; otherwise the first
    /// matching rule (by position in [`RoutingConfig::rules`]) decides; a rule naming this region, or no match,
    /// means handle here; a redirect is suppressed when the request carries the hop marker.
    ///
    /// Tenant rules are looked up in a map, the other rules are scanned, and the lower of the two
    /// matching positions wins, so an indexed tenant rule never beats an earlier rule of another kind.
    pub fn decide(&self, input: &RoutingInput<'_>) -> Decision<'_> {
        if !input.is_new_incoming_call {
            return Decision::HandleHere(HandleHereReason::NotNewIncomingCall);
        }
        self.decision_for_rule(self.first_matching_rule(input), input.hop_marked)
    }

    /// The same decision as [`RegionPolicy::decide`], computed by testing every rule in order without
    /// the tenant index. It is the reference that tests compare `decide` with, and the baseline of the
    /// benchmark.
    ///
    /// Hidden from the documentation: a test and benchmark hook (integration tests and benchmarks
    /// are other crates, so it has to be public), not an API to build on.
    #[doc(hidden)]
    pub fn decide_without_index(&self, input: &RoutingInput<'_>) -> Decision<'_> {
        if !input.is_new_incoming_call {
            return Decision::HandleHere(HandleHereReason::NotNewIncomingCall);
        }
        let matched = self.rules.iter().position(|rule| rule.matches(input));
        self.decision_for_rule(matched, input.hop_marked)
    }

    fn decision_for_rule(&self, matched: Option<usize>, hop_marked: bool) -> Decision<'_> {
        let Some((rule_index, rule)) =
            matched.and_then(|index| self.rules.get(index).map(|rule| (index, rule)))
        else {
            return Decision::HandleHere(HandleHereReason::NoRuleMatched);
        };
        match &rule.target {
            RuleTarget::OwnRegion => {
                Decision::HandleHere(HandleHereReason::RuleNamesOwnRegion { rule_index })
            }
            RuleTarget::Elsewhere { region, .. } if hop_marked => {
                Decision::HandleHere(HandleHereReason::HopMarkedButRulesSayElsewhere {
                    rule_index,
                    region,
                })
            }
            RuleTarget::Elsewhere { region, location } => Decision::Redirect(Redirect {
                region,
                location,
                rule_index,
            }),
        }
    }

    fn first_matching_rule(&self, input: &RoutingInput<'_>) -> Option<usize> {
        let tenant_match = self.first_matching_tenant_rule(input);
        // Only rules before the tenant match can still win, which bounds the scan.
        let limit = tenant_match.unwrap_or(usize::MAX);
        self.rules_without_tenant
            .iter()
            .copied()
            .take_while(|&index| index < limit)
            .find(|&index| {
                self.rules
                    .get(index)
                    .is_some_and(|rule| rule.matches(input))
            })
            .or(tenant_match)
    }

    fn first_matching_tenant_rule(&self, input: &RoutingInput<'_>) -> Option<usize> {
        let tenant = input.tenant_id?;
        let mut buffer = [0_u8; TENANT_ID_MAX_BYTES];
        let key = ascii_lowercase_on_stack(tenant, &mut buffer)?;
        self.rules_by_tenant
            .get(key)?
            .iter()
            .copied()
            .find(|&index| {
                self.rules
                    .get(index)
                    .is_some_and(|rule| rule.matches(input))
            })
    }

    pub(crate) fn rule_target_region(&self, rule_index: usize) -> Option<&str> {
        self.rule_configs
            .get(rule_index)
            .map(|rule| rule.region.as_str())
    }

    pub(crate) fn matched_conditions(
        &self,
        rule_index: usize,
        input: &RoutingInput<'_>,
    ) -> Vec<(Condition, String, String)> {
        let (Some(rule), Some(config)) = (
            self.rules.get(rule_index),
            self.rule_configs.get(rule_index),
        ) else {
            return Vec::new();
        };
        let mut conditions = Vec::new();
        let mut push = |condition, configured: &Option<String>, observed: Option<&str>| {
            if let (Some(configured), Some(observed)) = (configured, observed) {
                conditions.push((condition, configured.clone(), observed.to_owned()));
            }
        };
        push(Condition::Tenant, &config.tenant, input.tenant_id);
        push(
            Condition::CallerRegion,
            &config.caller_region,
            input.caller_region_header,
        );
        push(
            Condition::SourceRegion,
            &config.source_region,
            input.source_region,
        );
        push(
            Condition::PhonePrefix,
            &config.phone_prefix,
            input.caller_phone_number,
        );
        let matching_target = rule.target_id.as_deref().and_then(|wanted| {
            input
                .target_ids
                .iter()
                .copied()
                .find(|id| id.eq_ignore_ascii_case(wanted))
        });
        push(Condition::TargetId, &config.target_id, matching_target);
        conditions
    }
}

impl CompiledRule {
    fn matches(&self, input: &RoutingInput<'_>) -> bool {
        optional_condition_holds(
            self.tenant.as_deref(),
            input.tenant_id,
            str::eq_ignore_ascii_case,
        ) && optional_condition_holds(
            self.caller_region.as_deref(),
            input.caller_region_header,
            |wanted, observed| wanted.eq_ignore_ascii_case(observed.trim()),
        ) && optional_condition_holds(
            self.source_region.as_deref(),
            input.source_region,
            |wanted, observed| wanted.eq_ignore_ascii_case(observed.trim()),
        ) && optional_condition_holds(
            self.phone_prefix_digits.as_deref(),
            input.caller_phone_number,
            phone_number_starts_with,
        ) && self.target_id.as_deref().is_none_or(|wanted| {
            input
                .target_ids
                .iter()
                .any(|id| id.eq_ignore_ascii_case(wanted))
        })
    }
}

/// An absent condition holds; a present one needs an observed value that satisfies it.
fn optional_condition_holds(
    wanted: Option<&str>,
    observed: Option<&str>,
    holds: impl Fn(&str, &str) -> bool,
) -> bool {
    match wanted {
        None => true,
        Some(wanted) => observed.is_some_and(|observed| holds(wanted, observed)),
    }
}

/// Whether the query string of a request URL carries the hop marker [`HOP_MARKER_PARAM`].
///
/// Accepts a leading `?`, `&` or `;` separators, a percent-encoded or differently cased key, and an
/// empty value: any presence counts, because wrongly seeing a marker only means handling a call here,
/// while wrongly missing one could bounce it between deployments.
pub fn is_hop_marked(query_string: &str) -> bool {
    hop_marker_value(query_string).is_some()
}

/// The raw value of the hop marker (the region that redirected the request), if present.
pub fn hop_marker_value(query_string: &str) -> Option<&str> {
    let query = query_string.strip_prefix('?').unwrap_or(query_string);
    query.split(['&', ';']).find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        percent_decoded_equals_ignoring_case(key, HOP_MARKER_PARAM).then_some(value)
    })
}

fn percent_decoded_equals_ignoring_case(raw: &str, expected: &str) -> bool {
    let mut raw_bytes = raw.bytes();
    let mut expected_bytes = expected.bytes();
    loop {
        let decoded = match raw_bytes.next() {
            None => return expected_bytes.next().is_none(),
            Some(b'%') => {
                let before_escape = raw_bytes.clone();
                match (
                    raw_bytes.next().and_then(hex_value),
                    raw_bytes.next().and_then(hex_value),
                ) {
                    (Some(high), Some(low)) => high * 16 + low,
                    _ => {
                        // A `%` that starts no valid escape stands for itself.
                        raw_bytes = before_escape;
                        b'%'
                    }
                }
            }
            Some(b'+') => b' ',
            Some(byte) => byte,
        };
        match expected_bytes.next() {
            Some(wanted) if wanted.eq_ignore_ascii_case(&decoded) => {}
            _ => return false,
        }
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Copies `value` lower-cased into `buffer`; `None` when it does not fit, in which case it is longer
/// than any configured tenant and cannot match.
fn ascii_lowercase_on_stack<'b>(value: &str, buffer: &'b mut [u8]) -> Option<&'b str> {
    let target = buffer.get_mut(..value.len())?;
    for (slot, byte) in target.iter_mut().zip(value.bytes()) {
        *slot = byte.to_ascii_lowercase();
    }
    // Lower-casing ASCII bytes keeps UTF-8 valid, so this never fails in practice.
    std::str::from_utf8(target).ok()
}

/// Separators people write inside phone numbers; they carry no meaning for matching.
fn is_phone_separator(character: char) -> bool {
    matches!(character, ' ' | '-' | '.' | '(' | ')')
}

/// Whether the digits of `number` (ignoring a `tel:` scheme, a leading `+` and separators) start with
/// `prefix_digits`.
fn phone_number_starts_with(prefix_digits: &str, number: &str) -> bool {
    let number = number.trim();
    let number = match number.get(..4) {
        Some(scheme) if scheme.eq_ignore_ascii_case("tel:") => number.get(4..).unwrap_or(""),
        _ => number,
    };
    let number = number.strip_prefix('+').unwrap_or(number);
    let mut number_characters = number
        .chars()
        .filter(|&character| !is_phone_separator(character));
    prefix_digits
        .chars()
        .all(|wanted| number_characters.next() == Some(wanted))
}

fn check_region_name(deployment: Option<&str>, name: &str) -> Result<(), PolicyError> {
    if is_valid_region_name(name) {
        Ok(())
    } else {
        Err(PolicyError::InvalidRegionName {
            deployment: deployment.map(str::to_owned),
            name: name.to_owned(),
        })
    }
}

fn is_valid_region_name(name: &str) -> bool {
    (1..=REGION_NAME_MAX_CHARS).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

fn location_with_hop_marker(raw_url: &str, own_region: &str) -> Result<String, UrlRejection> {
    let mut url = parse_webhook_url(raw_url, true)?;
    url.query_pairs_mut()
        .append_pair(HOP_MARKER_PARAM, own_region);
    Ok(url.into())
}

fn compile_rule(
    rule_index: usize,
    rule: &RuleConfig,
    own_region_key: &str,
    deployments: &BTreeMap<String, (String, String)>,
    config: &RoutingConfig,
) -> Result<CompiledRule, PolicyError> {
    let target = if rule.region.eq_ignore_ascii_case(own_region_key) {
        RuleTarget::OwnRegion
    } else if let Some((region, location)) = deployments.get(&rule.region.to_ascii_lowercase()) {
        RuleTarget::Elsewhere {
            region: region.clone(),
            location: location.clone(),
        }
    } else {
        let mut known: Vec<&str> = deployments
            .values()
            .map(|(region, _)| region.as_str())
            .collect();
        if !deployments.contains_key(own_region_key) {
            known.push(&config.region);
        }
        known.sort_by_key(|region| region.to_ascii_lowercase());
        return Err(PolicyError::UnknownRuleRegion {
            rule_index,
            region: rule.region.clone(),
            known: known.join(", "),
        });
    };

    let conditions = [
        (Condition::Tenant, &rule.tenant),
        (Condition::CallerRegion, &rule.caller_region),
        (Condition::SourceRegion, &rule.source_region),
        (Condition::PhonePrefix, &rule.phone_prefix),
        (Condition::TargetId, &rule.target_id),
    ];
    if conditions.iter().all(|(_, value)| value.is_none()) {
        return Err(PolicyError::RuleWithoutCondition { rule_index });
    }
    for (condition, value) in conditions {
        if let Some(value) = value {
            check_condition_value(condition, value).map_err(|problem| {
                PolicyError::InvalidCondition {
                    rule_index,
                    condition,
                    value: value.clone(),
                    problem,
                }
            })?;
        }
    }

    Ok(CompiledRule {
        tenant: rule
            .tenant
            .as_ref()
            .map(|tenant| tenant.to_ascii_lowercase()),
        caller_region: rule.caller_region.clone(),
        source_region: rule.source_region.clone(),
        phone_prefix_digits: rule.phone_prefix.as_ref().map(|prefix| {
            prefix
                .chars()
                .filter(char::is_ascii_digit)
                .collect::<String>()
        }),
        target_id: rule.target_id.clone(),
        target,
    })
}

fn check_condition_value(condition: Condition, value: &str) -> Result<(), ConditionProblem> {
    if value.is_empty() {
        return Err(ConditionProblem::Empty);
    }
    if value.trim() != value {
        return Err(ConditionProblem::SurroundingWhitespace);
    }
    match condition {
        Condition::Tenant if value.len() > TENANT_ID_MAX_BYTES => {
            Err(ConditionProblem::TenantTooLong)
        }
        Condition::PhonePrefix => {
            let digits = value
                .strip_prefix('+')
                .ok_or(ConditionProblem::NotAPhonePrefix)?;
            let digit_count = digits.chars().filter(char::is_ascii_digit).count();
            let only_digits_and_separators = digits
                .chars()
                .all(|character| character.is_ascii_digit() || is_phone_separator(character));
            if only_digits_and_separators && (1..=15).contains(&digit_count) {
                Ok(())
            } else {
                Err(ConditionProblem::NotAPhonePrefix)
            }
        }
        _ => Ok(()),
    }
}

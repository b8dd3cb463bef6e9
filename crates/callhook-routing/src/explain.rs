//! Explanations of routing decisions, for logs, command-line tools and tests.

use std::fmt;

use serde::Serialize;

use crate::region::{
    Condition, Decision, HOP_MARKER_PARAM, HandleHereReason, RegionPolicy, RoutingInput,
};

/// What [`RegionPolicy::explain`] found: the decision, and which rule made it and why.
///
/// `Display` renders one line for a log or a terminal; `Serialize` renders the same facts as fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation<'policy> {
    /// This deployment's region, as configured.
    pub this_region: &'policy str,
    /// The decision, exactly as [`RegionPolicy::decide`] returns it.
    pub decision: Decision<'policy>,
    /// The first rule that matched, when the rules were consulted and one matched.
    pub matched_rule: Option<MatchedRule<'policy>>,
}

/// The rule that decided, with the conditions it checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedRule<'policy> {
    /// The rule's index in `rules`.
    pub index: usize,
    /// The region the rule names, as configured.
    pub region: &'policy str,
    /// Every condition of the rule, each with the value that satisfied it.
    pub conditions: Vec<ConditionMatch>,
}

/// One satisfied condition of the matched rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConditionMatch {
    /// Which condition.
    pub condition: Condition,
    /// The value in the configuration.
    pub configured: String,
    /// The value observed in the request.
    pub observed: String,
}

impl RegionPolicy {
    /// Decides like [`RegionPolicy::decide`] and says why. Allocates; meant for logs and tools, not for
    /// the hot path.
    pub fn explain(&self, input: &RoutingInput<'_>) -> Explanation<'_> {
        let decision = self.decide(input);
        let matched_index = match decision {
            Decision::Redirect(redirect) => Some(redirect.rule_index),
            Decision::HandleHere(
                HandleHereReason::RuleNamesOwnRegion { rule_index }
                | HandleHereReason::HopMarkedButRulesSayElsewhere { rule_index, .. },
            ) => Some(rule_index),
            Decision::HandleHere(
                HandleHereReason::NotNewIncomingCall | HandleHereReason::NoRuleMatched,
            ) => None,
        };
        let matched_rule = matched_index.and_then(|index| {
            Some(MatchedRule {
                index,
                region: self.rule_target_region(index)?,
                conditions: self
                    .matched_conditions(index, input)
                    .into_iter()
                    .map(|(condition, configured, observed)| ConditionMatch {
                        condition,
                        configured,
                        observed,
                    })
                    .collect(),
            })
        });
        Explanation {
            this_region: self.own_region(),
            decision,
            matched_rule,
        }
    }
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.decision {
            Decision::Redirect(redirect) => write!(
                formatter,
                "redirect to {} (Location: {})",
                redirect.region, redirect.location
            )?,
            Decision::HandleHere(_) => write!(formatter, "handle here in {}", self.this_region)?,
        }
        formatter.write_str(": ")?;
        if let Some(rule) = &self.matched_rule {
            write!(formatter, "{rule}")?;
        }
        match &self.decision {
            Decision::Redirect(_) => Ok(()),
            Decision::HandleHere(HandleHereReason::NotNewIncomingCall) => formatter.write_str(
                "not a new incoming call (only a Graph `created` notification of a call in state \
                 `incoming` can be redirected)",
            ),
            Decision::HandleHere(HandleHereReason::NoRuleMatched) => {
                formatter.write_str("no rule matched")
            }
            Decision::HandleHere(HandleHereReason::RuleNamesOwnRegion { .. }) => {
                formatter.write_str(", which is this deployment's own region")
            }
            Decision::HandleHere(HandleHereReason::HopMarkedButRulesSayElsewhere { .. }) => {
                write!(
                    formatter,
                    ", but the request carries the hop marker `{HOP_MARKER_PARAM}`: another \
                     deployment already redirected it here, so it is not redirected again; the two \
                     deployments' rules disagree"
                )
            }
        }
    }
}

impl fmt::Display for MatchedRule<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "rules[{}] matched (", self.index)?;
        for (position, condition) in self.conditions.iter().enumerate() {
            if position > 0 {
                formatter.write_str(", ")?;
            }
            write!(
                formatter,
                "{} `{}` ~ `{}`",
                condition.condition, condition.configured, condition.observed
            )?;
        }
        write!(formatter, ") and names region {}", self.region)
    }
}

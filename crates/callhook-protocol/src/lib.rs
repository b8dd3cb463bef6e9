//! Protocol negotiation for Teams calling webhooks (work in progress: the policy type lands first).

#![warn(missing_docs)]

use serde::Deserialize;

/// What to answer to a body in the legacy Skype calling format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LegacyPolicy {
    /// Answer 204 so that the platform re-sends the notification in Graph format (the default).
    #[default]
    Redeliver,
    /// Accept legacy bodies and hand them on like Graph ones.
    Accept,
}

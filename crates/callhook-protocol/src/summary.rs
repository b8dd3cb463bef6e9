//! The summary printed by `callhook classify`.

use callhook_model::{CommsNotification, CommsNotifications, LegacyNotification};
use serde::Serialize;

use crate::Protocol;

/// One JSON object describing a valid body:
/// `{"protocol":"graph"|"legacy","notifications":[{"changeType","resourceUrl","resourceType","state","callId"}]}`.
///
/// Absent values are written as `null`, never left out, so that every entry has the same members;
/// `changeType` and `resourceUrl` are always strings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// The body's format.
    pub protocol: Protocol,
    /// One entry per notification (one for a legacy body).
    pub notifications: Vec<SummaryEntry>,
}

/// One notification in a [`Summary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SummaryEntry {
    /// Graph: `changeType` as written back by the model (documented spelling for known values),
    /// or the empty string when the item has no string `changeType`.
    /// Legacy: always `"legacy"`, because the legacy format has no change type.
    pub change_type: String,
    /// Graph: `resourceUrl`, else `resource` (an item has one or both). Legacy: `links.call` when present, else `/legacy/{id}`
    /// (`/legacy` without an id).
    pub resource_url: String,
    /// Graph: the `@odata.type` of `resourceData` as sent (for an array, its first element's).
    /// Legacy: the kind, `conversation`, `conversationResult` or `callStateChange`.
    pub resource_type: Option<String>,
    /// Graph: the state of a call in `resourceData`. Legacy: `callState`, or `currentState` of a
    /// `callStateChange`.
    pub state: Option<String>,
    /// Graph: the call id from `resourceUrl`, `resource` or the call. Legacy: `id`.
    pub call_id: Option<String>,
}

impl Summary {
    /// The summary of a Graph body.
    pub fn of_graph(notifications: &CommsNotifications) -> Self {
        Self {
            protocol: Protocol::Graph,
            notifications: notifications.iter().map(SummaryEntry::of_graph).collect(),
        }
    }

    /// The summary of a legacy body.
    pub fn of_legacy(notification: &LegacyNotification) -> Self {
        Self {
            protocol: Protocol::Legacy,
            notifications: vec![SummaryEntry::of_legacy(notification)],
        }
    }
}

impl SummaryEntry {
    /// The entry of one Graph notification.
    pub fn of_graph(notification: &CommsNotification) -> Self {
        Self {
            change_type: notification
                .change_type()
                .map(|change| change.as_str().to_owned())
                .unwrap_or_default(),
            resource_url: notification.resource_path().unwrap_or_default().to_owned(),
            resource_type: notification.resource_type().map(str::to_owned),
            state: notification.state().map(|state| state.as_str().to_owned()),
            call_id: notification.call_id().map(str::to_owned),
        }
    }

    /// The entry of a legacy notification.
    pub fn of_legacy(notification: &LegacyNotification) -> Self {
        let resource_url = match (notification.call_link(), notification.id()) {
            (Some(link), _) => link.to_owned(),
            (None, Some(id)) => format!("/legacy/{id}"),
            (None, None) => "/legacy".to_owned(),
        };
        Self {
            change_type: "legacy".to_owned(),
            resource_url,
            resource_type: Some(notification.kind().as_str().to_owned()),
            state: notification
                .call_state()
                .map(|state| state.as_str().to_owned()),
            call_id: notification.id().map(str::to_owned),
        }
    }
}

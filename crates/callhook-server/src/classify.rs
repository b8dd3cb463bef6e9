//! `callhook classify [FILE|-]`: what callhook makes of one captured notification body.

use std::io::Read;
use std::path::Path;

use callhook_model::{CommsNotification, CommsNotifications, LegacyNotification};
use callhook_protocol::{LegacyPolicy, Negotiation, Protocol, negotiate};
use serde::Serialize;

/// Why a body could not be classified.
#[derive(Debug, thiserror::Error)]
pub enum ClassifyError {
    /// The file or standard input could not be read.
    #[error("cannot read {source_name}: {error}")]
    Read {
        /// The file name, or "standard input".
        source_name: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The body is neither a Graph nor a legacy notification.
    #[error("{source_name}: {reason}")]
    Invalid {
        /// The file name, or "standard input".
        source_name: String,
        /// Why, in words a person can act on.
        reason: String,
    },
}

/// Reads `source` (a path, or `-` for standard input) and returns the classification as one line
/// of JSON.
pub fn classify_source(source: &str) -> Result<String, ClassifyError> {
    let (source_name, body) = if source == "-" {
        let mut body = Vec::new();
        std::io::stdin()
            .read_to_end(&mut body)
            .map_err(|error| ClassifyError::Read {
                source_name: "standard input".to_owned(),
                error,
            })?;
        ("standard input".to_owned(), body)
    } else {
        let body = std::fs::read(Path::new(source)).map_err(|error| ClassifyError::Read {
            source_name: source.to_owned(),
            error,
        })?;
        (source.to_owned(), body)
    };
    classify_bytes(&body).map_err(|reason| ClassifyError::Invalid {
        source_name,
        reason,
    })
}

/// Classifies one body: one line of JSON, or the reason it is neither format.
pub fn classify_bytes(body: &[u8]) -> Result<String, String> {
    let negotiation = negotiate(body, LegacyPolicy::Accept);
    if let Negotiation::Invalid(reason) = &negotiation {
        return Err(reason.to_string());
    }
    let summary = Summary::of(&negotiation)
        .ok_or_else(|| "the body is neither a Graph nor a legacy notification".to_owned())?;
    serde_json::to_string(&summary).map_err(|error| error.to_string())
}

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
    /// The summary of a valid body; `None` for an invalid one.
    pub fn of(negotiation: &Negotiation) -> Option<Self> {
        match negotiation {
            Negotiation::Graph(notifications) => Some(Self::of_graph(notifications)),
            Negotiation::Legacy { notification, .. } => Some(Self::of_legacy(notification)),
            _ => None,
        }
    }

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

//! "This notification, with this instance's callbackUri": the incoming call a notification
//! announces, and the answer that makes this instance its owner.

use std::time::{Duration, Instant};

use callhook_model::graph::{CommsNotification, CommsNotifications, Modality};
use callhook_routing::Partition;

use crate::client::CallRef;
use crate::requests::{AnswerRequest, RejectReason, RejectRequest};
use crate::retry::{ANSWER_WINDOW, Deadline, POLICY_RECORDING_WINDOW};

/// An incoming call, read from its `created` notification, with when the notification arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    call_id: String,
    tenant_id: Option<String>,
    requested_modalities: Vec<Modality>,
    arrived: Instant,
    window: Duration,
}

impl IncomingCall {
    /// The incoming call `notification` announces (`created`, state `incoming`), with the
    /// standard answer window from `arrived`; `None` for any other notification.
    #[must_use]
    pub fn from_notification(notification: &CommsNotification, arrived: Instant) -> Option<Self> {
        if !notification.is_new_incoming_call() {
            return None;
        }
        let call_id = notification.call_id()?.to_owned();
        let call = notification.call();
        Some(Self {
            call_id,
            tenant_id: call.and_then(|call| call.tenant_id()).map(str::to_owned),
            requested_modalities: call
                .and_then(|call| call.requested_modalities.clone())
                .unwrap_or_default(),
            arrived,
            window: ANSWER_WINDOW,
        })
    }

    /// Every incoming call of a delivery.
    #[must_use]
    pub fn all(notifications: &CommsNotifications, arrived: Instant) -> Vec<Self> {
        notifications
            .value
            .iter()
            .filter_map(|notification| Self::from_notification(notification, arrived))
            .collect()
    }

    /// For a policy-based recording bot: the 5 s window instead of 15 s.
    #[must_use]
    pub fn policy_recording(mut self) -> Self {
        self.window = POLICY_RECORDING_WINDOW;
        self
    }

    /// Asks tokens of `tenant` when the notification named none (for example the tenant of the
    /// verified platform token).
    #[must_use]
    pub fn or_tenant(mut self, tenant: &str) -> Self {
        if self.tenant_id.is_none() {
            self.tenant_id = Some(tenant.to_owned());
        }
        self
    }

    /// The call id.
    #[must_use]
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The call's tenant, when the notification names one.
    #[must_use]
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant_id.as_deref()
    }

    /// The modalities the caller asks for.
    #[must_use]
    pub fn requested_modalities(&self) -> &[Modality] {
        &self.requested_modalities
    }

    /// When the answer window closes.
    #[must_use]
    pub fn deadline(&self) -> Deadline {
        Deadline::at(self.arrived + self.window)
    }

    /// The call, for the client's actions, with the window's deadline.
    #[must_use]
    pub fn call(&self) -> CallRef {
        let call = CallRef::new(&self.call_id).deadline(self.deadline());
        match &self.tenant_id {
            Some(tenant) => call.tenant(tenant),
            None => call,
        }
    }

    /// The answer that makes `partition` the call's owner: its `callbackUri`, the requested
    /// modalities (audio when none were named), service-hosted media.
    #[must_use]
    pub fn answer(&self, partition: &Partition) -> AnswerRequest {
        self.answer_at(partition.callback_uri())
    }

    /// The same answer naming `callback_uri`, for a bot behind `callhook serve`, which forwards the
    /// callbackUri of the instance that took the call (`X-Callhook-Callback-Uri`).
    #[must_use]
    pub fn answer_at(&self, callback_uri: impl Into<String>) -> AnswerRequest {
        let modalities: Vec<Modality> = self
            .requested_modalities
            .iter()
            .filter(|modality| !modality.is_unknown())
            .cloned()
            .collect();
        let request = AnswerRequest::new(callback_uri);
        if modalities.is_empty() {
            request
        } else {
            request.modalities(modalities)
        }
    }

    /// A rejection for `reason` that names `partition`'s `callbackUri`.
    #[must_use]
    pub fn reject(&self, reason: RejectReason, partition: &Partition) -> RejectRequest {
        RejectRequest::new(reason).callback_uri(partition.callback_uri())
    }
}

//! Where verified notifications go: a structured log line, or a POST to the bot behind callhook.
//!
//! A sink returns only once the notification was taken (or could not be): the handler answers
//! `202 Accepted` after a successful delivery and never before, so a 202 always means delivered.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use callhook_protocol::{Decision, Protocol};

use crate::classify::SummaryEntry;

use crate::webhook_signature::{WebhookSigner, headers as signature_headers};

use crate::config::{ForwardConfig, SinkConfig};

/// Headers added to forwarded requests.
pub mod forward_headers {
    /// The verified tenant (`tid`) of the platform's token.
    pub const TENANT: &str = "X-Callhook-Tenant";
    /// `graph` or `legacy`.
    pub const PROTOCOL: &str = "X-Callhook-Protocol";
    /// The platform's `X-Microsoft-Skype-Message-ID`, when it sent one.
    pub const MESSAGE_ID: &str = "X-Callhook-Message-Id";
    /// This instance's `callbackUri`, when `[partition]` is configured.
    pub const CALLBACK_URI: &str = "X-Callhook-Callback-Uri";
}

/// One verified notification on its way to the sink.
#[derive(Debug)]
pub struct Delivery<'a> {
    /// The request body, unchanged.
    pub body: Bytes,
    /// The protocol of the body.
    pub protocol: Protocol,
    /// The decision about the body, with the facts of a Graph body (for the log line).
    pub decision: &'a Decision<'a>,
    /// The verified tenant id.
    pub tenant_id: &'a str,
    /// The platform's delivery id, when present.
    pub message_id: Option<&'a str>,
    /// This instance's callbackUri, when a partition is configured.
    pub callback_uri: Option<&'a str>,
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The bot could not be reached (connection refused, DNS): the platform should retry later.
    #[error("the bot at {url} could not be reached")]
    Unreachable {
        /// The configured URL.
        url: String,
    },
    /// The bot did not answer within the timeout.
    #[error("the bot at {url} did not answer within {timeout_ms} ms")]
    TimedOut {
        /// The configured URL.
        url: String,
        /// The configured timeout.
        timeout_ms: u64,
    },
    /// The bot answered with a status other than 2xx.
    #[error("the bot at {url} answered {status}")]
    Status {
        /// The configured URL.
        url: String,
        /// The bot's status code.
        status: u16,
    },
    /// Every one of the `max_in_flight` places was taken for the whole bounded wait: the platform
    /// is asked to retry later.
    #[error("{max_in_flight} deliveries were already in flight for {waited_ms} ms")]
    Saturated {
        /// The configured limit.
        max_in_flight: usize,
        /// How long this delivery waited for a place.
        waited_ms: u64,
    },
    /// Any other transport failure.
    #[error("delivery to {url} failed: {reason}")]
    Transport {
        /// The configured URL.
        url: String,
        /// What the HTTP client said.
        reason: String,
    },
}

/// A configured sink.
#[derive(Debug, Clone)]
pub enum Sink {
    /// One structured log line per notification.
    Log,
    /// A synchronous POST to the bot.
    Forward(Box<ForwardSink>),
}

impl Sink {
    /// Builds the sink of `config`.
    pub fn from_config(config: &SinkConfig) -> Result<Self, SinkBuildError> {
        match config {
            SinkConfig::Log => Ok(Self::Log),
            SinkConfig::Forward(forward) => Ok(Self::Forward(Box::new(ForwardSink::new(forward)?))),
        }
    }

    /// Whether a delivery to this sink reads the facts of the notifications: the log sink does
    /// when its line is on (`callhook::notification` at `info`), the forward sink never (it
    /// forwards the body as it came).
    pub fn reads_facts(&self) -> bool {
        match self {
            Self::Log => tracing::enabled!(target: NOTIFICATION_TARGET, tracing::Level::INFO),
            Self::Forward(_) => false,
        }
    }

    /// The label of this sink in metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Log => "log",
            Self::Forward(_) => "forward",
        }
    }

    /// Takes one of the sink's in-flight places, waiting for one at most as configured; the
    /// place is given back when the returned permit is dropped. The log sink has no limit.
    ///
    /// # Errors
    ///
    /// [`SinkError::Saturated`] when no place came free in time.
    pub async fn admit(&self) -> Result<DeliveryPermit, SinkError> {
        match self {
            Self::Log => Ok(DeliveryPermit { _place: None }),
            Self::Forward(forward) => forward.admit().await,
        }
    }

    /// Hands one notification over; returns once it was taken. `permit` comes from
    /// [`Sink::admit`].
    pub async fn deliver(
        &self,
        delivery: Delivery<'_>,
        permit: DeliveryPermit,
    ) -> Result<(), SinkError> {
        let result = match self {
            Self::Log => {
                log_delivery(&delivery);
                Ok(())
            }
            Self::Forward(forward) => forward.deliver(delivery).await,
        };
        drop(permit);
        result
    }

    /// Deliveries in flight now (forward sink), for `/metrics`.
    pub fn in_flight(&self) -> usize {
        match self {
            Self::Log => 0,
            Self::Forward(forward) => forward
                .max_in_flight
                .saturating_sub(forward.places.available_permits()),
        }
    }
}

/// The HTTP client of the forward sink could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client of the forward sink: {0}")]
pub struct SinkBuildError(String);

/// The target of the log sink's line, one per notification.
const NOTIFICATION_TARGET: &str = "callhook::notification";

/// The log sink's line of one notification, its fields named once: formatted by callhook when it
/// can be (see `write_info_line`), through `tracing` otherwise. Every value is an
/// `Option<&str>`, and a `None` is left out of the line, as `tracing` leaves it out.
macro_rules! notification_line {
    ($($name:ident = $value:expr),* $(,)?) => {{
        // Each name checked, and its ` name="` made, when the program is compiled.
        let fields = [$((crate::logging::line_field!($name), $value)),*];
        if !crate::logging::write_info_line(NOTIFICATION_TARGET, "notification", &fields) {
            let [$($name),*] = fields.map(|(_, value)| value);
            tracing::info!(target: "callhook::notification", $($name,)* "notification");
        }
    }};
}

fn log_delivery(delivery: &Delivery<'_>) {
    if !tracing::enabled!(target: NOTIFICATION_TARGET, tracing::Level::INFO) {
        return;
    }
    let line = |change_type: &str,
                resource_url: &str,
                resource_type: Option<&str>,
                state: Option<&str>,
                call_id: Option<&str>| {
        notification_line!(
            protocol = Some(delivery.protocol.as_str()),
            tenant = Some(delivery.tenant_id),
            message_id = delivery.message_id,
            change_type = Some(change_type),
            resource_url = Some(resource_url),
            resource_type = resource_type,
            state = state,
            call_id = call_id,
        );
    };
    match delivery.decision {
        // The few facts of each item, read with the decision.
        Decision::Graph(facts) => {
            for item in facts.summaries() {
                line(
                    item.change_type,
                    item.resource_url,
                    item.resource_type,
                    item.state,
                    item.call_id,
                );
            }
        }
        // A legacy body reaches a sink only with `legacy = "accept"`: one conversation, small.
        Decision::Legacy { notification, .. } => {
            let item = SummaryEntry::of_legacy(notification);
            line(
                &item.change_type,
                &item.resource_url,
                item.resource_type.as_deref(),
                item.state.as_deref(),
                item.call_id.as_deref(),
            );
        }
        // An invalid body is never delivered, nor a kind a later `callhook-protocol` adds; said
        // plainly should that change.
        _ => tracing::info!(
            target: "callhook::notification",
            protocol = delivery.protocol.as_str(),
            tenant = delivery.tenant_id,
            message_id = delivery.message_id,
            bytes = delivery.body.len(),
            "notification"
        ),
    }
}

/// One of a sink's in-flight places, held for the length of a delivery.
#[derive(Debug)]
pub struct DeliveryPermit {
    _place: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// POSTs each accepted request body, byte for byte, to the bot behind callhook.
#[derive(Debug, Clone)]
pub struct ForwardSink {
    client: reqwest::Client,
    url: reqwest::Url,
    timeout_ms: u64,
    signer: Option<WebhookSigner>,
    /// `max_in_flight` places: a burst of the platform never opens more connections to the bot.
    places: Arc<tokio::sync::Semaphore>,
    max_in_flight: usize,
    max_wait: Duration,
}

impl ForwardSink {
    fn new(config: &ForwardConfig) -> Result<Self, SinkBuildError> {
        let client = callhook_http::client_builder()
            .map_err(|error| SinkBuildError(error.to_string()))?
            .timeout(Duration::from_millis(config.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            // Every delivery in flight may keep its connection for the next one.
            .pool_max_idle_per_host(config.max_in_flight)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true)
            .build()
            .map_err(|error| SinkBuildError(error.to_string()))?;
        let signer = config
            .signing_secret
            .as_ref()
            .map(|secret| WebhookSigner::from_secret(secret.expose()))
            .transpose()
            .map_err(|error| SinkBuildError(format!("sink.signing_secret: {error}")))?;
        Ok(Self {
            client,
            url: config.url.clone(),
            timeout_ms: config.timeout_ms,
            signer,
            places: Arc::new(tokio::sync::Semaphore::new(config.max_in_flight)),
            max_in_flight: config.max_in_flight,
            max_wait: Duration::from_millis(config.max_wait_ms),
        })
    }

    async fn admit(&self) -> Result<DeliveryPermit, SinkError> {
        let saturated = || SinkError::Saturated {
            max_in_flight: self.max_in_flight,
            waited_ms: u64::try_from(self.max_wait.as_millis()).unwrap_or(u64::MAX),
        };
        match tokio::time::timeout(self.max_wait, Arc::clone(&self.places).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(DeliveryPermit {
                _place: Some(permit),
            }),
            // The semaphore is never closed; a closed one would mean no place ever comes free.
            Ok(Err(_)) | Err(_) => Err(saturated()),
        }
    }

    async fn deliver(&self, delivery: Delivery<'_>) -> Result<(), SinkError> {
        let url = self.url.as_str();
        let mut request = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(forward_headers::TENANT, delivery.tenant_id)
            .header(forward_headers::PROTOCOL, delivery.protocol.as_str());
        if let Some(message_id) = delivery.message_id {
            request = request.header(forward_headers::MESSAGE_ID, message_id);
        }
        if let Some(callback_uri) = delivery.callback_uri {
            request = request.header(forward_headers::CALLBACK_URI, callback_uri);
        }
        if let Some(signer) = &self.signer {
            // The platform's delivery id, when there is one, so a retry keeps its webhook-id and
            // the bot can de-duplicate on it; otherwise a fresh one.
            let id = delivery
                .message_id
                .map_or_else(fresh_webhook_id, str::to_owned);
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |elapsed| elapsed.as_secs());
            let signature = signer.sign(&id, timestamp, &delivery.body);
            request = request
                .header(signature_headers::ID, id)
                .header(signature_headers::TIMESTAMP, timestamp.to_string())
                .header(signature_headers::SIGNATURE, signature);
        }
        let response = request.body(delivery.body).send().await.map_err(|error| {
            if error.is_timeout() {
                SinkError::TimedOut {
                    url: url.to_owned(),
                    timeout_ms: self.timeout_ms,
                }
            } else if error.is_connect() {
                SinkError::Unreachable {
                    url: url.to_owned(),
                }
            } else {
                SinkError::Transport {
                    url: url.to_owned(),
                    reason: error.to_string(),
                }
            }
        })?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SinkError::Status {
                url: url.to_owned(),
                status: status.as_u16(),
            })
        }
    }
}

/// A webhook-id for a delivery the platform gave no id: unique within this process and across
/// restarts (the start time is part of it).
fn fresh_webhook_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};

    static NEXT: AtomicU64 = AtomicU64::new(0);
    static STARTED: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let started = STARTED.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos())
    });
    format!(
        "callhook_{started:x}_{}",
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

//! The app factory and the webhook handler: the contract's table, check by check, in order.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use bytes::{Bytes, BytesMut};
use callhook_auth::{AuthError, Authenticator, VerifiedClaims};
use callhook_protocol::{Action, Negotiation, Protocol, Verdict, negotiate, verdict};
use callhook_routing::{Decision, Partition, PartitionDecision, RegionPolicy, RoutingInput};
use futures_util::StreamExt;
use tokio::sync::{Notify, OnceCell};

use crate::answer::Refusal;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::sink::{Delivery, Sink, SinkBuildError, SinkError};

/// The platform's headers as parsed names, so that a lookup parses no name (the protocol crate's
/// constants are text; a test holds these to them).
const MESSAGE_ID: HeaderName = HeaderName::from_static("x-microsoft-skype-message-id");
const CALLER_REGION: HeaderName = HeaderName::from_static("x-microsoft-skype-caller-region");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// How long a delivered message id is remembered, so that a retry is not delivered twice.
pub const DEDUP_WINDOW: Duration = Duration::from_secs(600);

/// How many delivered message ids are remembered at most.
const DEDUP_CAPACITY: u64 = 1_000_000;

/// Everything a request needs, built once and shared by every worker.
#[derive(Debug)]
pub struct AppState {
    webhook_path: String,
    max_body_bytes: usize,
    legacy_policy: callhook_protocol::LegacyPolicy,
    authenticator: Arc<Authenticator>,
    region_policy: Option<RegionPolicy>,
    partition: Option<Partition>,
    sink: Sink,
    /// Message ids of deliveries that reached the sink. Concurrent requests with the same id wait on
    /// the same delivery; a failed delivery leaves the cell empty so the platform's retry delivers.
    delivered: moka::future::Cache<String, Arc<OnceCell<()>>>,
    metrics: Metrics,
    next_request_id: AtomicU64,
    in_flight: InFlight,
}

/// Counts webhook requests being handled, so that a shutdown can wait for them.
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Decrements the in-flight count when a request's handling ends, however it ends.
struct InFlightGuard<'a>(&'a InFlight);

impl InFlight {
    fn enter(&self) -> InFlightGuard<'_> {
        self.count.fetch_add(1, Ordering::SeqCst);
        InFlightGuard(self)
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// The state could not be built from a configuration that passed validation.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// The routing policy was refused.
    #[error(transparent)]
    Routing(#[from] callhook_routing::PolicyError),
    /// The partition was refused.
    #[error(transparent)]
    Partition(#[from] callhook_routing::PartitionError),
    /// The sink could not be built.
    #[error(transparent)]
    Sink(#[from] SinkBuildError),
}

impl AppState {
    /// Builds the state of `config` around an authenticator (which owns the key source).
    pub fn new(config: &Config, authenticator: Arc<Authenticator>) -> Result<Self, StateError> {
        let region_policy = config
            .routing
            .as_ref()
            .map(RegionPolicy::build)
            .transpose()?;
        let partition = config
            .partition
            .as_ref()
            .map(|partition| Partition::build(partition, &config.server.webhook_path))
            .transpose()?;
        Ok(Self {
            webhook_path: config.server.webhook_path.clone(),
            max_body_bytes: config.server.max_body_bytes,
            legacy_policy: config.protocol.legacy,
            metrics: Metrics::new(Arc::clone(&authenticator)),
            authenticator,
            region_policy,
            partition,
            sink: Sink::from_config(&config.sink)?,
            delivered: moka::future::Cache::builder()
                .max_capacity(DEDUP_CAPACITY)
                .time_to_live(DEDUP_WINDOW)
                .build(),
            next_request_id: AtomicU64::new(1),
            in_flight: InFlight::default(),
        })
    }

    /// The metrics of this state, for embedding apps.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Waits until no webhook request is being handled, for at most `limit`; returns whether that
    /// happened. A graceful shutdown stops accepting first, then waits here.
    pub async fn wait_until_idle(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Register for the notification before reading the count, so that a request ending
            // in between is not missed.
            let idle = self.in_flight.idle.notified();
            if self.in_flight.count.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, idle).await.is_err() {
                return self.in_flight.count.load(Ordering::SeqCst) == 0;
            }
        }
    }

    /// How many webhook requests are being handled now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.count.load(Ordering::SeqCst)
    }

    /// This instance's callbackUri, when a partition is configured.
    pub fn callback_uri(&self) -> Option<&str> {
        self.partition.as_ref().map(Partition::callback_uri)
    }
}

/// Registers callhook's routes on an actix-web app: the webhook, its partition paths and the
/// operations endpoints.
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |service: &mut web::ServiceConfig| {
        let webhook_path = state.webhook_path.clone();
        service
            .app_data(state)
            .service(
                web::resource(webhook_path.clone())
                    .route(web::post().to(webhook))
                    .default_service(web::to(method_not_allowed)),
            )
            .service(
                web::resource(format!("{webhook_path}/{{partition}}"))
                    .route(web::post().to(webhook))
                    .default_service(web::to(method_not_allowed)),
            )
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics));
    }
}

/// Builds the whole app: routes plus the `Client-Request-Id` echo on every answer.
pub fn app(
    state: web::Data<AppState>,
) -> actix_web::App<
    impl actix_web::dev::ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    actix_web::App::new()
        .wrap(from_fn(echo_client_request_id))
        .configure(configure(state))
}

/// Every answer to the platform carries `Client-Request-Id` equal to the request's
/// `X-Microsoft-Skype-Message-ID` when that header is present.
async fn echo_client_request_id(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let message_id = request.headers().get(MESSAGE_ID).cloned();
    let mut response = next.call(request).await?;
    if let Some(message_id) = message_id {
        response.headers_mut().insert(CLIENT_REQUEST_ID, message_id);
    }
    Ok(response)
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .finish()
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok\n")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.authenticator.key_status().ready {
        HttpResponse::Ok()
            .content_type("text/plain")
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((header::RETRY_AFTER, crate::answer::RETRY_AFTER_SECS))
            .content_type("text/plain")
            .body("signing keys not loaded yet\n")
    }
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics.encode() {
        Ok(text) => HttpResponse::Ok()
            .content_type("text/plain; version=0.0.4; charset=utf-8")
            .body(text),
        Err(_) => HttpResponse::InternalServerError().finish(),
    }
}

/// What a webhook request led to, when it was not refused.
#[derive(Debug)]
enum Accepted {
    Delivered,
    Duplicate,
    Redeliver,
    Redirect(String),
}

async fn webhook(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let _in_flight = state.in_flight.enter();
    let started = Instant::now();
    let request_id = state.next_request_id.fetch_add(1, Ordering::Relaxed);
    let message_id = header_str(&request, &MESSAGE_ID);
    let span = tracing::info_span!("request", id = request_id, message_id);
    let result = tracing::Instrument::instrument(
        handle(&request, payload, &state, message_id),
        span.clone(),
    )
    .await;
    let _entered = span.enter();
    let (outcome, response) = match result {
        Ok(Accepted::Delivered) => ("accepted", HttpResponse::Accepted().finish()),
        Ok(Accepted::Duplicate) => ("duplicate", HttpResponse::Accepted().finish()),
        Ok(Accepted::Redeliver) => ("redelivered", HttpResponse::NoContent().finish()),
        Ok(Accepted::Redirect(location)) => (
            "redirected",
            HttpResponse::Found()
                .insert_header((header::LOCATION, location))
                .finish(),
        ),
        Err(refusal) => (refusal.outcome(), refusal.error_response()),
    };
    tracing::debug!(outcome, status = response.status().as_u16(), "answered");
    state
        .metrics
        .record_request(outcome, started.elapsed().as_secs_f64());
    response
}

/// The contract's checks, in the contract's order.
async fn handle(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    message_id: Option<&str>,
) -> Result<Accepted, Refusal> {
    // 1. Size: before anything is parsed or verified.
    let body = read_body(request, payload, state.max_body_bytes).await?;

    // 2. Authentication: before the body is parsed.
    let claims = authenticate(request, state).await?;

    // 3. Protocol negotiation: the decision only; the notifications are built below only when
    //    something needs them (region rules, the log sink's line).
    let verdict = verdict(&body, state.legacy_policy);
    if let Verdict::Invalid(reason) = &verdict {
        tracing::info!(%reason, "body refused");
        return Err(Refusal::BadRequest {
            reason: reason.to_string(),
        });
    }
    if matches!(verdict.action(), Action::Redeliver) {
        tracing::info!("legacy body: asking the platform to re-send it in Graph format");
        return Ok(Accepted::Redeliver);
    }
    let protocol = verdict.protocol().unwrap_or(Protocol::Graph);

    // 4. Partition named in the path.
    if let Some(segment) = request.match_info().get("partition") {
        match &state.partition {
            Some(partition) => match partition.decide_path_segment(segment) {
                PartitionDecision::Own => {}
                PartitionDecision::Misdirected => {
                    return Err(Refusal::Misdirected {
                        partition: sanitized_partition(segment),
                    });
                }
                PartitionDecision::Redirect { location } => {
                    return Ok(Accepted::Redirect(location));
                }
            },
            None => {
                return Err(Refusal::Misdirected {
                    partition: sanitized_partition(segment),
                });
            }
        }
    }

    // 5. Region affinity, for a new incoming call only.
    let mut negotiation = None;
    if let (Some(policy), Protocol::Graph) = (&state.region_policy, protocol) {
        let negotiated = negotiation.insert(negotiate(&body, state.legacy_policy));
        if let Negotiation::Graph(notifications) = negotiated {
            if let Some(location) = region_redirect(policy, request, &claims, notifications) {
                return Ok(Accepted::Redirect(location));
            }
        }
    }

    // 6. De-duplication and delivery.
    let delivery = Delivery {
        body,
        negotiation: negotiation.as_ref(),
        protocol,
        tenant_id: claims.tenant_id(),
        message_id,
        callback_uri: state.callback_uri(),
    };
    deliver_once(state, message_id, delivery).await
}

async fn read_body(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Bytes, Refusal> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(Refusal::TooLarge { limit });
    }
    let mut body = BytesMut::with_capacity(declared.map_or(1024, |length| {
        usize::try_from(length).unwrap_or(limit).min(limit)
    }));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| Refusal::BadRequest {
            reason: format!("the body could not be read: {error}"),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(Refusal::TooLarge { limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

async fn authenticate(request: &HttpRequest, state: &AppState) -> Result<VerifiedClaims, Refusal> {
    let Some(authorization) = request.headers().get(header::AUTHORIZATION) else {
        state.metrics.record_auth_failure("missing_token");
        tracing::info!(reason = "missing_token", "token refused");
        return Err(Refusal::Unauthenticated);
    };
    // `HeaderValue::to_str` tests the value byte by byte, some 6,000 instructions for a platform
    // token on every request (`cargo xtask bench`); `is_ascii` checks a word at a time and
    // refuses the same values, since the HTTP parser lets no control character but tab through.
    let bytes = authorization.as_bytes();
    let Some(authorization) = bytes
        .is_ascii()
        .then(|| std::str::from_utf8(bytes).ok())
        .flatten()
    else {
        state.metrics.record_auth_failure("malformed_header");
        tracing::info!(reason = "malformed_header", "token refused");
        return Err(Refusal::Unauthenticated);
    };
    match state.authenticator.authenticate(authorization).await {
        Ok(claims) => Ok(claims),
        Err(AuthError::KeysUnavailable) => {
            tracing::warn!("no signing key was ever loaded: answering 503");
            Err(Refusal::KeysUnavailable)
        }
        Err(AuthError::Rejected(rejection)) => {
            state.metrics.record_auth_failure(rejection.reason());
            tracing::info!(reason = rejection.reason(), detail = %rejection, "token refused");
            Err(Refusal::Unauthenticated)
        }
    }
}

/// The Location of a redirect for this request, when a routing rule sends its new incoming call to
/// another region. Only configuration goes into the Location; the request decides only which.
fn region_redirect(
    policy: &RegionPolicy,
    request: &HttpRequest,
    claims: &VerifiedClaims,
    notifications: &callhook_model::CommsNotifications,
) -> Option<String> {
    let hop_marked = callhook_routing::is_hop_marked(request.query_string());
    let caller_region_header = header_str(request, &CALLER_REGION);
    for notification in &notifications.value {
        if !notification.is_new_incoming_call() {
            continue;
        }
        let Some(call) = notification.call() else {
            continue;
        };
        let target_ids: Vec<&str> = call.target_application_ids().collect();
        let input = RoutingInput {
            is_new_incoming_call: true,
            tenant_id: Some(claims.tenant_id()),
            caller_region_header,
            source_region: call.source_region(),
            caller_phone_number: call.caller_phone_number(),
            target_ids: &target_ids,
            hop_marked,
        };
        let decision = policy.decide(&input);
        if decision.deployments_disagree() {
            tracing::warn!(
                explanation = %policy.explain(&input),
                "a redirected call would be redirected again: two deployments disagree; \
                 handling it here"
            );
        }
        if let Decision::Redirect(redirect) = decision {
            tracing::info!(
                region = redirect.region,
                "call belongs to another region: 302"
            );
            return Some(redirect.location.to_owned());
        }
    }
    None
}

async fn deliver_once(
    state: &AppState,
    message_id: Option<&str>,
    delivery: Delivery<'_>,
) -> Result<Accepted, Refusal> {
    let Some(message_id) = message_id else {
        deliver(state, delivery).await?;
        return Ok(Accepted::Delivered);
    };
    let cell = state
        .delivered
        .get_with_by_ref(message_id, async { Arc::new(OnceCell::new()) })
        .await;
    if cell.initialized() {
        tracing::info!("already delivered: not delivering again");
        return Ok(Accepted::Duplicate);
    }
    let mut delivered_now = false;
    cell.get_or_try_init(|| async {
        delivered_now = true;
        deliver(state, delivery).await
    })
    .await?;
    if delivered_now {
        Ok(Accepted::Delivered)
    } else {
        tracing::info!("delivered by a concurrent request: not delivering again");
        Ok(Accepted::Duplicate)
    }
}

async fn deliver(state: &AppState, delivery: Delivery<'_>) -> Result<(), Refusal> {
    let started = Instant::now();
    let result = state.sink.deliver(delivery).await;
    let seconds = started.elapsed().as_secs_f64();
    let label = state.sink.label();
    match result {
        Ok(()) => {
            state.metrics.record_delivery(label, "delivered", seconds);
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, "delivery failed: the platform will retry");
            let (result, refusal) = match &error {
                SinkError::Unreachable { .. } => (
                    "unreachable",
                    Refusal::SinkUnavailable {
                        reason: "the bot could not be reached".to_owned(),
                    },
                ),
                SinkError::TimedOut { .. } => (
                    "timed_out",
                    Refusal::SinkFailed {
                        reason: "the bot did not answer in time".to_owned(),
                    },
                ),
                SinkError::Status { status, .. } => (
                    "bad_status",
                    Refusal::SinkFailed {
                        reason: format!("the bot answered {status}"),
                    },
                ),
                SinkError::Transport { .. } => (
                    "transport",
                    Refusal::SinkFailed {
                        reason: "the bot could not be reached".to_owned(),
                    },
                ),
            };
            state.metrics.record_delivery(label, result, seconds);
            Err(refusal)
        }
    }
}

fn header_str<'r>(request: &'r HttpRequest, name: &HeaderName) -> Option<&'r str> {
    request
        .headers()
        .get(name)
        .and_then(|value: &HeaderValue| value.to_str().ok())
}

/// A partition id fit to be written into a problem body: the safe characters only, capped.
fn sanitized_partition(segment: &str) -> String {
    segment
        .chars()
        .filter(|character| character.is_ascii_alphanumeric() || matches!(character, '-' | '_'))
        .take(64)
        .collect()
}

#[cfg(test)]
mod tests {
    use callhook_protocol::headers;

    #[test]
    fn the_parsed_header_names_are_the_platforms() {
        for (parsed, text) in [
            (&super::MESSAGE_ID, headers::MESSAGE_ID),
            (&super::CALLER_REGION, headers::CALLER_REGION),
            (&super::CLIENT_REQUEST_ID, headers::CLIENT_REQUEST_ID),
        ] {
            assert!(
                parsed.as_str().eq_ignore_ascii_case(text),
                "{parsed} {text}"
            );
        }
    }
}

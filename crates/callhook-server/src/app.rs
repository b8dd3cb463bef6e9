//! The app factory and the webhook handler: the contract's table, check by check, in order.

use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpRequest, HttpResponse, ResponseError, guard, web};
use arc_swap::ArcSwap;
use bytes::{Bytes, BytesMut};
use callhook_auth::{AuthError, Authenticator, VerifiedClaims};
use callhook_protocol::{
    Action, Decision as BodyDecision, Protocol, decide, decide_summaries, decide_without_facts,
};
use callhook_routing::{Decision, Partition, PartitionDecision, RegionPolicy, RoutingInput};
use futures_util::StreamExt;
use tokio::sync::Notify;

use crate::answer::Refusal;
use crate::config::Config;
use crate::config::DedupStoreKind;
use crate::connection::RequestPhase;
use crate::dedup::{DedupStore, Once};
use crate::metrics::Metrics;
use crate::shared_dedup::SharedDedup;
use crate::sink::{Delivery, DeliveryPermit, Sink, SinkBuildError, SinkError};

/// The platform's headers as parsed names, so that a lookup parses no name (the protocol crate's
/// constants are text; a test holds these to them).
const MESSAGE_ID: HeaderName = HeaderName::from_static("x-microsoft-skype-message-id");
const CALLER_REGION: HeaderName = HeaderName::from_static("x-microsoft-skype-caller-region");
const CLIENT_REQUEST_ID: HeaderName = HeaderName::from_static("client-request-id");

/// The most body bytes reserved before they arrive: a client that announces a large body and
/// trickles it holds only what it sent.
const BODY_RESERVE_LIMIT: usize = 16 * 1024;

/// Everything a request needs, built once and shared by every worker.
#[derive(Debug)]
pub struct AppState {
    webhook_path: String,
    /// What a SIGHUP can change, swapped whole; a request uses the settings it started with.
    live: ArcSwap<Live>,
    /// The authenticator built at start: it owns the key source, which a reload keeps.
    keys: Arc<Authenticator>,
    /// Message ids of deliveries that reached the sink. Concurrent requests with the same id wait on
    /// the same delivery; a failed delivery is forgotten so that the platform's retry delivers.
    dedup: Arc<DedupStore>,
    /// The store shared with other instances, when `[dedup] store = "redis"`.
    shared_dedup: Option<Arc<SharedDedup>>,
    metrics: Metrics,
    next_request_id: AtomicU64,
    in_flight: InFlight,
    /// Background tasks that must live as long as the process (`/healthz` fails when one ended).
    tasks: Mutex<Vec<(&'static str, tokio::task::AbortHandle)>>,
}

/// The settings a configuration reload replaces.
#[derive(Debug)]
struct Live {
    /// A checked configuration, with the routing policy and the partition it built.
    config: Config,
    authenticator: Arc<Authenticator>,
    sink: Sink,
}

impl Live {
    fn build(config: Config, authenticator: Arc<Authenticator>) -> Result<Self, StateError> {
        if !config.is_checked() {
            return Err(StateError::Unchecked);
        }
        Ok(Self {
            sink: Sink::from_config(&config.sink)?,
            authenticator,
            config,
        })
    }

    fn region_policy(&self) -> Option<&RegionPolicy> {
        self.config.region_policy()
    }

    /// The decision about `body`, reading what this configuration needs of it: every fact for
    /// region rules, each notification's facts for a sink that logs them, else only the decision.
    /// Each reading costs less than the one before (a third less from the first to the last).
    fn decide<'b>(&self, body: &'b [u8]) -> BodyDecision<'b> {
        let legacy = self.config.protocol.legacy;
        if self.region_policy().is_some() {
            decide(body, legacy)
        } else if self.sink.reads_facts() {
            decide_summaries(body, legacy)
        } else {
            decide_without_facts(body, legacy)
        }
    }

    fn partition(&self) -> Option<&Partition> {
        self.config.partition_identity()
    }

    /// This instance's callbackUri, when a partition is configured.
    fn callback_uri(&self) -> Option<&str> {
        self.partition().map(Partition::callback_uri)
    }
}

/// What a configuration reload did.
#[derive(Debug, Default)]
pub struct ReloadReport {
    /// Keys whose new values take effect only at the next start (the socket, the connections,
    /// the de-duplication store, the key source).
    pub needs_restart: Vec<&'static str>,
}

/// Counts webhook requests being handled, so that a shutdown can wait for them.
#[derive(Debug, Default)]
struct InFlight {
    count: AtomicUsize,
    idle: Notify,
    /// Set once a graceful stop began: answers then close their connections.
    draining: AtomicBool,
    /// The same, for the connections: an idle one ends at once.
    drain: tokio::sync::watch::Sender<bool>,
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
    /// The configuration was not made by [`Config::load`] or [`Config::from_toml_str`], which
    /// check it and build its routing policy and partition.
    #[error(
        "the configuration was not checked: make it with Config::load or Config::from_toml_str"
    )]
    Unchecked,
    /// The sink could not be built.
    #[error(transparent)]
    Sink(#[from] SinkBuildError),
    /// The de-duplication store could not be built.
    #[error("server.dedup_*: {0}")]
    Dedup(#[from] crate::dedup::DedupError),
    /// The verification settings of `[auth]` were refused.
    #[error(transparent)]
    Auth(#[from] crate::config::AuthSectionError),
    /// The shared de-duplication store could not be set up.
    #[error(transparent)]
    SharedDedup(#[from] crate::shared_dedup::SharedDedupSetupError),
}

impl AppState {
    /// Builds the state of `config` around an authenticator (which owns the key source).
    pub fn new(config: &Config, authenticator: Arc<Authenticator>) -> Result<Self, StateError> {
        let dedup = Arc::new(DedupStore::new(
            config.server.dedup_capacity,
            Duration::from_secs(config.server.dedup_window_secs),
        )?);
        let shared_dedup = match config.dedup.store {
            DedupStoreKind::Memory => None,
            DedupStoreKind::Redis => Some(Arc::new(SharedDedup::new(
                &config.dedup,
                Duration::from_secs(config.server.dedup_window_secs),
            )?)),
        };
        Ok(Self {
            webhook_path: config.server.webhook_path.clone(),
            live: ArcSwap::from_pointee(Live::build(config.clone(), Arc::clone(&authenticator))?),
            metrics: Metrics::new(
                Arc::clone(&authenticator),
                Arc::clone(&dedup),
                shared_dedup.clone(),
            ),
            keys: authenticator,
            dedup,
            shared_dedup,
            next_request_id: AtomicU64::new(1),
            in_flight: InFlight::default(),
            tasks: Mutex::new(Vec::new()),
        })
    }

    /// Replaces the reloadable settings with those of `config` (already validated, as
    /// [`Config::load`] does). Requests being handled finish with the settings they started with.
    ///
    /// # Errors
    ///
    /// [`StateError`] when a part cannot be built; the running settings then stay.
    pub fn reload(&self, config: Config) -> Result<ReloadReport, StateError> {
        let current = self.live.load();
        let report = ReloadReport {
            needs_restart: restart_only_changes(&current.config, &config),
        };
        let authenticator = if auth_verification_changed(&current.config, &config) {
            Arc::new(
                self.keys
                    .reconfigured(config.auth.builder())
                    .map_err(crate::config::AuthSectionError)?,
            )
        } else {
            Arc::clone(&current.authenticator)
        };
        let live = Live::build(config, authenticator)?;
        self.live.store(Arc::new(live));
        Ok(report)
    }

    /// The metrics of this state, for embedding apps.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Makes `/healthz` fail once `task` has ended: for a task that must live as long as the
    /// process, so that a supervisor restarts a process that lost it.
    pub fn watch_task(&self, name: &'static str, task: tokio::task::AbortHandle) {
        let mut tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.push((name, task));
    }

    /// The background tasks that should run and do not: the watched tasks that ended, and the
    /// key refresh.
    pub fn dead_tasks(&self) -> Vec<&'static str> {
        let tasks = self
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut dead: Vec<&'static str> = tasks
            .iter()
            .filter(|(_, task)| task.is_finished())
            .map(|(name, _)| *name)
            .collect();
        if !self.keys.is_refresh_alive() {
            dead.push("key refresh");
        }
        dead
    }

    /// Begins a graceful stop: from now on every answer closes its connection
    /// (`Connection: close`) and idle connections end, so that a proxy's kept-alive connections
    /// end after their current request instead of bringing new ones.
    pub fn begin_draining(&self) {
        self.in_flight.draining.store(true, Ordering::SeqCst);
        self.in_flight.drain.send_replace(true);
    }

    /// Turns true when a graceful stop begins (for the connections' streams).
    pub fn draining(&self) -> tokio::sync::watch::Receiver<bool> {
        self.in_flight.drain.subscribe()
    }

    /// Whether a graceful stop began.
    pub fn is_draining(&self) -> bool {
        self.in_flight.draining.load(Ordering::SeqCst)
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
    pub fn callback_uri(&self) -> Option<String> {
        self.live.load().callback_uri().map(str::to_owned)
    }
}

/// The keys that changed between `old` and `new` but are read only at start.
fn restart_only_changes(old: &Config, new: &Config) -> Vec<&'static str> {
    let (server, new_server) = (&old.server, &new.server);
    let (auth, new_auth) = (&old.auth, &new.auth);
    [
        ("server.listen", server.listen != new_server.listen),
        (
            "server.webhook_path",
            server.webhook_path != new_server.webhook_path,
        ),
        ("server.workers", server.workers != new_server.workers),
        (
            "server.shutdown_timeout_secs",
            server.shutdown_timeout_secs != new_server.shutdown_timeout_secs,
        ),
        (
            "server.header_timeout_ms",
            server.header_timeout_ms != new_server.header_timeout_ms,
        ),
        (
            "server.max_connections",
            server.max_connections != new_server.max_connections,
        ),
        ("server.backlog", server.backlog != new_server.backlog),
        (
            "server.dedup_capacity",
            server.dedup_capacity != new_server.dedup_capacity,
        ),
        (
            "server.dedup_window_secs",
            server.dedup_window_secs != new_server.dedup_window_secs,
        ),
        ("dedup", old.dedup != new.dedup),
        (
            "auth.openid_configuration",
            auth.openid_configuration != new_auth.openid_configuration,
        ),
        (
            "auth.refresh_interval_secs",
            auth.refresh_interval_secs != new_auth.refresh_interval_secs,
        ),
        (
            "auth.refresh_cooldown_secs",
            auth.refresh_cooldown_secs != new_auth.refresh_cooldown_secs,
        ),
        (
            "auth.fetch_timeout_ms",
            auth.fetch_timeout_ms != new_auth.fetch_timeout_ms,
        ),
        (
            "auth.retry_initial_ms",
            auth.retry_initial_ms != new_auth.retry_initial_ms,
        ),
        (
            "auth.retry_max_ms",
            auth.retry_max_ms != new_auth.retry_max_ms,
        ),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

/// Whether a setting the verifier reads changed (the key source's are restart-only).
fn auth_verification_changed(old: &Config, new: &Config) -> bool {
    let (old, new) = (&old.auth, &new.auth);
    old.app_id != new.app_id
        || old.issuers != new.issuers
        || old.tenants != new.tenants
        || old.leeway_secs != new.leeway_secs
        || old.cache_capacity != new.cache_capacity
}

/// Registers callhook's routes on an actix-web app: the webhook, its partition paths and the
/// operations endpoints (`GET` and `HEAD`, as load balancers probe with either).
pub fn configure(state: web::Data<AppState>) -> impl FnOnce(&mut web::ServiceConfig) {
    move |service: &mut web::ServiceConfig| {
        let webhook_path = state.webhook_path.clone();
        let get_or_head = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
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
            .route("/healthz", get_or_head().to(healthz))
            .route("/readyz", get_or_head().to(readyz))
            .route("/metrics", get_or_head().to(metrics));
    }
}

/// Builds the whole app: routes plus the connection rules and the `Client-Request-Id` echo on
/// every answer.
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
        .wrap(from_fn(connection_rules))
        .configure(configure(state))
}

/// The outermost layer of every request:
/// - it tells the connection's stream where the request begins and ends, for the header deadline
///   of the next one (see [`crate::connection`]);
/// - it refuses a request framed by both `Content-Length` and `Transfer-Encoding` (RFC 9112
///   §6.3: behind a proxy that frames by the length, the rest of the body would be read as another
///   request) with `400` and closes the connection;
/// - it echoes the request's `X-Microsoft-Skype-Message-ID` as `Client-Request-Id` on every answer.
async fn connection_rules(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let phase = request.conn_data::<Rc<RequestPhase>>().cloned();
    if let Some(phase) = &phase {
        if phase.is_refusing() {
            // Read behind an ambiguously framed request: it may be part of that request's body.
            // It is never answered; the connection ends once the refusal is written.
            return std::future::pending().await;
        }
        phase.request_started();
    }
    let message_id = request.headers().get(MESSAGE_ID).cloned();
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let headers = request.headers();
    let mut response = if headers.contains_key(header::TRANSFER_ENCODING)
        && headers.contains_key(header::CONTENT_LENGTH)
    {
        tracing::info!("request framed by both Content-Length and Transfer-Encoding: refused");
        if let Some(phase) = &phase {
            phase.refuse_the_rest();
        }
        let refusal = Refusal::AmbiguousFraming;
        request
            .into_response(refusal.error_response())
            .map_into_right_body()
    } else {
        next.call(request).await?.map_into_left_body()
    };
    if let Some(message_id) = message_id {
        response.headers_mut().insert(CLIENT_REQUEST_ID, message_id);
    }
    // Read after the handler: a request that began before the drain is answered during it.
    if state.is_some_and(|state| state.is_draining()) {
        response
            .response_mut()
            .head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
    }
    if let Some(phase) = phase {
        phase.request_answered();
    }
    Ok(response)
}

async fn method_not_allowed() -> HttpResponse {
    // Every answer carries a body: actix-http closes a connection after an answer without one
    // when a pipelined request's body is partly read (see docs/security.md).
    HttpResponse::MethodNotAllowed()
        .insert_header((header::ALLOW, "POST"))
        .content_type("text/plain")
        .body("method not allowed: POST only\n")
}

async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    let dead = state.dead_tasks();
    if dead.is_empty() {
        HttpResponse::Ok().content_type("text/plain").body("ok\n")
    } else {
        tracing::error!(tasks = ?dead, "a background task is not running: /healthz fails");
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain")
            .body(format!(
                "background task not running: {}\n",
                dead.join(", ")
            ))
    }
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    if state.keys.key_status().ready {
        let body = match &state.shared_dedup {
            // Ready either way: an unreachable store changes what deliveries do, as configured,
            // and every instance shares it, so taking this one out of rotation would help nobody.
            Some(shared) => format!("ready\n{}\n", shared.status_line()),
            None => "ready\n".to_owned(),
        };
        HttpResponse::Ok().content_type("text/plain").body(body)
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
    // The span is at debug level, because entering it at `info` is a measurable share of a
    // request (docs/performance.md); the lines a request writes at `info` and above name its
    // message id themselves.
    let span = tracing::debug_span!("request", id = request_id, message_id);
    let live = state.live.load_full();
    let result = tracing::Instrument::instrument(
        handle(&request, payload, &state, &live, message_id),
        span.clone(),
    )
    .await;
    let _entered = span.enter();
    // Answers carry a short body: actix-http closes a connection after an answer without one when
    // a pipelined request's body is partly read, dropping the requests behind it.
    let (outcome, response) = match result {
        Ok(Accepted::Delivered) => (
            "accepted",
            HttpResponse::Accepted()
                .content_type("text/plain")
                .body("accepted\n"),
        ),
        Ok(Accepted::Duplicate) => (
            "duplicate",
            HttpResponse::Accepted()
                .content_type("text/plain")
                .body("accepted\n"),
        ),
        // A 204 can carry no body, so the connection is closed cleanly after it instead; the
        // platform re-sends in Graph format on a new one.
        Ok(Accepted::Redeliver) => (
            "redelivered",
            HttpResponse::NoContent().force_close().finish(),
        ),
        Ok(Accepted::Redirect(location)) => (
            "redirected",
            HttpResponse::Found()
                .insert_header((header::LOCATION, location))
                .content_type("text/plain")
                .body("handled by another deployment\n"),
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
    live: &Live,
    message_id: Option<&str>,
) -> Result<Accepted, Refusal> {
    // 1. Size: before anything is parsed or verified; the whole body within its deadline.
    let body = match tokio::time::timeout(
        Duration::from_millis(live.config.server.body_timeout_ms),
        read_body(request, payload, live.config.server.max_body_bytes),
    )
    .await
    {
        Ok(body) => body?,
        Err(_) => {
            tracing::info!(
                message_id,
                timeout_ms = live.config.server.body_timeout_ms,
                "the body did not arrive in time: 408"
            );
            return Err(Refusal::BodyTimeout {
                timeout_ms: live.config.server.body_timeout_ms,
            });
        }
    };

    // 2. Authentication: before the body is parsed.
    let claims = authenticate(request, state, live, message_id).await?;

    // 3. Protocol negotiation, once: the decision and, for a Graph body, the facts that routing
    //    and the log line read (the notifications themselves are never built here); only what
    //    this configuration reads is read.
    let decision = live.decide(&body);
    let protocol = match &decision {
        BodyDecision::Invalid(reason) => {
            tracing::info!(message_id, %reason, "body refused");
            return Err(Refusal::BadRequest {
                reason: reason.to_string(),
            });
        }
        BodyDecision::Legacy {
            action: Action::Redeliver,
            ..
        } => {
            tracing::info!(
                message_id,
                "legacy body: asking the platform to re-send it in Graph format"
            );
            return Ok(Accepted::Redeliver);
        }
        BodyDecision::Legacy { .. } => Protocol::Legacy,
        BodyDecision::Graph(_) => Protocol::Graph,
        // A kind of body a later `callhook-protocol` knows and this server does not.
        _ => {
            tracing::warn!(
                message_id,
                "body of a kind this server does not handle: 400"
            );
            return Err(Refusal::BadRequest {
                reason: "the body is of a kind this server does not handle".to_owned(),
            });
        }
    };

    // 4. Partition named in the path.
    if let Some(segment) = request.match_info().get("partition") {
        match live.partition() {
            Some(partition) => match partition.decide_path_segment(segment) {
                PartitionDecision::Own => {}
                PartitionDecision::Redirect { location } => {
                    return Ok(Accepted::Redirect(location));
                }
                // `Misdirected`, or a decision a later `callhook-routing` adds: not ours.
                _ => {
                    return Err(Refusal::Misdirected {
                        partition: sanitized_partition(segment),
                    });
                }
            },
            None => {
                return Err(Refusal::Misdirected {
                    partition: sanitized_partition(segment),
                });
            }
        }
    }

    // 5. Region affinity, for a new incoming call only, from the facts of the decision.
    if let (Some(policy), BodyDecision::Graph(facts)) = (live.region_policy(), &decision)
        && let Some(location) = region_redirect(policy, request, &claims, facts)
    {
        return Ok(Accepted::Redirect(location));
    }

    // 6. De-duplication and delivery.
    let delivery = Delivery {
        body: body.clone(),
        protocol,
        decision: &decision,
        tenant_id: claims.tenant_id(),
        message_id,
        callback_uri: live.callback_uri(),
    };
    deliver_once(state, live, message_id, delivery).await
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
    let reserve = declared.map_or(1024, |length| {
        usize::try_from(length)
            .unwrap_or(limit)
            .min(limit)
            .min(BODY_RESERVE_LIMIT)
    });
    // A body that arrives in one chunk (the usual notification, read with its head) is that
    // chunk, not a copy; a second chunk starts a buffer.
    let mut whole = Bytes::new();
    let mut gathered: Option<BytesMut> = None;
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| Refusal::BadRequest {
            reason: format!("the body could not be read: {error}"),
        })?;
        let received = gathered.as_ref().map_or(whole.len(), BytesMut::len);
        if received + chunk.len() > limit {
            return Err(Refusal::TooLarge { limit });
        }
        match &mut gathered {
            Some(buffer) => buffer.extend_from_slice(&chunk),
            None if whole.is_empty() => whole = chunk,
            None => {
                let mut buffer = BytesMut::with_capacity(reserve.max(received + chunk.len()));
                buffer.extend_from_slice(&whole);
                buffer.extend_from_slice(&chunk);
                whole = Bytes::new();
                gathered = Some(buffer);
            }
        }
    }
    Ok(gathered.map_or(whole, BytesMut::freeze))
}

async fn authenticate(
    request: &HttpRequest,
    state: &AppState,
    live: &Live,
    message_id: Option<&str>,
) -> Result<VerifiedClaims, Refusal> {
    // The raw value: `callhook-auth` refuses a missing one (`missing_token`) and a value that is
    // not ASCII (`malformed_authorization`), checked a word at a time.
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    match live.authenticator.authenticate_header(authorization).await {
        Ok(claims) => Ok(claims),
        Err(AuthError::KeysUnavailable) => {
            tracing::warn!(message_id, "no signing key was ever loaded: answering 503");
            Err(Refusal::KeysUnavailable)
        }
        Err(AuthError::Rejected(rejection)) => {
            state.metrics.record_auth_failure(rejection.reason());
            tracing::info!(
                message_id,
                reason = rejection.reason(),
                detail = %rejection,
                "token refused"
            );
            Err(Refusal::Unauthenticated)
        }
        // A refusal a later `callhook-auth` names: refused all the same.
        Err(other) => {
            state.metrics.record_auth_failure("other");
            tracing::info!(message_id, reason = %other, "token refused");
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
    facts: &callhook_model::Facts<'_>,
) -> Option<String> {
    let hop_marked = callhook_routing::is_hop_marked(request.query_string());
    let caller_region_header = header_str(request, &CALLER_REGION);
    for call in facts.new_incoming_calls() {
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
                message_id = header_str(request, &MESSAGE_ID),
                explanation = %policy.explain(&input),
                "a redirected call would be redirected again: two deployments disagree; \
                 handling it here"
            );
        }
        if let Decision::Redirect(redirect) = decision {
            tracing::info!(
                message_id = header_str(request, &MESSAGE_ID),
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
    live: &Live,
    message_id: Option<&str>,
    delivery: Delivery<'_>,
) -> Result<Accepted, Refusal> {
    let Some(message_id) = message_id else {
        let permit = admit(state, live, None).await?;
        deliver(state, live, delivery, permit).await?;
        return Ok(Accepted::Delivered);
    };
    let once = match &state.shared_dedup {
        Some(shared) => {
            shared
                .deliver_once(
                    message_id,
                    || admit(state, live, Some(message_id)),
                    |permit| deliver(state, live, delivery, permit),
                )
                .await?
        }
        None => {
            state
                .dedup
                .deliver_once(
                    message_id,
                    || admit(state, live, Some(message_id)),
                    |permit| deliver(state, live, delivery, permit),
                )
                .await?
        }
    };
    match once {
        Once::Delivered => Ok(Accepted::Delivered),
        Once::Duplicate => {
            tracing::info!(message_id, "already delivered: not delivering again");
            Ok(Accepted::Duplicate)
        }
    }
}

/// One of the sink's in-flight places, or `503` with `Retry-After` after the bounded wait.
async fn admit(
    state: &AppState,
    live: &Live,
    message_id: Option<&str>,
) -> Result<DeliveryPermit, Refusal> {
    live.sink.admit().await.map_err(|error| {
        state.metrics.record_shed(live.sink.label());
        tracing::warn!(message_id, %error, "the bot is saturated: asking the platform to retry");
        Refusal::SinkBusy {
            reason: error.to_string(),
        }
    })
}

async fn deliver(
    state: &AppState,
    live: &Live,
    delivery: Delivery<'_>,
    permit: DeliveryPermit,
) -> Result<(), Refusal> {
    let started = Instant::now();
    let message_id = delivery.message_id;
    let _in_flight = state.metrics.delivery_started();
    let result = live.sink.deliver(delivery, permit).await;
    let seconds = started.elapsed().as_secs_f64();
    let label = live.sink.label();
    match result {
        Ok(()) => {
            state.metrics.record_delivery(label, "delivered", seconds);
            Ok(())
        }
        Err(error) => {
            tracing::warn!(message_id, %error, "delivery failed: the platform will retry");
            let (result, refusal) = match &error {
                SinkError::Unreachable { .. } => (
                    "unreachable",
                    Refusal::SinkUnavailable {
                        reason: "the bot could not be reached".to_owned(),
                    },
                ),
                SinkError::Saturated { .. } => (
                    "saturated",
                    Refusal::SinkBusy {
                        reason: error.to_string(),
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

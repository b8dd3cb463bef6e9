//! A local Microsoft Graph on loopback: the identity platform's token endpoint and the call actions
//! a bot sends in a call's life, recorded so that the simulator can check what the bot did.
//!
//! Point a bot's authority and Graph root at its URL (`callhook_graph::Cloud::custom(url, url)`).
//! It issues tokens to any client that asks with a client id and a secret or an assertion, refuses
//! Graph requests without one of its tokens (401, like Graph), and answers each action as Graph
//! does: `202` for answer, reject, redirect and transfer, `200` for keepAlive, `200` with a running
//! operation for playPrompt, recordResponse and subscribeToTone, `204` for the hang-up.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde_json::{Value, json};

/// The actions that answer `202 Accepted` with no body.
const ACCEPTED_ACTIONS: [&str; 4] = ["answer", "reject", "redirect", "transfer"];
/// The actions that answer `200 OK` with a running operation, and the operation's type.
const OPERATION_ACTIONS: [(&str, &str); 3] = [
    ("playPrompt", "#microsoft.graph.playPromptOperation"),
    ("recordResponse", "#microsoft.graph.recordOperation"),
    (
        "subscribeToTone",
        "#microsoft.graph.subscribeToToneOperation",
    ),
];
/// The name under which a `DELETE` of the call is recorded.
pub const HANG_UP: &str = "hangUp";

/// One call action the local Graph received.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphRequest {
    /// The action: `answer`, `playPrompt`, ..., or [`HANG_UP`].
    pub action: String,
    /// The call id of the path.
    pub call_id: String,
    /// The JSON body (`null` when there was none or it was not JSON).
    pub body: Value,
    /// The request's `client-request-id`.
    pub client_request_id: Option<String>,
    /// When it arrived.
    pub received: Instant,
}

impl GraphRequest {
    /// The `callbackUri` of the body, when it names one.
    pub fn callback_uri(&self) -> Option<&str> {
        self.body.get("callbackUri").and_then(Value::as_str)
    }
}

/// What the local Graph received, shared with whoever checks it.
#[derive(Debug, Clone, Default)]
pub struct GraphRecorder {
    inner: Arc<Recorded>,
}

#[derive(Debug, Default)]
struct Recorded {
    requests: Mutex<Vec<GraphRequest>>,
    tokens: Mutex<HashSet<String>>,
    token_requests: AtomicU64,
    arrived: tokio::sync::Notify,
}

impl GraphRecorder {
    /// Every call action received so far, in order.
    pub fn requests(&self) -> Vec<GraphRequest> {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// How many tokens were issued.
    pub fn tokens_issued(&self) -> u64 {
        self.inner.token_requests.load(Ordering::Relaxed)
    }

    /// The first `action` on `call_id` received at or after `since`, waiting for it until
    /// `deadline`; `None` when none came in time.
    pub async fn wait_for(
        &self,
        call_id: &str,
        action: &str,
        since: Instant,
        deadline: Instant,
    ) -> Option<GraphRequest> {
        let find = || {
            self.inner
                .requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .find(|request| {
                    request.received >= since
                        && request.call_id == call_id
                        && request.action == action
                })
                .cloned()
        };
        loop {
            let arrived = self.inner.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(found) = find() {
                return Some(found);
            }
            if tokio::time::timeout_at(deadline.into(), arrived)
                .await
                .is_err()
            {
                return find();
            }
        }
    }

    fn record(&self, request: GraphRequest) {
        self.inner
            .requests
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(request);
        self.inner.arrived.notify_waiters();
    }

    fn issue_token(&self) -> String {
        let serial = self.inner.token_requests.fetch_add(1, Ordering::Relaxed) + 1;
        let token = format!("local-graph-token-{serial}-{}", uuid::Uuid::new_v4());
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token.clone());
        token
    }

    fn knows_token(&self, token: &str) -> bool {
        self.inner
            .tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(token)
    }
}

/// A local Graph started on a socket.
#[allow(
    missing_debug_implementations,
    reason = "actix's Server has no Debug; nothing here is worth printing but the URL"
)]
pub struct RunningGraph {
    /// The server; await it to run it (or spawn it), stop it through its handle.
    pub server: Server,
    /// The base URL: both the authority and the Graph root of `callhook_graph::Cloud::custom`.
    pub url: String,
    /// What it receives.
    pub recorder: GraphRecorder,
}

/// Starts the local Graph on `listener` (one worker). Must be called inside an actix system.
pub fn start(listener: TcpListener) -> std::io::Result<RunningGraph> {
    let url = format!("http://{}", listener.local_addr()?);
    let recorder = GraphRecorder::default();
    let shared = recorder.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(shared.clone()))
            .route("/{tenant}/oauth2/v2.0/token", web::post().to(token))
            .route(
                "/v1.0/communications/calls/{call_id}/{action}",
                web::post().to(action),
            )
            .route(
                "/v1.0/communications/calls/{call_id}",
                web::delete().to(hang_up),
            )
            .default_service(web::to(|| async {
                graph_error(
                    StatusCode::NOT_FOUND,
                    "UnknownAction",
                    "no such local Graph path",
                )
            }))
    })
    .workers(1)
    .shutdown_timeout(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(RunningGraph {
        server,
        url,
        recorder,
    })
}

async fn token(recorder: web::Data<GraphRecorder>, body: web::Bytes) -> HttpResponse {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let field = |name: &str| {
        form.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .filter(|value| !value.is_empty())
    };
    let has_credential = field("client_secret").is_some()
        || (field("client_assertion").is_some() && field("client_assertion_type").is_some());
    if field("grant_type") != Some("client_credentials")
        || field("client_id").is_none()
        || field("scope").is_none()
        || !has_credential
    {
        return HttpResponse::BadRequest().json(json!({
            "error": "invalid_request",
            "error_description": "the local Graph expects grant_type=client_credentials, client_id, scope \
                                  and a client_secret or client_assertion",
        }));
    }
    HttpResponse::Ok().json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": recorder.issue_token(),
    }))
}

async fn action(
    recorder: web::Data<GraphRecorder>,
    path: web::Path<(String, String)>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (call_id, action) = path.into_inner();
    if let Some(refused) = refuse_unauthorized(&recorder, &request) {
        return refused;
    }
    let operation = OPERATION_ACTIONS
        .iter()
        .find(|(name, _)| *name == action)
        .map(|(_, odata_type)| *odata_type);
    if !ACCEPTED_ACTIONS.contains(&action.as_str()) && action != "keepAlive" && operation.is_none()
    {
        return graph_error(
            StatusCode::NOT_FOUND,
            "UnknownAction",
            "the local Graph does not know this call action",
        );
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let client_context = body.get("clientContext").cloned();
    recorder.record(GraphRequest {
        action: action.clone(),
        call_id,
        body,
        client_request_id: client_request_id(&request),
        received: Instant::now(),
    });
    let mut answer = match operation {
        Some(_) => HttpResponse::Ok(),
        None if action == "keepAlive" => HttpResponse::Ok(),
        None => HttpResponse::Accepted(),
    };
    with_ids(&mut answer, &request);
    match operation {
        Some(odata_type) => answer.json(json!({
            "@odata.type": odata_type,
            "id": uuid::Uuid::new_v4().to_string(),
            "status": "running",
            "clientContext": client_context,
        })),
        None => answer.finish(),
    }
}

async fn hang_up(
    recorder: web::Data<GraphRecorder>,
    path: web::Path<String>,
    request: HttpRequest,
) -> HttpResponse {
    if let Some(refused) = refuse_unauthorized(&recorder, &request) {
        return refused;
    }
    recorder.record(GraphRequest {
        action: HANG_UP.to_owned(),
        call_id: path.into_inner(),
        body: Value::Null,
        client_request_id: client_request_id(&request),
        received: Instant::now(),
    });
    let mut answer = HttpResponse::NoContent();
    with_ids(&mut answer, &request);
    answer.finish()
}

fn refuse_unauthorized(recorder: &GraphRecorder, request: &HttpRequest) -> Option<HttpResponse> {
    let token = request
        .headers()
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match token {
        Some(token) if recorder.knows_token(token) => None,
        _ => Some(graph_error(
            StatusCode::UNAUTHORIZED,
            "InvalidAuthenticationToken",
            "Access token is empty or was not issued by the local Graph.",
        )),
    }
}

fn client_request_id(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get("client-request-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
}

/// Graph's ids: a fresh `request-id`, and the `client-request-id` echoed.
fn with_ids(answer: &mut actix_web::HttpResponseBuilder, request: &HttpRequest) {
    answer.insert_header(("request-id", uuid::Uuid::new_v4().to_string()));
    if let Some(id) = client_request_id(request) {
        answer.insert_header(("client-request-id", id));
    }
}

fn graph_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    HttpResponse::build(status)
        .insert_header(("request-id", request_id.clone()))
        .json(json!({"error": {"code": code, "message": message,
            "innerError": {"request-id": request_id, "date": httpdate::fmt_http_date(std::time::SystemTime::now())}}}))
}

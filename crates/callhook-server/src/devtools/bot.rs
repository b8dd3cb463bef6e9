//! The demo's bot: behind `callhook serve`'s forward sink, it answers each incoming call through
//! Graph, naming the `callbackUri` that callhook forwards with it (`X-Callhook-Callback-Uri`, the
//! partition of the instance that took the call).
//!
//! `callhook bot` runs it on its own, behind any `callhook serve`: with `--record FILE` it also
//! appends the message id of every delivery it takes to FILE before answering, so that a test can
//! count what reached the bot (`cargo xtask e2e-cluster` does).

use std::fs::File;
use std::io::Write as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use actix_web::dev::Server;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use callhook_graph::{GraphClient, IncomingCall};
use callhook_model::CommsNotifications;

use crate::sink::forward_headers;

/// The path the bot receives forwards on.
pub const NOTIFICATIONS_PATH: &str = "/notifications";

/// The demo's bot started on a socket.
#[allow(
    missing_debug_implementations,
    reason = "actix's Server has no Debug; nothing here is worth printing but the URL"
)]
pub struct RunningBot {
    /// The server; spawn it, stop it through its handle.
    pub server: Server,
    /// Where callhook's forward sink should point.
    pub url: String,
}

/// Where the bot writes one line per delivery it takes: the delivery's message id
/// (`X-Callhook-Message-Id`, or `-` without one), written and flushed before the bot answers.
#[derive(Debug, Clone)]
pub struct DeliveryLog(Arc<Mutex<File>>);

impl DeliveryLog {
    /// Appends to `file`.
    pub fn new(file: File) -> Self {
        Self(Arc::new(Mutex::new(file)))
    }

    fn record(&self, message_id: Option<&str>) -> std::io::Result<()> {
        // A poisoned lock only means another write panicked; the file is still usable.
        let mut file = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One write per line, so that lines never interleave.
        file.write_all(format!("{}\n", message_id.unwrap_or("-")).as_bytes())?;
        file.flush()
    }
}

/// Starts the bot on `listener` (one worker), answering through `graph`, and recording each
/// delivery in `log` when given. Must be called inside an actix system.
pub fn start(
    listener: TcpListener,
    graph: GraphClient,
    log: Option<DeliveryLog>,
) -> std::io::Result<RunningBot> {
    let url = format!("http://{}{NOTIFICATIONS_PATH}", listener.local_addr()?);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(graph.clone()))
            .app_data(web::Data::new(log.clone()))
            .route(NOTIFICATIONS_PATH, web::post().to(notification))
    })
    .workers(1)
    .shutdown_timeout(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(RunningBot { server, url })
}

async fn notification(
    graph: web::Data<GraphClient>,
    log: web::Data<Option<DeliveryLog>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let arrived = Instant::now();
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    if let Some(log) = log.get_ref()
        && let Err(error) = log.record(header(forward_headers::MESSAGE_ID).as_deref())
    {
        // Not taken: callhook answers the platform 502, and the platform retries.
        tracing::warn!(%error, "the demo bot could not record a delivery");
        return HttpResponse::ServiceUnavailable().finish();
    }
    let Ok(notifications) = serde_json::from_slice::<CommsNotifications>(&body) else {
        // A legacy body under `protocol.legacy = "accept"`: nothing to answer.
        return HttpResponse::Accepted().finish();
    };
    let tenant = header(forward_headers::TENANT).unwrap_or_default();
    let callback_uri = header(forward_headers::CALLBACK_URI);
    for call in IncomingCall::all(&notifications, arrived) {
        let call = if tenant.is_empty() {
            call
        } else {
            call.or_tenant(&tenant)
        };
        let Some(callback_uri) = callback_uri.clone() else {
            tracing::warn!(
                call_id = call.call_id(),
                "no callbackUri forwarded (no [partition]): the demo bot cannot answer"
            );
            continue;
        };
        let graph = graph.get_ref().clone();
        // Answered after the 202, inside the call's answer window.
        actix_web::rt::spawn(async move {
            let answer = call.answer_at(callback_uri);
            if let Err(error) = graph.answer(&call.call(), &answer).await {
                tracing::warn!(call_id = call.call_id(), %error, "the demo bot could not answer");
            }
        });
    }
    HttpResponse::Accepted().finish()
}

/// What `callhook bot` runs with.
#[derive(Debug, Clone)]
pub struct BotOptions {
    /// Where to listen for callhook's forwards.
    pub listen: std::net::SocketAddr,
    /// The Graph to answer through, as token authority and Graph root (`callhook simulate
    /// --graph-listen`'s local Graph).
    pub graph_url: String,
    /// The bot's app id.
    pub app_id: String,
    /// The bot's client secret.
    pub secret: String,
    /// The tenant to ask app tokens for when callhook forwards none.
    pub tenant: String,
    /// Where to record each delivery's message id.
    pub record: Option<std::path::PathBuf>,
}

/// Why `callhook bot` could not run.
#[derive(Debug, thiserror::Error)]
pub enum BotError {
    /// The Graph client could not be built from the options.
    #[error("--graph-url {url}: {problem}")]
    Graph {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The record file could not be opened.
    #[error("--record {path}: {error}")]
    Record {
        /// The file.
        path: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The address could not be bound, or a signal handler installed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs the bot until SIGINT or SIGTERM, printing its URL first. Must run inside an actix system.
///
/// # Errors
///
/// A bad Graph URL, a record file that cannot be opened, or an address that cannot be bound.
pub async fn serve(options: BotOptions) -> Result<(), BotError> {
    let graph_error = |problem: String| BotError::Graph {
        url: options.graph_url.clone(),
        problem,
    };
    let cloud = callhook_graph::Cloud::custom(&options.graph_url, &options.graph_url)
        .map_err(|error| graph_error(error.to_string()))?;
    let graph = GraphClient::builder(
        &options.app_id,
        callhook_graph::Credential::secret(&options.secret),
    )
    .cloud(cloud)
    .tenant(&options.tenant)
    .build()
    .map_err(|error| graph_error(error.to_string()))?;
    let log = match &options.record {
        None => None,
        Some(path) => Some(DeliveryLog::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| BotError::Record {
                    path: path.display().to_string(),
                    error,
                })?,
        )),
    };
    let bot = start(TcpListener::bind(options.listen)?, graph, log)?;
    super::output::say(&format!(
        "demo bot: point `sink.url` at {}; it answers incoming calls through {}",
        bot.url, options.graph_url
    ));
    let handle = bot.server.handle();
    actix_web::rt::spawn(bot.server);
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    handle.stop(true).await;
    Ok(())
}

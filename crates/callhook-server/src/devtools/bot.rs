//! The demo's bot: behind `callhook serve`'s forward sink, it answers each incoming call through
//! Graph, naming the `callbackUri` that callhook forwards with it (`X-Callhook-Callback-Uri`, the
//! partition of the instance that took the call).

use std::net::TcpListener;
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

/// Starts the bot on `listener` (one worker), answering through `graph`. Must be called inside an
/// actix system.
pub fn start(listener: TcpListener, graph: GraphClient) -> std::io::Result<RunningBot> {
    let url = format!("http://{}{NOTIFICATIONS_PATH}", listener.local_addr()?);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(graph.clone()))
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

//! Running the app on a socket, with graceful shutdown.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{HttpServer, web};
use callhook_auth::{Authenticator, SystemClock};

use crate::app::{AppState, StateError, app};
use crate::config::Config;

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The listen address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The configured address.
        address: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The app's state could not be built.
    #[error(transparent)]
    State(#[from] StateError),
    /// The server failed while running.
    #[error("the server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds `config.server.listen`.
pub fn bind(config: &Config) -> Result<TcpListener, ServeError> {
    TcpListener::bind(config.server.listen).map_err(|source| ServeError::Bind {
        address: config.server.listen.to_string(),
        source,
    })
}

/// Runs the webhook server on `listener` until SIGTERM or SIGINT, then lets in-flight requests finish
/// (up to `server.shutdown_timeout_secs`) and returns.
///
/// Must run inside an actix (tokio) system, such as `#[actix_web::main]`.
pub async fn serve(config: Config, listener: TcpListener) -> Result<(), ServeError> {
    let authenticator = Arc::new(Authenticator::new(
        config.auth.clone(),
        Arc::new(SystemClock),
    ));
    serve_with(config, listener, authenticator).await
}

/// Like [`serve`], with an authenticator built by the caller (tests, the demo).
pub async fn serve_with(
    config: Config,
    listener: TcpListener,
    authenticator: Arc<Authenticator>,
) -> Result<(), ServeError> {
    let state = web::Data::new(AppState::new(&config, authenticator)?);
    let server = start_with_state(&config, listener, state.clone())?;
    let handle = server.handle();
    let shutdown_timeout = Duration::from_secs(config.server.shutdown_timeout_secs);
    actix_web::rt::spawn(async move {
        let signal = shutdown_signal().await;
        tracing::info!(
            signal,
            in_flight = state.in_flight(),
            "stopping: no new connections; finishing in-flight requests"
        );
        // Stop accepting, let every request being handled finish (so that each 202 was
        // delivered), and only then stop the workers. Waiting here rather than relying on the
        // workers' own graceful stop matters: actix-server's accept thread closes the workers'
        // connection channels when it stops, and a worker that sees that before its stop message
        // exits at once, dropping its in-flight requests.
        handle.pause().await;
        if !state.wait_until_idle(shutdown_timeout).await {
            tracing::warn!(
                in_flight = state.in_flight(),
                "shutdown timeout: stopping with requests still in flight"
            );
        }
        // The last answers are written by the connections right after their handlers end.
        tokio::time::sleep(Duration::from_millis(100)).await;
        handle.stop(true).await;
    });
    server.await?;
    tracing::info!("callhook stopped");
    Ok(())
}

/// Starts the server on `listener` and returns it without waiting: await the returned
/// [`Server`] to run it, and use [`Server::handle`] to stop it. Signals are not handled: that is
/// [`serve`]'s job.
pub fn start(
    config: &Config,
    listener: TcpListener,
    authenticator: Arc<Authenticator>,
) -> Result<Server, ServeError> {
    let state = web::Data::new(AppState::new(config, authenticator)?);
    start_with_state(config, listener, state)
}

fn start_with_state(
    config: &Config,
    listener: TcpListener,
    state: web::Data<AppState>,
) -> Result<Server, ServeError> {
    let address = listener.local_addr().ok();
    let mut server = HttpServer::new(move || app(state.clone()))
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10))
        // Signals are handled by `serve`, the same way for SIGTERM and SIGINT (actix's own
        // handler stops at once on SIGINT).
        .disable_signals();
    if config.server.workers > 0 {
        server = server.workers(config.server.workers);
    }
    let server = server.listen(listener)?.run();
    if let Some(address) = address {
        tracing::info!(
            %address,
            webhook_path = %config.server.webhook_path,
            "callhook is listening"
        );
    }
    Ok(server)
}

/// Waits for SIGTERM or SIGINT (Ctrl-C) and names it.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) {
            (Ok(mut terminate), Ok(mut interrupt)) => {
                tokio::select! {
                    _ = terminate.recv() => "SIGTERM",
                    _ = interrupt.recv() => "SIGINT",
                }
            }
            _ => {
                tracing::warn!("cannot listen for SIGTERM: only Ctrl-C stops the server");
                let _ignored = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ignored = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

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
    start(&config, listener, authenticator)?.await?;
    tracing::info!("callhook stopped");
    Ok(())
}

/// Starts the server on `listener` and returns it without waiting: await the returned
/// [`Server`] to run it, and use [`Server::handle`] to stop it. The server stops gracefully on
/// SIGTERM and SIGINT.
pub fn start(
    config: &Config,
    listener: TcpListener,
    authenticator: Arc<Authenticator>,
) -> Result<Server, ServeError> {
    let state = web::Data::new(AppState::new(config, authenticator)?);
    let address = listener.local_addr().ok();
    let mut server = HttpServer::new(move || app(state.clone()))
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(10));
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

//! Running the app on a socket: the connection limits, graceful shutdown and configuration reload.
//!
//! The HTTP server is assembled from actix-web's own layers (actix-server accepting, actix-http
//! parsing) rather than through `HttpServer`, so that callhook owns each connection's stream:
//! [`GuardedStream`] puts a deadline on the head of every request, which actix-http does only for
//! the first request of a connection.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix_http::HttpService;
use actix_server::Server;
use actix_service::{ServiceFactoryExt as _, fn_service, map_config};
use actix_web::dev::{AppConfig, Extensions};
use actix_web::web;
use callhook_auth::Authenticator;

use crate::app::{AppState, StateError, app};
use crate::config::Config;
use crate::connection::{GuardedStream, KEEP_ALIVE};

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
    /// The authenticator could not be built from `[auth]`.
    #[error("invalid configuration: {0}")]
    Auth(#[from] crate::config::AuthSectionError),
    /// The server failed while running.
    #[error("the server stopped with an error: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds `config.server.listen` with the configured listen backlog (`server.backlog`).
pub fn bind(config: &Config) -> Result<TcpListener, ServeError> {
    crate::connection::bind_with_backlog(config.server.listen, config.server.backlog).map_err(
        |source| ServeError::Bind {
            address: config.server.listen.to_string(),
            source,
        },
    )
}

/// Runs the webhook server on `listener` until SIGTERM or SIGINT, then lets in-flight requests finish
/// (up to `server.shutdown_timeout_secs`) and returns. SIGHUP is ignored (see
/// [`serve_reloadable`]).
///
/// Must run inside an actix (tokio) system, such as `#[actix_web::main]`.
pub async fn serve(config: Config, listener: TcpListener) -> Result<(), ServeError> {
    let authenticator = Arc::new(config.auth.build()?);
    run(config, listener, authenticator, None).await
}

/// Like [`serve`], and SIGHUP reloads the configuration from `config_file` (and the environment):
/// the new configuration is validated first, a bad one is logged and the running one stays.
/// Routing, partition, tenants and the rest of `[auth]`'s verification settings, `[protocol]`,
/// the sink and the body limits change without a restart; the settings of the socket, the
/// connections, the de-duplication store and the key source take effect at the next start, and the
/// log says so.
pub async fn serve_reloadable(
    config: Config,
    listener: TcpListener,
    config_file: PathBuf,
) -> Result<(), ServeError> {
    let authenticator = Arc::new(config.auth.build()?);
    run(config, listener, authenticator, Some(config_file)).await
}

/// Like [`serve`], with an authenticator built by the caller (tests, the demo).
pub async fn serve_with(
    config: Config,
    listener: TcpListener,
    authenticator: Arc<Authenticator>,
) -> Result<(), ServeError> {
    run(config, listener, authenticator, None).await
}

async fn run(
    config: Config,
    listener: TcpListener,
    authenticator: Arc<Authenticator>,
    reload_from: Option<PathBuf>,
) -> Result<(), ServeError> {
    let state = web::Data::new(AppState::new(&config, authenticator)?);
    let server = start_with_state(&config, listener, state.clone())?;
    let handle = server.handle();
    let shutdown_timeout = Duration::from_secs(config.server.shutdown_timeout_secs);
    let signals = match Signals::listen() {
        Ok(signals) => signals,
        Err(error) => {
            handle.stop(false).await;
            return Err(ServeError::Io(error));
        }
    };
    let listener_state = state.clone();
    let task = actix_web::rt::spawn(async move {
        let state = listener_state;
        let mut signals = signals;
        let signal = loop {
            match signals.next().await {
                Signal::Reload => reload(&state, reload_from.as_ref()),
                Signal::Stop(name) => break name,
            }
        };
        tracing::info!(
            signal,
            in_flight = state.in_flight(),
            "stopping: no new connections; finishing in-flight requests"
        );
        // Stop accepting, let every request being handled finish (so that each 202 was
        // delivered), and only then stop the workers. Waiting here rather than relying on the
        // workers' own graceful stop keeps callhook's count of requests in flight the one rule,
        // whatever actix-server's version does (before 2.9.1, a worker that saw its connection
        // channel closed before its stop message exited at once, dropping its requests).
        //
        // Connections already open stay open while their requests finish: a proxy in front
        // (nginx, an ingress) keeps some alive and sends new requests on them. Draining makes every
        // answer from now on close its connection, so that the proxy opens new connections
        // instead, which reach another instance, and the in-flight count falls to zero.
        state.begin_draining();
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
    // If the listener ever died, nothing would stop the server on SIGTERM: `/healthz` fails then,
    // so that a supervisor restarts the process.
    state.watch_task("signal listener", task.abort_handle());
    server.await?;
    tracing::info!("callhook stopped");
    Ok(())
}

/// Reloads the configuration on SIGHUP; a configuration that does not load or validate is
/// logged and the running one stays.
fn reload(state: &AppState, config_file: Option<&PathBuf>) {
    let Some(config_file) = config_file else {
        tracing::info!("SIGHUP: no configuration file to reload from; ignored");
        return;
    };
    let config = match Config::load(config_file) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(
                file = %config_file.display(),
                problems = ?error.problems(),
                "SIGHUP: the new configuration was refused; the running configuration stays"
            );
            return;
        }
    };
    match state.reload(config) {
        Ok(report) => {
            for key in &report.needs_restart {
                tracing::warn!(
                    key,
                    "SIGHUP: this setting changed but takes effect only at the next start"
                );
            }
            tracing::info!(
                file = %config_file.display(),
                "SIGHUP: configuration reloaded"
            );
        }
        Err(error) => tracing::error!(
            %error,
            "SIGHUP: the new configuration was refused; the running configuration stays"
        ),
    }
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
    listener.set_nonblocking(true)?;
    let address = listener.local_addr()?;
    let workers = if config.server.workers > 0 {
        config.server.workers
    } else {
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
    };
    // actix-server's connection limit is per worker: split the configured total between them, so
    // that the process never holds more than `max_connections`.
    let per_worker = (config.server.max_connections / workers).max(1);
    let header_timeout = Duration::from_millis(config.server.header_timeout_ms);
    let server = Server::build()
        .workers(workers)
        .max_concurrent_connections(per_worker)
        .shutdown_timeout(config.server.shutdown_timeout_secs)
        // Signals are handled by `serve`, the same way for SIGTERM and SIGINT (actix's own
        // handler stops at once on SIGINT).
        .disable_signals()
        .listen("callhook", listener, move || {
            let app = app(state.clone());
            let draining = state.draining();
            let http = HttpService::<GuardedStream, _, _>::build()
                .keep_alive(KEEP_ALIVE)
                .client_request_timeout(header_timeout)
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(address)
                .on_connect_ext(|stream: &GuardedStream, data: &mut Extensions| {
                    data.insert(stream.phase());
                })
                .h1(map_config(app, |()| AppConfig::default()));
            fn_service(move |stream: tokio::net::TcpStream| {
                let peer = stream.peer_addr().ok();
                std::future::ready(Ok::<_, actix_http::error::DispatchError>((
                    GuardedStream::new(stream, header_timeout, draining.clone()),
                    peer,
                )))
            })
            .and_then(http)
        })?
        .run();
    tracing::info!(
        %address,
        webhook_path = %config.server.webhook_path,
        workers,
        max_connections = per_worker * workers,
        "callhook is listening"
    );
    Ok(server)
}

/// What a signal asks for.
enum Signal {
    /// SIGHUP.
    Reload,
    /// SIGTERM or SIGINT, named.
    Stop(&'static str),
}

/// The process's signal streams, registered once so that no signal is lost between two waits.
struct Signals {
    #[cfg(unix)]
    streams: (
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
        tokio::signal::unix::Signal,
    ),
}

impl Signals {
    fn listen() -> std::io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                streams: (
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::hangup())?,
                ),
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Self {})
        }
    }

    async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            let (terminate, interrupt, hangup) = &mut self.streams;
            tokio::select! {
                _ = terminate.recv() => Signal::Stop("SIGTERM"),
                _ = interrupt.recv() => Signal::Stop("SIGINT"),
                _ = hangup.recv() => Signal::Reload,
            }
        }
        #[cfg(not(unix))]
        {
            let _ignored = tokio::signal::ctrl_c().await;
            Signal::Stop("Ctrl-C")
        }
    }
}

//! The baselines of `cargo xtask bench`, and the tokens it sends.
//!
//! - `noop`: an actix-web server whose handler reads the body and answers 202: the ceiling of any
//!   webhook built on actix-web.
//! - `jwt`: an actix-web server that verifies the bearer token with jsonwebtoken 9 (ring) on every
//!   request, with the same checks as callhook (RS256 only, `kid` looked up in a JWKS loaded at
//!   start, `exp`/`nbf` with 300 s leeway, `aud`, `iss`, a non-empty `tid`), parses the JSON body
//!   and answers 202: the best peer a bot developer would write by hand.
//! - `axum-layer` and `axum-by-hand`: minimal axum webhooks authenticating with `callhook-auth`'s
//!   `tower::AuthLayer`, or by calling the authenticator in the handler: what the layer costs.
//! - `mint`: signs the benchmark's tokens with the committed development key
//!   ([`callhook_auth::testing::DevIssuer`]) and writes them, with the JWKS, to a directory.
//!
//! Both servers run one worker, like callhook under the benchmark, and are built with the same
//! release profile. This crate is bench-only: it is never published and nothing depends on it.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "a command-line tool driven by the xtask, which reads its output"
)]

mod axum_apps;
mod jwt;
mod mint;

use std::net::SocketAddr;
use std::path::PathBuf;

use actix_web::{App, HttpResponse, HttpServer, web};
use clap::{Parser, Subcommand};

/// Bench-only baseline servers and the token minter of `cargo xtask bench`.
#[derive(Debug, Parser)]
#[command(name = "callhook-bench-baselines")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The settings of a server that verifies tokens.
#[derive(Debug, clap::Args)]
struct Verifying {
    /// The socket address to listen on.
    #[arg(long)]
    listen: SocketAddr,
    /// The JWKS document whose keys are accepted, read once at start.
    #[arg(long)]
    jwks: PathBuf,
    /// The expected `aud`.
    #[arg(long)]
    app_id: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// An actix-web server answering 202 to every POST after reading its body.
    Noop {
        /// The socket address to listen on.
        #[arg(long)]
        listen: SocketAddr,
    },
    /// An actix-web server verifying every request's token with jsonwebtoken 9.
    Jwt(Verifying),
    /// An axum app behind callhook-auth's `AuthLayer`.
    AxumLayer(Verifying),
    /// The same axum app, its handler authenticating by hand.
    AxumByHand(Verifying),
    /// Mints the benchmark's tokens into a directory.
    Mint(mint::MintArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Noop { listen } => serve(listen, |service| {
            service.default_service(web::post().to(noop));
        }),
        Command::Jwt(Verifying {
            listen,
            jwks,
            app_id,
        }) => {
            let state = web::Data::new(jwt::JwtState::load(&jwks, &app_id)?);
            serve(listen, move |service| {
                service
                    .app_data(state.clone())
                    .default_service(web::post().to(jwt::webhook));
            })
        }
        Command::AxumLayer(server) => axum_apps::serve(
            axum_apps::Mode::Layer,
            server.listen,
            &server.jwks,
            &server.app_id,
        ),
        Command::AxumByHand(server) => axum_apps::serve(
            axum_apps::Mode::ByHand,
            server.listen,
            &server.jwks,
            &server.app_id,
        ),
        Command::Mint(arguments) => mint::run(&arguments),
    }
}

/// Runs an actix-web server with one worker on `listen` until the process is killed.
fn serve(
    listen: SocketAddr,
    routes: impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        HttpServer::new(move || App::new().configure(routes.clone()))
            .workers(1)
            .bind(listen)?
            .run()
            .await
    })?;
    Ok(())
}

/// The no-op handler: the body is read (so the request is complete), then 202.
async fn noop(body: web::Bytes) -> HttpResponse {
    std::hint::black_box(body.len());
    HttpResponse::Accepted().finish()
}

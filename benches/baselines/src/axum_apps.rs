//! Two minimal axum webhooks that differ only in how they authenticate: `callhook-auth`'s
//! `tower::AuthLayer` with the `VerifiedClaims` extractor, or the handler calling
//! `Authenticator::authenticate_header` itself and answering refusals with `AuthError::answer`.
//! Their ratio is what the layer costs. Each runs on a current-thread runtime (one worker, like
//! every server of the benchmark) and reads the body before answering 202.

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use callhook_auth::{Authenticator, KeySet, VerifiedClaims};

/// How the app authenticates.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Mode {
    /// `AuthLayer` in front of the route, `VerifiedClaims` in the handler.
    Layer,
    /// The handler authenticates by hand.
    ByHand,
}

pub(crate) fn serve(
    mode: Mode,
    listen: SocketAddr,
    jwks: &Path,
    app_id: &str,
) -> anyhow::Result<()> {
    let document =
        std::fs::read(jwks).with_context(|| format!("cannot read {}", jwks.display()))?;
    let (keys, _skipped) = KeySet::from_jwks_json(&document)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let authenticator = Authenticator::builder(app_id).static_keys(keys).build()?;
        let app = match mode {
            Mode::Layer => Router::new()
                .route("/api/calls", post(with_layer))
                .layer(callhook_auth::tower::AuthLayer::new(authenticator)),
            Mode::ByHand => Router::new()
                .route("/api/calls", post(by_hand))
                .with_state(authenticator),
        };
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, app).await?;
        anyhow::Ok(())
    })
}

async fn with_layer(claims: VerifiedClaims, body: Bytes) -> StatusCode {
    std::hint::black_box((claims.tenant_id().len(), body.len()));
    StatusCode::ACCEPTED
}

async fn by_hand(
    State(authenticator): State<Authenticator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(axum::http::HeaderValue::as_bytes);
    match authenticator.authenticate_header(authorization).await {
        Ok(claims) => {
            std::hint::black_box((claims.tenant_id().len(), body.len()));
            StatusCode::ACCEPTED.into_response()
        }
        Err(error) => {
            let answer = error.answer();
            let status = StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::UNAUTHORIZED);
            (status, [answer.header()], answer.problem_json()).into_response()
        }
    }
}

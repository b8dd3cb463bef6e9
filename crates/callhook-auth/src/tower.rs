//! Feature `tower`: the platform's token check as a [`tower::Layer`](tower_layer::Layer) over
//! `http::Request<B>`, for axum, hyper and tonic.
//!
//! [`AuthLayer`] authenticates every request before the inner service sees it. A refused request
//! is answered by the layer itself, as [`AuthAnswer`](crate::answer::AuthAnswer) says (401 with
//! `WWW-Authenticate`, or 503 with `Retry-After` while no key was ever loaded), and never reaches
//! the inner service. An accepted one carries its [`VerifiedClaims`](crate::VerifiedClaims) in the request's extensions,
//! where handlers read them; with feature `axum`, `VerifiedClaims` is an extractor.
//!
//! ```no_run
//! # #[cfg(feature = "axum")]
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use axum::{Router, body::Bytes, http::StatusCode, routing::post};
//! use callhook_auth::{Authenticator, VerifiedClaims};
//!
//! async fn webhook(claims: VerifiedClaims, body: Bytes) -> StatusCode {
//!     println!("{} bytes from tenant {}", body.len(), claims.tenant_id());
//!     StatusCode::ACCEPTED
//! }
//!
//! let authenticator = Authenticator::builder("my-bot-app-id").build()?;
//! let app: Router = Router::new()
//!     .route("/api/calls", post(webhook))
//!     .layer(callhook_auth::tower::AuthLayer::new(authenticator.clone()));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use http::{Request, Response, StatusCode};

use crate::answer::PROBLEM_JSON;
use crate::{AuthError, Authenticator};

/// A [`tower::Layer`](tower_layer::Layer) that authenticates every request with an
/// [`Authenticator`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AuthLayer {
    authenticator: Authenticator,
}

impl AuthLayer {
    /// A layer checking every request's bearer token with `authenticator`.
    #[must_use]
    pub fn new(authenticator: Authenticator) -> AuthLayer {
        AuthLayer { authenticator }
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

/// The service [`AuthLayer`] wraps around an inner service.
#[derive(Clone, Debug)]
pub struct AuthService<S> {
    inner: S,
    authenticator: Authenticator,
}

/// The future of [`AuthService`].
pub type AuthFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send>>;

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for AuthService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
    ResBody: From<String>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = AuthFuture<Response<ResBody>, S::Error>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The service that was polled ready is the one called; its clone waits for the next
        // request (tower's documented pattern for services used from a future).
        let ready = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, ready);
        let authenticator = self.authenticator.clone();
        // A `HeaderValue` clone shares its bytes; the request itself is not borrowed across the
        // await, so the future is `Send` even for bodies that are not `Sync`.
        let authorization = request.headers().get(AUTHORIZATION).cloned();
        Box::pin(async move {
            let outcome = authenticator
                .authenticate_header(authorization.as_ref().map(HeaderValue::as_bytes))
                .await;
            match outcome {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    inner.call(request).await
                }
                Err(error) => Ok(refusal(&error)),
            }
        })
    }
}

/// The answer to a refused request, as every integration gives it.
fn refusal<B: From<String>>(error: &AuthError) -> Response<B> {
    let answer = crate::answer::refused(error);
    let (name, value) = answer.header();
    let mut response = Response::new(B::from(answer.problem_json()));
    *response.status_mut() =
        StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    headers.insert(
        http::HeaderName::from_static(name),
        HeaderValue::from_static(value),
    );
    response
}

/// Feature `axum`: [`VerifiedClaims`](crate::VerifiedClaims) as an extractor, reading what
/// [`AuthLayer`] put into the request.
#[cfg(feature = "axum")]
mod axum_extractor {
    use axum_core::extract::FromRequestParts;
    use axum_core::response::{IntoResponse, Response};
    use http::StatusCode;
    use http::request::Parts;

    use crate::VerifiedClaims;
    use crate::answer::MissingAuthentication;

    /// The extractor's refusal: `VerifiedClaims` was asked for on a route without
    /// [`AuthLayer`](super::AuthLayer). Answered `500`, naming the missing layer.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct MissingAuthLayer;

    impl IntoResponse for MissingAuthLayer {
        fn into_response(self) -> Response {
            let missing = MissingAuthentication {
                wrapper: "callhook_auth::tower::AuthLayer",
            };
            tracing::error!("{missing}");
            (StatusCode::INTERNAL_SERVER_ERROR, missing.to_string()).into_response()
        }
    }

    impl<S: Send + Sync> FromRequestParts<S> for VerifiedClaims {
        type Rejection = MissingAuthLayer;

        async fn from_request_parts(
            parts: &mut Parts,
            _state: &S,
        ) -> Result<Self, Self::Rejection> {
            parts
                .extensions
                .get::<VerifiedClaims>()
                .cloned()
                .ok_or(MissingAuthLayer)
        }
    }
}

#[cfg(feature = "axum")]
pub use axum_extractor::MissingAuthLayer;

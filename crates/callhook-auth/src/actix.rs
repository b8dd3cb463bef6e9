//! Feature `actix`: the platform's token check as actix-web middleware, for `App::wrap`.
//!
//! [`Authenticate`] authenticates every request before the wrapped service sees it. A refused
//! request is answered by the middleware itself, as [`AuthAnswer`](crate::answer::AuthAnswer)
//! says (401 with `WWW-Authenticate`, or 503 with `Retry-After` while no key was ever loaded). An
//! accepted one carries its [`VerifiedClaims`] in the request's extensions, and `VerifiedClaims`
//! is an extractor that reads them.
//!
//! ```no_run
//! use actix_web::{App, HttpResponse, HttpServer, web};
//! use callhook_auth::{Authenticator, VerifiedClaims};
//!
//! async fn handler(claims: VerifiedClaims, body: web::Bytes) -> HttpResponse {
//!     println!("{} bytes from tenant {}", body.len(), claims.tenant_id());
//!     HttpResponse::Accepted().finish()
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let authenticator = Authenticator::builder("my-bot-app-id").build()?;
//!     HttpServer::new(move || {
//!         App::new()
//!             .wrap(callhook_auth::actix::Authenticate::new(authenticator.clone()))
//!             .route("/api/calls", web::post().to(handler))
//!     })
//!     .bind("127.0.0.1:3000")?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::EitherBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};

use crate::answer::{MissingAuthentication, PROBLEM_JSON};
use crate::{AuthError, Authenticator, VerifiedClaims};

/// Middleware that authenticates every request with an [`Authenticator`]: `App::wrap` it.
#[derive(Clone, Debug)]
pub struct Authenticate {
    authenticator: Authenticator,
}

impl Authenticate {
    /// Middleware checking every request's bearer token with `authenticator`.
    #[must_use]
    pub fn new(authenticator: Authenticator) -> Authenticate {
        Authenticate { authenticator }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Authenticate
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = AuthenticateMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthenticateMiddleware {
            service: Rc::new(service),
            authenticator: self.authenticator.clone(),
        }))
    }
}

/// The service [`Authenticate`] wraps around the app's.
#[derive(Debug)]
pub struct AuthenticateMiddleware<S> {
    service: Rc<S>,
    authenticator: Authenticator,
}

/// The future of [`AuthenticateMiddleware`] (actix futures run on one thread).
pub type AuthenticateFuture<R> = Pin<Box<dyn Future<Output = Result<R, actix_web::Error>>>>;

impl<S, B> Service<ServiceRequest> for AuthenticateMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = AuthenticateFuture<Self::Response>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let authenticator = self.authenticator.clone();
        Box::pin(async move {
            let authorization = request.headers().get(AUTHORIZATION).cloned();
            let outcome = authenticator
                .authenticate_header(authorization.as_ref().map(HeaderValue::as_bytes))
                .await;
            match outcome {
                Ok(claims) => {
                    request.extensions_mut().insert(claims);
                    let response = service.call(request).await?;
                    Ok(response.map_into_left_body())
                }
                Err(error) => Ok(request.into_response(refusal(&error)).map_into_right_body()),
            }
        })
    }
}

/// The answer to a refused request, as every integration gives it.
fn refusal(error: &AuthError) -> HttpResponse {
    let answer = crate::answer::refused(error);
    let (name, value) = answer.header();
    HttpResponse::build(StatusCode::from_u16(answer.status()).unwrap_or(StatusCode::UNAUTHORIZED))
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON)))
        .insert_header((
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        ))
        .body(answer.problem_json())
}

/// The extractor's refusal: `VerifiedClaims` was asked for in a handler without [`Authenticate`]
/// in front of it. Answered `500`, naming the missing middleware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{}", MissingAuthentication { wrapper: "callhook_auth::actix::Authenticate" })]
pub struct MissingAuthenticate;

impl ResponseError for MissingAuthenticate {
    fn status_code(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}

impl FromRequest for VerifiedClaims {
    type Error = MissingAuthenticate;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _payload: &mut Payload) -> Self::Future {
        let claims = request.extensions().get::<VerifiedClaims>().cloned();
        if claims.is_none() {
            tracing::error!("{MissingAuthenticate}");
        }
        ready(claims.ok_or(MissingAuthenticate))
    }
}

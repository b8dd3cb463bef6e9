//! Verification of the Microsoft Teams calling platform's bearer tokens, for any Rust web framework.
//!
//! Give it the `Authorization` header value and get back [`VerifiedClaims`] or a typed error:
//!
//! - [`Verifier`] is pure: a compact RS256 JWS, a [`KeySet`] and the time in, claims or a
//!   [`Rejection`] out. ring is the only cryptography; the algorithm is fixed at compile time
//!   (RS256 = `RSA_PKCS1_2048_8192_SHA256`), never chosen by the token.
//! - [`KeySource`] fetches the keys from the platform's OIDC configuration (rustls on ring, no
//!   redirects, size and time limits), refreshes them periodically and on unknown `kid`s
//!   (single-flight, with a cooldown), and keeps the last known good keys when the issuer is down.
//! - [`Authenticator`] ties both together with a cache of verified tokens, so the platform's
//!   repeated tokens skip the RSA work.
//!
//! Map [`AuthError::KeysUnavailable`] to 503 (keys never loaded) and every [`AuthError::Rejected`]
//! to 401 with `WWW-Authenticate: Bearer`, without saying which check failed; log
//! [`Rejection::reason`] instead: [`AuthError::answer`] gives that answer for any framework.
//! Tokens are never logged by this crate.
//!
//! Framework integrations, optional features that answer refusals themselves and hand handlers
//! [`VerifiedClaims`] as an extractor:
//!
//! - `tower`: `tower::AuthLayer`, a `tower::Layer` over `http::Request<B>` (axum, hyper, tonic);
//! - `axum`: `tower`, and `VerifiedClaims` as an axum extractor;
//! - `actix`: `actix::Authenticate`, actix-web middleware for `App::wrap`, and `VerifiedClaims` as
//!   an actix-web extractor.
//!
//! # Example
//!
//! With a fixed key set (here from the development issuer of the `testing` feature; a server uses
//! [`Authenticator::builder`] without `static_keys`, which fetches the platform's keys):
//!
//! ```
//! # #[cfg(feature = "testing")]
//! # {
//! use callhook_auth::testing::DevIssuer;
//! use callhook_auth::{AuthError, Authenticator, ManualClock, Rejection, UnixTime};
//! use std::sync::Arc;
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let now = UnixTime::from_secs(1_700_000_000);
//! let clock = Arc::new(ManualClock::new(now));
//! let issuer = DevIssuer::new();
//! let authenticator = Authenticator::builder("my-bot-app-id")
//!     .static_keys(issuer.key_set())
//!     .clock(clock.clone())
//!     .build()
//!     .expect("valid settings");
//!
//! let token = issuer.mint(&DevIssuer::standard_claims("my-bot-app-id", "tenant-1", now));
//! let claims = authenticator.authenticate(&format!("Bearer {token}")).await?;
//! assert_eq!(claims.tenant_id(), "tenant-1");
//!
//! // Ten minutes later the token (5 minutes of life + 5 minutes of leeway) is refused.
//! clock.advance_secs(600);
//! let refused = authenticator.authenticate(&format!("Bearer {token}")).await;
//! assert_eq!(refused.unwrap_err(), AuthError::Rejected(Rejection::Expired));
//! # Ok::<(), AuthError>(())
//! # }).unwrap();
//! # }
//! ```
#![warn(missing_docs)]

#[cfg(feature = "actix")]
pub mod actix;
mod admission;
pub mod answer;
mod authenticator;
mod builder;
mod claims;
mod clock;
mod config;
mod encoding;
mod jwk;
mod key_source;
#[cfg(feature = "testing")]
pub mod testing;
#[cfg(feature = "tower")]
pub mod tower;
mod verify;

pub use authenticator::{AuthError, Authenticator};
pub use builder::AuthenticatorBuilder;
pub use claims::VerifiedClaims;
pub use clock::{Clock, ManualClock, SystemClock, UnixTime};
pub use config::{
    AuthConfig, ConfigError, MAXIMUM_LEEWAY, OPENID_CONFIGURATION_DOD, OPENID_CONFIGURATION_GCCH,
    OPENID_CONFIGURATION_PUBLIC, Setting,
};
pub use jwk::{
    KeySet, KeySetError, MAXIMUM_JWKS_DOCUMENT_BYTES, MAXIMUM_RSA_MODULUS_BITS,
    MINIMUM_RSA_MODULUS_BITS, RsaVerificationKey, SkipReason, SkippedKey,
};
pub use key_source::{
    BackgroundRefresh, KeyFetcher, KeySource, KeySourceError, KeyStatus,
    MAXIMUM_KEY_DOCUMENT_BYTES, RefreshPolicy, jwks_uri_of_openid_configuration,
};
pub use verify::{
    DEFAULT_ISSUERS, DEFAULT_LEEWAY, MAXIMUM_TOKEN_BYTES, Rejection, Verifier, VerifierConfig,
};

#[doc(hidden)]
pub use verify::{verify_rs256_with_key, verify_signature_only};

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

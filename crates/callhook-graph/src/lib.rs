//! The outbound half of a Microsoft Teams calling bot: app tokens and Microsoft Graph's call
//! actions.
//!
//! Within 15 s of an incoming call (5 s for policy-based recording), a bot answers, rejects or
//! redirects it through Graph, naming in its answer the `callbackUri` of the instance that will own
//! the call. This crate does that and what follows:
//!
//! * **App tokens** from the OAuth 2.0 client-credentials flow, with a client secret or a
//!   certificate (a client assertion signed RS256 with ring, carrying `x5t#S256`); cached per
//!   tenant until shortly before expiry and fetched single-flight ([`GraphClient::app_token`]).
//! * **Typed call actions**: [`answer`](GraphClient::answer), [`reject`](GraphClient::reject),
//!   [`redirect`](GraphClient::redirect), [`keep_alive`](GraphClient::keep_alive),
//!   [`play_prompt`](GraphClient::play_prompt), [`record_response`](GraphClient::record_response),
//!   [`subscribe_to_tone`](GraphClient::subscribe_to_tone), [`transfer`](GraphClient::transfer)
//!   and [`hang_up`](GraphClient::hang_up), with bodies in [`requests`].
//! * **Retries inside the answer window**: 429 and 5xx are retried with exponential backoff and
//!   jitter, honouring `Retry-After`, and no request is sent after the call's [`Deadline`], which
//!   defaults to the answer window counted from the notification's arrival.
//! * **Ids for support cases**: every request carries a fresh `client-request-id`; the response's
//!   `request-id` is logged and returned in [`GraphResponse`] or [`GraphError`].
//! * **The callbackUri** of this instance comes from `callhook-routing`'s [`Partition`]
//!   ([`IncomingCall::answer`]).
//!
//! Tokens and secrets are never logged: their `Debug` prints `redacted`.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Instant;
//!
//! use callhook_graph::{Credential, GraphClient, IncomingCall};
//! use callhook_model::CommsNotifications;
//! use callhook_routing::{Partition, PartitionConfig};
//!
//! # async fn example(body: &[u8]) -> Result<(), Box<dyn std::error::Error>> {
//! let arrived = Instant::now(); // when the notification arrived, before anything else
//! let graph = GraphClient::builder("my-bot-app-id", Credential::secret(std::env::var("BOT_SECRET")?))
//!     .tenant("contoso.onmicrosoft.com")
//!     .build()?;
//! let partition = Partition::build(
//!     &PartitionConfig {
//!         id: "0".into(),
//!         public_url: "https://bot.example.com".into(),
//!         url_template: None,
//!     },
//!     "/api/calls",
//! )?;
//! let notifications: CommsNotifications = serde_json::from_slice(body)?;
//! for call in IncomingCall::all(&notifications, arrived) {
//!     let answered = graph.answer(&call.call(), &call.answer(&partition)).await?;
//!     println!("answered {} (request-id {:?})", call.call_id(), answered.request_id);
//! }
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod client;
pub mod cloud;
pub mod credential;
pub mod error;
mod incoming;
pub mod requests;
mod retry;
mod token;

pub use callhook_routing::Partition;
pub use client::{
    BuildError, CLIENT_REQUEST_ID, CallRef, GraphClient, GraphClientBuilder, GraphResponse,
    REQUEST_ID,
};
pub use cloud::Cloud;
pub use credential::{Certificate, Credential, CredentialError};
pub use error::{GraphError, GraphErrorBody, TokenError};
pub use incoming::IncomingCall;
pub use retry::{ANSWER_WINDOW, Deadline, POLICY_RECORDING_WINDOW, RetryPolicy};
pub use token::{AppToken, REFRESH_MARGIN};

/// Reads a response body of at most `limit` bytes; the rest is not read.
async fn read_bounded(
    mut response: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = limit.saturating_sub(body.len());
        body.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        if body.len() >= limit {
            break;
        }
    }
    Ok(body)
}

/// The README's examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

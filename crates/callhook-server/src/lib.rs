//! The callhook reference server: an actix-web webhook for Microsoft Teams calling bots.
//!
//! It composes the callhook crates: [`callhook_auth`] verifies the platform's bearer token,
//! [`callhook_protocol`] negotiates the legacy → Graph hop, [`callhook_routing`] redirects calls
//! that belong elsewhere, and a [`sink`] takes each verified notification before the platform is
//! answered `202 Accepted`. The binary `callhook` is a thin command line over this library; the
//! app factory [`app::app`] lets tests and embedding programs build the same app in memory.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let config = callhook_server::config::Config::from_toml_str(
//!     r#"
//!     [server]
//!     listen = "127.0.0.1:8080"
//!     [auth]
//!     app_id = "00000000-0000-0000-0000-000000000000"
//!     "#,
//! )?;
//! let listener = callhook_server::server::bind(&config)?;
//! callhook_server::server::serve(config, listener).await?;
//! # Ok(())
//! # }
//! ```
//!
//! What `callhook classify` prints for a captured body:
//!
//! ```
//! let summary = callhook_server::classify::classify_bytes(
//!     br##"{"value":[{"changeType":"created","resourceUrl":"/communications/calls/42",
//!         "resourceData":{"@odata.type":"#microsoft.graph.call","state":"incoming"}}]}"##,
//! )?;
//! assert!(summary.contains(r#""protocol":"graph""#));
//! assert!(summary.contains(r#""state":"incoming""#));
//! # Ok::<(), String>(())
//! ```
#![warn(missing_docs)]

pub mod answer;
pub mod app;
pub mod classify;
pub mod config;
pub mod connection;
pub mod dedup;
#[cfg(feature = "dev-tools")]
pub mod devtools;
pub mod logging;
pub mod metrics;
pub mod server;
pub mod shared_dedup;
pub mod sink;
pub mod webhook_signature;

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

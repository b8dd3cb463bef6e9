//! A calling bot's webhook on axum: `callhook-auth`'s layer checks the token, `callhook-protocol`
//! decides the answer.
//!
//! ```text
//! cargo run -p callhook-server -- issuer serve &     # the development issuer on 127.0.0.1:7070
//! APP_ID=00000000-0000-0000-0000-00000000de70 \
//! OPENID_CONFIGURATION=http://127.0.0.1:7070/v1/.well-known/OpenIdConfiguration \
//!   cargo run -p callhook-examples --bin axum-webhook
//! curl -i http://127.0.0.1:3000/api/calls -H "Authorization: Bearer $(cargo run -q -p callhook-server \
//!   -- issuer mint)" --data-binary @crates/callhook-server/tests/data/incoming-call.json
//! ```
#![allow(clippy::print_stdout, reason = "an example says where it listens")]

use axum::{Router, body::Bytes, http::StatusCode, routing::post};
use callhook_auth::{Authenticator, OPENID_CONFIGURATION_PUBLIC, VerifiedClaims};
use callhook_protocol::{LegacyPolicy, Negotiation, negotiate};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let keys = std::env::var("OPENID_CONFIGURATION").unwrap_or(OPENID_CONFIGURATION_PUBLIC.into());
    let authenticator = Authenticator::builder(&std::env::var("APP_ID")?)
        .openid_configuration(keys)
        .build()?;
    let app = Router::new()
        .route("/api/calls", post(webhook))
        .layer(callhook_auth::tower::AuthLayer::new(authenticator.clone()));
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let listener = tokio::net::TcpListener::bind(listen).await?;
    println!("listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn webhook(claims: VerifiedClaims, body: Bytes) -> (StatusCode, String) {
    match negotiate(&body, LegacyPolicy::Redeliver) {
        Negotiation::Graph(notifications) => {
            for notification in &notifications.value {
                let call = notification.call_id().unwrap_or("-");
                println!("tenant {} call {call}", claims.tenant_id());
            }
            (StatusCode::ACCEPTED, String::new())
        }
        Negotiation::Legacy { .. } => (StatusCode::NO_CONTENT, String::new()),
        other => (
            StatusCode::BAD_REQUEST,
            other.invalid().map(ToString::to_string).unwrap_or_default(),
        ),
    }
}

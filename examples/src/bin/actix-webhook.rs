//! A calling bot's webhook on actix-web: `callhook-auth`'s middleware checks the token,
//! `callhook-protocol` decides the answer.
//!
//! ```text
//! cargo run -p callhook-server -- issuer serve &     # the development issuer on 127.0.0.1:7070
//! APP_ID=00000000-0000-0000-0000-00000000de70 \
//! OPENID_CONFIGURATION=http://127.0.0.1:7070/v1/.well-known/OpenIdConfiguration \
//!   cargo run -p callhook-examples --bin actix-webhook
//! curl -i http://127.0.0.1:3000/api/calls -H "Authorization: Bearer $(cargo run -q -p callhook-server \
//!   -- issuer mint)" --data-binary @crates/callhook-server/tests/data/incoming-call.json
//! ```
#![allow(clippy::print_stdout, reason = "an example says where it listens")]

use actix_web::{App, HttpResponse, HttpServer, web};
use callhook_auth::{Authenticator, OPENID_CONFIGURATION_PUBLIC, VerifiedClaims};
use callhook_protocol::{LegacyPolicy, Negotiation, negotiate};

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let keys = std::env::var("OPENID_CONFIGURATION").unwrap_or(OPENID_CONFIGURATION_PUBLIC.into());
    let authenticator = Authenticator::builder(&std::env::var("APP_ID")?)
        .openid_configuration(keys)
        .build()?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".to_owned());
    let server = HttpServer::new(move || {
        App::new()
            .wrap(callhook_auth::actix::Authenticate::new(
                authenticator.clone(),
            ))
            .route("/api/calls", web::post().to(webhook))
    })
    .bind(listen)?;
    for address in server.addrs() {
        println!("listening on {address}");
    }
    server.run().await?;
    Ok(())
}

async fn webhook(claims: VerifiedClaims, body: web::Bytes) -> HttpResponse {
    match negotiate(&body, LegacyPolicy::Redeliver) {
        Negotiation::Graph(notifications) => {
            for notification in &notifications.value {
                let call = notification.call_id().unwrap_or("-");
                println!("tenant {} call {call}", claims.tenant_id());
            }
            HttpResponse::Accepted().finish()
        }
        Negotiation::Legacy { .. } => HttpResponse::NoContent().finish(),
        other => HttpResponse::BadRequest()
            .body(other.invalid().map(ToString::to_string).unwrap_or_default()),
    }
}

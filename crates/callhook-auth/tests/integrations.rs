//! The framework integrations over real sockets: the tower layer in an axum app and the actix-web
//! middleware, each with the extractor, a refused token, and the extractor used without them.
#![cfg(all(feature = "axum", feature = "actix"))]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers fail the test by panicking"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use callhook_auth::testing::DevIssuer;
use callhook_auth::{Authenticator, ManualClock, UnixTime, VerifiedClaims};

const APP_ID: &str = "bot-app-id";
const NOW: u64 = 1_700_000_000;

fn authenticator() -> Authenticator {
    Authenticator::builder(APP_ID)
        .static_keys(DevIssuer::new().key_set())
        .clock(Arc::new(ManualClock::new(UnixTime::from_secs(NOW))))
        .build()
        .unwrap()
}

fn token(app_id: &str) -> String {
    DevIssuer::new().mint(&DevIssuer::standard_claims(
        app_id,
        "tenant-1",
        UnixTime::from_secs(NOW),
    ))
}

#[derive(Debug)]
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    content_type: Option<String>,
    body: String,
}

async fn post(url: &str, token: Option<&str>) -> Answer {
    let client = callhook_http::client_builder()
        .unwrap()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut request = client.post(url).body("{}");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };
    Answer {
        status: response.status().as_u16(),
        www_authenticate: header("www-authenticate"),
        content_type: header("content-type"),
        body: response.text().await.unwrap(),
    }
}

/// What every integration must answer at `authenticated` (behind it) and `bare` (a handler
/// asking for the claims without it).
async fn check(authenticated: &str, bare: &str) {
    let accepted = post(authenticated, Some(&token(APP_ID))).await;
    assert_eq!((accepted.status, accepted.body.as_str()), (200, "tenant-1"));

    for credential in [None, Some(token("another-bot")), Some("a.b.c".to_owned())] {
        let refused = post(authenticated, credential.as_deref()).await;
        assert_eq!(refused.status, 401, "{credential:?}");
        assert_eq!(
            refused.www_authenticate.as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
        assert_eq!(
            refused.content_type.as_deref(),
            Some("application/problem+json")
        );
        let problem: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
        assert_eq!(problem["status"], 401);
        // Which check failed is never said.
        assert_eq!(problem["detail"], "the request is not authenticated");
    }

    let misconfigured = post(bare, Some(&token(APP_ID))).await;
    assert_eq!(misconfigured.status, 500);
    assert!(
        misconfigured.body.contains("in front of this handler"),
        "{}",
        misconfigured.body
    );
}

#[tokio::test]
async fn the_tower_layer_in_an_axum_app() {
    use axum::Router;
    use axum::routing::post as route_post;

    async fn tenant(claims: VerifiedClaims) -> String {
        claims.tenant_id().to_owned()
    }
    let app = Router::new()
        .route("/api/calls", route_post(tenant))
        .layer(callhook_auth::tower::AuthLayer::new(authenticator()))
        .merge(Router::new().route("/bare", route_post(tenant)));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address: SocketAddr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    check(
        &format!("http://{address}/api/calls"),
        &format!("http://{address}/bare"),
    )
    .await;
    server.abort();
}

#[actix_web::test]
async fn the_actix_middleware() {
    use actix_web::{App, HttpServer, web};

    async fn tenant(claims: VerifiedClaims) -> String {
        claims.tenant_id().to_owned()
    }
    let authenticator = authenticator();
    let server = HttpServer::new(move || {
        App::new().route("/bare", web::post().to(tenant)).service(
            web::scope("/api")
                .wrap(callhook_auth::actix::Authenticate::new(
                    authenticator.clone(),
                ))
                .route("/calls", web::post().to(tenant)),
        )
    })
    .workers(1)
    .bind("127.0.0.1:0")
    .unwrap();
    let address = *server.addrs().first().expect("bound");
    let running = server.run();
    let handle = running.handle();
    actix_web::rt::spawn(running);
    check(
        &format!("http://{address}/api/calls"),
        &format!("http://{address}/bare"),
    )
    .await;
    handle.stop(false).await;
}

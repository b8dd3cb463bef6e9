//! The key source against a real HTTP server on 127.0.0.1 (wiremock): rotation, floods of random
//! `kid`s, an issuer that goes down, is slow, or never comes up, and hostile responses.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers: a panic is a failing test"
)]

use callhook_auth::testing::DevIssuer;
use callhook_auth::{
    AuthError, Authenticator, AuthenticatorBuilder, KeyFetcher, KeySourceError, ManualClock,
    Rejection, UnixTime,
};
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_ID: &str = "bot-app-id";
const NOW: u64 = 1_700_000_000;
const READY_LIMIT: Duration = Duration::from_secs(10);

/// Serves an OIDC configuration at `/openid` pointing at `/keys`, which serves `jwks`.
async fn serve_keys(server: &MockServer, jwks: String, keys_delay: Duration) {
    let configuration = DevIssuer::new().openid_configuration_json(
        "https://api.botframework.com",
        &format!("{}/keys", server.uri()),
    );
    Mock::given(method("GET"))
        .and(path("/openid"))
        .respond_with(ResponseTemplate::new(200).set_body_string(configuration))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/keys"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(jwks)
                .set_delay(keys_delay),
        )
        .mount(server)
        .await;
}

async fn key_fetches(server: &MockServer) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .filter(|request| request.url.path() == "/keys")
        .count()
}

fn config_for(server: &MockServer) -> AuthenticatorBuilder {
    Authenticator::builder(APP_ID)
        .openid_configuration(format!("{}/openid", server.uri()))
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(40))
}

fn token(issuer: &DevIssuer, tenant: &str) -> String {
    issuer.mint(&DevIssuer::standard_claims(
        APP_ID,
        tenant,
        UnixTime::from_secs(NOW),
    ))
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(UnixTime::from_secs(NOW)))
}

async fn ready_authenticator(
    config: AuthenticatorBuilder,
    clock: Arc<ManualClock>,
) -> Authenticator {
    let authenticator = config.clock(clock).build().unwrap();
    assert!(
        authenticator.wait_until_ready(READY_LIMIT).await,
        "{:?}",
        authenticator.key_status()
    );
    authenticator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_load_from_the_openid_configuration() {
    let server = MockServer::start().await;
    serve_keys(&server, DevIssuer::new().jwks_json(), Duration::ZERO).await;
    let authenticator = ready_authenticator(config_for(&server), clock()).await;
    let claims = authenticator
        .verify_token(&token(&DevIssuer::new(), "t1"))
        .await
        .unwrap();
    assert_eq!(claims.tenant_id(), "t1");
    let status = authenticator.key_status();
    assert!(status.ready);
    assert_eq!(status.key_count, 1);
    assert_eq!(status.refresh_succeeded, 1);
    assert_eq!(status.refresh_failed, 0);
    assert_eq!(status.last_success_at, Some(UnixTime::from_secs(NOW)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_accepted_after_one_refresh() {
    let server = MockServer::start().await;
    serve_keys(&server, DevIssuer::new().jwks_json(), Duration::ZERO).await;
    let authenticator = ready_authenticator(config_for(&server), clock()).await;
    assert_eq!(key_fetches(&server).await, 1);

    // The issuer rotates: the new key is published next to the old one.
    server.reset().await;
    let jwks = DevIssuer::jwks_json_of(&[&DevIssuer::new(), &DevIssuer::rotated()]);
    serve_keys(&server, jwks, Duration::ZERO).await;

    let claims = authenticator
        .verify_token(&token(&DevIssuer::rotated(), "t1"))
        .await
        .unwrap();
    assert_eq!(claims.key_id(), DevIssuer::rotated().kid());
    assert_eq!(key_fetches(&server).await, 1, "exactly one refresh");
    assert_eq!(authenticator.key_status().key_count, 2);
    assert_eq!(authenticator.key_status().unknown_kid_refreshes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_kids_costs_one_fetch_per_cooldown() {
    let server = MockServer::start().await;
    serve_keys(&server, DevIssuer::new().jwks_json(), Duration::ZERO).await;
    let clock = clock();
    let config = config_for(&server).refresh(Duration::from_secs(43_200), Duration::from_secs(30));
    let authenticator = ready_authenticator(config, Arc::clone(&clock)).await;

    let flood = |round: usize| {
        let authenticator = authenticator.clone();
        async move {
            let attempts: Vec<_> = (0..50)
                .map(|index| {
                    let authenticator = authenticator.clone();
                    let forged = token(
                        &DevIssuer::new().with_kid(&format!("random-{round}-{index}")),
                        "t",
                    );
                    tokio::spawn(async move { authenticator.verify_token(&forged).await })
                })
                .collect();
            for attempt in attempts {
                assert_eq!(
                    attempt.await.unwrap().unwrap_err(),
                    AuthError::Rejected(Rejection::UnknownKid)
                );
            }
        }
    };
    flood(1).await;
    assert_eq!(
        key_fetches(&server).await,
        2,
        "the initial load and one refresh"
    );
    // Still inside the cooldown: no fetch at all.
    clock.advance_secs(29);
    flood(2).await;
    assert_eq!(key_fetches(&server).await, 2);
    // After the cooldown, one more.
    clock.advance_secs(1);
    flood(3).await;
    assert_eq!(key_fetches(&server).await, 3);
    let status = authenticator.key_status();
    assert_eq!(status.unknown_kid_refreshes, 2);
    assert!(status.unknown_kid_refreshes_suppressed >= 50, "{status:?}");
    // Known kids were never affected.
    assert!(
        authenticator
            .verify_token(&token(&DevIssuer::new(), "t"))
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_issuer_goes_down_the_last_known_keys_stay() {
    let server = MockServer::start().await;
    serve_keys(&server, DevIssuer::new().jwks_json(), Duration::ZERO).await;
    let authenticator = ready_authenticator(config_for(&server), clock()).await;

    server.reset().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let error = authenticator.refresh_keys_now().await.unwrap_err();
    assert!(
        matches!(error, KeySourceError::UnexpectedStatus { status: 500, .. }),
        "{error:?}"
    );

    let status = authenticator.key_status();
    assert!(status.ready);
    assert_eq!(status.key_count, 1);
    assert_eq!(status.refresh_failed, 1);
    assert!(status.last_refresh_error.unwrap().contains("500"));
    assert!(
        authenticator
            .verify_token(&token(&DevIssuer::new(), "t"))
            .await
            .is_ok()
    );
    // An unknown kid is a plain rejection (401), not "keys unavailable" (503).
    let unknown = authenticator
        .verify_token(&token(&DevIssuer::rotated(), "t"))
        .await;
    assert_eq!(
        unknown.unwrap_err(),
        AuthError::Rejected(Rejection::UnknownKid)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_issuer_never_delays_known_kids() {
    let server = MockServer::start().await;
    serve_keys(&server, DevIssuer::new().jwks_json(), Duration::ZERO).await;
    let authenticator = ready_authenticator(config_for(&server), clock()).await;

    server.reset().await;
    let jwks = DevIssuer::jwks_json_of(&[&DevIssuer::new(), &DevIssuer::rotated()]);
    serve_keys(&server, jwks, Duration::from_secs(3)).await;

    // An unknown kid starts a refresh that will take seconds.
    let slow = {
        let authenticator = authenticator.clone();
        let rotated = token(&DevIssuer::rotated(), "t");
        tokio::spawn(async move { authenticator.verify_token(&rotated).await })
    };
    let mut in_flight = false;
    for _ in 0..200 {
        if key_fetches(&server).await == 1 {
            in_flight = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(in_flight, "the slow refresh must have reached the issuer");

    // A fresh token (not cached) with a known kid verifies while the refresh is provably running.
    let known = authenticator
        .verify_token(&token(&DevIssuer::new(), "fresh-tenant"))
        .await;
    assert!(known.is_ok());
    assert!(!slow.is_finished(), "the refresh was still in flight");
    assert!(
        slow.await.unwrap().is_ok(),
        "the rotated key is accepted once the refresh ends"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_that_never_comes_up_means_not_ready_with_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let authenticator = config_for(&server).clock(clock()).build().unwrap();

    let mut delays_seen = Vec::new();
    for _ in 0..500 {
        let status = authenticator.key_status();
        if let Some(delay) = status.current_retry_delay
            && delays_seen.last() != Some(&delay)
        {
            delays_seen.push(delay);
        }
        if status.refresh_failed >= 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = authenticator.key_status();
    assert!(!status.ready);
    assert!(status.refresh_failed >= 5, "{status:?}");
    assert!(status.last_refresh_error.unwrap().contains("503"));
    // Backoff grows from 10 ms and stays at the 40 ms cap.
    assert!(
        delays_seen.windows(2).all(|pair| pair[0] < pair[1]),
        "{delays_seen:?}"
    );
    assert_eq!(delays_seen.last(), Some(&Duration::from_millis(40)));

    let outcome = authenticator
        .verify_token(&token(&DevIssuer::new(), "t"))
        .await;
    assert_eq!(outcome.unwrap_err(), AuthError::KeysUnavailable);
    // A token that is broken on its face is still a plain rejection.
    let outcome = authenticator.authenticate("Bearer not-a-token").await;
    assert_eq!(
        outcome.unwrap_err(),
        AuthError::Rejected(Rejection::MalformedToken)
    );
    assert!(
        !authenticator
            .wait_until_ready(Duration::from_millis(20))
            .await
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unusable_key_set_keeps_the_previous_keys() {
    let server = MockServer::start().await;
    let jwks = serde_json::json!({
        "keys": [DevIssuer::weak_rsa_1024_jwk("weak"), DevIssuer::new().jwk()]
    })
    .to_string();
    serve_keys(&server, jwks, Duration::ZERO).await;
    let authenticator = ready_authenticator(config_for(&server), clock()).await;
    assert_eq!(
        authenticator.key_status().key_count,
        1,
        "the weak key is skipped, the rest serves"
    );

    server.reset().await;
    let only_weak =
        serde_json::json!({ "keys": [DevIssuer::weak_rsa_1024_jwk("weak")] }).to_string();
    serve_keys(&server, only_weak, Duration::ZERO).await;
    let error = authenticator.refresh_keys_now().await.unwrap_err();
    assert_eq!(error, KeySourceError::NoUsableKeys { skipped: 1 });
    assert_eq!(authenticator.key_status().key_count, 1);
    assert!(
        authenticator
            .verify_token(&token(&DevIssuer::new(), "t"))
            .await
            .is_ok()
    );
}

fn fetcher() -> KeyFetcher {
    KeyFetcher::new(Duration::from_secs(5)).unwrap()
}

#[tokio::test]
async fn an_oversize_document_is_refused() {
    let server = MockServer::start().await;
    let huge = format!(
        "{{\"keys\":[],\"padding\":\"{}\"}}",
        "x".repeat(1024 * 1024)
    );
    Mock::given(path("/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_string(huge))
        .mount(&server)
        .await;
    let error = fetcher()
        .fetch_jwks(&format!("{}/keys", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, KeySourceError::DocumentTooLarge { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_non_200_answer_is_refused() {
    let server = MockServer::start().await;
    for status in [201, 203, 204, 404, 500] {
        server.reset().await;
        Mock::given(path("/keys"))
            .respond_with(
                ResponseTemplate::new(status).set_body_string(DevIssuer::new().jwks_json()),
            )
            .mount(&server)
            .await;
        let error = fetcher()
            .fetch_jwks(&format!("{}/keys", server.uri()))
            .await
            .unwrap_err();
        assert!(
            matches!(error, KeySourceError::UnexpectedStatus { status: found, .. } if found == status)
        );
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/keys"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", format!("{}/elsewhere", server.uri())),
        )
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200).set_body_string(DevIssuer::new().jwks_json()))
        .expect(0)
        .mount(&server)
        .await;
    let error = fetcher()
        .fetch_jwks(&format!("{}/keys", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, KeySourceError::UnexpectedStatus { status: 302, .. }),
        "{error:?}"
    );
    server.verify().await;
}

#[tokio::test]
async fn plain_http_to_other_hosts_is_refused_before_any_request() {
    // Both the configured URL and a jwks_uri found in the document are checked.
    let error = fetcher()
        .fetch_jwks("http://10.255.255.1/keys")
        .await
        .unwrap_err();
    assert!(
        matches!(error, KeySourceError::RefusedUrl { .. }),
        "{error:?}"
    );

    let server = MockServer::start().await;
    let configuration = DevIssuer::new()
        .openid_configuration_json("https://api.botframework.com", "http://keys.example/keys");
    Mock::given(path("/openid"))
        .respond_with(ResponseTemplate::new(200).set_body_string(configuration))
        .mount(&server)
        .await;
    let error = fetcher()
        .fetch_from_openid_configuration(&format!("{}/openid", server.uri()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, KeySourceError::RefusedUrl { ref url, .. } if url == "http://keys.example/keys")
    );
}

#[tokio::test]
async fn an_openid_configuration_without_jwks_uri_is_refused() {
    let server = MockServer::start().await;
    Mock::given(path("/openid"))
        .respond_with(ResponseTemplate::new(200).set_body_string(r#"{"issuer":"x"}"#))
        .mount(&server)
        .await;
    let error = fetcher()
        .fetch_from_openid_configuration(&format!("{}/openid", server.uri()))
        .await
        .unwrap_err();
    assert_eq!(error, KeySourceError::MissingJwksUri);
}

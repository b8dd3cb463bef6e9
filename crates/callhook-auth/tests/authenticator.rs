//! The authenticator with a fixed key set: bearer parsing, the verified-token cache and its limits.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers: a panic is a failing test"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callhook_auth::testing::DevIssuer;
use callhook_auth::{AuthError, Authenticator, ManualClock, Rejection, Setting, UnixTime};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const APP_ID: &str = "bot-app-id";
const NOW: u64 = 1_700_000_000;

fn setup() -> (Authenticator, Arc<ManualClock>, DevIssuer) {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(NOW)));
    let issuer = DevIssuer::new();
    let authenticator = Authenticator::builder(APP_ID)
        .static_keys(issuer.key_set())
        .clock(clock.clone())
        .build()
        .unwrap();
    (authenticator, clock, issuer)
}

fn standard_token(issuer: &DevIssuer, tenant: &str) -> String {
    issuer.mint(&DevIssuer::standard_claims(
        APP_ID,
        tenant,
        UnixTime::from_secs(NOW),
    ))
}

/// Authenticates a header value: "accepted" or the error's reason.
async fn check(authenticator: &Authenticator, header_value: &str) -> String {
    match authenticator.authenticate(header_value).await {
        Ok(_) => "accepted".to_owned(),
        Err(error) => error.reason().to_owned(),
    }
}

#[tokio::test]
async fn bearer_scheme_variants() {
    let (authenticator, _, issuer) = setup();
    let token = standard_token(&issuer, "t");
    let cases = [
        (format!("Bearer {token}"), "accepted"),
        (format!("bearer {token}"), "accepted"),
        (format!("BEARER    {token}"), "accepted"),
        (format!("Basic {token}"), "malformed_authorization"),
        (format!("Bearer{token}"), "malformed_authorization"),
        (format!("Bearer {token} extra"), "malformed_authorization"),
        (token.clone(), "malformed_authorization"),
        (String::new(), "malformed_authorization"),
        ("Bearer ".to_owned(), "malformed_authorization"),
    ];
    for (header_value, expected) in cases {
        assert_eq!(
            check(&authenticator, &header_value).await,
            expected,
            "{header_value:.20}"
        );
    }
}

#[tokio::test]
async fn a_payload_swapped_under_a_cached_signature_is_rejected() {
    let (authenticator, _, issuer) = setup();
    let token = standard_token(&issuer, "tenant-a");
    assert!(authenticator.verify_token(&token).await.is_ok());
    assert!(authenticator.verify_token(&token).await.is_ok());
    assert!(authenticator.is_cached(&token));
    assert!(
        authenticator.verify_token(&token).await.is_ok(),
        "the cached token still passes"
    );

    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["tid"] = json!("tenant-b");
    let swapped_payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let forged = format!("{}.{swapped_payload}.{}", parts[0], parts[2]);
    assert_eq!(
        authenticator.verify_token(&forged).await.unwrap_err(),
        AuthError::Rejected(Rejection::BadSignature)
    );

    // Swapping the header, or appending to the token, misses the cache the same way.
    let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "RS256", "kid": issuer.kid() }).to_string());
    let forged_header = format!("{header}.{}.{}", parts[1], parts[2]);
    assert_eq!(
        authenticator
            .verify_token(&forged_header)
            .await
            .unwrap_err(),
        AuthError::Rejected(Rejection::BadSignature)
    );
    let extended = format!("{token}.{}", parts[2]);
    assert_eq!(
        authenticator.verify_token(&extended).await.unwrap_err(),
        AuthError::Rejected(Rejection::MalformedToken)
    );
}

#[tokio::test]
async fn a_token_is_cached_from_its_second_verification_and_one_off_tokens_never() {
    let (authenticator, _, issuer) = setup();
    let token = standard_token(&issuer, "t");
    assert!(authenticator.verify_token(&token).await.is_ok());
    assert!(!authenticator.is_cached(&token), "seen once: not cached");
    assert!(authenticator.verify_token(&token).await.is_ok());
    assert!(authenticator.is_cached(&token), "seen twice: cached");

    // Tokens used once each (a distinct `jti`) leave nothing behind.
    let one_offs: Vec<String> = (0..50)
        .map(|number| {
            let mut claims = DevIssuer::standard_claims(APP_ID, "t", UnixTime::from_secs(NOW));
            claims["jti"] = json!(format!("one-off-{number}"));
            issuer.mint(&claims)
        })
        .collect();
    for one_off in &one_offs {
        assert!(authenticator.verify_token(one_off).await.is_ok());
    }
    assert!(
        one_offs
            .iter()
            .all(|one_off| !authenticator.is_cached(one_off))
    );
    assert!(
        authenticator.is_cached(&token),
        "the token in use stays cached"
    );

    // A refused token is never cached, however often it comes.
    // (Signed by another key under the accepted `kid`.)
    let forged = DevIssuer::rotated().mint_with_header(
        &json!({ "alg": "RS256", "kid": issuer.kid() }),
        &DevIssuer::standard_claims(APP_ID, "t", UnixTime::from_secs(NOW)),
    );
    for _ in 0..3 {
        assert!(authenticator.verify_token(&forged).await.is_err());
    }
    assert!(!authenticator.is_cached(&forged));
}

#[tokio::test]
async fn a_cache_hit_still_checks_the_time_window() {
    let (authenticator, clock, issuer) = setup();
    let token = standard_token(&issuer, "t");
    assert!(authenticator.verify_token(&token).await.is_ok());
    assert!(authenticator.verify_token(&token).await.is_ok());
    assert!(
        authenticator.is_cached(&token),
        "the time window is checked on a hit"
    );

    // exp = NOW + 300, leeway 300: valid until NOW + 599, expired from NOW + 600.
    clock.set(UnixTime::from_secs(NOW + 599));
    assert!(authenticator.verify_token(&token).await.is_ok());
    clock.set(UnixTime::from_secs(NOW + 600));
    assert_eq!(
        authenticator.verify_token(&token).await.unwrap_err(),
        AuthError::Rejected(Rejection::Expired)
    );

    // A clock that goes back before nbf - leeway makes the cached token not yet valid.
    clock.set(UnixTime::from_secs(NOW - 301));
    assert_eq!(
        authenticator.verify_token(&token).await.unwrap_err(),
        AuthError::Rejected(Rejection::NotYetValid)
    );
}

#[tokio::test]
async fn rejections_are_not_cached_and_acceptances_are_shared_by_clones() {
    let (authenticator, clock, issuer) = setup();
    let early = issuer.mint(&DevIssuer::standard_claims(
        APP_ID,
        "t",
        UnixTime::from_secs(NOW + 400),
    ));
    assert_eq!(
        authenticator.verify_token(&early).await.unwrap_err(),
        AuthError::Rejected(Rejection::NotYetValid)
    );
    clock.set(UnixTime::from_secs(NOW + 400));
    assert!(
        authenticator.verify_token(&early).await.is_ok(),
        "a refused token was not remembered"
    );

    let clone = authenticator.clone();
    let claims = clone.verify_token(&early).await.unwrap();
    assert_eq!(claims.tenant_id(), "t");
    assert!(authenticator.is_ready());
    assert_eq!(authenticator.key_status().key_count, 1);
}

#[tokio::test]
async fn the_tenant_allow_list_applies_through_the_authenticator() {
    let clock = Arc::new(ManualClock::new(UnixTime::from_secs(NOW)));
    let issuer = DevIssuer::new();
    let authenticator = Authenticator::builder(APP_ID)
        .tenants(["allowed"])
        .static_keys(issuer.key_set())
        .clock(clock)
        .build()
        .unwrap();
    assert!(
        authenticator
            .verify_token(&standard_token(&issuer, "allowed"))
            .await
            .is_ok()
    );
    let other = authenticator
        .verify_token(&standard_token(&issuer, "other"))
        .await;
    assert_eq!(other.unwrap_err().reason(), "tenant_not_allowed");
}

#[tokio::test]
async fn a_fixed_key_set_never_refreshes_on_unknown_kids() {
    let (authenticator, _, _) = setup();
    let unknown = standard_token(&DevIssuer::rotated(), "t");
    assert_eq!(
        authenticator.verify_token(&unknown).await.unwrap_err(),
        AuthError::Rejected(Rejection::UnknownKid)
    );
    assert_eq!(authenticator.key_status().unknown_kid_refreshes, 0);
    assert_eq!(AuthError::KeysUnavailable.reason(), "keys_unavailable");
}

#[test]
fn build_refuses_settings_that_cannot_work_and_names_them() {
    let bot = || Authenticator::builder("bot");
    let cases = [
        (Authenticator::builder(""), Setting::AppId),
        (Authenticator::builder(" bot "), Setting::AppId),
        (
            bot().openid_configuration("http://keys.example.com/openid"),
            Setting::OpenidConfiguration,
        ),
        (
            bot().openid_configuration("ftp://127.0.0.1/openid"),
            Setting::OpenidConfiguration,
        ),
        (
            bot().openid_configuration("not a url"),
            Setting::OpenidConfiguration,
        ),
        (bot().issuers(Vec::<String>::new()), Setting::Issuers),
        (bot().issuers([""]), Setting::Issuers),
        (bot().tenants([" "]), Setting::Tenants),
        (bot().leeway(Duration::from_secs(7_200)), Setting::Leeway),
        (
            bot().refresh(Duration::from_millis(999), Duration::from_secs(30)),
            Setting::RefreshInterval,
        ),
        (bot().fetch_timeout(Duration::ZERO), Setting::FetchTimeout),
        (
            bot().retry_backoff(Duration::ZERO, Duration::from_secs(1)),
            Setting::RetryInitial,
        ),
        (
            bot().retry_backoff(Duration::from_millis(10), Duration::from_millis(5)),
            Setting::RetryMax,
        ),
        (bot().cache_capacity(0), Setting::CacheCapacity),
    ];
    for (builder, setting) in cases {
        let config = builder.config().clone();
        assert_eq!(
            builder.validate().unwrap_err().setting,
            setting,
            "{config:?}"
        );
        let error = builder
            .static_keys(DevIssuer::new().key_set())
            .build()
            .unwrap_err();
        assert_eq!(error.setting, setting, "{config:?}: {error}");
        assert!(error.to_string().contains(setting.name()), "{error}");
    }
    // The edges of the ranges are accepted, and so is plain http on loopback.
    let edges = bot()
        .openid_configuration("http://127.0.0.1:9/openid")
        .leeway(Duration::from_secs(3_600))
        .refresh(Duration::from_secs(1), Duration::ZERO)
        .fetch_timeout(Duration::from_millis(1))
        .retry_backoff(Duration::from_millis(1), Duration::from_millis(1))
        .cache_capacity(1);
    assert_eq!(edges.validate(), Ok(()));
}

#[test]
fn build_without_a_tokio_runtime_fails_early_when_keys_must_be_fetched() {
    // Outside any runtime: the key refresh could never run, so building says so.
    let error = Authenticator::builder("bot").build().unwrap_err();
    assert_eq!(error.setting, Setting::Runtime);
    assert!(error.to_string().contains("tokio runtime"), "{error}");
    // Static keys need no runtime.
    assert!(
        Authenticator::builder("bot")
            .static_keys(DevIssuer::new().key_set())
            .build()
            .is_ok()
    );
}

#[tokio::test]
async fn build_inside_a_runtime_starts_the_key_refresh() {
    // A loopback URL nobody listens on: built, running, not ready.
    let authenticator = Authenticator::builder("bot")
        .openid_configuration("http://127.0.0.1:9/openid")
        .retry_backoff(
            std::time::Duration::from_millis(50),
            std::time::Duration::from_millis(100),
        )
        .build()
        .unwrap();
    assert!(authenticator.is_refresh_alive());
    assert!(!authenticator.is_ready());
}

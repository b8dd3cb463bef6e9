//! The `[auth]` section: contract names and defaults, unknown keys, and validation naming the key.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a failing test"
)]

use callhook_auth::{AuthConfig, OPENID_CONFIGURATION_PUBLIC};
use serde_json::{Value, json};

fn parse(section: Value) -> Result<AuthConfig, String> {
    serde_json::from_value(section).map_err(|error| error.to_string())
}

#[test]
fn defaults_are_the_contract_defaults() {
    let config = parse(json!({ "app_id": "bot" })).unwrap();
    assert_eq!(config, AuthConfig::new("bot"));
    assert_eq!(config.openid_configuration, OPENID_CONFIGURATION_PUBLIC);
    assert_eq!(
        config.issuers,
        [
            "https://api.botframework.com",
            "https://graph.microsoft.com"
        ]
    );
    assert!(config.tenants.is_empty());
    assert_eq!(config.leeway_secs, 300);
    assert_eq!(config.refresh_cooldown_secs, 30);
    assert_eq!(config.refresh_interval_secs, 43_200);
    assert_eq!(config.fetch_timeout_ms, 5_000);
    assert_eq!(config.retry_initial_ms, 1_000);
    assert_eq!(config.retry_max_ms, 300_000);
    assert!(config.validate().is_ok());
}

#[test]
fn unknown_and_missing_keys_are_errors_naming_the_key() {
    let unknown = parse(json!({ "app_id": "bot", "leeway": 5 })).unwrap_err();
    assert!(unknown.contains("unknown field `leeway`"), "{unknown}");
    let missing = parse(json!({ "issuers": [] })).unwrap_err();
    assert!(missing.contains("missing field `app_id`"), "{missing}");
    let wrong_type = parse(json!({ "app_id": "bot", "leeway_secs": "300" })).unwrap_err();
    assert!(wrong_type.contains("invalid type"), "{wrong_type}");
}

#[test]
fn validation_names_the_bad_key() {
    let cases = [
        (json!({ "app_id": "" }), "app_id"),
        (json!({ "app_id": " bot" }), "app_id"),
        (
            json!({ "app_id": "bot", "openid_configuration": "http://keys.example/openid" }),
            "openid_configuration",
        ),
        (
            json!({ "app_id": "bot", "openid_configuration": "ftp://127.0.0.1/openid" }),
            "openid_configuration",
        ),
        (
            json!({ "app_id": "bot", "openid_configuration": "not a url" }),
            "openid_configuration",
        ),
        (json!({ "app_id": "bot", "issuers": [] }), "issuers"),
        (json!({ "app_id": "bot", "issuers": [""] }), "issuers"),
        (json!({ "app_id": "bot", "tenants": [" "] }), "tenants"),
        (
            json!({ "app_id": "bot", "leeway_secs": 86_400 }),
            "leeway_secs",
        ),
        (
            json!({ "app_id": "bot", "refresh_interval_secs": 0 }),
            "refresh_interval_secs",
        ),
        (
            json!({ "app_id": "bot", "fetch_timeout_ms": 0 }),
            "fetch_timeout_ms",
        ),
        (
            json!({ "app_id": "bot", "cache_capacity": 0 }),
            "cache_capacity",
        ),
        (
            json!({ "app_id": "bot", "retry_initial_ms": 0 }),
            "retry_initial_ms",
        ),
        (
            json!({ "app_id": "bot", "retry_initial_ms": 10, "retry_max_ms": 5 }),
            "retry_max_ms",
        ),
    ];
    for (section, key) in cases {
        let error = parse(section.clone()).unwrap().validate().unwrap_err();
        assert_eq!(error.key, key, "{section}");
        assert!(error.to_string().starts_with(&format!("invalid `{key}`")));
    }
    let loopback = json!({ "app_id": "bot", "openid_configuration": "http://127.0.0.1:9/openid" });
    assert!(parse(loopback).unwrap().validate().is_ok());
}

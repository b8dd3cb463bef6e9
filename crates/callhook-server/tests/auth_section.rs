//! The `[auth]` section of the file: contract names and defaults, unknown keys, and every setting
//! the library refuses named by its key in the file.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is a failing test"
)]

use std::time::Duration;

use callhook_auth::{OPENID_CONFIGURATION_PUBLIC, Setting};
use callhook_server::config::{AuthSection, Config, auth_key};

fn load(auth: &str) -> Result<Config, String> {
    Config::from_toml_str(&format!("[auth]\n{auth}\n")).map_err(|error| error.to_string())
}

#[test]
fn defaults_are_the_contract_defaults() {
    let config = load(r#"app_id = "bot""#).unwrap();
    assert_eq!(config.auth, AuthSection::new("bot"));
    let auth = &config.auth;
    assert_eq!(auth.openid_configuration, OPENID_CONFIGURATION_PUBLIC);
    assert_eq!(
        auth.issuers,
        [
            "https://api.botframework.com",
            "https://graph.microsoft.com"
        ]
    );
    assert!(auth.tenants.is_empty());
    assert_eq!(auth.leeway_secs, 300);
    assert_eq!(auth.refresh_cooldown_secs, 30);
    assert_eq!(auth.refresh_interval_secs, 43_200);
    assert_eq!(auth.fetch_timeout_ms, 5_000);
    assert_eq!(auth.cache_capacity, 10_000);
    assert_eq!(auth.retry_initial_ms, 1_000);
    assert_eq!(auth.retry_max_ms, 300_000);
    // The section's defaults are the library's, converted to the file's units.
    assert_eq!(
        auth.builder().config(),
        callhook_auth::Authenticator::builder("bot").config()
    );
}

#[test]
fn every_key_reaches_the_library_in_its_unit() {
    let config = load(
        r#"app_id = "bot"
openid_configuration = "http://127.0.0.1:9/openid"
issuers = ["https://issuer.example"]
tenants = ["t1"]
leeway_secs = 7
refresh_cooldown_secs = 8
refresh_interval_secs = 9
fetch_timeout_ms = 10
cache_capacity = 11
retry_initial_ms = 12
retry_max_ms = 13"#,
    )
    .unwrap();
    let builder = config.auth.builder();
    let settings = builder.config();
    assert_eq!(settings.app_id, "bot");
    assert_eq!(settings.openid_configuration, "http://127.0.0.1:9/openid");
    assert_eq!(settings.issuers, ["https://issuer.example"]);
    assert_eq!(settings.tenants, ["t1"]);
    assert_eq!(settings.leeway, Duration::from_secs(7));
    assert_eq!(
        settings.refresh.unknown_kid_cooldown,
        Duration::from_secs(8)
    );
    assert_eq!(settings.refresh.interval, Duration::from_secs(9));
    assert_eq!(settings.fetch_timeout, Duration::from_millis(10));
    assert_eq!(settings.cache_capacity, 11);
    assert_eq!(settings.refresh.retry_initial, Duration::from_millis(12));
    assert_eq!(settings.refresh.retry_max, Duration::from_millis(13));
}

#[test]
fn unknown_and_missing_keys_are_errors_naming_the_key() {
    let unknown = load("app_id = \"bot\"\nleeway = 5").unwrap_err();
    assert!(unknown.contains("leeway"), "{unknown}");
    let missing = load("issuers = []").unwrap_err();
    assert!(missing.contains("app_id"), "{missing}");
    let wrong_type = load("app_id = \"bot\"\nleeway_secs = \"300\"").unwrap_err();
    assert!(wrong_type.contains("leeway_secs"), "{wrong_type}");
}

#[test]
fn a_setting_the_library_refuses_is_named_by_its_key_in_the_file() {
    let cases = [
        (r#"app_id = """#, "app_id"),
        (r#"app_id = " bot""#, "app_id"),
        (
            "app_id = \"bot\"\nopenid_configuration = \"http://keys.example/openid\"",
            "openid_configuration",
        ),
        ("app_id = \"bot\"\nissuers = []", "issuers"),
        ("app_id = \"bot\"\ntenants = [\" \"]", "tenants"),
        ("app_id = \"bot\"\nleeway_secs = 86400", "leeway_secs"),
        (
            "app_id = \"bot\"\nrefresh_interval_secs = 0",
            "refresh_interval_secs",
        ),
        ("app_id = \"bot\"\nfetch_timeout_ms = 0", "fetch_timeout_ms"),
        ("app_id = \"bot\"\ncache_capacity = 0", "cache_capacity"),
        ("app_id = \"bot\"\nretry_initial_ms = 0", "retry_initial_ms"),
        (
            "app_id = \"bot\"\nretry_initial_ms = 10\nretry_max_ms = 5",
            "retry_max_ms",
        ),
    ];
    for (auth, key) in cases {
        let error = load(auth).unwrap_err();
        assert!(error.contains(&format!("auth.{key}: ")), "{auth}: {error}");
    }
    // Every library setting has a key in the file (the runtime is not a setting of the file).
    assert_eq!(auth_key(Setting::Leeway), "leeway_secs");
    assert_eq!(auth_key(Setting::RefreshCooldown), "refresh_cooldown_secs");
    assert_eq!(auth_key(Setting::Runtime), "runtime");
}

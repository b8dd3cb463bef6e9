//! The `[auth]` section: what the server embeds and what
//! [`crate::AuthenticatorBuilder::from_config`] takes.

use crate::verify::{DEFAULT_ISSUERS, DEFAULT_LEEWAY_SECS, VerifierConfig};
use serde::Deserialize;
use std::time::Duration;
use url::{Host, Url};

/// The public cloud's OIDC configuration for calling-platform tokens (documented by Microsoft).
pub const OPENID_CONFIGURATION_PUBLIC: &str =
    "https://api.aps.skype.com/v1/.well-known/OpenIdConfiguration";

/// GCC High (US Government): documented for Bot Framework government bots; see the README.
pub const OPENID_CONFIGURATION_GCCH: &str =
    "https://apigcch.botframework.azure.us/v1/.well-known/OpenIdConfiguration";

/// `DoD` (US Government): INFERRED from the GCC High pattern and the documented `apiDoD` host; verify
/// it against Microsoft's current documentation before relying on it (see the README).
pub const OPENID_CONFIGURATION_DOD: &str =
    "https://apiDoD.botframework.azure.us/v1/.well-known/OpenIdConfiguration";

/// Settings of the authenticator. Key names and defaults are part of callhook's contract.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    /// The bot's app id: the expected `aud`. Required.
    pub app_id: String,
    /// Where the signing keys are published (an OIDC configuration whose `jwks_uri` is followed).
    #[serde(default = "default_openid_configuration")]
    pub openid_configuration: String,
    /// Accepted issuers, exact match.
    #[serde(default = "default_issuers")]
    pub issuers: Vec<String>,
    /// Allow-list of tenants (`tid`); empty means any tenant.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    #[serde(default = "default_leeway_secs")]
    pub leeway_secs: u64,
    /// At most one key refresh per this many seconds is triggered by unknown `kid`s.
    #[serde(default = "default_refresh_cooldown_secs")]
    pub refresh_cooldown_secs: u64,
    /// Seconds between periodic refreshes (up to 5% jitter is added).
    #[serde(default = "default_refresh_interval_secs")]
    pub refresh_interval_secs: u64,
    /// Timeout of each HTTP request for keys, in milliseconds.
    #[serde(default = "default_fetch_timeout_ms")]
    pub fetch_timeout_ms: u64,
    /// How many verified tokens are remembered (the platform reuses a token for its lifetime).
    #[serde(default = "default_cache_capacity")]
    pub cache_capacity: u64,
    /// First delay before retrying a failed key fetch, in milliseconds (doubles up to the maximum).
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest delay between retries of failed key fetches, in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
}

fn default_openid_configuration() -> String {
    OPENID_CONFIGURATION_PUBLIC.to_owned()
}
fn default_issuers() -> Vec<String> {
    DEFAULT_ISSUERS
        .iter()
        .map(|issuer| (*issuer).to_owned())
        .collect()
}
fn default_leeway_secs() -> u64 {
    DEFAULT_LEEWAY_SECS
}
fn default_refresh_cooldown_secs() -> u64 {
    30
}
fn default_refresh_interval_secs() -> u64 {
    12 * 60 * 60
}
fn default_fetch_timeout_ms() -> u64 {
    5_000
}
fn default_cache_capacity() -> u64 {
    10_000
}
fn default_retry_initial_ms() -> u64 {
    1_000
}
fn default_retry_max_ms() -> u64 {
    5 * 60 * 1_000
}

/// A setting that cannot work, naming its key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{key}`: {problem}")]
pub struct ConfigError {
    /// The key, as written in the `[auth]` section (for example `app_id`), or `runtime` when no
    /// tokio runtime runs where the authenticator is built.
    pub key: &'static str,
    /// What was wrong and what was expected.
    pub problem: String,
}

impl ConfigError {
    fn new(key: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            key,
            problem: problem.into(),
        }
    }
}

impl AuthConfig {
    /// The defaults for this app id: public cloud, default issuers, any tenant.
    #[must_use]
    pub fn new(app_id: &str) -> AuthConfig {
        AuthConfig {
            app_id: app_id.to_owned(),
            openid_configuration: default_openid_configuration(),
            issuers: default_issuers(),
            tenants: Vec::new(),
            leeway_secs: default_leeway_secs(),
            refresh_cooldown_secs: default_refresh_cooldown_secs(),
            refresh_interval_secs: default_refresh_interval_secs(),
            fetch_timeout_ms: default_fetch_timeout_ms(),
            cache_capacity: default_cache_capacity(),
            retry_initial_ms: default_retry_initial_ms(),
            retry_max_ms: default_retry_max_ms(),
        }
    }

    /// Checks every setting, naming the first bad key.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the key and the problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.app_id.trim().is_empty() {
            return Err(ConfigError::new("app_id", "must not be empty"));
        }
        if self.app_id.trim() != self.app_id {
            return Err(ConfigError::new(
                "app_id",
                "must not have surrounding whitespace",
            ));
        }
        check_key_url(&self.openid_configuration)
            .map_err(|problem| ConfigError::new("openid_configuration", problem))?;
        if self.issuers.is_empty() {
            return Err(ConfigError::new("issuers", "must list at least one issuer"));
        }
        if self.issuers.iter().any(|issuer| issuer.trim().is_empty()) {
            return Err(ConfigError::new(
                "issuers",
                "must not contain empty entries",
            ));
        }
        if self.tenants.iter().any(|tenant| tenant.trim().is_empty()) {
            return Err(ConfigError::new(
                "tenants",
                "must not contain empty entries",
            ));
        }
        if self.leeway_secs > 3_600 {
            return Err(ConfigError::new(
                "leeway_secs",
                "expected at most 3600 seconds",
            ));
        }
        if self.refresh_interval_secs == 0 {
            return Err(ConfigError::new(
                "refresh_interval_secs",
                "expected a positive number",
            ));
        }
        if self.fetch_timeout_ms == 0 {
            return Err(ConfigError::new(
                "fetch_timeout_ms",
                "expected a positive number",
            ));
        }
        if self.cache_capacity == 0 {
            return Err(ConfigError::new(
                "cache_capacity",
                "expected a positive number",
            ));
        }
        if self.retry_initial_ms == 0 {
            return Err(ConfigError::new(
                "retry_initial_ms",
                "expected a positive number",
            ));
        }
        if self.retry_max_ms < self.retry_initial_ms {
            return Err(ConfigError::new(
                "retry_max_ms",
                "expected at least retry_initial_ms",
            ));
        }
        Ok(())
    }

    /// The claim checks of this configuration.
    #[must_use]
    pub fn verifier_config(&self) -> VerifierConfig {
        VerifierConfig {
            app_id: self.app_id.clone(),
            issuers: self.issuers.clone(),
            tenants: self.tenants.clone(),
            leeway: Duration::from_secs(self.leeway_secs),
        }
    }
}

/// Checks that a URL keys are fetched from is https, or http on a loopback host.
pub(crate) fn check_key_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|error| format!("not a URL ({error})"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err("plain http is only allowed for loopback hosts; expected https".to_owned()),
        other => Err(format!("scheme `{other}` is not allowed; expected https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(address)) => address.is_loopback(),
        Some(Host::Ipv6(address)) => address.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_urls_must_be_https_unless_loopback() {
        for allowed in [
            "https://api.aps.skype.com/v1/keys",
            "http://127.0.0.1:8080/keys",
            "http://127.8.9.1/keys",
            "http://[::1]:1/keys",
            "http://localhost:9/keys",
        ] {
            assert!(check_key_url(allowed).is_ok(), "{allowed}");
        }
        for refused in [
            "http://api.aps.skype.com/v1/keys",
            "http://10.0.0.1/keys",
            "http://localhost.evil.example/keys",
            "ftp://127.0.0.1/keys",
            "file:///etc/keys",
            "not a url",
        ] {
            assert!(check_key_url(refused).is_err(), "{refused}");
        }
    }
}

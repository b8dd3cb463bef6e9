//! The settings of an [`Authenticator`](crate::Authenticator), as
//! [`AuthenticatorBuilder`](crate::AuthenticatorBuilder) holds them, and their checks.

use crate::key_source::RefreshPolicy;
use crate::verify::VerifierConfig;
use std::fmt;
use std::time::Duration;

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

/// The longest clock skew allowed on `exp` and `nbf`.
pub const MAXIMUM_LEEWAY: Duration = Duration::from_secs(3_600);

/// Settings of an authenticator. Made by [`Authenticator::builder`](crate::Authenticator::builder)
/// and its setters; read back with [`Authenticator::config`](crate::Authenticator::config).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthConfig {
    /// The bot's app id: the expected `aud`.
    pub app_id: String,
    /// Where the signing keys are published (an OIDC configuration whose `jwks_uri` is followed).
    pub openid_configuration: String,
    /// Accepted issuers, exact match.
    pub issuers: Vec<String>,
    /// Allow-list of tenants (`tid`); empty means any tenant.
    pub tenants: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in whole seconds.
    pub leeway: Duration,
    /// When the keys are fetched again.
    pub refresh: RefreshPolicy,
    /// Timeout of each HTTP request for keys.
    pub fetch_timeout: Duration,
    /// How many verified tokens are remembered (the platform reuses a token for its lifetime).
    pub cache_capacity: u64,
}

/// One setting of an authenticator, as a [`ConfigError`] names it: the builder's setter, or
/// [`Setting::Runtime`] for the tokio runtime the keys are refreshed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Setting {
    /// The app id given to [`Authenticator::builder`](crate::Authenticator::builder).
    AppId,
    /// [`openid_configuration`](crate::AuthenticatorBuilder::openid_configuration).
    OpenidConfiguration,
    /// [`issuers`](crate::AuthenticatorBuilder::issuers).
    Issuers,
    /// [`tenants`](crate::AuthenticatorBuilder::tenants).
    Tenants,
    /// [`leeway`](crate::AuthenticatorBuilder::leeway).
    Leeway,
    /// The interval of [`refresh`](crate::AuthenticatorBuilder::refresh).
    RefreshInterval,
    /// The cooldown of [`refresh`](crate::AuthenticatorBuilder::refresh).
    RefreshCooldown,
    /// [`fetch_timeout`](crate::AuthenticatorBuilder::fetch_timeout).
    FetchTimeout,
    /// The first delay of [`retry_backoff`](crate::AuthenticatorBuilder::retry_backoff).
    RetryInitial,
    /// The longest delay of [`retry_backoff`](crate::AuthenticatorBuilder::retry_backoff).
    RetryMax,
    /// [`cache_capacity`](crate::AuthenticatorBuilder::cache_capacity).
    CacheCapacity,
    /// The tokio runtime the keys are refreshed on.
    Runtime,
}

impl Setting {
    /// The setting's name in `snake_case`, as the builder's setters spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Setting::AppId => "app_id",
            Setting::OpenidConfiguration => "openid_configuration",
            Setting::Issuers => "issuers",
            Setting::Tenants => "tenants",
            Setting::Leeway => "leeway",
            Setting::RefreshInterval => "refresh_interval",
            Setting::RefreshCooldown => "refresh_cooldown",
            Setting::FetchTimeout => "fetch_timeout",
            Setting::RetryInitial => "retry_initial",
            Setting::RetryMax => "retry_max",
            Setting::CacheCapacity => "cache_capacity",
            Setting::Runtime => "runtime",
        }
    }
}

impl fmt::Display for Setting {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.name())
    }
}

/// A setting that cannot work, naming it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid `{setting}`: {problem}")]
#[non_exhaustive]
pub struct ConfigError {
    /// The setting.
    pub setting: Setting,
    /// What was wrong and what was expected.
    pub problem: String,
}

impl ConfigError {
    pub(crate) fn new(setting: Setting, problem: impl Into<String>) -> ConfigError {
        ConfigError {
            setting,
            problem: problem.into(),
        }
    }
}

impl AuthConfig {
    /// The defaults for this app id: the public cloud's keys, the platform's issuers, any tenant,
    /// 300 s of leeway, [`RefreshPolicy::default`], 5 s per fetch, 10,000 remembered tokens.
    #[must_use]
    pub fn new(app_id: &str) -> AuthConfig {
        // The claim settings start from the verifier's defaults, so that those are written once.
        let VerifierConfig {
            app_id,
            issuers,
            tenants,
            leeway,
        } = VerifierConfig::for_app_id(app_id);
        AuthConfig {
            app_id,
            openid_configuration: OPENID_CONFIGURATION_PUBLIC.to_owned(),
            issuers,
            tenants,
            leeway,
            refresh: RefreshPolicy::default(),
            fetch_timeout: Duration::from_secs(5),
            cache_capacity: 10_000,
        }
    }

    /// Checks every setting, naming the first bad one.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the setting and the problem.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.app_id.trim().is_empty() {
            return Err(ConfigError::new(Setting::AppId, "must not be empty"));
        }
        if self.app_id.trim() != self.app_id {
            return Err(ConfigError::new(
                Setting::AppId,
                "must not start or end with whitespace",
            ));
        }
        check_key_url(&self.openid_configuration)
            .map_err(|problem| ConfigError::new(Setting::OpenidConfiguration, problem))?;
        if self.issuers.is_empty() {
            return Err(ConfigError::new(
                Setting::Issuers,
                "must list at least one issuer",
            ));
        }
        if self.issuers.iter().any(|issuer| issuer.trim().is_empty()) {
            return Err(ConfigError::new(
                Setting::Issuers,
                "must not contain empty entries",
            ));
        }
        if self.tenants.iter().any(|tenant| tenant.trim().is_empty()) {
            return Err(ConfigError::new(
                Setting::Tenants,
                "must not contain empty entries",
            ));
        }
        if self.leeway > MAXIMUM_LEEWAY {
            return Err(ConfigError::new(
                Setting::Leeway,
                format!("expected at most an hour, got {} s", self.leeway.as_secs()),
            ));
        }
        let positive = [
            (Setting::RefreshInterval, self.refresh.interval.as_secs()),
            (Setting::FetchTimeout, whole_millis(self.fetch_timeout)),
            (
                Setting::RetryInitial,
                whole_millis(self.refresh.retry_initial),
            ),
        ];
        for (setting, amount) in positive {
            if amount == 0 {
                let unit = if setting == Setting::RefreshInterval {
                    "second"
                } else {
                    "millisecond"
                };
                return Err(ConfigError::new(
                    setting,
                    format!("expected a positive duration of at least a {unit}"),
                ));
            }
        }
        if self.refresh.retry_max < self.refresh.retry_initial {
            return Err(ConfigError::new(
                Setting::RetryMax,
                "expected at least the first retry delay",
            ));
        }
        if self.cache_capacity == 0 {
            return Err(ConfigError::new(
                Setting::CacheCapacity,
                "expected a positive number of tokens",
            ));
        }
        Ok(())
    }

    /// The claim checks of these settings.
    #[must_use]
    pub fn verifier_config(&self) -> VerifierConfig {
        VerifierConfig {
            app_id: self.app_id.clone(),
            issuers: self.issuers.clone(),
            tenants: self.tenants.clone(),
            leeway: Duration::from_secs(self.leeway.as_secs()),
        }
    }
}

/// A duration in whole milliseconds, saturating.
fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Checks that a URL keys are fetched from is https, or http on a loopback host.
pub(crate) fn check_key_url(text: &str) -> Result<callhook_http::Url, String> {
    callhook_http::parse_https_or_loopback(text).map_err(|problem| problem.to_string())
}

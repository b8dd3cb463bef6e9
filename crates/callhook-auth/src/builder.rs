//! [`AuthenticatorBuilder`]: the one way to make an [`Authenticator`], checked before anything
//! runs.

use std::sync::Arc;
use std::time::Duration;

use crate::config::Setting;
use crate::{AuthConfig, Authenticator, Clock, ConfigError, KeySet, SystemClock};

/// Builds an [`Authenticator`]: the bot's app id, then whatever differs from the defaults (the
/// public cloud's OpenID configuration, the platform's issuers, any tenant, 300 s leeway).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), callhook_auth::ConfigError> {
/// use callhook_auth::Authenticator;
///
/// let authenticator = Authenticator::builder("my-bot-app-id")   // the expected `aud`
///     .tenants(["72f988bf-86f1-41af-91ab-2d7cd011db47"])
///     .build()?;                                                // a bad setting fails here
/// # drop(authenticator);
/// # Ok(())
/// # }
/// ```
///
/// [`build`](AuthenticatorBuilder::build) fails, naming the setting, on an empty app id, a URL
/// that is neither https nor http on loopback, an out-of-range duration, or no tokio runtime to
/// refresh the keys on. Tests use [`static_keys`](AuthenticatorBuilder::static_keys) (no IO) and
/// [`clock`](AuthenticatorBuilder::clock).
#[derive(Clone, Debug)]
#[must_use = "an AuthenticatorBuilder does nothing until `build` is called"]
pub struct AuthenticatorBuilder {
    config: AuthConfig,
    clock: Option<Arc<dyn Clock>>,
    static_keys: Option<KeySet>,
}

impl Authenticator {
    /// A builder for the bot whose app id is `app_id` (the `aud` every token must carry).
    pub fn builder(app_id: &str) -> AuthenticatorBuilder {
        AuthenticatorBuilder::from_config(AuthConfig::new(app_id))
    }
}

impl AuthenticatorBuilder {
    /// A builder starting from every setting of `config` (for example those of a running
    /// authenticator, [`Authenticator::config`]).
    pub fn from_config(config: AuthConfig) -> AuthenticatorBuilder {
        AuthenticatorBuilder {
            config,
            clock: None,
            static_keys: None,
        }
    }

    /// Where the signing keys are published: an OpenID configuration whose `jwks_uri` is
    /// followed. Default: the public cloud's ([`crate::OPENID_CONFIGURATION_PUBLIC`]).
    pub fn openid_configuration(mut self, url: impl AsRef<str>) -> AuthenticatorBuilder {
        url.as_ref()
            .clone_into(&mut self.config.openid_configuration);
        self
    }

    /// The accepted issuers, matched exactly. Default: [`crate::DEFAULT_ISSUERS`].
    pub fn issuers<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        issuers: I,
    ) -> AuthenticatorBuilder {
        self.config.issuers = issuers.into_iter().map(Into::into).collect();
        self
    }

    /// The tenants (`tid`) accepted; none (the default) accepts any tenant.
    pub fn tenants<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        tenants: I,
    ) -> AuthenticatorBuilder {
        self.config.tenants = tenants.into_iter().map(Into::into).collect();
        self
    }

    /// The clock skew allowed on `exp` and `nbf` (whole seconds; at most an hour). Default 300 s.
    pub fn leeway(mut self, leeway: Duration) -> AuthenticatorBuilder {
        self.config.leeway = leeway;
        self
    }

    /// How often the keys are fetched again (whole seconds), and the shortest time between two
    /// fetches that unknown `kid`s trigger. Defaults: 12 hours and 30 s.
    pub fn refresh(mut self, interval: Duration, cooldown: Duration) -> AuthenticatorBuilder {
        self.config.refresh.interval = interval;
        self.config.refresh.unknown_kid_cooldown = cooldown;
        self
    }

    /// The timeout of each HTTP request for keys. Default 5 s.
    pub fn fetch_timeout(mut self, timeout: Duration) -> AuthenticatorBuilder {
        self.config.fetch_timeout = timeout;
        self
    }

    /// The backoff of failed key fetches: the first delay, doubled up to `max`. Defaults 1 s and
    /// 5 minutes.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> AuthenticatorBuilder {
        self.config.refresh.retry_initial = initial;
        self.config.refresh.retry_max = max;
        self
    }

    /// How many verified tokens are remembered. Default 10,000.
    pub fn cache_capacity(mut self, capacity: u64) -> AuthenticatorBuilder {
        self.config.cache_capacity = capacity;
        self
    }

    /// The clock tokens are checked against. Default: the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> AuthenticatorBuilder {
        self.clock = Some(clock);
        self
    }

    /// A fixed key set instead of the published keys: no IO and no runtime needed, ready at once.
    /// For tests, and for users who manage keys themselves.
    pub fn static_keys(mut self, keys: KeySet) -> AuthenticatorBuilder {
        self.static_keys = Some(keys);
        self
    }

    /// The settings so far.
    #[must_use]
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// Checks the settings as [`build`](AuthenticatorBuilder::build) does, without building: for
    /// a configuration check that reports before anything starts. The runtime is not checked.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.config.validate()
    }

    /// The settings, checked, for [`Authenticator::reconfigured`].
    pub(crate) fn into_checked_config(self) -> Result<AuthConfig, ConfigError> {
        self.config.validate()?;
        Ok(self.config)
    }

    /// The authenticator; with published keys, their refresh starts on the current tokio runtime.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the setting that cannot work, or `runtime` when the keys are to be
    /// fetched and there is no tokio runtime to fetch them on.
    pub fn build(self) -> Result<Authenticator, ConfigError> {
        self.config.validate()?;
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        if let Some(keys) = self.static_keys {
            return Ok(Authenticator::with_static_keys(self.config, keys, clock));
        }
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(ConfigError::new(
                Setting::Runtime,
                "the signing keys are refreshed on a tokio runtime, and none is running here: \
                 build the authenticator inside one",
            ));
        }
        Authenticator::new(self.config, clock).map_err(|error| {
            ConfigError::new(
                Setting::OpenidConfiguration,
                format!("the keys cannot be fetched: {error}"),
            )
        })
    }
}

//! The piece a web handler calls: header in, verified claims or a typed error out.

use crate::admission::Doorkeeper;
use crate::claims::VerifiedClaims;
use crate::clock::Clock;
use crate::config::AuthConfig;
use crate::config::ConfigError;
use crate::jwk::KeySet;
use crate::key_source::{BackgroundRefresh, KeySource, KeySourceError, KeyStatus};
use crate::verify::{Rejection, Verifier};
use moka::Expiry;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The hasher of the verified-token cache: foldhash, randomly seeded, hashes a platform token
/// (~600 bytes, looked up on every request) in a fraction of the time of the standard library's hasher. Its weaker resistance
/// to chosen collisions does not matter here: only tokens the platform signed are ever inserted.
type TokenHasher = foldhash::fast::RandomState;

/// Why a request was not authenticated.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No signing keys were ever loaded (the issuer has been unreachable since start): the token
    /// could not be checked at all. Answer 503 with `Retry-After`, not 401.
    #[error("signing keys are not available yet")]
    KeysUnavailable,
    /// The token was refused. Answer 401 for every reason, without saying which.
    #[error("token rejected: {0}")]
    Rejected(#[from] Rejection),
}

impl AuthError {
    /// A stable `snake_case` label for metrics: the rejection's reason, or `keys_unavailable`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::KeysUnavailable => "keys_unavailable",
            AuthError::Rejected(rejection) => rejection.reason(),
        }
    }
}

/// Verifies bearer tokens with keys from a [`KeySource`] and remembers verified tokens.
///
/// Cheap to clone: clones share the keys, the cache and the background refresh, which stops when
/// the last clone is dropped.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<AuthenticatorInner>,
}

struct AuthenticatorInner {
    config: AuthConfig,
    verifier: Verifier,
    keys: KeySource,
    clock: Arc<dyn Clock>,
    verified_tokens: moka::sync::Cache<String, VerifiedClaims, TokenHasher>,
    /// Which verified tokens go into `verified_tokens`: those verified a second time.
    doorkeeper: Doorkeeper,
    /// Shared by authenticators made with [`Authenticator::reconfigured`], which use the same keys;
    /// it stops when the last of them is dropped.
    background_refresh: Option<Arc<BackgroundRefresh>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Authenticator")
            .field("verifier", &self.inner.verifier)
            .field("key_status", &self.inner.keys.status())
            .field("cached_tokens", &self.inner.verified_tokens.entry_count())
            .finish_non_exhaustive()
    }
}

/// Cache entries live until the token's `exp` plus the leeway, measured on the injected clock.
struct ExpireWithToken {
    clock: Arc<dyn Clock>,
    leeway_secs: u64,
}

impl Expiry<String, VerifiedClaims> for ExpireWithToken {
    fn expire_after_create(
        &self,
        _token: &String,
        claims: &VerifiedClaims,
        _created_at: Instant,
    ) -> Option<Duration> {
        let deadline = claims.expires_at().saturating_add_secs(self.leeway_secs);
        let remaining = deadline
            .as_secs()
            .saturating_sub(self.clock.now().as_secs());
        Some(Duration::from_secs(remaining))
    }
}

impl Authenticator {
    /// An authenticator fetching keys as `config` says, with the refresh running in the background
    /// on the current tokio runtime. [`AuthenticatorBuilder::build`](crate::AuthenticatorBuilder::build)
    /// checks the configuration and the runtime first.
    pub(crate) fn new(
        config: AuthConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Authenticator, KeySourceError> {
        let keys = KeySource::from_openid_configuration(
            &config.openid_configuration,
            config.fetch_timeout,
            config.refresh.clone(),
            Arc::clone(&clock),
        )?;
        let background_refresh = Some(Arc::new(keys.spawn_background_refresh()?));
        Ok(Authenticator::assemble(
            config,
            keys,
            clock,
            background_refresh,
        ))
    }

    /// An authenticator with a fixed key set and no IO: for tests, and for users who manage keys
    /// themselves. Ready from the start.
    #[must_use]
    pub(crate) fn with_static_keys(
        config: AuthConfig,
        keys: KeySet,
        clock: Arc<dyn Clock>,
    ) -> Authenticator {
        let keys = KeySource::fixed(keys, Arc::clone(&clock));
        Authenticator::assemble(config, keys, clock, None)
    }

    fn assemble(
        config: AuthConfig,
        keys: KeySource,
        clock: Arc<dyn Clock>,
        background_refresh: Option<Arc<BackgroundRefresh>>,
    ) -> Authenticator {
        let expiry = ExpireWithToken {
            clock: Arc::clone(&clock),
            leeway_secs: config.leeway.as_secs(),
        };
        let verified_tokens = moka::sync::Cache::builder()
            .max_capacity(config.cache_capacity)
            .expire_after(expiry)
            .build_with_hasher(TokenHasher::default());
        Authenticator {
            inner: Arc::new(AuthenticatorInner {
                verifier: Verifier::new(config.verifier_config()),
                config,
                keys,
                clock,
                verified_tokens,
                doorkeeper: Doorkeeper::new(),
                background_refresh,
            }),
        }
    }

    /// Authenticates an `Authorization` header value: `Bearer <token>`, the scheme matched
    /// case-insensitively and followed by one or more spaces (RFC 7235, RFC 6750).
    ///
    /// # Errors
    ///
    /// [`AuthError::KeysUnavailable`] when keys were never loaded, else [`AuthError::Rejected`].
    pub async fn authenticate(
        &self,
        authorization_header_value: &str,
    ) -> Result<VerifiedClaims, AuthError> {
        let token = bearer_token(authorization_header_value)
            .ok_or(AuthError::Rejected(Rejection::MalformedAuthorization))?;
        self.verify_token(token).await
    }

    /// Authenticates the raw value of a request's `Authorization` header, as a framework hands it
    /// over (`None` when the request has none): what `tower::AuthLayer` and `actix::Authenticate`
    /// (features `tower` and `actix`) call.
    ///
    /// # Errors
    ///
    /// [`Rejection::MissingAuthorization`] without a header, [`Rejection::MalformedAuthorization`]
    /// for a value that is not ASCII, else as [`Authenticator::authenticate`].
    pub async fn authenticate_header(
        &self,
        authorization_header_value: Option<&[u8]>,
    ) -> Result<VerifiedClaims, AuthError> {
        let value = authorization_header_value
            .ok_or(AuthError::Rejected(Rejection::MissingAuthorization))?;
        let text = crate::answer::header_text(value)
            .ok_or(AuthError::Rejected(Rejection::MalformedAuthorization))?;
        self.authenticate(text).await
    }

    /// Verifies a bare token (no `Bearer `).
    ///
    /// A token seen before is answered from the cache, keyed by the whole token string (so any
    /// change to any byte is a miss and goes through full verification), after its time window
    /// is checked again on the injected clock. A token enters the cache on its second full
    /// verification (see [`Authenticator::is_cached`]). An unknown `kid` triggers one key refresh
    /// (single-flight, rate-limited by the cooldown) and one more attempt.
    ///
    /// # Errors
    ///
    /// [`AuthError::KeysUnavailable`] when keys were never loaded, else [`AuthError::Rejected`].
    pub async fn verify_token(&self, token: &str) -> Result<VerifiedClaims, AuthError> {
        let inner = &self.inner;
        let now = inner.clock.now();
        if let Some(claims) = inner.verified_tokens.get(token) {
            inner
                .verifier
                .check_time_window(claims.expires_at(), claims.not_before(), now)?;
            return Ok(claims);
        }
        let outcome = inner.verifier.verify(token, &inner.keys.current(), now);
        let claims = match outcome {
            Err(Rejection::UnknownKid) if !inner.keys.is_ready() => {
                // Nothing can be verified yet; the background task is already retrying, so a flood
                // of requests does not add fetches.
                return Err(AuthError::KeysUnavailable);
            }
            Err(Rejection::UnknownKid) => {
                if !inner.keys.refresh_for_unknown_kid().await {
                    return Err(AuthError::Rejected(Rejection::UnknownKid));
                }
                let now = inner.clock.now();
                inner.verifier.verify(token, &inner.keys.current(), now)?
            }
            other => other?,
        };
        if inner.doorkeeper.second_sighting(token) {
            inner
                .verified_tokens
                .insert(token.to_owned(), claims.clone());
        }
        Ok(claims)
    }

    /// An authenticator with the verification settings of `settings` (app id, issuers, tenants,
    /// leeway, cache size) over this one's keys, key refresh and clock, for a configuration
    /// reload. The key source settings of `settings` (OpenID configuration, refresh and fetch
    /// settings), its clock and its static keys are not used: changing them takes a new
    /// [`Authenticator`]. The new authenticator starts with an empty token cache, so that a tenant
    /// removed from the allow-list is refused at once.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the first setting that cannot work; this authenticator is
    /// unchanged.
    pub fn reconfigured(
        &self,
        settings: crate::AuthenticatorBuilder,
    ) -> Result<Authenticator, ConfigError> {
        Ok(Authenticator::assemble(
            settings.into_checked_config()?,
            self.inner.keys.clone(),
            Arc::clone(&self.inner.clock),
            self.inner.background_refresh.clone(),
        ))
    }

    /// Whether the background key refresh is running, or none is needed (static keys). `false`
    /// means that keys will never be fetched again: a health check should fail, so that a
    /// supervisor restarts the process.
    #[must_use]
    pub fn is_refresh_alive(&self) -> bool {
        match &self.inner.background_refresh {
            Some(task) => task.is_running(),
            None => self.inner.keys.is_fixed(),
        }
    }

    /// The key source's state, for `/readyz` and `/metrics`.
    #[must_use]
    pub fn key_status(&self) -> KeyStatus {
        self.inner.keys.status()
    }

    /// Whether signing keys were ever loaded.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.inner.keys.is_ready()
    }

    /// Waits until signing keys were loaded once, or `limit` passed. Returns whether they are.
    pub async fn wait_until_ready(&self, limit: Duration) -> bool {
        self.inner.keys.wait_until_ready(limit).await
    }

    /// Fetches keys now (outside the schedule), returning the number of usable keys.
    ///
    /// # Errors
    ///
    /// The fetch's error; the previous keys stay in use.
    pub async fn refresh_keys_now(&self) -> Result<usize, KeySourceError> {
        self.inner.keys.refresh_now().await
    }

    /// Whether `token` is remembered as verified: its next use skips the signature check (the
    /// time window is checked on every use). A token is remembered from its second successful
    /// verification on, so that tokens used once do not fill the cache.
    #[must_use]
    pub fn is_cached(&self, token: &str) -> bool {
        self.inner.verified_tokens.contains_key(token)
    }

    /// The number of verified tokens remembered (approximate, for metrics).
    #[must_use]
    pub fn cached_token_count(&self) -> u64 {
        self.inner.verified_tokens.entry_count()
    }

    /// The configuration it was built with.
    #[must_use]
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The pure verifier used, with its configuration.
    #[must_use]
    pub fn verifier(&self) -> &Verifier {
        &self.inner.verifier
    }
}

/// The token of a `Bearer` credential: scheme case-insensitive, one or more spaces, then a token
/// without whitespace or commas. Surrounding spaces and tabs of the field value are ignored.
fn bearer_token(authorization_header_value: &str) -> Option<&str> {
    let value = authorization_header_value.trim_matches([' ', '\t']);
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim_start_matches(' ');
    // memchr scans 16 bytes at a time: the token is hundreds of bytes and this runs on every
    // request, where a byte-by-byte scan showed in the profile (docs/performance.md).
    let bytes = token.as_bytes();
    if token.is_empty()
        || memchr::memchr3(b' ', b'\t', b',', bytes).is_some()
        || memchr::memchr2(b'\r', b'\n', bytes).is_some()
    {
        return None;
    }
    Some(token)
}

#[cfg(test)]
mod tests {
    use super::{ExpireWithToken, bearer_token};
    use crate::clock::{ManualClock, UnixTime};
    use crate::testing::DevIssuer;
    use crate::{KeySet, Verifier, VerifierConfig};
    use moka::Expiry as _;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    #[test]
    fn cache_entries_never_outlive_exp_plus_leeway() {
        let now = UnixTime::from_secs(1_700_000_000);
        let clock = Arc::new(ManualClock::new(now));
        let issuer = DevIssuer::new();
        let keys: KeySet = issuer.key_set();
        let token = issuer.mint(&DevIssuer::standard_claims("bot", "t", now));
        let claims = Verifier::new(VerifierConfig::for_app_id("bot"))
            .verify(&token, &keys, now)
            .unwrap();
        let expiry = ExpireWithToken {
            clock: clock.clone(),
            leeway_secs: 300,
        };
        let lifetime = |clock_now: u64| {
            clock.set(UnixTime::from_secs(clock_now));
            expiry.expire_after_create(&token, &claims, Instant::now())
        };
        assert_eq!(lifetime(now.as_secs()), Some(Duration::from_secs(600)));
        assert_eq!(lifetime(now.as_secs() + 599), Some(Duration::from_secs(1)));
        assert_eq!(lifetime(now.as_secs() + 5_000), Some(Duration::ZERO));
    }

    #[test]
    fn bearer_scheme_parsing() {
        let cases = [
            ("Bearer abc", Some("abc")),
            ("bearer abc", Some("abc")),
            ("BEARER   abc", Some("abc")),
            ("  Bearer abc\t", Some("abc")),
            ("Bearer", None),
            ("Bearer ", None),
            ("Bearer\tabc", None),
            ("Basic abc", None),
            ("Bearerabc", None),
            ("Bearer abc def", None),
            ("Bearer abc,def", None),
            ("", None),
            ("abc", None),
        ];
        for (value, expected) in cases {
            assert_eq!(bearer_token(value), expected, "{value:?}");
        }
    }
}

//! Where the keys come from: the OIDC configuration, its `jwks_uri`, and the refresh policy.
//!
//! - Reads never wait: the current [`KeySet`] sits behind a `RwLock<Arc<KeySet>>` that is only held
//!   long enough to clone the `Arc`, so a request with a known `kid` is never blocked by a fetch.
//! - Fetches are single-flight: every fetch happens under one async mutex, and callers that missed a
//!   `kid` while a fetch was running re-check after it instead of starting their own.
//! - Refreshes triggered by unknown `kid`s are limited to one per cooldown (measured on the injected
//!   clock), so a flood of random `kid`s costs at most one fetch per cooldown.
//! - Last known good: a failed refresh keeps the previous keys, indefinitely.
//! - Until keys were loaded once, fetches are retried with exponential backoff, and the state is
//!   reported ([`KeyStatus::ready`]) so that a server can answer 503 instead of 401.

use crate::clock::{Clock, UnixTime};
use crate::config::check_key_url;
use crate::jwk::{KeySet, KeySetError, MAXIMUM_JWKS_DOCUMENT_BYTES, SkippedKey};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

/// The largest OIDC configuration or JWKS response accepted (1 MiB).
pub const MAXIMUM_KEY_DOCUMENT_BYTES: usize = MAXIMUM_JWKS_DOCUMENT_BYTES;

/// Why fetching keys failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceError {
    /// The URL is not https (or http on a loopback host), or not a URL at all.
    #[error("refusing to fetch keys from {url}: {problem}")]
    RefusedUrl {
        /// The URL as configured or as found in the OIDC configuration.
        url: String,
        /// Why it is refused.
        problem: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client setup failed: {0}")]
    ClientSetup(String),
    /// The request failed: connection, TLS, timeout or body transfer.
    #[error("request to {url} failed: {problem}")]
    Transport {
        /// The URL requested.
        url: String,
        /// The error.
        problem: String,
    },
    /// The answer was not `200 OK` (redirects are not followed, so a 3xx lands here too).
    #[error("{url} answered HTTP {status}")]
    UnexpectedStatus {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The answer was larger than [`MAXIMUM_KEY_DOCUMENT_BYTES`].
    #[error("{url} answered with more than {MAXIMUM_KEY_DOCUMENT_BYTES} bytes")]
    DocumentTooLarge {
        /// The URL requested.
        url: String,
    },
    /// The OIDC configuration is not a JSON object with a string `jwks_uri`.
    #[error("the OIDC configuration has no usable jwks_uri")]
    MissingJwksUri,
    /// The key set document could not be read.
    #[error("the key set could not be read: {0}")]
    KeySet(#[from] KeySetError),
    /// The key set was read but none of its keys is usable; the previous keys are kept.
    #[error("the key set has no usable key ({skipped} skipped)")]
    NoUsableKeys {
        /// How many keys were skipped.
        skipped: usize,
    },
    /// There is no tokio runtime to run the background refresh on.
    #[error("no tokio runtime: keys are never fetched")]
    NoRuntime,
}

/// The key source's state, for `/readyz` and `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyStatus {
    /// Whether keys were ever loaded. Until then, a server should answer 503, not 401.
    pub ready: bool,
    /// How many usable keys are in use now.
    pub key_count: usize,
    /// Refreshes that loaded a new key set.
    pub refresh_succeeded: u64,
    /// Refreshes that failed (the previous keys stayed in use).
    pub refresh_failed: u64,
    /// Refreshes started because a token named an unknown `kid`.
    pub unknown_kid_refreshes: u64,
    /// Unknown-`kid` refreshes not started because of the cooldown.
    pub unknown_kid_refreshes_suppressed: u64,
    /// Failed refreshes since the last success.
    pub consecutive_failures: u64,
    /// The delay before the next background retry, while fetches are failing.
    pub current_retry_delay: Option<Duration>,
    /// The last failure's description, cleared by a success.
    pub last_refresh_error: Option<String>,
    /// When keys were last loaded, on the injected clock.
    pub last_success_at: Option<UnixTime>,
}

/// Fetches key sets over HTTP: rustls on ring, no redirects, timeouts, 1 MiB cap, https only
/// (plain http only for loopback hosts).
#[derive(Clone, Debug)]
pub struct KeyFetcher {
    client: reqwest::Client,
}

impl KeyFetcher {
    /// A fetcher whose every request times out after `timeout`.
    ///
    /// TLS uses rustls with ring's provider passed explicitly (no process-wide provider is
    /// installed) and the platform's root certificates. Without any system roots, https fetches
    /// fail with a certificate error while plain http to loopback still works.
    ///
    /// # Errors
    ///
    /// [`KeySourceError::ClientSetup`] when the HTTP client cannot be built.
    pub fn new(timeout: Duration) -> Result<KeyFetcher, KeySourceError> {
        let client = callhook_http::client_builder()
            .map_err(|error| KeySourceError::ClientSetup(error.to_string()))?
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("callhook-auth/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| KeySourceError::ClientSetup(error.to_string()))?;
        Ok(KeyFetcher { client })
    }

    /// Fetches the OIDC configuration at `url`, then the key set at its `jwks_uri`.
    ///
    /// # Errors
    ///
    /// Any [`KeySourceError`] of either request.
    pub async fn fetch_from_openid_configuration(
        &self,
        url: &str,
    ) -> Result<(KeySet, Vec<SkippedKey>), KeySourceError> {
        let document = self.fetch_document(url).await?;
        let jwks_uri = jwks_uri_of_openid_configuration(&document)?;
        self.fetch_jwks(&jwks_uri).await
    }

    /// Fetches and parses the key set at `url`.
    ///
    /// # Errors
    ///
    /// Any [`KeySourceError`] of the request or the document.
    pub async fn fetch_jwks(&self, url: &str) -> Result<(KeySet, Vec<SkippedKey>), KeySourceError> {
        let document = self.fetch_document(url).await?;
        Ok(KeySet::from_jwks_json(&document)?)
    }

    async fn fetch_document(&self, url: &str) -> Result<Vec<u8>, KeySourceError> {
        let checked = check_key_url(url).map_err(|problem| KeySourceError::RefusedUrl {
            url: url.to_owned(),
            problem,
        })?;
        let transport = |error: reqwest::Error| KeySourceError::Transport {
            url: url.to_owned(),
            problem: error.without_url().to_string(),
        };
        let mut response = self.client.get(checked).send().await.map_err(transport)?;
        let status = response.status();
        if status != reqwest::StatusCode::OK {
            return Err(KeySourceError::UnexpectedStatus {
                url: url.to_owned(),
                status: status.as_u16(),
            });
        }
        let too_large = || KeySourceError::DocumentTooLarge {
            url: url.to_owned(),
        };
        let declared_length = response.content_length().unwrap_or(0);
        if usize::try_from(declared_length)
            .map_or(true, |length| length > MAXIMUM_KEY_DOCUMENT_BYTES)
        {
            return Err(too_large());
        }
        // The declared length can lie or be absent, so the cap is enforced while streaming too.
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len().saturating_add(chunk.len()) > MAXIMUM_KEY_DOCUMENT_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

/// The `jwks_uri` of an OpenID configuration document, as the key source reads it: a JSON object
/// with a string `jwks_uri`. Every other member (issuer, endpoints, the algorithm list, which the
/// platform's own documents spell `"RSA256"`) is left alone.
///
/// # Errors
///
/// [`KeySourceError::MissingJwksUri`] when the document is not a JSON object with a string
/// `jwks_uri`.
pub fn jwks_uri_of_openid_configuration(document: &[u8]) -> Result<String, KeySourceError> {
    let configuration: serde_json::Map<String, Value> =
        serde_json::from_slice(document).map_err(|_| KeySourceError::MissingJwksUri)?;
    configuration
        .get("jwks_uri")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(KeySourceError::MissingJwksUri)
}

/// Timing of the key source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Time between periodic refreshes (up to 5% jitter is added). Default 12 hours.
    pub interval: Duration,
    /// Minimum time between refreshes triggered by unknown `kid`s, counted in whole seconds on the
    /// injected clock. Default 30 s.
    pub unknown_kid_cooldown: Duration,
    /// First retry delay after a failure. Default 1 s.
    pub retry_initial: Duration,
    /// Longest retry delay. Default 5 minutes.
    pub retry_max: Duration,
}

impl Default for RefreshPolicy {
    fn default() -> RefreshPolicy {
        RefreshPolicy {
            interval: Duration::from_secs(12 * 60 * 60),
            unknown_kid_cooldown: Duration::from_secs(30),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(5 * 60),
        }
    }
}

impl RefreshPolicy {
    fn retry_delay(&self, consecutive_failures: u64) -> Duration {
        let doublings = u32::try_from(consecutive_failures.saturating_sub(1))
            .unwrap_or(u32::MAX)
            .min(32);
        let factor = 1u32.checked_shl(doublings).unwrap_or(u32::MAX);
        self.retry_initial
            .saturating_mul(factor)
            .min(self.retry_max)
    }
}

/// A source of keys: fixed, or fetched and kept fresh. Cheap to clone (shared state).
#[derive(Clone, Debug)]
pub struct KeySource {
    shared: Arc<KeySourceShared>,
}

#[derive(Debug)]
struct KeySourceShared {
    origin: KeyOrigin,
    policy: RefreshPolicy,
    clock: Arc<dyn Clock>,
    keys: RwLock<Arc<KeySet>>,
    ready: AtomicBool,
    ready_sender: tokio::sync::watch::Sender<bool>,
    generation: AtomicU64,
    refresh_gate: tokio::sync::Mutex<RefreshGate>,
    counters: Counters,
    last_refresh_error: Mutex<Option<String>>,
}

#[derive(Debug)]
enum KeyOrigin {
    Fixed,
    OpenIdConfiguration { url: String, fetcher: KeyFetcher },
}

#[derive(Debug, Default)]
struct RefreshGate {
    last_unknown_kid_refresh: Option<UnixTime>,
}

#[derive(Debug, Default)]
struct Counters {
    refresh_succeeded: AtomicU64,
    refresh_failed: AtomicU64,
    unknown_kid_refreshes: AtomicU64,
    unknown_kid_refreshes_suppressed: AtomicU64,
    consecutive_failures: AtomicU64,
    current_retry_delay_ms: AtomicU64,
    last_success_at: AtomicU64,
}

impl KeySource {
    /// A source that always serves `keys` and never fetches: ready from the start.
    #[must_use]
    pub fn fixed(keys: KeySet, clock: Arc<dyn Clock>) -> KeySource {
        let policy = RefreshPolicy {
            interval: Duration::MAX,
            unknown_kid_cooldown: Duration::MAX,
            retry_initial: Duration::MAX,
            retry_max: Duration::MAX,
        };
        let source = KeySource::with_origin(KeyOrigin::Fixed, policy, clock);
        source.store(keys);
        source
    }

    /// A source fetching from an OIDC configuration. Nothing is fetched until
    /// [`KeySource::refresh_now`] or [`KeySource::spawn_background_refresh`].
    ///
    /// # Errors
    ///
    /// [`KeySourceError::ClientSetup`] when the HTTP client cannot be built: at once, rather than
    /// as a failure of every refresh.
    pub fn from_openid_configuration(
        url: &str,
        fetch_timeout: Duration,
        policy: RefreshPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<KeySource, KeySourceError> {
        let origin = KeyOrigin::OpenIdConfiguration {
            url: url.to_owned(),
            fetcher: KeyFetcher::new(fetch_timeout)?,
        };
        Ok(KeySource::with_origin(origin, policy, clock))
    }

    fn with_origin(origin: KeyOrigin, policy: RefreshPolicy, clock: Arc<dyn Clock>) -> KeySource {
        let (ready_sender, _receiver) = tokio::sync::watch::channel(false);
        KeySource {
            shared: Arc::new(KeySourceShared {
                origin,
                policy,
                clock,
                keys: RwLock::new(Arc::new(KeySet::empty())),
                ready: AtomicBool::new(false),
                ready_sender,
                generation: AtomicU64::new(0),
                refresh_gate: tokio::sync::Mutex::new(RefreshGate::default()),
                counters: Counters::default(),
                last_refresh_error: Mutex::new(None),
            }),
        }
    }

    /// The keys in use now. Never waits for a fetch.
    #[must_use]
    pub fn current(&self) -> Arc<KeySet> {
        match self.shared.keys.read() {
            Ok(guard) => Arc::clone(&guard),
            // A writer cannot panic while holding the lock (it only swaps an Arc), but if a
            // poisoned lock ever appears, its value is still a complete key set.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Whether the keys are fixed (nothing to refresh).
    pub(crate) fn is_fixed(&self) -> bool {
        matches!(self.shared.origin, KeyOrigin::Fixed)
    }

    /// Whether keys were ever loaded.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.shared.ready.load(Ordering::Acquire)
    }

    /// Waits until keys were loaded once, or `limit` passed. Returns whether they are loaded.
    pub async fn wait_until_ready(&self, limit: Duration) -> bool {
        let mut receiver = self.shared.ready_sender.subscribe();
        let outcome = tokio::time::timeout(limit, receiver.wait_for(|ready| *ready)).await;
        matches!(outcome, Ok(Ok(_))) || self.is_ready()
    }

    /// The state, for readiness and metrics.
    #[must_use]
    pub fn status(&self) -> KeyStatus {
        let counters = &self.shared.counters;
        let last_success = counters.last_success_at.load(Ordering::Acquire);
        let retry_delay_ms = counters.current_retry_delay_ms.load(Ordering::Acquire);
        KeyStatus {
            ready: self.is_ready(),
            key_count: self.current().len(),
            refresh_succeeded: counters.refresh_succeeded.load(Ordering::Acquire),
            refresh_failed: counters.refresh_failed.load(Ordering::Acquire),
            unknown_kid_refreshes: counters.unknown_kid_refreshes.load(Ordering::Acquire),
            unknown_kid_refreshes_suppressed: counters
                .unknown_kid_refreshes_suppressed
                .load(Ordering::Acquire),
            consecutive_failures: counters.consecutive_failures.load(Ordering::Acquire),
            current_retry_delay: (retry_delay_ms > 0)
                .then(|| Duration::from_millis(retry_delay_ms)),
            last_refresh_error: self.last_refresh_error(),
            last_success_at: (last_success > 0).then(|| UnixTime::from_secs(last_success)),
        }
    }

    fn last_refresh_error(&self) -> Option<String> {
        match self.shared.last_refresh_error.lock() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set_last_refresh_error(&self, error: Option<String>) {
        match self.shared.last_refresh_error.lock() {
            Ok(mut guard) => *guard = error,
            Err(poisoned) => *poisoned.into_inner() = error,
        }
    }

    fn store(&self, keys: KeySet) {
        let keys = Arc::new(keys);
        match self.shared.keys.write() {
            Ok(mut guard) => *guard = keys,
            Err(poisoned) => *poisoned.into_inner() = keys,
        }
        self.shared.generation.fetch_add(1, Ordering::AcqRel);
        self.shared.ready.store(true, Ordering::Release);
        self.shared.ready_sender.send_replace(true);
    }

    /// Fetches now (waiting for a fetch already in progress first) and returns the number of keys.
    ///
    /// # Errors
    ///
    /// The fetch's error; the previous keys stay in use. A fixed source has nothing to fetch and
    /// answers with its key count.
    pub async fn refresh_now(&self) -> Result<usize, KeySourceError> {
        let mut gate = self.shared.refresh_gate.lock().await;
        self.fetch_and_store(&mut gate).await
    }

    /// Called when a token names a `kid` missing from [`KeySource::current`]. Returns whether the
    /// keys changed since the caller looked, in which case the caller should look again.
    ///
    /// Concurrent callers wait on the same fetch; at most one fetch starts per cooldown.
    pub async fn refresh_for_unknown_kid(&self) -> bool {
        if matches!(self.shared.origin, KeyOrigin::Fixed) {
            return false;
        }
        let seen_generation = self.shared.generation.load(Ordering::Acquire);
        let mut gate = self.shared.refresh_gate.lock().await;
        if self.shared.generation.load(Ordering::Acquire) != seen_generation {
            // Someone else's fetch finished while this caller waited: no need for another.
            return true;
        }
        let now = self.shared.clock.now();
        let cooldown = self.shared.policy.unknown_kid_cooldown.as_secs();
        if let Some(last) = gate.last_unknown_kid_refresh
            && now < last.saturating_add_secs(cooldown)
            && now >= last
        {
            self.shared
                .counters
                .unknown_kid_refreshes_suppressed
                .fetch_add(1, Ordering::AcqRel);
            return false;
        }
        gate.last_unknown_kid_refresh = Some(now);
        self.shared
            .counters
            .unknown_kid_refreshes
            .fetch_add(1, Ordering::AcqRel);
        tracing::info!("unknown kid: refreshing keys");
        self.fetch_and_store(&mut gate).await.is_ok()
    }

    /// Fetches and publishes the keys. `_gate` is the held refresh gate: only its holder fetches,
    /// so that fetches are single-flight.
    async fn fetch_and_store(&self, _gate: &mut RefreshGate) -> Result<usize, KeySourceError> {
        let (url, fetcher) = match &self.shared.origin {
            KeyOrigin::Fixed => return Ok(self.current().len()),
            KeyOrigin::OpenIdConfiguration { url, fetcher } => (url, fetcher),
        };
        let outcome = fetcher.fetch_from_openid_configuration(url).await;
        let outcome = outcome.and_then(|(keys, skipped)| {
            if keys.is_empty() {
                Err(KeySourceError::NoUsableKeys {
                    skipped: skipped.len(),
                })
            } else {
                Ok((keys, skipped))
            }
        });
        let counters = &self.shared.counters;
        match outcome {
            Ok((keys, skipped)) => {
                let count = keys.len();
                tracing::info!(keys = count, skipped = skipped.len(), "signing keys loaded");
                // The status is updated before the keys are published: whoever sees the source
                // ready (and is woken by `store`) also sees this refresh counted.
                counters.refresh_succeeded.fetch_add(1, Ordering::AcqRel);
                counters.consecutive_failures.store(0, Ordering::Release);
                counters.current_retry_delay_ms.store(0, Ordering::Release);
                counters
                    .last_success_at
                    .store(self.shared.clock.now().as_secs(), Ordering::Release);
                self.set_last_refresh_error(None);
                self.store(keys);
                Ok(count)
            }
            Err(error) => {
                tracing::warn!(%error, ready = self.is_ready(), "key refresh failed; keeping the previous keys");
                counters.refresh_failed.fetch_add(1, Ordering::AcqRel);
                counters.consecutive_failures.fetch_add(1, Ordering::AcqRel);
                self.set_last_refresh_error(Some(error.to_string()));
                Err(error)
            }
        }
    }

    /// Starts the background refresh on the current tokio runtime: a first fetch at once, then
    /// periodic refreshes, with backoff while fetches fail. The refresh runs until the returned
    /// [`BackgroundRefresh`] is stopped or dropped, or every clone of this source is dropped.
    ///
    /// # Errors
    ///
    /// [`KeySourceError::NoRuntime`] outside a tokio runtime.
    pub fn spawn_background_refresh(&self) -> Result<BackgroundRefresh, KeySourceError> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| KeySourceError::NoRuntime)?;
        let task = if matches!(self.shared.origin, KeyOrigin::Fixed) {
            // Nothing to refresh: a task that ends at once keeps the handle uniform.
            runtime.spawn(async {})
        } else {
            let weak = Arc::downgrade(&self.shared);
            runtime.spawn(supervise("key refresh", move || {
                background_refresh(weak.clone())
            }))
        };
        Ok(BackgroundRefresh {
            task: task.abort_handle(),
        })
    }
}

/// The running background refresh of a [`KeySource`]. Dropping it stops the refresh.
#[derive(Debug)]
#[must_use = "dropping a BackgroundRefresh stops the refresh"]
pub struct BackgroundRefresh {
    task: tokio::task::AbortHandle,
}

impl BackgroundRefresh {
    /// Whether the refresh still runs. A refresh that panics is started again, so `false` means
    /// that it was stopped, or that the source has fixed keys and nothing to refresh.
    #[must_use]
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }

    /// Stops the refresh; the keys already loaded stay in use.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for BackgroundRefresh {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long a supervised task that panicked waits before it is started again, so that a task
/// failing at once does not spin.
const RESTART_DELAY: Duration = Duration::from_secs(1);

/// Runs the task `start` makes until it returns, starting it again whenever it panics. A task that
/// must never stop silently (the key refresh: without it a source that was never loaded stays
/// unready forever) is run this way. Aborting the supervisor aborts the task it runs.
pub(crate) async fn supervise<F, Fut>(name: &'static str, mut start: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    /// Aborts the running task when the supervisor itself is aborted or dropped.
    struct AbortOnDrop(tokio::task::AbortHandle);
    impl Drop for AbortOnDrop {
        fn drop(&mut self) {
            self.0.abort();
        }
    }
    loop {
        let task = tokio::spawn(start());
        let _abort = AbortOnDrop(task.abort_handle());
        match task.await {
            Err(error) if error.is_panic() => {
                tracing::error!(task = name, "background task panicked; starting it again");
                tokio::time::sleep(RESTART_DELAY).await;
            }
            // Finished (its source is gone) or cancelled: nothing to supervise any more.
            _ => return,
        }
    }
}

async fn background_refresh(weak: Weak<KeySourceShared>) {
    loop {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let source = KeySource { shared };
        let outcome = source.refresh_now().await;
        let policy = &source.shared.policy;
        let delay = match outcome {
            Ok(_) => with_jitter(policy.interval),
            Err(_) => {
                let failures = source
                    .shared
                    .counters
                    .consecutive_failures
                    .load(Ordering::Acquire);
                let delay = policy.retry_delay(failures);
                let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX).max(1);
                source
                    .shared
                    .counters
                    .current_retry_delay_ms
                    .store(delay_ms, Ordering::Release);
                delay
            }
        };
        // The source must not be kept alive by this task while it sleeps.
        drop(source);
        tokio::time::sleep(delay).await;
    }
}

/// Adds up to 5% random jitter so that many instances do not refresh in lockstep.
fn with_jitter(interval: Duration) -> Duration {
    use ring::rand::SecureRandom as _;
    let mut random = [0u8; 4];
    if ring::rand::SystemRandom::new().fill(&mut random).is_err() {
        return interval;
    }
    let fraction = u128::from(u32::from_le_bytes(random));
    let jitter_ms = interval.as_millis() / 20 * fraction / u128::from(u32::MAX);
    let jitter_ms = u64::try_from(jitter_ms).unwrap_or(0);
    interval.saturating_add(Duration::from_millis(jitter_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_supervised_task_that_panics_is_started_again() {
        let starts = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&starts);
        let supervisor = tokio::spawn(supervise("test", move || {
            let starts = Arc::clone(&counted);
            async move {
                // The first two runs panic, as a task whose logging panicked did; the third ends.
                if starts.fetch_add(1, Ordering::SeqCst) < 2 {
                    panic!("the task failed");
                }
            }
        }));
        let ended = tokio::time::timeout(Duration::from_secs(10), supervisor).await;
        assert!(
            matches!(ended, Ok(Ok(()))),
            "the supervisor did not end: {ended:?}"
        );
        assert_eq!(starts.load(Ordering::SeqCst), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn aborting_the_supervisor_aborts_its_task() {
        let (sender, receiver) = tokio::sync::oneshot::channel::<()>();
        let mut sender = Some(sender);
        let supervisor = tokio::spawn(supervise("test", move || {
            // The task holds the sender; when it is aborted, the sender is dropped.
            let sender = sender.take();
            async move {
                let _held = sender;
                std::future::pending::<()>().await;
            }
        }));
        tokio::task::yield_now().await;
        supervisor.abort();
        let closed = tokio::time::timeout(Duration::from_secs(5), receiver).await;
        assert!(
            matches!(closed, Ok(Err(_))),
            "the task still runs: {closed:?}"
        );
    }

    #[test]
    fn retry_delay_doubles_up_to_the_maximum() {
        let policy = RefreshPolicy {
            interval: Duration::from_secs(60),
            unknown_kid_cooldown: Duration::from_secs(30),
            retry_initial: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
        };
        let delays: Vec<u64> = (1..=12)
            .map(|failures| policy.retry_delay(failures).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300]);
        assert_eq!(policy.retry_delay(u64::MAX), Duration::from_secs(300));
    }

    #[test]
    fn jitter_stays_within_five_percent() {
        for _ in 0..100 {
            let delay = with_jitter(Duration::from_secs(43_200));
            assert!(delay >= Duration::from_secs(43_200));
            assert!(delay <= Duration::from_secs(43_200 + 2_160));
        }
    }
}

//! De-duplication shared by every instance through Redis (`[dedup] store = "redis"`).
//!
//! # Claim, then confirm
//!
//! A delivery id becomes one key, `{key_prefix}{SHA-256 of the id, base64url}`, so that a hostile
//! 8 KiB id costs the same 58-byte key (with the default prefix) as any other and never reaches a Redis command as text.
//!
//! 1. **Claim.** `SET key claimed:{instance}:{nonce} NX PX claim_ttl`: one instance wins; the claim
//!    expires by itself if that instance dies mid-delivery, so the platform's retry is delivered.
//! 2. **Deliver** to the bot.
//! 3. **Confirm** on success: `SET key delivered PX window`: a duplicate within the window answers
//!    `202` without a delivery. **Release** on failure: the claim is deleted only if it is still
//!    this delivery's (a compare-and-delete script), so that the platform's retry is delivered.
//!
//! A request that finds the key claimed waits, polling, until the claim is confirmed (`202`, not
//! delivered again) or released (it then claims itself), for at most the claim's lifetime; past
//! that it answers `503` so that the platform retries.
//!
//! # When Redis is unreachable
//!
//! `on_store_error = "deliver"` (the default): the notification is delivered without the shared
//! check, at least once rather than not at all. `"retry"`: `503` with `Retry-After`, and the
//! platform retries. Either way the error is counted (`callhook_dedup_store_errors_total`) and
//! `/readyz`'s body says so. The connection is re-established by itself when Redis is back.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};

use crate::config::{DedupConfig, OnStoreError};
use crate::dedup::Once;

/// The value of a key whose delivery succeeded.
const DELIVERED: &str = "delivered";

/// Deletes the claim `ARGV[1]` of `KEYS[1]`, and nothing else.
const RELEASE: &str = r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end";

/// The first and the longest wait between two looks at a key claimed elsewhere.
const POLL_FIRST: Duration = Duration::from_millis(20);
const POLL_MAX: Duration = Duration::from_millis(250);

/// Why the shared store could not decide.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SharedDedupError {
    /// Redis could not be reached or did not answer in time, and `on_store_error = "retry"`.
    #[error("the de-duplication store is unreachable: {0}")]
    Unavailable(String),
    /// Another delivery of the same id stayed in flight for the claim's whole lifetime.
    #[error("a delivery of this id is still in flight on another instance")]
    StillInFlight,
}

/// Why the store could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("dedup.url: {0}")]
pub struct SharedDedupSetupError(String);

/// The shared store.
pub struct SharedDedup {
    connection: ConnectionManager,
    /// The compare-and-delete of a failed delivery's claim, hashed once.
    release: Script,
    prefix: String,
    window: Duration,
    claim_ttl: Duration,
    command_timeout: Duration,
    on_store_error: OnStoreError,
    /// This process's part of every claim value.
    instance: String,
    next_claim: AtomicU64,
    errors: AtomicU64,
    reachable: AtomicBool,
    delivered_without_check: AtomicU64,
}

impl fmt::Debug for SharedDedup {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL is left out: it may carry a password.
        formatter
            .debug_struct("SharedDedup")
            .field("prefix", &self.prefix)
            .field("window", &self.window)
            .field("claim_ttl", &self.claim_ttl)
            .field("on_store_error", &self.on_store_error)
            .field("reachable", &self.is_reachable())
            .finish_non_exhaustive()
    }
}

/// What a look at a key found.
enum Seen {
    Delivered,
    Claimed,
    Free,
}

impl SharedDedup {
    /// Connects lazily to the Redis of `config` (the first request connects; Redis may be down at
    /// start). Must be called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// The URL is not a Redis URL.
    pub fn new(config: &DedupConfig, window: Duration) -> Result<Self, SharedDedupSetupError> {
        let url = config.url.as_deref().unwrap_or_default();
        let client =
            redis::Client::open(url).map_err(|error| SharedDedupSetupError(error.to_string()))?;
        let command_timeout = Duration::from_millis(config.command_timeout_ms);
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(config.connect_timeout_ms)))
            .set_response_timeout(Some(command_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(1));
        let connection = ConnectionManager::new_lazy_with_config(client, manager)
            .map_err(|error| SharedDedupSetupError(error.to_string()))?;
        Ok(Self {
            connection,
            release: Script::new(RELEASE),
            prefix: config.key_prefix.clone(),
            window,
            claim_ttl: Duration::from_millis(config.claim_ttl_ms),
            command_timeout,
            on_store_error: config.on_store_error,
            instance: uuid::Uuid::new_v4().simple().to_string(),
            next_claim: AtomicU64::new(1),
            errors: AtomicU64::new(0),
            reachable: AtomicBool::new(true),
            delivered_without_check: AtomicU64::new(0),
        })
    }

    /// Whether the last command reached Redis.
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// Commands that failed or timed out.
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// Notifications delivered without the shared check because Redis was unreachable.
    pub fn delivered_without_check(&self) -> u64 {
        self.delivered_without_check.load(Ordering::Relaxed)
    }

    /// What `/readyz` says about the store.
    pub fn status_line(&self) -> String {
        if self.is_reachable() {
            "dedup store: redis reachable".to_owned()
        } else {
            let what = match self.on_store_error {
                OnStoreError::Deliver => "delivering without the shared check",
                OnStoreError::Retry => "answering 503 so that the platform retries",
            };
            format!("dedup store: redis unreachable ({what})")
        }
    }

    /// Delivers the notification with delivery id `id` once across every instance sharing the
    /// store; see the module's documentation. `admit` and `deliver` are as in
    /// [`crate::dedup::DedupStore::deliver_once`].
    ///
    /// # Errors
    ///
    /// The error of `admit` or `deliver`, or a [`SharedDedupError`] converted into it.
    pub async fn deliver_once<P, E, A, AF, D, DF>(
        &self,
        id: &str,
        mut admit: A,
        deliver: D,
    ) -> Result<Once, E>
    where
        E: From<SharedDedupError>,
        A: FnMut() -> AF,
        AF: Future<Output = Result<P, E>>,
        D: FnOnce(P) -> DF,
        DF: Future<Output = Result<(), E>>,
    {
        let key = self.key(id);
        let claim = format!(
            "claimed:{}:{}",
            self.instance,
            self.next_claim.fetch_add(1, Ordering::Relaxed)
        );
        let give_up = tokio::time::Instant::now() + self.claim_ttl;
        let mut poll = POLL_FIRST;
        loop {
            match self.try_claim(&key, &claim).await {
                Err(error) => return self.without_check(error, admit, deliver).await,
                Ok(true) => break,
                Ok(false) => {}
            }
            match self.look(&key).await {
                Err(error) => return self.without_check(error, admit, deliver).await,
                Ok(Seen::Delivered) => return Ok(Once::Duplicate),
                Ok(Seen::Free) => continue,
                Ok(Seen::Claimed) => {
                    if tokio::time::Instant::now() + poll > give_up {
                        return Err(SharedDedupError::StillInFlight.into());
                    }
                    tokio::time::sleep(poll).await;
                    poll = (poll * 2).min(POLL_MAX);
                }
            }
        }
        // Claimed. A failed admission or delivery releases the claim, so that the retry delivers.
        let outcome = match admit().await {
            Ok(permit) => deliver(permit).await,
            Err(error) => Err(error),
        };
        match outcome {
            Ok(()) => {
                self.confirm(&key).await;
                Ok(Once::Delivered)
            }
            Err(error) => {
                self.release(&key, &claim).await;
                Err(error)
            }
        }
    }

    async fn without_check<P, E, A, AF, D, DF>(
        &self,
        error: String,
        mut admit: A,
        deliver: D,
    ) -> Result<Once, E>
    where
        E: From<SharedDedupError>,
        A: FnMut() -> AF,
        AF: Future<Output = Result<P, E>>,
        D: FnOnce(P) -> DF,
        DF: Future<Output = Result<(), E>>,
    {
        match self.on_store_error {
            OnStoreError::Retry => {
                tracing::warn!(%error, "the de-duplication store is unreachable: answering 503");
                Err(SharedDedupError::Unavailable(error).into())
            }
            OnStoreError::Deliver => {
                tracing::warn!(
                    %error,
                    "the de-duplication store is unreachable: delivering without the shared check"
                );
                let permit = admit().await?;
                deliver(permit).await?;
                self.delivered_without_check.fetch_add(1, Ordering::Relaxed);
                Ok(Once::Delivered)
            }
        }
    }

    fn key(&self, id: &str) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, id.as_bytes());
        let mut key = String::with_capacity(self.prefix.len() + 43);
        key.push_str(&self.prefix);
        key.push_str(&URL_SAFE_NO_PAD.encode(digest.as_ref()));
        key
    }

    /// Runs one command within the command timeout, recording whether Redis answered. A command
    /// that fails because the connection dropped (Redis restarted, say) is sent once more on the
    /// connection the manager re-establishes, so that a restart costs no delivery its check.
    async fn run<T, F, C>(&self, mut command: C) -> Result<T, String>
    where
        C: FnMut(ConnectionManager) -> F,
        F: Future<Output = redis::RedisResult<T>>,
    {
        let deadline = tokio::time::Instant::now() + self.command_timeout;
        let mut result = Err(String::new());
        for attempt in 0..2 {
            result = match tokio::time::timeout_at(deadline, command(self.connection.clone())).await
            {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(error))
                    if attempt == 0 && (error.is_connection_dropped() || error.is_io_error()) =>
                {
                    tokio::time::sleep(POLL_FIRST).await;
                    continue;
                }
                Ok(Err(error)) => Err(error.to_string()),
                Err(_) => Err(format!(
                    "no answer within {} ms",
                    self.command_timeout.as_millis()
                )),
            };
            break;
        }
        let reached = result.is_ok();
        if !reached {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        if self.reachable.swap(reached, Ordering::Relaxed) != reached {
            if reached {
                tracing::info!("the de-duplication store is reachable again");
            } else {
                tracing::error!("the de-duplication store became unreachable");
            }
        }
        result
    }

    async fn try_claim(&self, key: &str, claim: &str) -> Result<bool, String> {
        let ttl = millis(self.claim_ttl);
        let set: Option<String> = self
            .run(|mut connection| async move {
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::PX(ttl));
                connection.set_options(key, claim, options).await
            })
            .await?;
        Ok(set.is_some())
    }

    async fn look(&self, key: &str) -> Result<Seen, String> {
        let value: Option<String> = self
            .run(|mut connection| async move { connection.get(key).await })
            .await?;
        Ok(match value.as_deref() {
            Some(DELIVERED) => Seen::Delivered,
            Some(_) => Seen::Claimed,
            None => Seen::Free,
        })
    }

    /// Marks `key` delivered for the window. A failure is logged and counted: the delivery itself
    /// succeeded, and the claim expires by itself.
    async fn confirm(&self, key: &str) {
        let window = millis(self.window);
        let result: Result<(), String> = self
            .run(|mut connection| async move { connection.pset_ex(key, DELIVERED, window).await })
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "a delivery could not be confirmed in the de-duplication store");
        }
    }

    async fn release(&self, key: &str, claim: &str) {
        let result: Result<i64, String> = self
            .run(|mut connection| {
                let mut invocation = self.release.key(key);
                invocation.arg(claim);
                async move { invocation.invoke_async(&mut connection).await }
            })
            .await;
        if let Err(error) = result {
            tracing::warn!(%error, "a failed delivery's claim could not be released: it expires by itself");
        }
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

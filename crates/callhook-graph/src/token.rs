//! App tokens from the client-credentials flow, cached per tenant until shortly before they
//! expire and fetched single-flight: concurrent callers for one tenant share one request.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use crate::cloud::Cloud;
use crate::credential::{ASSERTION_TYPE, Credential};
use crate::error::{TokenError, TokenErrorBody};
use crate::read_bounded;

/// A token is refreshed this long before it expires, or at half its lifetime when that is sooner.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The largest token response read.
const TOKEN_RESPONSE_LIMIT: usize = 64 * 1024;

/// An app token. Its `Debug` never shows the token.
#[derive(Clone)]
pub struct AppToken {
    secret: Arc<str>,
    expires_at: Instant,
    refresh_at: Instant,
}

impl AppToken {
    /// The bearer token, for a request this crate does not model.
    #[must_use]
    pub fn bearer(&self) -> &str {
        &self.secret
    }

    /// When the token expires.
    #[must_use]
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

impl fmt::Debug for AppToken {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("AppToken")
            .field("token", &"redacted")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Entries live until their token's refresh time.
struct UntilRefresh;

impl moka::Expiry<String, AppToken> for UntilRefresh {
    fn expire_after_create(
        &self,
        _tenant: &String,
        token: &AppToken,
        created_at: Instant,
    ) -> Option<Duration> {
        Some(token.refresh_at.saturating_duration_since(created_at))
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

/// Fetches and caches app tokens.
pub(crate) struct TokenSource {
    http: reqwest::Client,
    cloud: Cloud,
    client_id: String,
    credential: Credential,
    timeout: Duration,
    cache: moka::future::Cache<String, AppToken>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("TokenSource")
            .field("authority", &self.cloud.authority())
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .field("cached_tenants", &self.cache.entry_count())
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    pub(crate) fn new(
        http: reqwest::Client,
        cloud: Cloud,
        client_id: String,
        credential: Credential,
        timeout: Duration,
    ) -> Self {
        Self {
            http,
            cloud,
            client_id,
            credential,
            timeout,
            cache: moka::future::Cache::builder()
                .max_capacity(10_000)
                .expire_after(UntilRefresh)
                .build(),
        }
    }

    /// The cached token of `tenant`, or a fresh one; one request at a time per tenant.
    pub(crate) async fn token(&self, tenant: &str) -> Result<AppToken, TokenError> {
        self.cache
            .try_get_with(tenant.to_owned(), self.fetch(tenant))
            .await
            .map_err(|error| (*error).clone())
    }

    /// Forgets the token of `tenant` (Graph refused it).
    pub(crate) async fn forget(&self, tenant: &str) {
        self.cache.invalidate(tenant).await;
    }

    /// The token request's form. Built before any await: the serializer is not `Send`.
    fn form(&self, endpoint: &str) -> Result<String, TokenError> {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("client_id", &self.client_id)
            .append_pair("scope", self.cloud.scope())
            .append_pair("grant_type", "client_credentials");
        match &self.credential {
            Credential::Secret(secret) => {
                form.append_pair("client_secret", secret.expose());
            }
            Credential::Certificate(certificate) => {
                let assertion =
                    certificate.assertion(&self.client_id, endpoint, SystemTime::now())?;
                form.append_pair("client_assertion_type", ASSERTION_TYPE)
                    .append_pair("client_assertion", &assertion);
            }
        }
        Ok(form.finish())
    }

    async fn fetch(&self, tenant: &str) -> Result<AppToken, TokenError> {
        let endpoint = self.cloud.token_endpoint(tenant);
        let form = self.form(&endpoint)?;
        let requested = Instant::now();
        let transport = |error: reqwest::Error| TokenError::Transport {
            endpoint: endpoint.clone(),
            message: error.to_string(),
        };
        let response = self
            .http
            .post(&endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .timeout(self.timeout)
            .body(form)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status().as_u16();
        let body = read_bounded(response, TOKEN_RESPONSE_LIMIT)
            .await
            .map_err(transport)?;
        if !(200..300).contains(&status) {
            let body = serde_json::from_slice::<TokenErrorBody>(&body).unwrap_or_default();
            tracing::warn!(
                tenant,
                status,
                error = %body.error,
                trace_id = body.trace_id.as_deref().unwrap_or(""),
                correlation_id = body.correlation_id.as_deref().unwrap_or(""),
                "the token endpoint refused an app token"
            );
            return Err(TokenError::Refused {
                endpoint,
                status,
                body: Box::new(body),
            });
        }
        let malformed = |problem: &str| TokenError::Malformed {
            endpoint: endpoint.clone(),
            problem: problem.to_owned(),
        };
        let parsed: TokenResponse =
            serde_json::from_slice(&body).map_err(|_| malformed("not a JSON token response"))?;
        let secret = parsed
            .access_token
            .filter(|token| !token.is_empty())
            .ok_or_else(|| malformed("no access_token"))?;
        let lifetime = match parsed.expires_in {
            Some(serde_json::Value::Number(seconds)) => seconds.as_u64(),
            Some(serde_json::Value::String(seconds)) => seconds.parse().ok(),
            _ => None,
        }
        .map(Duration::from_secs)
        .ok_or_else(|| malformed("no expires_in in seconds"))?;
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        tracing::debug!(
            tenant,
            expires_in_secs = lifetime.as_secs(),
            "app token fetched"
        );
        Ok(AppToken {
            secret: secret.into(),
            expires_at: requested + lifetime,
            refresh_at: requested + lifetime - margin,
        })
    }
}

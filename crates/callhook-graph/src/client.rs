//! The Graph client: call actions with app tokens, retries and deadlines.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use callhook_model::graph::{Operation, PlayPromptOperation, RecordOperation};
use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cloud::Cloud;
use crate::credential::Credential;
use crate::error::{GraphError, GraphErrorBody};
use crate::read_bounded;
use crate::requests::{
    AnswerRequest, PlayPromptRequest, RecordResponseRequest, RedirectRequest, RejectRequest,
    SubscribeToToneRequest, TransferRequest,
};
use crate::retry::{Deadline, RetryPolicy, parse_retry_after};
use crate::token::{AppToken, TokenSource};

/// The header that carries the id this client gives each request.
pub const CLIENT_REQUEST_ID: &str = "client-request-id";
/// The header that carries Graph's id of a request.
pub const REQUEST_ID: &str = "request-id";

/// The largest response body read.
const RESPONSE_LIMIT: usize = 1024 * 1024;

/// A call a request is about: its id, the tenant to ask a token for, and the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallRef {
    id: String,
    tenant: Option<String>,
    deadline: Deadline,
}

impl CallRef {
    /// Call `id`, with the answer window from now as its deadline and the client's default tenant.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            tenant: None,
            deadline: Deadline::answer_window(Instant::now()),
        }
    }

    /// Asks tokens of `tenant`.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sends no request, first or retry, after `deadline`.
    #[must_use]
    pub fn deadline(mut self, deadline: Deadline) -> Self {
        self.deadline = deadline;
        self
    }

    /// The call id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The tenant, when the call names one.
    #[must_use]
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The deadline.
    #[must_use]
    pub fn deadline_instant(&self) -> Deadline {
        self.deadline
    }
}

/// A successful action: its result and the ids for support cases.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct GraphResponse<T> {
    /// What the action returned.
    pub value: T,
    /// The HTTP status.
    pub status: u16,
    /// Graph's `request-id`.
    pub request_id: Option<String>,
    /// The `client-request-id` of the request that succeeded.
    pub client_request_id: String,
    /// How many requests were sent, the successful one included.
    pub attempts: u32,
}

/// Why a [`GraphClient`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The client id is empty.
    #[error("the client id (the app registration's application id) is empty")]
    EmptyClientId,
    /// The default tenant is not a tenant id or domain.
    #[error("tenant `{0}` is not a tenant id or domain name")]
    InvalidTenant(String),
    /// The HTTP client could not be set up.
    #[error(transparent)]
    Client(#[from] callhook_http::ClientSetupError),
    /// reqwest refused the configuration.
    #[error("the HTTP client cannot be built: {0}")]
    Http(String),
}

/// Builds a [`GraphClient`].
#[derive(Debug)]
#[must_use]
pub struct GraphClientBuilder {
    client_id: String,
    credential: Credential,
    cloud: Cloud,
    tenant: Option<String>,
    retry: RetryPolicy,
    request_timeout: Duration,
}

impl GraphClientBuilder {
    /// Talks to `cloud` (default: [`Cloud::public`]).
    pub fn cloud(mut self, cloud: Cloud) -> Self {
        self.cloud = cloud;
        self
    }

    /// Asks tokens of `tenant` for calls that name none (a single-tenant bot).
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Retries failed requests so (default: [`RetryPolicy::default`]).
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The longest one request may take (default 5 s); never longer than the deadline left.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] naming the setting.
    pub fn build(self) -> Result<GraphClient, BuildError> {
        if self.client_id.trim().is_empty() {
            return Err(BuildError::EmptyClientId);
        }
        if let Some(tenant) = &self.tenant
            && !is_path_safe(tenant)
        {
            return Err(BuildError::InvalidTenant(tenant.clone()));
        }
        let http = callhook_http::client_builder()?
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("callhook-graph/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| BuildError::Http(error.to_string()))?;
        let tokens = TokenSource::new(
            http.clone(),
            self.cloud.clone(),
            self.client_id,
            self.credential,
            self.request_timeout,
        );
        Ok(GraphClient {
            inner: Arc::new(Inner {
                http,
                cloud: self.cloud,
                tokens,
                tenant: self.tenant,
                retry: self.retry,
                request_timeout: self.request_timeout,
            }),
        })
    }
}

/// Microsoft Graph's call actions for one app registration. Cheap to clone.
#[derive(Debug, Clone)]
pub struct GraphClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    cloud: Cloud,
    tokens: TokenSource,
    tenant: Option<String>,
    retry: RetryPolicy,
    request_timeout: Duration,
}

/// What one action sends.
struct Action<'a> {
    name: &'static str,
    method: Method,
    call: &'a CallRef,
    suffix: &'static str,
    body: Option<Vec<u8>>,
}

/// A 2xx answer.
struct Sent {
    status: u16,
    request_id: Option<String>,
    client_request_id: String,
    body: Vec<u8>,
    attempts: u32,
}

impl GraphClient {
    /// A client for the app registration `client_id` with `credential`.
    pub fn builder(client_id: impl Into<String>, credential: Credential) -> GraphClientBuilder {
        GraphClientBuilder {
            client_id: client_id.into(),
            credential,
            cloud: Cloud::public(),
            tenant: None,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(5),
        }
    }

    /// The cloud this client talks to.
    #[must_use]
    pub fn cloud(&self) -> &Cloud {
        &self.inner.cloud
    }

    /// An app token of `tenant`, from the cache when it is fresh, for a request this crate does
    /// not model.
    ///
    /// # Errors
    ///
    /// [`GraphError::InvalidRequest`] for a tenant that is not one URL path segment,
    /// [`GraphError::Token`] when no token could be had.
    pub async fn app_token(&self, tenant: &str) -> Result<AppToken, GraphError> {
        if !is_path_safe(tenant) {
            return Err(GraphError::InvalidRequest {
                action: "token",
                problem: format!(
                    "tenant `{}` is not a tenant id or domain name",
                    tenant.escape_debug()
                ),
            });
        }
        self.inner
            .tokens
            .token(tenant)
            .await
            .map_err(|source| GraphError::Token {
                action: "token",
                source,
            })
    }

    /// Answers an incoming call (`202 Accepted`).
    ///
    /// # Errors
    ///
    /// A [`GraphError`]; the `callbackUri` must be https (or http on loopback).
    pub async fn answer(
        &self,
        call: &CallRef,
        request: &AnswerRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        if let Err(problem) = callhook_http::parse_https_or_loopback(&request.callback_uri) {
            return Err(GraphError::InvalidRequest {
                action: "answer",
                problem: format!("callbackUri `{}`: {problem}", request.callback_uri),
            });
        }
        self.empty(self.post("answer", call, "/answer", request)?)
            .await
    }

    /// Rejects an incoming call (`202 Accepted`).
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn reject(
        &self,
        call: &CallRef,
        request: &RejectRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.empty(self.post("reject", call, "/reject", request)?)
            .await
    }

    /// Redirects an incoming call (`202 Accepted`), after checking the targets and the 15–90 s
    /// timeout.
    ///
    /// # Errors
    ///
    /// [`GraphError::InvalidRequest`] before sending, or another [`GraphError`].
    pub async fn redirect(
        &self,
        call: &CallRef,
        request: &RedirectRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        request
            .check()
            .map_err(|problem| GraphError::InvalidRequest {
                action: "redirect",
                problem,
            })?;
        self.empty(self.post("redirect", call, "/redirect", request)?)
            .await
    }

    /// Keeps an established call alive (every 15 to 45 minutes; `200 OK`).
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn keep_alive(&self, call: &CallRef) -> Result<GraphResponse<()>, GraphError> {
        self.empty(Action {
            name: "keepAlive",
            method: Method::POST,
            call,
            suffix: "/keepAlive",
            body: None,
        })
        .await
    }

    /// Plays prompts; returns the running operation, whose completion arrives as a notification.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn play_prompt(
        &self,
        call: &CallRef,
        request: &PlayPromptRequest,
    ) -> Result<GraphResponse<PlayPromptOperation>, GraphError> {
        self.parsed(self.post("playPrompt", call, "/playPrompt", request)?)
            .await
    }

    /// Records the caller's response; returns the running operation.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn record_response(
        &self,
        call: &CallRef,
        request: &RecordResponseRequest,
    ) -> Result<GraphResponse<RecordOperation>, GraphError> {
        self.parsed(self.post("recordResponse", call, "/recordResponse", request)?)
            .await
    }

    /// Subscribes to the caller's DTMF tones, which then arrive as `toneInfo` notifications.
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn subscribe_to_tone(
        &self,
        call: &CallRef,
        request: &SubscribeToToneRequest,
    ) -> Result<GraphResponse<Operation>, GraphError> {
        self.parsed(self.post("subscribeToTone", call, "/subscribeToTone", request)?)
            .await
    }

    /// Transfers an established call (`202 Accepted`).
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn transfer(
        &self,
        call: &CallRef,
        request: &TransferRequest,
    ) -> Result<GraphResponse<()>, GraphError> {
        self.empty(self.post("transfer", call, "/transfer", request)?)
            .await
    }

    /// Hangs up: `DELETE /communications/calls/{id}` (`204 No Content`).
    ///
    /// # Errors
    ///
    /// A [`GraphError`].
    pub async fn hang_up(&self, call: &CallRef) -> Result<GraphResponse<()>, GraphError> {
        self.empty(Action {
            name: "hangUp",
            method: Method::DELETE,
            call,
            suffix: "",
            body: None,
        })
        .await
    }

    fn post<'a, B: Serialize>(
        &self,
        name: &'static str,
        call: &'a CallRef,
        suffix: &'static str,
        body: &B,
    ) -> Result<Action<'a>, GraphError> {
        let body = serde_json::to_vec(body).map_err(|error| GraphError::InvalidRequest {
            action: name,
            problem: error.to_string(),
        })?;
        Ok(Action {
            name,
            method: Method::POST,
            call,
            suffix,
            body: Some(body),
        })
    }

    async fn empty(&self, action: Action<'_>) -> Result<GraphResponse<()>, GraphError> {
        let sent = self.send(action).await?;
        Ok(GraphResponse {
            value: (),
            status: sent.status,
            request_id: sent.request_id,
            client_request_id: sent.client_request_id,
            attempts: sent.attempts,
        })
    }

    async fn parsed<T: DeserializeOwned>(
        &self,
        action: Action<'_>,
    ) -> Result<GraphResponse<T>, GraphError> {
        let name = action.name;
        let sent = self.send(action).await?;
        let value =
            serde_json::from_slice(&sent.body).map_err(|error| GraphError::UnexpectedBody {
                action: name,
                status: sent.status,
                request_id: sent.request_id.clone(),
                problem: error.to_string(),
            })?;
        Ok(GraphResponse {
            value,
            status: sent.status,
            request_id: sent.request_id,
            client_request_id: sent.client_request_id,
            attempts: sent.attempts,
        })
    }

    /// Sends `action`, retrying what may succeed later while the deadline allows.
    async fn send(&self, action: Action<'_>) -> Result<Sent, GraphError> {
        let inner = &*self.inner;
        let name = action.name;
        let call = action.call;
        let invalid = |problem: String| GraphError::InvalidRequest {
            action: name,
            problem,
        };
        if !is_path_safe(&call.id) {
            return Err(invalid(format!(
                "call id `{}` is not a Graph call id (letters, digits, `-`, `_`, `.`, `~`)",
                call.id.escape_debug()
            )));
        }
        let tenant = call
            .tenant
            .as_deref()
            .or(inner.tenant.as_deref())
            .ok_or(GraphError::NoTenant { action: name })?;
        if !is_path_safe(tenant) {
            return Err(invalid(format!(
                "tenant `{}` is not a tenant id or domain name",
                tenant.escape_debug()
            )));
        }
        let url = inner.cloud.graph_url(&format!(
            "/communications/calls/{}{}",
            call.id, action.suffix
        ));
        let mut attempts = 0;
        let mut token_refreshed = false;
        let mut last_error = None;
        loop {
            let remaining = call.deadline.remaining();
            if remaining.is_zero() {
                return Err(GraphError::DeadlineExceeded {
                    action: name,
                    attempts,
                    last: Box::new(last_error.unwrap_or_else(|| GraphError::Transport {
                        action: name,
                        client_request_id: String::new(),
                        message: "the deadline had passed before the first request".to_owned(),
                    })),
                });
            }
            attempts += 1;
            let client_request_id = uuid::Uuid::new_v4().to_string();
            let outcome = self
                .attempt(&action, tenant, &url, &client_request_id, remaining)
                .await;
            let error = match outcome {
                Ok(mut sent) => {
                    sent.attempts = attempts;
                    tracing::info!(
                        action = name,
                        call_id = %call.id,
                        status = sent.status,
                        request_id = sent.request_id.as_deref().unwrap_or(""),
                        client_request_id = %sent.client_request_id,
                        attempts,
                        "graph call action succeeded"
                    );
                    return Ok(sent);
                }
                Err(error) => error,
            };
            tracing::warn!(
                action = name,
                call_id = %call.id,
                attempt = attempts,
                status = error.status(),
                request_id = error.request_id().unwrap_or(""),
                client_request_id = %client_request_id,
                %error,
                "graph call action failed"
            );
            // A token Graph refuses is forgotten and fetched again, once.
            if error.status() == Some(401) && !token_refreshed {
                token_refreshed = true;
                inner.tokens.forget(tenant).await;
                if attempts < inner.retry.max_attempts {
                    last_error = Some(error);
                    continue;
                }
            }
            if !error.is_retryable() || attempts >= inner.retry.max_attempts {
                return Err(error);
            }
            let retry_after = match &error {
                GraphError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            if retry_after.is_some_and(|wait| wait > inner.retry.max_retry_after) {
                return Err(error);
            }
            let wait = inner.retry.wait(attempts, retry_after);
            if wait >= call.deadline.remaining() {
                return Err(GraphError::DeadlineExceeded {
                    action: name,
                    attempts,
                    last: Box::new(error),
                });
            }
            tokio::time::sleep(wait).await;
            last_error = Some(error);
        }
    }

    async fn attempt(
        &self,
        action: &Action<'_>,
        tenant: &str,
        url: &str,
        client_request_id: &str,
        remaining: Duration,
    ) -> Result<Sent, GraphError> {
        let inner = &*self.inner;
        let name = action.name;
        // The token request may not outlast the deadline either.
        let token = tokio::time::timeout(remaining, inner.tokens.token(tenant))
            .await
            .map_err(|_| GraphError::Transport {
                action: name,
                client_request_id: client_request_id.to_owned(),
                message: "the deadline passed while waiting for an app token".to_owned(),
            })?
            .map_err(|source| GraphError::Token {
                action: name,
                source,
            })?;
        let mut request = inner
            .http
            .request(action.method.clone(), url)
            .bearer_auth(token.bearer())
            .header(CLIENT_REQUEST_ID, client_request_id)
            .header("return-client-request-id", "true")
            .header("accept", "application/json")
            .timeout(inner.request_timeout.min(remaining));
        if let Some(body) = &action.body {
            request = request
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let transport = |error: reqwest::Error| GraphError::Transport {
            action: name,
            client_request_id: client_request_id.to_owned(),
            message: error.to_string(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let request_id = header(REQUEST_ID);
        let retry_after =
            header("retry-after").and_then(|value| parse_retry_after(&value, SystemTime::now()));
        let body = read_bounded(response, RESPONSE_LIMIT)
            .await
            .map_err(transport)?;
        if (200..300).contains(&status) {
            return Ok(Sent {
                status,
                request_id,
                client_request_id: client_request_id.to_owned(),
                body,
                attempts: 0,
            });
        }
        Err(GraphError::Status {
            action: name,
            status,
            body: GraphErrorBody::parse(&body).map(Box::new),
            request_id,
            client_request_id: client_request_id.to_owned(),
            retry_after,
        })
    }
}

/// Whether `text` can go into a URL path as one segment unchanged: RFC 3986's unreserved
/// characters only, which covers call ids, tenant ids and tenant domain names.
fn is_path_safe(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 256
        && text != "."
        && text != ".."
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~'))
}

#[cfg(test)]
mod tests {
    use super::is_path_safe;

    #[test]
    fn only_unreserved_characters_go_into_a_path() {
        for safe in [
            "57DAB8B1894C409AB240BD8BEAE78896",
            "contoso.onmicrosoft.com",
            "a-b_c~d",
        ] {
            assert!(is_path_safe(safe), "{safe}");
        }
        for unsafe_ in ["", ".", "..", "a/b", "a?b", "a#b", "a%2Fb", "a b", "é"] {
            assert!(!is_path_safe(unsafe_), "{unsafe_}");
        }
    }
}

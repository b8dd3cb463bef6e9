//! Typed errors: of the token endpoint, of Graph (with its error body parsed), of the transport,
//! and of the deadline. Each says whether a retry could succeed.

use std::time::Duration;

use serde::Deserialize;

use crate::credential::CredentialError;

/// Graph's error body: `{"error":{"code","message","innerError":{"request-id","date",...}}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GraphErrorBody {
    /// `error.code`, for example `Forbidden` or `8506`.
    pub code: String,
    /// `error.message`.
    pub message: String,
    /// `error.innerError.request-id`, Graph's id of the request for support cases.
    pub request_id: Option<String>,
    /// `error.innerError.client-request-id`, the id this client sent.
    pub client_request_id: Option<String>,
    /// `error.innerError.date`.
    pub date: Option<String>,
}

#[derive(Deserialize)]
struct Envelope {
    error: WireError,
}

#[derive(Deserialize)]
struct WireError {
    #[serde(default)]
    code: Option<serde_json::Value>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "innerError", alias = "innererror")]
    inner_error: Option<WireInner>,
}

#[derive(Deserialize)]
struct WireInner {
    #[serde(default, rename = "request-id")]
    request_id: Option<String>,
    #[serde(default, rename = "client-request-id")]
    client_request_id: Option<String>,
    #[serde(default)]
    date: Option<String>,
}

impl GraphErrorBody {
    /// Reads Graph's error body; `None` when `body` is not one.
    #[must_use]
    pub fn parse(body: &[u8]) -> Option<Self> {
        let envelope: Envelope = serde_json::from_slice(body).ok()?;
        let error = envelope.error;
        let code = match error.code {
            Some(serde_json::Value::String(code)) => code,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let inner = error.inner_error;
        Some(Self {
            code,
            message: error.message.unwrap_or_default(),
            request_id: inner.as_ref().and_then(|inner| inner.request_id.clone()),
            client_request_id: inner
                .as_ref()
                .and_then(|inner| inner.client_request_id.clone()),
            date: inner.and_then(|inner| inner.date),
        })
    }
}

/// The token endpoint's error body (`error`, `error_description`, `error_codes`, `trace_id`,
/// `correlation_id`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[non_exhaustive]
pub struct TokenErrorBody {
    /// The OAuth error, for example `invalid_client`.
    #[serde(default)]
    pub error: String,
    /// The description, starting with the `AADSTS` code.
    #[serde(default)]
    pub error_description: String,
    /// The `AADSTS` codes.
    #[serde(default)]
    pub error_codes: Vec<u64>,
    /// The identity platform's trace id, for support cases.
    #[serde(default)]
    pub trace_id: Option<String>,
    /// The correlation id, for support cases.
    #[serde(default)]
    pub correlation_id: Option<String>,
}

/// Why no app token could be had.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The certificate could not sign a client assertion.
    #[error("cannot sign the client assertion: {0}")]
    Credential(#[from] CredentialError),
    /// The token endpoint could not be reached or did not answer in time.
    #[error("the token endpoint {endpoint} could not be reached: {message}")]
    Transport {
        /// The token endpoint.
        endpoint: String,
        /// The transport's error.
        message: String,
    },
    /// The token endpoint refused.
    #[error("the token endpoint {endpoint} answered {status}: {} {}", body.error, body.error_description)]
    Refused {
        /// The token endpoint.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The parsed error body (empty fields when it was not one).
        body: Box<TokenErrorBody>,
    },
    /// The token endpoint answered 200 with something that is not a token.
    #[error("the token endpoint {endpoint} answered without a usable token: {problem}")]
    Malformed {
        /// The token endpoint.
        endpoint: String,
        /// What was wrong.
        problem: String,
    },
}

impl TokenError {
    /// Whether trying again later could succeed: transport errors, 429 and 5xx.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Refused { status, .. } => *status == 429 || *status >= 500,
            Self::Credential(_) | Self::Malformed { .. } => false,
        }
    }
}

/// A call action that failed.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// The request was refused before sending: what is wrong with it.
    #[error("{action}: invalid request: {problem}")]
    InvalidRequest {
        /// The action, for example `redirect`.
        action: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// No tenant to ask a token for: neither the call nor the client names one.
    #[error("{action}: no tenant: the call names none and the client has no default tenant")]
    NoTenant {
        /// The action.
        action: &'static str,
    },
    /// No app token.
    #[error("{action}: {source}")]
    Token {
        /// The action.
        action: &'static str,
        /// Why.
        source: TokenError,
    },
    /// Graph could not be reached, or did not answer in time.
    #[error(
        "{action}: Graph could not be reached (client-request-id {client_request_id}): {message}"
    )]
    Transport {
        /// The action.
        action: &'static str,
        /// The `client-request-id` sent.
        client_request_id: String,
        /// The transport's error.
        message: String,
    },
    /// Graph answered with an error status.
    #[error(
        "{action}: Graph answered {status}{} (request-id {}, client-request-id {client_request_id})",
        body.as_ref().map(|body| format!(" {}: {}", body.code, body.message)).unwrap_or_default(),
        request_id.as_deref().unwrap_or("none")
    )]
    Status {
        /// The action.
        action: &'static str,
        /// The HTTP status.
        status: u16,
        /// Graph's error body, when it sent one.
        body: Option<Box<GraphErrorBody>>,
        /// The response's `request-id`.
        request_id: Option<String>,
        /// The `client-request-id` sent.
        client_request_id: String,
        /// The response's `Retry-After`, when it sent one.
        retry_after: Option<Duration>,
    },
    /// Graph answered 2xx with a body that is not what the action returns.
    #[error("{action}: Graph answered {status} with an unexpected body (request-id {}): {problem}", request_id.as_deref().unwrap_or("none"))]
    UnexpectedBody {
        /// The action.
        action: &'static str,
        /// The HTTP status.
        status: u16,
        /// The response's `request-id`.
        request_id: Option<String>,
        /// What was wrong.
        problem: String,
    },
    /// The deadline passed, or would pass before the next retry could be sent; `last` is the error
    /// of the last attempt.
    #[error("{action}: gave up after {attempts} attempt(s), the deadline would pass: {last}")]
    DeadlineExceeded {
        /// The action.
        action: &'static str,
        /// How many requests were sent.
        attempts: u32,
        /// The last attempt's error.
        last: Box<GraphError>,
    },
}

impl GraphError {
    /// Whether trying the same request again could succeed: 429, 5xx, transport errors, and token
    /// errors that are themselves retryable. A deadline that passed is not retryable.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status == 429 || *status >= 500,
            Self::Transport { .. } => true,
            Self::Token { source, .. } => source.is_retryable(),
            Self::InvalidRequest { .. }
            | Self::NoTenant { .. }
            | Self::UnexpectedBody { .. }
            | Self::DeadlineExceeded { .. } => false,
        }
    }

    /// The HTTP status Graph answered, when it answered.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::UnexpectedBody { status, .. } => Some(*status),
            Self::DeadlineExceeded { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Graph's `request-id` for the failed request, for support cases.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Status {
                request_id, body, ..
            } => request_id
                .as_deref()
                .or_else(|| body.as_ref().and_then(|body| body.request_id.as_deref())),
            Self::UnexpectedBody { request_id, .. } => request_id.as_deref(),
            Self::DeadlineExceeded { last, .. } => last.request_id(),
            _ => None,
        }
    }

    /// Graph's error body, when the failure was one.
    #[must_use]
    pub fn body(&self) -> Option<&GraphErrorBody> {
        match self {
            Self::Status { body, .. } => body.as_deref(),
            Self::DeadlineExceeded { last, .. } => last.body(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_error_bodies_are_parsed_with_either_inner_spelling() {
        let body = br#"{"error":{"code":"Forbidden","message":"Call not found.","innerError":{"date":"2026-12-02T04:11:22","request-id":"r-1","client-request-id":"c-1"}}}"#;
        let parsed = GraphErrorBody::parse(body).expect("a Graph error body");
        assert_eq!(parsed.code, "Forbidden");
        assert_eq!(parsed.message, "Call not found.");
        assert_eq!(parsed.request_id.as_deref(), Some("r-1"));
        assert_eq!(parsed.client_request_id.as_deref(), Some("c-1"));
        assert_eq!(parsed.date.as_deref(), Some("2026-12-02T04:11:22"));
        let numeric = GraphErrorBody::parse(
            br#"{"error":{"code":8506,"message":"m","innererror":{"request-id":"r-2"}}}"#,
        )
        .expect("numeric code");
        assert_eq!(numeric.code, "8506");
        assert_eq!(numeric.request_id.as_deref(), Some("r-2"));
        assert_eq!(GraphErrorBody::parse(b"<html>gateway</html>"), None);
        assert_eq!(GraphErrorBody::parse(br#"{"value":[]}"#), None);
    }

    #[test]
    fn retryable_means_429_5xx_and_transport() {
        let status = |status| GraphError::Status {
            action: "answer",
            status,
            body: None,
            request_id: None,
            client_request_id: "c".into(),
            retry_after: None,
        };
        assert!(status(429).is_retryable());
        assert!(status(503).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(403).is_retryable());
        let gave_up = GraphError::DeadlineExceeded {
            action: "answer",
            attempts: 3,
            last: Box::new(status(503)),
        };
        assert!(!gave_up.is_retryable());
        assert_eq!(gave_up.status(), Some(503));
    }
}

//! The one place where a refusal becomes an HTTP answer.
//!
//! Every error body is `application/problem+json` (RFC 9457). A refused token gets the same answer
//! whatever check failed: the reason goes to the log and to metrics, never to the caller. The two
//! answers of authentication (401, and 503 while no key was loaded) are `callhook-auth`'s
//! [`AuthAnswer`], the mapping its framework integrations use too.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use callhook_auth::answer::AuthAnswer;

/// Seconds the platform is asked to wait before retrying a `503`.
pub const RETRY_AFTER_SECS: u32 = callhook_auth::answer::RETRY_AFTER_SECS;

/// Why a webhook request was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The body is larger than `server.max_body_bytes`.
    #[error("the body is larger than the {limit} bytes this webhook accepts")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// No bearer token, a token that failed a check, or a tenant that is not allowed.
    #[error("the request is not authenticated")]
    Unauthenticated,
    /// No signing key was ever loaded, so no token can be checked yet.
    #[error("the signing keys of the calling platform are not loaded yet")]
    KeysUnavailable,
    /// The body did not arrive within `server.body_timeout_ms`.
    #[error("the body did not arrive within {timeout_ms} ms")]
    BodyTimeout {
        /// The configured deadline.
        timeout_ms: u64,
    },
    /// The request carries both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.3).
    #[error("the request is framed by both Content-Length and Transfer-Encoding")]
    AmbiguousFraming,
    /// The body is empty, not JSON, or neither format.
    #[error("{reason}")]
    BadRequest {
        /// What was wrong, in words a person can act on.
        reason: String,
    },
    /// The request names a partition this instance does not own.
    #[error("this instance does not own partition `{partition}`")]
    Misdirected {
        /// The partition named in the path, as validated (never echoed when invalid).
        partition: String,
    },
    /// The sink could not be reached.
    #[error("the notification could not be delivered: {reason}")]
    SinkUnavailable {
        /// What went wrong.
        reason: String,
    },
    /// Every in-flight place of the sink stayed taken for the whole bounded wait.
    #[error("the bot is busy: {reason}")]
    SinkBusy {
        /// What went wrong.
        reason: String,
    },
    /// The sink answered with an error or took too long.
    #[error("the notification could not be delivered: {reason}")]
    SinkFailed {
        /// What went wrong.
        reason: String,
    },
    /// The shared de-duplication store could not say whether the id was delivered (Redis is
    /// unreachable under `on_store_error = "retry"`, or another instance's delivery of the id is
    /// still in flight).
    #[error("{reason}")]
    DedupUnavailable {
        /// What went wrong.
        reason: String,
    },
}

impl From<crate::shared_dedup::SharedDedupError> for Refusal {
    fn from(error: crate::shared_dedup::SharedDedupError) -> Self {
        Self::DedupUnavailable {
            reason: error.to_string(),
        }
    }
}

impl Refusal {
    /// The stable label of this refusal in `callhook_requests_total{outcome}`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "too_large",
            Self::BodyTimeout { .. } => "body_timeout",
            Self::AmbiguousFraming => "ambiguous_framing",
            Self::SinkBusy { .. } => "sink_busy",
            Self::Unauthenticated => "rejected_auth",
            Self::KeysUnavailable => "keys_unavailable",
            Self::BadRequest { .. } => "bad_request",
            Self::Misdirected { .. } => "misdirected",
            Self::SinkUnavailable { .. } | Self::SinkFailed { .. } => "sink_failed",
            Self::DedupUnavailable { .. } => "dedup_unavailable",
        }
    }

    /// The answer of `callhook-auth`'s mapping, for the refusals of authentication.
    fn auth_answer(&self) -> Option<AuthAnswer> {
        match self {
            Self::Unauthenticated => Some(AuthAnswer::UNAUTHORIZED),
            Self::KeysUnavailable => Some(AuthAnswer::KEYS_UNAVAILABLE),
            _ => None,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::Unauthenticated => AuthAnswer::UNAUTHORIZED.title(),
            Self::KeysUnavailable => AuthAnswer::KEYS_UNAVAILABLE.title(),
            Self::TooLarge { .. } => "Payload too large",
            Self::BodyTimeout { .. } => "Request timeout",
            Self::AmbiguousFraming => "Ambiguous message framing",
            Self::SinkBusy { .. } => "Bot busy",
            Self::BadRequest { .. } => "Not a calling notification",
            Self::Misdirected { .. } => "Misdirected request",
            Self::SinkUnavailable { .. } => "Bot unavailable",
            Self::SinkFailed { .. } => "Bot failed",
            Self::DedupUnavailable { .. } => "De-duplication store unavailable",
        }
    }
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::KeysUnavailable => self
                .auth_answer()
                .and_then(|answer| StatusCode::from_u16(answer.status()).ok())
                .unwrap_or(StatusCode::UNAUTHORIZED),
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::SinkUnavailable { .. }
            | Self::SinkBusy { .. }
            | Self::DedupUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::BadRequest { .. } | Self::AmbiguousFraming => StatusCode::BAD_REQUEST,
            Self::Misdirected { .. } => StatusCode::MISDIRECTED_REQUEST,
            Self::SinkFailed { .. } => StatusCode::BAD_GATEWAY,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut response = HttpResponse::build(status);
        if let Some(answer) = self.auth_answer() {
            let (name, value) = answer.header();
            response.insert_header((
                header::HeaderName::from_static(name),
                HeaderValue::from_static(value),
            ));
            return response
                .content_type(callhook_auth::answer::PROBLEM_JSON)
                .body(answer.problem_json());
        }
        match self {
            Self::SinkUnavailable { .. }
            | Self::SinkBusy { .. }
            | Self::DedupUnavailable { .. } => {
                response.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS));
            }
            // The rest of the request was not read (or cannot be trusted to frame the next one):
            // the connection is closed after the answer, and the answer says so.
            Self::TooLarge { .. } | Self::BodyTimeout { .. } | Self::AmbiguousFraming => {
                response.force_close();
            }
            _ => {}
        }
        let problem = serde_json::json!({
            "type": "about:blank",
            "title": self.title(),
            "status": status.as_u16(),
            "detail": self.to_string(),
        });
        response
            .content_type("application/problem+json")
            .body(problem.to_string())
    }
}

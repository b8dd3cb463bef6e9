//! How a refused authentication is answered over HTTP, as callhook's contract says, the same in
//! every framework: the `tower` and `actix` integrations (features of the same names) and the
//! reference server use this mapping, and a team on another framework can too.
//!
//! - a refused token, whatever the check that failed: `401` with
//!   `WWW-Authenticate: Bearer error="invalid_token"` (RFC 6750 §3);
//! - no signing key ever loaded (the issuer unreachable since start): `503` with `Retry-After`.
//!
//! The body is an `application/problem+json` document (RFC 9457) that never says which check
//! failed: log [`AuthError::reason`] instead.

use crate::AuthError;

/// Seconds a client is asked to wait before retrying while no signing key was loaded.
pub const RETRY_AFTER_SECS: u32 = 5;

/// The media type of [`AuthAnswer::problem_json`].
pub const PROBLEM_JSON: &str = "application/problem+json";

/// The HTTP answer to an [`AuthError`]: its status, its one header and a problem body.
///
/// ```
/// use callhook_auth::{AuthError, Rejection};
///
/// let answer = AuthError::Rejected(Rejection::Expired).answer();
/// assert_eq!(answer.status(), 401);
/// assert_eq!(answer.header(), ("www-authenticate", r#"Bearer error="invalid_token""#));
/// assert!(answer.problem_json().contains(r#""status":401"#));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthAnswer {
    status: u16,
    header: (&'static str, &'static str),
    title: &'static str,
    detail: &'static str,
}

impl AuthAnswer {
    /// The answer to every refused token.
    pub const UNAUTHORIZED: AuthAnswer = AuthAnswer {
        status: 401,
        header: ("www-authenticate", "Bearer error=\"invalid_token\""),
        title: "Unauthorized",
        detail: "the request is not authenticated",
    };

    /// The answer while no signing key was ever loaded.
    pub const KEYS_UNAVAILABLE: AuthAnswer = AuthAnswer {
        status: 503,
        header: ("retry-after", "5"),
        title: "Signing keys not loaded",
        detail: "the signing keys of the calling platform are not loaded yet",
    };

    /// The answer to `error`.
    #[must_use]
    pub fn for_error(error: &AuthError) -> AuthAnswer {
        match error {
            AuthError::KeysUnavailable => AuthAnswer::KEYS_UNAVAILABLE,
            AuthError::Rejected(_) => AuthAnswer::UNAUTHORIZED,
        }
    }

    /// The status code: 401 or 503.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The header the answer carries, name in lower case: `www-authenticate` for a 401,
    /// `retry-after` for a 503.
    #[must_use]
    pub fn header(&self) -> (&'static str, &'static str) {
        self.header
    }

    /// The problem's title (RFC 9457 `title`).
    #[must_use]
    pub fn title(&self) -> &'static str {
        self.title
    }

    /// The problem's detail (RFC 9457 `detail`), the same for every reason of a kind.
    #[must_use]
    pub fn detail(&self) -> &'static str {
        self.detail
    }

    /// The body: an `application/problem+json` document ([`PROBLEM_JSON`]).
    #[must_use]
    pub fn problem_json(&self) -> String {
        serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        })
        .to_string()
    }
}

impl AuthError {
    /// How to answer this error over HTTP.
    #[must_use]
    pub fn answer(&self) -> AuthAnswer {
        AuthAnswer::for_error(self)
    }
}

/// The answer an integration gives to a refused request, with the one log line it writes for it:
/// the reason, never the token.
#[cfg(any(feature = "tower", feature = "actix"))]
pub(crate) fn refused(error: &AuthError) -> AuthAnswer {
    tracing::info!(reason = error.reason(), "token refused");
    error.answer()
}

/// The refusal of the `VerifiedClaims` extractor of a framework integration, asked for in a
/// handler that the integration's layer or middleware does not wrap. Answered `500`, naming what
/// is missing: a mistake in the app, never a client's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingAuthentication {
    /// What must wrap the handler, for example `callhook_auth::tower::AuthLayer`.
    pub wrapper: &'static str,
}

impl std::fmt::Display for MissingAuthentication {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "VerifiedClaims needs {} in front of this handler",
            self.wrapper
        )
    }
}

impl std::error::Error for MissingAuthentication {}

/// The text of an `Authorization` header value as the authenticator reads it: ASCII only (the
/// HTTP parser lets no control character but tab through), checked a word at a time.
pub(crate) fn header_text(value: &[u8]) -> Option<&str> {
    if value.is_ascii() {
        std::str::from_utf8(value).ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Rejection;

    #[test]
    fn every_rejection_is_the_same_401_and_keys_unavailable_is_a_503() {
        for rejection in [
            Rejection::MissingAuthorization,
            Rejection::MalformedAuthorization,
            Rejection::Expired,
            Rejection::AudienceMismatch,
            Rejection::BadSignature,
        ] {
            let answer = AuthError::Rejected(rejection).answer();
            assert_eq!(answer, AuthAnswer::UNAUTHORIZED);
            assert_eq!(answer.status(), 401);
            assert!(!answer.problem_json().contains("expired"));
        }
        let answer = AuthError::KeysUnavailable.answer();
        assert_eq!(answer.status(), 503);
        assert_eq!(answer.header().0, "retry-after");
        assert_eq!(answer.header().1, RETRY_AFTER_SECS.to_string());
        let problem: serde_json::Value = serde_json::from_str(&answer.problem_json()).unwrap();
        assert_eq!(problem["status"], 503);
        assert_eq!(problem["title"], "Signing keys not loaded");
    }

    #[test]
    fn header_text_is_ascii_only() {
        assert_eq!(header_text(b"Bearer abc"), Some("Bearer abc"));
        assert_eq!(header_text("Bearer é".as_bytes()), None);
        assert_eq!(header_text(b"Bearer \xff"), None);
    }
}

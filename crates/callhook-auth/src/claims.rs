//! The proof that a token was verified.

use crate::clock::UnixTime;
use serde_json::{Map, Value};
use std::fmt;
use std::sync::Arc;

/// The claims of a token that passed every check: signature, time window, audience, issuer, tenant.
///
/// It cannot be constructed outside this crate, so code that takes a `VerifiedClaims` cannot be
/// reached with an unverified token. Cloning is cheap (the claims are shared).
#[derive(Clone)]
pub struct VerifiedClaims {
    inner: Arc<VerifiedClaimsInner>,
}

struct VerifiedClaimsInner {
    claims: Map<String, Value>,
    tenant_id: String,
    audience: String,
    issuer: String,
    key_id: String,
    expires_at: UnixTime,
    not_before: Option<UnixTime>,
}

/// The checked facts of a token, gathered by the verifier before it hands out a [`VerifiedClaims`].
pub(crate) struct CheckedFacts {
    pub(crate) tenant_id: String,
    pub(crate) audience: String,
    pub(crate) issuer: String,
    pub(crate) key_id: String,
    pub(crate) expires_at: UnixTime,
    pub(crate) not_before: Option<UnixTime>,
}

impl VerifiedClaims {
    pub(crate) fn new(claims: Map<String, Value>, facts: CheckedFacts) -> VerifiedClaims {
        VerifiedClaims {
            inner: Arc::new(VerifiedClaimsInner {
                claims,
                tenant_id: facts.tenant_id,
                audience: facts.audience,
                issuer: facts.issuer,
                key_id: facts.key_id,
                expires_at: facts.expires_at,
                not_before: facts.not_before,
            }),
        }
    }

    /// The verified tenant (`tid`): never empty, and in the allow-list when one is configured.
    #[must_use]
    pub fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }

    /// The bot's app id this token was issued for: the configured app id, found in `aud`.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// The same as [`VerifiedClaims::audience`]: the bot's own app id, which `aud` had to contain.
    ///
    /// Not to be confused with the token's `appid` claim, the calling platform's own app id
    /// (see [`VerifiedClaims::caller_app_id`]).
    #[must_use]
    pub fn app_id(&self) -> &str {
        &self.inner.audience
    }

    /// The token's `appid` claim when it is a string: the app id of the service that called.
    #[must_use]
    pub fn caller_app_id(&self) -> Option<&str> {
        self.inner.claims.get("appid").and_then(Value::as_str)
    }

    /// The verified issuer (`iss`), one of the configured issuers.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The `kid` of the key whose signature was verified.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.inner.key_id
    }

    /// `exp`, rounded down to whole seconds.
    #[must_use]
    pub fn expires_at(&self) -> UnixTime {
        self.inner.expires_at
    }

    /// `nbf` when present, rounded up to whole seconds.
    #[must_use]
    pub fn not_before(&self) -> Option<UnixTime> {
        self.inner.not_before
    }

    /// Any claim by name, verified as part of the signed payload but not otherwise checked.
    #[must_use]
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.inner.claims.get(name)
    }

    /// All claims, in the order of the token.
    #[must_use]
    pub fn claims(&self) -> &Map<String, Value> {
        &self.inner.claims
    }
}

impl fmt::Debug for VerifiedClaims {
    // Claims are not secret (they are signed, not encrypted); the token itself never gets here.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("VerifiedClaims")
            .field("tenant_id", &self.inner.tenant_id)
            .field("audience", &self.inner.audience)
            .field("issuer", &self.inner.issuer)
            .field("key_id", &self.inner.key_id)
            .field("expires_at", &self.inner.expires_at)
            .field("not_before", &self.inner.not_before)
            .field("claims", &self.inner.claims)
            .finish()
    }
}

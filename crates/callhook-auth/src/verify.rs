//! The pure verifier: a compact JWS, a key set and a time in, verified claims or a rejection out.

use crate::claims::{CheckedFacts, VerifiedClaims};
use crate::clock::UnixTime;
use crate::encoding::{decode_base64url, parse_strict_object};
use crate::jwk::KeySet;
use serde_json::{Map, Value};
use std::time::Duration;

/// The largest token accepted, in bytes. Real platform tokens are about 1 KiB; the cap keeps
/// decoding work bounded before any check.
pub const MAXIMUM_TOKEN_BYTES: usize = 16 * 1024;

/// The issuers the public cloud's calling platform uses (exact match, no trailing slash).
pub const DEFAULT_ISSUERS: [&str; 2] = [
    "https://api.botframework.com",
    "https://graph.microsoft.com",
];

/// The default clock skew allowed on `exp` and `nbf` (the industry's 5 minutes).
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(300);

/// The one algorithm this crate verifies, mapped at compile time to ring's PKCS#1 v1.5 SHA-256
/// verification for 2048- to 8192-bit keys.
const RS256: &str = "RS256";

/// Header parameters that carry or point to a key. The key is only ever chosen from the configured
/// source, so a token that brings its own is refused outright rather than silently ignored.
const EMBEDDED_KEY_PARAMETERS: [&str; 4] = ["jwk", "jku", "x5u", "x5c"];

/// Why a token was refused. One variant per reason, for logs and metrics; callers should answer
/// every one of them the same way (401) so that an attacker learns nothing about which check failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The request has no `Authorization` header.
    #[error("no authorization header")]
    MissingAuthorization,
    /// The `Authorization` value is not `Bearer <token>`.
    #[error("authorization value is not a bearer token")]
    MalformedAuthorization,
    /// The token is longer than [`MAXIMUM_TOKEN_BYTES`].
    #[error("token longer than {MAXIMUM_TOKEN_BYTES} bytes")]
    TokenTooLarge,
    /// The token is a JWS JSON serialization, which this crate never accepts.
    #[error("JWS JSON serialization is not accepted")]
    JsonSerialization,
    /// The token has five segments: an encrypted JWE, which this crate never accepts.
    #[error("encrypted tokens (JWE) are not accepted")]
    EncryptedToken,
    /// The token does not have exactly three non-empty segments.
    #[error("token is not three non-empty segments")]
    MalformedToken,
    /// A segment is not strict base64url without padding.
    #[error("token segment is not strict base64url")]
    BadBase64,
    /// The header is not a JSON object with unique members and a string `alg`.
    #[error("token header is not a valid JSON object")]
    MalformedHeader,
    /// The header's `alg` is not RS256 (`none`, `HS256`, `ES256`, `PS256`, ... are all refused).
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The header has a `crit` parameter; no extension is understood (RFC 7515 §4.1.11).
    #[error("critical header parameters are not supported")]
    CriticalHeader,
    /// The header carries or points to a key (`jwk`, `jku`, `x5u`, `x5c`).
    #[error("header carries or points to a key")]
    EmbeddedKeyHeader,
    /// The header has no `kid`, or it is not a non-empty string.
    #[error("header has no key id")]
    MissingKid,
    /// No usable key of the configured source has the header's `kid`.
    #[error("unknown key id")]
    UnknownKid,
    /// The key's declared `alg` differs from the header's `alg`.
    #[error("algorithm does not match the key")]
    AlgorithmKeyMismatch,
    /// The signature does not verify with the key.
    #[error("bad signature")]
    BadSignature,
    /// The payload is not a JSON object with unique members.
    #[error("claims are not a valid JSON object")]
    MalformedClaims,
    /// A required claim is absent.
    #[error("required claim `{claim}` is missing")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// A claim has the wrong type or an impossible value (a string date, an empty `tid`, ...).
    #[error("claim `{claim}` has an invalid value")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// `exp` plus the leeway is not after the current time.
    #[error("token expired")]
    Expired,
    /// `nbf` minus the leeway is after the current time.
    #[error("token not yet valid")]
    NotYetValid,
    /// `aud` does not contain the configured app id.
    #[error("token is for another audience")]
    AudienceMismatch,
    /// `iss` is not one of the configured issuers.
    #[error("token is from an untrusted issuer")]
    IssuerMismatch,
    /// `tid` is not in the configured tenant allow-list.
    #[error("tenant not allowed")]
    TenantNotAllowed,
}

impl Rejection {
    /// A stable `snake_case` label for metrics and logs.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Rejection::MissingAuthorization => "missing_token",
            Rejection::MalformedAuthorization => "malformed_authorization",
            Rejection::TokenTooLarge => "token_too_large",
            Rejection::JsonSerialization => "json_serialization",
            Rejection::EncryptedToken => "encrypted_token",
            Rejection::MalformedToken => "malformed_token",
            Rejection::BadBase64 => "bad_base64",
            Rejection::MalformedHeader => "malformed_header",
            Rejection::AlgorithmNotAllowed => "alg_not_allowed",
            Rejection::CriticalHeader => "crit_header",
            Rejection::EmbeddedKeyHeader => "embedded_key_header",
            Rejection::MissingKid => "missing_kid",
            Rejection::UnknownKid => "unknown_kid",
            Rejection::AlgorithmKeyMismatch => "alg_key_mismatch",
            Rejection::BadSignature => "bad_signature",
            Rejection::MalformedClaims => "malformed_claims",
            Rejection::MissingClaim { .. } => "missing_claim",
            Rejection::InvalidClaim { .. } => "invalid_claim",
            Rejection::Expired => "expired",
            Rejection::NotYetValid => "not_yet_valid",
            Rejection::AudienceMismatch => "wrong_audience",
            Rejection::IssuerMismatch => "wrong_issuer",
            Rejection::TenantNotAllowed => "tenant_not_allowed",
        }
    }
}

/// What the verifier checks the claims against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierConfig {
    /// The bot's app id: `aud` must contain it. An empty app id matches nothing.
    pub app_id: String,
    /// Accepted issuers, compared exactly.
    pub issuers: Vec<String>,
    /// Accepted tenants (`tid`), compared ASCII case-insensitively; empty means any tenant.
    pub tenants: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`; whole seconds are used.
    pub leeway: Duration,
}

impl Default for VerifierConfig {
    fn default() -> VerifierConfig {
        VerifierConfig {
            app_id: String::new(),
            issuers: DEFAULT_ISSUERS
                .iter()
                .map(|issuer| (*issuer).to_owned())
                .collect(),
            tenants: Vec::new(),
            leeway: DEFAULT_LEEWAY,
        }
    }
}

impl VerifierConfig {
    /// The defaults (public-cloud issuers, any tenant, 300 s leeway) for this app id.
    #[must_use]
    pub fn for_app_id(app_id: &str) -> VerifierConfig {
        VerifierConfig {
            app_id: app_id.to_owned(),
            ..VerifierConfig::default()
        }
    }
}

/// Verifies compact RS256 tokens. Pure: no IO, no clock of its own, no cache.
#[derive(Clone, Debug)]
pub struct Verifier {
    config: VerifierConfig,
}

/// A token whose signature was verified, with its payload not yet interpreted.
pub(crate) struct SignedPayload {
    pub(crate) key_id: String,
    pub(crate) payload: Vec<u8>,
}

impl Verifier {
    /// A verifier for this configuration.
    #[must_use]
    pub fn new(config: VerifierConfig) -> Verifier {
        Verifier { config }
    }

    /// The configuration it checks against.
    #[must_use]
    pub fn config(&self) -> &VerifierConfig {
        &self.config
    }

    /// Verifies `token` (the compact JWS, without `Bearer `) with a key from `keys`, at time `now`.
    ///
    /// # Errors
    ///
    /// The first check that fails, as a [`Rejection`].
    pub fn verify(
        &self,
        token: &str,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<VerifiedClaims, Rejection> {
        let signed = verify_jws_signature(token, keys, PayloadSegment::MustNotBeEmpty)?;
        let claims = parse_strict_object(&signed.payload).ok_or(Rejection::MalformedClaims)?;
        self.check_claims(claims, signed.key_id, now)
    }

    /// Checks the time window of already verified claims again, for cache hits.
    pub(crate) fn check_time_window(
        &self,
        expires_at: UnixTime,
        not_before: Option<UnixTime>,
        now: UnixTime,
    ) -> Result<(), Rejection> {
        let leeway = self.config.leeway.as_secs();
        if now >= expires_at.saturating_add_secs(leeway) {
            return Err(Rejection::Expired);
        }
        if let Some(not_before) = not_before
            && now.saturating_add_secs(leeway) < not_before
        {
            return Err(Rejection::NotYetValid);
        }
        Ok(())
    }

    fn check_claims(
        &self,
        claims: Map<String, Value>,
        key_id: String,
        now: UnixTime,
    ) -> Result<VerifiedClaims, Rejection> {
        let expires_at = match claims.get("exp") {
            None => return Err(Rejection::MissingClaim { claim: "exp" }),
            Some(value) => numeric_date(value, Rounding::Down)
                .ok_or(Rejection::InvalidClaim { claim: "exp" })?,
        };
        let not_before = match claims.get("nbf") {
            None => None,
            Some(value) => Some(
                numeric_date(value, Rounding::Up)
                    .ok_or(Rejection::InvalidClaim { claim: "nbf" })?,
            ),
        };
        // `iat` is optional and not checked against the clock, but a present one must still be a
        // date: a malformed claim is never treated as absent.
        if let Some(issued_at) = claims.get("iat") {
            numeric_date(issued_at, Rounding::Down)
                .ok_or(Rejection::InvalidClaim { claim: "iat" })?;
        }
        self.check_time_window(expires_at, not_before, now)?;

        self.check_audience(claims.get("aud"))?;

        let issuer = required_string(&claims, "iss")?;
        if !self.config.issuers.iter().any(|trusted| trusted == issuer) {
            return Err(Rejection::IssuerMismatch);
        }

        let tenant_id = required_string(&claims, "tid")?;
        if tenant_id.is_empty() {
            return Err(Rejection::InvalidClaim { claim: "tid" });
        }
        if !self.config.tenants.is_empty()
            && !self
                .config
                .tenants
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(tenant_id))
        {
            return Err(Rejection::TenantNotAllowed);
        }

        let facts = CheckedFacts {
            tenant_id: tenant_id.to_owned(),
            audience: self.config.app_id.clone(),
            issuer: issuer.to_owned(),
            key_id,
            expires_at,
            not_before,
        };
        Ok(VerifiedClaims::new(claims, facts))
    }

    fn check_audience(&self, audience: Option<&Value>) -> Result<(), Rejection> {
        let app_id = self.config.app_id.as_str();
        let contains_app_id = match audience {
            None => return Err(Rejection::MissingClaim { claim: "aud" }),
            Some(Value::String(single)) => single == app_id,
            Some(Value::Array(many)) => {
                let mut found = false;
                for entry in many {
                    match entry {
                        Value::String(text) => found |= text == app_id,
                        _ => return Err(Rejection::InvalidClaim { claim: "aud" }),
                    }
                }
                found
            }
            Some(_) => return Err(Rejection::InvalidClaim { claim: "aud" }),
        };
        if contains_app_id && !app_id.is_empty() {
            Ok(())
        } else {
            Err(Rejection::AudienceMismatch)
        }
    }
}

fn required_string<'claims>(
    claims: &'claims Map<String, Value>,
    claim: &'static str,
) -> Result<&'claims str, Rejection> {
    match claims.get(claim) {
        None => Err(Rejection::MissingClaim { claim }),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(Rejection::InvalidClaim { claim }),
    }
}

#[derive(Clone, Copy)]
enum Rounding {
    Down,
    Up,
}

/// A `NumericDate` (RFC 7519 §2): a non-negative integer or finite float of seconds. Fractions are
/// rounded towards the stricter side: `exp` down, `nbf` up. Anything else (strings, null,
/// negative or out-of-range numbers) is refused, never treated as absent.
fn numeric_date(value: &Value, rounding: Rounding) -> Option<UnixTime> {
    let Value::Number(number) = value else {
        return None;
    };
    if let Some(whole) = number.as_u64() {
        return Some(UnixTime::from_secs(whole));
    }
    if number.is_i64() {
        return None;
    }
    let seconds = number.as_f64()?;
    // 2^53 keeps every value exactly representable and is far beyond any real date.
    const LARGEST_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;
    if !seconds.is_finite() || !(0.0..=LARGEST_EXACT_FLOAT).contains(&seconds) {
        return None;
    }
    let rounded = match rounding {
        Rounding::Down => seconds.floor(),
        Rounding::Up => seconds.ceil(),
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "the value is a whole number in 0..=2^53, checked above"
    )]
    let whole = rounded as u64;
    Some(UnixTime::from_secs(whole))
}

/// Whether an empty payload segment is structurally acceptable.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadSegment {
    /// Tokens: a JWT always has claims, so an empty payload is a malformed token.
    MustNotBeEmpty,
    /// The bare JWS signature layer, where an empty payload is legal (RFC 7515; Wycheproof has
    /// valid vectors with one).
    MayBeEmpty,
}

/// The signature layer on its own: structure, header rules, key lookup and the RSA check, with the
/// payload returned uninterpreted. Used by [`Verifier::verify`] and by the Wycheproof tests.
pub(crate) fn verify_jws_signature(
    token: &str,
    keys: &KeySet,
    payload_segment: PayloadSegment,
) -> Result<SignedPayload, Rejection> {
    if token.len() > MAXIMUM_TOKEN_BYTES {
        return Err(Rejection::TokenTooLarge);
    }
    if token.starts_with('{') {
        return Err(Rejection::JsonSerialization);
    }
    let dots = token.bytes().filter(|byte| *byte == b'.').count();
    if dots == 4 {
        return Err(Rejection::EncryptedToken);
    }
    let (signing_input, signature_text) =
        token.rsplit_once('.').ok_or(Rejection::MalformedToken)?;
    let (header_text, payload_text) = signing_input
        .split_once('.')
        .ok_or(Rejection::MalformedToken)?;
    let payload_missing =
        payload_text.is_empty() && payload_segment == PayloadSegment::MustNotBeEmpty;
    if dots != 2 || header_text.is_empty() || payload_missing || signature_text.is_empty() {
        return Err(Rejection::MalformedToken);
    }
    let header_bytes = decode_base64url(header_text).ok_or(Rejection::BadBase64)?;
    let payload = decode_base64url(payload_text).ok_or(Rejection::BadBase64)?;
    let signature = decode_base64url(signature_text).ok_or(Rejection::BadBase64)?;

    let header = parse_strict_object(&header_bytes).ok_or(Rejection::MalformedHeader)?;
    let algorithm = match header.get("alg") {
        Some(Value::String(algorithm)) => algorithm.as_str(),
        _ => return Err(Rejection::MalformedHeader),
    };
    if algorithm != RS256 {
        return Err(Rejection::AlgorithmNotAllowed);
    }
    if header.contains_key("crit") {
        return Err(Rejection::CriticalHeader);
    }
    if EMBEDDED_KEY_PARAMETERS
        .iter()
        .any(|parameter| header.contains_key(*parameter))
    {
        return Err(Rejection::EmbeddedKeyHeader);
    }
    // `typ` and `cty` are deliberately ignored: the platform sends a bogus `cty: "JWT"`.
    let key_id = match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => kid.as_str(),
        _ => return Err(Rejection::MissingKid),
    };
    let key = keys.key(key_id).ok_or(Rejection::UnknownKid)?;
    if key
        .declared_algorithm()
        .is_some_and(|declared| declared != algorithm)
    {
        return Err(Rejection::AlgorithmKeyMismatch);
    }
    key.ring_components()
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            signing_input.as_bytes(),
            &signature,
        )
        .map_err(|_| Rejection::BadSignature)?;
    Ok(SignedPayload {
        key_id: key_id.to_owned(),
        payload,
    })
}

/// The signature layer, exposed for conformance tests (Wycheproof) and fuzzing only: it checks
/// structure, header rules, the key and the RS256 signature, and returns the payload bytes
/// without interpreting them. It is NOT a token verifier: no claim is checked. Unlike the token
/// path, it accepts an empty payload segment, which RFC 7515 allows.
///
/// # Errors
///
/// The first check that fails, as a [`Rejection`].
#[doc(hidden)]
pub fn verify_signature_only(token: &str, keys: &KeySet) -> Result<Vec<u8>, Rejection> {
    verify_jws_signature(token, keys, PayloadSegment::MayBeEmpty).map(|signed| signed.payload)
}

/// Raw RS256 verification with one key of a set, for conformance tests against RSA signature
/// vectors (the same ring call as the token path).
///
/// # Errors
///
/// [`Rejection::UnknownKid`] without such a key, [`Rejection::BadSignature`] when it does not verify.
#[doc(hidden)]
pub fn verify_rs256_with_key(
    keys: &KeySet,
    kid: &str,
    message: &[u8],
    signature: &[u8],
) -> Result<(), Rejection> {
    let key = keys.key(kid).ok_or(Rejection::UnknownKid)?;
    key.ring_components()
        .verify(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            message,
            signature,
        )
        .map_err(|_| Rejection::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numeric_dates_accept_integers_and_finite_floats_only() {
        let down = |value: Value| numeric_date(&value, Rounding::Down).map(UnixTime::as_secs);
        let up = |value: Value| numeric_date(&value, Rounding::Up).map(UnixTime::as_secs);
        assert_eq!(down(json!(1_666_971_444)), Some(1_666_971_444));
        assert_eq!(down(json!(1_666_971_444.9)), Some(1_666_971_444));
        assert_eq!(up(json!(1_666_971_444.1)), Some(1_666_971_445));
        assert_eq!(down(json!(0)), Some(0));
        for refused in [
            json!("1666971444"),
            json!(null),
            json!(true),
            json!(-1),
            json!(-0.5),
            json!(1e300),
            json!([1]),
        ] {
            assert_eq!(down(refused.clone()), None, "{refused} must be refused");
        }
    }

    #[test]
    fn every_reason_label_is_snake_case_and_unique() {
        let all = [
            Rejection::MalformedAuthorization,
            Rejection::TokenTooLarge,
            Rejection::JsonSerialization,
            Rejection::EncryptedToken,
            Rejection::MalformedToken,
            Rejection::BadBase64,
            Rejection::MalformedHeader,
            Rejection::AlgorithmNotAllowed,
            Rejection::CriticalHeader,
            Rejection::EmbeddedKeyHeader,
            Rejection::MissingKid,
            Rejection::UnknownKid,
            Rejection::AlgorithmKeyMismatch,
            Rejection::BadSignature,
            Rejection::MalformedClaims,
            Rejection::MissingClaim { claim: "exp" },
            Rejection::InvalidClaim { claim: "exp" },
            Rejection::Expired,
            Rejection::NotYetValid,
            Rejection::AudienceMismatch,
            Rejection::IssuerMismatch,
            Rejection::TenantNotAllowed,
        ];
        let mut labels: Vec<&str> = all.iter().map(Rejection::reason).collect();
        assert!(labels.iter().all(|label| {
            label
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        }));
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), all.len());
    }
}

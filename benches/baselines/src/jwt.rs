//! The jsonwebtoken baseline: what a careful bot developer writes with jsonwebtoken 9 and
//! actix-web, verifying on every request with the same checks as callhook.

use std::collections::HashMap;
use std::path::Path;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::{Context, Result, bail};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;

/// The issuers callhook accepts by default, exact match.
const ISSUERS: [&str; 2] = [
    "https://api.botframework.com",
    "https://graph.microsoft.com",
];

/// The clock skew callhook allows by default on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 300;

/// The keys (decoded once, at start) and the checks.
pub(crate) struct JwtState {
    keys: HashMap<String, DecodingKey>,
    validation: Validation,
}

impl std::fmt::Debug for JwtState {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `DecodingKey` has no `Debug`; the key ids say which keys are loaded.
        formatter
            .debug_struct("JwtState")
            .field("kids", &self.keys.keys().collect::<Vec<_>>())
            .field("validation", &self.validation)
            .finish()
    }
}

/// The claims the handler reads; `exp`, `nbf`, `aud` and `iss` are checked by jsonwebtoken.
#[derive(Debug, Deserialize)]
struct Claims {
    tid: String,
}

impl JwtState {
    /// Reads the JWKS document at `jwks` and prepares the checks for `app_id`.
    pub(crate) fn load(jwks: &Path, app_id: &str) -> Result<Self> {
        let text = std::fs::read_to_string(jwks)
            .with_context(|| format!("cannot read the JWKS at {}", jwks.display()))?;
        let set: JwkSet = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a JWKS document", jwks.display()))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            // Only RSA keys with a `kid`, like callhook: the token's header never picks the key type.
            let (Some(kid), AlgorithmParameters::RSA(rsa)) = (&jwk.common.key_id, &jwk.algorithm)
            else {
                continue;
            };
            let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e)
                .with_context(|| format!("key {kid} is not a usable RSA key"))?;
            keys.insert(kid.clone(), key);
        }
        if keys.is_empty() {
            bail!("{} has no RSA key with a kid", jwks.display());
        }
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[app_id]);
        validation.set_issuer(&ISSUERS);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        Ok(Self { keys, validation })
    }

    /// Whether `authorization` carries a token that passes every check.
    fn verify(&self, authorization: &str) -> bool {
        let Some(token) = bearer_token(authorization) else {
            return false;
        };
        let Ok(token_header) = decode_header(token) else {
            return false;
        };
        let Some(key) = token_header
            .kid
            .as_deref()
            .and_then(|kid| self.keys.get(kid))
        else {
            return false;
        };
        match decode::<Claims>(token, key, &self.validation) {
            Ok(data) => !data.claims.tid.is_empty(),
            Err(_) => false,
        }
    }
}

/// The webhook: token first, then the body must be JSON, then 202.
pub(crate) async fn webhook(
    request: HttpRequest,
    body: web::Bytes,
    state: web::Data<JwtState>,
) -> HttpResponse {
    let authorization = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if !authorization.is_some_and(|value| state.verify(value)) {
        return HttpResponse::Unauthorized()
            .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""))
            .finish();
    }
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(notification) => {
            std::hint::black_box(&notification);
            HttpResponse::Accepted().finish()
        }
        Err(_) => HttpResponse::BadRequest().finish(),
    }
}

/// The token of `Bearer <token>`, the scheme matched case-insensitively.
fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, token) = authorization.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

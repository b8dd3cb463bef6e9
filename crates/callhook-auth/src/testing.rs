//! A local development issuer: tokens signed like the platform's, with committed test keys.
//!
//! Only with the `testing` feature. The private keys are in the repository, so anything they sign
//! proves nothing: never enable this feature in a production build, and never configure a
//! production server to trust [`DevIssuer::jwks_json`].
//!
//! ```
//! use callhook_auth::testing::DevIssuer;
//! use callhook_auth::{UnixTime, Verifier, VerifierConfig};
//!
//! let issuer = DevIssuer::new();
//! let now = UnixTime::from_secs(1_700_000_000);
//! let token = issuer.mint(&DevIssuer::standard_claims("my-bot", "my-tenant", now));
//! let verifier = Verifier::new(VerifierConfig::for_app_id("my-bot"));
//! let claims = verifier.verify(&token, &issuer.key_set(), now).unwrap();
//! assert_eq!(claims.tenant_id(), "my-tenant");
//! ```

use crate::clock::UnixTime;
use crate::encoding::encode_base64url;
use crate::jwk::KeySet;
use ring::signature::RsaKeyPair;
use serde_json::{Value, json};
use std::fmt;

/// The `kid` of [`DevIssuer::new`]'s key.
pub const DEV_PRIMARY_KID: &str = "callhook-dev-1";

/// The `kid` of [`DevIssuer::rotated`]'s key.
pub const DEV_ROTATED_KID: &str = "callhook-dev-2";

/// The `appid` claim of [`DevIssuer::standard_claims`]: stands for the calling platform's app id.
pub const DEV_PLATFORM_APP_ID: &str = "00000000-0000-0000-0000-0000ca11b00c";

/// The issuer of [`DevIssuer::standard_claims`], the platform's real one.
pub const DEV_ISSUER: &str = "https://api.botframework.com";

/// Lifetime of [`DevIssuer::standard_claims`] tokens: the platform's five minutes.
pub const DEV_TOKEN_LIFETIME_SECS: u64 = 300;

const PRIMARY_PKCS8: &[u8] = include_bytes!("../testdata/keys/dev-rsa2048-primary.pk8.der");
const ROTATED_PKCS8: &[u8] = include_bytes!("../testdata/keys/dev-rsa2048-rotated.pk8.der");
const WEAK_PKCS8: &[u8] = include_bytes!("../testdata/keys/weak-rsa1024.pk8.der");

/// Signs RS256 tokens with a committed RSA-2048 test key.
pub struct DevIssuer {
    key_pair: RsaKeyPair,
    kid: String,
    modulus: Vec<u8>,
    exponent: Vec<u8>,
}

impl fmt::Debug for DevIssuer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("DevIssuer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Default for DevIssuer {
    fn default() -> DevIssuer {
        DevIssuer::new()
    }
}

impl DevIssuer {
    /// The primary test key, `kid` [`DEV_PRIMARY_KID`].
    #[must_use]
    pub fn new() -> DevIssuer {
        DevIssuer::from_committed_key(PRIMARY_PKCS8, DEV_PRIMARY_KID)
    }

    /// A second test key, `kid` [`DEV_ROTATED_KID`], for key-rotation tests.
    #[must_use]
    pub fn rotated() -> DevIssuer {
        DevIssuer::from_committed_key(ROTATED_PKCS8, DEV_ROTATED_KID)
    }

    #[allow(
        clippy::expect_used,
        reason = "the committed keys are constants known to parse; a build where they do not must fail loudly"
    )]
    fn from_committed_key(pkcs8: &[u8], kid: &str) -> DevIssuer {
        let key_pair = RsaKeyPair::from_pkcs8(pkcs8).expect("committed test key parses");
        let public: ring::rsa::PublicKeyComponents<Vec<u8>> = key_pair.public().into();
        DevIssuer {
            key_pair,
            kid: kid.to_owned(),
            modulus: public.n,
            exponent: public.e,
        }
    }

    /// The same key under another `kid`.
    #[must_use]
    pub fn with_kid(mut self, kid: &str) -> DevIssuer {
        kid.clone_into(&mut self.kid);
        self
    }

    /// The key's `kid`.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a JWK shaped like the platform's (`kty`, `use`, `kid`, `n`, `e`).
    #[must_use]
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": encode_base64url(&self.modulus),
            "e": encode_base64url(&self.exponent),
        })
    }

    /// A JWKS document with this key only.
    #[must_use]
    pub fn jwks_json(&self) -> String {
        DevIssuer::jwks_json_of(&[self])
    }

    /// A JWKS document with the keys of several issuers (for rotation: old and new together).
    #[must_use]
    pub fn jwks_json_of(issuers: &[&DevIssuer]) -> String {
        let keys: Vec<Value> = issuers.iter().map(|issuer| issuer.jwk()).collect();
        json!({ "keys": keys }).to_string()
    }

    /// This key as a [`KeySet`], for [`crate::Verifier::verify`] and
    /// [`crate::AuthenticatorBuilder::static_keys`].
    #[must_use]
    pub fn key_set(&self) -> KeySet {
        let mut keys = KeySet::empty();
        // The committed key is 2048 bits with e = 65537, so it always passes the checks.
        let _inserted = keys.insert_rsa_key(&self.kid, &self.modulus, &self.exponent);
        keys
    }

    /// An OIDC configuration document pointing at `jwks_uri`, shaped like the platform's
    /// (including its misspelled `RSA256`, which this crate never reads).
    #[must_use]
    pub fn openid_configuration_json(&self, issuer: &str, jwks_uri: &str) -> String {
        json!({
            "issuer": issuer,
            "authorization_endpoint": "https://invalid.example/authorize",
            "jwks_uri": jwks_uri,
            "id_token_signing_alg_values_supported": ["RSA256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        })
        .to_string()
    }

    /// The platform's real claim shape: `tid`, `appid`, `nbf` = `now`, `exp` = `now` + 300, `iss`,
    /// `aud` = `app_id`. No `iat`, like the real platform.
    #[must_use]
    pub fn standard_claims(app_id: &str, tenant: &str, now: UnixTime) -> Value {
        json!({
            "tid": tenant,
            "appid": DEV_PLATFORM_APP_ID,
            "nbf": now.as_secs(),
            "exp": now.as_secs().saturating_add(DEV_TOKEN_LIFETIME_SECS),
            "iss": DEV_ISSUER,
            "aud": app_id,
        })
    }

    /// Signs `claims` with the header `{"alg":"RS256","kid":…,"typ":"JWT"}`.
    #[must_use]
    pub fn mint(&self, claims: &Value) -> String {
        let header = json!({ "alg": "RS256", "kid": self.kid, "typ": "JWT" });
        self.mint_with_header(&header, claims)
    }

    /// Signs `claims` under any header, taken as is (for tests of hostile headers).
    #[must_use]
    pub fn mint_with_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(header.to_string().as_bytes(), claims.to_string().as_bytes())
    }

    /// Signs exactly these header and payload bytes with RS256 (for tests of malformed JSON).
    #[must_use]
    pub fn sign_raw(&self, header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", encode_base64url(header), encode_base64url(payload));
        let signature = self.signature_over(signing_input.as_bytes());
        format!("{signing_input}.{}", encode_base64url(&signature))
    }

    /// The RS256 signature of `message`.
    #[must_use]
    pub fn signature_over(&self, message: &[u8]) -> Vec<u8> {
        let mut signature = vec![0; self.key_pair.public().modulus_len()];
        let random = ring::rand::SystemRandom::new();
        // Signing with a valid key into a buffer of the modulus length only fails if the system
        // random source fails; an all-zero signature then simply never verifies.
        let _signed = self.key_pair.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &random,
            message,
            &mut signature,
        );
        signature
    }

    /// The public JWK of the committed 1024-bit key, which must never be used (too small).
    #[must_use]
    pub fn weak_rsa_1024_jwk(kid: &str) -> Value {
        let (modulus, exponent) = rsa_public_from_pkcs8(WEAK_PKCS8).unwrap_or_default();
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": kid,
            "n": encode_base64url(&modulus),
            "e": encode_base64url(&exponent),
        })
    }
}

/// Reads `n` and `e` out of an unencrypted PKCS#8 RSA private key (ring will not load 1024-bit keys).
fn rsa_public_from_pkcs8(pkcs8: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, private_key_info, _) = read_der(pkcs8, 0x30)?;
    let (_, _version, rest) = read_der(private_key_info, 0x02)?;
    let (_, _algorithm, rest) = read_der(rest, 0x30)?;
    let (_, private_key, _) = read_der(rest, 0x04)?;
    let (_, rsa_private_key, _) = read_der(private_key, 0x30)?;
    let (_, _version, rest) = read_der(rsa_private_key, 0x02)?;
    let (_, modulus, rest) = read_der(rest, 0x02)?;
    let (_, exponent, _) = read_der(rest, 0x02)?;
    Some((modulus.to_vec(), exponent.to_vec()))
}

/// One DER element with the expected tag: (tag, contents, rest).
fn read_der(input: &[u8], expected_tag: u8) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    if tag != expected_tag {
        return None;
    }
    let (&first_length_byte, rest) = rest.split_first()?;
    let (length, rest) = if first_length_byte < 0x80 {
        (usize::from(first_length_byte), rest)
    } else {
        let length_bytes = usize::from(first_length_byte & 0x7f);
        if length_bytes > 4 {
            return None;
        }
        let (encoded, rest) = rest.split_at_checked(length_bytes)?;
        let length = encoded
            .iter()
            .fold(0usize, |length, byte| (length << 8) | usize::from(*byte));
        (length, rest)
    };
    let (contents, rest) = rest.split_at_checked(length)?;
    Some((tag, contents, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weak_key_is_really_1024_bits() {
        let (modulus, exponent) = rsa_public_from_pkcs8(WEAK_PKCS8).unwrap();
        let modulus = modulus.strip_prefix(&[0]).unwrap_or(&modulus);
        assert_eq!(modulus.len() * 8, 1024);
        assert_eq!(exponent, [1, 0, 1]);
    }

    #[test]
    fn the_development_keys_differ() {
        assert_ne!(DevIssuer::new().jwk()["n"], DevIssuer::rotated().jwk()["n"]);
        assert_eq!(DevIssuer::new().kid(), DEV_PRIMARY_KID);
        assert_eq!(DevIssuer::new().with_kid("other").kid(), "other");
    }
}

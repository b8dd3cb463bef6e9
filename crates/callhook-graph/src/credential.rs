//! The app's credential for the client-credentials flow: a client secret, or a certificate whose
//! private key signs a client assertion (RS256 on ring, with the certificate's `x5t#S256`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};

/// How long a client assertion is valid; the identity platform accepts up to ten minutes.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(600);

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An app credential. Its `Debug` never shows the secret or the key.
#[derive(Clone)]
pub enum Credential {
    /// A client secret from the app registration.
    Secret(ClientSecret),
    /// A certificate uploaded to the app registration, with its private key.
    Certificate(Certificate),
}

impl Credential {
    /// A client secret.
    pub fn secret(secret: impl Into<String>) -> Self {
        Self::Secret(ClientSecret(secret.into()))
    }

    /// A certificate credential; see [`Certificate::from_pem`].
    #[must_use]
    pub fn certificate(certificate: Certificate) -> Self {
        Self::Certificate(certificate)
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secret(secret) => secret.fmt(formatter),
            Self::Certificate(certificate) => certificate.fmt(formatter),
        }
    }
}

/// A client secret. Its `Debug` and `Display` print `ClientSecret(redacted)`.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("ClientSecret(redacted)")
    }
}

/// A certificate credential: an RSA private key (PKCS#8) and the certificate the app registration
/// knows, identified to the identity platform by its SHA-256 thumbprint (`x5t#S256`).
#[derive(Clone)]
pub struct Certificate {
    key: Arc<RsaKeyPair>,
    thumbprint: String,
}

/// Why a certificate credential could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// No `PRIVATE KEY` (PKCS#8) section in the key PEM.
    #[error("the key PEM holds no PKCS#8 `PRIVATE KEY` section ({0})")]
    NoPrivateKey(String),
    /// No `CERTIFICATE` section in the certificate PEM.
    #[error("the certificate PEM holds no `CERTIFICATE` section ({0})")]
    NoCertificate(String),
    /// The key is not an RSA key ring accepts (2048 to 8192 bits).
    #[error("the private key is not a usable RSA key: {0}")]
    BadKey(String),
    /// The key could not sign (should not happen with a key ring accepted).
    #[error("the client assertion could not be signed")]
    Signing,
}

impl Certificate {
    /// Reads a PKCS#8 RSA private key and its certificate from PEM text. A file holding both
    /// sections may be passed as both arguments.
    ///
    /// # Errors
    ///
    /// A [`CredentialError`] naming the missing section or the unusable key.
    pub fn from_pem(key_pem: &[u8], certificate_pem: &[u8]) -> Result<Self, CredentialError> {
        let key = PrivatePkcs8KeyDer::from_pem_slice(key_pem)
            .map_err(|error| CredentialError::NoPrivateKey(error.to_string()))?;
        let certificate = CertificateDer::from_pem_slice(certificate_pem)
            .map_err(|error| CredentialError::NoCertificate(error.to_string()))?;
        Self::from_der(key.secret_pkcs8_der(), certificate.as_ref())
    }

    /// Reads a PKCS#8 RSA private key and its certificate from DER.
    ///
    /// # Errors
    ///
    /// [`CredentialError::BadKey`] when ring refuses the key.
    pub fn from_der(pkcs8_key: &[u8], certificate: &[u8]) -> Result<Self, CredentialError> {
        let key = RsaKeyPair::from_pkcs8(pkcs8_key)
            .map_err(|error| CredentialError::BadKey(error.to_string()))?;
        let digest = ring::digest::digest(&ring::digest::SHA256, certificate);
        Ok(Self {
            key: Arc::new(key),
            thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        })
    }

    /// The certificate's SHA-256 thumbprint, base64url without padding: the assertion's `x5t#S256`.
    #[must_use]
    pub fn thumbprint_sha256(&self) -> &str {
        &self.thumbprint
    }

    /// The DER `SubjectPublicKeyInfo`-less RSA public key (`RSAPublicKey`), for checking a signature
    /// with ring's `RSA_PKCS1_2048_8192_SHA256`.
    #[must_use]
    pub fn public_key(&self) -> &[u8] {
        ring::signature::KeyPair::public_key(self.key.as_ref()).as_ref()
    }

    /// A client assertion for `client_id` at the token endpoint `audience`, valid from `now` for
    /// [`ASSERTION_LIFETIME`], with a fresh `jti`.
    pub(crate) fn assertion(
        &self,
        client_id: &str,
        audience: &str,
        now: SystemTime,
    ) -> Result<String, CredentialError> {
        let issued = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let header = serde_json::json!({
            "alg": "RS256",
            "typ": "JWT",
            "x5t#S256": self.thumbprint,
        });
        let claims = serde_json::json!({
            "aud": audience,
            "iss": client_id,
            "sub": client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "nbf": issued,
            "iat": issued,
            "exp": issued + ASSERTION_LIFETIME.as_secs(),
        });
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                token.as_bytes(),
                &mut signature,
            )
            .map_err(|_| CredentialError::Signing)?;
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(token)
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("Certificate")
            .field("x5t#S256", &self.thumbprint)
            .field("key", &"redacted")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let credential = Credential::secret("s3cr3t-value");
        let shown = format!("{credential:?}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn pem_without_sections_is_named() {
        let error = Certificate::from_pem(b"nothing", b"nothing").expect_err("no key");
        assert!(matches!(error, CredentialError::NoPrivateKey(_)), "{error}");
        assert!(error.to_string().contains("PRIVATE KEY"), "{error}");
    }
}

//! Standard Webhooks signatures (<https://www.standardwebhooks.com>), on ring's HMAC-SHA256.
//!
//! The callhook server signs what it forwards to the bot behind it, so that the bot can check, with
//! any Standard Webhooks library, that a notification came through callhook (which verified the
//! platform's token) and was not changed. The signed content is `{webhook-id}.{webhook-timestamp}.{body}`;
//! the `webhook-signature` header is `v1,` followed by the base64 HMAC-SHA256 of it, keyed with the
//! secret (`whsec_` followed by the key in base64).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;

/// The prefix of Standard Webhooks secrets.
pub const SECRET_PREFIX: &str = "whsec_";

/// The header names of the scheme.
pub mod headers {
    /// A unique id of the message; the same on retries of it.
    pub const ID: &str = "webhook-id";
    /// When the message was signed, in seconds since the Unix epoch.
    pub const TIMESTAMP: &str = "webhook-timestamp";
    /// Space-separated `v1,<base64>` signatures.
    pub const SIGNATURE: &str = "webhook-signature";
}

/// A signing secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The secret is not base64 (after an optional `whsec_` prefix).
    #[error("the webhook secret is not base64 (expected `whsec_` followed by base64)")]
    NotBase64,
    /// The key is shorter than 24 bytes (the scheme recommends 24 to 64).
    #[error("the webhook secret's key is {length} bytes; at least 24 are needed")]
    TooShort {
        /// The decoded key's length.
        length: usize,
    },
}

/// Signs and verifies Standard Webhooks messages with one secret.
#[derive(Clone)]
pub struct WebhookSigner {
    key: hmac::Key,
}

impl std::fmt::Debug for WebhookSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key is a secret: never printed.
        f.write_str("WebhookSigner { .. }")
    }
}

impl WebhookSigner {
    /// The signer of a secret written as `whsec_<base64>` (the prefix is optional).
    ///
    /// # Errors
    ///
    /// [`SecretError`] when the secret is not base64 or its key is shorter than 24 bytes.
    pub fn from_secret(secret: &str) -> Result<Self, SecretError> {
        let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        // Libraries of the scheme accept unpadded secrets too.
        let padded = match encoded.len() % 4 {
            2 => format!("{encoded}=="),
            3 => format!("{encoded}="),
            _ => encoded.to_owned(),
        };
        let key = STANDARD
            .decode(padded.as_bytes())
            .map_err(|_| SecretError::NotBase64)?;
        if key.len() < 24 {
            return Err(SecretError::TooShort { length: key.len() });
        }
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        })
    }

    /// The `webhook-signature` header value of a message: `v1,<base64 HMAC-SHA256>`.
    #[must_use]
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let tag = hmac::sign(&self.key, &signed_content(id, timestamp, body));
        format!("v1,{}", STANDARD.encode(tag.as_ref()))
    }

    /// Whether any `v1` signature of a `webhook-signature` header matches the message (compared in
    /// constant time). The caller checks that `timestamp` is recent, against replays.
    #[must_use]
    pub fn verify(&self, id: &str, timestamp: u64, body: &[u8], signature_header: &str) -> bool {
        let content = signed_content(id, timestamp, body);
        signature_header.split(' ').any(|candidate| {
            candidate
                .strip_prefix("v1,")
                .and_then(|encoded| STANDARD.decode(encoded).ok())
                .is_some_and(|tag| hmac::verify(&self.key, &content, &tag).is_ok())
        })
    }
}

fn signed_content(id: &str, timestamp: u64, body: &[u8]) -> Vec<u8> {
    let mut content = Vec::with_capacity(id.len() + 22 + body.len());
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

//! JSON Web Key Sets (RFC 7517) reduced to what this crate will ever use: RSA signing keys of
//! 2048 to 8192 bits, looked up by `kid`.
//!
//! Every key is checked when the set is parsed, so that the hot path only looks a key up. A key
//! that cannot be used is skipped with a reason ([`SkippedKey`]) and the rest of the set still
//! serves: one odd key in the platform's document must not take verification down.

use crate::encoding::decode_base64url;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fmt;

/// The smallest RSA modulus accepted, in bits. Smaller keys are factorable in practice.
pub const MINIMUM_RSA_MODULUS_BITS: usize = 2048;

/// The largest RSA modulus accepted, in bits: ring's limit for verification.
pub const MAXIMUM_RSA_MODULUS_BITS: usize = 8192;

/// The largest JWKS document accepted by the parser (1 MiB), also the key source's download cap.
pub const MAXIMUM_JWKS_DOCUMENT_BYTES: usize = 1024 * 1024;

/// An RSA public key from a JWK, validated for ring's RS256 verification.
///
/// The modulus and exponent are stored big-endian without leading zeros, the form ring expects.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaVerificationKey {
    modulus: Vec<u8>,
    exponent: Vec<u8>,
    declared_algorithm: Option<String>,
}

impl RsaVerificationKey {
    /// The modulus, big-endian, without leading zeros.
    #[must_use]
    pub fn modulus(&self) -> &[u8] {
        &self.modulus
    }

    /// The public exponent, big-endian, without leading zeros.
    #[must_use]
    pub fn exponent(&self) -> &[u8] {
        &self.exponent
    }

    /// The size of the modulus in bits.
    #[must_use]
    pub fn modulus_bits(&self) -> usize {
        bit_length(&self.modulus)
    }

    /// The JWK's `alg` member when it had one: a token must then name the same algorithm.
    #[must_use]
    pub fn declared_algorithm(&self) -> Option<&str> {
        self.declared_algorithm.as_deref()
    }

    /// The key in ring's form, borrowed.
    pub(crate) fn ring_components(&self) -> ring::signature::RsaPublicKeyComponents<&[u8]> {
        ring::signature::RsaPublicKeyComponents {
            n: &self.modulus,
            e: &self.exponent,
        }
    }
}

impl fmt::Debug for RsaVerificationKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("RsaVerificationKey")
            .field("modulus_bits", &self.modulus_bits())
            .field("declared_algorithm", &self.declared_algorithm)
            .finish_non_exhaustive()
    }
}

/// The usable signing keys of one JWKS document, by `kid`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySet {
    keys_by_kid: BTreeMap<String, RsaVerificationKey>,
}

/// A key of the document that will never be used, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedKey {
    /// The key's `kid`, when it had a usable one.
    pub kid: Option<String>,
    /// Its position in the document's `keys` array.
    pub index: usize,
    /// Why it is not used.
    pub reason: SkipReason,
}

/// Why a JWK is not used for verification.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SkipReason {
    /// The entry is not a JSON object.
    #[error("entry is not a JSON object")]
    NotAnObject,
    /// The key has no `kid`, or it is not a non-empty string: tokens could never name it.
    #[error("missing or empty kid")]
    MissingKid,
    /// An earlier key of the same document has the same `kid`; the first one wins.
    #[error("duplicate kid")]
    DuplicateKid,
    /// `kty` is not `RSA` (elliptic-curve and symmetric keys are never used).
    #[error("key type is not RSA")]
    NotRsa,
    /// `use` is present and is not `sig`.
    #[error("key use is not sig")]
    NotForSignatures,
    /// `key_ops` is present and does not include `verify`.
    #[error("key operations do not include verify")]
    VerifyNotPermitted,
    /// `alg` is present and is not an RSA signature algorithm.
    #[error("key algorithm is not supported")]
    UnsupportedAlgorithm,
    /// `n` or `e` is missing, not strict base64url, or not a valid RSA public exponent/modulus.
    #[error("malformed RSA key material")]
    MalformedKeyMaterial,
    /// The modulus is smaller than 2048 bits.
    #[error("RSA modulus of {bits} bits is below the 2048-bit minimum")]
    KeyTooSmall {
        /// The modulus size found.
        bits: usize,
    },
    /// The modulus is larger than 8192 bits.
    #[error("RSA modulus of {bits} bits is above the 8192-bit maximum")]
    KeyTooLarge {
        /// The modulus size found.
        bits: usize,
    },
}

/// Why a JWKS document as a whole could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeySetError {
    /// The document is larger than [`MAXIMUM_JWKS_DOCUMENT_BYTES`].
    #[error("JWKS document larger than {MAXIMUM_JWKS_DOCUMENT_BYTES} bytes")]
    TooLarge,
    /// The document is not a JSON object.
    #[error("JWKS document is not a JSON object")]
    NotJsonObject,
    /// The object has no `keys` array.
    #[error("JWKS document has no keys array")]
    MissingKeysArray,
}

impl KeySet {
    /// An empty set: every token is rejected with [`crate::Rejection::UnknownKid`].
    #[must_use]
    pub fn empty() -> KeySet {
        KeySet::default()
    }

    /// Parses a JWKS document, keeping the usable RSA signing keys and reporting the others.
    ///
    /// # Errors
    ///
    /// Only when the document as a whole is unusable; unusable keys are returned as [`SkippedKey`]s.
    pub fn from_jwks_json(document: &[u8]) -> Result<(KeySet, Vec<SkippedKey>), KeySetError> {
        if document.len() > MAXIMUM_JWKS_DOCUMENT_BYTES {
            return Err(KeySetError::TooLarge);
        }
        let root: Map<String, Value> =
            serde_json::from_slice(document).map_err(|_| KeySetError::NotJsonObject)?;
        let Some(Value::Array(entries)) = root.get("keys") else {
            return Err(KeySetError::MissingKeysArray);
        };
        let mut key_set = KeySet::empty();
        let mut skipped = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let kid = entry
                .get("kid")
                .and_then(Value::as_str)
                .filter(|kid| !kid.is_empty())
                .map(str::to_owned);
            let outcome = match (&kid, entry.as_object()) {
                (_, None) => Err(SkipReason::NotAnObject),
                (None, Some(_)) => Err(SkipReason::MissingKid),
                (Some(kid), Some(_)) if key_set.keys_by_kid.contains_key(kid) => {
                    Err(SkipReason::DuplicateKid)
                }
                (Some(_), Some(members)) => parse_rsa_signing_key(members),
            };
            match (outcome, kid) {
                (Ok(key), Some(kid)) => {
                    key_set.keys_by_kid.insert(kid, key);
                }
                (Ok(_), None) => skipped.push(SkippedKey {
                    kid: None,
                    index,
                    reason: SkipReason::MissingKid,
                }),
                (Err(reason), kid) => {
                    tracing::warn!(index, kid = kid.as_deref(), %reason, "skipping unusable JWK");
                    skipped.push(SkippedKey { kid, index, reason });
                }
            }
        }
        Ok((key_set, skipped))
    }

    /// Adds one key under `kid`, replacing any key of that `kid`: for building sets in code.
    ///
    /// # Errors
    ///
    /// The same checks as for a JWK in a document, with the reason when the key is not usable.
    pub fn insert_rsa_key(
        &mut self,
        kid: &str,
        modulus_big_endian: &[u8],
        exponent_big_endian: &[u8],
    ) -> Result<(), SkipReason> {
        if kid.is_empty() {
            return Err(SkipReason::MissingKid);
        }
        let key = validate_rsa_components(modulus_big_endian, exponent_big_endian, None)?;
        self.keys_by_kid.insert(kid.to_owned(), key);
        Ok(())
    }

    /// The key with this `kid`, if the set has a usable one.
    #[must_use]
    pub fn key(&self, kid: &str) -> Option<&RsaVerificationKey> {
        self.keys_by_kid.get(kid)
    }

    /// Whether the set has a usable key with this `kid`.
    #[must_use]
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys_by_kid.contains_key(kid)
    }

    /// The `kid`s of the usable keys, sorted.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys_by_kid.keys().map(String::as_str)
    }

    /// The number of usable keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.keys_by_kid.len()
    }

    /// Whether the set has no usable key.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.keys_by_kid.is_empty()
    }
}

/// JWA names of RSA signature algorithms (RFC 7518 §3.1). Only RS256 ever verifies a token.
const RSA_SIGNATURE_ALGORITHMS: [&str; 6] = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];

fn parse_rsa_signing_key(members: &Map<String, Value>) -> Result<RsaVerificationKey, SkipReason> {
    if members.get("kty").and_then(Value::as_str) != Some("RSA") {
        return Err(SkipReason::NotRsa);
    }
    match members.get("use") {
        None => {}
        Some(Value::String(key_use)) if key_use == "sig" => {}
        Some(_) => return Err(SkipReason::NotForSignatures),
    }
    match members.get("key_ops") {
        None => {}
        Some(Value::Array(operations))
            if operations
                .iter()
                .any(|operation| operation.as_str() == Some("verify")) => {}
        Some(_) => return Err(SkipReason::VerifyNotPermitted),
    }
    let declared_algorithm = match members.get("alg") {
        None => None,
        // An RSA key declared for another RSA algorithm is kept, so that a token naming it with
        // RS256 is refused as an algorithm/key mismatch rather than as an unknown key.
        Some(Value::String(algorithm))
            if RSA_SIGNATURE_ALGORITHMS.contains(&algorithm.as_str()) =>
        {
            Some(algorithm.clone())
        }
        Some(_) => return Err(SkipReason::UnsupportedAlgorithm),
    };
    let decode_member = |name: &str| {
        members
            .get(name)
            .and_then(Value::as_str)
            .and_then(decode_base64url)
            .ok_or(SkipReason::MalformedKeyMaterial)
    };
    let modulus = decode_member("n")?;
    let exponent = decode_member("e")?;
    validate_rsa_components(&modulus, &exponent, declared_algorithm)
}

/// Applies ring's own public-key checks up front (modulus size and parity, exponent range and
/// parity), so that a key in the set never fails at verification time for being malformed.
fn validate_rsa_components(
    modulus: &[u8],
    exponent: &[u8],
    declared_algorithm: Option<String>,
) -> Result<RsaVerificationKey, SkipReason> {
    let modulus = strip_leading_zeros(modulus);
    let exponent = strip_leading_zeros(exponent);
    let modulus_bits = bit_length(modulus);
    if modulus_bits < MINIMUM_RSA_MODULUS_BITS {
        return Err(SkipReason::KeyTooSmall { bits: modulus_bits });
    }
    if modulus_bits > MAXIMUM_RSA_MODULUS_BITS {
        return Err(SkipReason::KeyTooLarge { bits: modulus_bits });
    }
    let modulus_is_odd = modulus.last().is_some_and(|byte| byte & 1 == 1);
    // ring accepts exponents from 3 to 2^33 - 1, odd only.
    let exponent_bits = bit_length(exponent);
    let exponent_is_odd = exponent.last().is_some_and(|byte| byte & 1 == 1);
    let exponent_is_one = exponent == [1];
    if !modulus_is_odd || !exponent_is_odd || exponent_is_one || exponent_bits > 33 {
        return Err(SkipReason::MalformedKeyMaterial);
    }
    Ok(RsaVerificationKey {
        modulus: modulus.to_vec(),
        exponent: exponent.to_vec(),
        declared_algorithm,
    })
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first_non_zero = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len());
    bytes.get(first_non_zero..).unwrap_or_default()
}

fn bit_length(big_endian_without_leading_zeros: &[u8]) -> usize {
    match big_endian_without_leading_zeros.first() {
        None => 0,
        Some(first) => {
            let leading_byte_bits = 8 - first.leading_zeros() as usize;
            (big_endian_without_leading_zeros.len() - 1) * 8 + leading_byte_bits
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_length_counts_from_the_first_set_bit() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(strip_leading_zeros(&[0, 0, 0x7f])), 7);
    }
}

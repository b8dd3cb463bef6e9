//! Standard Webhooks signatures checked against vectors made by the scheme's reference library
//! (`tests/data/standard-webhooks/generate.py`), and from the attacker's side.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "helpers of tests: a panic is a failed test"
)]

use callhook_server::webhook_signature::{SecretError, WebhookSigner};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let text = include_str!("data/standard-webhooks/vectors.json");
    let document: Value = serde_json::from_str(text).unwrap();
    document["vectors"].as_array().unwrap().clone()
}

#[test]
fn signatures_match_the_reference_library() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 4);
    for vector in vectors {
        let signer = WebhookSigner::from_secret(vector["secret"].as_str().unwrap()).unwrap();
        let id = vector["id"].as_str().unwrap();
        let timestamp = vector["timestamp"].as_u64().unwrap();
        let body = vector["body"].as_str().unwrap().as_bytes();
        let expected = vector["signature"].as_str().unwrap();
        assert_eq!(signer.sign(id, timestamp, body), expected, "{id}");
        assert!(signer.verify(id, timestamp, body, expected));
        // Several signatures in one header (key rotation): any match is enough.
        assert!(signer.verify(id, timestamp, body, &format!("v1,AAAA {expected}")));
    }
}

#[test]
fn any_change_to_the_message_breaks_the_signature() {
    let vector = &vectors()[1];
    let signer = WebhookSigner::from_secret(vector["secret"].as_str().unwrap()).unwrap();
    let id = vector["id"].as_str().unwrap();
    let timestamp = vector["timestamp"].as_u64().unwrap();
    let body = vector["body"].as_str().unwrap().as_bytes();
    let signature = vector["signature"].as_str().unwrap();
    let mut changed_body = body.to_vec();
    changed_body[10] ^= 1;
    let other =
        WebhookSigner::from_secret("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
    assert!(
        !signer.verify(id, timestamp, &changed_body, signature),
        "body"
    );
    assert!(
        !signer.verify("another-id", timestamp, body, signature),
        "id"
    );
    assert!(
        !signer.verify(id, timestamp + 1, body, signature),
        "timestamp"
    );
    assert!(!other.verify(id, timestamp, body, signature), "secret");
    assert!(
        !signer.verify(id, timestamp, body, &signature.replace("v1,", "v2,")),
        "version"
    );
    assert!(!signer.verify(id, timestamp, body, ""), "empty header");
    assert!(
        !signer.verify(id, timestamp, body, "v1,not base64!"),
        "garbage"
    );
}

#[test]
fn unusable_secrets_are_refused_and_never_printed() {
    assert_eq!(
        WebhookSigner::from_secret("whsec_not base64!").unwrap_err(),
        SecretError::NotBase64
    );
    assert_eq!(
        WebhookSigner::from_secret("whsec_c2hvcnQ=").unwrap_err(),
        SecretError::TooShort { length: 5 }
    );
    // Unpadded secrets are accepted like the reference library does.
    let padded =
        WebhookSigner::from_secret("whsec_dGhpcyBpcyBhIDMyIGJ5dGUgc2VjcmV0IGtleSE=").unwrap();
    let unpadded = WebhookSigner::from_secret("dGhpcyBpcyBhIDMyIGJ5dGUgc2VjcmV0IGtleSE").unwrap();
    assert_eq!(padded.sign("a", 1, b"b"), unpadded.sign("a", 1, b"b"));
    assert_eq!(format!("{padded:?}"), "WebhookSigner { .. }");
}

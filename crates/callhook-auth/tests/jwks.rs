//! Parsing key sets: usable keys kept, every unusable one skipped with its reason while the rest
//! still serves. Cases live in `tests/data/jwks_cases.json`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "test helpers: a panic is a failing test"
)]

use callhook_auth::KeySet;
use callhook_auth::testing::DevIssuer;
use serde_json::{Value, json};

/// Replaces `$n`, `$n_leading_zero`, `$n==`, `$e` and `$weak` with the development key's values.
fn expand(value: &Value) -> Value {
    let jwk = DevIssuer::new().jwk();
    let modulus = jwk["n"].as_str().unwrap();
    match value {
        Value::String(text) => match text.as_str() {
            "$n" => jwk["n"].clone(),
            "$n==" => json!(format!("{modulus}==")),
            "$n_leading_zero" => {
                use base64::Engine as _;
                let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
                let mut bytes = vec![0];
                bytes.extend(engine.decode(modulus).unwrap());
                json!(engine.encode(bytes))
            }
            "$e" => jwk["e"].clone(),
            "$weak" => DevIssuer::weak_rsa_1024_jwk("weak"),
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(expand).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, item)| (name.clone(), expand(item)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Parses a document: `{"kids": [...], "skipped": [[kid, reason], ...]}` or `{"error": ...}`.
fn check(document: &[u8]) -> Value {
    match KeySet::from_jwks_json(document) {
        Ok((keys, skipped)) => json!({
            "kids": keys.kids().collect::<Vec<_>>(),
            "skipped": skipped.iter().map(|key| json!([key.kid, key.reason.to_string()])).collect::<Vec<_>>(),
        }),
        Err(error) => json!({ "error": error.to_string() }),
    }
}

#[test]
fn every_case_of_the_case_file_meets_its_expectation() {
    let cases: Vec<Value> = serde_json::from_str(include_str!("data/jwks_cases.json")).unwrap();
    let mut failures = Vec::new();
    for case in &cases {
        let document = match case.get("raw") {
            Some(raw) => raw.as_str().unwrap().as_bytes().to_vec(),
            None => expand(&case["document"]).to_string().into_bytes(),
        };
        let outcome = check(&document);
        if outcome != case["expect"] {
            failures.push(format!(
                "{}: expected {}, got {outcome}",
                case["name"], case["expect"]
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(cases.len() >= 20);
}

#[test]
fn an_oversize_document_is_refused_before_parsing() {
    let document = vec![b' '; callhook_auth::MAXIMUM_JWKS_DOCUMENT_BYTES + 1];
    assert_eq!(
        check(&document),
        json!({ "error": "JWKS document larger than 1048576 bytes" })
    );
}

#[test]
fn keys_built_in_code_pass_the_same_checks() {
    let mut keys = KeySet::empty();
    let jwk = DevIssuer::new().jwk();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let modulus = engine.decode(jwk["n"].as_str().unwrap()).unwrap();
    assert!(keys.insert_rsa_key("k", &modulus, &[1, 0, 1]).is_ok());
    assert_eq!(
        keys.insert_rsa_key("", &modulus, &[1, 0, 1]),
        Err(callhook_auth::SkipReason::MissingKid)
    );
    assert_eq!(
        keys.insert_rsa_key("short", &modulus[..128], &[1, 0, 1]),
        Err(callhook_auth::SkipReason::KeyTooSmall { bits: 1024 })
    );
    assert_eq!(keys.len(), 1);
    assert!(keys.contains_kid("k"));
    assert_eq!(keys.key("k").unwrap().modulus_bits(), 2048);
    // Debug shows the size, never the key material.
    assert!(format!("{keys:?}").contains("modulus_bits: 2048"));
}

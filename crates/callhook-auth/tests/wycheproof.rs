//! Wycheproof conformance at the signature layer.
//!
//! - JWS vectors: every RS256 case behaves as the vector says (valid accepted, invalid refused);
//!   every case of any other algorithm is refused, valid or not.
//! - RSA PKCS#1 v1.5 2048-bit SHA-256 vectors: through the same ring call as the token path.
//!
//! The vectors are third-party data (C2SP/wycheproof, Apache-2.0) and stay out of the repository:
//! the RSA ones come from the `wycheproof` crate (dev-dependency), the JWS ones are read from
//! `shared/testvectors/wycheproof/` beside the checkout; without it, that test prints one line
//! saying so and passes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    clippy::print_stdout,
    reason = "test helpers: a panic is a failing test, test numbers are small, and a skip is said \
              on stdout"
)]

use callhook_auth::{KeySet, verify_rs256_with_key, verify_signature_only};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The vector file `name`, or `None` (after saying so) when the shared test vectors are absent.
fn load(name: &str) -> Option<Value> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testvectors/wycheproof")
        .join(name);
    if !path.is_file() {
        println!(
            "skipped: the Wycheproof vectors are not at {} (they live in shared/testvectors)",
            path.display()
        );
        return None;
    }
    Some(serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
}

fn key_set_of(jwk: &Value) -> KeySet {
    KeySet::from_jwks_json(json!({ "keys": [jwk] }).to_string().as_bytes())
        .unwrap()
        .0
}

/// Runs one JWS case: "accepted" or the rejection reason.
fn check(jws: &Value, keys: &KeySet) -> String {
    // The JSON serialization appears as an object in some vectors; it is never accepted.
    let text = match jws {
        Value::String(compact) => compact.clone(),
        other => other.to_string(),
    };
    match verify_signature_only(&text, keys) {
        Ok(_) => "accepted".to_owned(),
        Err(rejection) => rejection.reason().to_owned(),
    }
}

#[test]
fn json_web_signature_vectors() {
    let Some(vectors) = load("json_web_signature_test.json") else {
        return;
    };
    let mut outcomes = BTreeMap::new();
    let (mut rs256_valid, mut rs256_invalid, mut other) = (0, 0, 0);
    for group in vectors["testGroups"].as_array().unwrap() {
        let jwk = group.get("public").unwrap_or(&group["private"]);
        let is_rs256_group =
            jwk["kty"] == "RSA" && (jwk.get("alg").is_none() || jwk["alg"] == "RS256");
        let keys = key_set_of(jwk);
        for test in group["tests"].as_array().unwrap() {
            let id = test["tcId"].as_u64().unwrap();
            let outcome = check(&test["jws"], &keys);
            let expected_valid = test["result"] == "valid";
            if is_rs256_group && expected_valid {
                rs256_valid += 1;
                assert_eq!(
                    outcome, "accepted",
                    "tcId {id} ({}) must be accepted",
                    test["comment"]
                );
            } else {
                assert_ne!(
                    outcome, "accepted",
                    "tcId {id} ({}) must be refused",
                    test["comment"]
                );
                if is_rs256_group {
                    rs256_invalid += 1;
                } else {
                    other += 1;
                    if expected_valid && test["jws"].is_string() {
                        // A correct token of another algorithm fails on its algorithm, or earlier on
                        // base64 that only lenient decoders accept (tcId 372, 373).
                        assert!(
                            outcome == "alg_not_allowed" || outcome == "bad_base64",
                            "tcId {id}: {outcome}"
                        );
                    }
                }
            }
            outcomes.insert(id, outcome);
        }
    }
    assert!(rs256_valid >= 8, "RS256 valid cases: {rs256_valid}");
    assert!(rs256_invalid >= 40, "RS256 invalid cases: {rs256_invalid}");
    assert!(other >= 150, "other algorithms: {other}");
    assert_eq!(
        rs256_valid + rs256_invalid + other,
        401,
        "every vector was run"
    );
    insta::assert_json_snapshot!("json_web_signature_outcomes", outcomes);
}

#[test]
fn rsa_pkcs1_2048_sha256_vectors() {
    use wycheproof::TestResult;
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};

    let vectors = TestSet::load(TestName::Rsa2048Sha256).unwrap();
    let mut acceptable = BTreeMap::new();
    let (mut valid, mut invalid) = (0, 0);
    for group in &vectors.test_groups {
        let mut keys = KeySet::empty();
        let modulus = group.key.n.as_slice();
        let modulus = &modulus[modulus.iter().take_while(|byte| **byte == 0).count()..];
        keys.insert_rsa_key("wycheproof", modulus, &group.key.e)
            .expect("the vector key must be usable");
        for test in &group.tests {
            let id = test.tc_id;
            let outcome = verify_rs256_with_key(&keys, "wycheproof", &test.msg, &test.sig);
            match test.result {
                TestResult::Valid => {
                    valid += 1;
                    assert!(outcome.is_ok(), "tcId {id} must verify");
                }
                TestResult::Invalid => {
                    invalid += 1;
                    assert!(
                        outcome.is_err(),
                        "tcId {id} ({}) must be refused",
                        test.comment
                    );
                }
                TestResult::Acceptable => {
                    let flags: Vec<Value> = test
                        .flags
                        .iter()
                        .map(|flag| json!(format!("{flag:?}")))
                        .collect();
                    acceptable.insert(id, (Value::Array(flags), outcome.is_ok()));
                }
            }
        }
    }
    assert_eq!((valid, invalid), (9, 249));
    // "Acceptable" cases may go either way; the snapshot records what ring does with them.
    insta::assert_debug_snapshot!("rsa_pkcs1_acceptable_outcomes", acceptable);
}

//! The verifier from the attacker's side: every rule broken once (and refused), and every shape
//! the real platform sends accepted. Cases live in `tests/data/verifier_cases.json`; tokens are
//! minted by code from the committed test keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    reason = "test helpers: a panic is a failing test, and test numbers are small"
)]

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use callhook_auth::testing::DevIssuer;
use callhook_auth::{KeySet, Rejection, UnixTime, Verifier, VerifierConfig};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const NOW: u64 = 1_666_971_144;
const APP_ID: &str = "8a34a46b-3d17-4adc-8dce-dc4e7d572698";

#[derive(serde::Deserialize)]
struct Case {
    name: String,
    expect: String,
    header: Value,
    claims: Value,
    raw_header: Option<String>,
    raw_claims: Option<String>,
    mutation: Option<String>,
}

/// Replaces the placeholders of the case file: `$kid`, `$app`, `$APP_UPPER`, `$now`, `$now+N`,
/// `$now-N` (numbers, fractional allowed) and `STRING:…` (the same, kept as a string).
fn expand(value: &Value, kid: &str) -> Value {
    match value {
        Value::String(text) => {
            if let Some(rest) = text.strip_prefix("STRING:") {
                return Value::String(expand_number_text(rest).to_string());
            }
            match text.as_str() {
                "$kid" => json!(kid),
                "$app" => json!(APP_ID),
                "$APP_UPPER" => json!(APP_ID.to_uppercase()),
                _ if text.starts_with("$now") => expand_number_text(text),
                _ => value.clone(),
            }
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| expand(item, kid)).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, item)| (name.clone(), expand(item, kid)))
                .collect::<Map<_, _>>(),
        ),
        _ => value.clone(),
    }
}

fn expand_number_text(text: &str) -> Value {
    let offset = text.strip_prefix("$now").unwrap();
    if offset.is_empty() {
        return json!(NOW);
    }
    let (sign, magnitude) = offset.split_at(1);
    let magnitude: f64 = magnitude.parse().unwrap();
    let magnitude = if sign == "-" { -magnitude } else { magnitude };
    if magnitude.fract() == 0.0 {
        json!((NOW as i64 + magnitude as i64) as u64)
    } else {
        json!(NOW as f64 + magnitude)
    }
}

fn expand_raw(text: &str, kid: &str) -> String {
    text.replace("$kid", kid)
        .replace("$app", APP_ID)
        .replace("$now+300", &(NOW + 300).to_string())
}

fn mint(issuer: &DevIssuer, case: &Case) -> String {
    let header = match &case.raw_header {
        Some(raw) => expand_raw(raw, issuer.kid()),
        None => expand(&case.header, issuer.kid()).to_string(),
    };
    let claims = match &case.raw_claims {
        Some(raw) => expand_raw(raw, issuer.kid()),
        None => expand(&case.claims, issuer.kid()).to_string(),
    };
    let token = issuer.sign_raw(header.as_bytes(), claims.as_bytes());
    match case.mutation.as_deref() {
        None => token,
        Some(mutation) => mutate(issuer, &token, mutation),
    }
}

fn segments(token: &str) -> (String, String, String) {
    let mut parts = token.split('.').map(str::to_owned);
    (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    )
}

fn mutate(issuer: &DevIssuer, token: &str, mutation: &str) -> String {
    let (header, payload, signature) = segments(token);
    let decode = |text: &str| URL_SAFE_NO_PAD.decode(text).unwrap();
    let encode = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
    match mutation {
        "tamper_header" => {
            let mut members: Value = serde_json::from_slice(&decode(&header)).unwrap();
            members["typ"] = json!("at+jwt");
            format!(
                "{}.{payload}.{signature}",
                encode(members.to_string().as_bytes())
            )
        }
        "tamper_payload" => {
            let mut claims: Value = serde_json::from_slice(&decode(&payload)).unwrap();
            claims["tid"] = json!("attacker-tenant");
            format!(
                "{header}.{}.{signature}",
                encode(claims.to_string().as_bytes())
            )
        }
        "tamper_signature" => {
            let mut bytes = decode(&signature);
            bytes[100] ^= 0x01;
            format!("{header}.{payload}.{}", encode(&bytes))
        }
        "truncate_signature" => {
            let bytes = decode(&signature);
            format!("{header}.{payload}.{}", encode(&bytes[..bytes.len() - 1]))
        }
        "signature_of_other_key" => {
            let other = DevIssuer::rotated();
            let forged = other.signature_over(format!("{header}.{payload}").as_bytes());
            format!("{header}.{payload}.{}", encode(&forged))
        }
        "pad_signature" => format!("{token}=="),
        "standard_alphabet_in_payload" => {
            // The same bytes in the standard alphabet: '+' and '/' instead of '-' and '_'.
            let bytes = decode(&payload);
            let standard = STANDARD
                .encode(&bytes)
                .trim_end_matches('=')
                .replace('A', "+");
            format!("{header}.{standard}.{signature}")
        }
        "space_in_payload" => format!("{header}.{} {}.{signature}", &payload[..10], &payload[10..]),
        "non_canonical_trailing_bits" => {
            // 256 signature bytes end in a character whose low 4 bits must be zero.
            let mut characters: Vec<char> = signature.chars().collect();
            let last = characters.last_mut().unwrap();
            let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
            let index = alphabet.find(*last).unwrap();
            *last = alphabet.chars().nth(index | 0b0001).unwrap();
            format!(
                "{header}.{payload}.{}",
                characters.into_iter().collect::<String>()
            )
        }
        "two_segments" => format!("{header}.{payload}"),
        "four_segments" => format!("{token}.{signature}"),
        "five_segments" => format!("{token}.{payload}.{signature}"),
        "empty_signature" => format!("{header}.{payload}."),
        "empty_payload" => format!("{header}..{signature}"),
        "empty_header" => format!(".{payload}.{signature}"),
        "empty_token" => String::new(),
        "json_serialization" => json!({
            "payload": payload,
            "protected": header,
            "signature": signature,
        })
        .to_string(),
        "oversize" => {
            let claims = json!({ "padding": "x".repeat(20_000), "exp": NOW + 300 });
            issuer.mint(&claims)
        }
        "alg_none_unsigned" => {
            let none = encode(
                json!({ "alg": "none", "kid": issuer.kid() })
                    .to_string()
                    .as_bytes(),
            );
            format!("{none}.{payload}.")
        }
        "leading_space" => format!(" {token}"),
        other => panic!("unknown mutation {other}"),
    }
}

fn verifier() -> Verifier {
    Verifier::new(VerifierConfig::for_app_id(APP_ID))
}

/// Verifies `token` with the primary development key at `NOW`: "accepted" or the rejection reason.
fn check(token: &str, keys: &KeySet) -> String {
    match verifier().verify(token, keys, UnixTime::from_secs(NOW)) {
        Ok(_) => "accepted".to_owned(),
        Err(rejection) => rejection.reason().to_owned(),
    }
}

#[test]
fn every_case_of_the_case_file_meets_its_expectation() {
    let issuer = DevIssuer::new();
    let keys = issuer.key_set();
    let cases: Vec<Case> = serde_json::from_str(include_str!("data/verifier_cases.json")).unwrap();
    assert!(cases.len() > 80);
    let mut outcomes = BTreeMap::new();
    let mut failures = Vec::new();
    for case in &cases {
        let outcome = check(&mint(&issuer, case), &keys);
        if outcome != case.expect {
            failures.push(format!(
                "{}: expected {}, got {outcome}",
                case.name, case.expect
            ));
        }
        assert!(
            outcomes.insert(case.name.clone(), outcome).is_none(),
            "duplicate name {}",
            case.name
        );
    }
    assert!(failures.is_empty(), "{failures:#?}");
    insta::assert_json_snapshot!("verifier_case_outcomes", outcomes);
}

#[test]
fn accepted_claims_expose_the_checked_facts() {
    let issuer = DevIssuer::new();
    let now = UnixTime::from_secs(NOW);
    let mut claims =
        DevIssuer::standard_claims(APP_ID, "72f988bf-86f1-41af-91ab-2d7cd011db47", now);
    claims["nbf"] = json!(NOW as f64 - 0.5);
    let token = issuer.mint(&claims);
    let verified = verifier().verify(&token, &issuer.key_set(), now).unwrap();
    assert_eq!(verified.tenant_id(), "72f988bf-86f1-41af-91ab-2d7cd011db47");
    assert_eq!(verified.audience(), APP_ID);
    assert_eq!(verified.app_id(), APP_ID);
    assert_eq!(verified.issuer(), "https://api.botframework.com");
    assert_eq!(verified.key_id(), issuer.kid());
    assert_eq!(verified.expires_at(), UnixTime::from_secs(NOW + 300));
    // A fractional nbf is rounded up: the stricter side.
    assert_eq!(verified.not_before(), Some(UnixTime::from_secs(NOW)));
    assert_eq!(
        verified.caller_app_id(),
        Some(callhook_auth::testing::DEV_PLATFORM_APP_ID)
    );
    assert_eq!(
        verified.claim("tid"),
        Some(&json!("72f988bf-86f1-41af-91ab-2d7cd011db47"))
    );
    assert_eq!(verified.claim("nope"), None);
    insta::assert_debug_snapshot!("verified_claims_debug", verified);
    // Debug output never contains the token or its signature.
    let debug = format!("{verified:?}");
    assert!(!debug.contains(token.rsplit('.').next().unwrap()));
}

#[test]
fn hs256_keyed_with_the_public_key_is_refused() {
    // The classic confusion: the attacker signs with HMAC using the public key as the secret,
    // hoping the verifier lets the header choose the algorithm.
    let issuer = DevIssuer::new();
    let header = json!({ "alg": "HS256", "kid": issuer.kid(), "typ": "JWT" });
    let claims = DevIssuer::standard_claims(APP_ID, "t", UnixTime::from_secs(NOW));
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let modulus = URL_SAFE_NO_PAD
        .decode(issuer.jwk()["n"].as_str().unwrap())
        .unwrap();
    for secret in [
        modulus,
        issuer.jwks_json().into_bytes(),
        issuer.jwk().to_string().into_bytes(),
    ] {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &secret);
        let tag = ring::hmac::sign(&key, signing_input.as_bytes());
        let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()));
        assert_eq!(check(&token, &issuer.key_set()), "alg_not_allowed");
    }
}

#[test]
fn a_key_declared_for_another_algorithm_is_not_used_for_rs256() {
    let issuer = DevIssuer::new();
    let mut jwk = issuer.jwk();
    jwk["alg"] = json!("PS256");
    let (keys, skipped) =
        KeySet::from_jwks_json(json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
    assert!(skipped.is_empty());
    let token = issuer.mint(&DevIssuer::standard_claims(
        APP_ID,
        "t",
        UnixTime::from_secs(NOW),
    ));
    assert_eq!(check(&token, &keys), "alg_key_mismatch");
}

#[test]
fn a_weak_key_is_never_used() {
    let jwks = json!({ "keys": [DevIssuer::weak_rsa_1024_jwk("weak"), DevIssuer::new().jwk()] });
    let (keys, skipped) = KeySet::from_jwks_json(jwks.to_string().as_bytes()).unwrap();
    assert_eq!(keys.len(), 1, "the strong key still serves");
    assert_eq!(skipped.len(), 1);
    assert_eq!(
        skipped[0].reason,
        callhook_auth::SkipReason::KeyTooSmall { bits: 1024 }
    );
    let token = DevIssuer::new()
        .with_kid("weak")
        .mint(&DevIssuer::standard_claims(
            APP_ID,
            "t",
            UnixTime::from_secs(NOW),
        ));
    assert_eq!(check(&token, &keys), "unknown_kid");
}

#[test]
fn tenant_allow_list_is_enforced() {
    let issuer = DevIssuer::new();
    let now = UnixTime::from_secs(NOW);
    let config = VerifierConfig {
        tenants: vec!["72F988BF-86F1-41AF-91AB-2D7CD011DB47".to_owned()],
        ..VerifierConfig::for_app_id(APP_ID)
    };
    let verifier = Verifier::new(config);
    let allowed = issuer.mint(&DevIssuer::standard_claims(
        APP_ID,
        "72f988bf-86f1-41af-91ab-2d7cd011db47",
        now,
    ));
    let other = issuer.mint(&DevIssuer::standard_claims(
        APP_ID,
        "00000000-0000-0000-0000-000000000001",
        now,
    ));
    assert!(verifier.verify(&allowed, &issuer.key_set(), now).is_ok());
    assert_eq!(
        verifier.verify(&other, &issuer.key_set(), now).unwrap_err(),
        Rejection::TenantNotAllowed
    );
}

#[test]
fn configured_issuers_replace_the_defaults() {
    let issuer = DevIssuer::new();
    let now = UnixTime::from_secs(NOW);
    let verifier = Verifier::new(VerifierConfig {
        issuers: vec!["https://api.botframework.us".to_owned()],
        ..VerifierConfig::for_app_id(APP_ID)
    });
    let token = issuer.mint(&DevIssuer::standard_claims(APP_ID, "t", now));
    assert_eq!(
        verifier.verify(&token, &issuer.key_set(), now).unwrap_err(),
        Rejection::IssuerMismatch
    );
}

#[test]
fn an_empty_app_id_matches_nothing() {
    let issuer = DevIssuer::new();
    let now = UnixTime::from_secs(NOW);
    let verifier = Verifier::new(VerifierConfig::default());
    let token = issuer.mint(&DevIssuer::standard_claims("", "t", now));
    assert_eq!(
        verifier.verify(&token, &issuer.key_set(), now).unwrap_err(),
        Rejection::AudienceMismatch
    );
}

#[test]
fn rejections_never_display_the_token() {
    let issuer = DevIssuer::new();
    let token = issuer.mint(&json!({ "exp": 1 }));
    let rejection = verifier()
        .verify(&token, &issuer.key_set(), UnixTime::from_secs(NOW))
        .unwrap_err();
    assert_eq!(rejection, Rejection::Expired);
    let shown = format!("{rejection} {rejection:?}");
    for segment in token.split('.') {
        assert!(!shown.contains(segment));
    }
}

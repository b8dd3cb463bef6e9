//! Real tokens and key documents of `shared/realworld` (issue threads, documentation, other
//! projects' fixtures), through the verifier and the key source.
//!
//! - The platform's real token headers (`cty: "JWT"`, `x5t` equal to `kid`, no `iat` in the claims)
//!   pass every structural check: signed again with the development key under their own `kid`,
//!   each verifies.
//! - Every OpenID configuration stored as valid JSON gives its `jwks_uri` to the key source's
//!   parser; the one stored with trailing commas does once it is JSON.
//! - The 17-key JWKS document (with `x5c` and `endorsements`) loads all of its RSA keys, also over
//!   HTTP from a loopback server through an OpenID configuration, as the key source fetches them.
//! - Token 009 was signed by one of those keys: at a fixed clock inside its lifetime its signature
//!   verifies, and the verifier's one refusal is for its missing `tid` (a Bot Framework messaging
//!   token has none), never for the signature or the key. Broken, it is refused for that.
//!
//! The data are other projects' and stay out of this repository: they are read from
//! `shared/realworld/` beside the checkout. Without it, each test prints one line saying so and
//! passes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::print_stdout,
    reason = "test code: a panic is a failing test, and a skip is said on stdout"
)]

use std::path::PathBuf;

use callhook_auth::testing::DevIssuer;
use callhook_auth::{
    KeyFetcher, KeySet, Rejection, UnixTime, Verifier, VerifierConfig,
    jwks_uri_of_openid_configuration, verify_signature_only,
};
use serde_json::{Value, json};

/// `shared/realworld`, or `None` (after saying so) when it is absent.
fn realworld() -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/realworld");
    if path.join("SOURCES.md").is_file() {
        Some(path)
    } else {
        println!(
            "skipped: the real-world tokens and keys are not at {} (they live in shared/realworld)",
            path.display()
        );
        None
    }
}

fn read(root: &std::path::Path, name: &str) -> Vec<u8> {
    std::fs::read(root.join(name)).unwrap_or_else(|error| panic!("{name}: {error}"))
}

/// A Python literal of JSON data (as the 17-key document is stored) made JSON: the commas before
/// a closing bracket or brace, outside strings, are dropped. The platform serves JSON.
fn without_trailing_commas(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut pending_comma: Option<String> = None;
    for character in text.chars() {
        if in_string {
            out.push(character);
            match (escaped, character) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if let Some(held) = pending_comma.as_mut() {
            if character.is_whitespace() {
                held.push(character);
                continue;
            }
            let held = pending_comma.take().unwrap();
            if character == ']' || character == '}' {
                out.push_str(&held[1..]);
            } else {
                out.push_str(&held);
            }
        }
        match character {
            ',' => pending_comma = Some(",".to_owned()),
            '"' => {
                in_string = true;
                out.push(character);
            }
            _ => out.push(character),
        }
    }
    out.push_str(pending_comma.as_deref().unwrap_or_default());
    out
}

#[test]
fn trailing_commas_are_dropped_outside_strings_only() {
    assert_eq!(
        without_trailing_commas("{\"a\": [1, 2,\n ],\n \"b\": \",]\", }"),
        "{\"a\": [1, 2\n ],\n \"b\": \",]\" }"
    );
}

fn the_17_keys(root: &std::path::Path) -> (String, Value) {
    let stored = String::from_utf8(read(
        root,
        "keys/006-jwks-login-botframework-2020-17keys-endorsements.json",
    ))
    .unwrap();
    assert!(
        serde_json::from_str::<Value>(&stored).is_err(),
        "stored as a Python literal"
    );
    let json = without_trailing_commas(&stored);
    let value: Value = serde_json::from_str(&json).unwrap();
    (json, value)
}

#[test]
fn the_17_key_document_loads_all_its_rsa_keys() {
    let Some(root) = realworld() else { return };
    let (json, value) = the_17_keys(&root);
    let raw_keys = value["keys"].as_array().unwrap();
    assert_eq!(raw_keys.len(), 17);
    let (keys, skipped) = KeySet::from_jwks_json(json.as_bytes()).unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    assert_eq!(keys.len(), 17);
    for raw in raw_keys {
        assert_eq!(raw["kty"], "RSA");
        let kid = raw["kid"].as_str().unwrap();
        let key = keys.key(kid).unwrap();
        assert_eq!(key.modulus_bits(), 2048, "{kid}");
    }
}

#[test]
fn every_openid_configuration_gives_its_jwks_uri() {
    let Some(root) = realworld() else { return };
    let stored_as_json = [
        "keys/001-openid-api-aps-skype-doc-2016.json",
        "keys/002-openid-metadata-scratch-env-rs256.json",
        "keys/003-openid-api-aps-skype-captured-2016-compact.json",
        "keys/004-openid-login-botframework-v1-keys-comment.json",
        "keys/005-openid-login-botframework-doc-2021-rs256.json",
    ];
    for name in stored_as_json {
        let document = read(&root, name);
        let raw: Value = serde_json::from_slice(&document).unwrap();
        let uri = jwks_uri_of_openid_configuration(&document).unwrap();
        assert_eq!(Some(uri.as_str()), raw["jwks_uri"].as_str(), "{name}");
        assert!(uri.starts_with("https://"), "{name}: {uri}");
    }
    let stored = read(&root, "keys/007-openid-login-botframework-2020-sentry.json");
    assert!(jwks_uri_of_openid_configuration(&stored).is_err());
    let json = without_trailing_commas(std::str::from_utf8(&stored).unwrap());
    assert_eq!(
        jwks_uri_of_openid_configuration(json.as_bytes()).unwrap(),
        "https://login.botframework.com/v1/.well-known/keys"
    );
}

#[tokio::test]
async fn the_key_source_fetches_the_17_keys_through_an_openid_configuration() {
    let Some(root) = realworld() else { return };
    let (json, _) = the_17_keys(&root);
    let server = wiremock::MockServer::start().await;
    // The 2021 documentation's configuration, with its `jwks_uri` pointed at the loopback server.
    let mut configuration: Value = serde_json::from_slice(&read(
        &root,
        "keys/005-openid-login-botframework-doc-2021-rs256.json",
    ))
    .unwrap();
    configuration["jwks_uri"] = json!(format!("{}/v1/.well-known/keys", server.uri()));
    for (path, body) in [
        (
            "/v1/.well-known/openidconfiguration",
            configuration.to_string(),
        ),
        ("/v1/.well-known/keys", json),
    ] {
        wiremock::Mock::given(wiremock::matchers::path(path))
            .respond_with(wiremock::ResponseTemplate::new(200).set_body_string(body))
            .mount(&server)
            .await;
    }
    let fetcher = KeyFetcher::new(std::time::Duration::from_secs(5)).unwrap();
    let (keys, skipped) = fetcher
        .fetch_from_openid_configuration(&format!(
            "{}/v1/.well-known/openidconfiguration",
            server.uri()
        ))
        .await
        .unwrap();
    assert_eq!((keys.len(), skipped.len()), (17, 0));
}

/// Token 009: its compact form, claims, and the 17 keys.
fn token_009(root: &std::path::Path) -> (String, Value, KeySet) {
    let token = String::from_utf8(read(
        root,
        "tokens/009-bf-messaging-2020-verifiable-with-keys-006.jwt",
    ))
    .unwrap()
    .trim()
    .to_owned();
    let claims: Value = serde_json::from_slice(&read(
        root,
        "tokens/009-bf-messaging-2020-verifiable-with-keys-006.claims.json",
    ))
    .unwrap();
    let (json, _) = the_17_keys(root);
    let keys = KeySet::from_jwks_json(json.as_bytes()).unwrap().0;
    (token, claims, keys)
}

#[test]
fn token_009_verifies_with_the_17_keys_and_is_refused_only_for_its_missing_tenant() {
    let Some(root) = realworld() else { return };
    let (token, claims, keys) = token_009(&root);
    assert!(verify_signature_only(&token, &keys).is_ok());
    let verifier = Verifier::new(VerifierConfig::for_app_id(claims["aud"].as_str().unwrap()));
    let inside = UnixTime::from_secs(claims["nbf"].as_u64().unwrap() + 60);
    assert_eq!(
        verifier.verify(&token, &keys, inside).err(),
        Some(Rejection::MissingClaim { claim: "tid" })
    );
}

#[test]
fn token_009_broken_is_refused_for_what_was_broken() {
    let Some(root) = realworld() else { return };
    let (token, claims, keys) = token_009(&root);
    let verifier = Verifier::new(VerifierConfig::for_app_id(claims["aud"].as_str().unwrap()));
    let inside = UnixTime::from_secs(claims["nbf"].as_u64().unwrap() + 60);
    // One signature character changed.
    let (head, signature) = token.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
    let forged = format!("{head}.{flipped}{}", &signature[1..]);
    assert_eq!(
        verifier.verify(&forged, &keys, inside).err(),
        Some(Rejection::BadSignature)
    );
    // The right signature under a key set without its key.
    assert_eq!(
        verifier.verify(&token, &KeySet::empty(), inside).err(),
        Some(Rejection::UnknownKid)
    );
    // Long after its lifetime (its real date): expired before anything else of the claims.
    let later = UnixTime::from_secs(claims["exp"].as_u64().unwrap() + 3_600);
    assert_eq!(
        verifier.verify(&token, &keys, later).err(),
        Some(Rejection::Expired)
    );
    // Another bot's app id: refused for the audience, which is checked before the tenant.
    let other = Verifier::new(VerifierConfig::for_app_id("another-bot"));
    assert_eq!(
        other.verify(&token, &keys, inside).err(),
        Some(Rejection::AudienceMismatch)
    );
}

#[test]
fn the_real_token_headers_pass_the_structural_checks() {
    let Some(root) = realworld() else { return };
    let mut headers = 0;
    for entry in std::fs::read_dir(root.join("tokens")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".header.json") else {
            continue;
        };
        headers += 1;
        let header_bytes = std::fs::read(&path).unwrap();
        let header: Value = serde_json::from_slice(&header_bytes).unwrap();
        let kid = header["kid"].as_str().unwrap();
        if let Some(x5t) = header.get("x5t") {
            assert_eq!(x5t.as_str(), Some(kid), "{name}: x5t is the kid");
        }
        // The header's exact bytes, signed with the development key under the same `kid`, over
        // the platform's claims (no `iat`).
        let issuer = DevIssuer::new().with_kid(kid);
        let now = UnixTime::from_secs(1_700_000_000);
        let claims = DevIssuer::standard_claims("bot-app-id", "tenant-1", now);
        assert!(claims.get("iat").is_none());
        let token = issuer.sign_raw(&header_bytes, claims.to_string().as_bytes());
        let verifier = Verifier::new(VerifierConfig::for_app_id("bot-app-id"));
        let verified = verifier.verify(&token, &issuer.key_set(), now);
        assert!(verified.is_ok(), "{stem}: {:?}", verified.err());
        // The same header with the signature of another key is refused for the signature.
        let other = DevIssuer::rotated().with_kid(kid);
        let forged = other.sign_raw(&header_bytes, claims.to_string().as_bytes());
        assert_eq!(
            verifier.verify(&forged, &issuer.key_set(), now).err(),
            Some(Rejection::BadSignature),
            "{stem}"
        );
    }
    assert!(headers >= 8, "only {headers} headers");
    // A real header carries the bogus nested-JWT marker the verifier must tolerate.
    let calling: Value = serde_json::from_slice(&read(
        &root,
        "tokens/001-calling-callback-cty-jwt.header.json",
    ))
    .unwrap();
    assert_eq!(calling["cty"], "JWT");
}

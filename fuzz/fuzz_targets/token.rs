//! The token parser and verifier, from the attacker's side.
//!
//! The first byte chooses how the rest is used:
//! - even: the rest is an `Authorization` header value, verified as is (structure, base64url,
//!   header rules, `kid` lookup, the RSA check, claims); the seeds include valid tokens, so
//!   mutations explore the neighbourhood of tokens that verify;
//! - odd: the rest is `header NUL claims`, which the harness signs with the committed test key
//!   before verifying, so that the fuzzer reaches every claim check behind a valid signature.
//!
//! Beyond "never panics", every accepted token must satisfy each rule the verifier promises.
#![no_main]

use std::sync::{Arc, OnceLock};

use callhook_auth::testing::DevIssuer;
use callhook_auth::{
    Authenticator, DEFAULT_ISSUERS, ManualClock, UnixTime, Verifier, VerifierConfig,
};
use callhook_fuzz::{APP_ID, NOW, runtime, split_two};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

struct Harness {
    issuer: DevIssuer,
    verifier: Verifier,
    authenticator: Authenticator,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let issuer = DevIssuer::new();
        let clock = Arc::new(ManualClock::new(UnixTime::from_secs(NOW)));
        let authenticator = Authenticator::builder(APP_ID)
            .static_keys(issuer.key_set())
            .clock(clock)
            .build()
            .unwrap();
        Harness {
            verifier: Verifier::new(VerifierConfig::for_app_id(APP_ID)),
            authenticator,
            issuer,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    let harness = harness();
    let token = if mode % 2 == 0 {
        let Ok(authorization) = std::str::from_utf8(rest) else {
            return;
        };
        check_authorization(harness, authorization);
        // Optional whitespace around the value is allowed (RFC 9110), as is more than one space
        // after the scheme.
        match authorization.trim_matches([' ', '\t']).split_once(' ') {
            Some((_, token)) => token.trim_start_matches(' ').to_owned(),
            None => return,
        }
    } else {
        let (header, claims) = split_two(rest);
        harness.issuer.sign_raw(header, claims)
    };
    let outcome =
        harness
            .verifier
            .verify(&token, &harness.issuer.key_set(), UnixTime::from_secs(NOW));
    if outcome.is_ok() {
        assert_token_obeys_every_rule(&token);
    }
    // The authenticator (bearer parsing, cache) must agree with the pure verifier, twice: the
    // second answer comes from its cache.
    for _ in 0..2 {
        let through_cache = runtime().block_on(
            harness
                .authenticator
                .authenticate(&format!("Bearer {token}")),
        );
        assert_eq!(
            through_cache.is_ok(),
            outcome.is_ok(),
            "authenticator and verifier disagree: {through_cache:?} vs {outcome:?}"
        );
    }
});

/// The raw header value path: whatever the scheme and spacing, an accepted value is a bearer token
/// that also verifies on its own.
fn check_authorization(harness: &Harness, authorization: &str) {
    let outcome = runtime().block_on(harness.authenticator.authenticate(authorization));
    if outcome.is_ok() {
        let (scheme, token) = authorization
            .trim_matches([' ', '\t'])
            .split_once(' ')
            .expect("an accepted Authorization value has a scheme and a token");
        assert!(
            scheme.eq_ignore_ascii_case("bearer"),
            "scheme {scheme:?} accepted"
        );
        assert_token_obeys_every_rule(token.trim_start_matches(' '));
    }
}

/// Decodes an accepted token again, independently of the verifier, and checks each promise.
fn assert_token_obeys_every_rule(token: &str) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "an accepted token has three segments");
    let decode = |text: &str| -> Value {
        let bytes = decode_base64url(text).expect("accepted segments are base64url");
        serde_json::from_slice(&bytes).expect("accepted segments are JSON")
    };
    let header = decode(parts[0]);
    let claims = decode(parts[1]);
    assert_eq!(header["alg"], "RS256", "only RS256 is ever accepted");
    for embedded in ["jwk", "jku", "x5u", "x5c", "crit"] {
        assert!(
            header.get(embedded).is_none(),
            "a header with {embedded} was accepted"
        );
    }
    assert_eq!(
        header["kid"], "callhook-dev-1",
        "only the known key verifies"
    );
    let audience_ok = match &claims["aud"] {
        Value::String(single) => single == APP_ID,
        Value::Array(many) => many.iter().any(|entry| entry == APP_ID),
        _ => false,
    };
    assert!(
        audience_ok,
        "a token for another audience was accepted: {claims}"
    );
    let issuer = claims["iss"].as_str().expect("an accepted iss is a string");
    assert!(
        DEFAULT_ISSUERS.contains(&issuer),
        "issuer {issuer:?} accepted"
    );
    let tenant = claims["tid"].as_str().expect("an accepted tid is a string");
    assert!(!tenant.is_empty(), "an empty tid was accepted");
    let expiry = claims["exp"].as_f64().expect("an accepted exp is a number");
    assert!(
        expiry + 300.0 > NOW as f64,
        "an expired token was accepted: exp {expiry}"
    );
    if let Some(not_before) = claims.get("nbf") {
        let not_before = not_before.as_f64().expect("an accepted nbf is a number");
        assert!(
            not_before - 300.0 <= NOW as f64,
            "a not-yet-valid token was accepted"
        );
    }
}

fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    // A small independent decoder, so that the oracle does not share the verifier's code.
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for byte in text.bytes() {
        let value = match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Some(out)
}

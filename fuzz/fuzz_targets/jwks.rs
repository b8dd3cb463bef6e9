//! The JWKS parser: any bytes as a key set document.
//!
//! Beyond "never panics": every kept key is a usable RSA signing key within the size limits, kids
//! are unique and non-empty, and a token signed by the committed test key verifies against the
//! parsed set only when the set holds exactly that key under the token's `kid` (a signature never
//! verifies under a key that did not make it).
#![no_main]

use std::sync::OnceLock;

use callhook_auth::testing::{DEV_PRIMARY_KID, DevIssuer};
use callhook_auth::{
    KeySet, MAXIMUM_RSA_MODULUS_BITS, MINIMUM_RSA_MODULUS_BITS, UnixTime, Verifier, VerifierConfig,
};
use callhook_fuzz::{APP_ID, NOW};
use libfuzzer_sys::fuzz_target;

struct Harness {
    token: String,
    modulus: Vec<u8>,
    verifier: Verifier,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let issuer = DevIssuer::new();
        let modulus = issuer
            .key_set()
            .key(DEV_PRIMARY_KID)
            .map(|key| key.modulus().to_vec())
            .unwrap_or_default();
        Harness {
            token: issuer.mint(&DevIssuer::standard_claims(
                APP_ID,
                "tenant",
                UnixTime::from_secs(NOW),
            )),
            modulus,
            verifier: Verifier::new(VerifierConfig::for_app_id(APP_ID)),
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok((keys, skipped)) = KeySet::from_jwks_json(data) else {
        return;
    };
    let harness = harness();
    let mut kids = 0;
    for kid in keys.kids() {
        kids += 1;
        assert!(!kid.is_empty(), "a key without a kid was kept");
        let key = keys.key(kid).expect("a listed kid has a key");
        let bits = key.modulus_bits();
        assert!(
            (MINIMUM_RSA_MODULUS_BITS..=MAXIMUM_RSA_MODULUS_BITS).contains(&bits),
            "a {bits}-bit key was kept"
        );
        assert_ne!(
            key.modulus().first(),
            Some(&0),
            "modulus kept with a leading zero"
        );
        assert_ne!(
            key.exponent().first(),
            Some(&0),
            "exponent kept with a leading zero"
        );
        assert!(
            key.modulus().last().is_some_and(|byte| byte & 1 == 1),
            "even modulus kept"
        );
        assert!(
            key.exponent().last().is_some_and(|byte| byte & 1 == 1),
            "even exponent kept"
        );
    }
    assert_eq!(kids, keys.len());
    assert!(skipped.iter().all(|skip| skip.kid.as_deref() != Some("")));

    let outcome = harness
        .verifier
        .verify(&harness.token, &keys, UnixTime::from_secs(NOW));
    if outcome.is_ok() {
        let key = keys
            .key(DEV_PRIMARY_KID)
            .expect("the token's kid is in the set");
        assert_eq!(
            key.modulus(),
            harness.modulus.as_slice(),
            "a signature verified under a key that did not make it"
        );
    }
});

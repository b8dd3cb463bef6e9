//! Attacker input never panics the parsers and is never accepted without a valid signature.

use callhook_auth::testing::DevIssuer;
use callhook_auth::{KeySet, UnixTime, Verifier, VerifierConfig};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_text_is_refused(token in ".{0,400}") {
        let verifier = Verifier::new(VerifierConfig::for_app_id("bot"));
        prop_assert!(verifier.verify(&token, &DevIssuer::new().key_set(), UnixTime::from_secs(1)).is_err());
    }

    #[test]
    fn arbitrary_base64url_segments_are_refused(
        segments in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 0..7)
    ) {
        let token = segments.join(".");
        let verifier = Verifier::new(VerifierConfig::for_app_id("bot"));
        prop_assert!(verifier.verify(&token, &DevIssuer::new().key_set(), UnixTime::from_secs(1)).is_err());
    }

    #[test]
    fn arbitrary_key_documents_never_panic(document in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _outcome = KeySet::from_jwks_json(&document);
    }

    #[test]
    fn any_single_byte_change_of_a_valid_token_is_refused(position in 0usize..2000, replacement in 0u8..128) {
        let issuer = DevIssuer::new();
        let now = UnixTime::from_secs(1_700_000_000);
        let token = issuer.mint(&DevIssuer::standard_claims("bot", "t", now));
        let mut bytes = token.clone().into_bytes();
        let position = position % bytes.len();
        prop_assume!(bytes.get(position) != Some(&replacement));
        if let Some(byte) = bytes.get_mut(position) {
            *byte = replacement;
        }
        let changed = String::from_utf8(bytes).unwrap_or_default();
        let verifier = Verifier::new(VerifierConfig::for_app_id("bot"));
        prop_assert!(verifier.verify(&changed, &issuer.key_set(), now).is_err());
    }
}

//! The key source's documents as fetched: an OpenID configuration and the key set its `jwks_uri`
//! names, each served over a real loopback socket with a framing the fuzzer chooses (honest,
//! chunked, truncated, read-to-close, declared too large, HTTP 500).
//!
//! Input: `openid-framing keys-framing openid-document NUL keys-document`. The text `$JWKS` in the
//! OpenID document is replaced by the loopback key set URL, so that seeds can point at it.
//!
//! Beyond "never panics": a fetch succeeds only through well-formed framings, and then yields
//! exactly the keys the JWKS parser reads from the same document. Only loopback is ever fetched:
//! a document whose `jwks_uri` names any other host is parsed but not followed.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use callhook_auth::{KeyFetcher, KeySet};
use callhook_fuzz::{Framing, LoopbackIssuer, runtime, split_two};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fn fetcher() -> &'static KeyFetcher {
    static FETCHER: OnceLock<KeyFetcher> = OnceLock::new();
    FETCHER.get_or_init(|| KeyFetcher::new(Duration::from_secs(5)).expect("a key fetcher"))
}

/// Where the key source would go after reading `document` as its OpenID configuration.
enum Next {
    /// Nowhere: the document names no usable `jwks_uri`.
    Nowhere,
    /// The loopback server; `keys` tells whether that path is the one serving the key set.
    Loopback { keys: bool },
    /// Another host, which a fuzzer must never contact.
    Elsewhere,
}

/// Reads `document`'s `jwks_uri` the way the key source reads it.
fn next_hop(document: &[u8], issuer: &LoopbackIssuer) -> Next {
    let Ok(configuration) = serde_json::from_slice::<Map<String, Value>>(document) else {
        return Next::Nowhere;
    };
    let Some(jwks_uri) = configuration.get("jwks_uri").and_then(Value::as_str) else {
        return Next::Nowhere;
    };
    let Ok(url) = url::Url::parse(jwks_uri) else {
        return Next::Nowhere;
    };
    let ours = url::Url::parse(&issuer.base).expect("the loopback base is a URL");
    if url.host() == ours.host() && url.port_or_known_default() == ours.port_or_known_default() {
        Next::Loopback {
            keys: url.scheme() == "http" && url.path().starts_with("/keys"),
        }
    } else {
        Next::Elsewhere
    }
}

fuzz_target!(|data: &[u8]| {
    let [openid_framing, keys_framing, rest @ ..] = data else {
        return;
    };
    let (openid_framing, keys_framing) = (
        Framing::from_byte(*openid_framing),
        Framing::from_byte(*keys_framing),
    );
    let (openid_document, keys_document) = split_two(rest);
    let issuer = LoopbackIssuer::get();
    let openid_document = replace(openid_document, b"$JWKS", issuer.keys_url().as_bytes());
    let parsed = KeySet::from_jwks_json(keys_document);
    let next = next_hop(&openid_document, issuer);
    if matches!(next, Next::Elsewhere) {
        return;
    }
    issuer.serve(
        (openid_document, openid_framing),
        (keys_document.to_vec(), keys_framing),
    );
    let fetched =
        runtime().block_on(fetcher().fetch_from_openid_configuration(&issuer.openid_url()));
    if let (Ok((keys, _skipped)), Next::Loopback { keys: true }) = (fetched, next) {
        assert!(
            openid_framing.is_well_formed(),
            "fetched through {openid_framing:?}"
        );
        assert!(
            keys_framing.is_well_formed(),
            "fetched through {keys_framing:?}"
        );
        let (expected, _) = parsed.expect("fetched keys the parser refuses");
        assert_eq!(
            keys, expected,
            "the fetch and the parser read different keys"
        );
    }
});

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = haystack;
    while let Some(at) = rest
        .windows(needle.len())
        .position(|window| window == needle)
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(with);
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
}

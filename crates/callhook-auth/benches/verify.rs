//! The speed goals of the auth crate, in one run:
//!
//! - `raw_ring_rs256`: ring's RS256 verification of the very signature of the token (the floor);
//! - `cold_verify`: [`Verifier::verify`] without any cache (goal: within 1.3x of raw ring);
//! - `cached_verify`: [`Authenticator::verify_token`] on a token already seen (goal: at least 20x
//!   faster than cold).
//!
//! Run with `cargo bench -p callhook-auth --features testing`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "benchmark setup: a panic is a failed run"
)]

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use callhook_auth::testing::DevIssuer;
use callhook_auth::{Authenticator, ManualClock, UnixTime, Verifier, VerifierConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use std::future::Future as _;
use std::hint::black_box;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

const APP_ID: &str = "bench-app-id";
const NOW: u64 = 1_700_000_000;

fn verification(criterion: &mut Criterion) {
    let issuer = DevIssuer::new();
    let now = UnixTime::from_secs(NOW);
    let token = issuer.mint(&DevIssuer::standard_claims(APP_ID, "bench-tenant", now));
    let keys = issuer.key_set();

    let (signing_input, signature) = token.rsplit_once('.').unwrap();
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let key = keys.key(issuer.kid()).unwrap();
    let components = ring::signature::RsaPublicKeyComponents {
        n: key.modulus(),
        e: key.exponent(),
    };
    criterion.bench_function("raw_ring_rs256", |bencher| {
        bencher.iter(|| {
            components
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    black_box(signing_input.as_bytes()),
                    black_box(&signature),
                )
                .unwrap();
        });
    });

    let verifier = Verifier::new(VerifierConfig::for_app_id(APP_ID));
    criterion.bench_function("cold_verify", |bencher| {
        bencher.iter(|| verifier.verify(black_box(&token), &keys, now).unwrap());
    });

    let clock = Arc::new(ManualClock::new(now));
    let authenticator = Authenticator::builder(APP_ID)
        .static_keys(keys.clone())
        .clock(clock)
        .build()
        .unwrap();
    let mut context = Context::from_waker(Waker::noop());
    // A cache hit never waits, so one poll completes it; this measures the work, not an executor.
    let mut verify_cached = || {
        let future = std::pin::pin!(authenticator.verify_token(black_box(&token)));
        match future.poll(&mut context) {
            Poll::Ready(outcome) => outcome.unwrap(),
            Poll::Pending => panic!("a static key set never waits"),
        }
    };
    // A token is cached from its second verification on.
    verify_cached();
    verify_cached();
    assert!(authenticator.is_cached(&token), "the token must be cached");
    criterion.bench_function("cached_verify", |bencher| bencher.iter(&mut verify_cached));
}

criterion_group!(benches, verification);
criterion_main!(benches);

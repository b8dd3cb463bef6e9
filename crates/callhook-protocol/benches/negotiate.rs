//! Negotiating a typical incoming-call body, next to one RS256 signature verification (the cost
//! every request pays anyway for authentication), so that the two can be compared in one run.

use std::hint::black_box;

use callhook_protocol::{Action, LegacyPolicy, negotiate, verdict};
use criterion::{Criterion, criterion_group, criterion_main};
use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};

const INCOMING_CALL: &[u8] = include_bytes!("data/incoming-call.json");
const LEGACY_CONVERSATION: &[u8] = include_bytes!("data/legacy-conversation.json");
const PUBLIC_KEY: &[u8] = include_bytes!("data/rsa-2048-public.der");
const SIGNED_MESSAGE: &[u8] = include_bytes!("data/signed-message.txt");
const SIGNATURE: &[u8] = include_bytes!("data/rs256-signature.bin");

fn negotiate_versus_signature(criterion: &mut Criterion) {
    // Check the inputs once, so that the benchmark measures the successful paths.
    assert_eq!(
        negotiate(INCOMING_CALL, LegacyPolicy::Redeliver).action(),
        Action::Accept
    );
    assert_eq!(
        negotiate(LEGACY_CONVERSATION, LegacyPolicy::Redeliver).action(),
        Action::Redeliver
    );
    let key = UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, PUBLIC_KEY);
    assert!(
        key.verify(SIGNED_MESSAGE, SIGNATURE).is_ok(),
        "the committed signature must verify"
    );

    let mut group = criterion.benchmark_group("per_request");
    group.throughput(criterion::Throughput::Bytes(INCOMING_CALL.len() as u64));
    group.bench_function("negotiate_incoming_call_graph", |bencher| {
        bencher.iter(|| negotiate(black_box(INCOMING_CALL), LegacyPolicy::Redeliver));
    });
    group.bench_function("verdict_incoming_call_graph", |bencher| {
        bencher.iter(|| verdict(black_box(INCOMING_CALL), LegacyPolicy::Redeliver));
    });
    group.bench_function("negotiate_conversation_legacy", |bencher| {
        bencher.iter(|| negotiate(black_box(LEGACY_CONVERSATION), LegacyPolicy::Redeliver));
    });
    group.bench_function("ring_rs256_verify_2048", |bencher| {
        bencher.iter(|| key.verify(black_box(SIGNED_MESSAGE), black_box(SIGNATURE)));
    });
    group.finish();
}

criterion_group!(benches, negotiate_versus_signature);
criterion_main!(benches);

//! The notification negotiator: any bytes as a webhook body, under both legacy policies.
//!
//! Beyond "never panics": the policy changes only what is answered to a legacy body, never how a
//! body is classified; a Graph body is always accepted, an invalid one always refused with a
//! reason; the summary `callhook classify` prints exists exactly for valid bodies, serializes, and has one entry per item.
//! And differentially: `verdict` (from the facts reader) decides every body exactly as
//! `negotiate` does, and `decide_summaries` keeps the notifications' facts that `decide` keeps.
#![no_main]

use callhook_protocol::{
    Action, LegacyPolicy, Protocol, decide, decide_summaries, negotiate, verdict,
};
use callhook_server::classify::Summary;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let redeliver = negotiate(data, LegacyPolicy::Redeliver);
    let accept = negotiate(data, LegacyPolicy::Accept);
    assert_eq!(
        verdict(data, LegacyPolicy::Redeliver),
        redeliver.verdict(),
        "verdict and negotiate disagree"
    );
    assert_eq!(
        verdict(data, LegacyPolicy::Accept),
        accept.verdict(),
        "verdict and negotiate disagree"
    );
    let full = decide(data, LegacyPolicy::Redeliver);
    let summaries = decide_summaries(data, LegacyPolicy::Redeliver);
    assert_eq!(
        summaries.verdict(),
        redeliver.verdict(),
        "decide_summaries and negotiate disagree"
    );
    assert_eq!(
        summaries.facts().map(|facts| facts.notifications()),
        full.facts().map(|facts| facts.notifications()),
        "decide_summaries and decide read different facts"
    );
    assert_eq!(
        redeliver.protocol(),
        accept.protocol(),
        "the policy changed the classification"
    );
    match redeliver.protocol() {
        Some(Protocol::Graph) => {
            assert_eq!(redeliver.action(), Action::Accept);
            assert_eq!(accept.action(), Action::Accept);
            let graph = redeliver.graph().expect("a Graph body has notifications");
            let summary = Summary::of(&redeliver).expect("a valid body has a summary");
            assert_eq!(summary.notifications.len(), graph.value.len());
        }
        Some(Protocol::Legacy) => {
            assert_eq!(redeliver.action(), Action::Redeliver);
            assert_eq!(accept.action(), Action::Accept);
            assert!(redeliver.legacy().is_some());
            assert!(Summary::of(&redeliver).is_some(), "a valid body has a summary");
        }
        None => {
            assert_eq!(redeliver.action(), Action::Reject);
            assert_eq!(accept.action(), Action::Reject);
            let reason = redeliver.invalid().expect("an invalid body has a reason");
            assert!(!reason.to_string().is_empty(), "an empty reason");
            assert!(Summary::of(&redeliver).is_none());
        }
    }
    if let Some(summary) = Summary::of(&accept) {
        serde_json::to_string(&summary).expect("a summary serializes");
    }
});

//! Which verified tokens are worth remembering: those verified a second time.
//!
//! The platform reuses one token for every notification of its lifetime, so a token that comes
//! back is worth a cache entry; a token seen once (the worst case: every request carries a new
//! token) is not, and inserting it costs more than the rest of the request beside the RSA
//! verification itself (the cache's bookkeeping and growth; measured in docs/performance.md).
//! This is the "doorkeeper" of TinyLFU:
//! a small table of fingerprints of tokens verified once and not cached yet.
//!
//! A fingerprint only decides whether an already verified token is cached; it is never used to
//! accept anything, and the cache itself stays keyed by the whole token. A collision or an
//! overwritten slot only changes when a token is cached, never whether it is accepted.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// How many fingerprints are kept: far more than the tokens a platform has in use at once, small
/// enough (64 KiB) to be no memory concern.
const SLOTS: usize = 8192;

/// Fingerprints of tokens verified once and not cached yet. Each fingerprint may sit in one of two
/// slots (as in a two-way set-associative cache), so that two tokens in use that happen to share a
/// slot do not keep evicting each other.
pub(crate) struct Doorkeeper {
    slots: Box<[AtomicU64]>,
    /// Randomly keyed, so that nobody can choose tokens that collide on purpose.
    hasher: std::collections::hash_map::RandomState,
    /// Alternates the slot overwritten when both of a fingerprint's slots are taken.
    turn: AtomicU64,
}

impl Doorkeeper {
    pub(crate) fn new() -> Self {
        Self {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
            turn: AtomicU64::new(0),
        }
    }

    /// Called with each token that was just verified in full: true when the same token was
    /// verified before (and its fingerprint is still here), i.e. when it should now be cached.
    pub(crate) fn second_sighting(&self, token: &str) -> bool {
        // Zero marks an empty slot, so no fingerprint is zero.
        let fingerprint = self.hasher.hash_one(token) | 1;
        let first = usize::try_from(fingerprint >> 48).unwrap_or_default() % SLOTS;
        let second = usize::try_from((fingerprint >> 32) & 0xffff).unwrap_or_default() % SLOTS;
        let (Some(first), Some(second)) = (self.slots.get(first), self.slots.get(second)) else {
            return true;
        };
        for slot in [first, second] {
            if slot.load(Ordering::Relaxed) == fingerprint {
                slot.store(0, Ordering::Relaxed);
                return true;
            }
        }
        let victim = if first.load(Ordering::Relaxed) == 0 {
            first
        } else if second.load(Ordering::Relaxed) == 0 {
            second
        } else if self.turn.fetch_add(1, Ordering::Relaxed).is_multiple_of(2) {
            first
        } else {
            second
        };
        victim.store(fingerprint, Ordering::Relaxed);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::Doorkeeper;

    #[test]
    fn a_token_is_admitted_on_its_second_verification_only() {
        let doorkeeper = Doorkeeper::new();
        assert!(!doorkeeper.second_sighting("a.b.c"));
        assert!(doorkeeper.second_sighting("a.b.c"));
        // Admitted once: the slot is free again.
        assert!(!doorkeeper.second_sighting("a.b.c"));
    }

    #[test]
    fn a_flood_of_one_off_tokens_admits_none_of_them() {
        let doorkeeper = Doorkeeper::new();
        let admitted = (0..100_000)
            .filter(|number| doorkeeper.second_sighting(&format!("token-{number}")))
            .count();
        assert_eq!(admitted, 0);
    }

    #[test]
    fn tokens_in_use_are_all_admitted_within_a_few_uses() {
        let doorkeeper = Doorkeeper::new();
        let mut waiting: Vec<String> = (0..200)
            .map(|number| format!("platform-{number}"))
            .collect();
        for token in &waiting {
            assert!(!doorkeeper.second_sighting(token));
        }
        // Each use of a token not yet admitted either admits it or leaves its fingerprint again;
        // collisions between 200 tokens in 8,192 slots only delay a few of them.
        let mut uses = 1;
        while !waiting.is_empty() && uses < 20 {
            waiting.retain(|token| !doorkeeper.second_sighting(token));
            uses += 1;
        }
        assert!(waiting.is_empty(), "{} never admitted", waiting.len());
        assert!(uses <= 3, "took {uses} uses");
    }
}

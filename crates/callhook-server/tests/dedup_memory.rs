//! The de-duplication store's memory, measured with a counting global allocator: at most 64 bytes
//! per remembered id, whether the ids are 40 bytes or 8 KiB long.
//!
//! This file holds a single test, so that no other test allocates while it measures.

use std::time::Duration;

use callhook_server::dedup::{DedupStore, Once};

#[global_allocator]
static ALLOCATOR: cap::Cap<std::alloc::System> = cap::Cap::new(std::alloc::System, usize::MAX);

/// The bound the store promises for each remembered id, whatever the id's length.
const MAX_BYTES_PER_ID: usize = 64;

/// Remembers `count` distinct ids of `id_len` bytes in `store`, which is new, and returns the heap
/// bytes it grew by per id and in all, with the store's own estimate of its size.
async fn bytes_per_id(store: DedupStore, count: usize, id_len: usize) -> (f64, usize, usize) {
    let before = ALLOCATOR.allocated();
    let mut id = String::with_capacity(id_len);
    for number in 0..count {
        // Each id is built anew and dropped before the measurement, so only the store's own
        // allocations remain.
        id.clear();
        id.push_str(&format!("{number:020}"));
        while id.len() < id_len {
            id.push('x');
        }
        let outcome = store
            .deliver_once(&id, || async { Ok::<(), ()>(()) }, |()| async { Ok(()) })
            .await;
        assert_eq!(outcome, Ok(Once::Delivered));
    }
    drop(id);
    // The index of a large store is mapped memory, which the allocator does not see.
    let grown = ALLOCATOR.allocated().saturating_sub(before) + store.mapped_bytes();
    assert_eq!(store.remembered(), count);
    assert_eq!(store.in_flight(), 0);
    let approximate = store.approximate_bytes();
    drop(store);
    let per_id = grown as f64 / count as f64;
    (per_id, grown, approximate)
}

#[tokio::test]
async fn a_remembered_id_costs_at_most_64_bytes_whatever_its_length() {
    for (count, id_len) in [(1_000_000, 40), (3_000, 8_192), (100, 40)] {
        let store = DedupStore::new(count, Duration::from_secs(3600)).unwrap();
        let (per_id, grown, approximate) = bytes_per_id(store, count, id_len).await;
        println!(
            "{count} ids of {id_len} B: {grown} B allocated, {per_id:.1} B per id \
             (approximate_bytes: {approximate} B)"
        );
        assert!(
            per_id <= MAX_BYTES_PER_ID as f64,
            "{count} ids of {id_len} B cost {per_id:.1} B each"
        );
        // The gauge is an estimate from the tables' capacities: it must be in the right range.
        assert!(
            approximate >= grown / 2 && approximate <= grown * 2,
            "approximate_bytes {approximate} for {grown} allocated"
        );
    }
}

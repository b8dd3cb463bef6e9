//! A compact, bounded store of delivered message ids, so that a notification the platform re-sends is
//! delivered to the bot once.
//!
//! # Design
//!
//! The store never keeps an id itself. Each `X-Microsoft-Skype-Message-ID` is reduced to a 128-bit
//! [digest](DedupStore#the-digest): an id of 40 bytes and an id of 8 KiB cost the same. Delivered
//! digests live in time buckets, each a hash set of digests that hashes with the digest's own bits
//! (they are already uniformly random, so hashing them again would only cost time). A bucket takes
//! the deliveries of at most one bucket width (a tenth of the window) and at most a tenth of the
//! capacity; it then closes, and a new bucket opens with the next delivery. A bucket expires whole.
//!
//! # The window
//!
//! A bucket opened at `t` takes digests delivered in `[t, t + width)` and expires at
//! `t + width + window`. So a delivered id is remembered for at least `window` and at most
//! `window + width`, with `width` a tenth of the window (and at least a millisecond). Time is
//! [`tokio::time::Instant`], so that tests control it with `tokio::time::pause`.
//!
//! # The capacity
//!
//! The store remembers at most `capacity` ids at any time. When a delivery would make it remember
//! more, the oldest buckets are dropped whole, before their window ends, until it remembers at most
//! `capacity` again; [`DedupStore::forgotten_early`] counts the ids dropped so. Because a bucket holds
//! at most `ceil(capacity / 10)` ids, such a drop forgets at most a tenth of the capacity at once: right
//! after it the store remembers more than `capacity - ceil(capacity / 10)` ids.
//!
//! # Memory
//!
//! A remembered digest costs one 16-byte slot and one control byte of a hash table whose load stays
//! between 7/16 and 7/8 (the table doubles when it is 7/8 full), so at most 17 × 16 / 7 ≈ 39 bytes,
//! whatever the length of the id. Tables of fewer than four ids cost up to 84 bytes each, so the
//! store's whole cost is at most about 39 bytes per remembered id plus a fixed part: 84 bytes for each
//! live bucket (at most 22: eleven closed by time, ten full ones and the current one) and the bucket
//! queue, under 4 KiB in all. The integration
//! test `tests/dedup_memory.rs` measures it with a counting allocator. The claims of deliveries in
//! flight cost about half a kilobyte each (a `watch` channel for the waiters), and there are never more
//! of them than `admit` lets through.
//!
//! # Deliveries in flight
//!
//! A request that is about to deliver first passes `admit` (the sink's in-flight permit), then claims
//! the digest. Concurrent requests with the same id find the claim and wait for it to end, without
//! being admitted: when the delivery succeeded they answer [`Once::Duplicate`], when it failed or was
//! cancelled they try to claim again, so exactly one of them delivers next. The claim is held by a drop
//! guard, so a request that is cancelled mid-delivery releases its claim and wakes its waiters. No lock
//! is held across an await.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::mem;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// What [`DedupStore::deliver_once`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    /// This request delivered the notification.
    Delivered,
    /// The notification was delivered already, within the window or by a concurrent request.
    Duplicate,
}

/// Why a [`DedupStore`] could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DedupError {
    /// The capacity was zero: the store could remember nothing.
    #[error("the de-duplication capacity must be at least one id")]
    ZeroCapacity,
    /// The window was zero: the store would forget every id at once.
    #[error("the de-duplication window must be longer than zero")]
    ZeroWindow,
}

/// The message ids delivered recently, and the deliveries in flight.
///
/// # The digest
///
/// An id is reduced to 128 bits: two 64-bit outputs of the standard library's keyed hash (`SipHash`,
/// with a random key drawn when the store is built; [`RandomState`]), one over the id behind a `0`
/// byte, one behind a `1`. It is the hash the standard library relies on against chosen
/// collisions in hash tables, and it is the same defence here: nobody outside the process knows
/// the key, and no answer shows a digest (a duplicate and a delivery are both `202`), so nobody can
/// choose ids whose digests collide. (An HMAC-SHA-256 cost about 5,000 instructions a request,
/// most of the store's cost; this costs a few hundred.) Two of `n` distinct ids collide with a
/// probability of about `n² / 2¹²⁹`: about 1.5 × 10⁻²⁷ at 1,000,000 ids. A collision would make a new
/// notification look like a duplicate and go undelivered.
pub struct DedupStore {
    key: RandomState,
    capacity: usize,
    bucket_width: Duration,
    /// How long a bucket lives from its opening: the window and one bucket width.
    retention: Duration,
    /// The most ids one bucket takes, so that the capacity drops at most this many at once.
    bucket_limit: usize,
    state: Mutex<State>,
}

impl DedupStore {
    /// Builds a store that remembers each delivered id for at least `window` and at most one bucket
    /// width more (a tenth of the window, and at least a millisecond), and at most `capacity` ids at
    /// once.
    ///
    /// # Errors
    ///
    /// [`DedupError::ZeroCapacity`] or [`DedupError::ZeroWindow`] for a store that would remember
    /// nothing.
    pub fn new(capacity: usize, window: Duration) -> Result<Self, DedupError> {
        if capacity == 0 {
            return Err(DedupError::ZeroCapacity);
        }
        if window.is_zero() {
            return Err(DedupError::ZeroWindow);
        }
        let key = RandomState::new();
        let bucket_width = (window / u32::from(BUCKETS_PER_WINDOW)).max(MIN_BUCKET_WIDTH);
        Ok(Self {
            key,
            capacity,
            bucket_width,
            retention: window.saturating_add(bucket_width),
            bucket_limit: capacity.div_ceil(usize::from(BUCKETS_PER_WINDOW)),
            state: Mutex::new(State {
                // Time alone keeps at most eleven buckets alive; two more spare a reallocation.
                buckets: VecDeque::with_capacity(usize::from(BUCKETS_PER_WINDOW) + 3),
                forgotten_early: 0,
                in_flight: HashMap::default(),
            }),
        })
    }

    /// Delivers the notification with message id `id` unless it was delivered already.
    ///
    /// `admit` is awaited only when this request is about to deliver (it acquires the sink's
    /// in-flight permit, and may fail, for example with "shed"); `deliver` gets what `admit`
    /// returned. A request that finds a delivery of the same id in flight waits for it without
    /// being admitted: it answers [`Once::Duplicate`] when that delivery succeeds, and tries again
    /// when it fails, so `admit` may be called more than once.
    ///
    /// # Errors
    ///
    /// The error of `admit` or of `deliver`. A failed delivery is not remembered, so that the
    /// platform's retry delivers.
    pub async fn deliver_once<P, E, A, AF, D, DF>(
        &self,
        id: &str,
        mut admit: A,
        deliver: D,
    ) -> Result<Once, E>
    where
        A: FnMut() -> AF,
        AF: Future<Output = Result<P, E>>,
        D: FnOnce(P) -> DF,
        DF: Future<Output = Result<(), E>>,
    {
        let digest = self.digest(id);
        loop {
            match self.look_up(digest) {
                Found::Delivered => return Ok(Once::Duplicate),
                Found::InFlight(delivery) => {
                    wait_for_end(delivery).await;
                    continue;
                }
                Found::Unknown => {}
            }
            let permit = admit().await?;
            // A concurrent request may have claimed the id while this one was being admitted, so
            // the claim checks again.
            match self.claim(digest) {
                Claimed::Delivered => return Ok(Once::Duplicate),
                Claimed::InFlight(delivery) => {
                    // The permit is not needed while waiting, and holding it would keep another
                    // notification from being delivered.
                    drop(permit);
                    wait_for_end(delivery).await;
                }
                Claimed::Mine(claim) => {
                    // On an error, or when this future is dropped, the claim's guard releases it.
                    deliver(permit).await?;
                    claim.delivered();
                    return Ok(Once::Delivered);
                }
            }
        }
    }

    /// How many delivered ids the store remembers now.
    pub fn remembered(&self) -> usize {
        let mut state = self.lock();
        state.expire(Instant::now(), self.retention);
        state.remembered()
    }

    /// How many deliveries are claimed now, that is, in flight.
    pub fn in_flight(&self) -> usize {
        self.lock().in_flight.len()
    }

    /// How many ids the capacity made the store forget before their window ended, since it was built.
    pub fn forgotten_early(&self) -> u64 {
        self.lock().forgotten_early
    }

    /// About how many heap bytes the store uses now, for a gauge.
    ///
    /// It counts the hash tables from their capacities, the bucket queue, and an estimate of each
    /// in-flight delivery's channel; the allocator's own overhead is not counted.
    pub fn approximate_bytes(&self) -> usize {
        let state = self.lock();
        let buckets: usize = state
            .buckets
            .iter()
            .map(|bucket| table_bytes(bucket.digests.capacity(), mem::size_of::<Digest>()))
            .sum();
        let queue = state.buckets.capacity() * mem::size_of::<Bucket>();
        let in_flight = table_bytes(
            state.in_flight.capacity(),
            mem::size_of::<(Digest, watch::Receiver<()>)>(),
        ) + state.in_flight.len() * IN_FLIGHT_CHANNEL_BYTES;
        buckets + queue + in_flight
    }

    fn digest(&self, id: &str) -> Digest {
        let half = |domain: u8| {
            let mut hasher = self.key.build_hasher();
            hasher.write_u8(domain);
            hasher.write(id.as_bytes());
            hasher.finish()
        };
        Digest((u128::from(half(0)) << 64) | u128::from(half(1)))
    }

    fn look_up(&self, digest: Digest) -> Found {
        let mut state = self.lock();
        state.expire(Instant::now(), self.retention);
        if state.is_remembered(digest) {
            Found::Delivered
        } else if let Some(delivery) = state.in_flight.get(&digest) {
            Found::InFlight(delivery.clone())
        } else {
            Found::Unknown
        }
    }

    fn claim(&self, digest: Digest) -> Claimed<'_> {
        let mut state = self.lock();
        state.expire(Instant::now(), self.retention);
        if state.is_remembered(digest) {
            return Claimed::Delivered;
        }
        if let Some(delivery) = state.in_flight.get(&digest) {
            return Claimed::InFlight(delivery.clone());
        }
        let (ended, delivery) = watch::channel(());
        state.in_flight.insert(digest, delivery);
        Claimed::Mine(Claim {
            store: self,
            digest,
            settled: false,
            _ended: ended,
        })
    }

    /// Remembers a delivered digest in the current bucket and ends its claim, in one step so that
    /// a woken waiter finds it remembered.
    fn remember(&self, digest: Digest) {
        let now = Instant::now();
        let mut state = self.lock();
        state.in_flight.remove(&digest);
        state.expire(now, self.retention);
        let current_is_open = state.buckets.back().is_some_and(|bucket| {
            now.saturating_duration_since(bucket.opened) < self.bucket_width
                && bucket.digests.len() < self.bucket_limit
        });
        if !current_is_open {
            state.buckets.push_back(Bucket {
                opened: now,
                digests: HashSet::default(),
            });
        }
        if let Some(current) = state.buckets.back_mut() {
            current.digests.insert(digest);
        }
        // The newest bucket holds at most `bucket_limit <= capacity` ids, so this loop stops before
        // it drops the digest just remembered.
        while state.remembered() > self.capacity {
            let Some(oldest) = state.buckets.pop_front() else {
                break;
            };
            state.forgotten_early = state
                .forgotten_early
                .saturating_add(u64::try_from(oldest.digests.len()).unwrap_or(u64::MAX));
        }
    }

    fn release(&self, digest: Digest) {
        self.lock().in_flight.remove(&digest);
    }

    /// Locks the state. A panic while it was locked leaves it consistent (every change is one
    /// collection operation, and the counts are computed from the collections), so a poisoned lock
    /// is taken over rather than propagated.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for DedupStore {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key is left out: it is what keeps the digests unpredictable.
        formatter
            .debug_struct("DedupStore")
            .field("capacity", &self.capacity)
            .field("retention", &self.retention)
            .field("bucket_width", &self.bucket_width)
            .field("remembered", &self.remembered())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// How many buckets a window spans.
const BUCKETS_PER_WINDOW: u16 = 10;

/// The narrowest bucket, so that a tiny window does not open one bucket per delivery.
const MIN_BUCKET_WIDTH: Duration = Duration::from_millis(1);

/// An estimate of the heap bytes of one in-flight delivery's `watch` channel (its shared state holds
/// nine `Notify`s).
const IN_FLIGHT_CHANNEL_BYTES: usize = 512;

/// The width of a hash table's control group: 16 bytes with SSE2, 8 elsewhere; the larger is counted.
const TABLE_GROUP_WIDTH: usize = 16;

struct State {
    /// Oldest first; the last one is the current bucket while it is young and not full.
    buckets: VecDeque<Bucket>,
    forgotten_early: u64,
    /// The claim of each delivery in flight: its waiters wait for the channel to close.
    in_flight: HashMap<Digest, watch::Receiver<()>, BuildDigestHasher>,
}

impl State {
    fn expire(&mut self, now: Instant, retention: Duration) {
        while self
            .buckets
            .front()
            .is_some_and(|oldest| now.saturating_duration_since(oldest.opened) >= retention)
        {
            self.buckets.pop_front();
        }
    }

    fn is_remembered(&self, digest: Digest) -> bool {
        self.buckets
            .iter()
            .any(|bucket| bucket.digests.contains(&digest))
    }

    fn remembered(&self) -> usize {
        self.buckets.iter().map(|bucket| bucket.digests.len()).sum()
    }
}

struct Bucket {
    opened: Instant,
    digests: HashSet<Digest, BuildDigestHasher>,
}

/// The keyed 128-bit digest of a message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digest(u128);

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the low 64 bits of a uniformly random digest are uniformly random"
        )]
        state.write_u64(self.0 as u64);
    }
}

/// A hasher that passes a [`Digest`]'s bits through, since they are uniformly random already.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `Digest`; this mixes anything else in rather than ignoring it.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

type BuildDigestHasher = BuildHasherDefault<DigestHasher>;

/// What a look-up before admission found.
enum Found {
    Delivered,
    InFlight(watch::Receiver<()>),
    Unknown,
}

/// What a claim after admission found.
enum Claimed<'store> {
    Delivered,
    InFlight(watch::Receiver<()>),
    Mine(Claim<'store>),
}

/// The claim of one delivery in flight. Dropping it without [`Claim::delivered`] (a failed delivery,
/// or a cancelled request) releases the claim; either way its waiters wake when `_ended` is dropped,
/// after the claim has left the in-flight map.
struct Claim<'store> {
    store: &'store DedupStore,
    digest: Digest,
    settled: bool,
    _ended: watch::Sender<()>,
}

impl Claim<'_> {
    fn delivered(mut self) {
        self.store.remember(self.digest);
        self.settled = true;
    }
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.store.release(self.digest);
        }
    }
}

/// Waits until the delivery that `delivery` watches has ended: its sender is dropped then, and
/// nothing is ever sent on it.
async fn wait_for_end(mut delivery: watch::Receiver<()>) {
    while delivery.changed().await.is_ok() {}
}

/// The heap bytes of a hash table of `capacity` slots of `slot` bytes: its power-of-two count of
/// slots, holding at most 7/8 of them (all but one below eight), plus one control byte each and a
/// trailing group.
fn table_bytes(capacity: usize, slot: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let slots = if capacity < 8 {
        capacity + 1
    } else {
        capacity.saturating_mul(8) / 7
    };
    let slots = slots.checked_next_power_of_two().unwrap_or(usize::MAX);
    slots
        .saturating_mul(slot + 1)
        .saturating_add(TABLE_GROUP_WIDTH)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::sync::Semaphore;

    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);
    const WIDTH: Duration = Duration::from_secs(6);

    #[derive(Debug, PartialEq)]
    enum TestError {
        Shed,
        Failed,
    }

    fn store(capacity: usize) -> DedupStore {
        DedupStore::new(capacity, WINDOW).unwrap()
    }

    async fn deliver_ok(store: &DedupStore, id: &str) -> Result<Once, TestError> {
        store
            .deliver_once(id, || async { Ok(()) }, |()| async { Ok(()) })
            .await
    }

    async fn deliver_err(store: &DedupStore, id: &str) -> Result<Once, TestError> {
        store
            .deliver_once(
                id,
                || async { Ok(()) },
                |()| async { Err(TestError::Failed) },
            )
            .await
    }

    /// Lets every other task run until it blocks: with paused time the clock only jumps to this
    /// sleep's end once the runtime has nothing else to do.
    async fn until_idle() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn delivers_once_then_reports_duplicates() {
        let store = store(100);
        assert_eq!(deliver_ok(&store, "a").await, Ok(Once::Delivered));
        let admitted = AtomicUsize::new(0);
        let delivered = AtomicUsize::new(0);
        let again = store
            .deliver_once(
                "a",
                || async {
                    admitted.fetch_add(1, Ordering::SeqCst);
                    Ok::<(), TestError>(())
                },
                |()| async {
                    delivered.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                },
            )
            .await;
        assert_eq!(again, Ok(Once::Duplicate));
        assert_eq!(admitted.load(Ordering::SeqCst), 0);
        assert_eq!(delivered.load(Ordering::SeqCst), 0);
        assert_eq!(deliver_ok(&store, "b").await, Ok(Once::Delivered));
        assert_eq!(store.remembered(), 2);
        assert_eq!(store.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_delivery_is_forgotten_so_the_retry_delivers() {
        let store = store(100);
        assert_eq!(deliver_err(&store, "a").await, Err(TestError::Failed));
        assert_eq!(store.remembered(), 0);
        assert_eq!(store.in_flight(), 0);
        assert_eq!(deliver_ok(&store, "a").await, Ok(Once::Delivered));
        assert_eq!(deliver_ok(&store, "a").await, Ok(Once::Duplicate));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refused_admission_claims_and_remembers_nothing() {
        let store = store(100);
        let delivered = AtomicUsize::new(0);
        let refused = store
            .deliver_once(
                "a",
                || async { Err::<(), _>(TestError::Shed) },
                |()| async {
                    delivered.fetch_add(1, Ordering::SeqCst);
                    Ok(())
                },
            )
            .await;
        assert_eq!(refused, Err(TestError::Shed));
        assert_eq!(delivered.load(Ordering::SeqCst), 0);
        assert_eq!(store.in_flight(), 0);
        assert_eq!(store.remembered(), 0);
        assert_eq!(deliver_ok(&store, "a").await, Ok(Once::Delivered));
    }

    /// Starts `count` requests with the same id on `store`; the first delivery waits for `gate` and
    /// then fails when `fail_first`, every later one succeeds at once.
    fn start_same_id(
        store: &Arc<DedupStore>,
        count: usize,
        gate: &Arc<Semaphore>,
        fail_first: bool,
        admitted: &Arc<AtomicUsize>,
        delivered: &Arc<AtomicUsize>,
    ) -> Vec<tokio::task::JoinHandle<Result<Once, TestError>>> {
        (0..count)
            .map(|_| {
                let (store, gate) = (Arc::clone(store), Arc::clone(gate));
                let (admitted, delivered) = (Arc::clone(admitted), Arc::clone(delivered));
                tokio::spawn(async move {
                    store
                        .deliver_once(
                            "same",
                            || {
                                admitted.fetch_add(1, Ordering::SeqCst);
                                async { Ok(()) }
                            },
                            |()| async move {
                                if delivered.fetch_add(1, Ordering::SeqCst) == 0 {
                                    let _open = gate.acquire().await;
                                    if fail_first {
                                        return Err(TestError::Failed);
                                    }
                                }
                                Ok(())
                            },
                        )
                        .await
                })
            })
            .collect()
    }

    async fn outcomes(
        requests: Vec<tokio::task::JoinHandle<Result<Once, TestError>>>,
    ) -> (usize, usize, usize) {
        let (mut delivered, mut duplicate, mut failed) = (0, 0, 0);
        for request in requests {
            match request.await.unwrap() {
                Ok(Once::Delivered) => delivered += 1,
                Ok(Once::Duplicate) => duplicate += 1,
                Err(_) => failed += 1,
            }
        }
        (delivered, duplicate, failed)
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_requests_with_one_id_share_one_delivery() {
        let store = Arc::new(store(100));
        let gate = Arc::new(Semaphore::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let delivered = Arc::new(AtomicUsize::new(0));
        let requests = start_same_id(&store, 20, &gate, false, &admitted, &delivered);
        until_idle().await;
        assert_eq!(delivered.load(Ordering::SeqCst), 1);
        assert_eq!(store.in_flight(), 1);
        assert!(requests.iter().all(|request| !request.is_finished()));
        gate.add_permits(1);
        assert_eq!(outcomes(requests).await, (1, 19, 0));
        assert_eq!(delivered.load(Ordering::SeqCst), 1);
        // The waiters found the claim before being admitted, so only the deliverer was.
        assert_eq!(admitted.load(Ordering::SeqCst), 1);
        assert_eq!(store.in_flight(), 0);
        assert_eq!(store.remembered(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn when_the_first_delivery_fails_exactly_one_waiter_delivers() {
        let store = Arc::new(store(100));
        let gate = Arc::new(Semaphore::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let delivered = Arc::new(AtomicUsize::new(0));
        let requests = start_same_id(&store, 20, &gate, true, &admitted, &delivered);
        until_idle().await;
        assert_eq!(delivered.load(Ordering::SeqCst), 1);
        gate.add_permits(1);
        assert_eq!(outcomes(requests).await, (1, 18, 1));
        assert_eq!(delivered.load(Ordering::SeqCst), 2);
        assert_eq!(store.in_flight(), 0);
        assert_eq!(store.remembered(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_admitted_after_a_concurrent_claim_waits_without_delivering() {
        let store = Arc::new(store(100));
        let permits = Arc::new(Semaphore::new(2));
        let slow_admission = Arc::new(Semaphore::new(0));
        let deliver_gate = Arc::new(Semaphore::new(0));
        let delivered = Arc::new(AtomicUsize::new(0));

        // The first request is held in `admit` until the second has claimed the id.
        let slow = {
            let (store, permits) = (Arc::clone(&store), Arc::clone(&permits));
            let (slow_admission, delivered) = (Arc::clone(&slow_admission), Arc::clone(&delivered));
            tokio::spawn(async move {
                store
                    .deliver_once(
                        "same",
                        || {
                            let (permits, slow_admission) =
                                (Arc::clone(&permits), Arc::clone(&slow_admission));
                            async move {
                                let _wait = slow_admission.acquire().await;
                                permits.acquire_owned().await.map_err(|_| TestError::Shed)
                            }
                        },
                        |permit| async move {
                            let _permit = permit;
                            delivered.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        },
                    )
                    .await
            })
        };
        until_idle().await;
        let fast = {
            let (store, permits) = (Arc::clone(&store), Arc::clone(&permits));
            let (deliver_gate, delivered) = (Arc::clone(&deliver_gate), Arc::clone(&delivered));
            tokio::spawn(async move {
                store
                    .deliver_once(
                        "same",
                        || {
                            let permits = Arc::clone(&permits);
                            async move { permits.acquire_owned().await.map_err(|_| TestError::Shed) }
                        },
                        |permit| async move {
                            let _permit = permit;
                            delivered.fetch_add(1, Ordering::SeqCst);
                            let _open = deliver_gate.acquire().await;
                            Ok(())
                        },
                    )
                    .await
            })
        };
        until_idle().await;
        assert_eq!(store.in_flight(), 1);
        assert_eq!(permits.available_permits(), 1);

        // Admitted now, the first request finds the claim, gives its permit back and waits.
        slow_admission.add_permits(1);
        until_idle().await;
        assert_eq!(permits.available_permits(), 1);
        assert!(!slow.is_finished());

        deliver_gate.add_permits(1);
        assert_eq!(fast.await.unwrap(), Ok(Once::Delivered));
        assert_eq!(slow.await.unwrap(), Ok(Once::Duplicate));
        assert_eq!(delivered.load(Ordering::SeqCst), 1);
        assert_eq!(permits.available_permits(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_delivery_releases_its_claim_and_wakes_its_waiters() {
        let store = Arc::new(store(100));
        let stuck = {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                store
                    .deliver_once(
                        "a",
                        || async { Ok(()) },
                        |()| std::future::pending::<Result<(), TestError>>(),
                    )
                    .await
            })
        };
        until_idle().await;
        assert_eq!(store.in_flight(), 1);
        let waiter = {
            let store = Arc::clone(&store);
            tokio::spawn(async move { deliver_ok(&store, "a").await })
        };
        until_idle().await;
        assert!(!waiter.is_finished());

        stuck.abort();
        assert!(stuck.await.unwrap_err().is_cancelled());
        assert_eq!(waiter.await.unwrap(), Ok(Once::Delivered));
        assert_eq!(store.in_flight(), 0);
        assert_eq!(store.remembered(), 1);

        // A future dropped in place (here by a timeout) releases its claim too.
        let timed_out = tokio::time::timeout(
            Duration::from_secs(1),
            store.deliver_once(
                "b",
                || async { Ok(()) },
                |()| std::future::pending::<Result<(), TestError>>(),
            ),
        )
        .await;
        assert!(timed_out.is_err());
        assert_eq!(store.in_flight(), 0);
        assert_eq!(deliver_ok(&store, "b").await, Ok(Once::Delivered));
    }

    #[tokio::test(start_paused = true)]
    async fn an_id_is_remembered_for_the_window_and_forgotten_after_one_more_bucket() {
        let first = store(100);
        assert_eq!(first.bucket_width, WIDTH);
        assert_eq!(deliver_ok(&first, "a").await, Ok(Once::Delivered));
        tokio::time::advance(WINDOW - Duration::from_secs(1)).await;
        assert_eq!(deliver_ok(&first, "a").await, Ok(Once::Duplicate));

        // Delivered at the very end of its bucket, `late` is still remembered a whole window later,
        // when the bucket is one width older than the window.
        let second = store(100);
        assert_eq!(deliver_ok(&second, "early").await, Ok(Once::Delivered));
        tokio::time::advance(WIDTH - Duration::from_millis(1)).await;
        assert_eq!(deliver_ok(&second, "late").await, Ok(Once::Delivered));
        assert_eq!(second.lock().buckets.len(), 1);
        tokio::time::advance(WINDOW).await;
        assert_eq!(deliver_ok(&second, "late").await, Ok(Once::Duplicate));
        assert_eq!(deliver_ok(&second, "early").await, Ok(Once::Duplicate));

        // At window + width after the bucket opened, both are forgotten.
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(second.remembered(), 0);
        assert_eq!(deliver_ok(&second, "early").await, Ok(Once::Delivered));
        assert_eq!(deliver_ok(&second, "late").await, Ok(Once::Delivered));
        assert_eq!(second.forgotten_early(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_capacity_drops_the_oldest_bucket_and_counts_what_it_forgot() {
        const CAPACITY: usize = 100;
        let store = store(CAPACITY);
        for number in 0..3 * CAPACITY {
            let id = format!("id-{number}");
            assert_eq!(deliver_ok(&store, &id).await, Ok(Once::Delivered));
            assert!(store.remembered() <= CAPACITY);
        }
        let remembered = store.remembered();
        // A drop forgets one bucket of at most a tenth of the capacity.
        assert!(remembered > CAPACITY - CAPACITY / 10, "{remembered}");
        assert_eq!(
            store.forgotten_early(),
            u64::try_from(3 * CAPACITY - remembered).unwrap()
        );
        let newest = format!("id-{}", 3 * CAPACITY - 1);
        assert_eq!(deliver_ok(&store, &newest).await, Ok(Once::Duplicate));
        assert_eq!(deliver_ok(&store, "id-0").await, Ok(Once::Delivered));
    }

    #[tokio::test(start_paused = true)]
    async fn a_capacity_of_one_remembers_the_newest_id() {
        let store = store(1);
        assert_eq!(deliver_ok(&store, "a").await, Ok(Once::Delivered));
        assert_eq!(deliver_ok(&store, "b").await, Ok(Once::Delivered));
        assert_eq!(store.remembered(), 1);
        assert_eq!(store.forgotten_early(), 1);
        assert_eq!(deliver_ok(&store, "b").await, Ok(Once::Duplicate));
    }

    #[test]
    fn construction_rejects_a_store_that_would_remember_nothing() {
        assert!(matches!(
            DedupStore::new(0, WINDOW),
            Err(DedupError::ZeroCapacity)
        ));
        assert!(matches!(
            DedupStore::new(1, Duration::ZERO),
            Err(DedupError::ZeroWindow)
        ));
    }

    #[test]
    fn digests_are_keyed_per_store() {
        let (first, second) = (store(1), store(1));
        assert_eq!(first.digest("a"), first.digest("a"));
        assert_ne!(first.digest("a"), first.digest("b"));
        assert_ne!(first.digest("a"), second.digest("a"));
    }

    #[test]
    fn table_bytes_follows_the_power_of_two_growth() {
        assert_eq!(table_bytes(0, 16), 0);
        assert_eq!(table_bytes(3, 16), 4 * 17 + 16);
        assert_eq!(table_bytes(7, 16), 8 * 17 + 16);
        assert_eq!(table_bytes(14, 16), 16 * 17 + 16);
        assert_eq!(table_bytes(917_504, 16), 1_048_576 * 17 + 16);
    }
}

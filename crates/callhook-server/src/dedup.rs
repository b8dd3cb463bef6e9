//! A compact, bounded store of delivered message ids, so that a notification the platform re-sends is
//! delivered to the bot once.
//!
//! # Design
//!
//! The store never keeps an id itself. Each `X-Microsoft-Skype-Message-ID` is reduced to a 128-bit
//! [digest](DedupStore#the-digest): an id of 40 bytes and an id of 8 KiB cost the same. Delivered
//! digests are kept in delivery order in a queue, and one hash index finds a digest in it: each of
//! the index's 8-byte slots holds a digest's number in the queue and 31 bits of its hash, which are
//! the digest's own bits (uniformly random already, so hashing them again would only cost time). A
//! look-up is one probe of one table, whatever the number of ids remembered; the platform sends a
//! new id with nearly every notification, so nearly every look-up is a miss, and a miss and the
//! insert after the delivery touch the same cache line (see the `index` module).
//!
//! # The window
//!
//! Time is kept in marks rather than per id: a mark opens with the first delivery at least one mark
//! width (a tenth of the window, and at least a millisecond) after the previous mark opened, and the
//! ids delivered from then until the next mark belong to it. A mark opened at `t` and its ids expire
//! together at `t + width + window`. So a delivered id is remembered for at least `window` and at
//! most `window + width`. Time is [`tokio::time::Instant`], so that tests control it with
//! `tokio::time::pause`.
//!
//! # The capacity
//!
//! The store remembers at most `capacity` ids at any time. A delivery that would make it remember
//! more makes it forget the oldest id first, before its window ends; [`DedupStore::forgotten_early`]
//! counts the ids forgotten so. A full store so forgets one id per new one, always the oldest.
//!
//! # Memory
//!
//! A remembered digest costs its 16 bytes in the queue and one 8-byte slot of the index. The queue
//! grows by doubling, and is shrunk to fit when a mark expires and it holds more than twice the room
//! its ids need: at most 32 bytes each. The index is sized at twice the live ids, rounded up to a
//! power of two (at most four times), so it costs 16 to 32 bytes each; it is resized when five
//! eighths of its slots are in use by more than half of them live, and when a mark expires with
//! fewer than a quarter live. A forgotten digest's slot stays in use, stale, where no look-up
//! matches it, until an insert takes it or a cleaning pass empties the stale slots in place. So a
//! remembered id costs at most 64 bytes, about 33 to 48 in practice, whatever the length of the id,
//! plus a fixed part under 1 KiB (the marks, at most twelve, and the empty tables). The index of a
//! large store is mapped memory, backed by huge pages where the kernel allows. The integration test
//! `tests/dedup_memory.rs` measures it with a counting allocator and the store's mapped bytes. A
//! delivery in flight costs one slot of a hash set of claims, and there are never more of them than
//! `admit` lets through.
//!
//! # Deliveries in flight
//!
//! A request that is about to deliver first passes `admit` (the sink's in-flight permit), then claims
//! the digest. Concurrent requests with the same id find the claim and wait for it to end, without
//! being admitted: when the delivery succeeded they answer [`Once::Duplicate`], when it failed or was
//! cancelled they try to claim again, so exactly one of them delivers next. The claim is held by a drop
//! guard, so a request that is cancelled mid-delivery releases its claim and wakes its waiters. A
//! waiter waits on one of [`WAKE_SHARDS`] notifiers, chosen by its digest, and an ending claim wakes
//! the waiters of its shard, who look again: a claim costs no allocation of its own, and a waiter is
//! woken only by the ends of deliveries that share its shard. No lock is held across an await.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};
use std::mem;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use self::index::Index;

mod index;

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
    /// The capacity was more ids than the store's 4-byte places can number.
    #[error("the de-duplication capacity must be at most {max} ids, not {capacity}")]
    CapacityTooLarge {
        /// The capacity asked for.
        capacity: usize,
        /// The largest capacity.
        max: usize,
    },
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
/// choose ids whose digests collide. Two of `n` distinct ids collide with a probability of about
/// `n² / 2¹²⁹`: about 1.5 × 10⁻²⁷ at 1,000,000 ids. A collision would make a new notification look
/// like a duplicate and go undelivered.
pub struct DedupStore {
    key: RandomState,
    capacity: usize,
    mark_width: Duration,
    /// How long a mark and its ids live from the mark's opening: the window and one mark width.
    retention: Duration,
    state: Mutex<State>,
    /// What waiters for a delivery in flight wait on, by their digest's shard.
    ended: [Notify; WAKE_SHARDS],
}

impl DedupStore {
    /// The largest capacity: the index keeps at most half of its 2^31 slots live.
    pub const MAX_CAPACITY: usize = 1 << 30;

    /// Builds a store that remembers each delivered id for at least `window` and at most one mark
    /// width more (a tenth of the window, and at least a millisecond), and at most `capacity` ids at
    /// once.
    ///
    /// # Errors
    ///
    /// [`DedupError::ZeroCapacity`] or [`DedupError::ZeroWindow`] for a store that would remember
    /// nothing, [`DedupError::CapacityTooLarge`] beyond [`DedupStore::MAX_CAPACITY`].
    pub fn new(capacity: usize, window: Duration) -> Result<Self, DedupError> {
        if capacity == 0 {
            return Err(DedupError::ZeroCapacity);
        }
        if capacity > Self::MAX_CAPACITY {
            return Err(DedupError::CapacityTooLarge {
                capacity,
                max: Self::MAX_CAPACITY,
            });
        }
        if window.is_zero() {
            return Err(DedupError::ZeroWindow);
        }
        let key = RandomState::new();
        let mark_width = (window / u32::from(MARKS_PER_WINDOW)).max(MIN_MARK_WIDTH);
        Ok(Self {
            key,
            capacity,
            mark_width,
            retention: window.saturating_add(mark_width),
            state: Mutex::new(State {
                delivered: VecDeque::new(),
                first: 0,
                index: Index::default(),
                // Time alone keeps at most eleven marks alive; one more spares a reallocation.
                marks: VecDeque::with_capacity(usize::from(MARKS_PER_WINDOW) + 2),
                forgotten_early: 0,
                in_flight: HashSet::default(),
            }),
            ended: std::array::from_fn(|_| Notify::new()),
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
                Found::InFlight => {
                    self.wait_for_end(digest).await;
                    continue;
                }
                Found::Unknown => {}
            }
            let permit = admit().await?;
            // A concurrent request may have claimed the id while this one was being admitted, so
            // the claim checks again.
            match self.claim(digest) {
                Claimed::Delivered => return Ok(Once::Duplicate),
                Claimed::InFlight => {
                    // The permit is not needed while waiting, and holding it would keep another
                    // notification from being delivered.
                    drop(permit);
                    self.wait_for_end(digest).await;
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
        state.delivered.len()
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
    /// It counts the queue and the tables from their capacities; the allocator's own overhead is
    /// not counted.
    pub fn approximate_bytes(&self) -> usize {
        let state = self.lock();
        let (allocated, mapped) = state.index.bytes();
        state.delivered.capacity() * mem::size_of::<Digest>()
            + allocated
            + mapped
            + state.marks.capacity() * mem::size_of::<Mark>()
            + table_bytes(state.in_flight.capacity(), mem::size_of::<Digest>())
    }

    /// The bytes of the store held outside the allocator: the index of a large store is mapped
    /// memory of its own (see [`approximate_bytes`](Self::approximate_bytes), which counts them).
    pub fn mapped_bytes(&self) -> usize {
        self.lock().index.bytes().1
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
        } else if state.in_flight.contains(&digest) {
            Found::InFlight
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
        if !state.in_flight.insert(digest) {
            return Claimed::InFlight;
        }
        Claimed::Mine(Claim {
            store: self,
            digest,
            settled: false,
        })
    }

    /// Waits until the delivery of `digest` that was in flight has ended (or returns at once when
    /// it has already).
    async fn wait_for_end(&self, digest: Digest) {
        let ended = self.ended(digest);
        loop {
            let notified = ended.notified();
            tokio::pin!(notified);
            // Registered before the look, so that an end between the look and the await still
            // wakes this waiter.
            notified.as_mut().enable();
            if !self.lock().in_flight.contains(&digest) {
                return;
            }
            notified.await;
        }
    }

    /// Remembers a delivered digest and ends its claim, in one step so that a woken waiter finds
    /// it remembered.
    fn remember(&self, digest: Digest) {
        let now = Instant::now();
        {
            let mut state = self.lock();
            state.in_flight.remove(&digest);
            state.expire(now, self.retention);
            state.insert(digest, now, self.mark_width);
            if state.delivered.len() > self.capacity && state.forget_oldest() {
                state.forgotten_early = state.forgotten_early.saturating_add(1);
            }
        }
        self.ended(digest).notify_waiters();
    }

    fn release(&self, digest: Digest) {
        self.lock().in_flight.remove(&digest);
        self.ended(digest).notify_waiters();
    }

    /// The notifier of the waiters for `digest`'s delivery.
    fn ended(&self, digest: Digest) -> &Notify {
        // The shard is always below `WAKE_SHARDS`: the first notifier is a fallback never taken.
        let [first, ..] = &self.ended;
        self.ended.get(digest.shard()).unwrap_or(first)
    }

    /// Locks the state. A panic while it was locked leaves it consistent (the queue and the index
    /// change together in `insert` and `forget_oldest`, which do not panic between the two), so a
    /// poisoned lock is taken over rather than propagated.
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
            .field("mark_width", &self.mark_width)
            .field("remembered", &self.remembered())
            .field("in_flight", &self.in_flight())
            .finish_non_exhaustive()
    }
}

/// How many mark widths a window spans.
const MARKS_PER_WINDOW: u16 = 10;

/// The narrowest mark, so that a tiny window does not open one mark per delivery.
const MIN_MARK_WIDTH: Duration = Duration::from_millis(1);

/// How many notifiers the waiters for deliveries in flight are spread over.
pub const WAKE_SHARDS: usize = 16;

/// The width of a hash table's control group: 16 bytes with SSE2, 8 elsewhere; the larger is counted.
const TABLE_GROUP_WIDTH: usize = 16;

/// The delivered ids and the claims of the deliveries in flight.
struct State {
    /// The digests delivered, oldest first; the one at position `i` has the number `first + i`.
    delivered: VecDeque<Digest>,
    /// The number of the oldest digest in `delivered` (every delivery gets the next number).
    first: u64,
    /// The number of each digest in `delivered`, truncated to 32 bits (exact, since the queue
    /// never holds more than [`DedupStore::MAX_CAPACITY`] digests), by the digest's hash; and the
    /// numbers of some digests forgotten since, which no look-up matches (see the `index` module).
    index: Index,
    /// Oldest first: when each mark opened, and the number of its first digest.
    marks: VecDeque<Mark>,
    forgotten_early: u64,
    /// The claim of each delivery in flight.
    in_flight: HashSet<Digest, BuildDigestHasher>,
}

/// The opening of a mark: the ids from `first` up to the next mark's were delivered after `opened`.
struct Mark {
    opened: Instant,
    first: u64,
}

impl State {
    /// The number the next delivered digest gets.
    fn next(&self) -> u64 {
        self.first + self.delivered.len() as u64
    }

    /// The digest numbered `number` (truncated), if the queue holds one so numbered.
    fn digest_numbered(delivered: &VecDeque<Digest>, first: u64, number: u32) -> Option<Digest> {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "numbers are compared in 32 bits, exact for a queue under 2^32 digests"
        )]
        let position = number.wrapping_sub(first as u32) as usize;
        delivered.get(position).copied()
    }

    /// Whether `number` (truncated) is the number of a digest in `delivered`.
    fn is_live(number: u32, first: u64, len: usize) -> bool {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "numbers are compared in 32 bits, exact for a queue under 2^32 digests"
        )]
        let position = number.wrapping_sub(first as u32) as usize;
        position < len
    }

    fn is_remembered(&self, digest: Digest) -> bool {
        let (delivered, first) = (&self.delivered, self.first);
        self.index.contains(digest.table_hash(), |number| {
            Self::digest_numbered(delivered, first, number) == Some(digest)
        })
    }

    /// Appends `digest`, delivered at `now`, opening a mark when the newest is `width` old.
    fn insert(&mut self, digest: Digest, now: Instant, width: Duration) {
        let next = self.next();
        let current_is_open = self
            .marks
            .back()
            .is_some_and(|mark| now.saturating_duration_since(mark.opened) < width);
        if !current_is_open {
            self.marks.push_back(Mark {
                opened: now,
                first: next,
            });
        }
        self.delivered.push_back(digest);
        let (first, len) = (self.first, self.delivered.len());
        #[allow(
            clippy::cast_possible_truncation,
            reason = "numbers are kept in 32 bits, exact for a queue under 2^32 digests"
        )]
        self.index
            .insert(digest.table_hash(), next as u32, len, |number| {
                Self::is_live(number, first, len)
            });
    }

    /// Forgets the oldest digest; false when there was none. Its number stays in the index,
    /// stale, until an insert takes its slot or the index is cleaned.
    fn forget_oldest(&mut self) -> bool {
        if self.delivered.pop_front().is_none() {
            return false;
        }
        self.first += 1;
        true
    }

    /// Forgets the marks (and their digests) that opened `retention` ago or earlier, then gives
    /// back the room the queue and the index no longer need.
    fn expire(&mut self, now: Instant, retention: Duration) {
        let mut expired = false;
        while self
            .marks
            .front()
            .is_some_and(|oldest| now.saturating_duration_since(oldest.opened) >= retention)
        {
            self.marks.pop_front();
            let end = self
                .marks
                .front()
                .map_or_else(|| self.next(), |mark| mark.first);
            // A mark's first number is never past the next one, so the queue ends no earlier
            // than `end`; the check keeps the loop finite regardless.
            while self.first < end && self.forget_oldest() {}
            expired = true;
        }
        if expired {
            self.shrink();
        }
    }

    /// Shrinks the queue and the index to fit when either has more than twice the room its digests
    /// need: called only when a mark expires (at most once a mark width), so the copies it makes
    /// cost nothing per delivery.
    fn shrink(&mut self) {
        let len = self.delivered.len();
        if self.delivered.capacity() > 2 * len.max(MIN_ROOM) {
            self.delivered.shrink_to(len);
        }
        let first = self.first;
        self.index
            .shrink(len, |number| Self::is_live(number, first, len));
    }
}

/// The room below which the queue and the index are never shrunk.
const MIN_ROOM: usize = 16;

/// The keyed 128-bit digest of a message id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Digest(u128);

impl Digest {
    /// The hash of the digest in the index and the claims: its low 64 bits, which are uniformly
    /// random already.
    #[allow(
        clippy::cast_possible_truncation,
        reason = "the low 64 bits of a uniformly random digest are uniformly random"
    )]
    fn table_hash(self) -> u64 {
        self.0 as u64
    }

    /// The notifier of the waiters for this digest's delivery: from its high bits, which the
    /// tables do not use.
    fn shard(self) -> usize {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "the shard is the top bits, under WAKE_SHARDS"
        )]
        let top = (self.0 >> 124) as usize;
        top % WAKE_SHARDS
    }
}

impl Hash for Digest {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.table_hash());
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
    InFlight,
    Unknown,
}

/// What a claim after admission found.
enum Claimed<'store> {
    Delivered,
    InFlight,
    Mine(Claim<'store>),
}

/// The claim of one delivery in flight. Dropping it without [`Claim::delivered`] (a failed delivery,
/// or a cancelled request) releases the claim; either way its waiters are woken after the claim has
/// left the in-flight set.
struct Claim<'store> {
    store: &'store DedupStore,
    digest: Digest,
    settled: bool,
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
    async fn an_id_is_remembered_for_the_window_and_forgotten_after_one_more_mark() {
        let first = store(100);
        assert_eq!(first.mark_width, WIDTH);
        assert_eq!(deliver_ok(&first, "a").await, Ok(Once::Delivered));
        tokio::time::advance(WINDOW - Duration::from_secs(1)).await;
        assert_eq!(deliver_ok(&first, "a").await, Ok(Once::Duplicate));

        // Delivered at the very end of its mark, `late` is still remembered a whole window later,
        // when the mark is one width older than the window.
        let second = store(100);
        assert_eq!(deliver_ok(&second, "early").await, Ok(Once::Delivered));
        tokio::time::advance(WIDTH - Duration::from_millis(1)).await;
        assert_eq!(deliver_ok(&second, "late").await, Ok(Once::Delivered));
        assert_eq!(second.lock().marks.len(), 1);
        tokio::time::advance(WINDOW).await;
        assert_eq!(deliver_ok(&second, "late").await, Ok(Once::Duplicate));
        assert_eq!(deliver_ok(&second, "early").await, Ok(Once::Duplicate));

        // At window + width after the mark opened, both are forgotten.
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(second.remembered(), 0);
        assert_eq!(deliver_ok(&second, "early").await, Ok(Once::Delivered));
        assert_eq!(deliver_ok(&second, "late").await, Ok(Once::Delivered));
        assert_eq!(second.forgotten_early(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn the_capacity_forgets_the_oldest_id_and_counts_what_it_forgot() {
        const CAPACITY: usize = 100;
        let store = store(CAPACITY);
        for number in 0..3 * CAPACITY {
            let id = format!("id-{number}");
            assert_eq!(deliver_ok(&store, &id).await, Ok(Once::Delivered));
            assert_eq!(store.remembered(), (number + 1).min(CAPACITY));
        }
        assert_eq!(
            store.forgotten_early(),
            u64::try_from(2 * CAPACITY).unwrap()
        );
        // The newest `CAPACITY` ids are remembered, and only those.
        for number in 2 * CAPACITY..3 * CAPACITY {
            let id = format!("id-{number}");
            assert_eq!(deliver_ok(&store, &id).await, Ok(Once::Duplicate), "{id}");
        }
        let forgotten = format!("id-{}", 2 * CAPACITY - 1);
        assert_eq!(deliver_ok(&store, &forgotten).await, Ok(Once::Delivered));
        assert_eq!(deliver_ok(&store, "id-0").await, Ok(Once::Delivered));
        assert_eq!(store.remembered(), CAPACITY);
    }

    #[tokio::test]
    async fn forgotten_numbers_are_cleaned_out_and_never_found() {
        // Many more ids than the capacity: the index goes through cleanings and growth, and still
        // finds exactly the newest ids.
        const CAPACITY: usize = 1_000;
        let store = store(CAPACITY);
        for number in 0..20 * CAPACITY {
            let id = format!("id-{number}");
            assert_eq!(deliver_ok(&store, &id).await, Ok(Once::Delivered), "{id}");
            let state = store.lock();
            assert!(state.index.used() >= state.delivered.len());
            assert!(state.index.used() <= state.index.most_used());
            assert!(state.index.slots() <= 4 * state.delivered.len().max(8));
        }
        for number in 19 * CAPACITY..20 * CAPACITY {
            let id = format!("id-{number}");
            assert_eq!(deliver_ok(&store, &id).await, Ok(Once::Duplicate), "{id}");
        }
        for number in (0..19 * CAPACITY).step_by(1_901) {
            let id = format!("id-{number}");
            assert_eq!(deliver_ok(&store, &id).await, Ok(Once::Delivered), "{id}");
        }
        assert_eq!(store.remembered(), CAPACITY);
    }

    #[tokio::test(start_paused = true)]
    async fn expired_marks_give_their_room_back() {
        let store = store(100_000);
        for number in 0..10_000 {
            assert_eq!(
                deliver_ok(&store, &format!("id-{number}")).await,
                Ok(Once::Delivered)
            );
        }
        let full = store.approximate_bytes();
        tokio::time::advance(WINDOW + WIDTH).await;
        assert_eq!(deliver_ok(&store, "late").await, Ok(Once::Delivered));
        assert_eq!(store.remembered(), 1);
        let after = store.approximate_bytes();
        assert!(
            after * 20 < full,
            "{after} bytes after expiry, {full} before"
        );
        // What remains is still found, and what expired is not.
        assert_eq!(deliver_ok(&store, "late").await, Ok(Once::Duplicate));
        assert_eq!(deliver_ok(&store, "id-0").await, Ok(Once::Delivered));
    }

    #[test]
    fn a_capacity_past_the_places_of_the_index_is_refused() {
        assert!(DedupStore::new(DedupStore::MAX_CAPACITY, WINDOW).is_ok());
        let error = DedupStore::new(DedupStore::MAX_CAPACITY + 1, WINDOW).unwrap_err();
        assert!(
            matches!(error, DedupError::CapacityTooLarge { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("at most 1073741824 ids"),
            "{error}"
        );
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

    /// One step of a generated history: a delivery of one of a few ids, or time passing.
    #[derive(Debug, Clone)]
    enum Step {
        Deliver(u8),
        Advance(u64),
    }

    fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
        use proptest::prelude::*;
        proptest::collection::vec(
            prop_oneof![
                3 => (0..24u8).prop_map(Step::Deliver),
                1 => (0..400u64).prop_map(Step::Advance),
            ],
            1..300,
        )
    }

    proptest::proptest! {
        /// Against a model of what the store promises: the ids it remembers are always the newest
        /// deliveries, at most `capacity` of them; an id delivered less than a window ago and
        /// among the last `capacity` deliveries is a duplicate; one delivered a window and a mark
        /// width ago or more, or pushed out by `capacity` newer ones, is delivered again.
        #[test]
        fn the_store_keeps_its_promises_on_generated_histories(
            capacity in 1..30usize,
            history in steps(),
        ) {
            const MODEL_WINDOW: Duration = Duration::from_millis(1_000);
            const MODEL_WIDTH: Duration = Duration::from_millis(100);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            runtime.block_on(async {
                let store = DedupStore::new(capacity, MODEL_WINDOW).unwrap();
                assert_eq!(store.mark_width, MODEL_WIDTH);
                // Each successful delivery, in order: its id and when.
                let mut delivered: Vec<(u8, Instant)> = Vec::new();
                for step in history {
                    match step {
                        Step::Advance(millis) => {
                            tokio::time::advance(Duration::from_millis(millis)).await;
                        }
                        Step::Deliver(id) => {
                            let now = Instant::now();
                            let last = delivered.iter().rposition(|(each, _)| *each == id);
                            let outcome = deliver_ok(&store, &format!("id-{id}")).await;
                            let Some(position) = last else {
                                assert_eq!(outcome, Ok(Once::Delivered), "never delivered");
                                delivered.push((id, now));
                                continue;
                            };
                            let age = now - delivered[position].1;
                            let newer = delivered.len() - 1 - position;
                            if newer < capacity && age < MODEL_WINDOW {
                                assert_eq!(outcome, Ok(Once::Duplicate), "age {age:?}, {newer} newer");
                            } else if newer >= capacity || age >= MODEL_WINDOW + MODEL_WIDTH {
                                assert_eq!(outcome, Ok(Once::Delivered), "age {age:?}, {newer} newer");
                            }
                            if outcome == Ok(Once::Delivered) {
                                delivered.push((id, now));
                            }
                        }
                    }
                    assert!(store.remembered() <= capacity);
                    assert_eq!(store.in_flight(), 0);
                }
            });
        }
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

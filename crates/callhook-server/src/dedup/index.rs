//! The store's index: the number of each remembered digest, found by the digest's hash.
//!
//! An open-addressing table with linear probing whose 8-byte slots each hold a number and the low
//! 31 bits of its digest's hash. The slots a look-up reads are the slots an insert writes: a
//! delivery of a new id (nearly every delivery) touches one cache line of the index, where a
//! table that keeps its control bytes apart from its slots (hashbrown's) touches two, and the
//! second one, a write, cost a stall at the store's lock release in a store of a million ids
//! (docs/performance.md). The hash bits in a slot also give its home slot back, so cleaning and
//! resizing never read the queue.
//!
//! A table of a million ids is 16 MiB: in pages of 4 KiB, nearly every look-up also missed the TLB,
//! and under a hypervisor's nested paging that walk cost as much as the miss itself. So a table of
//! at least a huge page (2 MiB) is an anonymous mapping the kernel is asked to back with huge pages
//! (`madvise(MADV_HUGEPAGE)`, which the default `madvise` mode of transparent huge pages honours):
//! about 5% of the platform row's throughput in the benchmark (docs/performance.md). Where the
//! kernel declines, it is an ordinary mapping; where mapping fails, a vector.
//!
//! Whether a number is live (its digest is still in the queue) is the store's to say. A number the
//! store forgot stays in its slot, stale: look-ups pass over it, the next insert that probes
//! through it takes its slot, and a cleaning pass empties the rest when too few slots are empty.

/// The fewest slots of a table that holds anything.
const MIN_SLOTS: usize = 16;

/// The most slots: the hash bits a slot keeps (31) must give its home slot.
const MAX_SLOTS: usize = 1 << 31;

/// The bit that marks a slot in use (an empty slot is 0).
const USED: u64 = 1 << 63;

/// The hash bits a slot keeps.
const HASH_BITS: u64 = (1 << 31) - 1;

/// The size from which a table is mapped rather than allocated: a huge page.
const MAPPED_BYTES: usize = 2 << 20;

/// The memory of a table's slots, all zero when made.
#[derive(Debug)]
enum Slots {
    Heap(Vec<u64>),
    Mapped(memmap2::MmapMut),
}

impl Default for Slots {
    fn default() -> Self {
        Self::Heap(Vec::new())
    }
}

impl Slots {
    fn zeroed(count: usize) -> Self {
        let bytes = count.saturating_mul(std::mem::size_of::<u64>());
        if bytes >= MAPPED_BYTES
            && let Ok(map) = memmap2::MmapOptions::new().len(bytes).map_anon()
        {
            // Advice only: where the kernel declines, the mapping is one of ordinary pages.
            #[cfg(target_os = "linux")]
            let _advised = map.advise(memmap2::Advice::HugePage);
            // A mapping is page-aligned, so its bytes are always slots; checked all the same.
            if bytemuck::try_cast_slice::<u8, u64>(&map).is_ok_and(|slots| slots.len() == count) {
                return Self::Mapped(map);
            }
        }
        Self::Heap(vec![0; count])
    }

    fn get(&self) -> &[u64] {
        match self {
            Self::Heap(slots) => slots,
            Self::Mapped(map) => bytemuck::try_cast_slice(map).unwrap_or_default(),
        }
    }

    fn get_mut(&mut self) -> &mut [u64] {
        match self {
            Self::Heap(slots) => slots,
            Self::Mapped(map) => bytemuck::try_cast_slice_mut(map).unwrap_or_default(),
        }
    }

    /// The bytes held: from the allocator, or mapped.
    fn bytes(&self) -> (usize, usize) {
        match self {
            Self::Heap(slots) => (slots.capacity() * std::mem::size_of::<u64>(), 0),
            Self::Mapped(map) => (0, map.len()),
        }
    }
}

/// The index. Its slots are none, or a power of two of which fewer than [`Index::most_used`]
/// are in use, so that every probe meets an empty slot.
#[derive(Debug, Default)]
pub(super) struct Index {
    slots: Slots,
    /// The slots in use, stale ones included.
    used: usize,
}

/// The slot that holds `number` with `hash`.
fn slot_of(hash: u64, number: u32) -> u64 {
    USED | ((hash & HASH_BITS) << 32) | u64::from(number)
}

/// The number a slot holds.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the number is the slot's low 32 bits"
)]
fn number_of(slot: u64) -> u32 {
    slot as u32
}

/// The hash bits a slot holds, which give its home slot.
fn hash_of(slot: u64) -> u64 {
    (slot >> 32) & HASH_BITS
}

/// The power of two of slots for `live` numbers: at least twice as many, so that the table is at
/// most half full of live numbers after a resize.
fn slots_for(live: usize) -> usize {
    live.saturating_mul(2)
        .max(MIN_SLOTS)
        .checked_next_power_of_two()
        .unwrap_or(MAX_SLOTS)
        .min(MAX_SLOTS)
}

impl Index {
    /// The slots of the table.
    #[cfg(test)]
    pub(super) fn slots(&self) -> usize {
        self.slots.get().len()
    }

    /// The slots in use, stale ones included.
    #[cfg(test)]
    pub(super) fn used(&self) -> usize {
        self.used
    }

    /// The bytes of the table: from the allocator, and mapped outside it.
    pub(super) fn bytes(&self) -> (usize, usize) {
        self.slots.bytes()
    }

    /// The most slots in use before an insert cleans or grows the table: five eighths.
    pub(super) fn most_used(&self) -> usize {
        self.slots.get().len() / 8 * 5
    }

    /// Whether a number with `hash` for which `is_match` holds is in the table. `is_match` is
    /// asked only of numbers whose slot has the same hash bits, and must be false for a stale one.
    pub(super) fn contains(&self, hash: u64, mut is_match: impl FnMut(u32) -> bool) -> bool {
        let slots = self.slots.get();
        let Some(mask) = slots.len().checked_sub(1) else {
            return false;
        };
        let wanted = slot_of(hash, 0) & !u64::from(u32::MAX);
        let mut position = home(hash, mask);
        // Bounded by the table's length; an empty slot ends it long before.
        for _ in 0..slots.len() {
            let slot = slots.get(position).copied().unwrap_or(0);
            if slot == 0 {
                return false;
            }
            if slot & !u64::from(u32::MAX) == wanted && is_match(number_of(slot)) {
                return true;
            }
            position = (position + 1) & mask;
        }
        false
    }

    /// Adds `number`, whose digest has `hash` and is not in the table, into the first slot of its
    /// probe that is empty or holds a number `is_live` says is stale. First, when the table is as
    /// full as it may be, empties the stale slots or, for `live` numbers that need more room
    /// (`live` counts the new one), resizes it.
    pub(super) fn insert(
        &mut self,
        hash: u64,
        number: u32,
        live: usize,
        is_live: impl Fn(u32) -> bool,
    ) {
        if self.used >= self.most_used() {
            if live > self.slots.get().len() / 2 {
                self.resize(slots_for(live), &is_live);
            } else {
                self.clean(&is_live);
            }
        }
        let slots = self.slots.get_mut();
        let Some(mask) = slots.len().checked_sub(1) else {
            return;
        };
        let mut position = home(hash, mask);
        for _ in 0..slots.len() {
            let Some(slot) = slots.get_mut(position) else {
                return;
            };
            if *slot == 0 || !is_live(number_of(*slot)) {
                if *slot == 0 {
                    self.used += 1;
                }
                *slot = slot_of(hash, number);
                return;
            }
            position = (position + 1) & mask;
        }
    }

    /// Resizes the table for `live` live numbers when it has more than four times as many slots
    /// (or none are needed): called when the store forgot ids by time.
    pub(super) fn shrink(&mut self, live: usize, is_live: impl Fn(u32) -> bool) {
        let slots = self.slots.get().len();
        if live == 0 {
            *self = Self::default();
        } else if slots > MIN_SLOTS && live < slots / 4 {
            self.resize(slots_for(live), &is_live);
        }
    }

    /// Moves the live numbers into a new table of `slots` slots.
    fn resize(&mut self, slots: usize, is_live: &impl Fn(u32) -> bool) {
        let old = std::mem::replace(&mut self.slots, Slots::zeroed(slots));
        self.used = 0;
        let mask = slots - 1;
        for &slot in old.get() {
            if slot != 0 && is_live(number_of(slot)) {
                self.place(slot, mask);
            }
        }
    }

    /// Empties the slots of stale numbers, in place: one pass from an empty slot, taking out each
    /// slot in use and putting a live one back from its home. A slot put back lands at or before
    /// the place it was taken from, so every number stays reachable from its home.
    fn clean(&mut self, is_live: &impl Fn(u32) -> bool) {
        let count = self.slots.get().len();
        let Some(mask) = count.checked_sub(1) else {
            return;
        };
        let Some(start) = self.slots.get().iter().position(|&slot| slot == 0) else {
            // Never so: the table is never full. Rebuilding is correct whatever its state.
            self.resize(count, is_live);
            return;
        };
        for step in 1..=count {
            let position = (start + step) & mask;
            let Some(slot) = self.slots.get_mut().get_mut(position).map(std::mem::take) else {
                continue;
            };
            if slot == 0 {
                continue;
            }
            self.used -= 1;
            if is_live(number_of(slot)) {
                self.place(slot, mask);
            }
        }
    }

    /// Puts `slot` into the first empty slot from its home.
    fn place(&mut self, slot: u64, mask: usize) {
        let slots = self.slots.get_mut();
        let mut position = home(hash_of(slot), mask);
        for _ in 0..slots.len() {
            if let Some(free) = slots.get_mut(position)
                && *free == 0
            {
                *free = slot;
                self.used += 1;
                return;
            }
            position = (position + 1) & mask;
        }
    }
}

/// The slot where the probe for `hash` starts.
#[allow(
    clippy::cast_possible_truncation,
    reason = "the mask is below 2^31, so the hash bits kept fit any usize"
)]
fn home(hash: u64, mask: usize) -> usize {
    (hash & HASH_BITS) as usize & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes whose low bits collide, so that probes run long and wrap around the table.
    fn colliding(count: u32) -> Vec<u64> {
        (0..count)
            .map(|i| (u64::from(i) << 40) | 0x7 | (u64::from(i % 3) << 31))
            .collect()
    }

    #[test]
    fn a_slot_keeps_its_number_and_its_home() {
        let slot = slot_of(0xdead_beef_1234_5678, 42);
        assert_eq!(number_of(slot), 42);
        assert_eq!(hash_of(slot), 0x1234_5678 & HASH_BITS);
        assert_ne!(slot_of(0, 0), 0, "a slot in use is never empty");
    }

    #[test]
    fn a_large_table_is_mapped_and_starts_empty() {
        let slots = Slots::zeroed(MAPPED_BYTES / 8);
        assert_eq!(slots.bytes(), (0, MAPPED_BYTES), "mapped, not allocated");
        assert!(slots.get().iter().all(|&slot| slot == 0));
        let small = Slots::zeroed(16);
        assert_eq!(small.bytes(), (128, 0));
    }

    #[test]
    fn sizes_are_powers_of_two_with_room_for_twice_the_numbers() {
        assert_eq!(slots_for(0), MIN_SLOTS);
        assert_eq!(slots_for(9), 32);
        assert_eq!(slots_for(1_000_000), 1 << 21);
        assert_eq!(slots_for(usize::MAX), MAX_SLOTS);
    }

    #[test]
    fn numbers_are_found_after_cleaning_and_resizing_and_stale_ones_never() {
        let hashes = colliding(400);
        let mut index = Index::default();
        // Numbers below `first` are stale, as the store's forgotten ones.
        let mut first = 0_u32;
        for (number, &hash) in (0_u32..).zip(&hashes) {
            let live = (number + 1 - first) as usize;
            index.insert(hash, number, live, |n| n >= first && n <= number);
            if number % 3 == 2 {
                first += 2;
            }
            assert!(index.used() < index.slots());
            for (probe, &probe_hash) in (0_u32..).zip(&hashes).take(number as usize + 1) {
                let found = index.contains(probe_hash, |n| n == probe && n >= first);
                assert_eq!(found, probe >= first, "number {probe} after {number}");
            }
        }
        let live = (400 - first) as usize;
        index.shrink(live, |n| n >= first);
        assert!(index.slots() <= slots_for(live).max(4 * live));
        for (probe, &probe_hash) in (0_u32..).zip(&hashes) {
            assert_eq!(
                index.contains(probe_hash, |n| n == probe && n >= first),
                probe >= first
            );
        }
        index.shrink(0, |_| false);
        assert_eq!(index.slots(), 0);
        assert_eq!(index.bytes(), (0, 0));
        assert!(!index.contains(hashes[0], |_| true));
    }
}

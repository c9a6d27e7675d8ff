//! Deadlines in a calendar queue bucketed by time (a hierarchical timing
//! wheel), so that a tick's cost per due deadline does not grow with the
//! number of deadlines held.
//!
//! Time is cut into granules of 2^10 µs (about a millisecond). Level 0 has
//! one bucket per granule for the 64 granules around the cursor (the time
//! up to which everything due has been popped); each level above has 64
//! buckets, each as wide as the whole level below. A deadline goes to the
//! lowest level whose span separates it from the cursor, so it is appended
//! to a bucket in O(1). A tick takes the earliest buckets whole while they
//! are entirely due, sorting each (they hold only due deadlines); in the
//! bucket where `now` falls, what is not yet due moves down to the bucket
//! of its own, nearer, span. A deadline moves at most once per level (nine
//! levels cover every instant `DateTime<Utc>` can hold). Deadlines before
//! the cursor (scheduled in the past, or a clock that went back) wait in a
//! small heap.
//!
//! Moving or cancelling a deadline leaves its old entry where it is; the
//! entry is recognised as stale by its sequence number when it surfaces,
//! and once stale entries outnumber live ones they are swept out, so memory
//! stays proportional to the deadlines scheduled.
//!
//! Each key holds a slot, and each entry carries its key's slot. A bit per
//! slot is set when a move or cancel leaves a stale entry with that slot,
//! and cleared for every slot by a sweep: an entry whose slot's bit is
//! clear is live. Once its bit is set, the slot holds the sequence number
//! of its key's live entry, so an entry is live if its number is its
//! slot's. Sequence numbers never repeat, so a slot reused by another key,
//! or by the same key again, never makes a stale entry live. A tick so
//! reads a bit per due entry (an array that stays in cache: 128 KB for a
//! million keys) and, where the bit is set, a word of a dense array, never
//! the map of keys, which at a million keys is far larger than the
//! processor's caches. That map serves `schedule` and `cancel`. A key
//! popped by a tick keeps its slot until the next tick, remembered in a
//! small map, so that rescheduling it (what the desk does with every due
//! deadline) does not probe the large map either; at the next tick the
//! keys that were not rescheduled give their slots back.
//!
//! Buckets are lists of fixed-size chunks taken from a pool shared by all
//! buckets, so the chunks a tick empties take the deadlines it reschedules:
//! a bucket grows without copying what it holds, and in a steady state
//! without touching fresh memory.

use chrono::{DateTime, Utc};
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

/// log2 of a granule in microseconds: level-0 buckets are 1,024 µs wide.
const GRANULE_BITS: u32 = 10;
/// log2 of the buckets per level.
const SLOT_BITS: u32 = 6;
const SLOTS: usize = 1 << SLOT_BITS;
/// Enough levels for every granule of a 64-bit instant.
const LEVELS: usize = (64 - GRANULE_BITS as usize).div_ceil(SLOT_BITS as usize);
/// Stale entries tolerated beyond the live ones before a sweep.
const SWEEP_SLACK: usize = 1024;
/// Entries per chunk of a bucket.
const CHUNK: usize = 64;
/// Empty chunks kept for reuse beyond one per `CHUNK` entries stored.
const POOL_SLACK: usize = 16;
/// A map of popped keys with room for more than this is freed rather than
/// kept for the next tick.
const KEEP_POPPED: usize = 4096;

/// One scheduled deadline. `at` is in ordered microseconds (see [`ordered`]).
/// It is live unless its slot's bit in `maybe_stale` is set and the slot
/// holds another number.
#[derive(Debug)]
struct Entry<K> {
    at: u64,
    seq: u64,
    slot: usize,
    key: K,
}

impl<K> PartialEq for Entry<K> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<K> Eq for Entry<K> {}

impl<K> PartialOrd for Entry<K> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<K> Ord for Entry<K> {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

/// Microseconds since the epoch as an unsigned number in the same order.
fn ordered(at: DateTime<Utc>) -> u64 {
    (at.timestamp_micros() as u64) ^ (1 << 63)
}

fn instant(at: u64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_micros((at ^ (1 << 63)) as i64)
}

/// Deadlines by key (a conversation id). One deadline per key.
///
/// [`pop_due`](Self::pop_due) returns deadlines earliest first, and
/// deadlines at the same microsecond in the order they were scheduled.
/// Instants are kept to the microsecond. A tick costs O(1) amortised per
/// due deadline whatever the number held; scheduling, moving and
/// cancelling cost O(1) amortised. The first tick after loading many
/// deadlines sorts them into buckets once, O(n).
#[derive(Debug)]
pub struct DeadlineScheduler<K: Eq + Hash + Clone + Ord> {
    /// `LEVELS * SLOTS` buckets, level by level, each a list of chunks of
    /// at most `CHUNK` entries (only the last one not full).
    buckets: Vec<Vec<Vec<Entry<K>>>>,
    /// Empty chunks (capacity `CHUNK`) for any bucket.
    pool: Vec<Vec<Entry<K>>>,
    /// Per level, a bit per non-empty bucket.
    occupied: [u64; LEVELS],
    /// Ordered microseconds at or before every entry in the buckets; every
    /// entry in `overdue` is before it.
    cursor: u64,
    overdue: BinaryHeap<Reverse<Entry<K>>>,
    /// Per slot whose bit in `maybe_stale` is set, the sequence number of
    /// its key's live entry; without one (free, cancelled, or its key
    /// popped), 0 or the number of an entry already popped. Not read, nor
    /// written, for a slot whose bit is clear.
    slots: Vec<u64>,
    /// A bit per slot, set when a stored entry with that slot may be stale;
    /// entries of a slot whose bit is clear are live.
    maybe_stale: Vec<u64>,
    /// Slots no key holds.
    free: Vec<usize>,
    /// Each key's slot: every key with a live entry, and the keys in
    /// `popped`. No two keys share a slot.
    keys: HashMap<K, usize>,
    /// Keys popped by the last tick and not scheduled since, with their
    /// slots: rescheduling one of them needs no look-up in `keys`.
    popped: HashMap<K, usize>,
    /// Live entries: the keys in `keys` that are not in `popped`.
    live: usize,
    /// Entries held in buckets and `overdue`, stale ones included.
    stored: usize,
    /// Stale entries tolerated beyond the live ones before a sweep
    /// (`SWEEP_SLACK`; tests lower it to sweep often).
    sweep_slack: usize,
    seq: u64,
    /// At or before every live entry (at, seq, slot); the earliest one if
    /// still live.
    earliest: Option<(u64, u64, usize)>,
}

impl<K: Eq + Hash + Clone + Ord> Default for DeadlineScheduler<K> {
    fn default() -> Self {
        Self {
            buckets: (0..LEVELS * SLOTS).map(|_| Vec::new()).collect(),
            occupied: [0; LEVELS],
            cursor: 0,
            overdue: BinaryHeap::new(),
            slots: Vec::new(),
            maybe_stale: Vec::new(),
            free: Vec::new(),
            keys: HashMap::new(),
            popped: HashMap::new(),
            live: 0,
            sweep_slack: SWEEP_SLACK,
            stored: 0,
            seq: 0,
            earliest: None,
            pool: Vec::new(),
        }
    }
}

impl<K: Eq + Hash + Clone + Ord> DeadlineScheduler<K> {
    /// An empty scheduler.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets (or moves) `key`'s deadline.
    pub fn schedule(&mut self, key: K, at: DateTime<Utc>) {
        self.seq += 1;
        let slot = match self.popped.remove(&key) {
            Some(slot) => {
                self.live += 1;
                slot
            }
            None => match self.keys.get(&key) {
                Some(&slot) => {
                    // Moved: the entry it had is now stale.
                    self.mark_stale(slot);
                    slot
                }
                None => {
                    self.live += 1;
                    let slot = self.free.pop().unwrap_or_else(|| {
                        self.slots.push(0);
                        if self.slots.len() > self.maybe_stale.len() * 64 {
                            self.maybe_stale.push(0);
                        }
                        self.slots.len() - 1
                    });
                    self.keys.insert(key.clone(), slot);
                    slot
                }
            },
        };
        if self.marked(slot) {
            self.slots[slot] = self.seq;
        }
        let entry = Entry {
            at: ordered(at),
            seq: self.seq,
            slot,
            key,
        };
        if self
            .earliest
            .is_some_and(|(at, seq, _)| (entry.at, entry.seq) < (at, seq))
        {
            self.earliest = Some((entry.at, entry.seq, slot));
        }
        self.stored += 1;
        if entry.at < self.cursor {
            self.overdue.push(Reverse(entry));
        } else {
            self.place(entry);
        }
        self.sweep_if_stale();
    }

    /// Removes `key`'s deadline.
    pub fn cancel(&mut self, key: &K) {
        let popped = self.popped.remove(key).is_some();
        if let Some(slot) = self.keys.remove(key) {
            if !popped {
                self.live -= 1;
                self.slots[slot] = 0;
                self.mark_stale(slot);
            }
            self.free.push(slot);
            self.sweep_if_stale();
        }
    }

    /// Deadlines scheduled.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// The earliest live deadline.
    pub fn next_due(&mut self) -> Option<DateTime<Utc>> {
        if let Some((at, seq, slot)) = self.earliest
            && self.holds(slot, seq)
        {
            return instant(at);
        }
        self.earliest = self.find_earliest();
        self.earliest.as_ref().and_then(|(at, _, _)| instant(*at))
    }

    /// Removes and returns every deadline at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<(K, DateTime<Utc>)> {
        let limit = ordered(now);
        self.forget_popped();
        // What is due is popped, and a popped entry's slot keeps its number.
        if self.earliest.is_some_and(|(at, _, _)| at <= limit) {
            self.earliest = None;
        }
        // Candidates in order, stale ones included: first what is overdue
        // (all before the cursor, so before everything in the buckets) ...
        let mut candidates = Vec::new();
        while self.overdue.peek().is_some_and(|Reverse(e)| e.at <= limit) {
            candidates.extend(self.overdue.pop().map(|Reverse(e)| e));
        }
        // ... then the buckets, earliest first. A bucket entirely at or
        // before `now` is all due. One that is not is the last to look at
        // (every later bucket lies after its end): the cursor moves to just
        // after `now`, inside it, and what is not due goes down to the
        // buckets of its span from there.
        while let Some((level, slot)) = self.first_bucket() {
            if self.bucket_start(level, slot) > limit {
                break;
            }
            let index = level * SLOTS + slot;
            let mut chunks = std::mem::take(&mut self.buckets[index]);
            self.occupied[level] &= !(1 << slot);
            let from = candidates.len();
            // Every entry is read here, not only up to the first one not
            // due: the reads are independent, so the processor fetches a
            // bucket that is not in cache many lines at a time, and the
            // loop below, which moves each entry, finds them in cache.
            let partial = chunks
                .iter()
                .flatten()
                .fold(false, |partial, e| partial | (e.at > limit));
            if partial {
                self.cursor = self.cursor.max(limit.saturating_add(1));
            }
            for mut chunk in chunks.drain(..) {
                if partial {
                    for entry in chunk.drain(..) {
                        if entry.at <= limit {
                            candidates.push(entry);
                        } else {
                            self.place(entry);
                        }
                    }
                } else {
                    candidates.append(&mut chunk);
                }
                self.recycle(chunk);
            }
            if self.buckets[index].capacity() == 0 {
                self.buckets[index] = chunks;
            }
            candidates[from..].sort_unstable();
            if partial {
                break;
            }
        }
        // Nothing left in the buckets is at or before `now`.
        self.cursor = self.cursor.max(limit.saturating_add(1));
        self.stored -= candidates.len();
        // Which candidates are live, read first in a loop of independent
        // reads, so that the processor overlaps the cache misses of the
        // slots it has to read instead of waiting for each in turn.
        let live: Vec<bool> = candidates.iter().map(|e| self.is_live(e)).collect();
        let mut due = Vec::with_capacity(candidates.len());
        for (entry, live) in candidates.into_iter().zip(live) {
            if live {
                // The key keeps its slot until the next tick. The slot keeps
                // the number of the entry popped, which no entry has now.
                self.live -= 1;
                self.popped.insert(entry.key.clone(), entry.slot);
                due.push((entry.key, instant(entry.at).unwrap_or(now)));
            }
        }
        due
    }

    /// Gives back the slots of the keys the last tick popped that were not
    /// scheduled again since.
    fn forget_popped(&mut self) {
        for (key, slot) in self.popped.drain() {
            self.keys.remove(&key);
            self.free.push(slot);
        }
        if self.popped.capacity() > KEEP_POPPED {
            self.popped = HashMap::new();
        }
    }

    /// Appends `entry` (at or after the cursor) to its bucket.
    fn place(&mut self, entry: Entry<K>) {
        let granule = entry.at >> GRANULE_BITS;
        let differs = granule ^ (self.cursor >> GRANULE_BITS);
        let level = if differs == 0 {
            0
        } else {
            ((63 - differs.leading_zeros()) / SLOT_BITS) as usize
        };
        let slot = ((granule >> (SLOT_BITS * level as u32)) as usize) & (SLOTS - 1);
        self.push(level * SLOTS + slot, entry);
        self.occupied[level] |= 1 << slot;
    }

    /// Appends `entry` to bucket `index`, in a chunk from the pool when the
    /// bucket's last chunk is full.
    fn push(&mut self, index: usize, entry: Entry<K>) {
        let bucket = &mut self.buckets[index];
        match bucket.last_mut() {
            Some(chunk) if chunk.len() < CHUNK => chunk.push(entry),
            _ => {
                let mut chunk = self.pool.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK));
                chunk.push(entry);
                bucket.push(chunk);
            }
        }
    }

    /// Puts an emptied chunk back in the pool, unless the pool already
    /// holds as many entries as the buckets (and some slack).
    fn recycle(&mut self, chunk: Vec<Entry<K>>) {
        debug_assert!(chunk.is_empty());
        if chunk.capacity() == CHUNK && self.pool.len() < self.stored / CHUNK + POOL_SLACK {
            self.pool.push(chunk);
        }
    }

    /// Empties bucket `index` and refills it with the live entries it held,
    /// returning how many stale ones were dropped.
    fn drop_stale(&mut self, index: usize) -> usize {
        let mut chunks = std::mem::take(&mut self.buckets[index]);
        let mut entries = Vec::with_capacity(chunks.len() * CHUNK);
        for mut chunk in chunks.drain(..) {
            entries.append(&mut chunk);
            self.recycle(chunk);
        }
        self.buckets[index] = chunks;
        let before = entries.len();
        entries.retain(|e| self.is_live(e));
        let dropped = before - entries.len();
        for entry in entries {
            self.push(index, entry);
        }
        if self.buckets[index].is_empty() {
            self.buckets[index] = Vec::new();
            self.occupied[index / SLOTS] &= !(1 << (index % SLOTS));
        }
        dropped
    }

    /// The earliest non-empty bucket: the lowest level wins (its buckets
    /// all lie before any bucket above), then the lowest slot (slots never
    /// wrap: a bucket's slot is the digit of its entries' granule).
    fn first_bucket(&self) -> Option<(usize, usize)> {
        self.occupied
            .iter()
            .enumerate()
            .find(|(_, bits)| **bits != 0)
            .map(|(level, bits)| (level, bits.trailing_zeros() as usize))
    }

    /// Ordered microseconds where a bucket's time begins.
    fn bucket_start(&self, level: usize, slot: usize) -> u64 {
        let shift = SLOT_BITS * level as u32;
        let above = (self.cursor >> GRANULE_BITS) >> (shift + SLOT_BITS) << (shift + SLOT_BITS);
        (above | ((slot as u64) << shift)) << GRANULE_BITS
    }

    fn is_live(&self, entry: &Entry<K>) -> bool {
        self.holds(entry.slot, entry.seq)
    }

    /// Whether the entry numbered `seq` with slot `slot`, if stored, is live.
    fn holds(&self, slot: usize, seq: u64) -> bool {
        !self.marked(slot) || self.slots[slot] == seq
    }

    fn marked(&self, slot: usize) -> bool {
        self.maybe_stale[slot / 64] & (1 << (slot % 64)) != 0
    }

    fn mark_stale(&mut self, slot: usize) {
        self.maybe_stale[slot / 64] |= 1 << (slot % 64);
    }

    /// The earliest live entry, dropping stale entries met on the way.
    fn find_earliest(&mut self) -> Option<(u64, u64, usize)> {
        while let Some(Reverse(top)) = self.overdue.peek() {
            if self.is_live(top) {
                return Some((top.at, top.seq, top.slot));
            }
            self.overdue.pop();
            self.stored -= 1;
        }
        while let Some((level, slot)) = self.first_bucket() {
            let index = level * SLOTS + slot;
            self.stored -= self.drop_stale(index);
            let first = self.buckets[index]
                .iter()
                .flatten()
                .min()
                .map(|e| (e.at, e.seq, e.slot));
            if first.is_some() {
                return first;
            }
        }
        None
    }

    /// Sweeps stale entries out once they outnumber live ones (plus some
    /// slack), so each sweep's cost is paid for by the moves and cancels
    /// that made the stale entries.
    fn sweep_if_stale(&mut self) {
        if self.stored <= 2 * self.live + self.sweep_slack {
            return;
        }
        for index in 0..self.buckets.len() {
            if !self.buckets[index].is_empty() {
                self.stored -= self.drop_stale(index);
            }
        }
        let mut overdue = std::mem::take(&mut self.overdue).into_vec();
        let before = overdue.len();
        overdue.retain(|Reverse(e)| self.is_live(e));
        self.stored -= before - overdue.len();
        self.overdue = BinaryHeap::from(overdue);
        // No entry is stale now. The earliest entry known may have been.
        self.maybe_stale.fill(0);
        self.earliest = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + s, 0).unwrap()
    }

    #[test]
    fn pops_only_what_is_due_in_order_and_honours_moves() {
        let mut s = DeadlineScheduler::new();
        s.schedule(1, t(30));
        s.schedule(2, t(10));
        s.schedule(3, t(20));
        s.schedule(3, t(50)); // moved later
        s.cancel(&2);
        assert_eq!(s.pop_due(t(25)), vec![]);
        assert_eq!(s.pop_due(t(40)), vec![(1, t(30))]);
        assert_eq!(s.next_due(), Some(t(50)));
        assert_eq!(s.pop_due(t(100)), vec![(3, t(50))]);
        assert!(s.is_empty());
    }

    #[test]
    fn deadlines_at_one_instant_come_out_in_scheduling_order() {
        let mut s = DeadlineScheduler::new();
        for k in [5, 3, 9, 1] {
            s.schedule(k, t(10));
        }
        s.schedule(3, t(10)); // moved to the back of the instant
        let keys: Vec<_> = s.pop_due(t(10)).into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, vec![5, 9, 1, 3]);
    }

    #[test]
    fn a_deadline_scheduled_before_the_last_tick_fires_at_the_next() {
        let mut s = DeadlineScheduler::new();
        s.schedule(1, t(100));
        assert_eq!(s.pop_due(t(50)), vec![]);
        s.schedule(2, t(10)); // already past
        s.schedule(3, t(60));
        assert_eq!(s.next_due(), Some(t(10)));
        // A clock that went back still sees only what is due at its time.
        assert_eq!(s.pop_due(t(5)), vec![]);
        assert_eq!(s.pop_due(t(70)), vec![(2, t(10)), (3, t(60))]);
        assert_eq!(s.pop_due(t(100)), vec![(1, t(100))]);
    }

    #[test]
    fn moved_and_cancelled_entries_are_swept_out() {
        let mut s = DeadlineScheduler::new();
        for round in 0..50 {
            for k in 0..100 {
                s.schedule(k, t(1_000_000 + round));
            }
        }
        for k in 0..50 {
            s.cancel(&k);
        }
        assert_eq!(s.len(), 50);
        assert!(
            s.stored <= 2 * s.len() + SWEEP_SLACK,
            "{} entries held",
            s.stored
        );
        let due = s.pop_due(t(2_000_000));
        assert_eq!(due.len(), 50);
        assert!(due.iter().all(|(k, at)| *k >= 50 && *at == t(1_000_049)));
        assert_eq!(s.stored, 0);
    }

    #[test]
    fn the_ends_of_time_are_kept() {
        let mut s = DeadlineScheduler::new();
        let first = DateTime::<Utc>::MIN_UTC;
        let last =
            DateTime::from_timestamp_micros(DateTime::<Utc>::MAX_UTC.timestamp_micros()).unwrap();
        s.schedule(1, last);
        s.schedule(2, first);
        assert_eq!(s.next_due(), Some(first));
        assert_eq!(s.pop_due(t(0)), vec![(2, first)]);
        assert_eq!(s.pop_due(last), vec![(1, last)]);
    }

    #[test]
    fn a_reused_slot_never_fires_the_entry_it_held_before() {
        let mut s = DeadlineScheduler::new();
        s.schedule(1, t(10));
        s.cancel(&1);
        s.schedule(2, t(20)); // takes the slot 1 gave back
        assert_eq!(s.next_due(), Some(t(20)));
        assert_eq!(s.pop_due(t(15)), vec![]);
        s.schedule(2, t(40)); // moved: its entry at 20 is stale
        s.cancel(&2);
        s.schedule(3, t(30)); // the same slot again
        assert_eq!(s.pop_due(t(25)), vec![]);
        assert_eq!(s.pop_due(t(35)), vec![(3, t(30))]);
        // Popped and rescheduled in the same slot; popped and not, then
        // the slot goes to another key at the next tick.
        s.schedule(3, t(50));
        s.schedule(4, t(45));
        assert_eq!(s.pop_due(t(45)), vec![(4, t(45))]);
        assert_eq!(s.pop_due(t(46)), vec![]);
        s.schedule(5, t(60));
        s.schedule(4, t(55));
        assert_eq!(s.len(), 3);
        s.check();
        assert_eq!(s.pop_due(t(100)), vec![(3, t(50)), (4, t(55)), (5, t(60))]);
        s.check();
    }

    impl<K: Eq + Hash + Clone + Ord + std::fmt::Debug> DeadlineScheduler<K> {
        /// Asserts the invariants the fields' comments state.
        fn check(&self) {
            let entries: Vec<&Entry<K>> = self
                .buckets
                .iter()
                .flatten()
                .flatten()
                .chain(self.overdue.iter().map(|Reverse(e)| e))
                .collect();
            assert_eq!(entries.len(), self.stored, "entries counted");
            for (index, bucket) in self.buckets.iter().enumerate() {
                let bit = self.occupied[index / SLOTS] & (1 << (index % SLOTS)) != 0;
                assert_eq!(bit, !bucket.is_empty(), "occupied bit of bucket {index}");
                for (i, chunk) in bucket.iter().enumerate() {
                    assert!(!chunk.is_empty() && chunk.len() <= CHUNK);
                    assert!(i + 1 == bucket.len() || chunk.len() == CHUNK);
                }
            }
            assert!(
                self.pool
                    .iter()
                    .all(|c| c.is_empty() && c.capacity() == CHUNK)
            );
            // Every slot is a key's or free, never both, never twice.
            let mut owner = vec![None; self.slots.len()];
            for (key, &slot) in &self.keys {
                assert!(owner[slot].replace(key).is_none(), "slot {slot} held twice");
            }
            for &slot in &self.free {
                assert!(owner[slot].is_none(), "free slot {slot} held");
            }
            assert_eq!(self.keys.len() + self.free.len(), self.slots.len());
            for (key, slot) in &self.popped {
                assert_eq!(self.keys.get(key), Some(slot), "popped key {key:?}");
            }
            // Exactly one live entry per scheduled key, in the key's slot;
            // none for a popped key or a free slot.
            let mut live = HashMap::new();
            for e in entries.iter().filter(|e| self.is_live(e)) {
                assert_eq!(
                    owner[e.slot],
                    Some(&e.key),
                    "live entry {:?} in another's slot",
                    e.key
                );
                assert!(!self.popped.contains_key(&e.key), "popped {:?} live", e.key);
                assert!(
                    live.insert(&e.key, e.seq).is_none(),
                    "{:?} live twice",
                    e.key
                );
            }
            assert_eq!(live.len(), self.live);
            assert_eq!(self.keys.len(), self.live + self.popped.len());
        }
    }

    /// What the scheduler must do, the slow way.
    #[derive(Default)]
    struct Model {
        by_time: BTreeMap<(i64, u64), u8>,
        by_key: HashMap<u8, (i64, u64)>,
        seq: u64,
    }

    impl Model {
        fn schedule(&mut self, key: u8, at: i64) {
            self.cancel(key);
            self.seq += 1;
            self.by_time.insert((at, self.seq), key);
            self.by_key.insert(key, (at, self.seq));
        }

        fn cancel(&mut self, key: u8) {
            if let Some(old) = self.by_key.remove(&key) {
                self.by_time.remove(&old);
            }
        }

        fn pop_due(&mut self, now: i64) -> Vec<(u8, i64)> {
            let later = self.by_time.split_off(&(now + 1, 0));
            let due = std::mem::replace(&mut self.by_time, later);
            due.into_iter()
                .map(|((at, _), key)| {
                    self.by_key.remove(&key);
                    (key, at)
                })
                .collect()
        }

        fn next_due(&self) -> Option<i64> {
            self.by_time.keys().next().map(|(at, _)| *at)
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Schedule(u8, i64),
        Cancel(u8),
        PopDue(i64),
        NextDue,
    }

    const BASE: i64 = 1_700_000_000_000_000;

    /// Instants in microseconds: the same granule, the same few seconds,
    /// days, centuries, and the ends of `DateTime<Utc>`, around `BASE`.
    fn instant_micros() -> impl Strategy<Value = i64> {
        let min = DateTime::<Utc>::MIN_UTC.timestamp_micros();
        let max = DateTime::<Utc>::MAX_UTC.timestamp_micros();
        prop_oneof![
            (-2_000i64..2_000).prop_map(|d| BASE + d),
            (-5_000_000i64..5_000_000).prop_map(|d| BASE + d),
            (-10_000_000_000i64..10_000_000_000).prop_map(|d| BASE + d),
            (-10_000_000_000_000_000i64..10_000_000_000_000_000).prop_map(|d| BASE + d),
            (0i64..1_000).prop_map(move |d| min + d),
            (0i64..1_000).prop_map(move |d| max - d),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0u8..24, instant_micros()).prop_map(|(k, at)| Op::Schedule(k, at)),
            1 => (0u8..24).prop_map(Op::Cancel),
            2 => instant_micros().prop_map(Op::PopDue),
            1 => Just(Op::NextDue),
        ]
    }

    fn micros(at: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(at).unwrap()
    }

    /// What the scheduler pops at `now`, in the model's terms (microseconds).
    fn popped(s: &mut DeadlineScheduler<u8>, now: DateTime<Utc>) -> Vec<(u8, i64)> {
        s.pop_due(now)
            .into_iter()
            .map(|(k, at)| (k, at.timestamp_micros()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn behaves_like_a_sorted_map(ops in proptest::collection::vec(op(), 1..200)) {
            let mut s = DeadlineScheduler::new();
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Schedule(k, at) => {
                        s.schedule(k, micros(at));
                        model.schedule(k, at);
                    }
                    Op::Cancel(k) => {
                        s.cancel(&k);
                        model.cancel(k);
                    }
                    Op::PopDue(now) => {
                        let got = popped(&mut s, micros(now));
                        prop_assert_eq!(got, model.pop_due(now));
                    }
                    Op::NextDue => {
                        prop_assert_eq!(
                            s.next_due().map(|at| at.timestamp_micros()),
                            model.next_due()
                        );
                    }
                }
                prop_assert_eq!(s.len(), model.by_key.len());
            }
            let end = DateTime::<Utc>::MAX_UTC;
            let rest = popped(&mut s, end);
            prop_assert_eq!(rest, model.pop_due(end.timestamp_micros()));
            prop_assert!(s.is_empty());
        }

        /// Few keys, few instants and frequent sweeps, so that slots are
        /// given back and taken again (by cancels, and by popped keys not
        /// rescheduled) while stale entries with those slots are stored.
        #[test]
        fn reused_slots_never_resurrect_stale_entries(
            slack in 0usize..6,
            ops in proptest::collection::vec(
                prop_oneof![
                    5 => (0u8..6, 0i64..12).prop_map(|(k, at)| Op::Schedule(k, BASE + at * 700)),
                    2 => (0u8..6).prop_map(Op::Cancel),
                    2 => (0i64..12).prop_map(|at| Op::PopDue(BASE + at * 700)),
                    1 => Just(Op::NextDue),
                ],
                1..300,
            ),
        ) {
            let mut s = DeadlineScheduler::new();
            s.sweep_slack = slack;
            let mut model = Model::default();
            for op in ops {
                match op {
                    Op::Schedule(k, at) => {
                        s.schedule(k, micros(at));
                        model.schedule(k, at);
                    }
                    Op::Cancel(k) => {
                        s.cancel(&k);
                        model.cancel(k);
                    }
                    Op::PopDue(now) => {
                        let got = popped(&mut s, micros(now));
                        prop_assert_eq!(got, model.pop_due(now));
                    }
                    Op::NextDue => {
                        prop_assert_eq!(
                            s.next_due().map(|at| at.timestamp_micros()),
                            model.next_due()
                        );
                    }
                }
                s.check();
                prop_assert_eq!(s.len(), model.by_key.len());
            }
            let end = DateTime::<Utc>::MAX_UTC;
            prop_assert_eq!(popped(&mut s, end), model.pop_due(end.timestamp_micros()));
            s.check();
        }

        #[test]
        fn a_forward_clock_sees_every_deadline_once_in_order(
            deadlines in proptest::collection::vec((0u16..400, 0i64..200_000_000), 1..400),
            steps in proptest::collection::vec(0i64..20_000_000, 1..60),
        ) {
            let mut s = DeadlineScheduler::new();
            let mut model = Model::default();
            let mut now = BASE - 1_000_000;
            let mut pending = deadlines.into_iter();
            for step in steps {
                // Interleave scheduling (some of it in the past) with ticks.
                for (k, d) in pending.by_ref().take(8) {
                    let key = (k % 24) as u8;
                    s.schedule(key, micros(BASE + d - 50_000_000));
                    model.schedule(key, BASE + d - 50_000_000);
                }
                now += step;
                let got = popped(&mut s, micros(now));
                prop_assert_eq!(got, model.pop_due(now));
                prop_assert_eq!(s.next_due().map(|at| at.timestamp_micros()), model.next_due());
            }
        }

        #[test]
        fn a_deadline_never_fires_early_and_never_moves_earlier_without_events(
            deadlines in proptest::collection::vec(0i64..1000, 1..50), ticks in proptest::collection::vec(0i64..1200, 1..20)
        ) {
            let mut s = DeadlineScheduler::new();
            for (k, d) in deadlines.iter().enumerate() {
                s.schedule(k, t(*d));
            }
            let mut ticks = ticks;
            ticks.sort();
            let mut last_next = None;
            for now in ticks {
                for (k, at) in s.pop_due(t(now)) {
                    prop_assert!(at <= t(now));
                    prop_assert_eq!(at, t(deadlines[k]));
                }
                let next = s.next_due();
                if let (Some(prev), Some(next)) = (last_next, next) {
                    prop_assert!(next >= prev, "a deadline moved earlier while time passed");
                }
                if let Some(next) = next {
                    prop_assert!(next > t(now));
                }
                last_next = next;
            }
        }
    }
}

//! Deadlines in a priority queue: popping what is due costs O(log n) per
//! due deadline and nothing for the rest; rescheduling is O(log n) (the old
//! entry is dropped lazily when it surfaces).

use chrono::{DateTime, Utc};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::Hash;

/// Deadlines by key (a conversation id). One deadline per key.
#[derive(Debug)]
pub struct DeadlineScheduler<K: Eq + Hash + Clone + Ord> {
    heap: BinaryHeap<Reverse<(i64, u64, K)>>,
    current: HashMap<K, u64>,
    seq: u64,
}

impl<K: Eq + Hash + Clone + Ord> Default for DeadlineScheduler<K> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            current: HashMap::new(),
            seq: 0,
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
        self.current.insert(key.clone(), self.seq);
        self.heap
            .push(Reverse((at.timestamp_micros(), self.seq, key)));
    }

    /// Removes `key`'s deadline.
    pub fn cancel(&mut self, key: &K) {
        self.current.remove(key);
    }

    /// Deadlines scheduled.
    pub fn len(&self) -> usize {
        self.current.len()
    }

    /// Whether nothing is scheduled.
    pub fn is_empty(&self) -> bool {
        self.current.is_empty()
    }

    /// The earliest live deadline.
    pub fn next_due(&mut self) -> Option<DateTime<Utc>> {
        self.drop_stale();
        self.heap
            .peek()
            .and_then(|Reverse((at, _, _))| DateTime::from_timestamp_micros(*at))
    }

    fn drop_stale(&mut self) {
        while let Some(Reverse((_, seq, key))) = self.heap.peek() {
            if self.current.get(key) == Some(seq) {
                break;
            }
            self.heap.pop();
        }
    }

    /// Removes and returns every deadline at or before `now`, earliest first.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Vec<(K, DateTime<Utc>)> {
        let limit = now.timestamp_micros();
        let mut due = Vec::new();
        loop {
            self.drop_stale();
            match self.heap.peek() {
                Some(Reverse((at, _, _))) if *at <= limit => {
                    if let Some(Reverse((at, _, key))) = self.heap.pop() {
                        self.current.remove(&key);
                        due.push((key, DateTime::from_timestamp_micros(at).unwrap_or(now)));
                    }
                }
                _ => break,
            }
        }
        due
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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

    proptest! {
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

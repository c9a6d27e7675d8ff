//! How far the journal is handled. Events are handled concurrently and
//! finish out of order; the cursor may only pass an event once it and
//! every event before it are done.

use super::journal::Position;
use std::collections::VecDeque;

/// Events begun, in journal order, and the end of the longest handled
/// prefix.
#[derive(Debug)]
pub(crate) struct Progress {
    /// Sequence number of `pending[0]`.
    base: u64,
    /// `Some(end)` once handled.
    pending: VecDeque<Option<Position>>,
    handled: Position,
}

impl Progress {
    /// Nothing begun; everything up to `cursor` handled before.
    pub(crate) fn new(cursor: Position) -> Self {
        Self {
            base: 0,
            pending: VecDeque::new(),
            handled: cursor,
        }
    }

    /// The next event in journal order is being handled; its number.
    pub(crate) fn begin(&mut self) -> u64 {
        self.pending.push_back(None);
        self.base + self.pending.len() as u64 - 1
    }

    /// Event `seq`, whose record ends at `end`, is handled.
    pub(crate) fn finish(&mut self, seq: u64, end: Position) {
        let slot = seq
            .checked_sub(self.base)
            .and_then(|i| usize::try_from(i).ok())
            .and_then(|i| self.pending.get_mut(i));
        if let Some(slot) = slot {
            *slot = Some(end);
        }
        while let Some(Some(end)) = self.pending.front() {
            self.handled = *end;
            self.pending.pop_front();
            self.base += 1;
        }
    }

    /// Everything up to here is handled.
    pub(crate) fn handled(&self) -> Position {
        self.handled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(offset: u64) -> Position {
        Position { segment: 0, offset }
    }

    #[test]
    fn the_cursor_waits_for_the_oldest_unfinished_event() {
        let mut p = Progress::new(at(0));
        let a = p.begin();
        let b = p.begin();
        let c = p.begin();
        p.finish(c, at(30));
        p.finish(b, at(20));
        assert_eq!(p.handled(), at(0), "a is still running");
        p.finish(a, at(10));
        assert_eq!(p.handled(), at(30));
        let d = p.begin();
        assert_eq!(d, 3);
        p.finish(d, at(40));
        assert_eq!(p.handled(), at(40));
    }

    #[test]
    fn an_unknown_or_repeated_finish_changes_nothing() {
        let mut p = Progress::new(at(5));
        let a = p.begin();
        p.finish(a + 7, at(99));
        assert_eq!(p.handled(), at(5));
        p.finish(a, at(10));
        p.finish(a, at(50));
        assert_eq!(p.handled(), at(10));
    }
}

//! Restores production order across topics that are delivered independently.
//!
//! Each subscribed topic reaches the collector through its own queue, so a stage's message
//! can be handed over just before the previous stage's message that was produced earlier.
//! [`Reorder`] holds every item for a short `hold` after it was received and releases held
//! items in order of their production time. An item is never held longer than `hold` past
//! its receive time, whatever its production stamp says (a publisher whose clock runs ahead
//! cannot stall the others).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

/// Items waiting for their turn, ordered by production time.
#[derive(Debug)]
pub struct Reorder<T> {
    hold: Duration,
    heap: BinaryHeap<Reverse<Held<T>>>,
    /// Tie breaker: equal keys leave in arrival order.
    seq: u64,
}

#[derive(Debug)]
struct Held<T> {
    key: Duration,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Held<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.key, self.seq) == (other.key, other.seq)
    }
}

impl<T> Eq for Held<T> {}

impl<T> PartialOrd for Held<T> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Held<T> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.key, self.seq).cmp(&(other.key, other.seq))
    }
}

impl<T> Reorder<T> {
    /// Holds items for `hold` after they are received; zero releases each at once.
    pub fn new(hold: Duration) -> Self {
        Self {
            hold,
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Adds an item produced at `produced_at` and received at `received_at`. Its place is
    /// the earlier of the two, so a production stamp from the future counts as received.
    pub fn push(&mut self, produced_at: Duration, received_at: Duration, item: T) {
        self.seq += 1;
        self.heap.push(Reverse(Held {
            key: produced_at.min(received_at),
            seq: self.seq,
            item,
        }));
    }

    /// When the next item is due, if any is held.
    pub fn next_due(&self) -> Option<Duration> {
        self.heap.peek().map(|Reverse(h)| h.key + self.hold)
    }

    /// Releases, in production order, every item due at `now`.
    pub fn pop_due(&mut self, now: Duration) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || {
            let Reverse(top) = self.heap.peek()?;
            if top.key + self.hold > now {
                return None;
            }
            self.heap.pop().map(|Reverse(h)| h.item)
        })
    }

    /// Releases every held item in production order (end of input).
    pub fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        std::iter::from_fn(move || self.heap.pop().map(|Reverse(h)| h.item))
    }

    /// Items held now.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn a_later_stage_handed_over_first_leaves_after_the_earlier_one() {
        let mut r = Reorder::new(ms(10));
        // The plan (produced at 103) is handed over before the transcript (produced 101).
        r.push(ms(103), ms(104), "plan");
        r.push(ms(101), ms(105), "transcript");
        assert_eq!(r.pop_due(ms(110)).collect::<Vec<_>>(), Vec::<&str>::new());
        assert_eq!(r.next_due(), Some(ms(111)));
        assert_eq!(
            r.pop_due(ms(113)).collect::<Vec<_>>(),
            ["transcript", "plan"]
        );
        assert!(r.is_empty());
    }

    #[test]
    fn a_stamp_from_the_future_is_held_only_as_long_as_its_receive_time_allows() {
        let mut r = Reorder::new(ms(10));
        r.push(ms(1_000_000), ms(50), "skewed clock");
        assert_eq!(r.next_due(), Some(ms(60)));
        assert_eq!(r.pop_due(ms(60)).collect::<Vec<_>>(), ["skewed clock"]);
    }

    #[test]
    fn zero_hold_releases_every_item_at_once() {
        let mut r = Reorder::new(Duration::ZERO);
        r.push(ms(5), ms(5), 1);
        assert_eq!(r.pop_due(ms(5)).collect::<Vec<_>>(), [1]);
        r.push(ms(9), ms(9), 2);
        r.push(ms(7), ms(9), 3);
        assert_eq!(r.len(), 2);
        assert_eq!(r.drain().collect::<Vec<_>>(), [3, 2]);
    }

    proptest! {
        /// Items whose delivery delay is below the hold leave in production order, each no
        /// later than `hold` after it was received.
        #[test]
        fn delays_shorter_than_the_hold_are_undone(
            items in prop::collection::vec((0u64..10_000, 0u64..20), 1..200),
        ) {
            let hold = ms(20);
            let mut arrivals: Vec<(u64, u64)> =
                items.iter().map(|&(p, d)| (p, p + d)).collect();
            arrivals.sort_by_key(|&(_, r)| r);
            let mut r = Reorder::new(hold);
            let mut out = Vec::new();
            for &(p, rcv) in &arrivals {
                out.extend(r.pop_due(ms(rcv)).map(|(p, rcv)| (p, rcv, rcv)));
                r.push(ms(p), ms(rcv), (p, rcv));
            }
            // Release at each due time, as the node's timer does.
            while let Some(due) = r.next_due() {
                let now = due.as_millis() as u64;
                out.extend(r.pop_due(due).map(|(p, rcv)| (p, rcv, now)));
            }
            prop_assert_eq!(out.len(), arrivals.len());
            for w in out.windows(2) {
                prop_assert!(w[0].0 <= w[1].0, "out of production order: {:?}", w);
            }
            for &(p, rcv, released) in &out {
                prop_assert!(released <= rcv.max(p + 20), "held too long: {p} {rcv} {released}");
            }
        }
    }
}

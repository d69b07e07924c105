//! A fixed ring of sub-window slots addressed by timestamp.
//!
//! A sliding window of length `W` split into `S` slots maps a timestamp `t` to the epoch
//! `t / (W / S)`; epoch `e` lives in slot `e % S`. Each slot remembers which epoch it holds,
//! so rotation is lazy: a slot is cleared only when a newer epoch claims it, and queries
//! simply skip slots whose epoch lies outside the window ending at `now`. Memory is fixed at
//! construction whatever the sample count or the size of a time jump.

use std::time::Duration;

/// Something a ring slot holds: it must be able to forget its contents for reuse.
pub(crate) trait Slot {
    /// Forgets everything recorded, keeping allocations.
    fn reset(&mut self);
}

impl Slot for u64 {
    fn reset(&mut self) {
        *self = 0;
    }
}

/// A ring of `S` slots, each covering `W / S` of a sliding window `W`.
#[derive(Debug, Clone)]
pub(crate) struct Ring<T> {
    width_ns: u128,
    epochs: Vec<Option<u128>>,
    slots: Vec<T>,
    head: Option<u128>,
    /// Start (ns) and slot index of the head epoch: most records land there, and checking
    /// the range spares them two 128-bit divisions.
    head_start: u128,
    head_index: usize,
}

impl<T: Slot> Ring<T> {
    /// A ring over `window` with `slots` slots; `None` when a slot would be shorter than 1 ns.
    pub(crate) fn new(window: Duration, slots: usize, make: impl FnMut() -> T) -> Option<Self> {
        Self::with_width(slot_width_ns(window, slots)?, slots, make)
    }

    /// A ring of `slots` slots of `width_ns` each; `None` for zero width or slots.
    pub(crate) fn with_width(
        width_ns: u128,
        slots: usize,
        mut make: impl FnMut() -> T,
    ) -> Option<Self> {
        if width_ns == 0 || slots == 0 {
            return None;
        }
        Some(Self {
            width_ns,
            epochs: vec![None; slots],
            slots: (0..slots).map(|_| make()).collect(),
            head: None,
            head_start: 0,
            head_index: 0,
        })
    }

    fn epoch(&self, at: Duration) -> u128 {
        at.as_nanos() / self.width_ns
    }

    fn count(&self) -> u128 {
        self.slots.len() as u128
    }

    /// The slot for timestamp `at`, cleared first if it held an expired epoch.
    ///
    /// `None` when `at` is so old that its epoch already left the ring: claiming its slot
    /// would wipe newer data.
    pub(crate) fn slot_at(&mut self, at: Duration) -> Option<&mut T> {
        let at_ns = at.as_nanos();
        if self.head.is_some()
            && at_ns >= self.head_start
            && at_ns - self.head_start < self.width_ns
        {
            return Some(&mut self.slots[self.head_index]);
        }
        let epoch = self.epoch(at);
        match self.head {
            Some(head) if epoch + self.count() <= head => return None,
            Some(head) if epoch <= head => {}
            _ => {
                self.head = Some(epoch);
                self.head_start = epoch * self.width_ns;
                self.head_index = (epoch % self.count()) as usize;
            }
        }
        let index = (epoch % self.count()) as usize;
        if self.epochs[index] != Some(epoch) {
            self.slots[index].reset();
            self.epochs[index] = Some(epoch);
        }
        Some(&mut self.slots[index])
    }

    /// The slot of the newest epoch recorded so far, if any.
    pub(crate) fn newest_mut(&mut self) -> Option<&mut T> {
        let head = self.head?;
        let index = (head % self.count()) as usize;
        // The head's slot always holds the head epoch: only a newer epoch could claim it.
        Some(&mut self.slots[index])
    }

    /// The slots inside the window that ends at `now`: the slot containing `now` and the
    /// `S - 1` before it.
    pub(crate) fn covering(&self, now: Duration) -> impl Iterator<Item = &T> + '_ {
        self.covering_last(now, self.slots.len())
    }

    /// The slots of the `n` newest epochs up to the one containing `now` (a shorter window
    /// over the same ring).
    pub(crate) fn covering_last(&self, now: Duration, n: usize) -> impl Iterator<Item = &T> + '_ {
        let now_epoch = self.epoch(now);
        let count = n.min(self.slots.len()) as u128;
        self.epochs
            .iter()
            .zip(&self.slots)
            .filter(move |(epoch, _)| {
                matches!(epoch, Some(e) if *e <= now_epoch && *e + count > now_epoch)
            })
            .map(|(_, slot)| slot)
    }

    /// Where the window ending at `now` starts: the beginning of its oldest slot.
    pub(crate) fn covered_start(&self, now: Duration) -> Duration {
        let first = self.epoch(now).saturating_sub(self.count() - 1);
        duration_from_nanos(first * self.width_ns)
    }

    /// Slots in the ring.
    pub(crate) fn slots(&self) -> &[T] {
        &self.slots
    }
}

/// Width of one slot in nanoseconds, `None` when `slots` is 0 or the window is too short.
pub(crate) fn slot_width_ns(window: Duration, slots: usize) -> Option<u128> {
    let slots = u128::try_from(slots).ok().filter(|s| *s > 0)?;
    Some(window.as_nanos() / slots).filter(|w| *w > 0)
}

/// A `Duration` from nanoseconds, saturating at `u64::MAX` seconds.
pub(crate) fn duration_from_nanos(nanos: u128) -> Duration {
    let secs = u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (nanos % 1_000_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Ring<u64> {
        Ring::new(Duration::from_secs(10), 10, || 0).expect("valid ring")
    }

    fn total(ring: &Ring<u64>, now: Duration) -> u64 {
        ring.covering(now).sum()
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn a_window_too_short_for_its_slots_is_refused() {
        assert!(Ring::new(Duration::from_nanos(9), 10, || 0u64).is_none());
        assert!(Ring::new(Duration::from_secs(1), 0, || 0u64).is_none());
        assert!(Ring::new(Duration::from_nanos(10), 10, || 0u64).is_some());
    }

    #[test]
    fn samples_stay_visible_for_the_window_and_then_expire() {
        let mut ring = ring();
        *ring.slot_at(secs(0.5)).expect("slot") += 1;
        assert_eq!(total(&ring, secs(0.5)), 1);
        assert_eq!(total(&ring, secs(9.99)), 1);
        assert_eq!(total(&ring, secs(10.0)), 0);
    }

    #[test]
    fn a_slot_reused_by_a_newer_epoch_starts_empty() {
        let mut ring = ring();
        *ring.slot_at(secs(1.5)).expect("slot") += 5;
        *ring.slot_at(secs(11.5)).expect("slot") += 1;
        assert_eq!(total(&ring, secs(11.5)), 1);
    }

    #[test]
    fn a_far_jump_ahead_hides_every_old_slot() {
        let mut ring = ring();
        for s in 0..10 {
            *ring.slot_at(secs(f64::from(s))).expect("slot") += 1;
        }
        assert_eq!(total(&ring, secs(9.0)), 10);
        assert_eq!(total(&ring, secs(1e6)), 0);
    }

    #[test]
    fn a_late_sample_inside_the_ring_lands_in_its_own_slot() {
        let mut ring = ring();
        *ring.slot_at(secs(5.0)).expect("slot") += 1;
        *ring.slot_at(secs(2.0)).expect("slot") += 1;
        assert_eq!(total(&ring, secs(5.0)), 2);
        assert_eq!(total(&ring, secs(12.5)), 1);
    }

    #[test]
    fn a_sample_older_than_the_ring_gets_no_slot() {
        let mut ring = ring();
        *ring.slot_at(secs(25.0)).expect("slot") += 1;
        assert!(ring.slot_at(secs(3.0)).is_none());
        *ring.newest_mut().expect("head") += 1;
        assert_eq!(total(&ring, secs(25.0)), 2);
    }

    #[test]
    fn the_covered_span_starts_at_the_oldest_slot_boundary() {
        let ring = ring();
        assert_eq!(ring.covered_start(secs(3.5)), Duration::ZERO);
        assert_eq!(ring.covered_start(secs(12.5)), secs(3.0));
    }
}

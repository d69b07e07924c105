//! Counters, gauges and windowed event rates.

use std::time::Duration;

use super::ring::{Ring, Slot};
use super::{Error, Result};

/// A monotonic count that saturates instead of wrapping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counter {
    value: u64,
}

impl Counter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `n`.
    pub fn add(&mut self, n: u64) {
        self.value = self.value.saturating_add(n);
    }

    /// Adds one.
    pub fn increment(&mut self) {
        self.add(1);
    }

    /// The count so far.
    pub fn get(&self) -> u64 {
        self.value
    }
}

/// The last value set; NaN and infinities are refused and counted.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gauge {
    value: Option<f64>,
    rejected: u64,
}

impl Gauge {
    /// A gauge that was never set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value; a non-finite one leaves the previous value and is counted.
    pub fn set(&mut self, value: f64) {
        if value.is_finite() {
            self.value = Some(value);
        } else {
            self.rejected += 1;
        }
    }

    /// The last value set, `None` before the first.
    pub fn get(&self) -> Option<f64> {
        self.value
    }

    /// Non-finite values refused.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }
}

/// Events per second over a sliding window, kept as a ring of per-slot event counts with
/// each slot's first event instant.
///
/// How [`rate`](Self::rate) estimates, for a window `W` of `S` slots queried at `now`: the
/// inter-arrival estimate `(events after the first instant) / (last - first)` over the
/// events in the covered span (from the start of the oldest covered slot, between
/// `(S - 1) / S * W` and `W` before `now`), as `ros2 topic hz` averages the periods in its
/// window. It is exact for a periodic stream (of single events or equal batches) from its
/// second arrival on, whatever the phase of the slots; counting events in the covered time
/// instead would be off by up to one event per span (0.4% for 30 Hz, `W` = 10 s). So that a
/// stream that goes quiet decays, the denominator grows to `now - first - mean gap` once the
/// silence after the last arrival exceeds the mean gap between arrivals. With fewer than two
/// arrivals in the covered span (a stream slower than the window), events in the covered
/// slots divided by the covered time; `None` before two distinct event instants ever, or
/// when the covered time is zero.
#[derive(Debug, Clone)]
pub struct RateMeter {
    ring: Ring<RateSlot>,
    /// First event instant ever recorded.
    first: Option<Duration>,
    last: Duration,
    total: u64,
    out_of_order: u64,
}

impl RateMeter {
    /// A meter over `window` split into `slots` sub-windows.
    pub fn new(window: Duration, slots: usize) -> Result<Self> {
        if !(1..=super::MAX_SLOTS).contains(&slots) {
            return Err(Error::Slots {
                value: slots,
                max: super::MAX_SLOTS,
            });
        }
        let ring = Ring::new(window, slots, RateSlot::default)
            .ok_or(Error::RateWindow { window, slots })?;
        Ok(Self {
            ring,
            first: None,
            last: Duration::ZERO,
            total: 0,
            out_of_order: 0,
        })
    }

    /// Records `n` events at `at`. Events earlier than one recorded before are counted in
    /// [`out_of_order`](Self::out_of_order) and go to their own slot while the ring holds it,
    /// else to the newest slot.
    pub fn record(&mut self, at: Duration, n: u64) {
        if n == 0 {
            return;
        }
        match &mut self.first {
            None => {
                self.first = Some(at);
                self.last = at;
            }
            Some(first) => {
                if at < self.last {
                    self.out_of_order += 1;
                }
                *first = (*first).min(at);
                self.last = self.last.max(at);
            }
        }
        self.total = self.total.saturating_add(n);
        match self.ring.slot_at(at) {
            Some(slot) => slot.record(at, n),
            // Older than the ring holds: counted in the newest slot, whose first instant it
            // must not move (it lies outside that slot).
            None => {
                if let Some(slot) = self.ring.newest_mut() {
                    slot.events = slot.events.saturating_add(n);
                }
            }
        }
    }

    /// Events per second over the window ending at `now` (see the type's docs for how a
    /// partial window is handled); `None` until meaningful.
    pub fn rate(&self, now: Duration) -> Option<f64> {
        let ever_first = self.first?;
        // Querying before the last event would cut slots in half; treat it as the last event.
        let now = now.max(self.last);
        let start = self.ring.covered_start(now);
        let (mut events, mut arrivals, mut earliest) = (0u64, 0u64, None);
        for slot in self.ring.covering(now) {
            events = events.saturating_add(slot.events);
            arrivals = arrivals.saturating_add(slot.arrivals);
            if let Some((at, n)) = slot.first {
                if earliest.is_none_or(|(e, _)| at < e) {
                    earliest = Some((at, n));
                }
            }
        }
        match earliest {
            Some((first, at_first)) if arrivals >= 2 && self.last > first => inter_arrival(
                first,
                events.saturating_sub(at_first),
                arrivals - 1,
                self.last,
                now,
            ),
            // Every event so far at one instant: no rate yet.
            _ if ever_first >= start => None,
            _ => {
                let span = (now - start).as_secs_f64();
                (span > 0.0).then(|| events as f64 / span)
            }
        }
    }

    /// Events recorded since construction.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Records whose `at` was earlier than one recorded before.
    pub fn out_of_order(&self) -> u64 {
        self.out_of_order
    }
}

/// `after_first` events since `first` over `arrivals` gaps, the last at `last`: their mean
/// rate, over a span that grows with the silence after `last` once it exceeds a mean gap.
fn inter_arrival(
    first: Duration,
    after_first: u64,
    arrivals: u64,
    last: Duration,
    now: Duration,
) -> Option<f64> {
    let spread = (last - first).as_secs_f64();
    let mean_gap = spread / arrivals.max(1) as f64;
    let quiet = (now - first).as_secs_f64() - mean_gap;
    let span = spread.max(quiet);
    (span > 0.0).then(|| after_first as f64 / span)
}

/// One sub-window of a [`RateMeter`]: its events, its distinct event instants (record calls
/// at another instant than its first), and its first instant with the events at it.
#[derive(Debug, Clone, Default)]
struct RateSlot {
    events: u64,
    arrivals: u64,
    first: Option<(Duration, u64)>,
}

impl RateSlot {
    fn record(&mut self, at: Duration, n: u64) {
        self.events = self.events.saturating_add(n);
        match &mut self.first {
            Some((first, at_first)) if at == *first => *at_first = at_first.saturating_add(n),
            Some((first, at_first)) if at < *first => {
                (*first, *at_first) = (at, n);
                self.arrivals += 1;
            }
            Some(_) => self.arrivals += 1,
            None => {
                self.first = Some((at, n));
                self.arrivals += 1;
            }
        }
    }
}

impl Slot for RateSlot {
    fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn meter() -> RateMeter {
        RateMeter::new(Duration::from_secs(10), 10).expect("valid")
    }

    fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    /// Time of event `k` of a stream at `hz` starting at `offset_ns`, to the nearest ns.
    fn tick(offset_ns: u64, hz: f64, k: u64) -> Duration {
        Duration::from_nanos(offset_ns + (k as f64 * 1e9 / hz).round() as u64)
    }

    #[test]
    fn a_counter_adds_and_saturates() {
        let mut c = Counter::new();
        c.increment();
        c.add(41);
        assert_eq!(c.get(), 42);
        c.add(u64::MAX);
        assert_eq!(c.get(), u64::MAX);
    }

    #[test]
    fn a_gauge_is_unset_until_set_and_refuses_non_finite_values() {
        let mut g = Gauge::new();
        assert_eq!(g.get(), None);
        g.set(1.5);
        g.set(f64::NAN);
        g.set(f64::NEG_INFINITY);
        assert_eq!(g.get(), Some(1.5));
        assert_eq!(g.rejected(), 2);
    }

    #[test]
    fn an_invalid_rate_window_is_named_in_the_error() {
        let err = RateMeter::new(Duration::ZERO, 10).expect_err("invalid");
        assert!(err.to_string().contains("window = 0ns"), "{err}");
        let err = RateMeter::new(Duration::from_secs(1), 0).expect_err("invalid");
        assert!(err.to_string().contains("slots = 0"), "{err}");
    }

    #[test]
    fn the_rate_is_undefined_before_two_event_instants() {
        let mut m = meter();
        assert_eq!(m.rate(secs(1.0)), None);
        m.record(secs(1.0), 5);
        assert_eq!(m.rate(secs(1.0)), None);
        m.record(secs(1.5), 1);
        assert_eq!(m.rate(secs(1.5)), Some(2.0));
    }

    #[test]
    fn a_thirty_hertz_stream_reads_thirty_hertz_from_its_second_frame() {
        let mut m = meter();
        let mut worst: f64 = 0.0;
        for k in 0..3000 {
            let at = tick(123_456_789, 30.0, k);
            m.record(at, 1);
            if k >= 1 {
                let rate = m.rate(at + secs(0.01)).expect("two events");
                worst = worst.max((rate / 30.0 - 1.0).abs());
            }
        }
        // Exact but for the nanosecond rounding of the ticks, full window or not.
        assert!(worst <= 1e-6, "worst relative error {worst}");
    }

    #[test]
    fn batched_events_count_every_event() {
        let mut m = meter();
        for s in 0..5 {
            m.record(secs(f64::from(s)), 10);
        }
        assert_eq!(m.total(), 50);
        assert_eq!(m.rate(secs(4.5)), Some(10.0));
        for s in 5..30 {
            m.record(secs(f64::from(s)), 10);
        }
        // A full window: the batches after its first one over their spread, exact.
        let rate = m.rate(secs(29.5)).expect("events");
        assert!((rate - 10.0).abs() <= 1e-9, "{rate}");
    }

    #[test]
    fn a_stream_that_stops_decays_to_zero() {
        let mut m = meter();
        for k in 0..300 {
            m.record(tick(0, 30.0, k), 1);
        }
        let live = m.rate(secs(10.0)).expect("events");
        let fading = m.rate(secs(15.0)).expect("events");
        assert!(fading < live * 0.6, "{fading} vs {live}");
        assert_eq!(m.rate(secs(25.0)), Some(0.0));
    }

    #[test]
    fn a_stream_that_pauses_during_warm_up_reads_lower() {
        let mut m = meter();
        for k in 0..30 {
            m.record(tick(0, 30.0, k), 1);
        }
        let rate = m.rate(secs(5.0)).expect("events");
        assert!(rate < 10.0, "{rate}");
    }

    #[test]
    fn a_stream_slower_than_the_window_reads_its_events_over_the_covered_time() {
        let mut m = meter();
        for s in [0.0, 20.0, 40.0] {
            m.record(secs(s), 1);
        }
        // One arrival in the covered span [31 s, 40.5 s]: one event over 9.5 s.
        let rate = m.rate(secs(40.5)).expect("events");
        assert!((rate - 1.0 / 9.5).abs() <= 1e-9, "{rate}");
    }

    #[test]
    fn late_events_are_counted_and_kept() {
        let mut m = meter();
        m.record(secs(5.0), 1);
        m.record(secs(4.0), 1);
        m.record(secs(6.0), 1);
        assert_eq!(m.out_of_order(), 1);
        assert_eq!(m.total(), 3);
        assert_eq!(m.rate(secs(6.0)), Some(1.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        #[test]
        fn periodic_streams_read_exactly_whatever_the_slot_phase(
            hz in prop::sample::select(vec![30.0, 1000.0]),
            offset_ns in 0u64..100_000_000_000,
            seconds in 0.1f64..25.0,
            phase in 0.0f64..1.0,
        ) {
            let mut m = meter();
            let events = ((seconds * hz) as u64).max(2);
            for k in 0..events {
                m.record(tick(offset_ns, hz, k), 1);
            }
            let last = tick(offset_ns, hz, events - 1);
            let now = last + Duration::from_secs_f64(phase / hz);
            let rate = m.rate(now).expect("two events");
            prop_assert!((rate / hz - 1.0).abs() <= 1e-6, "{} Hz read as {}", hz, rate);
        }
    }
}

//! The engine shared by latency and value distributions: histograms in integer ticks plus
//! exact moments in SI units, cumulative and per sliding window.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::ring::{slot_width_ns, Ring, Slot};
use super::{Error, Summary, Window, MAX_HISTOGRAM_BYTES, MAX_SLOTS};
use crate::core::stats::Result;

/// Quantiles a [`Summary`] reports, ascending so one histogram pass finds them all.
const SUMMARY_QUANTILES: [f64; 5] = [0.5, 0.9, 0.95, 0.99, 0.999];

/// Exact running count, mean, variance, min and max (Welford).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Moments {
    count: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
}

impl Moments {
    pub(super) fn push(&mut self, x: f64) {
        if self.count == 0 {
            *self = Self {
                count: 1,
                mean: x,
                m2: 0.0,
                min: x,
                max: x,
            };
            return;
        }
        self.count = self.count.saturating_add(1);
        let delta = x - self.mean;
        self.mean += delta / self.count as f64;
        self.m2 += delta * (x - self.mean);
        self.min = self.min.min(x);
        self.max = self.max.max(x);
    }

    /// Folds `other` in as if its samples had been pushed here (Chan et al.).
    pub(super) fn merge(&mut self, other: &Self) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.count as f64, other.count as f64);
        let n = na + nb;
        let delta = other.mean - self.mean;
        self.mean += delta * nb / n;
        self.m2 += other.m2 + delta * delta * na * nb / n;
        self.count = self.count.saturating_add(other.count);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    fn stddev(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        // Rounding can leave m2 a hair below zero for constant data.
        (self.m2 / self.count as f64).max(0.0).sqrt()
    }
}

/// One sub-window: a histogram and the exact moments of the same samples.
#[derive(Debug, Clone)]
struct SubWindow {
    // u32 counts halve the memory of the many slot histograms; a sub-window would need over
    // four billion samples to saturate (counts saturate, they never wrap or panic).
    hist: Histogram<u32>,
    moments: Moments,
}

impl Slot for SubWindow {
    fn reset(&mut self) {
        self.hist.reset();
        self.moments = Moments::default();
    }
}

#[derive(Debug, Clone)]
struct Sliding {
    length: Duration,
    ring: Ring<SubWindow>,
}

/// The samples of one queried window, merged.
enum View<'a> {
    Cumulative(&'a Histogram<u64>, Moments),
    Merged(Histogram<u32>, Moments),
}

/// Histograms in ticks (integer multiples of `unit`) plus exact moments in SI units.
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    unit: f64,
    cumulative: Histogram<u64>,
    total: Moments,
    windows: Vec<Sliding>,
    latest_at: Option<Duration>,
    out_of_order: u64,
}

impl Recorder {
    /// A recorder whose histograms track `1..=high_ticks` ticks of `unit` each.
    pub(super) fn new(
        windows: &[Duration],
        slots: usize,
        digits: u8,
        high_ticks: u64,
        unit: f64,
    ) -> Result<Self> {
        if !(1..=MAX_SLOTS).contains(&slots) {
            return Err(Error::Slots {
                value: slots,
                max: MAX_SLOTS,
            });
        }
        if !(1..=5).contains(&digits) {
            return Err(Error::SignificantDigits { value: digits });
        }
        for (i, window) in windows.iter().enumerate() {
            if slot_width_ns(*window, slots).is_none() {
                return Err(Error::WindowTooShort {
                    field: format!("windows[{i}]"),
                    window: *window,
                    slots,
                });
            }
            if windows[..i].contains(window) {
                return Err(Error::DuplicateWindow {
                    field: format!("windows[{i}]"),
                    window: *window,
                });
            }
        }
        // Callers validate high_ticks and digits, so creation cannot fail; the mapping only
        // keeps a future hdrhistogram change from turning into a panic.
        let too_large = |bytes| Error::TooLarge {
            digits,
            histograms: 1 + windows.len() * slots,
            bytes,
            limit: MAX_HISTOGRAM_BYTES,
        };
        let cumulative =
            Histogram::<u64>::new_with_bounds(1, high_ticks, digits).map_err(|_| too_large(0))?;
        let buckets = cumulative.distinct_values();
        let bytes = buckets
            .saturating_mul(8)
            .saturating_add(buckets.saturating_mul(4 * windows.len() * slots));
        if bytes > MAX_HISTOGRAM_BYTES {
            return Err(too_large(bytes));
        }
        let slot_hist = Histogram::<u32>::new_with_bounds(1, high_ticks, digits)
            .map_err(|_| too_large(bytes))?;
        let mut sliding = Vec::with_capacity(windows.len());
        for (i, &length) in windows.iter().enumerate() {
            let ring = Ring::new(length, slots, || SubWindow {
                hist: slot_hist.clone(),
                moments: Moments::default(),
            })
            .ok_or_else(|| Error::WindowTooShort {
                field: format!("windows[{i}]"),
                window: length,
                slots,
            })?;
            sliding.push(Sliding { length, ring });
        }
        Ok(Self {
            unit,
            cumulative,
            total: Moments::default(),
            windows: sliding,
            latest_at: None,
            out_of_order: 0,
        })
    }

    /// Records one sample of `ticks` (already clamped to the histogram range) and exact `value`.
    pub(super) fn record(&mut self, at: Duration, ticks: u64, value: f64) {
        self.cumulative.saturating_record(ticks);
        self.total.push(value);
        match self.latest_at {
            Some(latest) if at < latest => self.out_of_order += 1,
            _ => self.latest_at = Some(at),
        }
        for window in &mut self.windows {
            // A sample older than the whole ring still counts in the current sub-window
            // rather than vanishing from every window.
            let slot = match window.ring.slot_at(at) {
                Some(slot) => Some(slot),
                None => window.ring.newest_mut(),
            };
            if let Some(slot) = slot {
                slot.hist.saturating_record(ticks);
                slot.moments.push(value);
            }
        }
    }

    fn view(&self, now: Duration, window: Window) -> Option<View<'_>> {
        let length = match window {
            Window::Cumulative => {
                return (self.total.count > 0)
                    .then_some(View::Cumulative(&self.cumulative, self.total))
            }
            Window::Sliding(length) => length,
        };
        let sliding = self.windows.iter().find(|w| w.length == length)?;
        let mut moments = Moments::default();
        let mut merged: Option<Histogram<u32>> = None;
        for slot in sliding.ring.covering(now) {
            if slot.moments.count == 0 {
                continue;
            }
            moments.merge(&slot.moments);
            match &mut merged {
                None => merged = Some(slot.hist.clone()),
                // Same configuration on both sides, so adding cannot run out of range.
                Some(hist) => hist.add(&slot.hist).unwrap_or_default(),
            }
        }
        merged.map(|hist| View::Merged(hist, moments))
    }

    fn to_value(&self, ticks: u64, moments: &Moments) -> f64 {
        // The true quantile always lies within [min, max]; clamping only removes HDR error.
        (ticks as f64 * self.unit).clamp(moments.min, moments.max)
    }

    pub(super) fn summary(&self, now: Duration, window: Window) -> Option<Summary> {
        let view = self.view(now, window)?;
        let (q, m) = match &view {
            View::Cumulative(hist, m) => (quantiles(*hist), *m),
            View::Merged(hist, m) => (quantiles(hist), *m),
        };
        let v = |i: usize| self.to_value(q[i], &m);
        Some(Summary {
            count: m.count,
            mean: m.mean,
            stddev: m.stddev(),
            min: m.min,
            max: m.max,
            p50: v(0),
            p90: v(1),
            p95: v(2),
            p99: v(3),
            p999: v(4),
        })
    }

    pub(super) fn quantile(&self, now: Duration, window: Window, q: f64) -> Option<f64> {
        if !(0.0..=1.0).contains(&q) {
            return None;
        }
        Some(match self.view(now, window)? {
            View::Cumulative(hist, m) => self.to_value(hist.value_at_quantile(q), &m),
            View::Merged(hist, m) => self.to_value(hist.value_at_quantile(q), &m),
        })
    }

    /// Samples at or below the threshold and samples in total, `None` for an empty or
    /// unknown window.
    ///
    /// Samples sharing the threshold's HDR bucket count as at or below it (as in
    /// HdrHistogram's `quantile_below`); a sub-window whose exact max is at or below the
    /// threshold, or whose exact min is above it, is counted exactly.
    pub(super) fn at_or_below(
        &self,
        now: Duration,
        window: Window,
        ticks: u64,
        value: f64,
    ) -> Option<(u64, u64)> {
        match window {
            Window::Cumulative => (self.total.count > 0).then(|| {
                let below = below_in(&self.cumulative, &self.total, ticks, value);
                (below, self.total.count)
            }),
            Window::Sliding(length) => {
                let sliding = self.windows.iter().find(|w| w.length == length)?;
                let (mut below, mut total) = (0u64, 0u64);
                for slot in sliding.ring.covering(now) {
                    let m = &slot.moments;
                    below = below.saturating_add(below_in(&slot.hist, m, ticks, value));
                    total = total.saturating_add(m.count);
                }
                (total > 0).then_some((below, total))
            }
        }
    }

    pub(super) fn count(&self) -> u64 {
        self.total.count
    }

    pub(super) fn histogram(&self) -> &Histogram<u64> {
        &self.cumulative
    }

    pub(super) fn out_of_order(&self) -> u64 {
        self.out_of_order
    }

    pub(super) fn windows(&self) -> impl Iterator<Item = Duration> + '_ {
        self.windows.iter().map(|w| w.length)
    }

    /// Bytes held, counting histogram bucket arrays and ring bookkeeping.
    pub(super) fn footprint_bytes(&self) -> usize {
        let mut bytes = std::mem::size_of::<Self>() + hist_bytes(&self.cumulative);
        for window in &self.windows {
            bytes += std::mem::size_of::<Sliding>();
            for slot in window.ring.slots() {
                bytes += std::mem::size_of::<SubWindow>()
                    + std::mem::size_of::<Option<u128>>()
                    + hist_bytes(&slot.hist);
            }
        }
        bytes
    }
}

/// Samples of `hist` at or below the threshold, exact where the moments settle it.
fn below_in<T: hdrhistogram::Counter>(
    hist: &Histogram<T>,
    m: &Moments,
    ticks: u64,
    value: f64,
) -> u64 {
    if m.count == 0 || value < m.min {
        0
    } else if value >= m.max {
        m.count
    } else {
        hist.count_between(0, ticks).min(m.count)
    }
}

fn hist_bytes<T: hdrhistogram::Counter>(hist: &Histogram<T>) -> usize {
    hist.distinct_values() * std::mem::size_of::<T>()
}

fn quantiles<T: hdrhistogram::Counter>(hist: &Histogram<T>) -> [u64; 5] {
    let mut out = [0; 5];
    for (slot, value) in out
        .iter_mut()
        .zip(hist.value_at_quantiles(SUMMARY_QUANTILES))
    {
        *slot = value;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exact(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    #[test]
    fn moments_match_a_two_pass_computation() {
        let xs = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let mut m = Moments::default();
        xs.iter().for_each(|&x| m.push(x));
        let (mean, sd) = exact(&xs);
        assert!((m.mean - mean).abs() < 1e-12);
        assert!((m.stddev() - sd).abs() < 1e-12);
        assert_eq!((m.min, m.max, m.count), (1.0, 9.0, 8));
    }

    #[test]
    fn merged_moments_equal_moments_of_the_concatenation() {
        let (a, b) = ([1.0, 2.0, 3.0], [10.0, 20.0]);
        let (mut ma, mut mb, mut all) =
            (Moments::default(), Moments::default(), Moments::default());
        a.iter().for_each(|&x| ma.push(x));
        b.iter().for_each(|&x| mb.push(x));
        a.iter().chain(&b).for_each(|&x| all.push(x));
        ma.merge(&mb);
        assert_eq!(ma.count, all.count);
        assert!((ma.mean - all.mean).abs() < 1e-12);
        assert!((ma.m2 - all.m2).abs() < 1e-9);
        assert_eq!((ma.min, ma.max), (1.0, 20.0));
    }

    #[test]
    fn merging_into_or_from_empty_moments_changes_nothing_else() {
        let mut m = Moments::default();
        m.push(2.0);
        let before = m;
        m.merge(&Moments::default());
        assert_eq!(m, before);
        let mut empty = Moments::default();
        empty.merge(&before);
        assert_eq!(empty, before);
    }
}

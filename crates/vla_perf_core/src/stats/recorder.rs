//! The engine shared by latency and value distributions: histograms in integer ticks plus
//! exact moments in SI units, cumulative and per sliding window.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::ring::{slot_width_ns, Ring, Slot};
use super::{Error, Summary, Window, MAX_HISTOGRAM_BYTES, MAX_RING_SLOTS, MAX_SLOTS};
use crate::stats::Result;

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

/// One sub-window: sample counts per HDR bucket, and the exact moments of the same samples.
///
/// Sparse while few buckets are used: reusing a sub-window for a newer epoch then costs as
/// little as the data it held, where zeroing a dense histogram (tens of kilobytes) on every
/// rotation dominated the ingest path. A sub-window whose samples spread over many buckets
/// turns dense, at the size of a dense histogram, so memory stays bounded by that.
#[derive(Debug, Clone, Default)]
struct SubWindow {
    counts: Counts,
    moments: Moments,
}

#[derive(Debug, Clone)]
enum Counts {
    /// `(lowest value of the bucket in ticks, samples)`, ascending by bucket.
    Sparse(Vec<(u64, u64)>),
    /// Every bucket (u32 counts saturate, they never wrap).
    Dense(Box<Histogram<u32>>),
}

impl Default for Counts {
    fn default() -> Self {
        Counts::Sparse(Vec::new())
    }
}

/// Bytes of one sparse entry.
const SPARSE_ENTRY: usize = std::mem::size_of::<(u64, u64)>();

impl SubWindow {
    /// Counts one sample of `ticks`, whose bucket starts at `bucket`; `template` has the
    /// histogram configuration for turning dense.
    fn record(&mut self, ticks: u64, bucket: u64, template: &Histogram<u64>) {
        match &mut self.counts {
            Counts::Sparse(buckets) => match buckets.binary_search_by_key(&bucket, |b| b.0) {
                Ok(i) => buckets[i].1 = buckets[i].1.saturating_add(1),
                Err(i) => {
                    // Past the point where sparse entries outweigh a dense u32 histogram.
                    if (buckets.len() + 1) * SPARSE_ENTRY > dense_bytes(template) {
                        let mut dense = Histogram::<u32>::new_from(template);
                        for &(b, n) in buckets.iter() {
                            dense.saturating_record_n(b, u32::try_from(n).unwrap_or(u32::MAX));
                        }
                        dense.saturating_record(ticks);
                        self.counts = Counts::Dense(Box::new(dense));
                    } else {
                        buckets.insert(i, (bucket, 1));
                    }
                }
            },
            Counts::Dense(hist) => hist.saturating_record(ticks),
        }
    }

    /// Samples in buckets that start at or below `ticks` (the threshold's own bucket counts).
    fn count_at_or_below(&self, ticks: u64) -> u64 {
        match &self.counts {
            Counts::Sparse(buckets) => {
                let end = buckets.partition_point(|b| b.0 <= ticks);
                buckets[..end].iter().map(|b| b.1).sum()
            }
            Counts::Dense(hist) => hist.count_between(0, ticks),
        }
    }

    /// Adds this sub-window's counts to `hist`.
    fn add_to(&self, hist: &mut Histogram<u64>) {
        match &self.counts {
            Counts::Sparse(buckets) => {
                for &(bucket, count) in buckets {
                    // Buckets come from this configuration, so they are always in range.
                    hist.saturating_record_n(bucket, count);
                }
            }
            Counts::Dense(dense) => {
                for v in dense.iter_recorded() {
                    hist.saturating_record_n(v.value_iterated_to(), v.count_at_value().into());
                }
            }
        }
    }

    fn bytes(&self) -> usize {
        match &self.counts {
            Counts::Sparse(buckets) => buckets.capacity() * SPARSE_ENTRY,
            Counts::Dense(hist) => hist_bytes(hist.as_ref()),
        }
    }
}

fn dense_bytes(template: &Histogram<u64>) -> usize {
    template.distinct_values() * std::mem::size_of::<u32>()
}

impl Slot for SubWindow {
    fn reset(&mut self) {
        match &mut self.counts {
            Counts::Sparse(buckets) => buckets.clear(),
            Counts::Dense(hist) => hist.reset(),
        }
        self.moments = Moments::default();
    }
}

/// A sliding window: the newest `slots` sub-windows of the shared ring.
#[derive(Debug, Clone, Copy)]
struct Sliding {
    length: Duration,
    slots: usize,
}

/// The samples of one queried window, merged.
enum View<'a> {
    Cumulative(&'a Histogram<u64>, Moments),
    Merged(Histogram<u64>, Moments),
}

/// Histograms in ticks (integer multiples of `unit`) plus exact moments in SI units.
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    unit: f64,
    cumulative: Histogram<u64>,
    total: Moments,
    /// One ring of sub-windows shared by every sliding window: a sample is recorded once,
    /// and each window merges as many of the newest sub-windows as it spans.
    ring: Option<Ring<SubWindow>>,
    windows: Vec<Sliding>,
    latest_at: Option<Duration>,
    out_of_order: u64,
}

impl Recorder {
    /// A recorder whose histograms track `1..=high_ticks` ticks of `unit` each.
    // Long: checks the arguments, then sizes rings and histograms whose sizes depend on each other.
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
        // Sub-windows as wide as the shortest window's slots; every window spans a whole
        // number of them (rounded up).
        let width_ns = windows
            .iter()
            .filter_map(|w| slot_width_ns(*w, slots))
            .min();
        let mut sliding = Vec::with_capacity(windows.len());
        for (i, &length) in windows.iter().enumerate() {
            let needed = width_ns.map_or(0, |w| length.as_nanos().div_ceil(w));
            if needed > MAX_RING_SLOTS as u128 {
                return Err(Error::WindowSpan {
                    field: format!("windows[{i}]"),
                    window: length,
                    slots: usize::try_from(needed).unwrap_or(usize::MAX),
                    max: MAX_RING_SLOTS,
                });
            }
            sliding.push(Sliding {
                length,
                slots: needed as usize,
            });
        }
        let ring_slots = sliding.iter().map(|w| w.slots).max().unwrap_or(0);
        // Callers validate high_ticks and digits, so creation cannot fail; the mapping only
        // keeps a future hdrhistogram change from turning into a panic.
        let too_large = |bytes| Error::TooLarge {
            digits,
            histograms: 1 + ring_slots,
            bytes,
            limit: MAX_HISTOGRAM_BYTES,
        };
        let cumulative =
            Histogram::<u64>::new_with_bounds(1, high_ticks, digits).map_err(|_| too_large(0))?;
        let bytes = max_bytes(cumulative.distinct_values(), ring_slots);
        if bytes > MAX_HISTOGRAM_BYTES {
            return Err(too_large(bytes));
        }
        let ring = match width_ns {
            Some(width) => Some(
                Ring::with_width(width, ring_slots, SubWindow::default).ok_or(
                    Error::WindowSpan {
                        field: "windows".into(),
                        window: windows.iter().max().copied().unwrap_or_default(),
                        slots: ring_slots,
                        max: MAX_RING_SLOTS,
                    },
                )?,
            ),
            None => None,
        };
        Ok(Self {
            unit,
            cumulative,
            total: Moments::default(),
            ring,
            windows: sliding,
            latest_at: None,
            out_of_order: 0,
        })
    }

    /// Records one sample of `ticks` (already clamped to the histogram range) and exact `value`.
    pub(super) fn record(&mut self, at: Duration, ticks: u64, value: f64) {
        self.cumulative.saturating_record(ticks);
        let bucket = self.cumulative.lowest_equivalent(ticks);
        self.total.push(value);
        match self.latest_at {
            Some(latest) if at < latest => self.out_of_order += 1,
            _ => self.latest_at = Some(at),
        }
        if let Some(ring) = &mut self.ring {
            // A sample older than the whole ring still counts in the current sub-window
            // rather than vanishing from every window.
            let slot = match ring.slot_at(at) {
                Some(slot) => Some(slot),
                None => ring.newest_mut(),
            };
            if let Some(slot) = slot {
                slot.record(ticks, bucket, &self.cumulative);
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
        let slots = self.window_slots(length)?;
        let mut moments = Moments::default();
        let mut merged: Option<Histogram<u64>> = None;
        for slot in slots.ring.covering_last(now, slots.count) {
            if slot.moments.count == 0 {
                continue;
            }
            moments.merge(&slot.moments);
            slot.add_to(merged.get_or_insert_with(|| Histogram::new_from(&self.cumulative)));
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
                let slots = self.window_slots(length)?;
                let (mut below, mut total) = (0u64, 0u64);
                for slot in slots.ring.covering_last(now, slots.count) {
                    let m = &slot.moments;
                    let in_slot =
                        settled(m, value).unwrap_or_else(|| slot.count_at_or_below(ticks));
                    below = below.saturating_add(in_slot.min(m.count));
                    total = total.saturating_add(m.count);
                }
                (total > 0).then_some((below, total))
            }
        }
    }

    pub(super) fn count(&self) -> u64 {
        self.total.count
    }

    /// The ring and the number of its newest sub-windows the window of `length` spans.
    fn window_slots(&self, length: Duration) -> Option<WindowSlots<'_>> {
        let window = self.windows.iter().find(|w| w.length == length)?;
        Some(WindowSlots {
            ring: self.ring.as_ref()?,
            count: window.slots,
        })
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

    /// Bytes held now, counting histogram bucket arrays and ring bookkeeping.
    pub(super) fn footprint_bytes(&self) -> usize {
        let mut bytes = std::mem::size_of::<Self>()
            + hist_bytes(&self.cumulative)
            + self.windows.len() * std::mem::size_of::<Sliding>();
        for slot in self.ring.iter().flat_map(|r| r.slots()) {
            bytes += std::mem::size_of::<SubWindow>()
                + std::mem::size_of::<Option<u128>>()
                + slot.bytes();
        }
        bytes
    }

    /// The most bytes the histograms can ever hold, whatever the samples: every sub-window
    /// dense.
    pub(super) fn max_footprint_bytes(&self) -> usize {
        let slots = self.ring.as_ref().map_or(0, |r| r.slots().len());
        max_bytes(self.cumulative.distinct_values(), slots)
    }
}

/// A window's view of the shared ring.
struct WindowSlots<'a> {
    ring: &'a Ring<SubWindow>,
    count: usize,
}

/// Bytes of a cumulative histogram plus `slots` sub-windows at their largest (a sparse
/// sub-window turns dense before it outgrows a dense one).
fn max_bytes(buckets: usize, slots: usize) -> usize {
    buckets
        .saturating_mul(8)
        .saturating_add(buckets.saturating_mul(4).saturating_mul(slots))
}

/// The count at or below `value` when the exact moments decide it: none when all samples
/// lie above, all when none does.
fn settled(m: &Moments, value: f64) -> Option<u64> {
    if m.count == 0 || value < m.min {
        Some(0)
    } else if value >= m.max {
        Some(m.count)
    } else {
        None
    }
}

/// Samples of `hist` at or below the threshold, exact where the moments settle it.
fn below_in(hist: &Histogram<u64>, m: &Moments, ticks: u64, value: f64) -> u64 {
    settled(m, value).unwrap_or_else(|| hist.count_between(0, ticks).min(m.count))
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
    fn a_sub_window_with_many_distinct_values_turns_dense_and_keeps_every_count() {
        let ten = Duration::from_secs(10);
        let at = Duration::from_millis(500);
        let mut r = Recorder::new(&[ten], 10, 3, 3_600_000_000, 1e-6).expect("valid");
        for i in 1..=50_000u64 {
            r.record(at, i * 13, (i * 13) as f64 * 1e-6);
        }
        let ring = r.ring.as_ref().expect("ring");
        let used: Vec<_> = ring
            .slots()
            .iter()
            .filter(|s| s.moments.count > 0)
            .collect();
        assert_eq!(used.len(), 1);
        assert!(matches!(used[0].counts, Counts::Dense(_)));
        let window = r.summary(at, Window::Sliding(ten)).expect("data");
        let all = r.summary(at, Window::Cumulative).expect("data");
        assert_eq!(window, all);
        for ticks in [1, 5_000, 970_000, 1_500_000, 3_000_000] {
            let value = ticks as f64 * 1e-6;
            assert_eq!(
                r.at_or_below(at, Window::Sliding(ten), ticks, value),
                r.at_or_below(at, Window::Cumulative, ticks, value)
            );
        }
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

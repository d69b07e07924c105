//! Distributions of non-negative values other than latencies (sizes, ratios, scores).

use std::time::Duration;

use hdrhistogram::Histogram;

use super::recorder::Recorder;
use super::{Error, Result, Summary, Window};

/// Configuration of a [`Distribution`].
#[derive(Debug, Clone, PartialEq)]
pub struct DistributionConfig {
    /// Sliding windows to keep besides the cumulative histogram.
    pub windows: Vec<Duration>,
    /// Sub-windows per sliding window.
    pub slots: usize,
    /// HDR precision: quantiles are within `10^-significant_digits` relative error.
    pub significant_digits: u8,
    /// Smallest distinguishable difference, in the value's unit (e.g. 0.001 for 0.1% CPU).
    pub resolution: f64,
    /// Highest trackable value; larger ones are clamped to it and counted.
    pub max_value: f64,
}

impl DistributionConfig {
    /// The default windows, slots and digits of [`super::StatsConfig`] for values in
    /// `0..=max_value` told apart down to `resolution`.
    pub fn with_range(resolution: f64, max_value: f64) -> Self {
        let defaults = super::StatsConfig::default();
        Self {
            windows: defaults.windows,
            slots: defaults.slots,
            significant_digits: defaults.significant_digits,
            resolution,
            max_value,
        }
    }
}

/// A streaming distribution of non-negative values, windowed like
/// [`super::LatencyStats`]; values are histogrammed in multiples of `resolution`.
#[derive(Debug, Clone)]
pub struct Distribution {
    recorder: Recorder,
    resolution: f64,
    max_value: f64,
    saturated: u64,
    rejected: u64,
}

impl Distribution {
    /// A distribution for `cfg`, or an error naming the invalid field and its value.
    pub fn new(cfg: &DistributionConfig) -> Result<Self> {
        let resolution = cfg.resolution;
        if !(resolution.is_finite() && resolution > 0.0) {
            return Err(Error::Resolution { value: resolution });
        }
        let ticks = (cfg.max_value / resolution).ceil();
        // 2^62 keeps the top within what HDR histograms accept (u64::MAX / 2).
        if !(ticks.is_finite() && (2.0..=4.611_686_018_427_388e18).contains(&ticks)) {
            return Err(Error::MaxValue {
                value: cfg.max_value,
                resolution,
            });
        }
        let recorder = Recorder::new(
            &cfg.windows,
            cfg.slots,
            cfg.significant_digits,
            ticks as u64,
            resolution,
        )?;
        Ok(Self {
            recorder,
            resolution,
            max_value: cfg.max_value,
            saturated: 0,
            rejected: 0,
        })
    }

    /// Records `value` observed at `at`; negative, NaN or infinite values are counted in
    /// [`rejected`](Self::rejected), values above `max_value` are clamped and counted in
    /// [`saturated`](Self::saturated).
    pub fn record(&mut self, at: Duration, value: f64) {
        if !(value.is_finite() && value >= 0.0) {
            self.rejected += 1;
            return;
        }
        let value = if value > self.max_value {
            self.saturated += 1;
            self.max_value
        } else {
            value
        };
        self.recorder.record(at, self.ticks(value), value);
    }

    fn ticks(&self, value: f64) -> u64 {
        // Float-to-int casts saturate, and value <= max_value keeps this within range.
        (value / self.resolution).round() as u64
    }

    /// Summary of `window` ending at `now`; `None` when it is empty or not configured.
    pub fn summary(&self, now: Duration, window: Window) -> Option<Summary> {
        self.recorder.summary(now, window)
    }

    /// The `q` quantile (nearest rank); `None` for `q` outside `[0, 1]`, NaN, an empty
    /// window or one not configured.
    pub fn quantile(&self, now: Duration, window: Window, q: f64) -> Option<f64> {
        self.recorder.quantile(now, window, q)
    }

    /// Fraction of values at or below `threshold` (same bucket rule as latencies); `None`
    /// for an empty or unknown window, or a NaN threshold.
    pub fn fraction_at_or_below(
        &self,
        now: Duration,
        window: Window,
        threshold: f64,
    ) -> Option<f64> {
        if threshold.is_nan() {
            return None;
        }
        let threshold = threshold.clamp(0.0, self.max_value);
        let (below, total) =
            self.recorder
                .at_or_below(now, window, self.ticks(threshold), threshold)?;
        Some(below as f64 / total as f64)
    }

    /// Values recorded since construction (rejected ones excluded).
    pub fn count(&self) -> u64 {
        self.recorder.count()
    }

    /// The cumulative histogram, in units of `resolution`.
    pub fn histogram(&self) -> &Histogram<u64> {
        self.recorder.histogram()
    }

    /// Values clamped to `max_value`.
    pub fn saturated(&self) -> u64 {
        self.saturated
    }

    /// Values refused for being negative, NaN or infinite.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Records whose `at` was earlier than one recorded before.
    pub fn out_of_order(&self) -> u64 {
        self.recorder.out_of_order()
    }

    /// Bytes this instance holds now (histogram buckets and bookkeeping).
    pub fn footprint_bytes(&self) -> usize {
        self.recorder.footprint_bytes()
    }

    /// The most bytes this instance can ever hold, fixed by its configuration.
    pub fn max_footprint_bytes(&self) -> usize {
        self.recorder.max_footprint_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Duration = Duration::from_secs(1);

    fn cpu_percent() -> Distribution {
        Distribution::new(&DistributionConfig::with_range(0.01, 10_000.0)).expect("valid")
    }

    #[test]
    fn a_distribution_summarises_known_values() {
        let mut d = cpu_percent();
        for v in 1..=100 {
            d.record(NOW, f64::from(v) / 2.0);
        }
        let s = d
            .summary(NOW, Window::Sliding(Duration::from_secs(10)))
            .expect("data");
        assert_eq!((s.count, s.min, s.max), (100, 0.5, 50.0));
        assert!((s.mean - 25.25).abs() < 1e-12);
        assert!((s.p50 - 25.0).abs() <= 25.0 * 1e-3 + 0.01, "{}", s.p50);
        assert_eq!(
            d.fraction_at_or_below(NOW, Window::Cumulative, 10.0),
            Some(0.2)
        );
    }

    #[test]
    fn negative_and_non_finite_values_are_refused_and_counted() {
        let mut d = cpu_percent();
        for v in [-1.0, f64::NAN, f64::INFINITY] {
            d.record(NOW, v);
        }
        assert_eq!((d.rejected(), d.count()), (3, 0));
        assert_eq!(d.summary(NOW, Window::Cumulative), None);
        assert_eq!(
            d.fraction_at_or_below(NOW, Window::Cumulative, f64::NAN),
            None
        );
    }

    #[test]
    fn values_beyond_the_maximum_are_clamped_and_counted() {
        let mut d = cpu_percent();
        d.record(NOW, 1e9);
        assert_eq!(d.saturated(), 1);
        assert_eq!(d.quantile(NOW, Window::Cumulative, 0.5), Some(10_000.0));
    }

    #[test]
    fn an_invalid_range_is_named_in_the_error() {
        for (resolution, max, expected) in [
            (0.0, 1.0, "resolution = 0"),
            (f64::NAN, 1.0, "resolution = NaN"),
            (1.0, 1.0, "max_value = 1"),
            (1.0, f64::INFINITY, "max_value = inf"),
            (1e-9, 1e12, "max_value = 1000000000000"),
        ] {
            let cfg = DistributionConfig::with_range(resolution, max);
            let err = Distribution::new(&cfg).expect_err("invalid");
            assert!(err.to_string().contains(expected), "{err} lacks {expected}");
        }
    }

    #[test]
    fn memory_stays_fixed_however_many_values_arrive() {
        let mut d = cpu_percent();
        let bound = d.max_footprint_bytes();
        let mut sizes = Vec::new();
        for round in 0..3u32 {
            for i in 0..50_000u32 {
                let at = u64::from(round * 50_000 + i) * 13;
                d.record(Duration::from_millis(at), f64::from(i % 997));
            }
            sizes.push(d.footprint_bytes());
        }
        assert!(sizes.iter().all(|&b| b <= bound), "{sizes:?} over {bound}");
    }
}

//! Trend and threshold status of a metric: thresholds, least-squares slopes and a windowed
//! trend detector.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stats::ring::{Ring, Slot};

/// Which way a metric gets worse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Higher is worse (latency, CPU usage, error rate).
    HigherIsWorse,
    /// Lower is worse (success rate, throughput, frames/s).
    LowerIsWorse,
}

impl Direction {
    /// Its name in YAML (`higher_is_worse`).
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::HigherIsWorse => "higher_is_worse",
            Direction::LowerIsWorse => "lower_is_worse",
        }
    }

    /// The comparison that crosses a threshold: `>=` when higher is worse, else `<=`
    /// (reaching a threshold counts as crossing it).
    pub fn crossing(self) -> &'static str {
        match self {
            Direction::HigherIsWorse => ">=",
            Direction::LowerIsWorse => "<=",
        }
    }
}

/// Threshold status of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Within bounds.
    Normal,
    /// Beyond the warning threshold.
    Warning,
    /// Beyond the critical threshold.
    Critical,
}

/// Why a pair of thresholds is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThresholdError {
    /// A threshold is NaN or infinite.
    #[error("threshold {name} = {value} is not a finite number")]
    NotFinite {
        /// `warning` or `critical`.
        name: &'static str,
        /// The offending value.
        value: f64,
    },
    /// The warning threshold lies beyond the critical one for the metric's direction.
    #[error("warning threshold {warning} is beyond critical threshold {critical} for a metric where {direction:?}")]
    WarningBeyondCritical {
        /// Warning threshold.
        warning: f64,
        /// Critical threshold.
        critical: f64,
        /// The metric's direction.
        direction: Direction,
    },
}

/// Warning and critical thresholds of a metric that knows its direction.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    warning: f64,
    critical: f64,
    direction: Direction,
}

impl Thresholds {
    /// Thresholds for a metric of known direction; the warning must not lie beyond critical.
    pub fn new(warning: f64, critical: f64, direction: Direction) -> Result<Self, ThresholdError> {
        for (name, value) in [("warning", warning), ("critical", critical)] {
            if !value.is_finite() {
                return Err(ThresholdError::NotFinite { name, value });
            }
        }
        let beyond = match direction {
            Direction::HigherIsWorse => warning > critical,
            Direction::LowerIsWorse => warning < critical,
        };
        if beyond {
            return Err(ThresholdError::WarningBeyondCritical {
                warning,
                critical,
                direction,
            });
        }
        Ok(Self {
            warning,
            critical,
            direction,
        })
    }

    /// Thresholds whose direction follows from their order: a critical threshold below the
    /// warning one means lower is worse (success rate 0.90 / 0.80); equal means higher is worse.
    pub fn inferred(warning: f64, critical: f64) -> Result<Self, ThresholdError> {
        let direction = if critical < warning {
            Direction::LowerIsWorse
        } else {
            Direction::HigherIsWorse
        };
        Self::new(warning, critical, direction)
    }

    /// The warning threshold.
    pub fn warning(&self) -> f64 {
        self.warning
    }

    /// The critical threshold.
    pub fn critical(&self) -> f64 {
        self.critical
    }

    /// Which way the metric gets worse.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The status of `value`: reaching a threshold counts as crossing it. NaN is `None`.
    pub fn status(&self, value: f64) -> Option<Status> {
        if value.is_nan() {
            return None;
        }
        let crosses = |limit: f64| match self.direction {
            Direction::HigherIsWorse => value >= limit,
            Direction::LowerIsWorse => value <= limit,
        };
        Some(if crosses(self.critical) {
            Status::Critical
        } else if crosses(self.warning) {
            Status::Warning
        } else {
            Status::Normal
        })
    }
}

/// Least-squares slope of `points` (x, y); `None` for fewer than two points, x values that
/// do not vary, or non-finite input.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    // Centring first keeps large offsets (epoch timestamps) from cancelling the signal.
    let (sxx, sxy) = points.iter().fold((0.0, 0.0), |(sxx, sxy), &(x, y)| {
        let dx = x - mean_x;
        (sxx + dx * dx, sxy + dx * (y - mean_y))
    });
    let slope = sxy / sxx;
    (sxx > 0.0 && slope.is_finite()).then_some(slope)
}

/// Which way a metric is heading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Rising by at least the relative threshold over the window.
    Rising,
    /// Falling by at least the relative threshold over the window.
    Falling,
    /// Changing by less than the threshold.
    Stable,
}

/// Why a trend detector cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrendError {
    /// The window is shorter than one nanosecond per bin (zero included).
    #[error("window = {window:?} is too short to split into {bins} bins of at least 1 ns")]
    WindowTooShort {
        /// The offending window.
        window: Duration,
        /// Bins it was to be split into.
        bins: usize,
    },
    /// The relative threshold is not a positive finite number.
    #[error("relative_threshold = {value} must be a positive finite number")]
    RelativeThreshold {
        /// The offending value.
        value: f64,
    },
}

/// Time bins a [`TrendDetector`] splits its window into; its memory is this many bins of
/// 40 bytes plus a 32-byte epoch tag each (4.5 KiB), whatever the sample rate.
pub const TREND_BINS: usize = 64;

/// Running co-moments of (time, value) pairs: enough for an exact least-squares fit.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct CoMoments {
    n: u64,
    mean_x: f64,
    mean_y: f64,
    m2x: f64,
    cxy: f64,
}

impl CoMoments {
    fn push(&mut self, x: f64, y: f64) {
        self.n += 1;
        let n = self.n as f64;
        let dx = x - self.mean_x;
        self.mean_x += dx / n;
        self.mean_y += (y - self.mean_y) / n;
        self.m2x += dx * (x - self.mean_x);
        self.cxy += dx * (y - self.mean_y);
    }

    /// Folds `other` in as if its pairs had been pushed here (Chan et al.).
    fn merge(&mut self, other: &Self) {
        if other.n == 0 {
            return;
        }
        if self.n == 0 {
            *self = *other;
            return;
        }
        let (na, nb) = (self.n as f64, other.n as f64);
        let n = na + nb;
        let dx = other.mean_x - self.mean_x;
        let dy = other.mean_y - self.mean_y;
        self.mean_x += dx * nb / n;
        self.mean_y += dy * nb / n;
        self.m2x += other.m2x + dx * dx * na * nb / n;
        self.cxy += other.cxy + dx * dy * na * nb / n;
        self.n += other.n;
    }

    fn slope(&self) -> Option<f64> {
        let slope = self.cxy / self.m2x;
        (self.n >= 2 && self.m2x > 0.0 && slope.is_finite()).then_some(slope)
    }
}

impl Slot for CoMoments {
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Detects whether a metric rises, falls or holds steady over a sliding window.
///
/// Samples are fitted by least squares (value against time in seconds); the fit is exact
/// over the samples in the [`TREND_BINS`] time bins covering the window that ends at `now`
/// (the oldest bin may be partly outside the window). The relative change is
/// `slope * window / |mean|`, the fitted change across one window as a fraction of the
/// mean value; at or beyond `+relative_threshold` the metric is rising, at or beyond
/// `-relative_threshold` falling. A zero mean makes the relative change undefined: the
/// trend is then stable for a zero slope, else rising or falling with the slope's sign.
/// Memory is fixed (the bins), however many samples arrive.
#[derive(Debug, Clone)]
pub struct TrendDetector {
    window: Duration,
    relative_threshold: f64,
    bins: Ring<CoMoments>,
    /// Time of the first sample: x values are seconds from here, because absolute epoch
    /// seconds (1.7e9 for ROS time) would leave too few bits for sub-second spreads.
    origin: Option<Duration>,
    rejected: u64,
    too_old: u64,
}

impl TrendDetector {
    /// A detector over `window` flagging relative changes of at least `relative_threshold`
    /// (0.1 = 10% of the mean per window).
    pub fn new(window: Duration, relative_threshold: f64) -> Result<Self, TrendError> {
        if !(relative_threshold.is_finite() && relative_threshold > 0.0) {
            return Err(TrendError::RelativeThreshold {
                value: relative_threshold,
            });
        }
        let bins = Ring::new(window, TREND_BINS, CoMoments::default).ok_or(
            TrendError::WindowTooShort {
                window,
                bins: TREND_BINS,
            },
        )?;
        Ok(Self {
            window,
            relative_threshold,
            bins,
            origin: None,
            rejected: 0,
            too_old: 0,
        })
    }

    /// Adds a sample; NaN and infinities are counted in [`rejected`](Self::rejected), samples
    /// older than every bin in [`too_old`](Self::too_old).
    pub fn push(&mut self, at: Duration, value: f64) {
        if !value.is_finite() {
            self.rejected += 1;
            return;
        }
        let origin = *self.origin.get_or_insert(at);
        let x = match at.checked_sub(origin) {
            Some(after) => after.as_secs_f64(),
            None => -(origin - at).as_secs_f64(),
        };
        match self.bins.slot_at(at) {
            Some(bin) => bin.push(x, value),
            // Unlike a histogram sample, an old point carries its time: filing it in the
            // newest bin would bend the fit, so it is dropped.
            None => self.too_old += 1,
        }
    }

    fn fit(&self, now: Duration) -> CoMoments {
        let mut all = CoMoments::default();
        for bin in self.bins.covering(now) {
            all.merge(bin);
        }
        all
    }

    /// Fitted slope in value units per second over the window ending at `now`; `None` for
    /// fewer than two samples or samples all at one instant.
    pub fn slope(&self, now: Duration) -> Option<f64> {
        self.fit(now).slope()
    }

    /// Fitted change across one window as a fraction of the mean; `None` when the slope is
    /// undefined or the mean is zero while the slope is not.
    pub fn relative_change(&self, now: Duration) -> Option<f64> {
        let fit = self.fit(now);
        let change = fit.slope()? * self.window.as_secs_f64();
        if change == 0.0 {
            return Some(0.0);
        }
        let relative = change / fit.mean_y.abs();
        relative.is_finite().then_some(relative)
    }

    /// The trend over the window ending at `now`; `None` while the slope is undefined.
    pub fn trend(&self, now: Duration) -> Option<Trend> {
        let fit = self.fit(now);
        let change = fit.slope()? * self.window.as_secs_f64();
        let relative = change / fit.mean_y.abs();
        // A zero mean gives an infinite relative change, which the comparisons below
        // classify by sign; 0/0 is NaN and falls through to stable.
        Some(if relative >= self.relative_threshold {
            Trend::Rising
        } else if relative <= -self.relative_threshold {
            Trend::Falling
        } else {
            Trend::Stable
        })
    }

    /// Samples refused for being NaN or infinite.
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Samples dropped because their time was older than every bin the detector holds.
    pub fn too_old(&self) -> u64 {
        self.too_old
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    fn detector() -> TrendDetector {
        TrendDetector::new(MINUTE, 0.1).expect("valid")
    }

    /// One sample per second for a minute from `start` s, valued `f(t)` with `t` from 0.
    fn feed(d: &mut TrendDetector, start: f64, f: impl Fn(f64) -> f64) -> Duration {
        for i in 0..60 {
            let t = f64::from(i);
            d.push(secs(start + t), f(t));
        }
        secs(start + 59.0)
    }

    #[test]
    fn thresholds_keep_their_direction_rules() {
        let t = Thresholds::inferred(0.9, 0.8).expect("valid");
        assert_eq!(t.direction(), Direction::LowerIsWorse);
        assert_eq!(t.status(0.8), Some(Status::Critical));
        assert!(Thresholds::new(2.0, 1.0, Direction::HigherIsWorse).is_err());
    }

    #[test]
    fn the_slope_of_a_line_is_its_gradient() {
        let points: Vec<_> = (0..10)
            .map(|x| (f64::from(x), 3.0 - 2.0 * f64::from(x)))
            .collect();
        assert_eq!(slope(&points), Some(-2.0));
    }

    #[test]
    fn a_slope_needs_two_points_spread_in_x() {
        assert_eq!(slope(&[]), None);
        assert_eq!(slope(&[(1.0, 2.0)]), None);
        assert_eq!(slope(&[(1.0, 2.0), (1.0, 5.0)]), None);
        assert_eq!(slope(&[(0.0, 0.0), (f64::NAN, 1.0)]), None);
    }

    #[test]
    fn a_rising_metric_is_rising() {
        let mut d = detector();
        // 100 -> 159 across the window: +59 over a mean near 130, about +45%.
        let now = feed(&mut d, 1000.0, |t| 100.0 + t);
        assert_eq!(d.trend(now), Some(Trend::Rising));
        let slope = d.slope(now).expect("fit");
        assert!((slope - 1.0).abs() < 1e-9, "{slope}");
        let rel = d.relative_change(now).expect("fit");
        assert!((rel - 60.0 / 129.5).abs() < 1e-9, "{rel}");
    }

    #[test]
    fn a_falling_metric_is_falling() {
        let mut d = detector();
        let now = feed(&mut d, 0.0, |t| 0.9 - 0.005 * t);
        assert_eq!(d.trend(now), Some(Trend::Falling));
    }

    #[test]
    fn a_flat_or_noisy_metric_is_stable() {
        let mut d = detector();
        let now = feed(&mut d, 0.0, |t| [49.0, 51.0][t as usize % 2]);
        assert_eq!(d.trend(now), Some(Trend::Stable));
        let mut flat = detector();
        let now = feed(&mut flat, 0.0, |_| 0.0);
        assert_eq!(flat.trend(now), Some(Trend::Stable));
        assert_eq!(flat.relative_change(now), Some(0.0));
    }

    #[test]
    fn a_change_just_below_the_threshold_is_stable() {
        let mut d = detector();
        // Slope 0.0015/s over 60 s is a 0.09 change on a mean of ~1.04: under 10%.
        let now = feed(&mut d, 0.0, |t| 1.0 + 0.0015 * t);
        assert_eq!(d.trend(now), Some(Trend::Stable));
    }

    #[test]
    fn a_zero_mean_trend_follows_the_sign_of_the_slope() {
        let mut d = detector();
        let now = feed(&mut d, 0.0, |t| t - 29.5);
        assert_eq!(d.trend(now), Some(Trend::Rising));
        assert_eq!(d.relative_change(now), None);
    }

    #[test]
    fn a_trend_needs_two_samples_at_different_times() {
        let mut d = detector();
        assert_eq!(d.trend(secs(1.0)), None);
        d.push(secs(1.0), 5.0);
        d.push(secs(1.0), 6.0);
        assert_eq!(d.trend(secs(1.0)), None);
        d.push(secs(2.0), 6.0);
        assert!(d.trend(secs(2.0)).is_some());
    }

    #[test]
    fn non_finite_samples_are_ignored_and_counted() {
        let mut d = detector();
        d.push(secs(0.0), f64::NAN);
        d.push(secs(1.0), f64::INFINITY);
        let now = feed(&mut d, 2.0, |t| 100.0 + t);
        assert_eq!(d.rejected(), 2);
        assert_eq!(d.trend(now), Some(Trend::Rising));
    }

    #[test]
    fn samples_older_than_the_window_are_forgotten() {
        let mut d = detector();
        feed(&mut d, 0.0, |t| 100.0 + 10.0 * t);
        let now = feed(&mut d, 120.0, |_| 700.0);
        assert_eq!(d.trend(now), Some(Trend::Stable));
        assert_eq!(d.trend(secs(1000.0)), None);
    }

    #[test]
    fn samples_older_than_every_bin_are_dropped_and_counted() {
        let mut d = detector();
        d.push(secs(500.0), 1.0);
        d.push(secs(10.0), 1.0);
        assert_eq!(d.too_old(), 1);
    }

    #[test]
    fn memory_stays_at_the_fixed_bins_however_many_samples_arrive() {
        let mut d = detector();
        for i in 0..100_000u32 {
            d.push(Duration::from_millis(u64::from(i)), f64::from(i));
        }
        assert_eq!(d.bins.slots().len(), TREND_BINS);
        let bytes =
            TREND_BINS * (std::mem::size_of::<CoMoments>() + std::mem::size_of::<Option<u128>>());
        println!("TrendDetector bins: {bytes} bytes");
        assert!(bytes <= 5 * 1024);
    }

    #[test]
    fn an_invalid_detector_config_is_named_in_the_error() {
        let err = TrendDetector::new(Duration::ZERO, 0.1).expect_err("invalid");
        assert!(err.to_string().contains("window = 0ns"), "{err}");
        for value in [0.0, -1.0, f64::NAN] {
            let err = TrendDetector::new(MINUTE, value).expect_err("invalid");
            assert!(err.to_string().contains("relative_threshold"), "{err}");
        }
    }

    proptest! {
        #[test]
        fn the_slope_of_exactly_linear_data_is_recovered(
            a in -1e6f64..1e6,
            b in -1e3f64..1e3,
            xs in prop::collection::btree_set(-100_000i32..100_000, 2..50),
        ) {
            let points: Vec<_> = xs.iter().map(|&x| (f64::from(x), a + b * f64::from(x))).collect();
            let got = slope(&points).expect("spread in x");
            prop_assert!((got - b).abs() <= 1e-6 * (1.0 + b.abs() + a.abs() / 1e5), "{} vs {}", got, b);
        }

        #[test]
        fn the_detector_fits_the_same_slope_as_the_batch_formula(
            start in 0u64..2_000_000_000,
            values in prop::collection::vec((0u64..50_000_000, -1e3f64..1e3), 2..100),
        ) {
            let mut d = detector();
            let mut at = start * 1_000_000_000;
            let first = at + values[0].0;
            let mut points = Vec::new();
            for &(gap, v) in &values {
                at += gap;
                d.push(Duration::from_nanos(at), v);
                // The slope does not depend on where x starts; starting at 0 keeps the
                // reference computation precise.
                points.push((Duration::from_nanos(at - first).as_secs_f64(), v));
            }
            let now = Duration::from_nanos(at);
            match (d.slope(now), slope(&points)) {
                (Some(got), Some(want)) => prop_assert!((got - want).abs() <= 1e-6 * (1.0 + want.abs()), "{} vs {}", got, want),
                (got, want) => prop_assert_eq!(got.is_some(), want.is_some()),
            }
        }
    }
}

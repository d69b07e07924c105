//! Latency statistics and service-level objectives.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::recorder::Recorder;
use super::{Error, Result, StatsConfig, Summary, Window};

/// Seconds per histogram tick: latencies are recorded in whole microseconds.
const SECONDS_PER_TICK: f64 = 1e-6;

/// Largest `max_value` accepted: HDR histograms track at most `u64::MAX / 2` ticks.
const MAX_TRACKABLE: Duration = Duration::from_secs(u64::MAX / 2 / 1_000_000);

/// Latency statistics: a cumulative HDR histogram plus one ring of sub-histograms per
/// sliding window, with exact running moments alongside.
///
/// Latencies are rounded to the nearest microsecond for the histograms; `count`, `mean`,
/// `stddev`, `min` and `max` use the exact (clamped) durations. Memory is fixed by the
/// configuration (see [`LatencyStats::max_footprint_bytes`]); sub-windows hold only the
/// buckets their samples fell into, so the usual footprint is far below the bound.
#[derive(Debug, Clone)]
pub struct LatencyStats {
    recorder: Recorder,
    max_value: Duration,
    saturated: u64,
}

impl LatencyStats {
    /// Statistics for `cfg`, or an error naming the invalid field and its value.
    pub fn new(cfg: &StatsConfig) -> Result<Self> {
        if cfg.max_value < Duration::from_micros(2) || cfg.max_value > MAX_TRACKABLE {
            return Err(Error::MaxLatency {
                value: cfg.max_value,
                max: MAX_TRACKABLE,
            });
        }
        let recorder = Recorder::new(
            &cfg.windows,
            cfg.slots,
            cfg.significant_digits,
            micros(cfg.max_value),
            SECONDS_PER_TICK,
        )?;
        Ok(Self {
            recorder,
            max_value: cfg.max_value,
            saturated: 0,
        })
    }

    /// Records a latency observed at `at`; a latency above `max_value` is recorded as
    /// `max_value` and counted in [`saturated`](Self::saturated).
    ///
    /// `at` picks the sub-window. An `at` earlier than one seen before is counted in
    /// [`out_of_order`](Self::out_of_order) and goes to its own sub-window while the ring
    /// still holds it, else to the newest one, so it is never lost.
    pub fn record(&mut self, at: Duration, latency: Duration) {
        let latency = if latency > self.max_value {
            self.saturated += 1;
            self.max_value
        } else {
            latency
        };
        self.recorder
            .record(at, micros(latency), latency.as_secs_f64());
    }

    /// Summary of `window` ending at `now`; `None` when it is empty or not configured.
    pub fn summary(&self, now: Duration, window: Window) -> Option<Summary> {
        self.recorder.summary(now, window)
    }

    /// The `q` quantile in seconds (nearest rank); `None` for `q` outside `[0, 1]`, NaN, an
    /// empty window or one not configured.
    pub fn quantile(&self, now: Duration, window: Window, q: f64) -> Option<f64> {
        self.recorder.quantile(now, window, q)
    }

    /// Fraction of latencies at or below `threshold`; `None` for an empty or unknown window.
    ///
    /// Exact when no sample shares the threshold's HDR bucket (below 2.048 ms at 3 digits
    /// every microsecond is its own bucket); samples that do share it count as at or below,
    /// so the answer is exact for the threshold rounded up by at most `10^-digits`.
    pub fn fraction_at_or_below(
        &self,
        now: Duration,
        window: Window,
        threshold: Duration,
    ) -> Option<f64> {
        let (below, total) = self.at_or_below(now, window, threshold)?;
        Some(below as f64 / total as f64)
    }

    fn at_or_below(
        &self,
        now: Duration,
        window: Window,
        threshold: Duration,
    ) -> Option<(u64, u64)> {
        let threshold = threshold.min(self.max_value);
        self.recorder
            .at_or_below(now, window, micros(threshold), threshold.as_secs_f64())
    }

    /// Latencies recorded since construction.
    pub fn count(&self) -> u64 {
        self.recorder.count()
    }

    /// The cumulative histogram, in microseconds.
    pub fn histogram(&self) -> &Histogram<u64> {
        self.recorder.histogram()
    }

    /// Latencies clamped to `max_value`.
    pub fn saturated(&self) -> u64 {
        self.saturated
    }

    /// Records whose `at` was earlier than one recorded before.
    pub fn out_of_order(&self) -> u64 {
        self.recorder.out_of_order()
    }

    /// The configured sliding windows, in configuration order.
    pub fn windows(&self) -> impl Iterator<Item = Duration> + '_ {
        self.recorder.windows()
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

/// Whole microseconds nearest to `d`, saturating.
fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().saturating_add(500) / 1000).unwrap_or(u64::MAX)
}

/// A latency objective such as "95% of commands under 5 s".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// Latency a command must not exceed to count as good.
    pub threshold: Duration,
    /// Fraction of commands that must be good, in `(0, 1]`.
    pub target: f64,
}

/// How a window of latencies fares against an [`Slo`].
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SloStatus {
    /// Fraction of latencies at or below the threshold.
    pub compliance: f64,
    /// Whether `compliance` reaches the target.
    pub met: bool,
    /// Latencies the verdict rests on.
    pub count: u64,
}

impl Slo {
    /// An objective; the target must be a fraction in `(0, 1]`.
    pub fn new(threshold: Duration, target: f64) -> Result<Self> {
        if !(target > 0.0 && target <= 1.0) {
            return Err(Error::SloTarget { value: target });
        }
        Ok(Self { threshold, target })
    }

    /// Compliance of `window` ending at `now`; `None` when it holds no latency.
    pub fn evaluate(
        &self,
        stats: &LatencyStats,
        now: Duration,
        window: Window,
    ) -> Option<SloStatus> {
        let (below, count) = stats.at_or_below(now, window, self.threshold)?;
        let compliance = below as f64 / count as f64;
        Some(SloStatus {
            compliance,
            met: compliance >= self.target,
            count,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TEN_S: Duration = Duration::from_secs(10);

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    fn stats() -> LatencyStats {
        LatencyStats::new(&StatsConfig::default()).expect("default config is valid")
    }

    /// 1, 2, ..., 100 ms, all recorded at t = 1 s.
    fn hundred_ms_steps() -> LatencyStats {
        let mut s = stats();
        for v in 1..=100 {
            s.record(secs(1.0), ms(v));
        }
        s
    }

    fn cfg_with(f: impl FnOnce(&mut StatsConfig)) -> StatsConfig {
        let mut cfg = StatsConfig::default();
        f(&mut cfg);
        cfg
    }

    /// Nearest-rank quantile of exact samples, the definition the histogram follows.
    fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    /// HDR error bound: relative `10^-digits` plus one microsecond of rounding.
    fn within_precision(got: f64, exact: f64, digits: u8) -> bool {
        (got - exact).abs() <= exact * 10f64.powi(-i32::from(digits)) + 1e-6 + 1e-12
    }

    #[test]
    fn the_default_config_builds_with_three_windows() {
        let s = stats();
        let windows: Vec<_> = s.windows().collect();
        assert_eq!(windows, [ms(10_000), ms(60_000), ms(300_000)]);
        assert_eq!(s.count(), 0);
    }

    #[test]
    fn each_invalid_config_field_is_named_in_the_error() {
        let cases = [
            (
                cfg_with(|c| c.windows[1] = Duration::ZERO),
                "windows[1] = 0ns",
            ),
            (
                cfg_with(|c| c.windows = vec![Duration::from_nanos(5)]),
                "windows[0] = 5ns",
            ),
            (
                cfg_with(|c| c.windows.push(TEN_S)),
                "windows[3] = 10s repeats",
            ),
            (cfg_with(|c| c.slots = 0), "slots = 0"),
            (cfg_with(|c| c.slots = 1001), "slots = 1001"),
            (
                cfg_with(|c| c.significant_digits = 0),
                "significant_digits = 0",
            ),
            (
                cfg_with(|c| c.significant_digits = 6),
                "significant_digits = 6",
            ),
            (
                cfg_with(|c| c.max_value = Duration::from_micros(1)),
                "max_value = 1µs",
            ),
            (cfg_with(|c| c.max_value = Duration::MAX), "max_value = "),
            (
                cfg_with(|c| {
                    c.significant_digits = 5;
                    c.slots = 100;
                }),
                "significant_digits = 5 with 3001 histograms",
            ),
        ];
        for (cfg, expected) in cases {
            let err = LatencyStats::new(&cfg).expect_err("config is invalid");
            assert!(
                err.to_string().contains(expected),
                "{err} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn a_summary_of_known_latencies_is_exact_where_it_promises_to_be() {
        let s = hundred_ms_steps()
            .summary(secs(1.0), Window::Cumulative)
            .expect("data");
        assert_eq!(s.count, 100);
        assert!((s.mean - 0.0505).abs() < 1e-12);
        // Population stddev of 1..=n is sqrt((n^2 - 1) / 12).
        assert!((s.stddev - (9999.0f64 / 12.0).sqrt() * 1e-3).abs() < 1e-12);
        assert_eq!((s.min, s.max), (0.001, 0.1));
        for (got, exact) in [(s.p50, 0.05), (s.p90, 0.09), (s.p95, 0.095), (s.p99, 0.099)] {
            assert!(within_precision(got, exact, 3), "{got} vs {exact}");
        }
        assert_eq!(s.p999, 0.1);
    }

    #[test]
    fn every_window_summarises_the_same_recent_samples() {
        let s = hundred_ms_steps();
        let all = s.summary(secs(1.0), Window::Cumulative).expect("data");
        for w in [10, 60, 300] {
            let window = s.summary(secs(1.0), Window::Sliding(Duration::from_secs(w)));
            assert_eq!(window, Some(all), "{w} s window");
        }
    }

    #[test]
    fn an_empty_or_unknown_window_has_no_statistics() {
        let s = stats();
        assert_eq!(s.summary(TEN_S, Window::Cumulative), None);
        assert_eq!(s.quantile(TEN_S, Window::Sliding(TEN_S), 0.5), None);
        assert_eq!(
            s.fraction_at_or_below(TEN_S, Window::Cumulative, ms(5)),
            None
        );
        let s = hundred_ms_steps();
        assert_eq!(s.summary(TEN_S, Window::Sliding(ms(1234))), None);
    }

    #[test]
    fn quantiles_outside_zero_to_one_are_undefined() {
        let s = hundred_ms_steps();
        for q in [-0.1, 1.000_001, f64::NAN, f64::INFINITY] {
            assert_eq!(s.quantile(TEN_S, Window::Cumulative, q), None, "q = {q}");
        }
        assert_eq!(s.quantile(TEN_S, Window::Cumulative, 0.0), Some(0.001));
        assert_eq!(s.quantile(TEN_S, Window::Cumulative, 1.0), Some(0.1));
    }

    #[test]
    fn latencies_beyond_the_maximum_are_clamped_and_counted() {
        let mut s = stats();
        s.record(TEN_S, Duration::from_secs(7200));
        s.record(TEN_S, Duration::MAX);
        s.record(TEN_S, ms(5));
        assert_eq!(s.saturated(), 2);
        let sum = s.summary(TEN_S, Window::Cumulative).expect("data");
        assert_eq!((sum.count, sum.max), (3, 3600.0));
        assert_eq!(s.histogram().len(), 3);
    }

    #[test]
    fn sliding_windows_forget_samples_older_than_the_window() {
        let mut s = stats();
        for t in 0..5 {
            s.record(secs(f64::from(t)), ms(100));
        }
        let ten = Window::Sliding(TEN_S);
        assert_eq!(s.summary(secs(8.0), ten).map(|x| x.count), Some(5));
        // At 12.5 s the 10 s window covers sub-windows from 3 s on.
        assert_eq!(s.summary(secs(12.5), ten).map(|x| x.count), Some(2));
        assert_eq!(s.summary(secs(25.0), ten), None);
        assert_eq!(
            s.summary(secs(25.0), Window::Sliding(ms(60_000)))
                .map(|x| x.count),
            Some(5)
        );
        assert_eq!(
            s.summary(secs(1e9), Window::Cumulative).map(|x| x.count),
            Some(5)
        );
    }

    #[test]
    fn a_window_reflects_only_its_own_samples_after_a_change() {
        let mut s = stats();
        for t in 0..100 {
            s.record(secs(f64::from(t) * 0.1), ms(10));
        }
        for t in 100..300 {
            s.record(secs(f64::from(t) * 0.1), ms(50));
        }
        let recent = s.summary(secs(29.9), Window::Sliding(TEN_S)).expect("data");
        assert_eq!((recent.min, recent.max), (0.05, 0.05));
        let all = s
            .summary(secs(29.9), Window::Sliding(ms(60_000)))
            .expect("data");
        assert_eq!((all.min, all.count), (0.01, 300));
    }

    #[test]
    fn time_running_backwards_is_counted_and_keeps_the_sample() {
        let mut s = stats();
        s.record(secs(100.0), ms(1));
        s.record(secs(95.0), ms(2));
        s.record(secs(3.0), ms(3));
        assert_eq!(s.out_of_order(), 2);
        assert_eq!(s.count(), 3);
        // Late samples still inside the ring (the longest window, 300 s) land in their own
        // sub-window: 95 s and 3 s are older than the 10 s window ending at 100 s.
        let ten = Window::Sliding(TEN_S);
        let five_min = Window::Sliding(Duration::from_secs(300));
        assert_eq!(s.summary(secs(100.0), ten).map(|x| x.count), Some(2));
        assert_eq!(s.summary(secs(105.5), ten).map(|x| x.count), Some(1));
        assert_eq!(s.summary(secs(100.0), five_min).map(|x| x.count), Some(3));
        // A sample older than the whole ring counts in the newest sub-window, not nowhere.
        s.record(secs(1000.0), ms(4));
        s.record(secs(10.0), ms(5));
        assert_eq!(s.out_of_order(), 3);
        assert_eq!(s.summary(secs(1000.0), ten).map(|x| x.count), Some(2));
    }

    #[test]
    fn memory_stays_fixed_however_many_samples_arrive() {
        let mut s = stats();
        let bound = s.max_footprint_bytes();
        let buckets = s.histogram().distinct_values();
        let mut sizes = Vec::new();
        for round in 0..3u64 {
            for i in 0..200_000u64 {
                s.record(
                    Duration::from_millis((round * 200_000 + i) * 7),
                    Duration::from_nanos(i * 7919 % 3_000_000_000),
                );
            }
            sizes.push(s.footprint_bytes());
        }
        assert!(sizes.iter().all(|&b| b <= bound), "{sizes:?} over {bound}");

        assert_eq!(s.max_footprint_bytes(), bound);
        assert_eq!(s.histogram().distinct_values(), buckets);
        assert_eq!(s.count(), 600_000);
    }

    #[test]
    fn the_default_config_starts_small_and_has_a_fixed_bound() {
        let s = stats();
        let (now, bound) = (s.footprint_bytes(), s.max_footprint_bytes());
        println!("default LatencyStats footprint: {now} bytes now, {bound} bytes at most");
        assert!(now < 250_000, "{now}");
        assert!(bound < 30_000_000, "{bound}");
    }

    #[test]
    fn slo_compliance_is_exact_on_known_data() {
        let s = hundred_ms_steps();
        let now = secs(1.0);
        let met = Slo::new(ms(95), 0.95)
            .expect("valid")
            .evaluate(&s, now, Window::Cumulative);
        assert_eq!(
            met,
            Some(SloStatus {
                compliance: 0.95,
                met: true,
                count: 100
            })
        );
        let missed = Slo::new(Duration::from_micros(94_500), 0.95).expect("valid");
        let status = missed
            .evaluate(&s, now, Window::Sliding(TEN_S))
            .expect("data");
        assert_eq!((status.compliance, status.met), (0.94, false));
        let all = Slo::new(ms(100), 1.0)
            .expect("valid")
            .evaluate(&s, now, Window::Cumulative);
        assert_eq!(all.map(|x| x.met), Some(true));
    }

    #[test]
    fn slo_evaluation_of_an_empty_window_is_undefined() {
        let slo = Slo::new(ms(5), 0.9).expect("valid");
        assert_eq!(slo.evaluate(&stats(), TEN_S, Window::Cumulative), None);
        let s = hundred_ms_steps();
        assert_eq!(slo.evaluate(&s, secs(500.0), Window::Sliding(TEN_S)), None);
    }

    #[test]
    fn an_slo_target_must_be_a_fraction_above_zero() {
        for target in [0.0, -0.5, 1.01, f64::NAN] {
            let err = Slo::new(ms(5), target).expect_err("invalid target");
            assert!(err.to_string().contains("target"), "{err}");
        }
        assert!(Slo::new(ms(5), 1.0).is_ok());
    }

    #[test]
    fn thresholds_outside_the_data_give_exact_fractions() {
        let s = hundred_ms_steps();
        let f = |t| s.fraction_at_or_below(TEN_S, Window::Cumulative, t);
        assert_eq!(f(Duration::from_micros(999)), Some(0.0));
        assert_eq!(f(ms(1)), Some(0.01));
        assert_eq!(f(ms(100)), Some(1.0));
        assert_eq!(f(Duration::MAX), Some(1.0));
    }

    fn sorted(mut xs: Vec<f64>) -> Vec<f64> {
        xs.sort_by(f64::total_cmp);
        xs
    }

    proptest! {
        #[test]
        fn cumulative_quantiles_are_within_hdr_precision(
            nanos in prop::collection::vec(0u64..20_000_000_000, 1..400),
            q in 0.0f64..=1.0,
            digits in 1u8..=3,
        ) {
            let cfg = StatsConfig { windows: vec![], significant_digits: digits, ..StatsConfig::default() };
            let mut s = LatencyStats::new(&cfg).expect("valid");
            for &n in &nanos {
                s.record(TEN_S, Duration::from_nanos(n));
            }
            let exact = sorted(nanos.iter().map(|&n| Duration::from_nanos(n).as_secs_f64()).collect());
            let got = s.quantile(TEN_S, Window::Cumulative, q).expect("data");
            let want = exact_quantile(&exact, q);
            prop_assert!(within_precision(got, want, digits), "q {} got {} want {}", q, got, want);
            let sum = s.summary(TEN_S, Window::Cumulative).expect("data");
            for (got, q) in [(sum.p50, 0.5), (sum.p90, 0.9), (sum.p95, 0.95), (sum.p99, 0.99), (sum.p999, 0.999)] {
                let want = exact_quantile(&exact, q);
                prop_assert!(within_precision(got, want, digits), "q {} got {} want {}", q, got, want);
            }
            prop_assert_eq!(sum.min, exact[0]);
            prop_assert_eq!(sum.max, exact[exact.len() - 1]);
        }

        #[test]
        fn windowed_statistics_match_the_samples_the_window_covers(
            steps in prop::collection::vec((0u64..3_000_000_000, 0u64..2_000_000_000), 1..200),
            after in 0u64..12_000_000_000,
        ) {
            let mut s = stats();
            let mut at = 0u64;
            let mut samples = Vec::new();
            for &(gap, latency) in &steps {
                at += gap;
                s.record(Duration::from_nanos(at), Duration::from_nanos(latency));
                samples.push((at, Duration::from_nanos(latency).as_secs_f64()));
            }
            let now = at + after;
            // 10 s in 10 slots: the window starts at the 1 s boundary 9 slots before `now`'s.
            let start = (now / 1_000_000_000).saturating_sub(9) * 1_000_000_000;
            let inside = sorted(samples.iter().filter(|(t, _)| *t >= start).map(|(_, v)| *v).collect());
            let window = Window::Sliding(TEN_S);
            let summary = s.summary(Duration::from_nanos(now), window);
            prop_assert_eq!(summary.is_none(), inside.is_empty());
            if let Some(sum) = summary {
                prop_assert_eq!(sum.count, inside.len() as u64);
                let mean = inside.iter().sum::<f64>() / inside.len() as f64;
                prop_assert!((sum.mean - mean).abs() <= 1e-9 * mean.max(1.0));
                prop_assert_eq!((sum.min, sum.max), (inside[0], inside[inside.len() - 1]));
                for (got, q) in [(sum.p50, 0.5), (sum.p90, 0.9), (sum.p99, 0.99)] {
                    let want = exact_quantile(&inside, q);
                    prop_assert!(within_precision(got, want, 3), "q {} got {} want {}", q, got, want);
                }
            }
        }

        #[test]
        fn fractions_at_or_below_are_bounded_by_the_bucket_of_the_threshold(
            micros in prop::collection::vec(0u64..10_000_000, 1..300),
            threshold in 0u64..10_000_000,
        ) {
            let mut s = stats();
            for &m in &micros {
                s.record(TEN_S, Duration::from_micros(m));
            }
            let n = micros.len() as f64;
            let at_most = |t: f64| micros.iter().filter(|&&m| m as f64 <= t).count() as f64 / n;
            let t = threshold as f64;
            for window in [Window::Cumulative, Window::Sliding(TEN_S)] {
                let got = s.fraction_at_or_below(TEN_S, window, Duration::from_micros(threshold)).expect("data");
                prop_assert!(got >= at_most(t), "{} below exact {}", got, at_most(t));
                prop_assert!(got <= at_most(t * (1.0 + 1e-3)), "{} above bound {}", got, at_most(t * 1.001));
            }
        }

        #[test]
        fn arbitrary_inputs_never_panic(
            records in prop::collection::vec((any::<u64>(), any::<u64>(), any::<u32>()), 0..50),
            now in any::<u64>(),
            q in any::<f64>(),
        ) {
            let mut s = stats();
            for &(at, secs, nanos) in &records {
                s.record(Duration::from_nanos(at), Duration::new(secs, nanos % 1_000_000_000));
            }
            let now = Duration::from_nanos(now);
            for window in [Window::Cumulative, Window::Sliding(TEN_S), Window::Sliding(Duration::from_secs(300))] {
                let _ = s.summary(now, window);
                let _ = s.quantile(now, window, q);
                let _ = s.fraction_at_or_below(now, window, Duration::from_nanos(now.as_nanos() as u64 % 1_000_000));
            }
            prop_assert_eq!(s.count(), records.len() as u64);
        }
    }
}

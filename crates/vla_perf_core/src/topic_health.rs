//! Per-topic health: message rate, inter-arrival jitter, header-stamp age, bandwidth and
//! staleness, the figures `ros2 topic hz` / `ros2 topic bw` report, from receive times.
//!
//! A [`TopicHealth`] is a pure state machine: [`record`](TopicHealth::record) feeds it one
//! received message, [`snapshot`](TopicHealth::snapshot) reads its state at a caller-chosen
//! `now`. Everything is kept in the fixed-size statistics of [`crate::stats`], so memory
//! does not grow with the number of messages.
//!
//! The rate comes from [`RateMeter`], which reads a periodic stream exactly (the mean period
//! of the messages in its window, as `ros2 topic hz`) and decays once the stream stops (a
//! mean of recent gaps would freeze at its last value). Gaps and ages are durations, so
//! they go into [`LatencyStats`], whose mean and standard deviation are exact.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::stats::{LatencyStats, RateMeter, StatsConfig, StatsError, Summary, Window};

/// Sub-windows per window: the sliding window covers between 90% and 100% of its length.
const SLOTS: usize = 10;

/// Longest gap or age told apart; longer ones are recorded as this (a topic silent for an
/// hour is stale long before).
const MAX_TRACKED: Duration = Duration::from_secs(3600);

/// HDR precision of the gap and age quantiles (0.1%).
const SIGNIFICANT_DIGITS: u8 = 3;

/// Largest payload a message is counted with; larger ones count as this.
const MAX_MESSAGE_BYTES: u64 = u32::MAX as u64;

/// Expected periods of silence after which a topic with an expected rate is stale.
const STALE_PERIODS: f64 = 5.0;

/// Silence after which a topic without an expected rate is stale.
const DEFAULT_STALE_AFTER: Duration = Duration::from_secs(5);

/// Why a topic health configuration is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// The window cannot be split into its sub-windows of at least 1 ns (zero included).
    #[error("window = {value:?} must be at least {min:?}")]
    Window {
        /// The offending value.
        value: Duration,
        /// The shortest accepted window.
        min: Duration,
    },
    /// The expected rate is not a positive finite number.
    #[error("expected_rate_hz = {value} must be a positive finite number")]
    ExpectedRate {
        /// The offending value.
        value: f64,
    },
    /// The staleness timeout is zero.
    #[error("stale_after = {value:?} must be greater than zero")]
    StaleAfter {
        /// The offending value.
        value: Duration,
    },
    /// The rate tolerance is not a fraction in `[0, 1]`.
    #[error("rate_tolerance = {value} must be a fraction in [0, 1]")]
    RateTolerance {
        /// The offending value.
        value: f64,
    },
    /// The statistics refused the window (e.g. one too long for their ring).
    #[error("window = {window:?}: {source}")]
    Stats {
        /// The configured window.
        window: Duration,
        /// What the statistics objected to.
        #[source]
        source: StatsError,
    },
}

/// Result of this module's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Configuration of a [`TopicHealth`].
#[derive(Debug, Clone, PartialEq)]
pub struct TopicHealthConfig {
    /// Sliding window of the rate, gap, age and bandwidth figures.
    pub window: Duration,
    /// Rate the topic should arrive at; enables the rate warning and sets the default
    /// staleness timeout.
    pub expected_rate_hz: Option<f64>,
    /// Silence after which the topic is stale; `None` means five expected periods, or 5 s
    /// without an expected rate.
    pub stale_after: Option<Duration>,
    /// Fraction below the expected rate that still counts as healthy (0.2: warn under 80%).
    pub rate_tolerance: f64,
}

impl Default for TopicHealthConfig {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(10),
            expected_rate_hz: None,
            stale_after: None,
            rate_tolerance: 0.2,
        }
    }
}

impl TopicHealthConfig {
    /// Checks every field, naming the first invalid one and its value.
    pub fn validate(&self) -> Result<()> {
        let min = Duration::from_nanos(SLOTS as u64);
        if self.window < min {
            return Err(Error::Window {
                value: self.window,
                min,
            });
        }
        if let Some(value) = self.expected_rate_hz {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::ExpectedRate { value });
            }
        }
        if let Some(value) = self.stale_after.filter(Duration::is_zero) {
            return Err(Error::StaleAfter { value });
        }
        if !(0.0..=1.0).contains(&self.rate_tolerance) {
            return Err(Error::RateTolerance {
                value: self.rate_tolerance,
            });
        }
        Ok(())
    }

    /// The staleness timeout in force: the configured one, else five expected periods
    /// (at least 1 ns, at most [`Duration::MAX`]), else 5 s.
    pub fn effective_stale_after(&self) -> Duration {
        match (self.stale_after, self.expected_rate_hz) {
            (Some(d), _) => d,
            (None, Some(hz)) => Duration::try_from_secs_f64(STALE_PERIODS / hz)
                .unwrap_or(Duration::MAX)
                .max(Duration::from_nanos(1)),
            (None, None) => DEFAULT_STALE_AFTER,
        }
    }
}

/// How healthy a topic is, ordered from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Receiving, at the expected rate if one is set.
    Ok,
    /// Receiving, but below the expected rate by more than the tolerance.
    Warn,
    /// Nothing received for `stale_after`, or never.
    Stale,
}

impl HealthStatus {
    /// The `diagnostic_msgs/DiagnosticStatus` level: OK = 0, WARN = 1, STALE = 3.
    pub fn diagnostic_level(self) -> u8 {
        match self {
            HealthStatus::Ok => 0,
            HealthStatus::Warn => 1,
            HealthStatus::Stale => 3,
        }
    }
}

/// A topic's health at one instant; figures cover the configured window unless noted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopicSnapshot {
    /// Messages received since construction.
    pub messages: u64,
    /// Messages per second; `None` before two distinct receive times.
    pub rate_hz: Option<f64>,
    /// Gaps between consecutive receive times, in seconds.
    pub gaps: Option<Summary>,
    /// Standard deviation of the gaps in seconds; `None` below two gaps. Independent noise
    /// of deviation σ on each receive time gives √2·σ here.
    pub jitter: Option<f64>,
    /// Longest gap in seconds (the silence since the last message is not a gap yet).
    pub max_gap: Option<f64>,
    /// Receive time minus header stamp in seconds, for stamped messages not from the future.
    pub age: Option<Summary>,
    /// Payload bytes per second; `None` before the rate is known.
    pub bytes_per_second: Option<f64>,
    /// Messages whose header stamp lies after their receive time (clock skew between
    /// hosts); counted since construction, their ages are not recorded.
    pub future_stamps: u64,
    /// Messages received at a time earlier than one received before, since construction.
    pub out_of_order: u64,
    /// Latest receive time seen.
    pub last_received: Option<Duration>,
    /// Overall verdict.
    pub status: HealthStatus,
    /// One line saying why, for a diagnostic message or an alert.
    pub reason: String,
}

/// Health of one topic, fed with receive times.
#[derive(Debug, Clone)]
pub struct TopicHealth {
    cfg: TopicHealthConfig,
    stale_after: Duration,
    rate: RateMeter,
    bandwidth: RateMeter,
    gaps: LatencyStats,
    ages: LatencyStats,
    last_received: Option<Duration>,
    future_stamps: u64,
}

impl TopicHealth {
    /// A tracker for `cfg`, or an error naming the invalid field and its value.
    pub fn new(cfg: TopicHealthConfig) -> Result<Self> {
        cfg.validate()?;
        let window = cfg.window;
        let stats_error = |source| Error::Stats { window, source };
        let stats_cfg = StatsConfig {
            windows: vec![window],
            slots: SLOTS,
            significant_digits: SIGNIFICANT_DIGITS,
            max_value: MAX_TRACKED,
        };
        Ok(Self {
            stale_after: cfg.effective_stale_after(),
            rate: RateMeter::new(window, SLOTS).map_err(stats_error)?,
            bandwidth: RateMeter::new(window, SLOTS).map_err(stats_error)?,
            gaps: LatencyStats::new(&stats_cfg).map_err(stats_error)?,
            ages: LatencyStats::new(&stats_cfg).map_err(stats_error)?,
            last_received: None,
            future_stamps: 0,
            cfg,
        })
    }

    /// The configuration this tracker was built with.
    pub fn config(&self) -> &TopicHealthConfig {
        &self.cfg
    }

    /// The staleness timeout in force.
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }

    /// Records a message of `bytes` payload (counted as at most 4 GiB) received at
    /// `received_at`, with its header stamp if it has one (pass `None` for an unset, all-zero
    /// stamp: its age would be meaningless).
    pub fn record(&mut self, received_at: Duration, bytes: usize, header_stamp: Option<Duration>) {
        self.rate.record(received_at, 1);
        // CDR lengths are 32-bit, so no real message is larger; the cap also keeps the
        // window's byte total (ten slots) far from u64 overflow in the rate meter.
        let bytes = u64::try_from(bytes).map_or(MAX_MESSAGE_BYTES, |b| b.min(MAX_MESSAGE_BYTES));
        self.bandwidth.record(received_at, bytes);
        match self.last_received {
            None => self.last_received = Some(received_at),
            Some(last) => {
                // A late message has no gap of its own: the next in-order one is measured
                // from the latest receive time, so it does not shorten gaps either.
                if let Some(gap) = received_at.checked_sub(last) {
                    self.gaps.record(received_at, gap);
                    self.last_received = Some(received_at);
                }
            }
        }
        if let Some(stamp) = header_stamp {
            match received_at.checked_sub(stamp) {
                Some(age) => self.ages.record(received_at, age),
                None => self.future_stamps += 1,
            }
        }
    }

    /// The topic's health over the window ending at `now`.
    pub fn snapshot(&self, now: Duration) -> TopicSnapshot {
        let window = Window::Sliding(self.cfg.window);
        let rate_hz = self.rate.rate(now);
        let gaps = self.gaps.summary(now, window);
        // Zero-byte messages never reach the bandwidth meter; if nothing else did, the
        // bandwidth is known to be zero as soon as the rate is known.
        let bytes_per_second = self.bandwidth.rate(now).or_else(|| rate_hz.map(|_| 0.0));
        let (status, reason) = self.verdict(now, rate_hz);
        TopicSnapshot {
            messages: self.rate.total(),
            rate_hz,
            jitter: gaps.filter(|g| g.count >= 2).map(|g| g.stddev),
            max_gap: gaps.map(|g| g.max),
            gaps,
            age: self.ages.summary(now, window),
            bytes_per_second,
            future_stamps: self.future_stamps,
            out_of_order: self.rate.out_of_order(),
            last_received: self.last_received,
            status,
            reason,
        }
    }

    /// Why the topic is stale at `now` (never received, or silent for `stale_after`), if it is.
    pub fn staleness(&self, now: Duration) -> Option<String> {
        let Some(last) = self.last_received else {
            return Some("no message received".to_owned());
        };
        // A `now` before the last message (clocks stepping back) reads as no silence.
        let silence = now.saturating_sub(last);
        (silence >= self.stale_after).then(|| {
            format!(
                "no message for {:.3} s (stale after {:.3} s)",
                silence.as_secs_f64(),
                self.stale_after.as_secs_f64()
            )
        })
    }

    fn verdict(&self, now: Duration, rate_hz: Option<f64>) -> (HealthStatus, String) {
        if let Some(reason) = self.staleness(now) {
            return (HealthStatus::Stale, reason);
        }
        let Some(rate) = rate_hz else {
            return (HealthStatus::Ok, "receiving; rate not known yet".to_owned());
        };
        if let Some(expected) = self.cfg.expected_rate_hz {
            let floor = expected * (1.0 - self.cfg.rate_tolerance);
            if rate < floor {
                let reason = format!(
                    "rate {rate:.2} Hz is below {floor:.2} Hz ({expected:.2} Hz expected, {:.0}% tolerance)",
                    self.cfg.rate_tolerance * 100.0
                );
                return (HealthStatus::Warn, reason);
            }
        }
        (HealthStatus::Ok, format!("receiving at {rate:.2} Hz"))
    }

    /// Bytes this tracker holds now.
    pub fn footprint_bytes(&self) -> usize {
        Self::FIXED_BYTES + self.gaps.footprint_bytes() + self.ages.footprint_bytes()
    }

    /// The most bytes this tracker can ever hold, fixed by its configuration.
    pub fn max_footprint_bytes(&self) -> usize {
        Self::FIXED_BYTES + self.gaps.max_footprint_bytes() + self.ages.max_footprint_bytes()
    }

    /// This struct plus the two rate meters' rings (a count and an epoch per slot).
    const FIXED_BYTES: usize = std::mem::size_of::<Self>()
        + 2 * SLOTS * (std::mem::size_of::<u64>() + std::mem::size_of::<Option<u128>>());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const TEN_S: Duration = Duration::from_secs(10);
    const MEGABYTE: usize = 1_000_000;

    fn secs(v: f64) -> Duration {
        Duration::from_secs_f64(v)
    }

    fn health(expected_rate_hz: Option<f64>) -> TopicHealth {
        TopicHealth::new(TopicHealthConfig {
            expected_rate_hz,
            ..TopicHealthConfig::default()
        })
        .expect("valid config")
    }

    /// Deterministic uniform noise (xorshift64), so failures reproduce.
    struct Noise(u64);

    impl Noise {
        /// A whole number of nanoseconds in `[-half_width, half_width]`.
        fn uniform(&mut self, half_width: i64) -> i64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % (2 * half_width as u64 + 1)) as i64 - half_width
        }
    }

    /// Receive times of a `hz` stream starting at `start_ns` for `seconds`, each moved by
    /// `jitter(k)` nanoseconds.
    fn stream(
        hz: f64,
        start_ns: u64,
        seconds: f64,
        mut jitter: impl FnMut(u64) -> i64,
    ) -> Vec<Duration> {
        let n = (seconds * hz).round() as u64;
        (0..n)
            .map(|k| {
                let ideal = start_ns as i64 + (k as f64 * 1e9 / hz).round() as i64;
                Duration::from_nanos((ideal + jitter(k)) as u64)
            })
            .collect()
    }

    /// Start of the span the 10 s window of 10 slots covers at `now`.
    fn covered_start(now: Duration) -> Duration {
        Duration::from_secs(now.as_secs().saturating_sub(9))
    }

    /// Exact population mean and standard deviation.
    fn mean_stddev(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var.sqrt())
    }

    /// Gaps (receive time, gap in s) of consecutive `times`.
    fn gaps_of(times: &[Duration]) -> Vec<(Duration, f64)> {
        times
            .windows(2)
            .map(|w| (w[1], (w[1] - w[0]).as_secs_f64()))
            .collect()
    }

    /// Worst relative errors of rate and bandwidth for a stream of `bytes`-sized messages at
    /// `times`, snapshotted every 97 ms between arrivals from `settle` after the first:
    /// `(warm-up rate, full-window rate, bandwidth over both)`.
    fn worst_rate_errors(times: &[Duration], hz: f64, bytes: usize, settle: f64) -> [f64; 3] {
        let mut h = health(Some(hz));
        let start = times[0];
        let mut next_query = start + secs(settle);
        let mut worst = [0.0f64; 3];
        for (k, &at) in times.iter().enumerate() {
            h.record(at, bytes, None);
            let next = times.get(k + 1).copied().unwrap_or(at + secs(0.5 / hz));
            while next_query < next {
                if next_query >= at {
                    let snap = h.snapshot(next_query);
                    let rate = snap.rate_hz.expect("two messages");
                    let full = next_query - start >= TEN_S;
                    let err = (rate / hz - 1.0).abs();
                    worst[usize::from(full)] = worst[usize::from(full)].max(err);
                    let bw = snap.bytes_per_second.expect("rate known");
                    worst[2] = worst[2].max((bw / (hz * bytes as f64) - 1.0).abs());
                    assert_eq!(snap.status, HealthStatus::Ok, "{}", snap.reason);
                }
                next_query += secs(0.097);
            }
        }
        worst
    }

    #[test]
    fn a_thirty_hertz_stream_reads_within_half_a_percent_from_its_second_message() {
        let times = stream(30.0, 1_234_567_890, 25.0, |_| 0);
        let mut h = health(Some(30.0));
        let mut worst: f64 = 0.0;
        for (k, &at) in times.iter().enumerate() {
            h.record(at, 100, None);
            if k >= 1 {
                // Anywhere between this arrival and the next.
                let now = at + secs((k % 7) as f64 / 7.0 / 30.0);
                let rate = h.snapshot(now).rate_hz.expect("two messages");
                worst = worst.max((rate / 30.0 - 1.0).abs());
            }
        }
        println!("30 Hz clean: worst rate error {:.4}%", worst * 100.0);
        assert!(worst <= 0.005, "{worst}");
    }

    #[test]
    fn a_jittery_thirty_hertz_stream_of_megabyte_messages_reads_within_half_a_percent() {
        let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
        let times = stream(30.0, 7_000_000_000, 25.0, |_| noise.uniform(1_000_000));
        let [warm, full, bw] = worst_rate_errors(&times, 30.0, MEGABYTE, 0.5);
        println!(
            "30 Hz ±1 ms, 1 MB: worst rate error {:.4}% warm-up (from 0.5 s), {:.4}% full window, \
             bandwidth {:.4}%",
            warm * 100.0,
            full * 100.0,
            bw * 100.0
        );
        assert!(
            warm <= 0.005 && full <= 0.005 && bw <= 0.005,
            "{warm} {full} {bw}"
        );
    }

    #[test]
    fn a_kilohertz_stream_reads_within_half_a_percent() {
        let times = stream(1000.0, 3_000_000_001, 25.0, |_| 0);
        let [warm, full, bw] = worst_rate_errors(&times, 1000.0, 64, 0.002);
        let mut noise = Noise(42);
        let jittery = stream(1000.0, 3_000_000_001, 25.0, |_| noise.uniform(100_000));
        let [jwarm, jfull, _] = worst_rate_errors(&jittery, 1000.0, 64, 0.1);
        println!(
            "1 kHz: worst rate error {:.4}% warm-up (from 2 ms), {:.4}% full, bandwidth {:.4}%; \
             with ±0.1 ms jitter {:.4}% warm-up (from 0.1 s), {:.4}% full",
            warm * 100.0,
            full * 100.0,
            bw * 100.0,
            jwarm * 100.0,
            jfull * 100.0
        );
        for err in [warm, full, bw, jwarm, jfull] {
            assert!(err <= 0.005, "{err}");
        }
    }

    /// Feeds `times` and checks jitter, mean gap and max gap against the exact figures of
    /// the gaps the window covers; returns the jitter and its relative error.
    fn check_jitter(times: &[Duration]) -> (f64, f64) {
        let mut h = health(None);
        for &at in times {
            h.record(at, 10, None);
        }
        let now = *times.last().expect("messages") + secs(0.01);
        let start = covered_start(now);
        let exact: Vec<f64> = gaps_of(times)
            .into_iter()
            .filter(|(at, _)| *at >= start)
            .map(|(_, g)| g)
            .collect();
        let (mean, stddev) = mean_stddev(&exact);
        let snap = h.snapshot(now);
        let gaps = snap.gaps.expect("gaps");
        let jitter = snap.jitter.expect("gaps");
        assert_eq!(gaps.count, exact.len() as u64);
        assert!((gaps.mean - mean).abs() <= 1e-12, "{} vs {mean}", gaps.mean);
        let max = exact.iter().copied().fold(0.0, f64::max);
        assert_eq!(snap.max_gap, Some(max));
        let err = (jitter / stddev - 1.0).abs();
        assert!(err <= 0.05, "jitter {jitter} vs exact {stddev}");
        (jitter, err)
    }

    #[test]
    fn jitter_matches_the_exact_deviation_of_injected_gaps() {
        // ±1 ms alternating: gaps alternate T + 2 ms and T - 2 ms, a deviation of 2 ms.
        let alternating = stream(30.0, 5_500_000_000, 20.0, |k| {
            if k % 2 == 0 {
                1_000_000
            } else {
                -1_000_000
            }
        });
        let (alt, alt_err) = check_jitter(&alternating);
        assert!((alt / 0.002 - 1.0).abs() <= 1e-3, "{alt}");
        // Uniform ±1 ms: compared with the exact deviation of the gaps injected.
        let mut noise = Noise(0xdead_beef);
        let uniform = stream(30.0, 5_500_000_000, 20.0, |_| noise.uniform(1_000_000));
        let (uni, uni_err) = check_jitter(&uniform);
        // Also near the population figure: gaps of uniform ±1 ms noise deviate by √(2/3) ms.
        let theory = (2.0f64 / 3.0).sqrt() * 1e-3;
        assert!((uni / theory - 1.0).abs() <= 0.05, "{uni} vs {theory}");
        let mut noise = Noise(7);
        let fast = stream(1000.0, 5_500_000_000, 20.0, |_| noise.uniform(100_000));
        let (fast, fast_err) = check_jitter(&fast);
        println!(
            "jitter: alternating ±1 ms {:.6} ms (rel err {alt_err:.1e}), uniform ±1 ms {:.6} ms \
             (rel err {uni_err:.1e}), 1 kHz uniform ±0.1 ms {:.6} ms (rel err {fast_err:.1e})",
            alt * 1e3,
            uni * 1e3,
            fast * 1e3
        );
    }

    #[test]
    fn jitter_needs_two_gaps() {
        let mut h = health(None);
        h.record(secs(1.0), 1, None);
        assert_eq!(h.snapshot(secs(1.0)).jitter, None);
        h.record(secs(1.1), 1, None);
        let snap = h.snapshot(secs(1.1));
        assert_eq!((snap.jitter, snap.gaps.map(|g| g.count)), (None, Some(1)));
        h.record(secs(1.3), 1, None);
        let jitter = h.snapshot(secs(1.3)).jitter.expect("two gaps");
        assert!((jitter - 0.05).abs() < 1e-9, "{jitter}");
    }

    #[test]
    fn the_age_summary_matches_injected_header_delays() {
        let times = stream(30.0, 2_000_000_000, 20.0, |_| 0);
        // Delays of 20 ms to 80 ms in whole microseconds, scrambled.
        let delay = |k: usize| Duration::from_micros(20_000 + (k as u64 * 7919) % 60_000);
        let mut h = health(Some(30.0));
        for (k, &at) in times.iter().enumerate() {
            h.record(at, 10, Some(at - delay(k)));
        }
        let now = *times.last().expect("messages") + secs(0.01);
        let start = covered_start(now);
        let mut exact: Vec<f64> = (0..times.len())
            .filter(|&k| times[k] >= start)
            .map(|k| delay(k).as_secs_f64())
            .collect();
        exact.sort_by(f64::total_cmp);
        let age = h.snapshot(now).age.expect("stamped messages");
        let (mean, stddev) = mean_stddev(&exact);
        assert_eq!(age.count, exact.len() as u64);
        assert!((age.mean - mean).abs() <= 1e-12, "{} vs {mean}", age.mean);
        assert!(
            (age.stddev - stddev).abs() <= 1e-9,
            "{} vs {stddev}",
            age.stddev
        );
        assert_eq!((age.min, age.max), (exact[0], exact[exact.len() - 1]));
        let rank = |q: f64| exact[((q * exact.len() as f64).ceil() as usize).max(1) - 1];
        let mut worst: f64 = 0.0;
        for (got, q) in [(age.p50, 0.5), (age.p90, 0.9), (age.p99, 0.99)] {
            let want = rank(q);
            assert!(
                (got - want).abs() <= want * 1e-3 + 1e-6,
                "p{q}: {got} vs {want}"
            );
            worst = worst.max((got / want - 1.0).abs());
        }
        println!(
            "age over {} messages: mean {:.6} s (exact {mean:.6}), worst quantile rel err {worst:.1e}",
            age.count, age.mean
        );
    }

    #[test]
    fn a_stamp_in_the_future_is_counted_not_recorded_as_an_age() {
        let mut h = health(None);
        h.record(secs(10.0), 1, Some(secs(10.5)));
        h.record(secs(10.1), 1, Some(secs(10.1)));
        h.record(secs(10.2), 1, None);
        let snap = h.snapshot(secs(10.2));
        assert_eq!(snap.future_stamps, 1);
        let age = snap.age.expect("one valid stamp");
        assert_eq!((age.count, age.max), (1, 0.0));
        assert_eq!(snap.messages, 3);
    }

    #[test]
    fn a_topic_never_received_is_stale() {
        let snap = health(Some(30.0)).snapshot(secs(100.0));
        assert_eq!(snap.status, HealthStatus::Stale);
        assert_eq!(snap.reason, "no message received");
        assert_eq!(
            (snap.messages, snap.rate_hz, snap.last_received),
            (0, None, None)
        );
        assert_eq!(
            (snap.bytes_per_second, snap.age, snap.gaps),
            (None, None, None)
        );
    }

    #[test]
    fn a_stream_that_stops_becomes_stale_after_five_periods_and_its_rate_decays() {
        let mut h = health(Some(30.0));
        let stale_after = h.stale_after();
        assert_eq!(stale_after, Duration::from_nanos(166_666_667));
        let times = stream(30.0, 0, 20.0, |_| 0);
        for &at in &times {
            h.record(at, MEGABYTE, None);
        }
        let last = *times.last().expect("messages");
        let live = h.snapshot(last);
        assert_eq!(live.status, HealthStatus::Ok, "{}", live.reason);
        let just_before = h.snapshot(last + stale_after - Duration::from_nanos(1));
        assert_eq!(
            just_before.status,
            HealthStatus::Ok,
            "{}",
            just_before.reason
        );
        let stale = h.snapshot(last + stale_after);
        assert_eq!(stale.status, HealthStatus::Stale);
        assert!(
            stale.reason.starts_with("no message for 0.167 s"),
            "{}",
            stale.reason
        );
        let rate_at = |after: f64| h.snapshot(last + secs(after)).rate_hz.expect("messages");
        let decay: Vec<f64> = [0.0, 2.0, 5.0, 8.0, 11.0].map(rate_at).into();
        println!("30 Hz stream after stopping, at +0/2/5/8/11 s: {decay:?} Hz");
        assert!(decay.windows(2).all(|w| w[1] < w[0]), "{decay:?}");
        assert!(decay[2] < 0.6 * decay[0], "{decay:?}");
        assert_eq!(decay[4], 0.0);
        let gone = h.snapshot(last + secs(11.0));
        assert_eq!(gone.bytes_per_second, Some(0.0));
        assert_eq!(gone.status, HealthStatus::Stale);
    }

    #[test]
    fn a_short_burst_that_stops_decays_during_warm_up() {
        let mut h = health(None);
        for &at in &stream(30.0, 0, 1.0, |_| 0) {
            h.record(at, 1, None);
        }
        let early = h.snapshot(secs(1.0)).rate_hz.expect("messages");
        let later = h.snapshot(secs(4.0)).rate_hz.expect("messages");
        assert!((early / 30.0 - 1.0).abs() < 0.005, "{early}");
        assert!(later < early / 3.0, "{later}");
        assert_eq!(h.snapshot(secs(4.0)).status, HealthStatus::Ok);
        assert_eq!(h.snapshot(secs(6.0)).status, HealthStatus::Stale);
    }

    #[test]
    fn a_rate_below_the_tolerance_warns_and_one_within_it_does_not() {
        let run = |hz: f64| {
            let mut h = health(Some(30.0));
            for &at in &stream(hz, 0, 3.0, |_| 0) {
                h.record(at, 1, None);
            }
            h.snapshot(secs(3.0) - secs(0.5 / hz))
        };
        let slow = run(20.0);
        assert_eq!(slow.status, HealthStatus::Warn);
        assert_eq!(
            slow.reason,
            "rate 20.00 Hz is below 24.00 Hz (30.00 Hz expected, 20% tolerance)"
        );
        assert_eq!(slow.status.diagnostic_level(), 1);
        let fine = run(25.0);
        assert_eq!(fine.status, HealthStatus::Ok);
        assert_eq!(fine.reason, "receiving at 25.00 Hz");
        // Without an expected rate any rate is fine.
        let mut h = health(None);
        for &at in &stream(1.0, 0, 3.0, |_| 0) {
            h.record(at, 1, None);
        }
        assert_eq!(h.snapshot(secs(2.5)).status, HealthStatus::Ok);
    }

    #[test]
    fn one_message_is_healthy_until_stale_but_has_no_rate() {
        let mut h = health(Some(30.0));
        h.record(secs(1.0), 5, None);
        let snap = h.snapshot(secs(1.1));
        assert_eq!((snap.status, snap.rate_hz), (HealthStatus::Ok, None));
        assert_eq!(snap.bytes_per_second, None);
        assert_eq!(h.snapshot(secs(1.2)).status, HealthStatus::Stale);
    }

    #[test]
    fn time_going_backwards_is_counted_and_never_panics() {
        let mut h = health(Some(10.0));
        h.record(secs(10.0), 1, Some(secs(9.9)));
        h.record(secs(5.0), 1, Some(secs(4.0)));
        h.record(secs(10.5), 1, None);
        h.record(Duration::ZERO, 1, Some(Duration::MAX));
        let snap = h.snapshot(secs(10.5));
        assert_eq!((snap.messages, snap.out_of_order), (4, 2));
        assert_eq!(snap.last_received, Some(secs(10.5)));
        // Late messages have no gap; the in-order one is measured from the latest before it.
        assert_eq!(snap.gaps.map(|g| g.count), Some(1));
        assert_eq!(snap.max_gap, Some(0.5));
        assert_eq!(snap.future_stamps, 1);
        // A `now` before the last message reads as no silence at all.
        let earlier = h.snapshot(secs(1.0));
        assert_ne!(earlier.status, HealthStatus::Stale, "{}", earlier.reason);
        assert!(earlier.rate_hz.is_some_and(|r| r.is_finite() && r >= 0.0));
    }

    #[test]
    fn zero_byte_messages_have_zero_bandwidth() {
        let mut h = health(None);
        for &at in &stream(10.0, 0, 2.0, |_| 0) {
            h.record(at, 0, None);
        }
        assert_eq!(h.snapshot(secs(2.0)).bytes_per_second, Some(0.0));
    }

    #[test]
    fn each_invalid_config_field_is_named_in_the_error() {
        let with = |f: fn(&mut TopicHealthConfig)| {
            let mut cfg = TopicHealthConfig::default();
            f(&mut cfg);
            cfg
        };
        let cases = [
            (with(|c| c.window = Duration::ZERO), "window = 0ns"),
            (
                with(|c| c.window = Duration::from_nanos(9)),
                "window = 9ns must be at least 10ns",
            ),
            (
                with(|c| c.expected_rate_hz = Some(f64::NAN)),
                "expected_rate_hz = NaN",
            ),
            (
                with(|c| c.expected_rate_hz = Some(-1.0)),
                "expected_rate_hz = -1",
            ),
            (
                with(|c| c.expected_rate_hz = Some(0.0)),
                "expected_rate_hz = 0",
            ),
            (
                with(|c| c.expected_rate_hz = Some(f64::INFINITY)),
                "expected_rate_hz = inf",
            ),
            (
                with(|c| c.stale_after = Some(Duration::ZERO)),
                "stale_after = 0ns",
            ),
            (with(|c| c.rate_tolerance = 1.5), "rate_tolerance = 1.5"),
            (with(|c| c.rate_tolerance = -0.1), "rate_tolerance = -0.1"),
            (
                with(|c| c.rate_tolerance = f64::NAN),
                "rate_tolerance = NaN",
            ),
        ];
        for (cfg, expected) in cases {
            let err = TopicHealth::new(cfg).expect_err("invalid");
            assert!(
                err.to_string().contains(expected),
                "{err} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn the_staleness_timeout_defaults_to_five_periods_or_five_seconds() {
        let stale = |expected_rate_hz, stale_after| {
            TopicHealthConfig {
                expected_rate_hz,
                stale_after,
                ..TopicHealthConfig::default()
            }
            .effective_stale_after()
        };
        assert_eq!(stale(None, None), secs(5.0));
        assert_eq!(stale(Some(1000.0), None), Duration::from_millis(5));
        assert_eq!(stale(Some(30.0), Some(secs(1.0))), secs(1.0));
        assert_eq!(stale(Some(1e-300), None), Duration::MAX);
        assert_eq!(stale(Some(1e300), None), Duration::from_nanos(1));
    }

    #[test]
    fn the_shortest_and_longest_windows_build_and_report() {
        for window in [Duration::from_nanos(10), Duration::MAX] {
            let mut h = TopicHealth::new(TopicHealthConfig {
                window,
                ..TopicHealthConfig::default()
            })
            .expect("valid window");
            h.record(secs(1.0), 10, Some(secs(0.5)));
            h.record(secs(2.0), 10, Some(secs(1.5)));
            let snap = h.snapshot(secs(2.0));
            assert_eq!(snap.messages, 2, "{window:?}");
            assert!(snap.rate_hz.is_some_and(f64::is_finite), "{window:?}");
        }
    }

    #[test]
    fn memory_stays_fixed_however_many_messages_arrive() {
        let mut h = health(Some(1000.0));
        let bound = h.max_footprint_bytes();
        let mut sizes = vec![h.footprint_bytes()];
        let mut noise = Noise(99);
        for round in 0..3u64 {
            let start = round * 100_000_000_000;
            for (k, at) in stream(1000.0, start, 100.0, |_| noise.uniform(200_000))
                .into_iter()
                .enumerate()
            {
                let delay = Duration::from_micros(k as u64 * 7919 % 500_000);
                h.record(at, k % 4096, at.checked_sub(delay));
            }
            sizes.push(h.footprint_bytes());
        }
        println!("TopicHealth footprint {sizes:?} bytes, bound {bound}");
        assert_eq!(h.snapshot(secs(300.0)).messages, 300_000);
        assert!(sizes.iter().all(|&b| b <= bound), "{sizes:?} over {bound}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_events_never_panic_and_rates_stay_finite(
            window_ns in 10u64..200_000_000_000,
            expected in prop::option::of(1e-6f64..1e6),
            tolerance in 0.0f64..=1.0,
            events in prop::collection::vec(
                (any::<u64>(), 0u64..30_000_000_000, any::<usize>(),
                 prop::option::of(any::<u64>()), any::<bool>()),
                0..60,
            ),
        ) {
            let cfg = TopicHealthConfig {
                window: Duration::from_nanos(window_ns),
                expected_rate_hz: expected,
                stale_after: None,
                rate_tolerance: tolerance,
            };
            let mut h = TopicHealth::new(cfg).expect("valid config");
            let mut t = 0u64;
            for (i, &(wild, step, bytes, stamp, query)) in events.iter().enumerate() {
                // Mostly forward steps, every third event anywhere at all.
                t = if i % 3 == 2 { wild } else { t.saturating_add(step) };
                let at = Duration::from_nanos(t);
                h.record(at, bytes, stamp.map(Duration::from_nanos));
                let now = if query { Duration::from_nanos(wild) } else { at };
                let snap = h.snapshot(now);
                prop_assert_eq!(snap.messages, i as u64 + 1);
                for v in [snap.rate_hz, snap.bytes_per_second, snap.jitter, snap.max_gap]
                    .into_iter()
                    .flatten()
                {
                    prop_assert!(v.is_finite() && v >= 0.0, "{:?}", snap);
                }
                prop_assert!(!snap.reason.is_empty());
            }
            let never = TopicHealth::new(h.config().clone()).expect("valid config");
            prop_assert_eq!(never.snapshot(Duration::MAX).status, HealthStatus::Stale);
        }
    }
}

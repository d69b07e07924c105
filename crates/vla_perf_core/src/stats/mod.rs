//! Streaming statistics: latency histograms over sliding windows, SLOs, counters, gauges,
//! event rates and distributions of other non-negative values.
//!
//! Every type here has fixed memory, set at construction from its configuration: samples go
//! into HDR histograms (cumulative, plus one ring of sub-histograms per sliding window) and
//! exact running moments, never into growing buffers. Time is an argument: `at` stamps a
//! record and drives window rotation, `now` says where a queried window ends.
//!
//! # Sliding windows
//! A window of length `W` with `S` slots is a ring of `S` sub-windows of `W / S` each. A query
//! at `now` merges the sub-window containing `now` and the `S - 1` before it, so the data it
//! sees spans between `(S - 1) / S * W` and `W`. Advancing `now` drops old sub-windows; a
//! jump further than `W` drops them all.
//!
//! # Exact and approximate figures
//! `count`, `mean`, `stddev` (population), `min` and `max` are exact running figures (Welford,
//! merged per sub-window with Chan's formula). Quantiles come from the HDR histogram with
//! relative error at most `10^-significant_digits` plus one quantisation unit (1 µs for
//! latencies), and are clamped into the exact `[min, max]`. Quantiles use the nearest-rank
//! definition: the value of rank `max(1, ceil(q * n))` in sorted order.

mod distribution;
mod latency;
mod rate;
mod recorder;
pub(crate) mod ring;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use distribution::{Distribution, DistributionConfig};
pub use latency::{LatencyStats, Slo, SloStatus};
pub use rate::{Counter, Gauge, RateMeter};

/// Why a statistics configuration is invalid.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// A window is shorter than one nanosecond per slot (zero included).
    #[error("{field} = {window:?} is too short to split into {slots} slots of at least 1 ns")]
    WindowTooShort {
        /// The offending field, e.g. `windows[1]`.
        field: String,
        /// The window length.
        window: Duration,
        /// Slots the window was to be split into.
        slots: usize,
    },
    /// The same window length appears twice, which would make [`Window::Sliding`] ambiguous.
    #[error("{field} = {window:?} repeats an earlier window")]
    DuplicateWindow {
        /// The offending field, e.g. `windows[2]`.
        field: String,
        /// The repeated window length.
        window: Duration,
    },
    /// The number of slots per window is outside `1..=MAX_SLOTS`.
    #[error("slots = {value} must be between 1 and {max}")]
    Slots {
        /// The offending value.
        value: usize,
        /// The largest accepted value.
        max: usize,
    },
    /// The significant digits are outside `1..=5`, the range HDR histograms support.
    #[error("significant_digits = {value} must be between 1 and 5")]
    SignificantDigits {
        /// The offending value.
        value: u8,
    },
    /// The highest trackable latency is below 2 µs or beyond what a histogram can hold.
    #[error("max_value = {value:?} must be between 2 µs and {max:?}")]
    MaxLatency {
        /// The offending value.
        value: Duration,
        /// The largest accepted value.
        max: Duration,
    },
    /// A distribution's resolution is not a positive finite number.
    #[error("resolution = {value} must be a positive finite number")]
    Resolution {
        /// The offending value.
        value: f64,
    },
    /// A distribution's highest trackable value is not at least twice its resolution, or
    /// spans more resolution units than a histogram can count.
    #[error(
        "max_value = {value} must be finite and between 2 and 2^62 times resolution = {resolution}"
    )]
    MaxValue {
        /// The offending value.
        value: f64,
        /// The configured resolution.
        resolution: f64,
    },
    /// The histograms the configuration asks for would exceed the memory cap per metric.
    #[error("significant_digits = {digits} with {histograms} histograms needs {bytes} bytes, over the {limit} byte limit per metric; lower significant_digits, slots or max_value")]
    TooLarge {
        /// Significant digits asked for.
        digits: u8,
        /// Histograms the configuration needs (cumulative plus slots per window).
        histograms: usize,
        /// Bytes they would take.
        bytes: usize,
        /// The cap.
        limit: usize,
    },
    /// A window spans more sub-windows of the shared ring than allowed: the shortest
    /// window's slots set the sub-window width, and every window is cut into those.
    #[error("{field} = {window:?} needs {slots} sub-windows of the shortest window's slot width, more than {max}; use fewer slots or closer window lengths")]
    WindowSpan {
        /// The offending field, e.g. `windows[2]`.
        field: String,
        /// The window length.
        window: Duration,
        /// Sub-windows it would need.
        slots: usize,
        /// The most allowed.
        max: usize,
    },
    /// An event-rate window is zero or shorter than its slots.
    #[error("window = {window:?} is too short to split into {slots} slots of at least 1 ns")]
    RateWindow {
        /// The window length.
        window: Duration,
        /// Slots it was to be split into.
        slots: usize,
    },
    /// An SLO target is not a fraction in `(0, 1]`.
    #[error("SLO target = {value} must be a fraction in (0, 1]")]
    SloTarget {
        /// The offending value.
        value: f64,
    },
}

/// Result of this module's fallible operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// This module's [`Error`] under a name that reads well outside it.
pub type StatsError = Error;

/// Most slots one sliding window may have.
pub const MAX_SLOTS: usize = 1000;
/// Most sub-windows the shared ring of a statistic may hold (all sliding windows together).
pub const MAX_RING_SLOTS: usize = 10_000;

/// Most bytes the histograms of one metric may take (256 MiB).
pub const MAX_HISTOGRAM_BYTES: usize = 256 << 20;

/// Configuration of a [`LatencyStats`].
#[derive(Debug, Clone, PartialEq)]
pub struct StatsConfig {
    /// Sliding windows to keep besides the cumulative histogram.
    pub windows: Vec<Duration>,
    /// Sub-windows per sliding window; more slots make the window edge sharper and cost memory.
    pub slots: usize,
    /// HDR precision: quantiles are within `10^-significant_digits` relative error.
    pub significant_digits: u8,
    /// Highest trackable latency; larger ones are clamped to it and counted.
    pub max_value: Duration,
}

impl Default for StatsConfig {
    fn default() -> Self {
        Self {
            windows: vec![
                Duration::from_secs(10),
                Duration::from_secs(60),
                Duration::from_secs(300),
            ],
            slots: 10,
            significant_digits: 3,
            max_value: Duration::from_secs(3600),
        }
    }
}

/// Which span of samples a query covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Window {
    /// Everything recorded since construction.
    Cumulative,
    /// The sliding window of this length ending at the query's `now`; it must be configured.
    Sliding(Duration),
}

/// Summary of a window of samples, in SI units (seconds for latencies).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Samples in the window.
    pub count: u64,
    /// Exact arithmetic mean.
    pub mean: f64,
    /// Exact population standard deviation.
    pub stddev: f64,
    /// Exact smallest sample.
    pub min: f64,
    /// Exact largest sample.
    pub max: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
}

//! A time window of one series' observations and the aggregations a rule applies to it.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Aggregation;

/// One observation of a series: a summary of what the publisher measured at one moment.
///
/// A plain value (CPU percent) has every statistic equal; a summary (stage latency over the
/// collector's window) carries its own mean, extremes and percentiles, and an aggregation
/// reduces like with like: `max` takes the largest `max`, `p95` the 95th percentile of
/// the `p95`s.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Mean.
    pub mean: f64,
    /// Smallest sample.
    pub min: f64,
    /// Largest sample.
    pub max: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
}

impl Stats {
    /// A single value: every statistic equal to it.
    pub fn scalar(value: f64) -> Self {
        Self {
            mean: value,
            min: value,
            max: value,
            p50: value,
            p90: value,
            p95: value,
            p99: value,
        }
    }

    /// Whether every statistic is a finite number (what a window accepts).
    pub fn is_finite(&self) -> bool {
        [
            self.mean, self.min, self.max, self.p50, self.p90, self.p95, self.p99,
        ]
        .iter()
        .all(|v| v.is_finite())
    }

    /// The statistic an aggregation reduces.
    fn pick(&self, aggregation: Aggregation) -> f64 {
        match aggregation {
            Aggregation::Mean | Aggregation::Rate | Aggregation::Last => self.mean,
            Aggregation::Max => self.max,
            Aggregation::Min => self.min,
            Aggregation::P50 => self.p50,
            Aggregation::P90 => self.p90,
            Aggregation::P95 => self.p95,
            Aggregation::P99 => self.p99,
        }
    }
}

/// Why a window refused an observation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// A statistic is NaN or infinite.
    #[error("observation with a non-finite statistic")]
    NotFinite,
    /// Older than the newest observation already held.
    #[error("observation older than the newest one in the window")]
    OutOfOrder,
}

/// The observations of one series within `span` of the newest evaluation time.
#[derive(Debug, Clone)]
pub struct SeriesWindow {
    span: Duration,
    samples: VecDeque<(Duration, Stats)>,
}

impl SeriesWindow {
    /// An empty window covering `span`.
    pub fn new(span: Duration) -> Self {
        Self {
            span,
            samples: VecDeque::new(),
        }
    }

    /// Adds an observation taken at `at`; observations must come in time order.
    pub fn push(&mut self, at: Duration, stats: Stats) -> Result<(), Rejected> {
        if !stats.is_finite() {
            return Err(Rejected::NotFinite);
        }
        if self.samples.back().is_some_and(|(last, _)| at < *last) {
            return Err(Rejected::OutOfOrder);
        }
        self.samples.push_back((at, stats));
        Ok(())
    }

    /// Forgets observations older than `now - span`.
    pub fn evict(&mut self, now: Duration) {
        let Some(start) = now.checked_sub(self.span) else {
            return;
        };
        while self.samples.front().is_some_and(|(at, _)| *at < start) {
            self.samples.pop_front();
        }
    }

    /// Observations held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether the window holds nothing.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Time of the newest observation.
    pub fn newest(&self) -> Option<Duration> {
        self.samples.back().map(|(at, _)| *at)
    }

    /// The aggregation over the window ending at `now`; `None` when it holds nothing.
    pub fn aggregate(&mut self, now: Duration, aggregation: Aggregation) -> Option<f64> {
        self.evict(now);
        aggregate(self.samples.iter().map(|(_, s)| s), aggregation, self.span)
    }
}

/// Reduces `samples` (oldest first) over a window of `span`; `None` for no samples.
pub fn aggregate<'a>(
    samples: impl Iterator<Item = &'a Stats>,
    aggregation: Aggregation,
    span: Duration,
) -> Option<f64> {
    let values = samples.map(|s| s.pick(aggregation));
    match aggregation {
        Aggregation::Mean => {
            let (sum, n) = values.fold((0.0, 0u64), |(sum, n), v| (sum + v, n + 1));
            (n > 0).then(|| sum / n as f64)
        }
        Aggregation::Max => values.reduce(f64::max),
        Aggregation::Min => values.reduce(f64::min),
        Aggregation::Last => values.last(),
        Aggregation::Rate => {
            let n = values.count();
            (n > 0 && !span.is_zero()).then(|| n as f64 / span.as_secs_f64())
        }
        Aggregation::P50 | Aggregation::P90 | Aggregation::P95 | Aggregation::P99 => {
            let mut sorted: Vec<f64> = values.collect();
            let q = aggregation.quantile()?;
            quantile(&mut sorted, q)
        }
    }
}

/// The nearest-rank quantile `q` of `values` (reordered in place); `None` when empty.
fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let rank = (q * values.len() as f64).ceil() as usize;
    let index = rank.clamp(1, values.len()) - 1;
    // Selection, not a full sort: linear time for the one rank needed.
    let (_, value, _) = values.select_nth_unstable_by(index, f64::total_cmp);
    Some(*value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(values: &[(u64, f64)], span: u64) -> SeriesWindow {
        let mut w = SeriesWindow::new(Duration::from_secs(span));
        for (at, v) in values {
            w.push(Duration::from_secs(*at), Stats::scalar(*v)).unwrap();
        }
        w
    }

    #[test]
    fn aggregations_reduce_the_samples_inside_the_window_only() {
        let mut w = window(&[(1, 100.0), (10, 1.0), (11, 2.0), (12, 3.0), (13, 4.0)], 5);
        let now = Duration::from_secs(14);
        assert_eq!(w.aggregate(now, Aggregation::Mean), Some(2.5));
        assert_eq!(w.len(), 4, "the sample at t=1 fell out of the 5 s window");
        assert_eq!(w.aggregate(now, Aggregation::Max), Some(4.0));
        assert_eq!(w.aggregate(now, Aggregation::Min), Some(1.0));
        assert_eq!(w.aggregate(now, Aggregation::Last), Some(4.0));
        assert_eq!(w.aggregate(now, Aggregation::P50), Some(2.0));
        assert_eq!(w.aggregate(now, Aggregation::P99), Some(4.0));
        assert_eq!(w.aggregate(now, Aggregation::Rate), Some(4.0 / 5.0));
    }

    #[test]
    fn an_empty_window_has_no_value() {
        let mut w = window(&[(1, 5.0)], 5);
        assert_eq!(
            w.aggregate(Duration::from_secs(100), Aggregation::Mean),
            None
        );
        assert_eq!(
            w.aggregate(Duration::from_secs(100), Aggregation::Rate),
            None
        );
        assert_eq!(
            w.aggregate(Duration::from_secs(100), Aggregation::P95),
            None
        );
    }

    #[test]
    fn summaries_are_reduced_like_with_like() {
        let mut w = SeriesWindow::new(Duration::from_secs(60));
        let summary = |mean: f64, max: f64, p95: f64| Stats {
            mean,
            min: 0.0,
            max,
            p50: mean,
            p90: p95,
            p95,
            p99: max,
        };
        w.push(Duration::from_secs(1), summary(1.0, 9.0, 3.0))
            .unwrap();
        w.push(Duration::from_secs(2), summary(2.0, 5.0, 4.0))
            .unwrap();
        let now = Duration::from_secs(3);
        assert_eq!(w.aggregate(now, Aggregation::Max), Some(9.0));
        assert_eq!(w.aggregate(now, Aggregation::P95), Some(4.0));
        assert_eq!(w.aggregate(now, Aggregation::Mean), Some(1.5));
    }

    #[test]
    fn non_finite_and_out_of_order_observations_are_refused() {
        let mut w = window(&[(5, 1.0)], 10);
        assert_eq!(
            w.push(Duration::from_secs(6), Stats::scalar(f64::NAN)),
            Err(Rejected::NotFinite)
        );
        assert_eq!(
            w.push(Duration::from_secs(4), Stats::scalar(1.0)),
            Err(Rejected::OutOfOrder)
        );
        assert_eq!(w.len(), 1);
    }
}

//! Latency figures: per-stage and end-to-end samples of a set of units, their HDR
//! summaries and empirical CDFs.

use std::time::Duration;

use super::common::Unit;
use crate::bench::report::{LatencyFigure, END_TO_END, END_TO_END_UNCORRECTED};
use crate::stats::{LatencyStats, StatsConfig, Summary, Window};
use crate::timeline::Outcome;

/// Points kept per latency CDF.
const CDF_POINTS: usize = 200;

/// Summary of a one-shot set of latencies (seconds), through the same HDR statistics the
/// collector uses, so a benchmark and the live topics agree on quantiles.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let cfg = StatsConfig {
        windows: Vec::new(),
        slots: 1,
        ..StatsConfig::default()
    };
    let mut stats = LatencyStats::new(&cfg).ok()?;
    // Negative, NaN and absurdly large values are not durations; callers count them.
    for d in samples
        .iter()
        .filter_map(|&s| Duration::try_from_secs_f64(s).ok())
    {
        stats.record(Duration::ZERO, d);
    }
    stats.summary(Duration::ZERO, Window::Cumulative)
}

/// Exact empirical CDF of `samples`, thinned to at most [`CDF_POINTS`] points.
fn empirical_cdf(samples: &[f64]) -> Vec<[f64; 2]> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(CDF_POINTS);
    let mut out: Vec<[f64; 2]> = (step - 1..n)
        .step_by(step)
        .map(|i| [sorted[i], (i + 1) as f64 / n as f64])
        .collect();
    if out.last().map(|p| p[1]) != Some(1.0) {
        out.push([sorted[n - 1], 1.0]);
    }
    out
}

/// Latency samples per name: stages in order, then end to end corrected and uncorrected.
/// The second value counts samples dropped because time ran backwards.
pub(super) fn latency_samples(
    units: &[&Unit],
    stages: &[String],
) -> (Vec<(String, Vec<f64>)>, u64) {
    let mut out: Vec<(String, Vec<f64>)> = stages.iter().map(|s| (s.clone(), Vec::new())).collect();
    let mut corrected = Vec::new();
    let mut uncorrected = Vec::new();
    let mut backwards = 0u64;
    let mut push = |into: &mut Vec<f64>, v: f64| {
        if v.is_finite() && v >= 0.0 {
            into.push(v);
        } else {
            backwards += 1;
        }
    };
    for u in units {
        let mut previous = u.sent;
        for (i, reached) in u.reached.iter().enumerate().take(stages.len()) {
            if let Some(t) = *reached {
                push(&mut out[i].1, t - previous);
                previous = t;
            }
        }
        let last = u
            .reached
            .get(stages.len().wrapping_sub(1))
            .copied()
            .flatten();
        if let (Outcome::Succeeded, Some(last)) = (u.outcome, last) {
            push(&mut corrected, last - u.intended);
            push(&mut uncorrected, last - u.sent);
        }
    }
    out.push((END_TO_END.into(), corrected));
    out.push((END_TO_END_UNCORRECTED.into(), uncorrected));
    (out, backwards)
}

/// Summary and CDF of each named set of samples.
pub(super) fn latency_figures(samples: Vec<(String, Vec<f64>)>) -> Vec<LatencyFigure> {
    samples
        .into_iter()
        .map(|(name, s)| LatencyFigure {
            summary: summarize(&s),
            cdf: empirical_cdf(&s),
            name,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn summaries_keep_count_and_bounds_of_any_latencies(
            samples in proptest::collection::vec(0.0f64..100.0, 1..50)
        ) {
            let s = summarize(&samples).unwrap();
            proptest::prop_assert_eq!(s.count, samples.len() as u64);
            let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
            let max = samples.iter().copied().fold(0.0, f64::max);
            proptest::prop_assert!((s.min - min).abs() < 1e-9 && (s.max - max).abs() < 1e-9);
            proptest::prop_assert!(s.min <= s.p50 && s.p50 <= s.p95 && s.p95 <= s.max);
            let cdf = empirical_cdf(&samples);
            proptest::prop_assert!(cdf.len() <= CDF_POINTS + 1);
            proptest::prop_assert_eq!(cdf.last().map(|p| p[1]), Some(1.0));
        }

        #[test]
        fn any_float_as_a_latency_is_summarised_or_left_out_without_panicking(
            samples in proptest::collection::vec(proptest::num::f64::ANY, 0..20)
        ) {
            let valid = samples.iter().filter(|s| **s >= 0.0 && **s < 2f64.powi(64)).count();
            let count = summarize(&samples).map_or(0, |s| s.count);
            proptest::prop_assert_eq!(count, valid as u64);
        }
    }
}

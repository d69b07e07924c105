//! A suite's over-time series: sends, answers and end-to-end quantiles per time bin.

use super::common::Unit;
use super::latency::summarize;
use crate::bench::record::SuiteRecord;
use crate::bench::report::TimeBin;
use crate::timeline::Outcome;

/// Most time bins of a suite's over-time series.
const MAX_BINS: usize = 60;

/// Sends, answers and end-to-end quantiles per time bin across the suite.
pub(super) fn over_time(record: &SuiteRecord, all: &[Unit]) -> Vec<TimeBin> {
    let span = record.ended - record.started;
    if all.is_empty() || span.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Vec::new();
    }
    let bins = (all.len() / 5).clamp(1, MAX_BINS);
    let width = span / bins as f64;
    let index = |t: f64| {
        let i = ((t - record.started) / width).floor();
        (i >= 0.0).then(|| (i as usize).min(bins - 1))
    };
    let mut sent = vec![0u64; bins];
    let mut completed = vec![0u64; bins];
    let mut latencies = vec![Vec::new(); bins];
    let last_stage = record.stages.len().wrapping_sub(1);
    for u in all {
        if let Some(i) = index(u.sent) {
            sent[i] += 1;
        }
        if let Some(i) = u.completed_at().and_then(index) {
            completed[i] += 1;
        }
        let last = u.reached.get(last_stage).copied().flatten();
        if let (Outcome::Succeeded, Some(last), Some(i)) = (u.outcome, last, index(u.intended)) {
            latencies[i].push(last - u.intended);
        }
    }
    (0..bins)
        .map(|i| {
            let s = summarize(&latencies[i]);
            TimeBin {
                start: i as f64 * width,
                end: (i + 1) as f64 * width,
                sent: sent[i],
                completed: completed[i],
                p50: s.map(|s| s.p50),
                p95: s.map(|s| s.p95),
            }
        })
        .collect()
}

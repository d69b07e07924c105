//! Where the time (and the machine) went: stage shares of the latency quantiles, an
//! estimate of queueing against processing per stage, and process/GPU summaries.
//!
//! # Shares
//! A stage's share of p50 (p95) is its own p50 (p95) over the sum of all stages' p50 (p95):
//! the shares sum to 1 and approximate each stage's part of the end-to-end quantile (the
//! quantile of a sum is not the sum of quantiles, so this is an attribution, not an
//! identity). The dominant stage is the one with the largest p95 share.
//!
//! # Queueing (an estimate)
//! For a stage that serves one command at a time, a command that arrives (reaches the
//! previous stage) while the previous arrival is still being served waits until that one is
//! done: `wait = max(0, previous arrival's reach time of this stage − this command's reach
//! time of the previous stage)`, capped at the stage latency; processing is the rest. For a
//! stage that serves commands in parallel the estimate over-counts waiting.

use serde::{Deserialize, Serialize};

use super::record::{GpuRecord, ProcessRecord, SuiteRecord};
use super::score::SuiteReport;
use crate::config::scenario::Suite;

/// One stage's part of the latency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageProfile {
    /// Stage name.
    pub stage: String,
    /// Its latency p50, seconds.
    pub p50: Option<f64>,
    /// Its latency p95, seconds.
    pub p95: Option<f64>,
    /// Share of the sum of stage p50s.
    pub share_p50: Option<f64>,
    /// Share of the sum of stage p95s.
    pub share_p95: Option<f64>,
    /// Mean estimated wait before the stage started on a command, seconds.
    pub mean_wait: Option<f64>,
    /// Mean latency minus the wait, seconds.
    pub mean_processing: Option<f64>,
}

/// Where the time of a suite went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The suite profiled.
    pub suite: Suite,
    /// Stages in pipeline order.
    pub stages: Vec<StageProfile>,
    /// Stage with the largest p50 share.
    pub dominant_p50: Option<String>,
    /// Stage with the largest p95 share.
    pub dominant_p95: Option<String>,
}

impl Profile {
    /// The profile of `stage`.
    pub fn stage(&self, stage: &str) -> Option<&StageProfile> {
        self.stages.iter().find(|s| s.stage == stage)
    }
}

/// Profiles a scored suite with the stamps of its record.
pub fn profile(report: &SuiteReport, record: &SuiteRecord) -> Profile {
    let quantiles: Vec<(Option<f64>, Option<f64>)> = record
        .stages
        .iter()
        .map(|s| {
            let summary = report.latency(s).and_then(|l| l.summary);
            (summary.map(|s| s.p50), summary.map(|s| s.p95))
        })
        .collect();
    let total = |f: fn(&(Option<f64>, Option<f64>)) -> Option<f64>| -> f64 {
        quantiles.iter().filter_map(f).sum()
    };
    let (sum50, sum95) = (total(|q| q.0), total(|q| q.1));
    let share = |v: Option<f64>, sum: f64| v.filter(|_| sum > 0.0).map(|v| v / sum);
    let stages: Vec<StageProfile> = record
        .stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let (p50, p95) = quantiles[i];
            let (mean_wait, mean_processing) = queueing(record, i);
            StageProfile {
                stage: stage.clone(),
                p50,
                p95,
                share_p50: share(p50, sum50),
                share_p95: share(p95, sum95),
                mean_wait,
                mean_processing,
            }
        })
        .collect();
    let dominant = |f: fn(&StageProfile) -> Option<f64>| {
        stages
            .iter()
            .filter_map(|s| f(s).map(|v| (v, &s.stage)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, s)| s.clone())
    };
    Profile {
        suite: record.suite,
        dominant_p50: dominant(|s| s.share_p50),
        dominant_p95: dominant(|s| s.share_p95),
        stages,
    }
}

/// Mean (wait, processing) of stage `i` under the one-at-a-time estimate.
fn queueing(record: &SuiteRecord, i: usize) -> (Option<f64>, Option<f64>) {
    // (arrival at the stage, done with it)
    let mut visits: Vec<(f64, f64)> = record
        .commands
        .iter()
        .filter_map(|c| {
            let done = c.reached.get(i).copied().flatten()?;
            let arrival = c.reached[..i]
                .iter()
                .rev()
                .find_map(|r| *r)
                .unwrap_or(c.sent);
            (done >= arrival).then_some((arrival, done))
        })
        .chain(record.images.iter().filter_map(|im| {
            let done = im.received.filter(|_| i == 0)?;
            (done >= im.sent).then_some((im.sent, done))
        }))
        .collect();
    if visits.is_empty() {
        return (None, None);
    }
    visits.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut wait, mut processing) = (0.0, 0.0);
    for k in 0..visits.len() {
        let (arrival, done) = visits[k];
        let latency = done - arrival;
        let w = if k == 0 {
            0.0
        } else {
            (visits[k - 1].1 - arrival).clamp(0.0, latency)
        };
        wait += w;
        processing += latency - w;
    }
    let n = visits.len() as f64;
    (Some(wait / n), Some(processing / n))
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn max(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.reduce(f64::max)
}

/// CPU and memory of one process over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessSummary {
    /// Process name.
    pub name: String,
    /// Mean CPU, percent of one core.
    pub cpu_mean_percent: Option<f64>,
    /// Largest CPU sample, percent of one core.
    pub cpu_max_percent: Option<f64>,
    /// Largest resident memory, bytes.
    pub rss_max_bytes: Option<u64>,
    /// Cores of the machine.
    pub cores: usize,
    /// CPU samples taken.
    pub samples: usize,
}

impl ProcessSummary {
    /// Summarises a process record.
    pub fn of(p: &ProcessRecord) -> Self {
        let cpu = || p.cpu_percent.iter().copied().filter(|v| v.is_finite());
        Self {
            name: p.name.clone(),
            cpu_mean_percent: mean(cpu()),
            cpu_max_percent: max(cpu()),
            rss_max_bytes: p.rss_bytes.iter().copied().max(),
            cores: p.cores,
            samples: p.cpu_percent.len(),
        }
    }
}

/// Utilisation and memory of one GPU over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GpuSummary {
    /// Index and name.
    pub name: String,
    /// Mean utilisation, percent.
    pub utilization_mean_percent: Option<f64>,
    /// Largest utilisation sample, percent.
    pub utilization_max_percent: Option<f64>,
    /// Largest memory used, bytes.
    pub memory_max_bytes: Option<u64>,
    /// Total memory, bytes.
    pub memory_total_bytes: u64,
    /// Largest memory used over total.
    pub memory_max_fraction: Option<f64>,
}

impl GpuSummary {
    /// Summarises a GPU record.
    pub fn of(g: &GpuRecord) -> Self {
        let util = || {
            g.utilization_percent
                .iter()
                .copied()
                .filter(|v| v.is_finite())
        };
        let memory_max_bytes = g.memory_used_bytes.iter().copied().max();
        Self {
            name: g.name.clone(),
            utilization_mean_percent: mean(util()),
            utilization_max_percent: max(util()),
            memory_max_bytes,
            memory_total_bytes: g.memory_total_bytes,
            memory_max_fraction: memory_max_bytes
                .filter(|_| g.memory_total_bytes > 0)
                .map(|m| m as f64 / g.memory_total_bytes as f64),
        }
    }
}

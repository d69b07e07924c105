//! The benchmark report's types: what scoring produces (per-suite figures, verdicts, the
//! profile, recommendations) and what is written as `report.json` and read back as a
//! baseline. The functions that compute them live in `score`, `profile` and `recommend`,
//! which all depend on this module and not on each other's types.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::record::{GpuRecord, ProcessRecord, RunMeta};
use super::scenario::Suite;
use crate::stats::Summary;
use crate::trend::Direction;

/// Name of the latency from intended send to the last stage (coordinated-omission corrected).
pub const END_TO_END: &str = "end_to_end";
/// Name of the latency from the actual send to the last stage.
pub const END_TO_END_UNCORRECTED: &str = "end_to_end_uncorrected";
/// A peak-search step is sustainable with at most this fraction of its units dropped.
pub const MAX_DROP_RATE: f64 = 0.05;
/// Detections below this score are left out of per-class precision and recall (not of AP).
pub const DETECTION_SCORE_THRESHOLD: f64 = 0.5;
/// IoU at which per-class precision and recall are counted.
pub const DETECTION_IOU: f64 = 0.5;
/// KPI names (the `name` of a [`KpiFigure`]).
pub mod kpi {
    /// Corpus word error rate.
    pub const WER: &str = "wer";
    /// Commands without a transcript.
    pub const MISSING_TRANSCRIPTS: &str = "missing_transcripts";
    /// Fraction of commands understood.
    pub const UNDERSTANDING_RATE: &str = "understanding_rate";
    /// Fraction of plans the planner rejected.
    pub const REJECTION_RATE: &str = "rejection_rate";
    /// Fraction of commands misunderstood (or never planned).
    pub const MISUNDERSTANDING_RATE: &str = "misunderstanding_rate";
    /// Commands without a plan.
    pub const MISSING_PLANS: &str = "missing_plans";
    /// Fraction of commands whose outcome was the expected one.
    pub const SUCCESS_RATE: &str = "success_rate";
    /// Fraction of commands whose action succeeded.
    pub const ACTION_SUCCESS_RATE: &str = "action_success_rate";
    /// Fraction of navigation commands that succeeded.
    pub const NAVIGATION_SUCCESS_RATE: &str = "navigation_success_rate";
    /// Images answered per second.
    pub const FRAMES_PER_SECOND: &str = "frames_per_second";
    /// mAP@[.5:.95].
    pub const MAP: &str = "map";
    /// mAP@0.5.
    pub const MAP50: &str = "map50";
    /// Detections whose class matched no category.
    pub const UNKNOWN_CLASS_DETECTIONS: &str = "unknown_class_detections";
    /// Detections with an invalid box or score (not scored).
    pub const INVALID_DETECTIONS: &str = "invalid_detections";
    /// Prefix of p95 latency KPIs: `p95_<stage>`, `p95_end_to_end`.
    pub const P95_PREFIX: &str = "p95_";
}

/// How a KPI is checked against its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Compare {
    /// Informative only.
    #[default]
    None,
    /// Passes when `value <= threshold`.
    AtMost,
    /// Passes when `value >= threshold`.
    AtLeast,
}

impl Compare {
    /// The `Kpi` message's `COMPARE_*` constant.
    pub fn code(self) -> u8 {
        match self {
            Compare::None => 0,
            Compare::AtMost => 1,
            Compare::AtLeast => 2,
        }
    }
}

/// One scored figure with its threshold verdict (the `Kpi` message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiFigure {
    /// See [`kpi`].
    pub name: String,
    /// `1` (ratio), `s`, `Hz`, `count`.
    pub unit: String,
    /// `None` when nothing was measured.
    pub value: Option<f64>,
    /// How it is checked.
    pub compare: Compare,
    /// The threshold, when one applies.
    pub threshold: Option<f64>,
    /// The verdict, when a threshold applies (no value fails).
    pub passed: Option<bool>,
    /// Which way the figure gets worse; `None` for counts that are not compared.
    pub direction: Option<Direction>,
}

impl KpiFigure {
    /// A figure checked against `limit` (informative when `limit` is `None`).
    pub fn new(
        name: &str,
        unit: &str,
        value: Option<f64>,
        direction: Option<Direction>,
        limit: Option<(Compare, f64)>,
    ) -> Self {
        let (compare, threshold) = match limit {
            Some((c, t)) => (c, Some(t)),
            None => (Compare::None, None),
        };
        let passed = threshold.map(|t| match (compare, value) {
            (_, None) => false,
            (Compare::AtMost, Some(v)) => v <= t,
            (Compare::AtLeast, Some(v)) => v >= t,
            (Compare::None, Some(_)) => true,
        });
        Self {
            name: name.to_owned(),
            unit: unit.to_owned(),
            value,
            compare,
            threshold,
            passed,
            direction,
        }
    }
}

/// Latencies of one stage, or end to end, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencyFigure {
    /// Stage name, [`END_TO_END`] or [`END_TO_END_UNCORRECTED`].
    pub name: String,
    /// `None` without samples.
    pub summary: Option<Summary>,
    /// Empirical cumulative distribution: (seconds, fraction at or below), ≤ 200 points.
    pub cdf: Vec<[f64; 2]>,
}

impl LatencyFigure {
    /// Samples behind the figure.
    pub fn count(&self) -> u64 {
        self.summary.map_or(0, |s| s.count)
    }
}

/// Precision, recall and AP of one detection class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassFigure {
    /// Category name.
    pub name: String,
    /// Non-crowd ground truths over all images sent.
    pub ground_truths: u64,
    /// At IoU 0.5, score ≥ [`DETECTION_SCORE_THRESHOLD`].
    pub true_positives: u64,
    /// Same thresholds.
    pub false_positives: u64,
    /// Same thresholds.
    pub false_negatives: u64,
    /// TP / (TP + FP).
    pub precision: Option<f64>,
    /// TP / (TP + FN).
    pub recall: Option<f64>,
    /// AP at IoU 0.5.
    pub ap50: Option<f64>,
    /// AP@[.5:.95].
    pub ap: Option<f64>,
}

/// One time bin of a suite (for the over-time plots).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeBin {
    /// Bin start, seconds since the suite's start.
    pub start: f64,
    /// Bin end.
    pub end: f64,
    /// Units sent in the bin.
    pub sent: u64,
    /// Units answered in the bin.
    pub completed: u64,
    /// End-to-end (corrected) p50 of units intended in the bin.
    pub p50: Option<f64>,
    /// End-to-end (corrected) p95 of units intended in the bin.
    pub p95: Option<f64>,
}

/// The verdict of one peak-search step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepVerdict {
    /// Index into the suite's steps.
    pub step: usize,
    /// Offered rate, per second.
    pub rate_hz: f64,
    /// Units sent in the step.
    pub sent: u64,
    /// Units answered (succeeded or failed).
    pub completed: u64,
    /// Units timed out or never answered.
    pub dropped: u64,
    /// `dropped / sent` (0 when nothing was sent).
    pub drop_rate: f64,
    /// Answered per second of step time.
    pub throughput: Option<f64>,
    /// p95 per latency name, seconds.
    pub p95: BTreeMap<String, f64>,
    /// At most [`MAX_DROP_RATE`] dropped and no p95 threshold broken.
    pub sustainable: bool,
    /// Why not, when not.
    pub reason: Option<String>,
}

/// Result of a peak search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakSearch {
    /// Every step, in order.
    pub steps: Vec<StepVerdict>,
    /// The rate of the last sustainable step before the first unsustainable one; later
    /// steps do not count (the stack was already overloaded). `None` if the first failed.
    pub peak_sustainable_hz: Option<f64>,
}

/// One suite's figures (what the `BenchmarkResult` message carries, and more).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// Which suite.
    pub suite: Suite,
    /// Stages observed, in pipeline order.
    pub stages: Vec<String>,
    /// Units sent (commands, or images for visual_perception).
    pub commands_sent: u64,
    /// Ended with outcome succeeded.
    pub commands_succeeded: u64,
    /// Ended with outcome failed.
    pub commands_failed: u64,
    /// Timed out (or abandoned).
    pub commands_timed_out: u64,
    /// Suite time, seconds.
    pub duration: f64,
    /// Answered units per second; `None` for a suite of no duration.
    pub throughput: Option<f64>,
    /// Per stage, then [`END_TO_END`] and [`END_TO_END_UNCORRECTED`].
    pub latencies: Vec<LatencyFigure>,
    /// Scored figures.
    pub kpis: Vec<KpiFigure>,
    /// Per detection class (visual_perception).
    pub classes: Vec<ClassFigure>,
    /// Over time, for plots.
    pub over_time: Vec<TimeBin>,
    /// Peak search, when the load mode was one.
    pub peak_search: Option<PeakSearch>,
    /// Stack outputs matching nothing sent.
    pub unmatched: u64,
    /// Observations that could not be scored (command index outside the scenario,
    /// latency running backwards, a transcript too long to align).
    pub skipped: u64,
    /// Every KPI with a threshold passed.
    pub passed: bool,
}

impl SuiteReport {
    /// The latency figure of `name`.
    pub fn latency(&self, name: &str) -> Option<&LatencyFigure> {
        self.latencies.iter().find(|l| l.name == name)
    }

    /// The KPI called `name`.
    pub fn kpi(&self, name: &str) -> Option<&KpiFigure> {
        self.kpis.iter().find(|k| k.name == name)
    }

    /// The value of the KPI called `name`.
    pub fn kpi_value(&self, name: &str) -> Option<f64> {
        self.kpi(name).and_then(|k| k.value)
    }

    /// The figures compared across runs and followed over time: latency p50/p95/p99,
    /// throughput, peak rate and every KPI that has a direction.
    pub fn figures(&self) -> Vec<Figure> {
        let mut out = Vec::new();
        for l in &self.latencies {
            for (q, value, headline) in [
                ("p50", l.summary.map(|s| s.p50), false),
                ("p95", l.summary.map(|s| s.p95), true),
                ("p99", l.summary.map(|s| s.p99), false),
            ] {
                out.push(Figure {
                    metric: format!("{q}_{}", l.name),
                    value,
                    direction: Direction::HigherIsWorse,
                    absolute: false,
                    headline,
                });
            }
        }
        out.push(Figure {
            metric: "throughput".into(),
            value: self.throughput,
            direction: Direction::LowerIsWorse,
            absolute: false,
            headline: true,
        });
        if let Some(peak) = &self.peak_search {
            out.push(Figure {
                metric: "peak_sustainable_hz".into(),
                value: peak.peak_sustainable_hz,
                direction: Direction::LowerIsWorse,
                absolute: false,
                headline: true,
            });
        }
        for k in &self.kpis {
            // p95 KPIs repeat the latency figures above.
            if k.name.starts_with(kpi::P95_PREFIX) {
                continue;
            }
            if let Some(direction) = k.direction {
                out.push(Figure {
                    metric: k.name.clone(),
                    value: k.value,
                    direction,
                    absolute: k.unit == "1",
                    headline: true,
                });
            }
        }
        out
    }
}

/// A figure of a suite as compared and tracked.
#[derive(Debug, Clone, PartialEq)]
pub struct Figure {
    /// e.g. `p95_plan`, `throughput`, `wer`.
    pub metric: String,
    /// `None` when not measured.
    pub value: Option<f64>,
    /// Which way it gets worse.
    pub direction: Direction,
    /// A rate in [0, 1] whose changes are absolute; else relative.
    pub absolute: bool,
    /// Followed across runs (trend); the others only compared.
    pub headline: bool,
}

/// The scored benchmark run (written as `report.json`, read back as a baseline).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    /// Run id.
    pub run_id: String,
    /// Host, versions, hashes, times.
    pub meta: RunMeta,
    /// One per suite run, in run order.
    pub suites: Vec<SuiteReport>,
    /// Every suite passed.
    pub passed: bool,
    /// Where the time went (the end_to_end suite, else the suite with the most stages).
    pub profile: Option<Profile>,
    /// CPU and memory per watched process.
    pub processes: Vec<ProcessSummary>,
    /// Per GPU.
    pub gpus: Vec<GpuSummary>,
    /// Why GPU metrics are unavailable, when they are.
    pub gpu_unavailable: Option<String>,
    /// The camera rate given in [`ScoreOptions`].
    pub camera_rate_hz: Option<f64>,
    /// What to do about the figures.
    pub recommendations: Vec<Recommendation>,
}

impl BenchReport {
    /// The report of `suite`.
    pub fn suite(&self, suite: Suite) -> Option<&SuiteReport> {
        self.suites.iter().find(|s| s.suite == suite)
    }
}

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

/// How urgent a recommendation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Costs performance.
    Warning,
    /// Fails the benchmark or risks failure.
    Critical,
}

/// The figure a recommendation rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Suite the figure belongs to, when it belongs to one.
    pub suite: Option<Suite>,
    /// Figure name, e.g. `share_p95.plan`, `frames_per_second`, `cpu_mean_percent.asr`.
    pub name: String,
    /// Its value; NaN when the figure was not measured (written as JSON `null`).
    #[serde(deserialize_with = "nan_when_null")]
    pub value: f64,
    /// The limit it crossed.
    pub limit: Option<f64>,
}

/// JSON has no NaN (serde_json writes it as `null`): read `null` back as NaN.
fn nan_when_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

impl std::fmt::Display for Evidence {
    /// `suite.name = value (limit l)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(suite) = self.suite {
            write!(f, "{}.", suite.as_str())?;
        }
        write!(f, "{} = {:.4}", self.name, self.value)?;
        if let Some(limit) = self.limit {
            write!(f, " (limit {limit:.4})")?;
        }
        Ok(())
    }
}

/// One piece of advice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Rule id (see the module table).
    pub rule: String,
    /// How urgent.
    pub severity: Severity,
    /// What to do.
    pub message: String,
    /// Why.
    pub evidence: Evidence,
}

/// The mean of `values`; `None` when there are none.
pub(super) fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// The largest of `values`; `None` when there are none.
pub(super) fn max(values: impl Iterator<Item = f64>) -> Option<f64> {
    values.reduce(f64::max)
}

//! Reports of a measured run: one serializable [`Report`] (built from the metric batches the
//! collector publishes, so a report and the live topics never disagree) and its writers:
//! JSON, Markdown, SVG plots, and a CSV of per-command timelines. Offline analysis uses it
//! today; the benchmark node is meant to build its report the same way.
//!
//! Every file is written to a temporary name beside its destination and renamed into place,
//! so a reader never sees a half-written report.

pub mod bench;
mod markdown;
pub mod svg;
mod table;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::core::metric::Metric;
use crate::core::stats::Summary;
use crate::core::timeline::Outcome;
use crate::msg::diagnostic_msgs::DiagnosticStatus;
use crate::msg::MetricSummary;

pub use table::CommandTable;

/// Errors of writing a report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be written or renamed into place.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The report could not be serialized.
    #[error("serializing the report: {0}")]
    Json(#[from] serde_json::Error),
    /// A CSV row could not be written.
    #[error("{path}: {source}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// What the csv crate said.
        source: csv::Error,
    },
}

/// Result of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Points kept per cumulative distribution curve.
const CDF_POINTS: usize = 200;
/// Points kept per time series; beyond it neighbours are merged pairwise.
pub const SERIES_POINTS: usize = 1000;

/// What was measured, by what, where and when.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Source {
    /// What was measured: a recording's path, or a live run's description.
    pub input: String,
    /// Storage format(s) of the input, e.g. `mcap`.
    pub format: String,
    /// The configuration file.
    pub config_path: String,
    /// SHA-256 of the configuration file's bytes.
    pub config_sha256: String,
    /// The tool and its version.
    pub tool: String,
    /// The host the report was made on.
    pub host: String,
    /// First message time, seconds since the epoch (`None` without messages).
    pub start: Option<f64>,
    /// Last message time, seconds since the epoch.
    pub end: Option<f64>,
}

/// Latencies of one stage (time since the previous reached stage) or end to end.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    /// Stage name, or `end_to_end`.
    pub name: String,
    /// Cumulative summary in seconds; `None` without samples.
    pub summary: Option<Summary>,
    /// Cumulative distribution: (latency in seconds, fraction at or below).
    pub cdf: Vec<[f64; 2]>,
}

/// One stage: latency, messages, accuracy signals.
#[derive(Debug, Clone, Serialize)]
pub struct StageReport {
    /// Stage name.
    pub name: String,
    /// Its topic.
    pub topic: String,
    /// Latency since the previous stage (`None` summary for the first stage).
    pub latency: LatencyReport,
    /// Fraction of commands reaching this stage that passed it; `None` without any.
    pub success_rate: Option<f64>,
    /// Confidences its messages carried; `None` without any.
    pub confidence: Option<Summary>,
    /// Messages read as events of this stage.
    pub messages: u64,
    /// Messages it could not read.
    pub unreadable: u64,
    /// Commands that failed at this stage.
    pub failures: u64,
}

/// Commands by outcome.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct OutcomeCounts {
    /// Reached the last stage without failure.
    pub succeeded: u64,
    /// A stage reported failure.
    pub failed: u64,
    /// Still open after the command timeout.
    pub timed_out: u64,
    /// Evicted, or still open when the input ended.
    pub abandoned: u64,
}

impl OutcomeCounts {
    /// Adds one command.
    pub fn add(&mut self, outcome: Outcome) {
        match outcome {
            Outcome::Succeeded => self.succeeded += 1,
            Outcome::Failed => self.failed += 1,
            Outcome::TimedOut => self.timed_out += 1,
            Outcome::Abandoned => self.abandoned += 1,
        }
    }

    /// Every command.
    pub fn total(&self) -> u64 {
        self.succeeded + self.failed + self.timed_out + self.abandoned
    }
}

/// The end-to-end objective and how the run fared.
#[derive(Debug, Clone, Serialize)]
pub struct SloReport {
    /// Latency a command must not exceed, seconds.
    pub threshold: f64,
    /// Fraction of commands that must meet it.
    pub target: f64,
    /// Fraction that did (timed-out commands count as misses); `None` without commands.
    pub compliance: Option<f64>,
    /// Whether the target was reached.
    pub met: bool,
    /// Commands the verdict rests on.
    pub count: u64,
}

/// Success rates beside the latencies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Accuracy {
    /// The planner stage's success rate: plans produced vs rejected.
    pub understanding_rate: Option<f64>,
    /// Commands that succeeded among those that finished.
    pub task_success_rate: Option<f64>,
    /// Per action status topic, the fraction of goals that succeeded.
    pub action_success_rate: BTreeMap<String, Option<f64>>,
}

/// Health of one topic over the whole run.
#[derive(Debug, Clone, Serialize)]
pub struct TopicReport {
    /// Topic name.
    pub topic: String,
    /// Its type.
    pub msg_type: String,
    /// Messages read.
    pub messages: u64,
    /// Payload bytes read.
    pub bytes: u64,
    /// Mean rate over the run, Hz; `None` below two messages.
    pub rate_hz: Option<f64>,
    /// Rate over the last health window, Hz, as the collector would publish it at the end.
    pub window_rate_hz: Option<f64>,
    /// Standard deviation of the gaps between messages, seconds.
    pub jitter: Option<f64>,
    /// Longest gap, seconds.
    pub max_gap: Option<f64>,
    /// Receive time minus header stamp over the last health window, seconds.
    pub age: Option<Summary>,
    /// Diagnostic verdict at the end: OK, WARN, ERROR or STALE.
    pub status: String,
    /// Why.
    pub reason: String,
}

/// Messages that could not be used, per topic and reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skip {
    /// Topic name.
    pub topic: String,
    /// Its recorded type.
    pub msg_type: String,
    /// Why its messages were skipped.
    pub reason: String,
    /// How many were.
    pub messages: u64,
}

/// One point of the time series, at the end of its interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct SeriesPoint {
    /// Seconds since the run's start.
    pub t: f64,
    /// Seconds the point covers.
    pub interval: f64,
    /// End-to-end median over the collector's first sliding window, seconds.
    pub end_to_end_p50: Option<f64>,
    /// End-to-end 95th percentile over the same window, seconds.
    pub end_to_end_p95: Option<f64>,
    /// Commands finished per second over the collector's first sliding window.
    pub command_rate_hz: Option<f64>,
    /// Commands finished in the interval.
    pub commands: u64,
    /// Messages read in the interval.
    pub messages: u64,
    /// Payload bytes read in the interval.
    pub bytes: u64,
}

/// A time series of bounded length: when full, neighbouring points merge.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Series {
    points: Vec<SeriesPoint>,
}

impl Series {
    /// Appends a point, merging pairs when [`SERIES_POINTS`] is reached.
    pub fn push(&mut self, point: SeriesPoint) {
        if self.points.len() >= SERIES_POINTS {
            let merged = self
                .points
                .chunks(2)
                .map(|pair| match pair {
                    [a, b] => SeriesPoint {
                        interval: a.interval + b.interval,
                        commands: a.commands + b.commands,
                        messages: a.messages + b.messages,
                        bytes: a.bytes + b.bytes,
                        ..*b
                    },
                    [a] => *a,
                    _ => unreachable!("chunks(2) yields one or two"),
                })
                .collect();
            self.points = merged;
        }
        self.points.push(point);
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[SeriesPoint] {
        &self.points
    }
}

/// Everything a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Title.
    pub title: String,
    /// What was measured, by what, where and when.
    pub source: Source,
    /// Seconds between the first and last message.
    pub duration: f64,
    /// Per stage, in pipeline order.
    pub stages: Vec<StageReport>,
    /// End-to-end latency of succeeded commands.
    pub end_to_end: LatencyReport,
    /// The objective and the verdict.
    pub slo: SloReport,
    /// Commands by outcome.
    pub commands: OutcomeCounts,
    /// Commands finished per second over the run; `None` for a run of no duration.
    pub command_rate_hz: Option<f64>,
    /// Success rates.
    pub accuracy: Accuracy,
    /// Per watched topic.
    pub topics: Vec<TopicReport>,
    /// Correlation anomalies by reason (unmatched, duplicate, out_of_order, evicted).
    pub correlation_anomalies: BTreeMap<String, u64>,
    /// Latency and throughput over time.
    pub series: Series,
    /// Messages not used, per topic and reason.
    pub skips: Vec<Skip>,
    /// Everything that went wrong while reading, in order.
    pub warnings: Vec<String>,
    /// The last metric batch and topic health batch, exactly as the collector publishes them.
    pub metrics: Vec<MetricSummary>,
    /// The last diagnostic statuses (per stage and topic).
    pub diagnostics: Vec<DiagnosticStatus>,
}

/// What a report is built from beyond the metric batches.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Title.
    pub title: String,
    /// Source.
    pub source: Source,
    /// Stage names and topics, in pipeline order.
    pub stages: Vec<(String, String)>,
    /// Per stage, the cumulative latency histogram (µs), where the stage has latencies.
    pub stage_histograms: Vec<Option<Histogram<u64>>>,
    /// The end-to-end latency histogram (µs).
    pub end_to_end_histogram: Option<Histogram<u64>>,
    /// Watched topics: name, type, bytes read.
    pub topics: Vec<(String, String, u64)>,
    /// SLO threshold (s) and target.
    pub slo: (f64, f64),
    /// Commands by outcome.
    pub commands: OutcomeCounts,
    /// Seconds between first and last message.
    pub duration: f64,
    /// Time series.
    pub series: Series,
    /// Skips.
    pub skips: Vec<Skip>,
    /// Warnings.
    pub warnings: Vec<String>,
}

impl Report {
    /// Builds the report from the collector's last metric batch (`metrics`, with its
    /// diagnostics) and topic health batch, read the way a subscriber would read them.
    pub fn build(
        inputs: Inputs,
        metrics: (Vec<MetricSummary>, Vec<DiagnosticStatus>),
        health: (Vec<MetricSummary>, Vec<DiagnosticStatus>),
    ) -> Self {
        let (mut all, mut diagnostics) = metrics;
        let lookup = Lookup(&all);
        let stages = stage_reports(&inputs, &lookup, &diagnostics);
        let slo = slo_report(inputs.slo, &lookup);
        let accuracy = accuracy(&lookup);
        let correlation_anomalies = correlation_anomalies(&all);
        let (health_metrics, health_status) = health;
        let topics = topic_reports(&inputs, &Lookup(&health_metrics), &health_status);
        let end_to_end = LatencyReport {
            name: "end_to_end".into(),
            summary: lookup.summary(Metric::EndToEndLatency, None),
            cdf: inputs
                .end_to_end_histogram
                .as_ref()
                .map(cdf)
                .unwrap_or_default(),
        };
        let commands = inputs.commands;
        let command_rate_hz =
            (inputs.duration > 0.0).then(|| commands.total() as f64 / inputs.duration);
        all.extend(health_metrics);
        diagnostics.extend(health_status);
        Report {
            title: inputs.title,
            source: inputs.source,
            duration: inputs.duration,
            stages,
            end_to_end,
            slo,
            commands,
            command_rate_hz,
            accuracy,
            topics,
            correlation_anomalies,
            series: inputs.series,
            skips: inputs.skips,
            warnings: inputs.warnings,
            metrics: all,
            diagnostics,
        }
    }

    /// The report as pretty JSON (undefined figures are `null`).
    pub fn to_json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)?)
    }

    /// The report as a Markdown page; `plots` are linked where given.
    pub fn to_markdown(&self, plots: &[&str]) -> String {
        markdown::render(self, plots)
    }

    /// Writes `report.json`, `report.md` and the SVG plots into `dir` (created if missing);
    /// returns the paths written.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_owned(),
            source,
        })?;
        let plots = [
            ("latency_cdf.svg", svg::latency_cdf(self)),
            ("latency_over_time.svg", svg::latency_over_time(self)),
            ("throughput.svg", svg::throughput(self)),
        ];
        let names: Vec<&str> = plots.iter().map(|(n, _)| *n).collect();
        let mut written = Vec::new();
        for (name, text) in [
            ("report.json", self.to_json()?),
            ("report.md", self.to_markdown(&names)),
        ]
        .into_iter()
        .chain(plots.iter().map(|(n, t)| (*n, t.clone())))
        {
            let path = dir.join(name);
            write_atomic(&path, text.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }
}

/// Writes `bytes` to a temporary file beside `path`, syncs it and renames it into place:
/// `path` is either absent, its old content, or complete. On any error (a full disk, a
/// read-only directory) the temporary is removed and the error names `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_path(path);
    let written = std::fs::File::create(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    written
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&tmp);
            Error::Io {
                path: path.to_owned(),
                source,
            }
        })
}

/// Ends a file's last line if it has no newline (a writer was killed mid-line, or the disk
/// filled), so that the next appended line starts clean; the torn line stays, for readers
/// to skip and count. `file` must be open for reading and appending.
pub fn end_torn_line(file: &mut std::fs::File) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
        file.sync_data()?;
    }
    Ok(())
}

/// A hidden temporary name beside `path`, unique to this process.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

fn level_name(level: u8) -> &'static str {
    match level {
        DiagnosticStatus::OK => "OK",
        DiagnosticStatus::WARN => "WARN",
        DiagnosticStatus::ERROR => "ERROR",
        _ => "STALE",
    }
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

/// Cumulative distribution of a µs histogram, at most [`CDF_POINTS`] points, in seconds.
fn cdf(h: &Histogram<u64>) -> Vec<[f64; 2]> {
    let total = h.len();
    if total == 0 {
        return Vec::new();
    }
    let mut points = Vec::new();
    let mut seen = 0u64;
    for v in h.iter_recorded() {
        seen += v.count_since_last_iteration();
        points.push([
            h.highest_equivalent(v.value_iterated_to()) as f64 / 1e6,
            seen as f64 / total as f64,
        ]);
    }
    if points.len() > CDF_POINTS {
        let step = points.len().div_ceil(CDF_POINTS);
        let last = points[points.len() - 1];
        points = points.into_iter().step_by(step).collect();
        if points.last() != Some(&last) {
            points.push(last);
        }
    }
    points
}

/// Each stage's latency (with its CDF), success rate, confidence and message counts (from
/// its diagnostic status).
fn stage_reports(
    inputs: &Inputs,
    lookup: &Lookup<'_>,
    diagnostics: &[DiagnosticStatus],
) -> Vec<StageReport> {
    inputs
        .stages
        .iter()
        .enumerate()
        .map(|(i, (name, topic))| {
            let status = diagnostics
                .iter()
                .find(|d| d.name == format!("vla_perf: stage {name}"));
            let value = |key: &str| {
                status
                    .and_then(|s| s.values.iter().find(|v| v.key == key))
                    .and_then(|v| v.value.parse().ok())
                    .unwrap_or(0)
            };
            StageReport {
                name: name.clone(),
                topic: topic.clone(),
                latency: LatencyReport {
                    name: name.clone(),
                    summary: lookup.summary(Metric::StageLatency, Some(("stage", name))),
                    cdf: inputs
                        .stage_histograms
                        .get(i)
                        .and_then(Option::as_ref)
                        .map(cdf)
                        .unwrap_or_default(),
                },
                success_rate: lookup.scalar(Metric::StageSuccessRate, Some(("stage", name))),
                confidence: lookup.summary(Metric::Confidence, Some(("stage", name))),
                messages: value("messages"),
                unreadable: value("unreadable"),
                failures: value("failures"),
            }
        })
        .collect()
}

/// The SLO `(threshold, target)` with its compliance.
fn slo_report((threshold, target): (f64, f64), lookup: &Lookup<'_>) -> SloReport {
    let slo_metric = lookup.find(Metric::SloCompliance, None);
    SloReport {
        threshold,
        target,
        compliance: slo_metric.and_then(|m| finite(m.mean)),
        met: slo_metric.is_some_and(|m| m.tags.iter().any(|t| t.value == "true")),
        count: slo_metric.map_or(0, |m| m.count),
    }
}

/// Understanding, task success and (cumulative) action success per status topic.
fn accuracy(lookup: &Lookup<'_>) -> Accuracy {
    let mut action_success_rate = BTreeMap::new();
    for m in lookup
        .0
        .iter()
        .filter(|m| m.name == Metric::ActionSuccessRate.name() && m.window == 0.0)
    {
        if let Some(topic) = m.tags.iter().find(|t| t.key == "topic") {
            action_success_rate.insert(topic.value.clone(), finite(m.mean));
        }
    }
    Accuracy {
        understanding_rate: lookup.scalar(Metric::UnderstandingRate, None),
        task_success_rate: lookup.scalar(Metric::TaskSuccessRate, None),
        action_success_rate,
    }
}

/// Correlation anomalies by reason.
fn correlation_anomalies(metrics: &[MetricSummary]) -> BTreeMap<String, u64> {
    metrics
        .iter()
        .filter(|m| m.name == Metric::CorrelationAnomalies.name())
        .filter_map(|m| {
            let reason = m.tags.iter().find(|t| t.key == "reason")?;
            Some((reason.value.clone(), finite(m.mean)? as u64))
        })
        .collect()
}

/// Each watched topic's counts, rates, jitter, gaps, age and status from the topic health
/// batch (`health` and its statuses).
fn topic_reports(
    inputs: &Inputs,
    health: &Lookup<'_>,
    statuses: &[DiagnosticStatus],
) -> Vec<TopicReport> {
    inputs
        .topics
        .iter()
        .map(|(topic, msg_type, bytes)| {
            let tag = Some(("topic", topic.as_str()));
            let messages = health.scalar(Metric::TopicMessages, tag).unwrap_or(0.0) as u64;
            let status = statuses
                .iter()
                .find(|d| d.name == format!("vla_perf: topic {topic}"));
            TopicReport {
                topic: topic.clone(),
                msg_type: msg_type.clone(),
                messages,
                bytes: *bytes,
                rate_hz: (messages > 1 && inputs.duration > 0.0)
                    .then(|| (messages - 1) as f64 / inputs.duration),
                window_rate_hz: health.scalar_any(Metric::TopicRate, tag),
                jitter: health.scalar_any(Metric::TopicJitter, tag),
                max_gap: health.scalar_any(Metric::TopicMaxGap, tag),
                age: health.summary_any(Metric::TopicAge, tag),
                status: status.map_or("STALE", |s| level_name(s.level)).to_owned(),
                reason: status.map(|s| s.message.clone()).unwrap_or_default(),
            }
        })
        .collect()
}

/// Finds metrics of the cumulative window (0) by name and one tag.
struct Lookup<'a>(&'a [MetricSummary]);

impl Lookup<'_> {
    fn find_window(
        &self,
        metric: Metric,
        tag: Option<(&str, &str)>,
        cumulative: bool,
    ) -> Option<&MetricSummary> {
        self.0.iter().find(|m| {
            m.name == metric.name()
                && (!cumulative || m.window == 0.0)
                && tag.is_none_or(|(k, v)| m.tags.iter().any(|t| t.key == k && t.value == v))
        })
    }

    fn find(&self, metric: Metric, tag: Option<(&str, &str)>) -> Option<&MetricSummary> {
        self.find_window(metric, tag, true)
    }

    fn scalar(&self, metric: Metric, tag: Option<(&str, &str)>) -> Option<f64> {
        self.find(metric, tag).and_then(|m| finite(m.mean))
    }

    fn scalar_any(&self, metric: Metric, tag: Option<(&str, &str)>) -> Option<f64> {
        self.find_window(metric, tag, false)
            .and_then(|m| finite(m.mean))
    }

    fn summary(&self, metric: Metric, tag: Option<(&str, &str)>) -> Option<Summary> {
        self.find(metric, tag).and_then(to_summary)
    }

    fn summary_any(&self, metric: Metric, tag: Option<(&str, &str)>) -> Option<Summary> {
        self.find_window(metric, tag, false).and_then(to_summary)
    }
}

fn to_summary(m: &MetricSummary) -> Option<Summary> {
    (m.count > 0).then_some(Summary {
        count: m.count,
        mean: m.mean,
        stddev: m.stddev,
        min: m.min,
        max: m.max,
        p50: m.p50,
        p90: m.p90,
        p95: m.p95,
        p99: m.p99,
        p999: m.p999,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, commands: u64) -> SeriesPoint {
        SeriesPoint {
            t,
            interval: 1.0,
            end_to_end_p50: None,
            end_to_end_p95: Some(t),
            command_rate_hz: None,
            commands,
            messages: 1,
            bytes: 10,
        }
    }

    #[test]
    fn a_full_series_merges_neighbours_and_keeps_every_count() {
        let mut s = Series::default();
        for i in 0..(SERIES_POINTS * 3) {
            s.push(point(i as f64 + 1.0, 1));
        }
        assert!(s.points().len() <= SERIES_POINTS);
        let commands: u64 = s.points().iter().map(|p| p.commands).sum();
        let interval: f64 = s.points().iter().map(|p| p.interval).sum();
        assert_eq!(commands, (SERIES_POINTS * 3) as u64);
        assert_eq!(interval, (SERIES_POINTS * 3) as f64);
        assert_eq!(
            s.points().last().map(|p| p.t),
            Some((SERIES_POINTS * 3) as f64)
        );
    }

    #[test]
    fn a_histogram_becomes_a_rising_cdf_ending_at_one() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for us in 1..=10_000u64 {
            h.record(us * 100).unwrap();
        }
        let c = cdf(&h);
        assert!(c.len() <= CDF_POINTS + 1 && c.len() > 10);
        assert!(c
            .windows(2)
            .all(|w| w[0][0] <= w[1][0] && w[0][1] <= w[1][1]));
        assert_eq!(c.last().map(|p| p[1]), Some(1.0));
        assert!((c.last().unwrap()[0] - 1.0).abs() < 0.002, "{:?}", c.last());
        assert!(cdf(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }

    #[test]
    fn files_are_renamed_into_place_and_no_temporary_remains() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        write_atomic(&path, b"{}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{}");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1);
    }
}

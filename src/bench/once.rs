//! One whole run: measure, score, write the record and the report, compare with the
//! baseline, check the trend of earlier runs, publish the results.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio::sync::watch;

use super::journal::append_lines;
use super::{publish, read_baseline, record_run, Error, Options, Result};
use crate::core::bench::compare::{compare, Comparison, NoiseThreshold};
use crate::core::bench::score::{score_suite, score_with, step_verdict, ScoreOptions};
use crate::core::bench::trend::{self, parse_history, Degradation, HistoryPoint};
use crate::core::bench::{BenchReport, RunRecord, SuiteRecord};
use crate::msg::{BenchmarkResult, MetricArray};
use crate::report::bench::ReportFiles;
use crate::transport::{wall_clock, Node, NodeOptions, Publisher, Qos, Transport};

/// What a run does besides measuring: compare, publish, detect degradations.
#[derive(Debug, Clone)]
pub struct Settings {
    /// A previous run's `report.json` to compare with.
    pub baseline: Option<PathBuf>,
    /// What counts as a real change in the comparison.
    pub noise: NoiseThreshold,
    /// The camera's frame rate, for the vision recommendation.
    pub camera_rate_hz: Option<f64>,
    /// Namespace of the published results (the collector's, so alert rules see them).
    pub namespace: String,
    /// Robot id in the published results.
    pub robot_id: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            baseline: None,
            noise: NoiseThreshold::default(),
            camera_rate_hz: None,
            namespace: "/vla_perf".into(),
            robot_id: "robot".into(),
        }
    }
}

/// A finished, scored run.
#[derive(Debug, Clone)]
pub struct Finished {
    /// `<results_dir>/<run id>`.
    pub dir: PathBuf,
    /// What was observed.
    pub record: RunRecord,
    /// The scored report.
    pub report: BenchReport,
    /// Files written into `dir`.
    pub files: Vec<PathBuf>,
    /// The comparison with the baseline, when one was given.
    pub comparison: Option<Comparison>,
    /// Figures that degraded against the thresholds or the trend of earlier runs.
    pub degradations: Vec<Degradation>,
}

/// One whole run: measure, score, write the report, compare with the baseline, check the
/// trend of earlier runs in the same results directory, publish the results.
pub async fn run_once(
    options: &Options,
    settings: &Settings,
    transport: Arc<dyn Transport>,
    stop: watch::Receiver<bool>,
) -> Result<Finished> {
    // A baseline that cannot be read fails before anything is sent.
    let baseline = settings
        .baseline
        .as_deref()
        .map(read_baseline)
        .transpose()?;
    let mut node = create_node(options, &transport)?;
    run_on(node.as_mut(), options, settings, baseline, stop).await
}

/// The benchmark's node on the options' domain.
pub(super) fn create_node(
    options: &Options,
    transport: &Arc<dyn Transport>,
) -> Result<Box<dyn Node>> {
    Ok(transport
        .create_node(&NodeOptions::new(&options.node_name, "/").with_domain(options.domain))?)
}

/// [`run_once`] on a node that outlives the run (continuous mode keeps one, so what a run
/// published at its end is delivered while the next one waits).
pub(super) async fn run_on(
    node: &mut dyn Node,
    options: &Options,
    settings: &Settings,
    baseline: Option<BenchReport>,
    stop: watch::Receiver<bool>,
) -> Result<Finished> {
    let scenario = &options.scenario;
    let ns = settings.namespace.trim_end_matches('/');
    let results_pub = Publisher::<BenchmarkResult>::new(
        node,
        &format!("{ns}/benchmark_results"),
        Qos::reliable(10),
    )?;
    let metrics_pub =
        Publisher::<MetricArray>::new(node, &format!("{ns}/metrics"), Qos::reliable(10))?;
    let expectations = scenario.expectations();
    let verdict =
        |suite: &SuiteRecord, step: usize| step_verdict(suite, step, &expectations).sustainable;
    // Each suite's result goes out as soon as the suite ends, while the node has the rest
    // of the run to deliver it.
    let mut publish_suite = |run_id: &str, dir: &Path, suite: &SuiteRecord| {
        let report = score_suite(suite, &expectations);
        let msg = publish::suite_result(
            run_id,
            &scenario.name,
            &report,
            &settings.robot_id,
            &dir.join("report.json").display().to_string(),
            crate::msg::builtin_interfaces::Time::from_duration(wall_clock()),
        );
        if let Err(e) = results_pub.publish(&msg) {
            tracing::warn!(
                "benchmark: publishing the {} result: {e}",
                suite.suite.as_str()
            );
        }
    };
    let output = record_run(options, node, stop, &verdict, &mut publish_suite).await?;
    let report = score_with(
        &output.record,
        &expectations,
        &ScoreOptions {
            camera_rate_hz: settings.camera_rate_hz,
        },
    );
    let dir = output.dir;
    let mut files = write_record_and_report(&dir, &output.record, &report)?;
    let comparison = baseline.map(|b| compare(&b, &report, &settings.noise));
    if let Some(c) = &comparison {
        let path = dir.join("comparison.md");
        crate::report::write_atomic(&path, c.to_markdown().as_bytes()).map_err(|source| {
            Error::Report {
                path: path.clone(),
                source,
            }
        })?;
        files.push(path);
    }
    let degradations = check_trend(options, &report)?;
    let stamp = crate::msg::builtin_interfaces::Time::from_duration(wall_clock());
    let metrics = publish::metric_array(&report, &degradations, &settings.robot_id, stamp);
    if let Err(e) = metrics_pub.publish(&metrics) {
        tracing::warn!("benchmark: publishing metrics: {e}");
    }
    Ok(Finished {
        dir,
        record: output.record,
        report,
        files,
        comparison,
        degradations,
    })
}

/// Writes `record.json` and the report's files into `dir`; returns every file of the run
/// so far (the journal included).
fn write_record_and_report(
    dir: &Path,
    record: &RunRecord,
    report: &BenchReport,
) -> Result<Vec<PathBuf>> {
    let record_path = dir.join("record.json");
    let record_json = serde_json::to_vec_pretty(record).map_err(|source| Error::Json {
        path: record_path.clone(),
        action: "serializing the record",
        source,
    })?;
    crate::report::write_atomic(&record_path, &record_json).map_err(|source| Error::Report {
        path: record_path.clone(),
        source,
    })?;
    let mut files = vec![dir.join("commands.jsonl"), record_path];
    files.extend(report.write_to(dir).map_err(|source| Error::Report {
        path: dir.to_owned(),
        source,
    })?);
    Ok(files)
}

/// The degradations of `report` against the thresholds and the trend of the earlier runs
/// of this results directory; appends the run to `history.jsonl` and what degraded to
/// `degradations.jsonl`.
fn check_trend(options: &Options, report: &BenchReport) -> Result<Vec<Degradation>> {
    let history_path = options.results_dir.join("history.jsonl");
    let (history, torn) = match std::fs::read_to_string(&history_path) {
        Ok(text) => parse_history(&text),
        Err(_) => (Vec::new(), 0),
    };
    if torn > 0 {
        tracing::warn!(
            "benchmark: {}: {torn} unreadable lines skipped",
            history_path.display()
        );
    }
    let current = HistoryPoint::from_report(report);
    let degradations = trend::degradations(&history, &current, &options.scenario.thresholds);
    let line = current.to_json_line().map_err(|source| Error::Json {
        path: history_path.clone(),
        action: "serializing the history line",
        source,
    })?;
    append_lines(&history_path, &[line])?;
    if !degradations.is_empty() {
        let path = options.results_dir.join("degradations.jsonl");
        let lines: Vec<String> = degradations
            .iter()
            .map(|d| {
                serde_json::json!({"run_id": report.run_id, "unix": report.meta.started_unix, "degradation": d})
                    .to_string()
            })
            .collect();
        append_lines(&path, &lines)?;
    }
    Ok(degradations)
}

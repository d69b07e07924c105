//! The benchmark node: drives a live stack from a scenario, records what came back, and
//! scores it (`core::bench`) into reports under a results directory.
//!
//! A run: load and check the scenario's files (before anything is sent), open one DDS
//! participant, wait for the stack to be quiet, then run each suite at the scenario's
//! load. Suites run in a fixed order (visual perception, action execution, end to end,
//! cognitive planning, voice processing) whatever order the scenario lists them in: the
//! suites that start work the benchmark does not wait for (a transcript the planner then
//! plans, a plan the executor then executes) come last, so their leftovers cannot land in
//! another suite's figures. Every finished command or image is appended to
//! `commands.jsonl` and flushed to disk as it finishes, so a killed run loses nothing it
//! measured.

pub mod assets;
pub mod cli;
pub mod driver;
pub mod publish;
pub mod track;

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use sha2::{Digest, Sha256};
use tokio::sync::watch;

use crate::config::scenario::{LoadMode, Scenario, StopCondition, Suite};
use crate::core::bench::compare::{compare, Comparison, NoiseThreshold};
use crate::core::bench::score::{score_suite, score_with, step_verdict, ScoreOptions};
use crate::core::bench::trend::{self, parse_history, Degradation, HistoryPoint};
use crate::core::bench::{BenchReport, GpuRecord, ProcessRecord, RunMeta, RunRecord, SuiteRecord};
use crate::core::timeline::Outcome;
use crate::msg::{BenchmarkResult, MetricArray};
use crate::report::bench::ReportFiles;
use crate::resources::{GpuStatus, ResourceOptions, ResourceSampler};
use crate::transport::{wall_clock, Node, NodeOptions, Publisher, Qos, Transport};

/// What can stop a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A scenario file is missing or does not match.
    #[error("{0}")]
    Asset(#[from] assets::AssetError),
    /// The results directory could not be written.
    #[error("{}: {message}", path.display())]
    Results {
        /// The file or directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The middleware failed.
    #[error("ROS 2 transport: {0}")]
    Transport(String),
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Suites in the order they run.
pub const SUITE_ORDER: [Suite; 5] = [
    Suite::VisualPerception,
    Suite::ActionExecution,
    Suite::EndToEnd,
    Suite::CognitivePlanning,
    Suite::VoiceProcessing,
];

/// How a run is made.
#[derive(Debug, Clone)]
pub struct Options {
    /// The scenario file (its folder is where its relative paths start).
    pub scenario_path: PathBuf,
    /// The scenario, validated.
    pub scenario: Scenario,
    /// Runs are written to `<results_dir>/<run id>/`.
    pub results_dir: PathBuf,
    /// DDS domain.
    pub domain: u16,
    /// Node name of the benchmark's participant.
    pub node_name: String,
    /// Processes of the stack to sample (names as in the collector's `resources`).
    pub processes: Vec<String>,
    /// Read GPUs through NVML.
    pub gpu: bool,
    /// Show a progress bar (a terminal); otherwise log lines.
    pub progress_bar: bool,
}

/// Per-suite counters of the run in progress, shown as a bar or log lines.
pub struct Progress {
    bar: Option<ProgressBar>,
    sent: AtomicU64,
    finished: AtomicU64,
    late: AtomicU64,
    failed: AtomicU64,
}

impl Progress {
    fn new(show_bar: bool) -> Self {
        let bar = show_bar.then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>20} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            bar
        });
        Self {
            bar,
            sent: AtomicU64::new(0),
            finished: AtomicU64::new(0),
            late: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }

    fn start(&self, suite: Suite, planned: Option<u64>) {
        for c in [&self.sent, &self.finished, &self.late, &self.failed] {
            c.store(0, Ordering::Relaxed);
        }
        match &self.bar {
            Some(bar) => {
                bar.reset();
                bar.set_prefix(suite.as_str());
                bar.set_length(planned.unwrap_or(0));
                bar.set_message("");
            }
            None => tracing::info!("benchmark: suite {} started", suite.as_str()),
        }
    }

    /// One item was sent.
    pub fn sent(&self, _suite: Suite, _step: usize) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    /// One item finished with `outcome`.
    pub fn finished(&self, suite: Suite, outcome: Outcome) {
        let n = self.finished.fetch_add(1, Ordering::Relaxed) + 1;
        match outcome {
            Outcome::TimedOut | Outcome::Abandoned => {
                self.late.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Failed => {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            Outcome::Succeeded => {}
        }
        let (late, failed) = (
            self.late.load(Ordering::Relaxed),
            self.failed.load(Ordering::Relaxed),
        );
        match &self.bar {
            Some(bar) => {
                if bar.length().unwrap_or(0) < n {
                    bar.set_length(n);
                }
                bar.set_position(n);
                bar.set_message(format!("{failed} failed, {late} timed out"));
            }
            None if n.is_multiple_of(10) => tracing::info!(
                "benchmark: {}: {n} finished ({failed} failed, {late} timed out)",
                suite.as_str()
            ),
            None => {}
        }
    }

    fn done(&self, suite: Suite) {
        let n = self.finished.load(Ordering::Relaxed);
        let late = self.late.load(Ordering::Relaxed);
        let failed = self.failed.load(Ordering::Relaxed);
        match &self.bar {
            Some(bar) => bar.finish_with_message(format!("{failed} failed, {late} timed out")),
            None => tracing::info!(
                "benchmark: suite {} done: {n} finished, {failed} failed, {late} timed out",
                suite.as_str()
            ),
        }
    }
}

/// Hex SHA-256 of a file's bytes (empty when unreadable).
pub fn file_sha256(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| {
            Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .unwrap_or_default()
}

fn load_text(scenario: &Scenario) -> String {
    match scenario.load.mode {
        LoadMode::Sequential => "sequential".into(),
        LoadMode::FixedRate { rate_hz } => format!("fixed_rate {rate_hz} Hz"),
        LoadMode::Concurrent { concurrency } => format!("concurrent {concurrency}"),
        LoadMode::PeakSearch {
            start_hz,
            step_hz,
            max_hz,
        } => format!("peak_search {start_hz}..{max_hz} Hz step {step_hz}"),
    }
}

/// A run id: the scenario name and the UTC start time, safe as a directory name.
fn run_id(scenario: &str, start: std::time::SystemTime) -> String {
    let time = humantime::format_rfc3339_millis(start)
        .to_string()
        .replace([':', '.'], "");
    let name: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{name}-{time}")
}

/// Appends one JSON line per finished item, flushed to disk at once.
struct Journal {
    path: PathBuf,
    file: File,
    error: Option<String>,
}

impl Journal {
    fn create(path: PathBuf) -> Result<Self> {
        let file = File::options()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| Error::Results {
                path: path.clone(),
                message: format!("cannot create: {e}"),
            })?;
        Ok(Self {
            path,
            file,
            error: None,
        })
    }

    fn append(&mut self, suite: &str, item: &serde_json::Value) {
        let line = serde_json::json!({"suite": suite, "item": item}).to_string();
        let written = write_synced(&mut self.file, &[line]);
        if let Err(e) = written {
            if self.error.is_none() {
                tracing::error!("benchmark: {}: {e}", self.path.display());
            }
            self.error = Some(e.to_string());
        }
    }
}

/// What the sampler saw: per process, per GPU, and why GPU figures are missing.
type Sampled = (Vec<ProcessRecord>, Vec<GpuRecord>, Option<String>);

/// Samples the stack's processes on a thread of its own until dropped.
struct Sampling {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Sampled>>,
}

impl Sampling {
    fn start(processes: Vec<String>, gpu: bool) -> Self {
        let (stop, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("bench-resources".into())
            .spawn(move || sample_until(&rx, processes, gpu))
            .ok();
        Self {
            stop: Some(stop),
            thread,
        }
    }

    fn finish(mut self) -> Sampled {
        self.stop.take();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

fn sample_until(
    stop: &std::sync::mpsc::Receiver<()>,
    processes: Vec<String>,
    gpu: bool,
) -> Sampled {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut records: Vec<ProcessRecord> = processes
        .iter()
        .map(|name| ProcessRecord {
            name: name.clone(),
            cores,
            ..ProcessRecord::default()
        })
        .collect();
    let mut gpus: Vec<GpuRecord> = Vec::new();
    let mut unavailable = None;
    let mut sampler = match ResourceSampler::new(ResourceOptions { processes, gpu }) {
        Ok(s) => s,
        Err(e) => return (records, gpus, Some(e.to_string())),
    };
    let epoch = std::time::Instant::now();
    let mut first = true;
    loop {
        let sample = sampler.sample(epoch.elapsed());
        // The first sample has no CPU interval behind it.
        if !first {
            for record in &mut records {
                let of: Vec<_> = sample
                    .processes
                    .iter()
                    .filter(|p| p.name == record.name)
                    .collect();
                if !of.is_empty() {
                    record
                        .cpu_percent
                        .push(of.iter().map(|p| p.cpu_percent).sum());
                    record.rss_bytes.push(of.iter().map(|p| p.rss_bytes).sum());
                }
            }
        }
        first = false;
        match &sample.gpu {
            GpuStatus::Available(list) => {
                for g in list {
                    let name = format!("{}: {}", g.index, g.name);
                    let i = match gpus.iter().position(|r| r.name == name) {
                        Some(i) => i,
                        None => {
                            gpus.push(GpuRecord {
                                name,
                                ..GpuRecord::default()
                            });
                            gpus.len() - 1
                        }
                    };
                    let r = &mut gpus[i];
                    if let Some(u) = g.utilization_percent {
                        r.utilization_percent.push(u);
                    }
                    if let Some(m) = g.memory_used_bytes {
                        r.memory_used_bytes.push(m);
                    }
                    r.memory_total_bytes = g.memory_total_bytes.unwrap_or(r.memory_total_bytes);
                }
            }
            GpuStatus::Unavailable(reason) => unavailable = Some(reason.clone()),
        }
        match stop.recv_timeout(Duration::from_secs(1)) {
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            _ => break,
        }
    }
    (records, gpus, unavailable)
}

/// A run in progress: where it writes, and what it has recorded.
pub struct RunOutput {
    /// `<results_dir>/<run id>`.
    pub dir: PathBuf,
    /// What was observed.
    pub record: RunRecord,
}

/// Runs the scenario against the live stack once and returns what it observed.
/// `verdict(suite, step)` decides after each peak-search step whether to go on.
/// `on_suite(run_id, run_dir, suite)` sees each suite as it finishes.
pub async fn record_run(
    options: &Options,
    node: &mut dyn Node,
    stop: watch::Receiver<bool>,
    verdict: &(dyn Fn(&SuiteRecord, usize) -> bool + Sync),
    on_suite: &mut (dyn FnMut(&str, &Path, &SuiteRecord) + Send),
) -> Result<RunOutput> {
    let scenario = &options.scenario;
    let base = options
        .scenario_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    // Every file is checked before anything is sent.
    let assets = assets::load(
        scenario,
        &base,
        scenario.suites.contains(&Suite::VisualPerception),
    )?;
    let start_time = std::time::SystemTime::now();
    let id = run_id(&scenario.name, start_time);
    let dir = options.results_dir.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::Results {
        path: dir.clone(),
        message: format!("cannot create the results directory: {e}"),
    })?;
    let mut journal = Journal::create(dir.join("commands.jsonl"))?;
    let epoch = wall_clock();
    let mut wiring = driver::Wiring::new(node, &scenario.stack, epoch)?;
    let progress = Progress::new(options.progress_bar);
    let sampling = Sampling::start(options.processes.clone(), options.gpu);
    let timeout = scenario.load.timeout.as_secs_f64();
    let mut stop_settle = stop.clone();
    // Discovery both ways, then whatever the stack was still doing.
    let first_image = assets
        .image_sets
        .iter()
        .flat_map(|s| s.images.first())
        .next();
    let answered = wiring
        .warm_up(
            &scenario.commands[0].text,
            assets.clips.first().and_then(Option::as_ref),
            first_image,
            timeout,
            &mut stop_settle,
        )
        .await?;
    if !answered {
        tracing::warn!(
            "benchmark: the stack did not answer a warm-up command within {timeout} s; \
             measuring anyway (unanswered commands time out)"
        );
    }
    wiring.settle(timeout, &mut stop_settle).await;
    let mut suites = Vec::new();
    let mut next_tag = 0u64;
    for suite in SUITE_ORDER {
        if !scenario.suites.contains(&suite) || *stop.borrow() {
            continue;
        }
        let planned = match scenario.load.stop {
            StopCondition::Count(n)
                if !matches!(scenario.load.mode, LoadMode::PeakSearch { .. }) =>
            {
                Some(u64::from(n))
            }
            _ => None,
        };
        progress.start(suite, planned);
        let mut append = |suite: &str, item: &serde_json::Value| journal.append(suite, item);
        let mut run = driver::SuiteRun {
            scenario,
            assets: &assets,
            timeout,
            journal: &mut append,
            progress: &progress,
            stop: stop.clone(),
            next_tag: &mut next_tag,
        };
        let record = driver::run_suite(&mut wiring, suite, &mut run, verdict).await?;
        progress.done(suite);
        on_suite(&id, &dir, &record);
        suites.push(record);
        let mut stop_settle = stop.clone();
        wiring.settle(timeout, &mut stop_settle).await;
    }
    let (processes, gpus, gpu_unavailable) = sampling.finish();
    if let Some(e) = journal.error {
        return Err(Error::Results {
            path: journal.path,
            message: format!("could not record every result: {e}"),
        });
    }
    drop(wiring);
    let record = RunRecord {
        run_id: id,
        meta: RunMeta {
            host: sysinfo::System::host_name().unwrap_or_default(),
            tool: format!("vla_perf {}", env!("CARGO_PKG_VERSION")),
            platform: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            scenario: scenario.name.clone(),
            scenario_path: options.scenario_path.display().to_string(),
            scenario_sha256: file_sha256(&options.scenario_path),
            config_path: format!("{} (stack section)", options.scenario_path.display()),
            config_sha256: file_sha256(&options.scenario_path),
            started_unix: epoch.as_secs_f64(),
            ended_unix: wall_clock().as_secs_f64(),
            load: load_text(scenario),
            timeout,
        },
        suites,
        processes,
        gpus,
        gpu_unavailable,
    };
    Ok(RunOutput { dir, record })
}

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

fn results_error(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |message| Error::Results {
        path: path.to_owned(),
        message,
    }
}

/// Reads a previous run's report to compare with.
pub fn read_baseline(path: &Path) -> Result<BenchReport> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| results_error(path)(format!("cannot read the baseline: {e}")))?;
    BenchReport::from_json(&text)
        .map_err(|e| results_error(path)(format!("not a benchmark report: {e}")))
}

/// Writes `lines` in one write call (a kill cannot tear one line apart from the next
/// write of the same process) and flushes them to disk.
fn write_synced(file: &mut File, lines: &[String]) -> std::io::Result<()> {
    let mut buf = String::new();
    for line in lines {
        buf.push_str(line);
        buf.push('\n');
    }
    file.write_all(buf.as_bytes())?;
    file.sync_data()
}

/// Appends `lines` to `path` and flushes them to disk.
fn append_lines(path: &Path, lines: &[String]) -> Result<()> {
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| results_error(path)(format!("cannot open: {e}")))?;
    write_synced(&mut file, lines).map_err(|e| results_error(path)(e.to_string()))
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

fn create_node(options: &Options, transport: &Arc<dyn Transport>) -> Result<Box<dyn Node>> {
    transport
        .create_node(&NodeOptions::new(&options.node_name, "/").with_domain(options.domain))
        .map_err(|e| Error::Transport(e.to_string()))
}

/// [`run_once`] on a node that outlives the run (continuous mode keeps one, so what a run
/// published at its end is delivered while the next one waits).
async fn run_on(
    node: &mut dyn Node,
    options: &Options,
    settings: &Settings,
    baseline: Option<BenchReport>,
    stop: watch::Receiver<bool>,
) -> Result<Finished> {
    let scenario = &options.scenario;
    let ns = settings.namespace.trim_end_matches('/');
    let transport_error = |e: crate::transport::Error| Error::Transport(e.to_string());
    let results_pub = Publisher::<BenchmarkResult>::new(
        node,
        &format!("{ns}/benchmark_results"),
        Qos::reliable(10),
    )
    .map_err(transport_error)?;
    let metrics_pub =
        Publisher::<MetricArray>::new(node, &format!("{ns}/metrics"), Qos::reliable(10))
            .map_err(transport_error)?;
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
    let record_path = dir.join("record.json");
    let record_json = serde_json::to_vec_pretty(&output.record)
        .map_err(|e| results_error(&record_path)(e.to_string()))?;
    crate::report::write_atomic(&record_path, &record_json)
        .map_err(|e| results_error(&record_path)(e.to_string()))?;
    let mut files = vec![dir.join("commands.jsonl"), record_path];
    files.extend(
        report
            .write_to(&dir)
            .map_err(|e| results_error(&dir)(e.to_string()))?,
    );
    let comparison = baseline.map(|b| compare(&b, &report, &settings.noise));
    if let Some(c) = &comparison {
        let path = dir.join("comparison.md");
        crate::report::write_atomic(&path, c.to_markdown().as_bytes())
            .map_err(|e| results_error(&path)(e.to_string()))?;
        files.push(path);
    }
    // Trend over the earlier runs of this results directory.
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
    let current = HistoryPoint::from_report(&report);
    let degradations = trend::degradations(&history, &current, &scenario.thresholds);
    let line = current
        .to_json_line()
        .map_err(|e| results_error(&history_path)(e.to_string()))?;
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

/// Runs again every `every` (from the start of one run to the next) until `runs` runs
/// were made or `stop` flips; `each` sees every finished run.
pub async fn run_continuous(
    options: &Options,
    settings: &Settings,
    every: Duration,
    runs: Option<u32>,
    transport: Arc<dyn Transport>,
    mut stop: watch::Receiver<bool>,
    each: &mut dyn FnMut(&Finished),
) -> Result<u32> {
    let mut made = 0;
    let mut node = create_node(options, &transport)?;
    loop {
        let started = tokio::time::Instant::now();
        // The baseline is read again each run: a CI job may replace it between runs.
        let baseline = settings
            .baseline
            .as_deref()
            .map(read_baseline)
            .transpose()?;
        let finished = run_on(node.as_mut(), options, settings, baseline, stop.clone()).await?;
        each(&finished);
        made += 1;
        if runs.is_some_and(|n| made >= n) || *stop.borrow() {
            return Ok(made);
        }
        tokio::select! {
            _ = tokio::time::sleep_until(started + every) => {}
            _ = stop.changed() => return Ok(made),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_name_the_scenario_and_the_utc_start() {
        let t = std::time::UNIX_EPOCH + Duration::from_millis(86_400_000 + 3_723_456);
        assert_eq!(
            run_id("basic run/2", t),
            "basic_run_2-1970-01-02T010203456Z"
        );
    }

    #[test]
    fn the_journal_appends_one_json_line_per_item() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("commands.jsonl");
        let mut j = Journal::create(path.clone()).unwrap();
        j.append("end_to_end", &serde_json::json!({"command": 0}));
        j.append("end_to_end", &serde_json::json!({"command": 1}));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["item"]["command"], 1);
        assert!(j.error.is_none());
    }
}

//! The command line shared by `vla-perf bench` and the `benchmark` node binary.
//!
//! Exit status: 0 when every threshold passed and nothing regressed against the baseline;
//! 2 when a threshold failed; 3 when the baseline comparison found a regression (it wins
//! over 2); 1 when the run could not be made (bad scenario, missing file, results not
//! writable).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args as ClapArgs;

use super::{Finished, Options, Settings};
use crate::core::bench::compare::NoiseThreshold;
use crate::transport::{NodeOptions, Transport};

/// Exit status when a threshold failed.
pub const EXIT_THRESHOLDS: u8 = 2;
/// Exit status when the baseline comparison found a regression.
pub const EXIT_REGRESSION: u8 = 3;

/// Options of a benchmark run.
#[derive(Debug, Clone, Default, ClapArgs)]
pub struct Args {
    /// Scenario file (YAML, `scenario:` root).
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// Runs are written to RESULTS/<run id>/; history.jsonl and degradations.jsonl beside.
    #[arg(long, value_name = "DIR")]
    pub results: Option<PathBuf>,
    /// A previous run's report.json: per-metric verdicts, exit 3 on a regression.
    #[arg(long, value_name = "REPORT")]
    pub baseline: Option<PathBuf>,
    /// Relative change below which a figure is unchanged (latencies, throughput).
    #[arg(long, value_name = "FRACTION")]
    pub noise: Option<f64>,
    /// Continuous mode: run again this often (`10m`, `1h`), until stopped or --runs.
    #[arg(long, value_parser = crate::config::duration::parse_duration)]
    pub every: Option<Duration>,
    /// Stop after this many runs (continuous mode).
    #[arg(long)]
    pub runs: Option<u32>,
    /// A process of the stack to sample (name as `ps` shows it); repeat for several.
    #[arg(long = "process", value_name = "NAME")]
    pub processes: Vec<String>,
    /// The camera's frame rate, Hz (a recommendation compares vision frames/s with it).
    #[arg(long, value_name = "HZ")]
    pub camera_rate: Option<f64>,
    /// Namespace of the published results (default /vla_perf, or the collector config's).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Robot id in the published results (default `robot`, or the collector config's).
    #[arg(long)]
    pub robot_id: Option<String>,
    /// Collector config whose namespace and robot_id the results follow.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DDS domain (default ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    pub domain: Option<u16>,
    /// Plain log lines even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

impl Args {
    /// Fills options not given on the command line from ROS parameters (`scenario`,
    /// `results_dir`, `baseline`, `noise`, `every`, `runs`, `processes` (comma separated),
    /// `camera_rate_hz`, `namespace`, `robot_id`, `config`).
    pub fn with_parameters(
        mut self,
        params: &std::collections::BTreeMap<String, String>,
    ) -> anyhow::Result<Self> {
        let get = |k: &str| params.get(k).filter(|v| !v.is_empty());
        let number = |k: &str| -> anyhow::Result<Option<f64>> {
            get(k)
                .map(|v| {
                    v.parse::<f64>()
                        .map_err(|_| anyhow::anyhow!("parameter {k}: `{v}` is not a number"))
                })
                .transpose()
        };
        self.scenario = self.scenario.or(get("scenario").map(PathBuf::from));
        self.results = self.results.or(get("results_dir").map(PathBuf::from));
        self.baseline = self.baseline.or(get("baseline").map(PathBuf::from));
        self.config = self.config.or(get("config").map(PathBuf::from));
        self.namespace = self.namespace.or(get("namespace").cloned());
        self.robot_id = self.robot_id.or(get("robot_id").cloned());
        if self.noise.is_none() {
            self.noise = number("noise")?;
        }
        if self.camera_rate.is_none() {
            self.camera_rate = number("camera_rate_hz")?;
        }
        if self.every.is_none() {
            if let Some(v) = get("every") {
                self.every = Some(
                    crate::config::duration::parse_duration(v)
                        .map_err(|e| anyhow::anyhow!("parameter every: `{v}`: {e}"))?,
                );
            }
        }
        if self.runs.is_none() {
            if let Some(v) = get("runs") {
                self.runs = Some(
                    v.parse()
                        .map_err(|_| anyhow::anyhow!("parameter runs: `{v}` is not a count"))?,
                );
            }
        }
        if self.processes.is_empty() {
            if let Some(v) = get("processes") {
                self.processes = v
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
        }
        Ok(self)
    }

    /// The validated run options and settings.
    pub fn resolve(&self, node_name: &str) -> anyhow::Result<(Options, Settings)> {
        let Some(path) = &self.scenario else {
            anyhow::bail!("no scenario given (a SCENARIO argument or -p scenario:=FILE)");
        };
        let scenario = crate::config::load_scenario(path)?;
        let mut settings = Settings::default();
        if let Some(config) = &self.config {
            let c = crate::config::load_collector(config)?;
            settings.namespace = c.namespace;
            settings.robot_id = c.robot_id;
        }
        if let Some(ns) = &self.namespace {
            settings.namespace.clone_from(ns);
        }
        if let Some(id) = &self.robot_id {
            settings.robot_id.clone_from(id);
        }
        if let Some(noise) = self.noise {
            anyhow::ensure!(
                noise.is_finite() && (0.0..1.0).contains(&noise),
                "--noise {noise}: must be a fraction in [0, 1)"
            );
            settings.noise = NoiseThreshold::uniform(noise);
        }
        if let Some(rate) = self.camera_rate {
            anyhow::ensure!(
                rate.is_finite() && rate > 0.0,
                "--camera-rate {rate}: must be a positive number of Hz"
            );
        }
        if self.every.is_some_and(|d| d.is_zero()) {
            anyhow::bail!("--every must be longer than zero");
        }
        settings.camera_rate_hz = self.camera_rate;
        settings.baseline.clone_from(&self.baseline);
        let domain = match self.domain {
            Some(d) => d,
            None => NodeOptions::from_env(node_name, "/")?.domain_id,
        };
        let options = Options {
            scenario_path: path.clone(),
            scenario,
            results_dir: self
                .results
                .clone()
                .unwrap_or_else(|| PathBuf::from("vla_perf_results")),
            domain,
            node_name: node_name.to_owned(),
            processes: self.processes.clone(),
            gpu: true,
            progress_bar: !self.no_progress && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        Ok((options, settings))
    }
}

/// One finished run as the terminal shows it.
pub fn print_finished(f: &Finished) {
    let r = &f.report;
    println!(
        "benchmark {}: {}",
        r.run_id,
        if r.passed { "PASSED" } else { "FAILED" }
    );
    for s in &r.suites {
        let failed: Vec<&str> = s
            .kpis
            .iter()
            .filter(|k| k.passed == Some(false))
            .map(|k| k.name.as_str())
            .collect();
        println!(
            "  {:<20} {:>3} sent, {:>3} succeeded, {:>3} failed, {:>3} timed out{}",
            s.suite.as_str(),
            s.commands_sent,
            s.commands_succeeded,
            s.commands_failed,
            s.commands_timed_out,
            if failed.is_empty() {
                String::new()
            } else {
                format!("; failed: {}", failed.join(", "))
            }
        );
    }
    for rec in &r.recommendations {
        println!("  recommendation: {}", rec.message);
    }
    for d in &f.degradations {
        println!(
            "  degraded: {} {}: {}",
            d.suite.as_str(),
            d.metric,
            d.reason
        );
    }
    if let Some(c) = &f.comparison {
        print!("{}", c.to_text());
    }
    println!("report: {}", f.dir.join("report.md").display());
}

/// The exit status of a finished run.
pub fn exit_status(f: &Finished) -> u8 {
    if f.comparison.as_ref().is_some_and(|c| c.regressed()) {
        EXIT_REGRESSION
    } else if !f.report.passed {
        EXIT_THRESHOLDS
    } else {
        0
    }
}

/// Runs the benchmark as the command line asks; prints each run; returns the exit status.
pub fn run(args: &Args, node_name: &str, transport: Arc<dyn Transport>) -> ExitCode {
    let (options, settings) = match args.resolve(node_name) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let every = args.every;
    let runs = args.runs;
    let result = runtime.block_on(async move {
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let shutdown = crate::node_main::shutdown_signal();
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut worst = 0u8;
        let mut each = |f: &Finished| {
            print_finished(f);
            worst = worst.max(exit_status(f));
        };
        let made = match every {
            Some(every) => {
                super::run_continuous(&options, &settings, every, runs, transport, stop, &mut each)
                    .await
            }
            None => super::run_once(&options, &settings, transport, stop)
                .await
                .map(|f| {
                    each(&f);
                    1
                }),
        };
        made.map(|_| worst)
    });
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

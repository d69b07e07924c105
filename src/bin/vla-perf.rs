//! The `vla-perf` command-line tool.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use vla_perf::config;

#[path = "vla-perf/analyze.rs"]
mod analyze;
#[path = "vla-perf/compare.rs"]
mod compare;
#[cfg(any(feature = "ros2-client", feature = "r2r"))]
#[path = "vla-perf/dashboard.rs"]
mod dashboard;
#[cfg(feature = "ros2-client")]
#[path = "vla-perf/demo.rs"]
mod demo;
#[path = "vla-perf/discover.rs"]
mod discover;
#[path = "vla-perf/export.rs"]
mod export;
#[cfg(any(feature = "ros2-client", feature = "r2r"))]
#[path = "vla-perf/foxglove.rs"]
mod foxglove;
#[path = "vla-perf/recommend.rs"]
mod recommend;

/// Performance monitoring for Vision-Language-Action ROS 2 robot stacks.
#[derive(Debug, Parser)]
#[command(name = "vla-perf", version, about)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Validate config files (collector, alert rules, scenarios) and print what was understood.
    ///
    /// The kind of each file is recognised from its top-level keys. Files are checked in
    /// order; the first invalid one stops the check with a non-zero exit status.
    CheckConfig {
        /// Config files to check.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Analyse a rosbag2 recording (MCAP or sqlite3) as the collector would have measured it.
    ///
    /// Writes report.json, report.md and SVG plots into --out; optionally a CSV of every
    /// command and an MCAP file of the computed vla_perf messages.
    Analyze(analyze::Args),
    /// Benchmark a live stack from a scenario: drive its topics, score it against the
    /// scenario's ground truth, write a report; exit 2 when a threshold failed, 3 when it
    /// regressed against --baseline.
    #[cfg(any(feature = "ros2-client", feature = "r2r"))]
    Bench(vla_perf::bench::cli::Args),
    /// Compare a benchmark report.json against a baseline one: a verdict per figure;
    /// exit status 3 when anything regressed (for CI gates).
    Compare(compare::Args),
    /// Listen to a running stack (or read a recording) and propose a collector
    /// configuration: the chain of topics that fire once per command, in order, each with
    /// its correlation rule and the evidence for it, written as a commented collector.yaml.
    Discover(discover::Args),
    /// Export vla_perf's configuration for other tools: `prometheus-rules` turns an alert
    /// file into Prometheus alerting (and fleet recording) rules.
    #[command(subcommand)]
    Export(export::What),
    /// Print the recommendations of a benchmark report with the figures behind them.
    Recommend(recommend::Args),
    /// Run the suite on the built-in SIMULATED VLA stack over localhost-only DDS: the
    /// simulated stack, the collector and the alert node, with a driver speaking commands.
    #[cfg(feature = "ros2-client")]
    Demo(demo::Args),
    /// Live terminal dashboard of a running collector (latency per stage with trends, SLO,
    /// rates, success rates, resources, active alerts); q or Ctrl-C quits.
    #[cfg(any(feature = "ros2-client", feature = "r2r"))]
    Dashboard(dashboard::Args),
    /// Foxglove WebSocket server (foxglove.websocket.v1) relaying a running collector's
    /// topics, alerts, benchmark results and /diagnostics; open it in Foxglove with
    /// config/foxglove_layout.json. Ctrl-C stops.
    #[cfg(any(feature = "ros2-client", feature = "r2r"))]
    Foxglove(foxglove::Args),
}

fn main() -> ExitCode {
    // The demo and the benchmark run nodes in this process (node_main::bound_malloc_arenas).
    vla_perf::node_main::bound_malloc_arenas();
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig { files } => check_config(&files),
        Command::Analyze(args) => analyze::main(&args),
        #[cfg(any(feature = "ros2-client", feature = "r2r"))]
        Command::Bench(args) => {
            vla_perf::node_main::init_logging("info,rustdds=off,ros2_client=warn");
            vla_perf::bench::cli::run(
                &args,
                "vla_perf_benchmark",
                vla_perf::node_main::transport(),
            )
        }
        Command::Compare(args) => compare::main(&args),
        Command::Recommend(args) => recommend::main(&args),
        Command::Export(what) => export::main(&what),
        Command::Discover(args) => discover::main(&args),
        #[cfg(feature = "ros2-client")]
        Command::Demo(args) => demo::main(&args),
        #[cfg(any(feature = "ros2-client", feature = "r2r"))]
        Command::Dashboard(args) => dashboard::main(&args),
        #[cfg(any(feature = "ros2-client", feature = "r2r"))]
        Command::Foxglove(args) => foxglove::main(&args),
    }
}

/// What a command attaching to a running suite needs: its node options (`name`, ROS 2's
/// environment, `domain` when given) and a runtime; `None` after printing why not.
#[cfg(any(feature = "ros2-client", feature = "r2r"))]
fn attach_setup(
    name: &str,
    domain: Option<u16>,
) -> Option<(vla_perf::transport::NodeOptions, tokio::runtime::Runtime)> {
    let mut options = match vla_perf::transport::NodeOptions::from_env(name, "/") {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return None;
        }
    };
    if let Some(domain) = domain {
        options.domain_id = domain;
    }
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => Some((options, runtime)),
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            None
        }
    }
}

/// Checks `files` in order, like `promtool check config`: a summary per good file on
/// stdout, warnings and the first error on stderr.
fn check_config(files: &[PathBuf]) -> ExitCode {
    for path in files {
        match config::check_file(path) {
            Ok(loaded) => {
                println!("{}: OK ({})", path.display(), loaded.config.kind().name());
                for line in loaded.config.summary().lines() {
                    println!("  {line}");
                }
                for warning in &loaded.warnings {
                    eprintln!("warning: {warning}");
                }
            }
            Err(error) => {
                eprintln!("error: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

//! `vla-perf demo`: the suite on the built-in SIMULATED stack.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vla_perf::config;
use vla_perf::demo::{outcome_name, DemoOptions};

/// Alert rules used when `--alerts` is not given: the shipped example.
const DEFAULT_ALERTS: &str = include_str!("../../../config/alerts.yaml");

/// Options of `vla-perf demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// How long commands are spoken (`60s`, `2m`).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// One command this often.
    #[arg(long, default_value = "3s", value_parser = humantime::parse_duration)]
    command_period: Duration,
    /// Make the simulated planner slow and the vision heavy, to watch alerts fire.
    #[arg(long)]
    degrade: bool,
    /// Plain log lines only (the live dashboard is not built yet; this is the only mode).
    #[arg(long)]
    no_dashboard: bool,
    /// Alert rules (default: the shipped config/alerts.yaml).
    #[arg(long, value_name = "FILE")]
    alerts: Option<PathBuf>,
    /// DDS domain id of every node (default: ROS_DOMAIN_ID, else 0).
    #[arg(long)]
    domain: Option<u16>,
    /// Where the alert history is written.
    #[arg(long, default_value = "vla_perf_demo")]
    state_dir: PathBuf,
}

/// Runs the demo; prints a summary.
pub fn main(args: &Args) -> ExitCode {
    vla_perf::node_main::init_logging("info,rustdds=off,ros2_client=warn");
    let rules = match &args.alerts {
        Some(path) => config::load_alerts(path),
        None => {
            config::parse_alerts("config/alerts.yaml (built in)", DEFAULT_ALERTS).map(|l| l.config)
        }
    };
    let rules = match rules {
        Ok(rules) => rules,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let domain = match args.domain {
        Some(d) => d,
        None => match vla_perf::transport::NodeOptions::from_env("vla_perf_demo", "/") {
            Ok(o) => o.domain_id,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let options = DemoOptions {
        duration: args.duration,
        command_period: args.command_period,
        domain,
        degrade: args.degrade,
        alerts: rules,
        state_dir: args.state_dir.clone(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "vla_perf demo on the SIMULATED VLA stack: {} of commands, domain {domain}, localhost only{}",
        humantime::format_duration(args.duration),
        if args.degrade { ", degraded" } else { "" }
    );
    let summary = match runtime.block_on(vla_perf::demo::run(
        options,
        vla_perf::node_main::transport(),
    )) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut outcomes = std::collections::BTreeMap::<&str, usize>::new();
    for c in &summary.commands {
        *outcomes.entry(outcome_name(c.outcome)).or_default() += 1;
    }
    println!(
        "spoken {} commands; the collector reported {}: {:?}",
        summary.spoken,
        summary.commands.len(),
        outcomes
    );
    let mut e2e: Vec<f64> = summary
        .commands
        .iter()
        .map(|c| c.end_to_end)
        .filter(|v| v.is_finite())
        .collect();
    e2e.sort_by(f64::total_cmp);
    if let Some(median) = e2e.get(e2e.len() / 2) {
        println!(
            "end-to-end latency median {median:.2} s over {} succeeded commands",
            e2e.len()
        );
    }
    println!(
        "alerts: {} state changes; history in {}",
        summary.alerts.len(),
        args.state_dir.join("alert_history.jsonl").display()
    );
    if summary.commands.is_empty() {
        eprintln!("error: no command was measured");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

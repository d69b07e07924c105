//! `vla-perf export prometheus-rules`: the alert file as Prometheus rules for a fleet.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use vla_perf::config;
use vla_perf::prometheus::rules::{export, ExportOptions};

/// What to export.
#[derive(Debug, clap::Subcommand)]
pub enum What {
    /// Translate an alert file (compact or full form) into a Prometheus rule file: one
    /// alerting rule per rule and severity over the series the collector exports, notes
    /// where Prometheus evaluates differently; `--recording` adds the fleet's recording
    /// rules. Rules that cannot be expressed stop the export (exit 1, each named with the
    /// reason) unless --skip-unsupported.
    PrometheusRules(Args),
}

/// Options of `vla-perf export prometheus-rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The alert file.
    #[arg(value_name = "ALERTS.yaml")]
    alerts: PathBuf,
    /// Write the rule file here (default: stdout).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Add recording rules for a fleet: per-robot and fleet-wide end-to-end and stage
    /// p50/p95/p99, SLO compliance, command rate and outcome shares.
    #[arg(long)]
    recording: bool,
    /// Window of the recording rules.
    #[arg(long, default_value = "5m", value_parser = config::duration::parse_duration)]
    recording_window: Duration,
    /// The alert node's evaluation period, which turns consecutive_violations into `for`.
    #[arg(long, default_value = "1s", value_parser = config::duration::parse_duration)]
    evaluation_period: Duration,
    /// Leave out the rules that cannot be expressed (listed as comments and on stderr).
    #[arg(long)]
    skip_unsupported: bool,
}

/// Runs `vla-perf export ...`.
pub fn main(what: &What) -> ExitCode {
    let What::PrometheusRules(args) = what;
    let rules = match config::load_alerts(&args.alerts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let options = ExportOptions {
        evaluation_period: args.evaluation_period,
        recording: args.recording.then_some(args.recording_window),
        skip_unsupported: args.skip_unsupported,
    };
    let source = args.alerts.display().to_string();
    let exported = match export(&source, &rules, &options) {
        Ok(e) => e,
        Err(refused) => {
            for r in &refused {
                eprintln!("error: {source}: rule `{}`: {}", r.rule, r.reason);
            }
            eprintln!(
                "{} rule(s) cannot be expressed over the collector's Prometheus series; \
                 --skip-unsupported exports the others",
                refused.len()
            );
            return ExitCode::FAILURE;
        }
    };
    for r in &exported.skipped {
        eprintln!(
            "warning: {source}: rule `{}` not exported: {}",
            r.rule, r.reason
        );
    }
    match &args.out {
        Some(path) => {
            if let Err(e) = std::fs::write(path, &exported.text) {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
            eprintln!(
                "{}: {} alerting and {} recording rules",
                path.display(),
                exported.alerting,
                exported.recording
            );
        }
        None => print!("{}", exported.text),
    }
    ExitCode::SUCCESS
}

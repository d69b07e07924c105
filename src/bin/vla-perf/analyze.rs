//! `vla-perf analyze`: a rosbag2 recording through the collector's pipeline.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args as ClapArgs;
use indicatif::{ProgressBar, ProgressStyle};
use vla_perf::analyze::{self, Options, Outputs};
use vla_perf::config::{self, CollectorConfig};

/// Options of `vla-perf analyze`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The recording: a rosbag2 directory (metadata.yaml plus .mcap/.db3 files) or one file.
    #[arg(value_name = "BAG")]
    bag: PathBuf,
    /// Collector configuration (stages, topics, windows, SLO); built-in defaults without it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for report.json, report.md and the SVG plots.
    #[arg(long, value_name = "DIR", default_value = "vla_perf_report")]
    out: PathBuf,
    /// Also write the computed vla_perf messages (command latency, metrics, topic health,
    /// diagnostics) into this MCAP file, to play beside the recording.
    #[arg(long, value_name = "FILE")]
    mcap_out: Option<PathBuf>,
    /// Also write every command's timeline to this CSV file.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// How far out of log-time order a message may be stored and still be put back in order.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = vla_perf::config::duration::parse_duration)]
    reorder_window: Duration,
    /// Skip verifying MCAP chunk checksums: faster, but garbage inside a chunk goes unnoticed.
    #[arg(long)]
    no_checksums: bool,
    /// No progress output.
    #[arg(long, short)]
    quiet: bool,
}

/// Runs the analysis; exit status 0 when a report was written (warnings included).
pub fn main(args: &Args) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", causes(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes joined by `: `, leaving out a cause the message before already
/// ends with (our errors quote their source: "FILE: No space left on device").
fn causes(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.ends_with(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

fn run(args: &Args) -> anyhow::Result<()> {
    let config: CollectorConfig = match &args.config {
        Some(path) => config::load_collector(path)?,
        None => CollectorConfig::default(),
    };
    let outputs = Outputs {
        dir: args.out.clone(),
        csv: args.csv.clone(),
        mcap: args.mcap_out.clone(),
    };
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    let mut next_line = 0u64;
    let quiet = args.quiet;
    let mut progress = |bytes: u64, total: u64| {
        if let Some(bar) = &bar {
            bar.set_length(total);
            bar.set_position(bytes);
        } else if !quiet && bytes >= next_line {
            // Plain lines for logs: one per tenth of the recording.
            eprintln!(
                "read {:.1} of {:.1} MB",
                bytes as f64 / 1e6,
                total as f64 / 1e6
            );
            next_line = bytes + (total / 10).max(1);
        }
    };
    let started = Instant::now();
    let analysis = analyze::run(
        &args.bag,
        &config,
        args.config.as_deref(),
        Options {
            reorder_window: args.reorder_window,
            verify_checksums: !args.no_checksums,
        },
        &outputs,
        &mut progress,
    )
    .with_context(|| format!("analysing {}", args.bag.display()))?;
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    print_analysis(&analysis, elapsed);
    Ok(())
}

/// Commands by outcome, end-to-end quantiles, read throughput and the files written.
fn print_analysis(analysis: &analyze::Analysis, elapsed: f64) {
    let report = &analysis.report;
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    let c = &report.commands;
    println!(
        "{} commands: {} succeeded, {} failed, {} timed out, {} abandoned",
        c.total(),
        c.succeeded,
        c.failed,
        c.timed_out,
        c.abandoned
    );
    if let Some(e2e) = &report.end_to_end.summary {
        println!(
            "end to end: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
            e2e.p50 * 1e3,
            e2e.p95 * 1e3,
            e2e.max * 1e3
        );
    }
    let skipped: u64 = report.skips.iter().map(|s| s.messages).sum();
    println!(
        "read {} messages, {:.1} MB in {:.2} s: {:.0} messages/s, {:.1} MB/s ({} skipped)",
        analysis.read.messages,
        analysis.read.bytes as f64 / 1e6,
        elapsed,
        analysis.read.messages as f64 / elapsed.max(1e-9),
        analysis.read.bytes as f64 / 1e6 / elapsed.max(1e-9),
        skipped
    );
    for path in &analysis.written {
        println!("wrote {}", path.display());
    }
}

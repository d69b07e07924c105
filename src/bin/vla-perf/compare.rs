//! `vla-perf compare`: a benchmark report against a baseline, for CI gates.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args as ClapArgs, ValueEnum};
use vla_perf::core::bench::{compare, BenchReport, NoiseThreshold};
use vla_perf::report::bench::ReportFiles;

/// Exit status when a gating figure regressed.
pub const REGRESSED: u8 = 3;

/// Output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// One line per figure.
    Text,
    /// A Markdown table (e.g. for a pull-request comment).
    Markdown,
}

/// Options of `vla-perf compare`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The baseline run's report.json.
    #[arg(value_name = "BASELINE")]
    baseline: PathBuf,
    /// The current run's report.json.
    #[arg(value_name = "CURRENT")]
    current: PathBuf,
    /// Changes within this are noise: a fraction of the baseline for latencies and
    /// throughput, an absolute difference for rates (WER, success, mAP ...).
    #[arg(long, default_value_t = 0.05, value_parser = noise)]
    noise: f64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

fn noise(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("`{s}` is not a non-negative number")),
    }
}

/// Reads a report.json.
pub fn load(path: &Path) -> anyhow::Result<BenchReport> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    BenchReport::from_json(&text).with_context(|| format!("parsing {}", path.display()))
}

/// Prints the comparison; exit 0, 3 when anything regressed, 1 on error.
pub fn main(args: &Args) -> ExitCode {
    let run = || -> anyhow::Result<bool> {
        let baseline = load(&args.baseline)?;
        let current = load(&args.current)?;
        let comparison = compare(&baseline, &current, &NoiseThreshold::uniform(args.noise));
        print!(
            "{}",
            match args.format {
                Format::Text => comparison.to_text(),
                Format::Markdown => comparison.to_markdown(),
            }
        );
        Ok(comparison.regressed())
    };
    match run() {
        Ok(false) => ExitCode::SUCCESS,
        Ok(true) => ExitCode::from(REGRESSED),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

//! `vla-perf recommend`: the recommendations of a benchmark report, with their evidence.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::Args as ClapArgs;

/// Options of `vla-perf recommend`.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// A report.json, a run directory holding one, or a results directory (its newest
    /// `*/report.json` is used).
    #[arg(value_name = "PATH", default_value = "vla_perf_results")]
    path: PathBuf,
}

/// The report a path names: itself, `report.json` in it, or the newest `*/report.json`.
pub fn find_report(path: &Path) -> anyhow::Result<PathBuf> {
    if path.is_file() {
        return Ok(path.to_owned());
    }
    let direct = path.join("report.json");
    if direct.is_file() {
        return Ok(direct);
    }
    let entries = std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?;
    let mut newest: Option<(std::time::SystemTime, PathBuf)> = None;
    for entry in entries.flatten() {
        let candidate = entry.path().join("report.json");
        let Ok(modified) = candidate.metadata().and_then(|m| m.modified()) else {
            continue;
        };
        // Ties (coarse clocks) go to the later name: run directories are named by time.
        if newest
            .as_ref()
            .is_none_or(|(t, p)| (modified, &candidate) > (*t, p))
        {
            newest = Some((modified, candidate));
        }
    }
    match newest {
        Some((_, p)) => Ok(p),
        None => bail!("no report.json in {} or its subdirectories", path.display()),
    }
}

/// Prints the recommendations; exit 0 (also when there are none), 1 on error.
pub fn main(args: &Args) -> ExitCode {
    let run = || -> anyhow::Result<()> {
        let path = find_report(&args.path)?;
        let report = super::compare::load(&path)?;
        println!(
            "{} (run {}, scenario {}):",
            path.display(),
            report.run_id,
            report.meta.scenario
        );
        if report.recommendations.is_empty() {
            println!("no recommendations: no rule fired");
        }
        for r in &report.recommendations {
            println!("[{:?}] {}: {}", r.severity, r.rule, r.message);
            println!("    evidence: {}", r.evidence);
        }
        Ok(())
    };
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

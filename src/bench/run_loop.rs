//! The run loop: check the scenario's files, wire the stack, warm it up, then drive each
//! suite in [`SUITE_ORDER`] and record what came back.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tokio::sync::watch;

use super::assets::{self, Assets};
use super::journal::Journal;
use super::progress::Progress;
use super::sampling::Sampling;
use super::{driver, Error, Options, Result, SUITE_ORDER};
use crate::config::scenario::{LoadMode, Scenario, StopCondition, Suite};
use crate::core::bench::{RunMeta, RunRecord, SuiteRecord};
use crate::transport::{wall_clock, Node};

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
    // Every file is checked before anything is sent.
    let assets = load_assets(options)?;
    let id = run_id(&scenario.name, std::time::SystemTime::now());
    let dir = options.results_dir.join(&id);
    std::fs::create_dir_all(&dir).map_err(|source| Error::Results {
        path: dir.clone(),
        action: "cannot create the results directory",
        source,
    })?;
    let mut journal = Journal::create(dir.join("commands.jsonl"))?;
    let epoch = wall_clock();
    let mut wiring = driver::Wiring::new(node, &scenario.stack, epoch)?;
    let progress = Progress::new(options.progress_bar);
    let sampling = Sampling::start(options.processes.clone(), options.gpu);
    let timeout = scenario.load.timeout.as_secs_f64();
    warm_up(&mut wiring, scenario, &assets, timeout, &stop).await?;
    let mut suites = Vec::new();
    let mut next_tag = 0u64;
    for suite in SUITE_ORDER {
        if !scenario.suites.contains(&suite) || *stop.borrow() {
            continue;
        }
        progress.start(suite, planned_count(scenario));
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
    if let Some(source) = journal.error {
        return Err(Error::Results {
            path: journal.path,
            action: "could not record every result",
            source,
        });
    }
    drop(wiring);
    let record = RunRecord {
        run_id: id,
        meta: run_meta(options, epoch, timeout),
        suites,
        processes,
        gpus,
        gpu_unavailable,
    };
    Ok(RunOutput { dir, record })
}

/// The scenario's clips and images, relative to the scenario file's folder.
fn load_assets(options: &Options) -> Result<Assets> {
    let scenario = &options.scenario;
    let base = options
        .scenario_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    Ok(assets::load(
        scenario,
        &base,
        scenario.suites.contains(&Suite::VisualPerception),
    )?)
}

/// Discovery both ways (a first command and image answered), then whatever the stack was
/// still doing settles.
async fn warm_up(
    wiring: &mut driver::Wiring,
    scenario: &Scenario,
    assets: &Assets,
    timeout: f64,
    stop: &watch::Receiver<bool>,
) -> Result<()> {
    let mut stop_settle = stop.clone();
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
    Ok(())
}

/// Items a suite will send, when the scenario says so up front (not in a peak search).
fn planned_count(scenario: &Scenario) -> Option<u64> {
    match scenario.load.stop {
        StopCondition::Count(n) if !matches!(scenario.load.mode, LoadMode::PeakSearch { .. }) => {
            Some(u64::from(n))
        }
        _ => None,
    }
}

/// Where, with what and against what the run was made.
fn run_meta(options: &Options, epoch: std::time::Duration, timeout: f64) -> RunMeta {
    let scenario = &options.scenario;
    RunMeta {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_name_the_scenario_and_the_utc_start() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(86_400_000 + 3_723_456);
        assert_eq!(
            run_id("basic run/2", t),
            "basic_run_2-1970-01-02T010203456Z"
        );
    }
}

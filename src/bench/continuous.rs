//! Continuous mode: one run after another on one node, at a fixed period.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::once::{create_node, run_on, Finished, Settings};
use super::{read_baseline, Options, Result};
use crate::transport::Transport;

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

//! Per-suite counters of the run in progress, shown as a progress bar on a terminal or
//! as log lines.

use std::sync::atomic::{AtomicU64, Ordering};

use indicatif::{ProgressBar, ProgressStyle};

use crate::config::scenario::Suite;
use crate::core::timeline::Outcome;

/// Per-suite counters of the run in progress, shown as a bar or log lines.
pub struct Progress {
    bar: Option<ProgressBar>,
    sent: AtomicU64,
    finished: AtomicU64,
    late: AtomicU64,
    failed: AtomicU64,
}

impl Progress {
    pub(super) fn new(show_bar: bool) -> Self {
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

    pub(super) fn start(&self, suite: Suite, planned: Option<u64>) {
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

    pub(super) fn done(&self, suite: Suite) {
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

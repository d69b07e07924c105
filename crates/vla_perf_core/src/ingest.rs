//! The ingest path: stage event -> correlated -> recorded.
//!
//! [`Recorder`] owns a [`Tracker`] and the statistics every finished command feeds:
//! per-stage and end-to-end latency (HDR histograms, cumulative and sliding windows),
//! outcome counters, per-stage failure counts, the command rate and SLO compliance.
//! Memory is constant in the number of commands: histograms have a fixed size and the
//! tracker holds at most `max_open` commands.

use std::time::Duration;

use super::stats::{self, Counter, LatencyStats, RateMeter, Slo, SloStatus, StatsConfig, Window};
use super::timeline::{self, CompletedCommand, Outcome, StageEvent, Tracker, TrackerConfig};

/// Why a recorder could not be built.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The stage list or tracker limits are invalid.
    #[error(transparent)]
    Tracker(#[from] timeline::Error),
    /// The statistics settings are invalid.
    #[error(transparent)]
    Stats(#[from] stats::Error),
}

/// Result alias of this module.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything a [`Recorder`] needs.
#[derive(Debug, Clone)]
pub struct RecorderConfig {
    /// Stages, open-command cap and command timeout.
    pub tracker: TrackerConfig,
    /// Histogram precision and sliding windows.
    pub stats: StatsConfig,
    /// The end-to-end latency objective, e.g. 95% of commands within 5 s.
    pub slo: Slo,
}

/// Correlates stage events and records every finished command.
#[derive(Debug)]
pub struct Recorder {
    tracker: Tracker,
    stage_latency: Vec<LatencyStats>,
    stage_failures: Vec<Counter>,
    end_to_end: LatencyStats,
    /// End-to-end latency of succeeded commands plus the elapsed time of timed-out ones:
    /// a command that never finished did not meet the objective.
    slo_latency: LatencyStats,
    outcomes: [Counter; Outcome::ALL.len()],
    commands: RateMeter,
    slo: Slo,
    finished: Vec<CompletedCommand>,
}

impl Recorder {
    /// A recorder with empty statistics.
    pub fn new(config: RecorderConfig) -> Result<Self> {
        let stages = config.tracker.stages.len();
        let tracker = Tracker::new(config.tracker)?;
        let latency = || LatencyStats::new(&config.stats);
        let rate_window = config
            .stats
            .windows
            .first()
            .copied()
            .unwrap_or(Duration::from_secs(10));
        Ok(Self {
            tracker,
            stage_latency: (0..stages)
                .map(|_| latency())
                .collect::<stats::Result<_>>()?,
            stage_failures: (0..stages).map(|_| Counter::default()).collect(),
            end_to_end: latency()?,
            slo_latency: latency()?,
            outcomes: Default::default(),
            commands: RateMeter::new(rate_window, config.stats.slots)?,
            slo: config.slo,
            finished: Vec::new(),
        })
    }

    /// Feeds one stage event; returns the commands it finished, already recorded.
    pub fn ingest(&mut self, event: StageEvent) -> &[CompletedCommand] {
        self.finished.clear();
        self.tracker.ingest(event, &mut self.finished);
        self.record_finished();
        &self.finished
    }

    /// Times out overdue commands at `now`; returns them, already recorded.
    pub fn expire(&mut self, now: Duration) -> &[CompletedCommand] {
        self.finished.clear();
        self.tracker.expire(now, &mut self.finished);
        self.record_finished();
        &self.finished
    }

    /// Abandons every open command (shutdown); returns them, already recorded.
    pub fn flush(&mut self, now: Duration) -> &[CompletedCommand] {
        self.finished.clear();
        self.tracker.flush(now, &mut self.finished);
        self.record_finished();
        &self.finished
    }

    fn record_finished(&mut self) {
        for cmd in &self.finished {
            let at = cmd.ended_at;
            self.outcomes[outcome_index(cmd.outcome)].add(1);
            self.commands.record(at, 1);
            for (stage, latency) in cmd.stage_latency.iter().enumerate() {
                // The failing stage's time is time-to-failure, not the stage's latency.
                if cmd.failed_stage == Some(stage) {
                    self.stage_failures[stage].add(1);
                    continue;
                }
                if let Some(latency) = latency {
                    self.stage_latency[stage].record(at, *latency);
                }
            }
            if let Some(e2e) = cmd.end_to_end {
                self.end_to_end.record(at, e2e);
                self.slo_latency.record(at, e2e);
            } else if cmd.outcome == Outcome::TimedOut {
                self.slo_latency
                    .record(at, at.saturating_sub(cmd.started_at));
            }
        }
    }

    /// The tracker (stages, open commands, counters).
    pub fn tracker(&self) -> &Tracker {
        &self.tracker
    }

    /// Latency statistics of stage `index` (time from the previous stage).
    pub fn stage_latency(&self, index: usize) -> Option<&LatencyStats> {
        self.stage_latency.get(index)
    }

    /// Failures reported by stage `index`.
    pub fn stage_failures(&self, index: usize) -> Option<u64> {
        self.stage_failures.get(index).map(Counter::get)
    }

    /// End-to-end latency statistics of succeeded commands.
    pub fn end_to_end(&self) -> &LatencyStats {
        &self.end_to_end
    }

    /// Commands finished with `outcome` so far.
    pub fn outcome_count(&self, outcome: Outcome) -> u64 {
        self.outcomes[outcome_index(outcome)].get()
    }

    /// Finished commands per second over the first configured window.
    pub fn command_rate(&self, now: Duration) -> Option<f64> {
        self.commands.rate(now)
    }

    /// SLO compliance over `window`: succeeded commands within the threshold divided by
    /// succeeded plus timed-out commands. `None` when no command finished in the window.
    pub fn slo_status(&self, now: Duration, window: Window) -> Option<SloStatus> {
        self.slo.evaluate(&self.slo_latency, now, window)
    }
}

fn outcome_index(outcome: Outcome) -> usize {
    match outcome {
        Outcome::Succeeded => 0,
        Outcome::Failed => 1,
        Outcome::TimedOut => 2,
        Outcome::Abandoned => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{Correlation, StageSpec};

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    fn recorder() -> Recorder {
        let stages = ["voice", "transcript", "plan"]
            .iter()
            .map(|n| StageSpec::new(*n, Correlation::Fifo))
            .collect();
        Recorder::new(RecorderConfig {
            tracker: TrackerConfig {
                stages,
                max_open: 16,
                command_timeout: ms(10_000),
            },
            stats: StatsConfig::default(),
            slo: Slo::new(ms(1_000), 0.95).unwrap(),
        })
        .unwrap()
    }

    fn command(r: &mut Recorder, start: u64, lat: [u64; 2]) -> Vec<CompletedCommand> {
        r.ingest(StageEvent::done(0, ms(start)));
        r.ingest(StageEvent::done(1, ms(start + lat[0])));
        r.ingest(StageEvent::done(2, ms(start + lat[0] + lat[1])))
            .to_vec()
    }

    #[test]
    fn finished_commands_land_in_stage_and_end_to_end_histograms() {
        let mut r = recorder();
        for i in 0..100 {
            let done = command(&mut r, i * 2_000, [100 + i, 200]);
            assert_eq!(done.len(), 1);
        }
        let now = ms(200_000);
        let asr = r
            .stage_latency(1)
            .unwrap()
            .summary(now, Window::Cumulative)
            .unwrap();
        assert_eq!(asr.count, 100);
        assert!((asr.min - 0.100).abs() < 1e-4 && (asr.max - 0.199).abs() < 1e-3);
        let e2e = r.end_to_end().summary(now, Window::Cumulative).unwrap();
        assert_eq!(e2e.count, 100);
        assert!((e2e.p50 - 0.350).abs() < 0.002, "p50 {}", e2e.p50);
        assert_eq!(r.outcome_count(Outcome::Succeeded), 100);
        assert!(r
            .stage_latency(0)
            .unwrap()
            .summary(now, Window::Cumulative)
            .is_none());
    }

    #[test]
    fn timed_out_commands_count_against_the_slo_and_failures_per_stage() {
        let mut r = recorder();
        command(&mut r, 0, [100, 100]);
        command(&mut r, 1_000, [100, 2_000]);
        r.ingest(StageEvent::done(0, ms(5_000)));
        r.ingest(StageEvent::done(1, ms(5_100)).failed());
        r.ingest(StageEvent::done(0, ms(6_000)));
        assert_eq!(r.expire(ms(16_000)).len(), 1);
        let slo = r.slo_status(ms(16_000), Window::Cumulative).unwrap();
        // one within 1 s, one over, one timed out; the failed command is not counted
        assert_eq!(slo.count, 3);
        assert!((slo.compliance - 1.0 / 3.0).abs() < 1e-9);
        assert!(!slo.met);
        assert_eq!(r.stage_failures(1), Some(1));
        assert_eq!(r.outcome_count(Outcome::Failed), 1);
        assert_eq!(r.outcome_count(Outcome::TimedOut), 1);
        assert_eq!(
            r.stage_latency(1).unwrap().count(),
            2,
            "the failed stage's time-to-failure is not a latency sample"
        );
    }
}

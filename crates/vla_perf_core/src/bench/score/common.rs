//! What every suite scorer shares: the units sent (commands or images) in one shape, and
//! the lookups of a command's scenario entry and of a ratio.

use crate::bench::record::{CommandRecord, ImageRecord, SuiteRecord};
use crate::bench::scenario::{Expectations, ScenarioCommand};
use crate::timeline::Outcome;

/// One thing sent (a command or an image) and what came back, uniformly.
pub(super) struct Unit {
    pub(super) step: usize,
    pub(super) intended: f64,
    pub(super) sent: f64,
    pub(super) reached: Vec<Option<f64>>,
    pub(super) outcome: Outcome,
}

impl Unit {
    pub(super) fn answered(&self) -> bool {
        matches!(self.outcome, Outcome::Succeeded | Outcome::Failed)
    }

    /// When the unit was answered: its latest reached stage.
    pub(super) fn completed_at(&self) -> Option<f64> {
        if !self.answered() {
            return None;
        }
        self.reached.iter().flatten().copied().reduce(f64::max)
    }
}

/// The suite's commands and images as units.
pub(super) fn units(suite: &SuiteRecord) -> Vec<Unit> {
    let commands = suite.commands.iter().map(|c| Unit {
        step: c.step,
        intended: c.intended,
        sent: c.sent,
        reached: c.reached.clone(),
        outcome: c.outcome,
    });
    let images = suite.images.iter().map(|i: &ImageRecord| Unit {
        step: i.step,
        intended: i.intended,
        sent: i.sent,
        reached: vec![i.received],
        outcome: if i.received.is_some() {
            Outcome::Succeeded
        } else {
            Outcome::TimedOut
        },
    });
    commands.chain(images).collect()
}

/// `n / d`, `None` when `d` is zero.
pub(super) fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// The scenario entry a command was sent from (`None` for an index the scenario lacks).
pub(super) fn scenario_command<'a>(
    c: &CommandRecord,
    scenario: &'a Expectations<'a>,
) -> Option<&'a ScenarioCommand> {
    scenario.commands.get(c.command)
}

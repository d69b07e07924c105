//! Command understanding rate and success-rate counters (task, action, navigation).
//!
//! Counters saturate instead of wrapping so a monitor that runs for months never reports a
//! rate from a wrapped count. Every rate is `None` until something has been counted.

use serde::Serialize;

/// How the stack handled one spoken or typed command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandOutcome {
    /// The stack's interpretation matched the intended command.
    Understood,
    /// The stack acted on a wrong interpretation.
    Misunderstood,
    /// The stack declined the command (could not parse it, asked to repeat, refused).
    Rejected,
}

/// Counts of command outcomes and the rates derived from them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct UnderstandingCounter {
    /// Commands understood correctly.
    pub understood: u64,
    /// Commands acted on with a wrong interpretation.
    pub misunderstood: u64,
    /// Commands declined.
    pub rejected: u64,
}

impl UnderstandingCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one command outcome.
    pub fn record(&mut self, outcome: CommandOutcome) {
        let slot = match outcome {
            CommandOutcome::Understood => &mut self.understood,
            CommandOutcome::Misunderstood => &mut self.misunderstood,
            CommandOutcome::Rejected => &mut self.rejected,
        };
        *slot = slot.saturating_add(1);
    }

    /// Adds another counter's totals (for example from another robot or time window).
    pub fn merge(&mut self, other: &UnderstandingCounter) {
        self.understood = self.understood.saturating_add(other.understood);
        self.misunderstood = self.misunderstood.saturating_add(other.misunderstood);
        self.rejected = self.rejected.saturating_add(other.rejected);
    }

    /// All commands counted.
    pub fn total(&self) -> u64 {
        self.understood
            .saturating_add(self.misunderstood)
            .saturating_add(self.rejected)
    }

    /// Understood / total; `None` when nothing was counted.
    pub fn understanding_rate(&self) -> Option<f64> {
        ratio(self.understood, self.total())
    }

    /// Misunderstood / total; `None` when nothing was counted.
    pub fn misunderstanding_rate(&self) -> Option<f64> {
        ratio(self.misunderstood, self.total())
    }

    /// Rejected / total; `None` when nothing was counted.
    pub fn rejection_rate(&self) -> Option<f64> {
        ratio(self.rejected, self.total())
    }

    /// Understood / (understood + misunderstood): how often an accepted command was right.
    pub fn accepted_accuracy(&self) -> Option<f64> {
        ratio(
            self.understood,
            self.understood.saturating_add(self.misunderstood),
        )
    }
}

/// Which kind of attempt a [`SuccessCounter`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SuccessKind {
    /// A whole task (all actions of a command).
    Task,
    /// One manipulation or motion primitive.
    Action,
    /// Reaching a navigation goal.
    Navigation,
}

/// Successes and failures of one kind of attempt.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SuccessCounter {
    /// Attempts that succeeded.
    pub succeeded: u64,
    /// Attempts that failed (including timeouts and aborts).
    pub failed: u64,
}

impl SuccessCounter {
    /// An empty counter.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one attempt.
    pub fn record(&mut self, success: bool) {
        if success {
            self.succeeded = self.succeeded.saturating_add(1);
        } else {
            self.failed = self.failed.saturating_add(1);
        }
    }

    /// Adds another counter's totals.
    pub fn merge(&mut self, other: &SuccessCounter) {
        self.succeeded = self.succeeded.saturating_add(other.succeeded);
        self.failed = self.failed.saturating_add(other.failed);
    }

    /// All attempts counted.
    pub fn total(&self) -> u64 {
        self.succeeded.saturating_add(self.failed)
    }

    /// Succeeded / total; `None` when nothing was counted.
    pub fn success_rate(&self) -> Option<f64> {
        ratio(self.succeeded, self.total())
    }

    /// Failed / total; `None` when nothing was counted.
    pub fn failure_rate(&self) -> Option<f64> {
        ratio(self.failed, self.total())
    }
}

/// Task, action and navigation success counters kept together.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SuccessRates {
    /// Whole-task outcomes.
    pub task: SuccessCounter,
    /// Individual action outcomes.
    pub action: SuccessCounter,
    /// Navigation goal outcomes.
    pub navigation: SuccessCounter,
}

impl SuccessRates {
    /// Counts one attempt of the given kind.
    pub fn record(&mut self, kind: SuccessKind, success: bool) {
        self.counter_mut(kind).record(success);
    }

    /// The counter of one kind.
    pub fn counter(&self, kind: SuccessKind) -> &SuccessCounter {
        match kind {
            SuccessKind::Task => &self.task,
            SuccessKind::Action => &self.action,
            SuccessKind::Navigation => &self.navigation,
        }
    }

    fn counter_mut(&mut self, kind: SuccessKind) -> &mut SuccessCounter {
        match kind {
            SuccessKind::Task => &mut self.task,
            SuccessKind::Action => &mut self.action,
            SuccessKind::Navigation => &mut self.navigation,
        }
    }
}

fn ratio(numerator: u64, denominator: u64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_counters_have_no_rates() {
        let u = UnderstandingCounter::new();
        assert_eq!(u.understanding_rate(), None);
        assert_eq!(u.rejection_rate(), None);
        assert_eq!(u.accepted_accuracy(), None);
        assert_eq!(SuccessCounter::new().success_rate(), None);
    }

    #[test]
    fn understanding_rate_counts_rejections_and_misunderstandings_in_the_total() {
        let mut u = UnderstandingCounter::new();
        for o in [
            CommandOutcome::Understood,
            CommandOutcome::Understood,
            CommandOutcome::Understood,
            CommandOutcome::Misunderstood,
            CommandOutcome::Rejected,
        ] {
            u.record(o);
        }
        assert_eq!(u.total(), 5);
        assert_eq!(u.understanding_rate(), Some(0.6));
        assert_eq!(u.misunderstanding_rate(), Some(0.2));
        assert_eq!(u.rejection_rate(), Some(0.2));
        assert_eq!(u.accepted_accuracy(), Some(0.75));
    }

    #[test]
    fn success_rates_keep_kinds_apart() {
        let mut s = SuccessRates::default();
        s.record(SuccessKind::Task, true);
        s.record(SuccessKind::Navigation, false);
        s.record(SuccessKind::Navigation, true);
        assert_eq!(s.counter(SuccessKind::Task).success_rate(), Some(1.0));
        assert_eq!(s.counter(SuccessKind::Action).success_rate(), None);
        assert_eq!(s.counter(SuccessKind::Navigation).failure_rate(), Some(0.5));
    }

    #[test]
    fn saturated_counter_does_not_wrap() {
        let mut s = SuccessCounter {
            succeeded: u64::MAX,
            failed: 0,
        };
        s.record(true);
        s.record(false);
        assert_eq!(s.succeeded, u64::MAX);
        assert_eq!(s.total(), u64::MAX);
    }

    proptest! {
        #[test]
        fn rates_lie_in_unit_interval_and_sum_to_one(outcomes in prop::collection::vec(0u8..3, 1..200)) {
            let mut u = UnderstandingCounter::new();
            for o in &outcomes {
                u.record(match o { 0 => CommandOutcome::Understood, 1 => CommandOutcome::Misunderstood, _ => CommandOutcome::Rejected });
            }
            let (a, b, c) = (u.understanding_rate().unwrap(), u.misunderstanding_rate().unwrap(), u.rejection_rate().unwrap());
            for r in [a, b, c] { prop_assert!((0.0..=1.0).contains(&r)); }
            prop_assert!((a + b + c - 1.0).abs() < 1e-12);
        }

        #[test]
        fn merging_equals_counting_everything_in_one(xs in prop::collection::vec(any::<bool>(), 0..100), ys in prop::collection::vec(any::<bool>(), 0..100)) {
            let (mut a, mut b, mut all) = (SuccessCounter::new(), SuccessCounter::new(), SuccessCounter::new());
            for &x in &xs { a.record(x); all.record(x); }
            for &y in &ys { b.record(y); all.record(y); }
            a.merge(&b);
            prop_assert_eq!(a, all);
        }
    }
}

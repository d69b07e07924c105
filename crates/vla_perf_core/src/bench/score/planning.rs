//! Cognitive planning: how many commands the planner understood, misunderstood or
//! rejected, and the plans that never came.

use super::common::{ratio, scenario_command};
use super::threshold_for;
use crate::bench::record::CommandRecord;
use crate::bench::report::{kpi, KpiFigure};
use crate::bench::scenario::{Expectations, Suite};
use crate::kpi::{CommandOutcome, UnderstandingCounter};
use crate::timeline::Outcome;
use crate::trend::Direction;

/// The understanding figures of `commands`; the second value counts commands without a
/// scenario entry.
pub(super) fn kpis(
    suite: Suite,
    commands: &[&CommandRecord],
    scenario: &Expectations<'_>,
) -> (Vec<KpiFigure>, u64) {
    let (counter, rejected, missing, skipped) = understanding(commands, scenario);
    let (higher, lower) = (
        Some(Direction::HigherIsWorse),
        Some(Direction::LowerIsWorse),
    );
    let figures = vec![
        KpiFigure::new(
            kpi::UNDERSTANDING_RATE,
            "1",
            counter.understanding_rate(),
            lower,
            threshold_for(suite, kpi::UNDERSTANDING_RATE, scenario.thresholds),
        ),
        KpiFigure::new(
            kpi::MISUNDERSTANDING_RATE,
            "1",
            counter.misunderstanding_rate(),
            higher,
            None,
        ),
        KpiFigure::new(
            kpi::REJECTION_RATE,
            "1",
            ratio(rejected, commands.len() as u64),
            higher,
            None,
        ),
        KpiFigure::new(
            kpi::MISSING_PLANS,
            "count",
            Some(missing as f64),
            None,
            None,
        ),
    ];
    (figures, skipped)
}

/// Understanding counts, raw rejections, missing plans, skipped commands.
fn understanding(
    commands: &[&CommandRecord],
    scenario: &Expectations<'_>,
) -> (UnderstandingCounter, u64, u64, u64) {
    let mut counter = UnderstandingCounter::new();
    let (mut rejected, mut missing, mut skipped) = (0u64, 0u64, 0u64);
    for c in commands {
        let Some(sc) = scenario_command(c, scenario) else {
            skipped += 1;
            continue;
        };
        let should_refuse = sc.expected_outcome == Outcome::Failed;
        let outcome = match &c.plan {
            None => {
                missing += 1;
                CommandOutcome::Misunderstood
            }
            Some(plan) if plan.rejected => {
                rejected += 1;
                if should_refuse {
                    CommandOutcome::Understood
                } else {
                    CommandOutcome::Rejected
                }
            }
            Some(plan) if !should_refuse && plan.actions == sc.expected_plan => {
                CommandOutcome::Understood
            }
            Some(_) => CommandOutcome::Misunderstood,
        };
        counter.record(outcome);
    }
    (counter, rejected, missing, skipped)
}

#[cfg(test)]
mod tests {
    use super::super::score_suite;
    use super::*;
    use crate::bench::scenario::{PassThresholds, Suite};
    use crate::bench::testing::{close, cmd, none, plan, scenario, suite};
    use crate::timeline::Outcome::*;

    #[test]
    fn understanding_counts_a_refused_impossible_command_as_understood() {
        let planned = |c: usize, p| {
            let mut r = cmd(c, c as f64, &[Some(c as f64 + 0.5)], Succeeded);
            r.plan = p;
            r
        };
        let record = suite(
            Suite::CognitivePlanning,
            &["plan"],
            5.0,
            vec![
                planned(0, plan(&["navigate"], false)),       // understood
                planned(1, plan(&["pick", "detect"], false)), // wrong order
                planned(2, plan(&[], true)),                  // refused as it should
                planned(0, plan(&[], true)),                  // refused a feasible one
                planned(2, plan(&["navigate"], false)),       // tried the impossible
                planned(1, None),                             // no plan at all
            ],
        );
        let r = score_suite(
            &record,
            &scenario(PassThresholds {
                min_understanding_rate: Some(0.3),
                ..none()
            }),
        );
        assert!(close(r.kpi_value(kpi::UNDERSTANDING_RATE), 2.0 / 6.0));
        assert!(close(r.kpi_value(kpi::MISUNDERSTANDING_RATE), 3.0 / 6.0));
        assert!(close(r.kpi_value(kpi::REJECTION_RATE), 2.0 / 6.0));
        assert_eq!(r.kpi_value(kpi::MISSING_PLANS), Some(1.0));
        assert_eq!(r.kpi(kpi::UNDERSTANDING_RATE).unwrap().passed, Some(true));
        assert!(r.passed);
    }
}

//! Action execution: commands whose outcome was the expected one, that succeeded, and
//! navigation commands that succeeded.

use super::common::scenario_command;
use super::threshold_for;
use crate::bench::record::CommandRecord;
use crate::bench::report::{kpi, KpiFigure};
use crate::bench::scenario::{Expectations, Suite};
use crate::kpi::SuccessCounter;
use crate::timeline::Outcome;
use crate::trend::Direction;

/// The success figures of `commands` (the raw action success rate in the action suite
/// only); the second value counts commands without a scenario entry.
pub(super) fn kpis(
    suite: Suite,
    commands: &[&CommandRecord],
    scenario: &Expectations<'_>,
) -> (Vec<KpiFigure>, u64) {
    let (expected, action, navigation, skipped) = success(commands, scenario);
    let lower = Some(Direction::LowerIsWorse);
    let mut figures = vec![KpiFigure::new(
        kpi::SUCCESS_RATE,
        "1",
        expected.success_rate(),
        lower,
        threshold_for(suite, kpi::SUCCESS_RATE, scenario.thresholds),
    )];
    if suite == Suite::ActionExecution {
        figures.push(KpiFigure::new(
            kpi::ACTION_SUCCESS_RATE,
            "1",
            action.success_rate(),
            lower,
            None,
        ));
    }
    figures.push(KpiFigure::new(
        kpi::NAVIGATION_SUCCESS_RATE,
        "1",
        navigation.success_rate(),
        lower,
        None,
    ));
    (figures, skipped)
}

/// Outcome as expected, action succeeded, navigation succeeded; skipped commands.
fn success(
    commands: &[&CommandRecord],
    scenario: &Expectations<'_>,
) -> (SuccessCounter, SuccessCounter, SuccessCounter, u64) {
    let mut expected = SuccessCounter::new();
    let mut action = SuccessCounter::new();
    let mut navigation = SuccessCounter::new();
    let mut skipped = 0;
    for c in commands {
        let Some(sc) = scenario_command(c, scenario) else {
            skipped += 1;
            continue;
        };
        let ok = c.outcome == Outcome::Succeeded;
        expected.record(c.outcome == sc.expected_outcome);
        action.record(ok);
        if sc.expected_plan.iter().any(|a| a == "navigate") {
            navigation.record(ok);
        }
    }
    (expected, action, navigation, skipped)
}

#[cfg(test)]
mod tests {
    use super::super::score_suite;
    use super::*;
    use crate::bench::scenario::{PassThresholds, Suite};
    use crate::bench::testing::{close, cmd, none, scenario, suite};
    use crate::timeline::Outcome::*;

    #[test]
    fn success_rate_compares_outcomes_with_the_expected_ones() {
        let record = suite(
            Suite::EndToEnd,
            &["action_done"],
            3.0,
            vec![
                cmd(0, 0.0, &[Some(0.5)], Succeeded), // expected
                cmd(2, 1.0, &[None], Failed),         // expected to fail
                cmd(1, 2.0, &[None], TimedOut),       // should have succeeded
            ],
        );
        let r = score_suite(
            &record,
            &scenario(PassThresholds {
                min_success_rate: Some(0.9),
                ..none()
            }),
        );
        assert!(close(r.kpi_value(kpi::SUCCESS_RATE), 2.0 / 3.0));
        assert!(close(r.kpi_value(kpi::NAVIGATION_SUCCESS_RATE), 1.0));
        assert_eq!(r.kpi(kpi::SUCCESS_RATE).unwrap().passed, Some(false));
        assert!(!r.passed);
        let action = score_suite(
            &suite(
                Suite::ActionExecution,
                &["action_done"],
                3.0,
                record.commands,
            ),
            &scenario(none()),
        );
        assert!(close(action.kpi_value(kpi::ACTION_SUCCESS_RATE), 1.0 / 3.0));
    }
}

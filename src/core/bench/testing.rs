//! Hand-built records and scenarios for the scoring tests.

use super::record::{CommandRecord, PlanRecord, StepRecord, SuiteRecord};
use crate::config::parse_scenario;
use crate::config::scenario::{Scenario, Suite};
use crate::core::timeline::Outcome;

/// Three commands: 0 navigates, 1 picks, 2 is impossible (expected to fail).
pub const SCENARIO: &str = "scenario:
  name: t
  suites: [end_to_end]
  commands:
    - text: go to the kitchen
      expected_plan: [navigate]
    - text: pick up the red cup
      expected_plan: [detect, pick]
    - text: fly to the moon
      expected_outcome: failed
";

/// The scenario with `thresholds` (a YAML block body indented by four spaces) appended.
pub fn scenario(thresholds: &str) -> Scenario {
    let text = if thresholds.is_empty() {
        SCENARIO.to_owned()
    } else {
        format!("{SCENARIO}  thresholds:\n{thresholds}")
    };
    parse_scenario("t.yaml", &text).unwrap().config
}

/// A command sent at `sent` (intended then too) reaching `reached`.
pub fn cmd(command: usize, sent: f64, reached: &[Option<f64>], outcome: Outcome) -> CommandRecord {
    CommandRecord {
        command,
        step: 0,
        tag: None,
        intended: sent,
        sent,
        reached: reached.to_vec(),
        outcome,
        failed_at: None,
        transcript: None,
        plan: None,
    }
}

/// A plan.
pub fn plan(actions: &[&str], rejected: bool) -> Option<PlanRecord> {
    Some(PlanRecord {
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
        rejected,
    })
}

/// A suite of `commands` over `stages`, from 0 to `ended`.
pub fn suite(
    suite: Suite,
    stages: &[&str],
    ended: f64,
    commands: Vec<CommandRecord>,
) -> SuiteRecord {
    SuiteRecord {
        suite,
        stages: stages.iter().map(|s| (*s).to_owned()).collect(),
        started: 0.0,
        ended,
        commands,
        images: Vec::new(),
        image_sets: Vec::new(),
        steps: Vec::new(),
        unmatched: 0,
    }
}

/// A peak-search step.
pub fn step(rate_hz: f64, started: f64, ended: f64) -> StepRecord {
    StepRecord {
        rate_hz,
        started,
        ended,
    }
}

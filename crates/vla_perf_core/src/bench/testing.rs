//! Hand-built records and scenarios for the scoring tests.

use std::collections::BTreeMap;
use std::time::Duration;

use super::record::{CommandRecord, PlanRecord, StepRecord, SuiteRecord};
use super::scenario::{Expectations, PassThresholds, ScenarioCommand, Suite};
use crate::timeline::Outcome;

/// Three commands: 0 navigates, 1 picks, 2 is impossible (expected to fail).
fn commands() -> Vec<ScenarioCommand> {
    let command = |text: &str, plan: &[&str], outcome| ScenarioCommand {
        text: text.to_owned(),
        audio: None,
        reference_transcript: None,
        expected_plan: plan.iter().map(|s| (*s).to_owned()).collect(),
        expected_outcome: outcome,
    };
    vec![
        command("go to the kitchen", &["navigate"], Outcome::Succeeded),
        command(
            "pick up the red cup",
            &["detect", "pick"],
            Outcome::Succeeded,
        ),
        command("fly to the moon", &[], Outcome::Failed),
    ]
}

/// The three commands with `thresholds`; test data, kept for the whole test run.
pub fn scenario(thresholds: PassThresholds) -> Expectations<'static> {
    Expectations {
        commands: Box::leak(commands().into_boxed_slice()),
        thresholds: Box::leak(Box::new(thresholds)),
    }
}

/// No thresholds: report only.
pub fn none() -> PassThresholds {
    PassThresholds::default()
}

/// A p95 latency limit for `stage`.
pub fn max_p95(stage: &str, limit: Duration) -> PassThresholds {
    PassThresholds {
        max_p95_latency: BTreeMap::from([(stage.to_owned(), limit)]),
        ..PassThresholds::default()
    }
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

/// `a` is a value within 1e-9 of `b`.
pub fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

/// An end-to-end suite of four peak-search steps: 1 Hz fast, 2 Hz slower, 4 Hz with two
/// of eight dropped, 8 Hz fine again (past the knee).
pub fn peak_record() -> SuiteRecord {
    let mut commands = Vec::new();
    // Step 0 (1 Hz): fast; step 1 (2 Hz): slower; step 2 (4 Hz): 2 of 8 dropped;
    // step 3 (8 Hz): fine again, but past the knee.
    for (s, (n, latency, dropped)) in [(4, 0.1, 0), (4, 0.5, 0), (8, 0.2, 2), (8, 0.1, 0)]
        .into_iter()
        .enumerate()
    {
        for i in 0..n {
            let t = s as f64 * 10.0 + i as f64 * 0.1;
            let mut c = if i < dropped {
                cmd(0, t, &[None], Outcome::TimedOut)
            } else {
                cmd(0, t, &[Some(t + latency)], Outcome::Succeeded)
            };
            c.step = s;
            commands.push(c);
        }
    }
    let mut record = suite(Suite::EndToEnd, &["action_done"], 40.0, commands);
    record.steps = (0..4)
        .map(|s| step(2f64.powi(s), s as f64 * 10.0, s as f64 * 10.0 + 4.0))
        .collect();
    record
}

//! The SIMULATED stack's own account of each command (its `SimEvent`s), filed by command
//! id: the ground truth the collector and benchmark tests compare their figures with.

use std::collections::HashMap;
use std::time::Duration;

use vla_perf::core::timeline::Outcome;
use vla_perf::sim::config::{Latency, WerNoise};
use vla_perf::sim::{self, GoalOutcome, PlanStatus, SimConfig, SimEvent};

fn ms(v: u64) -> Duration {
    Duration::from_millis(v)
}

/// Fast stages, every outcome likely within a dozen commands.
pub fn fast_stack() -> SimConfig {
    let mut c = SimConfig {
        seed: 11,
        ..SimConfig::default()
    };
    c.asr.latency = Latency::normal(ms(120), ms(30));
    c.asr.wer = WerNoise::default();
    c.planner.latency = Latency::normal(ms(150), ms(40));
    c.planner.reject_rate = 0.2;
    // Small frames: the debug build's pixel work stays well within a frame period.
    c.camera.width = 160;
    c.camera.height = 120;
    c.camera.rate_hz = 20.0;
    c.executor.dispatch = Latency::normal(ms(40), ms(8));
    c.executor.execution = Latency::normal(ms(250), ms(50));
    c.executor.failure_rate = 0.2;
    c.executor.lost_rate = 0.1;
    c
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// Everything the stack reported about one command.
#[derive(Debug, Default)]
pub struct Truth {
    pub transcribed: Option<SimEvent>,
    pub planned: Option<SimEvent>,
    pub executing: Option<SimEvent>,
    pub finished: Option<SimEvent>,
}

pub fn tag_of(text: &str) -> Option<String> {
    sim::speech::split_tag(text).0.map(str::to_owned)
}

/// Files one event under its command.
pub fn file(truth: &mut HashMap<String, Truth>, event: SimEvent) {
    let (id, slot) = match &event {
        SimEvent::Transcribed { reference, .. } => (tag_of(reference), 0),
        SimEvent::Planned { plan, .. } => (Some(plan.command_id.clone()), 1),
        SimEvent::Executing { command_id, .. } => (Some(command_id.clone()), 2),
        SimEvent::Finished { command_id, .. } => (Some(command_id.clone()), 3),
        SimEvent::Detected { .. } => (None, 4),
    };
    let Some(id) = id else { return };
    let t = truth.entry(id).or_default();
    let slot = match slot {
        0 => &mut t.transcribed,
        1 => &mut t.planned,
        2 => &mut t.executing,
        _ => &mut t.finished,
    };
    *slot = Some(event);
}

/// The outcome and failed stage the collector must report, from the stack's choices.
pub fn expected(t: &Truth) -> (Outcome, &'static str) {
    match (&t.planned, &t.finished) {
        (Some(SimEvent::Planned { plan, .. }), _) if plan.status == PlanStatus::Rejected => {
            (Outcome::Failed, "plan")
        }
        (_, Some(SimEvent::Finished { outcome, .. })) => match outcome {
            GoalOutcome::Succeeded => (Outcome::Succeeded, ""),
            GoalOutcome::Aborted => (Outcome::Failed, "action_done"),
            GoalOutcome::Lost => (Outcome::TimedOut, ""),
        },
        other => panic!("no ground truth for the outcome: {other:?}"),
    }
}

/// (stage, latency the stack produced, latency it drew) for every stage it produced.
pub fn produced(t: &Truth) -> Vec<(&'static str, f64, Option<f64>)> {
    let mut out = Vec::new();
    if let Some(SimEvent::Transcribed {
        drawn,
        input_at,
        output_at,
        ..
    }) = &t.transcribed
    {
        out.push((
            "transcript",
            secs(*output_at - *input_at),
            Some(secs(*drawn)),
        ));
    }
    if let Some(SimEvent::Planned {
        drawn,
        input_at,
        output_at,
        ..
    }) = &t.planned
    {
        out.push(("plan", secs(*output_at - *input_at), Some(secs(*drawn))));
    }
    if let Some(SimEvent::Executing {
        plan_at,
        grounded_at: Some(grounded),
        drawn,
        output_at,
        ..
    }) = &t.executing
    {
        out.push(("vision", secs(*grounded - *plan_at), None));
        out.push((
            "action_start",
            secs(*output_at - *grounded),
            Some(secs(*drawn)),
        ));
    }
    if let Some(SimEvent::Finished {
        outcome,
        drawn,
        input_at,
        output_at,
        ..
    }) = &t.finished
    {
        if *outcome != GoalOutcome::Lost {
            out.push((
                "action_done",
                secs(*output_at - *input_at),
                Some(secs(*drawn)),
            ));
        }
    }
    out
}

/// When the stack published each stage's output (wall clock), in the benchmark's stage
/// order: transcript, plan, vision (the detections the plan was grounded on),
/// action_start, action_done.
pub fn reached(t: &Truth) -> [Option<Duration>; 5] {
    let mut out = [None; 5];
    if let Some(SimEvent::Transcribed { output_at, .. }) = &t.transcribed {
        out[0] = Some(*output_at);
    }
    if let Some(SimEvent::Planned { output_at, .. }) = &t.planned {
        out[1] = Some(*output_at);
    }
    if let Some(SimEvent::Executing {
        grounded_at,
        output_at,
        ..
    }) = &t.executing
    {
        out[2] = *grounded_at;
        out[3] = Some(*output_at);
    }
    if let Some(SimEvent::Finished {
        outcome, output_at, ..
    }) = &t.finished
    {
        if *outcome != GoalOutcome::Lost {
            out[4] = Some(*output_at);
        }
    }
    out
}

//! Scoring: a [`RunRecord`] and its scenario's [`Expectations`] in, a [`BenchReport`] out.
//!
//! # What each figure is
//! - **Units.** A suite's units are its commands, or for `visual_perception` its images (an
//!   image answered is `succeeded`, one never answered `timed_out`).
//! - **Stage latency**: time from the previous reached stage (the first stage: from `sent`)
//!   to the stage, over every unit that reached it.
//! - **`end_to_end`**: from the *intended* send time to the suite's last stage, over units
//!   that succeeded: corrected for coordinated omission (a late send counts against the
//!   stack). **`end_to_end_uncorrected`**: the same from the actual send. In a component
//!   suite "end to end" spans that suite's stages only; the `end_to_end` p95 threshold is
//!   checked in the `end_to_end` suite only. Timed-out units carry no latency: they are
//!   counted (`commands_timed_out`, the drop rate of a peak-search step).
//! - **Throughput**: units that were answered (succeeded or failed) per second of suite time.
//! - **WER** (voice_processing, and end_to_end when transcripts were recorded): corpus WER of
//!   every sent command's transcript against [`ScenarioCommand::reference`]; a command
//!   without a transcript counts as an empty one, so all its reference words are deletions
//!   (a lost transcript is an error the user sees). `missing_transcripts` counts them.
//! - **Understanding** (cognitive_planning, and end_to_end when plans were recorded): a
//!   command is understood when its plan's actions equal `expected_plan` in order and the
//!   plan was accepted, or when the plan was rejected and the command's `expected_outcome`
//!   is `failed` (refusing an impossible command is understanding it). A rejection of a
//!   feasible command is *rejected*, any other plan *misunderstood*; a command without any
//!   plan (timed out) counts as misunderstood and in `missing_plans`. `rejection_rate` is
//!   the raw share of plans the planner rejected.
//! - **Success rate** (action_execution, end_to_end): fraction of commands whose outcome
//!   equals their `expected_outcome`. `action_success_rate`: fraction that succeeded;
//!   `navigation_success_rate`: the same over commands whose `expected_plan` has `navigate`.
//! - **Detection** (visual_perception): every image *sent* is one evaluation image (an
//!   image sent twice is scored twice), with the ground truth of its set. A detector class
//!   matches a COCO category by name (case-insensitive), else by its numeric id; classes
//!   matching neither cannot belong to any category's AP and are counted in
//!   `unknown_class_detections`. mAP@0.5 and mAP@[.5:.95] are COCO-exact
//!   ([`DetectionEvaluator`]); per-class precision/recall are at IoU 0.5 and score ≥
//!   [`DETECTION_SCORE_THRESHOLD`]. `frames_per_second`: images answered per suite second.
//! - **Thresholds**: a KPI with a threshold passes when its value is on the right side; one
//!   without a value (nothing measured) fails. A suite passes when all its KPIs with a
//!   threshold pass; the run when all suites pass.

//!
//! The shared part is here (the run's report, thresholds); each suite family's KPIs are in
//! their own module (`voice`, `planning`, `action`, `vision`), latencies in `latency` and
//! `over_time`, a peak search's steps in `peak`, and one suite's report in `suite`.

mod action;
mod common;
mod latency;
mod over_time;
mod peak;
mod planning;
mod suite;
mod vision;
mod voice;

use super::profile;
use super::recommend::recommend;
use super::record::RunRecord;
pub use super::report::*;
use super::scenario::{Expectations, PassThresholds, Suite};

pub use latency::summarize;
pub use peak::step_verdict;
pub use suite::score_suite;

/// Options of scoring that the scenario does not carry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreOptions {
    /// The camera's frame rate; vision slower than it triggers a recommendation.
    pub camera_rate_hz: Option<f64>,
}

/// Scores a run against its scenario (no camera rate known).
pub fn score(record: &RunRecord, scenario: &Expectations<'_>) -> BenchReport {
    score_with(record, scenario, &ScoreOptions::default())
}

/// Scores a run against its scenario with extra options.
pub fn score_with(
    record: &RunRecord,
    scenario: &Expectations<'_>,
    options: &ScoreOptions,
) -> BenchReport {
    let suites: Vec<SuiteReport> = record
        .suites
        .iter()
        .map(|s| score_suite(s, scenario))
        .collect();
    let profiled = record
        .suites
        .iter()
        .zip(&suites)
        .max_by_key(|(r, _)| (r.suite == Suite::EndToEnd, r.stages.len()));
    let mut report = BenchReport {
        run_id: record.run_id.clone(),
        meta: record.meta.clone(),
        passed: suites.iter().all(|s| s.passed),
        profile: profiled.map(|(r, s)| profile::profile(s, r)),
        processes: record.processes.iter().map(ProcessSummary::of).collect(),
        gpus: record.gpus.iter().map(GpuSummary::of).collect(),
        gpu_unavailable: record.gpu_unavailable.clone(),
        camera_rate_hz: options.camera_rate_hz,
        suites,
        recommendations: Vec::new(),
    };
    report.recommendations = recommend(&report);
    report
}

/// The threshold that applies to `metric` in `suite`, if any.
pub fn threshold_for(suite: Suite, metric: &str, t: &PassThresholds) -> Option<(Compare, f64)> {
    if let Some(name) = metric.strip_prefix(kpi::P95_PREFIX) {
        if name == END_TO_END && suite != Suite::EndToEnd {
            return None;
        }
        return t
            .max_p95_latency
            .get(name)
            .map(|d| (Compare::AtMost, d.as_secs_f64()));
    }
    let at_least = |v: Option<f64>| v.map(|v| (Compare::AtLeast, v));
    match metric {
        kpi::WER => t.max_wer.map(|v| (Compare::AtMost, v)),
        kpi::UNDERSTANDING_RATE => at_least(t.min_understanding_rate),
        kpi::MAP => at_least(t.min_map),
        kpi::SUCCESS_RATE if matches!(suite, Suite::ActionExecution | Suite::EndToEnd) => {
            at_least(t.min_success_rate)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::testing::{none, peak_record, scenario};

    #[test]
    fn the_report_round_trips_through_json() {
        let record = RunRecord {
            run_id: "r1".into(),
            suites: vec![peak_record()],
            ..RunRecord::default()
        };
        let report = score(&record, &scenario(none()));
        let text = serde_json::to_string(&report).unwrap();
        let back: BenchReport = serde_json::from_str(&text).unwrap();
        // serde_json may parse a float one ulp off: compare what a reader uses.
        let (a, b) = (&back.suites[0], &report.suites[0]);
        assert_eq!(a.kpis.len(), b.kpis.len());
        assert_eq!(a.latencies.len(), b.latencies.len());
        for (x, y) in a.latencies.iter().zip(&b.latencies) {
            let (x, y) = (x.summary.unwrap(), y.summary.unwrap());
            assert_eq!(x.count, y.count);
            assert!((x.p95 - y.p95).abs() < 1e-12);
        }
        assert_eq!(a.peak_search, b.peak_search);
        assert_eq!(back.profile, report.profile);
    }
}

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

use std::collections::BTreeMap;
use std::time::Duration;

use super::profile;
use super::recommend::recommend;
use super::record::{CommandRecord, ImageRecord, RunRecord, SuiteRecord};
pub use super::report::*;
use super::scenario::{Expectations, PassThresholds, ScenarioCommand, Suite};
use crate::kpi::{
    BBox, CommandOutcome, Detection, DetectionEvaluator, GroundTruth, SuccessCounter,
    UnderstandingCounter, WerAccumulator,
};
use crate::stats::{LatencyStats, StatsConfig, Summary, Window};
use crate::timeline::Outcome;
use crate::trend::Direction;

/// Points kept per latency CDF.
const CDF_POINTS: usize = 200;
/// Most time bins of a suite's over-time series.
const MAX_BINS: usize = 60;

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

/// One thing sent (a command or an image) and what came back, uniformly.
struct Unit {
    step: usize,
    intended: f64,
    sent: f64,
    reached: Vec<Option<f64>>,
    outcome: Outcome,
}

impl Unit {
    fn answered(&self) -> bool {
        matches!(self.outcome, Outcome::Succeeded | Outcome::Failed)
    }

    /// When the unit was answered: its latest reached stage.
    fn completed_at(&self) -> Option<f64> {
        if !self.answered() {
            return None;
        }
        self.reached.iter().flatten().copied().reduce(f64::max)
    }
}

fn units(suite: &SuiteRecord) -> Vec<Unit> {
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

/// Summary of a one-shot set of latencies (seconds), through the same HDR statistics the
/// collector uses, so a benchmark and the live topics agree on quantiles.
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    let cfg = StatsConfig {
        windows: Vec::new(),
        slots: 1,
        ..StatsConfig::default()
    };
    let mut stats = LatencyStats::new(&cfg).ok()?;
    // Negative, NaN and absurdly large values are not durations; callers count them.
    for d in samples
        .iter()
        .filter_map(|&s| Duration::try_from_secs_f64(s).ok())
    {
        stats.record(Duration::ZERO, d);
    }
    stats.summary(Duration::ZERO, Window::Cumulative)
}

/// Exact empirical CDF of `samples`, thinned to at most [`CDF_POINTS`] points.
fn empirical_cdf(samples: &[f64]) -> Vec<[f64; 2]> {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return Vec::new();
    }
    let step = n.div_ceil(CDF_POINTS);
    let mut out: Vec<[f64; 2]> = (step - 1..n)
        .step_by(step)
        .map(|i| [sorted[i], (i + 1) as f64 / n as f64])
        .collect();
    if out.last().map(|p| p[1]) != Some(1.0) {
        out.push([sorted[n - 1], 1.0]);
    }
    out
}

/// Latency samples per name: stages in order, then end to end corrected and uncorrected.
/// The second value counts samples dropped because time ran backwards.
fn latency_samples(units: &[&Unit], stages: &[String]) -> (Vec<(String, Vec<f64>)>, u64) {
    let mut out: Vec<(String, Vec<f64>)> = stages.iter().map(|s| (s.clone(), Vec::new())).collect();
    let mut corrected = Vec::new();
    let mut uncorrected = Vec::new();
    let mut backwards = 0u64;
    let mut push = |into: &mut Vec<f64>, v: f64| {
        if v.is_finite() && v >= 0.0 {
            into.push(v);
        } else {
            backwards += 1;
        }
    };
    for u in units {
        let mut previous = u.sent;
        for (i, reached) in u.reached.iter().enumerate().take(stages.len()) {
            if let Some(t) = *reached {
                push(&mut out[i].1, t - previous);
                previous = t;
            }
        }
        let last = u
            .reached
            .get(stages.len().wrapping_sub(1))
            .copied()
            .flatten();
        if let (Outcome::Succeeded, Some(last)) = (u.outcome, last) {
            push(&mut corrected, last - u.intended);
            push(&mut uncorrected, last - u.sent);
        }
    }
    out.push((END_TO_END.into(), corrected));
    out.push((END_TO_END_UNCORRECTED.into(), uncorrected));
    (out, backwards)
}

fn latency_figures(samples: Vec<(String, Vec<f64>)>) -> Vec<LatencyFigure> {
    samples
        .into_iter()
        .map(|(name, s)| LatencyFigure {
            summary: summarize(&s),
            cdf: empirical_cdf(&s),
            name,
        })
        .collect()
}

fn ratio(n: u64, d: u64) -> Option<f64> {
    (d > 0).then(|| n as f64 / d as f64)
}

/// Scores one suite.
pub fn score_suite(record: &SuiteRecord, scenario: &Expectations<'_>) -> SuiteReport {
    let all = units(record);
    let refs: Vec<&Unit> = all.iter().collect();
    let count = |o: &[Outcome]| all.iter().filter(|u| o.contains(&u.outcome)).count() as u64;
    let completed = all.iter().filter(|u| u.answered()).count() as u64;
    let duration = record.ended - record.started;
    let throughput = (duration > 0.0).then(|| completed as f64 / duration);
    let (samples, mut skipped) = latency_samples(&refs, &record.stages);
    let latencies = latency_figures(samples);

    let mut kpis = Vec::new();
    let suite = record.suite;
    let limit = |name: &str| threshold_for(suite, name, scenario.thresholds);
    for l in &latencies {
        let name = format!("{}{}", kpi::P95_PREFIX, l.name);
        if let Some(t) = limit(&name) {
            kpis.push(KpiFigure::new(
                &name,
                "s",
                l.summary.map(|s| s.p95),
                Some(Direction::HigherIsWorse),
                Some(t),
            ));
        }
    }
    let commands: Vec<&CommandRecord> = record.commands.iter().collect();
    let has_transcripts = commands.iter().any(|c| c.transcript.is_some());
    let has_plans = commands.iter().any(|c| c.plan.is_some());
    let mut classes = Vec::new();
    let higher = Some(Direction::HigherIsWorse);
    let lower = Some(Direction::LowerIsWorse);
    if suite == Suite::VoiceProcessing || (suite == Suite::EndToEnd && has_transcripts) {
        let (wer, missing, bad) = word_error_rate(&commands, scenario);
        skipped += bad;
        kpis.push(KpiFigure::new(kpi::WER, "1", wer, higher, limit(kpi::WER)));
        kpis.push(KpiFigure::new(
            kpi::MISSING_TRANSCRIPTS,
            "count",
            Some(missing as f64),
            None,
            None,
        ));
    }
    if suite == Suite::CognitivePlanning || (suite == Suite::EndToEnd && has_plans) {
        let (counter, rejected, missing, bad) = understanding(&commands, scenario);
        skipped += bad;
        kpis.push(KpiFigure::new(
            kpi::UNDERSTANDING_RATE,
            "1",
            counter.understanding_rate(),
            lower,
            limit(kpi::UNDERSTANDING_RATE),
        ));
        kpis.push(KpiFigure::new(
            kpi::MISUNDERSTANDING_RATE,
            "1",
            counter.misunderstanding_rate(),
            higher,
            None,
        ));
        kpis.push(KpiFigure::new(
            kpi::REJECTION_RATE,
            "1",
            ratio(rejected, commands.len() as u64),
            higher,
            None,
        ));
        kpis.push(KpiFigure::new(
            kpi::MISSING_PLANS,
            "count",
            Some(missing as f64),
            None,
            None,
        ));
    }
    if matches!(suite, Suite::ActionExecution | Suite::EndToEnd) {
        let (expected, action, navigation, bad) = success(&commands, scenario);
        skipped += bad;
        kpis.push(KpiFigure::new(
            kpi::SUCCESS_RATE,
            "1",
            expected.success_rate(),
            lower,
            limit(kpi::SUCCESS_RATE),
        ));
        if suite == Suite::ActionExecution {
            kpis.push(KpiFigure::new(
                kpi::ACTION_SUCCESS_RATE,
                "1",
                action.success_rate(),
                lower,
                None,
            ));
        }
        kpis.push(KpiFigure::new(
            kpi::NAVIGATION_SUCCESS_RATE,
            "1",
            navigation.success_rate(),
            lower,
            None,
        ));
    }
    if suite == Suite::VisualPerception {
        let answered = record
            .images
            .iter()
            .filter(|i| i.received.is_some())
            .count();
        kpis.push(KpiFigure::new(
            kpi::FRAMES_PER_SECOND,
            "Hz",
            (duration > 0.0).then(|| answered as f64 / duration),
            lower,
            None,
        ));
        let d = detection(record);
        kpis.push(KpiFigure::new(kpi::MAP, "1", d.map, lower, limit(kpi::MAP)));
        kpis.push(KpiFigure::new(kpi::MAP50, "1", d.map50, lower, None));
        kpis.push(KpiFigure::new(
            kpi::UNKNOWN_CLASS_DETECTIONS,
            "count",
            Some(d.unknown as f64),
            None,
            None,
        ));
        kpis.push(KpiFigure::new(
            kpi::INVALID_DETECTIONS,
            "count",
            Some(d.invalid as f64),
            None,
            None,
        ));
        classes = d.classes;
    }
    let peak_search = (!record.steps.is_empty()).then(|| {
        let steps: Vec<StepVerdict> = (0..record.steps.len())
            .map(|i| step_verdict(record, i, scenario))
            .collect();
        let peak_sustainable_hz = steps
            .iter()
            .take_while(|s| s.sustainable)
            .last()
            .map(|s| s.rate_hz);
        PeakSearch {
            steps,
            peak_sustainable_hz,
        }
    });
    let passed = kpis.iter().all(|k| k.passed != Some(false));
    SuiteReport {
        suite,
        stages: record.stages.clone(),
        commands_sent: all.len() as u64,
        commands_succeeded: count(&[Outcome::Succeeded]),
        commands_failed: count(&[Outcome::Failed]),
        commands_timed_out: count(&[Outcome::TimedOut, Outcome::Abandoned]),
        duration,
        throughput,
        latencies,
        kpis,
        classes,
        over_time: over_time(record, &all),
        peak_search,
        unmatched: record.unmatched,
        skipped,
        passed,
    }
}

/// Verdict of peak-search step `step` of `suite` (called live after each step).
pub fn step_verdict(suite: &SuiteRecord, step: usize, scenario: &Expectations<'_>) -> StepVerdict {
    let all = units(suite);
    let in_step: Vec<&Unit> = all.iter().filter(|u| u.step == step).collect();
    let (rate_hz, span) = suite
        .steps
        .get(step)
        .map_or((0.0, 0.0), |s| (s.rate_hz, s.ended - s.started));
    let sent = in_step.len() as u64;
    let completed = in_step.iter().filter(|u| u.answered()).count() as u64;
    // A failure is an answer; what never came back is dropped.
    let dropped = sent - completed;
    let drop_rate = ratio(dropped, sent).unwrap_or(0.0);
    let (samples, _) = latency_samples(&in_step, &suite.stages);
    let mut p95 = BTreeMap::new();
    let mut reasons = Vec::new();
    if sent == 0 {
        reasons.push("nothing was sent".to_owned());
    }
    if drop_rate > MAX_DROP_RATE {
        reasons.push(format!(
            "{:.1}% dropped (limit {:.0}%)",
            drop_rate * 100.0,
            MAX_DROP_RATE * 100.0
        ));
    }
    for (name, s) in &samples {
        let Some(q) = summarize(s).map(|s| s.p95) else {
            continue;
        };
        p95.insert(name.clone(), q);
        let metric = format!("{}{name}", kpi::P95_PREFIX);
        if let Some((_, limit)) = threshold_for(suite.suite, &metric, scenario.thresholds) {
            if q > limit {
                reasons.push(format!("p95 {name} {q:.3} s > {limit:.3} s"));
            }
        }
    }
    StepVerdict {
        step,
        rate_hz,
        sent,
        completed,
        dropped,
        drop_rate,
        throughput: (span > 0.0).then(|| completed as f64 / span),
        p95,
        sustainable: reasons.is_empty(),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    }
}

fn scenario_command<'a>(
    c: &CommandRecord,
    scenario: &'a Expectations<'a>,
) -> Option<&'a ScenarioCommand> {
    scenario.commands.get(c.command)
}

/// Corpus WER (missing transcripts as empty), missing transcripts, skipped commands.
fn word_error_rate(
    commands: &[&CommandRecord],
    scenario: &Expectations<'_>,
) -> (Option<f64>, u64, u64) {
    let mut acc = WerAccumulator::new();
    let (mut missing, mut skipped) = (0u64, 0u64);
    for c in commands {
        let Some(sc) = scenario_command(c, scenario) else {
            skipped += 1;
            continue;
        };
        if c.transcript.is_none() {
            missing += 1;
        }
        if acc
            .add(sc.reference(), c.transcript.as_deref().unwrap_or(""))
            .is_err()
        {
            skipped += 1;
        }
    }
    (acc.wer(), missing, skipped)
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

struct DetectionScore {
    map: Option<f64>,
    map50: Option<f64>,
    classes: Vec<ClassFigure>,
    unknown: u64,
    invalid: u64,
}

fn detection(record: &SuiteRecord) -> DetectionScore {
    // Categories are merged by name across sets; ids are their index here.
    let mut names: Vec<String> = Vec::new();
    let mut per_set: Vec<BTreeMap<u64, u64>> = Vec::new();
    for set in &record.image_sets {
        let mut ids = BTreeMap::new();
        for (id, name) in &set.categories {
            let key = name.trim().to_lowercase();
            let global = match names.iter().position(|n| *n == key) {
                Some(i) => i,
                None => {
                    names.push(key);
                    names.len() - 1
                }
            } as u64;
            ids.insert(*id, global);
        }
        per_set.push(ids);
    }
    let mut eval = DetectionEvaluator::new();
    for id in 0..names.len() as u64 {
        eval.add_category(id);
    }
    let (mut unknown, mut invalid) = (0u64, 0u64);
    let no_categories = BTreeMap::new();
    for (n, image) in record.images.iter().enumerate() {
        // Each send is its own evaluation image, so repeats are scored as repeats.
        let eval_id = n as u64;
        let set = record.image_sets.get(image.set);
        let ids = per_set.get(image.set).unwrap_or(&no_categories);
        for truth in set
            .into_iter()
            .flat_map(|s| &s.annotations)
            .filter(|a| a.image_id == image.image_id)
        {
            let Some(&category_id) = ids.get(&truth.category_id) else {
                invalid += 1;
                continue;
            };
            let [x, y, w, h] = truth.bbox;
            let added = BBox::new(x, y, w, h).and_then(|bbox| {
                eval.add_ground_truth(GroundTruth {
                    image_id: eval_id,
                    category_id,
                    bbox,
                    iscrowd: truth.iscrowd,
                    area: Some(truth.area),
                })
            });
            if added.is_err() {
                invalid += 1;
            }
        }
        for d in &image.detections {
            let key = d.class.trim().to_lowercase();
            let by_name = set.and_then(|s| {
                s.categories
                    .iter()
                    .find(|(_, n)| n.trim().to_lowercase() == key)
                    .map(|(id, _)| *id)
            });
            let by_id = key.parse::<u64>().ok().filter(|id| ids.contains_key(id));
            let Some(category_id) = by_name.or(by_id).and_then(|id| ids.get(&id)) else {
                unknown += 1;
                continue;
            };
            let [x, y, w, h] = d.bbox;
            let added = BBox::new(x, y, w, h).and_then(|bbox| {
                eval.add_detection(Detection {
                    image_id: eval_id,
                    category_id: *category_id,
                    bbox,
                    score: d.score,
                })
            });
            if added.is_err() {
                invalid += 1;
            }
        }
    }
    let summary = eval.coco_summary();
    let counts = eval
        .counts(DETECTION_IOU, DETECTION_SCORE_THRESHOLD)
        .unwrap_or_default();
    let classes = names
        .iter()
        .enumerate()
        .map(|(id, name)| {
            let id = id as u64;
            let ap = summary.class(id);
            let c = counts.iter().find(|c| c.category_id == id);
            ClassFigure {
                name: name.clone(),
                ground_truths: ap.map_or(0, |a| a.ground_truths),
                true_positives: c.map_or(0, |c| c.true_positives),
                false_positives: c.map_or(0, |c| c.false_positives),
                false_negatives: c.map_or(0, |c| c.false_negatives),
                precision: c.and_then(|c| c.precision),
                recall: c.and_then(|c| c.recall),
                ap50: ap.and_then(|a| a.ap50()),
                ap: ap.and_then(|a| a.ap()),
            }
        })
        .collect();
    DetectionScore {
        map: summary.map(),
        map50: summary.map50(),
        classes,
        unknown,
        invalid,
    }
}

/// Sends, answers and end-to-end quantiles per time bin across the suite.
fn over_time(record: &SuiteRecord, all: &[Unit]) -> Vec<TimeBin> {
    let span = record.ended - record.started;
    if all.is_empty() || span.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Vec::new();
    }
    let bins = (all.len() / 5).clamp(1, MAX_BINS);
    let width = span / bins as f64;
    let index = |t: f64| {
        let i = ((t - record.started) / width).floor();
        (i >= 0.0).then(|| (i as usize).min(bins - 1))
    };
    let mut sent = vec![0u64; bins];
    let mut completed = vec![0u64; bins];
    let mut latencies = vec![Vec::new(); bins];
    let last_stage = record.stages.len().wrapping_sub(1);
    for u in all {
        if let Some(i) = index(u.sent) {
            sent[i] += 1;
        }
        if let Some(i) = u.completed_at().and_then(index) {
            completed[i] += 1;
        }
        let last = u.reached.get(last_stage).copied().flatten();
        if let (Outcome::Succeeded, Some(last), Some(i)) = (u.outcome, last, index(u.intended)) {
            latencies[i].push(last - u.intended);
        }
    }
    (0..bins)
        .map(|i| {
            let s = summarize(&latencies[i]);
            TimeBin {
                start: i as f64 * width,
                end: (i + 1) as f64 * width,
                sent: sent[i],
                completed: completed[i],
                p50: s.map(|s| s.p50),
                p95: s.map(|s| s.p95),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::record::{DetectionRecord, ImageSetTruth, TruthImage, TruthObject};
    use crate::bench::testing::{cmd, max_p95, none, plan, scenario, step, suite};
    use crate::bench::PassThresholds;
    use Outcome::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    fn mean_of(r: &SuiteReport, name: &str) -> Option<f64> {
        r.latency(name).and_then(|l| l.summary).map(|s| s.mean)
    }

    #[test]
    fn stage_latency_runs_from_the_previous_reached_stage() {
        let record = suite(
            Suite::EndToEnd,
            &["transcript", "plan", "action_done"],
            10.0,
            vec![
                cmd(0, 1.0, &[Some(1.2), Some(1.5), Some(2.5)], Succeeded),
                // No transcript seen: the plan counts from the send.
                cmd(0, 3.0, &[None, Some(3.4), Some(4.0)], Succeeded),
            ],
        );
        let r = score_suite(&record, &scenario(none()));
        assert!(close(mean_of(&r, "transcript"), 0.2));
        assert_eq!(r.latency("transcript").unwrap().count(), 1);
        assert!(close(mean_of(&r, "plan"), (0.3 + 0.4) / 2.0));
        assert!(close(mean_of(&r, "action_done"), (1.0 + 0.6) / 2.0));
        assert!(close(mean_of(&r, END_TO_END), (1.5 + 1.0) / 2.0));
        let p95 = r.latency(END_TO_END).unwrap().summary.unwrap().p95;
        assert!((p95 - 1.5).abs() < 2e-3, "{p95}");
    }

    #[test]
    fn coordinated_omission_correction_counts_late_sends_against_the_stack() {
        let mut late = cmd(0, 1.0, &[Some(1.5)], Succeeded);
        late.intended = 0.2;
        let on_time = cmd(0, 2.0, &[Some(2.5)], Succeeded);
        let record = suite(Suite::EndToEnd, &["action_done"], 3.0, vec![late, on_time]);
        let r = score_suite(&record, &scenario(none()));
        assert!(close(mean_of(&r, END_TO_END_UNCORRECTED), 0.5));
        assert!(close(mean_of(&r, END_TO_END), (1.3 + 0.5) / 2.0));
        let max = |n| r.latency(n).unwrap().summary.unwrap().max;
        assert!(max(END_TO_END) > max(END_TO_END_UNCORRECTED));
    }

    #[test]
    fn counts_and_throughput_follow_the_outcomes() {
        let record = suite(
            Suite::EndToEnd,
            &["plan"],
            4.0,
            vec![
                cmd(0, 0.0, &[Some(0.5)], Succeeded),
                cmd(2, 1.0, &[Some(1.5)], Failed),
                cmd(1, 2.0, &[None], TimedOut),
            ],
        );
        let r = score_suite(&record, &scenario(none()));
        assert_eq!(
            (
                r.commands_sent,
                r.commands_succeeded,
                r.commands_failed,
                r.commands_timed_out
            ),
            (3, 1, 1, 1)
        );
        assert!(close(r.throughput, 2.0 / 4.0));
        // Latency of failures is a stage latency, not an end-to-end one.
        assert_eq!(r.latency("plan").unwrap().count(), 2);
        assert_eq!(r.latency(END_TO_END).unwrap().count(), 1);
    }

    #[test]
    fn wer_counts_a_substitution_and_a_missing_transcript_as_deletions() {
        let mut a = cmd(0, 0.0, &[Some(0.5)], Succeeded);
        a.transcript = Some("Go to the kitten".into());
        let b = cmd(1, 1.0, &[None], TimedOut);
        let record = suite(
            Suite::VoiceProcessing,
            &["transcript"],
            2.0,
            vec![a.clone()],
        );
        let r = score_suite(&record, &scenario(none()));
        assert!(close(r.kpi_value(kpi::WER), 1.0 / 4.0));
        // "pick up the red cup": five deletions more, over nine reference words.
        let record = suite(Suite::VoiceProcessing, &["transcript"], 2.0, vec![a, b]);
        let r = score_suite(
            &record,
            &scenario(PassThresholds {
                max_wer: Some(0.5),
                ..none()
            }),
        );
        assert!(close(r.kpi_value(kpi::WER), 6.0 / 9.0));
        assert_eq!(r.kpi_value(kpi::MISSING_TRANSCRIPTS), Some(1.0));
        assert_eq!(r.kpi(kpi::WER).unwrap().passed, Some(false));
        assert!(!r.passed);
    }

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

    #[test]
    fn p95_thresholds_apply_to_the_stages_a_suite_has_and_end_to_end_only_to_its_suite() {
        let t = || PassThresholds {
            max_p95_latency: [("transcript", 1), ("plan", 2), ("end_to_end", 3)]
                .into_iter()
                .map(|(stage, secs)| (stage.to_owned(), Duration::from_secs(secs)))
                .collect(),
            ..none()
        };
        let record = suite(
            Suite::VoiceProcessing,
            &["transcript"],
            1.0,
            vec![cmd(0, 0.0, &[Some(1.5)], Succeeded)],
        );
        let r = score_suite(&record, &scenario(t()));
        let names: Vec<&str> = r.kpis.iter().map(|k| k.name.as_str()).collect();
        assert!(names.contains(&"p95_transcript"), "{names:?}");
        assert!(!names.contains(&"p95_plan") && !names.contains(&"p95_end_to_end"));
        assert_eq!(r.kpi("p95_transcript").unwrap().passed, Some(false));
        let e2e = score_suite(
            &suite(Suite::EndToEnd, &["transcript"], 1.0, record.commands),
            &scenario(t()),
        );
        assert_eq!(e2e.kpi("p95_end_to_end").unwrap().passed, Some(true));
    }

    #[test]
    fn a_threshold_with_nothing_measured_fails() {
        let record = suite(
            Suite::EndToEnd,
            &["plan"],
            1.0,
            vec![cmd(0, 0.0, &[None], TimedOut)],
        );
        let r = score_suite(&record, &scenario(max_p95("plan", Duration::from_secs(1))));
        let k = r.kpi("p95_plan").unwrap();
        assert_eq!((k.value, k.passed), (None, Some(false)));
        assert!(!r.passed);
    }

    fn vision(detections: Vec<DetectionRecord>) -> SuiteRecord {
        let obj = |category_id, bbox: [f64; 4]| TruthObject {
            image_id: 7,
            category_id,
            bbox,
            area: bbox[2] * bbox[3],
            iscrowd: false,
        };
        let mut s = suite(Suite::VisualPerception, &["vision"], 2.0, Vec::new());
        s.image_sets.push(ImageSetTruth {
            name: "kitchen".into(),
            categories: vec![(44, "cup".into()), (84, "book".into())],
            images: vec![TruthImage {
                id: 7,
                file_name: "a.png".into(),
                width: 640,
                height: 480,
            }],
            annotations: vec![
                obj(44, [10.0, 10.0, 50.0, 50.0]),
                obj(84, [100.0, 100.0, 40.0, 60.0]),
            ],
        });
        s.images.push(ImageRecord {
            set: 0,
            image_id: 7,
            step: 0,
            intended: 0.0,
            sent: 0.0,
            received: Some(0.1),
            detections,
        });
        s
    }

    fn det(class: &str, bbox: [f64; 4], score: f64) -> DetectionRecord {
        DetectionRecord {
            class: class.into(),
            bbox,
            score,
        }
    }

    #[test]
    fn perfect_detections_score_map_one() {
        let record = vision(vec![
            det("Cup", [10.0, 10.0, 50.0, 50.0], 0.9),
            // By numeric id when the name is not a category.
            det("84", [100.0, 100.0, 40.0, 60.0], 0.8),
        ]);
        let r = score_suite(
            &record,
            &scenario(PassThresholds {
                min_map: Some(0.5),
                ..none()
            }),
        );
        let near_one = |v: Option<f64>| v.is_some_and(|v| (v - 1.0).abs() < 1e-6);
        assert!(near_one(r.kpi_value(kpi::MAP)), "{:?}", r.kpis);
        assert!(near_one(r.kpi_value(kpi::MAP50)));
        assert_eq!(r.kpi(kpi::MAP).unwrap().passed, Some(true));
        assert!(close(r.kpi_value(kpi::FRAMES_PER_SECOND), 0.5));
        let cup = &r.classes[0];
        assert_eq!(cup.name, "cup");
        assert_eq!((cup.true_positives, cup.false_positives), (1, 0));
        assert_eq!((cup.precision, cup.recall), (Some(1.0), Some(1.0)));
    }

    #[test]
    fn a_shifted_box_lowers_map_but_not_map50_and_unknown_classes_are_counted() {
        let record = vision(vec![
            // IoU 2000/3000 = 0.667: a match at IoU 0.5..0.65, four of ten thresholds.
            det("cup", [20.0, 10.0, 50.0, 50.0], 0.9),
            det("book", [100.0, 100.0, 40.0, 60.0], 0.8),
            det("dog", [300.0, 300.0, 10.0, 10.0], 0.8),
        ]);
        let r = score_suite(&record, &scenario(none()));
        let map = r.kpi_value(kpi::MAP).unwrap();
        assert!((map - (0.4 + 1.0) / 2.0).abs() < 1e-6, "{map}");
        assert!((r.kpi_value(kpi::MAP50).unwrap() - 1.0).abs() < 1e-6);
        assert!(close(r.classes[0].ap, 0.4));
        assert_eq!(r.kpi_value(kpi::UNKNOWN_CLASS_DETECTIONS), Some(1.0));
    }

    #[test]
    fn a_low_score_detection_counts_for_ap_but_not_for_precision_and_recall() {
        let record = vision(vec![det("cup", [10.0, 10.0, 50.0, 50.0], 0.1)]);
        let r = score_suite(&record, &scenario(none()));
        let cup = &r.classes[0];
        assert_eq!((cup.true_positives, cup.false_negatives), (0, 1));
        assert!(cup.ap.is_some_and(|ap| ap > 0.99));
        assert_eq!(r.classes[1].recall, Some(0.0));
    }

    fn peak_record() -> SuiteRecord {
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
                    cmd(0, t, &[None], TimedOut)
                } else {
                    cmd(0, t, &[Some(t + latency)], Succeeded)
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

    #[test]
    fn peak_search_picks_the_last_sustainable_step_before_the_first_failure() {
        let record = peak_record();
        let r = score_suite(&record, &scenario(none()));
        let peak = r.peak_search.unwrap();
        assert_eq!(peak.steps.len(), 4);
        assert_eq!(peak.peak_sustainable_hz, Some(2.0));
        let third = &peak.steps[2];
        assert_eq!((third.sent, third.dropped), (8, 2));
        assert!(close(Some(third.drop_rate), 0.25));
        assert!(close(third.throughput, 6.0 / 4.0));
        assert!(third.reason.as_deref().unwrap().contains("dropped"));
        assert!(peak.steps[3].sustainable);
    }

    #[test]
    fn a_step_breaking_a_p95_threshold_is_not_sustainable() {
        let record = peak_record();
        let s = scenario(max_p95("end_to_end", Duration::from_millis(300)));
        let v = step_verdict(&record, 1, &s);
        assert!(!v.sustainable);
        assert!(v.reason.unwrap().contains("p95 end_to_end"));
        assert!(step_verdict(&record, 0, &s).sustainable);
        let r = score_suite(&record, &s);
        assert_eq!(r.peak_search.unwrap().peak_sustainable_hz, Some(1.0));
    }

    #[test]
    fn a_step_without_sends_is_not_sustainable() {
        let v = step_verdict(&peak_record(), 9, &scenario(none()));
        assert_eq!((v.sent, v.sustainable), (0, false));
    }

    #[test]
    fn time_running_backwards_is_counted_not_scored() {
        let record = suite(
            Suite::EndToEnd,
            &["plan"],
            1.0,
            vec![cmd(0, 1.0, &[Some(0.5)], Succeeded)],
        );
        let r = score_suite(&record, &scenario(none()));
        assert_eq!(r.latency("plan").unwrap().count(), 0);
        // The stage, end to end and end to end uncorrected.
        assert_eq!(r.skipped, 3);
    }

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

    proptest::proptest! {
        #[test]
        fn summaries_keep_count_and_bounds_of_any_latencies(
            samples in proptest::collection::vec(0.0f64..100.0, 1..50)
        ) {
            let s = summarize(&samples).unwrap();
            proptest::prop_assert_eq!(s.count, samples.len() as u64);
            let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
            let max = samples.iter().copied().fold(0.0, f64::max);
            proptest::prop_assert!((s.min - min).abs() < 1e-9 && (s.max - max).abs() < 1e-9);
            proptest::prop_assert!(s.min <= s.p50 && s.p50 <= s.p95 && s.p95 <= s.max);
            let cdf = empirical_cdf(&samples);
            proptest::prop_assert!(cdf.len() <= CDF_POINTS + 1);
            proptest::prop_assert_eq!(cdf.last().map(|p| p[1]), Some(1.0));
        }

        #[test]
        fn any_float_as_a_latency_is_summarised_or_left_out_without_panicking(
            samples in proptest::collection::vec(proptest::num::f64::ANY, 0..20)
        ) {
            let valid = samples.iter().filter(|s| **s >= 0.0 && **s < 2f64.powi(64)).count();
            let count = summarize(&samples).map_or(0, |s| s.count);
            proptest::prop_assert_eq!(count, valid as u64);
        }
    }
}

//! One suite's report: counts, throughput, latencies with their p95 thresholds, the suite
//! family's KPIs, the over-time series and the peak search.

use super::common::{units, Unit};
use super::latency::{latency_figures, latency_samples};
use super::over_time::over_time;
use super::peak::peak_search;
use super::{action, planning, threshold_for, vision, voice};
use crate::bench::record::{CommandRecord, SuiteRecord};
use crate::bench::report::{kpi, KpiFigure, LatencyFigure, SuiteReport};
use crate::bench::scenario::{Expectations, Suite};
use crate::timeline::Outcome;
use crate::trend::Direction;

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
    let mut kpis = latency_kpis(record.suite, &latencies, scenario);
    let (family, family_skipped, classes) = family_kpis(record, scenario);
    kpis.extend(family);
    skipped += family_skipped;
    let passed = kpis.iter().all(|k| k.passed != Some(false));
    SuiteReport {
        suite: record.suite,
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
        peak_search: peak_search(record, scenario),
        unmatched: record.unmatched,
        skipped,
        passed,
    }
}

/// A p95 figure for each latency that has a threshold in `suite`.
fn latency_kpis(
    suite: Suite,
    latencies: &[LatencyFigure],
    scenario: &Expectations<'_>,
) -> Vec<KpiFigure> {
    latencies
        .iter()
        .filter_map(|l| {
            let name = format!("{}{}", kpi::P95_PREFIX, l.name);
            let limit = threshold_for(suite, &name, scenario.thresholds)?;
            Some(KpiFigure::new(
                &name,
                "s",
                l.summary.map(|s| s.p95),
                Some(Direction::HigherIsWorse),
                Some(limit),
            ))
        })
        .collect()
}

/// The KPIs of the suite families `record` has figures for (end to end: every family whose
/// data was recorded), the units skipped, and the per-class detection figures.
fn family_kpis(
    record: &SuiteRecord,
    scenario: &Expectations<'_>,
) -> (Vec<KpiFigure>, u64, Vec<crate::bench::report::ClassFigure>) {
    let suite = record.suite;
    let commands: Vec<&CommandRecord> = record.commands.iter().collect();
    let has_transcripts = commands.iter().any(|c| c.transcript.is_some());
    let has_plans = commands.iter().any(|c| c.plan.is_some());
    let end_to_end = suite == Suite::EndToEnd;
    let mut kpis = Vec::new();
    let mut skipped = 0;
    let mut add = |(figures, bad): (Vec<KpiFigure>, u64)| {
        kpis.extend(figures);
        skipped += bad;
    };
    if suite == Suite::VoiceProcessing || (end_to_end && has_transcripts) {
        add(voice::kpis(suite, &commands, scenario));
    }
    if suite == Suite::CognitivePlanning || (end_to_end && has_plans) {
        add(planning::kpis(suite, &commands, scenario));
    }
    if matches!(suite, Suite::ActionExecution | Suite::EndToEnd) {
        add(action::kpis(suite, &commands, scenario));
    }
    let mut classes = Vec::new();
    if suite == Suite::VisualPerception {
        let (figures, per_class) = vision::kpis(record, scenario);
        kpis.extend(figures);
        classes = per_class;
    }
    (kpis, skipped, classes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{END_TO_END, END_TO_END_UNCORRECTED};
    use crate::bench::scenario::PassThresholds;
    use crate::bench::testing::{close, cmd, max_p95, none, scenario, suite};
    use crate::timeline::Outcome::*;
    use std::time::Duration;

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
}

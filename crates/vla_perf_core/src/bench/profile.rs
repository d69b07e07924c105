//! Where the time (and the machine) went: stage shares of the latency quantiles, an
//! estimate of queueing against processing per stage, and process/GPU summaries.
//!
//! # Shares
//! A stage's share of p50 (p95) is its own p50 (p95) over the sum of all stages' p50 (p95):
//! the shares sum to 1 and approximate each stage's part of the end-to-end quantile (the
//! quantile of a sum is not the sum of quantiles, so this is an attribution, not an
//! identity). The dominant stage is the one with the largest p95 share.
//!
//! # Queueing (an estimate)
//! For a stage that serves one command at a time, a command that arrives (reaches the
//! previous stage) while the previous arrival is still being served waits until that one is
//! done: `wait = max(0, previous arrival's reach time of this stage − this command's reach
//! time of the previous stage)`, capped at the stage latency; processing is the rest. For a
//! stage that serves commands in parallel the estimate over-counts waiting.

use super::record::SuiteRecord;
use super::report::{Profile, StageProfile, SuiteReport};

/// Profiles a scored suite with the stamps of its record.
pub fn profile(report: &SuiteReport, record: &SuiteRecord) -> Profile {
    // (p50, p95) per stage.
    let quantiles: Vec<[Option<f64>; 2]> = record
        .stages
        .iter()
        .map(|s| {
            let summary = report.latency(s).and_then(|l| l.summary);
            [summary.map(|s| s.p50), summary.map(|s| s.p95)]
        })
        .collect();
    let total = |i: usize| -> f64 { quantiles.iter().filter_map(|q| q[i]).sum() };
    let (sum50, sum95) = (total(0), total(1));
    let share = |v: Option<f64>, sum: f64| v.filter(|_| sum > 0.0).map(|v| v / sum);
    let stages: Vec<StageProfile> = record
        .stages
        .iter()
        .enumerate()
        .map(|(i, stage)| {
            let [p50, p95] = quantiles[i];
            let (mean_wait, mean_processing) = queueing(record, i);
            StageProfile {
                stage: stage.clone(),
                p50,
                p95,
                share_p50: share(p50, sum50),
                share_p95: share(p95, sum95),
                mean_wait,
                mean_processing,
            }
        })
        .collect();
    let dominant = |f: fn(&StageProfile) -> Option<f64>| {
        stages
            .iter()
            .filter_map(|s| f(s).map(|v| (v, &s.stage)))
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, s)| s.clone())
    };
    Profile {
        suite: record.suite,
        dominant_p50: dominant(|s| s.share_p50),
        dominant_p95: dominant(|s| s.share_p95),
        stages,
    }
}

/// Mean (wait, processing) of stage `i` under the one-at-a-time estimate.
fn queueing(record: &SuiteRecord, i: usize) -> (Option<f64>, Option<f64>) {
    // (arrival at the stage, done with it)
    let mut visits: Vec<(f64, f64)> = record
        .commands
        .iter()
        .filter_map(|c| {
            let done = c.reached.get(i).copied().flatten()?;
            let arrival = c.reached[..i]
                .iter()
                .rev()
                .find_map(|r| *r)
                .unwrap_or(c.sent);
            (done >= arrival).then_some((arrival, done))
        })
        .chain(record.images.iter().filter_map(|im| {
            let done = im.received.filter(|_| i == 0)?;
            (done >= im.sent).then_some((im.sent, done))
        }))
        .collect();
    if visits.is_empty() {
        return (None, None);
    }
    visits.sort_by(|a, b| a.0.total_cmp(&b.0));
    let (mut wait, mut processing) = (0.0, 0.0);
    for k in 0..visits.len() {
        let (arrival, done) = visits[k];
        let latency = done - arrival;
        let w = if k == 0 {
            0.0
        } else {
            (visits[k - 1].1 - arrival).clamp(0.0, latency)
        };
        wait += w;
        processing += latency - w;
    }
    let n = visits.len() as f64;
    (Some(wait / n), Some(processing / n))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::record::{GpuRecord, ProcessRecord};
    use crate::bench::report::{GpuSummary, ProcessSummary};
    use crate::bench::scenario::Suite;
    use crate::bench::score::score_suite;
    use crate::bench::testing::{cmd, none, scenario, suite};
    use crate::timeline::Outcome::Succeeded;
    use proptest::prelude::*;

    fn profiled(record: &SuiteRecord) -> Profile {
        profile(&score_suite(record, &scenario(none())), record)
    }

    #[test]
    fn the_slowest_stage_dominates_and_shares_follow_its_quantiles() {
        let commands = (0..10)
            .map(|i| {
                let t = i as f64 * 10.0;
                cmd(
                    0,
                    t,
                    &[Some(t + 0.1), Some(t + 2.1), Some(t + 2.3)],
                    Succeeded,
                )
            })
            .collect();
        let record = suite(
            Suite::EndToEnd,
            &["transcript", "plan", "action_done"],
            100.0,
            commands,
        );
        let p = profiled(&record);
        assert_eq!(p.dominant_p95.as_deref(), Some("plan"));
        assert_eq!(p.dominant_p50.as_deref(), Some("plan"));
        let plan = p.stage("plan").unwrap().share_p95.unwrap();
        assert!((plan - 2.0 / 2.3).abs() < 1e-3, "{plan}");
        // Spaced sends: nothing waits.
        assert_eq!(p.stage("plan").unwrap().mean_wait, Some(0.0));
    }

    #[test]
    fn commands_arriving_together_at_a_one_at_a_time_stage_queue() {
        // All three sent at 0; the stage finishes them at 1, 2, 3: waits 0, 1, 2.
        let commands = (1..=3)
            .map(|k| cmd(0, 0.0, &[Some(k as f64)], Succeeded))
            .collect();
        let record = suite(Suite::EndToEnd, &["plan"], 3.0, commands);
        let st = profiled(&record).stages.remove(0);
        assert!((st.mean_wait.unwrap() - 1.0).abs() < 1e-12);
        assert!((st.mean_processing.unwrap() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn process_and_gpu_summaries_take_means_and_peaks() {
        let p = ProcessSummary::of(&ProcessRecord {
            name: "asr".into(),
            cpu_percent: vec![50.0, 100.0, f64::NAN],
            rss_bytes: vec![10, 30, 20],
            cores: 4,
        });
        assert_eq!(p.cpu_mean_percent, Some(75.0));
        assert_eq!(p.cpu_max_percent, Some(100.0));
        assert_eq!(p.rss_max_bytes, Some(30));
        let g = GpuSummary::of(&GpuRecord {
            name: "0: test".into(),
            utilization_percent: vec![10.0, 30.0],
            memory_used_bytes: vec![50, 95],
            memory_total_bytes: 100,
        });
        assert_eq!(g.utilization_mean_percent, Some(20.0));
        assert_eq!(g.memory_max_fraction, Some(0.95));
        let empty = GpuSummary::of(&GpuRecord::default());
        assert_eq!(
            (empty.memory_max_fraction, empty.utilization_mean_percent),
            (None, None)
        );
    }

    proptest! {
        #[test]
        fn shares_sum_to_one_for_any_stage_latencies(
            latencies in prop::collection::vec(prop::collection::vec(0.001f64..5.0, 3), 1..20)
        ) {
            let commands = latencies
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let t = i as f64 * 100.0;
                    let (a, b) = (t + l[0], t + l[0] + l[1]);
                    cmd(0, t, &[Some(a), Some(b), Some(b + l[2])], Succeeded)
                })
                .collect();
            let record = suite(Suite::EndToEnd, &["a", "b", "c"], 2000.0, commands);
            let p = profiled(&record);
            for share in [|s: &StageProfile| s.share_p50, |s: &StageProfile| s.share_p95] {
                let sum: f64 = p.stages.iter().filter_map(share).sum();
                prop_assert!((sum - 1.0).abs() < 1e-9, "{sum}");
            }
            for s in &p.stages {
                prop_assert!(s.mean_wait.unwrap() >= 0.0 && s.mean_processing.unwrap() >= 0.0);
            }
        }
    }
}

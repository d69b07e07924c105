//! Peak search: a verdict per load step (sustainable or why not) and the highest rate
//! sustained before the first step that was not.

use std::collections::BTreeMap;

use super::common::{ratio, units, Unit};
use super::latency::{latency_samples, summarize};
use super::threshold_for;
use crate::bench::record::SuiteRecord;
use crate::bench::report::{kpi, PeakSearch, StepVerdict, MAX_DROP_RATE};
use crate::bench::scenario::Expectations;

/// The verdict of every step of `record`, `None` when the suite had no steps.
pub(super) fn peak_search(record: &SuiteRecord, scenario: &Expectations<'_>) -> Option<PeakSearch> {
    (!record.steps.is_empty()).then(|| {
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
    })
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

#[cfg(test)]
mod tests {
    use super::super::score_suite;
    use super::*;
    use crate::bench::testing::{close, max_p95, none, peak_record, scenario};
    use std::time::Duration;

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
}

//! A scored run as ROS 2 messages: one `BenchmarkResult` per suite, and a `MetricArray` of
//! its headline figures and degradations on the collector's metrics topic, so the alert
//! node's rules see them (`word_error_rate`, `detection_map`, `navigation_success_rate`,
//! `benchmark_degradation`).

use crate::core::bench::score::{kpi, SuiteReport};
use crate::core::bench::trend::Degradation;
use crate::core::bench::BenchReport;
use crate::core::metric::Metric;
use crate::core::stats::Window;
use crate::msg::builtin_interfaces::Time;
use crate::msg::diagnostic_msgs::KeyValue;
use crate::msg::std_msgs::Header;
use crate::msg::{BenchmarkResult, Kpi, MetricArray, MetricSummary};

/// The metric of a degradation found by the continuous mode (1 per degraded figure;
/// one 0 with no tags when nothing degraded, so an alert on it resolves).
pub const DEGRADATION_METRIC: Metric = Metric::BenchmarkDegradation;

fn tag(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The `BenchmarkResult` of one suite of run `run_id` of `scenario`.
pub fn suite_result(
    run_id: &str,
    scenario: &str,
    suite: &SuiteReport,
    robot_id: &str,
    report_path: &str,
    stamp: Time,
) -> BenchmarkResult {
    BenchmarkResult {
        header: Header {
            stamp,
            frame_id: String::new(),
        },
        robot_id: robot_id.into(),
        run_id: run_id.into(),
        suite: suite.suite.as_str().into(),
        scenario: scenario.into(),
        commands_sent: count(suite.commands_sent),
        commands_succeeded: count(suite.commands_succeeded),
        commands_failed: count(suite.commands_failed),
        commands_timed_out: count(suite.commands_timed_out),
        duration: suite.duration,
        throughput: suite.throughput.unwrap_or(f64::NAN),
        latencies: suite
            .latencies
            .iter()
            .map(|l| {
                MetricSummary::from_summary(&l.name, "s", Window::Cumulative, l.summary, vec![])
            })
            .collect(),
        kpis: suite
            .kpis
            .iter()
            .map(|k| Kpi {
                name: k.name.clone(),
                unit: k.unit.clone(),
                value: k.value.unwrap_or(f64::NAN),
                compare: k.compare.code(),
                threshold: k.threshold.unwrap_or(f64::NAN),
                passed: k.passed.unwrap_or(true),
            })
            .collect(),
        passed: suite.passed,
        report_path: report_path.into(),
    }
}

/// The figures alert rules can use, and the degradations, as one metric batch.
pub fn metric_array(
    report: &BenchReport,
    degradations: &[Degradation],
    robot_id: &str,
    stamp: Time,
) -> MetricArray {
    let mut metrics: Vec<MetricSummary> = Vec::new();
    let one = |metric: Metric, value: Option<f64>, tags: Vec<KeyValue>| {
        value
            .filter(|v| v.is_finite())
            .map(|v| MetricSummary::scalar_of(metric, Window::Cumulative, Some((1, v)), tags))
    };
    for s in &report.suites {
        let suite = || vec![tag("suite", s.suite.as_str())];
        for (kpi_name, metric) in [
            (kpi::WER, Metric::WordErrorRate),
            (kpi::MAP, Metric::DetectionMap),
            (kpi::NAVIGATION_SUCCESS_RATE, Metric::NavigationSuccessRate),
            (kpi::SUCCESS_RATE, Metric::BenchmarkSuccessRate),
            (kpi::UNDERSTANDING_RATE, Metric::BenchmarkUnderstandingRate),
        ] {
            metrics.extend(one(metric, s.kpi_value(kpi_name), suite()));
        }
        let passed = if s.passed { 1.0 } else { 0.0 };
        metrics.extend(one(Metric::BenchmarkPassed, Some(passed), suite()));
    }
    for d in degradations {
        let tags = vec![
            tag("suite", d.suite.as_str()),
            tag("figure", &d.metric),
            tag("kind", &format!("{:?}", d.kind).to_lowercase()),
        ];
        metrics.extend(one(DEGRADATION_METRIC, Some(1.0), tags));
    }
    if degradations.is_empty() {
        metrics.extend(one(DEGRADATION_METRIC, Some(0.0), vec![]));
    }
    MetricArray {
        header: Header {
            stamp,
            frame_id: String::new(),
        },
        robot_id: robot_id.into(),
        metrics,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn compare_codes_are_the_kpi_message_constants() {
        use crate::core::bench::Compare;
        use crate::msg::Kpi;
        assert_eq!(Compare::None.code(), Kpi::COMPARE_NONE);
        assert_eq!(Compare::AtMost.code(), Kpi::COMPARE_AT_MOST);
        assert_eq!(Compare::AtLeast.code(), Kpi::COMPARE_AT_LEAST);
    }

    use super::*;
    use crate::config::scenario::Suite;
    use crate::core::bench::trend::DegradationKind;

    fn report() -> BenchReport {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bench/run_record.json"
        ))
        .unwrap();
        let record: crate::core::bench::RunRecord = serde_json::from_str(&text).unwrap();
        let scenario = crate::config::load_scenario(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/bench/scenario.yaml"
        ))
        .unwrap();
        crate::core::bench::score(&record, &scenario.expectations())
    }

    #[test]
    fn every_suite_becomes_a_result_with_its_counts_latencies_and_kpis() {
        let report = report();
        for suite in &report.suites {
            let msg = suite_result(
                &report.run_id,
                &report.meta.scenario,
                suite,
                "r1",
                "/x/report.json",
                Time::default(),
            );
            assert_eq!(msg.suite, suite.suite.as_str());
            assert_eq!(u64::from(msg.commands_sent), suite.commands_sent);
            assert_eq!(msg.latencies.len(), suite.latencies.len());
            assert_eq!(msg.kpis.len(), suite.kpis.len());
            assert_eq!(msg.passed, suite.passed);
            for (k, f) in msg.kpis.iter().zip(&suite.kpis) {
                assert_eq!(k.compare, f.compare.code());
                assert_eq!(k.passed, f.passed.unwrap_or(true));
            }
        }
    }

    #[test]
    fn degradations_are_published_one_per_figure_and_a_zero_when_there_are_none() {
        let report = report();
        let none = metric_array(&report, &[], "r1", Time::default());
        let zero: Vec<_> = none
            .metrics
            .iter()
            .filter(|m| m.name == DEGRADATION_METRIC.name())
            .collect();
        assert_eq!(zero.len(), 1);
        assert_eq!(zero[0].mean, 0.0);
        let d = Degradation {
            suite: Suite::EndToEnd,
            metric: "p95_end_to_end".into(),
            value: 9.0,
            kind: DegradationKind::Trend,
            reason: "drift".into(),
            limit: None,
            predicted: Some(7.0),
        };
        let some = metric_array(&report, &[d], "r1", Time::default());
        let ones: Vec<_> = some
            .metrics
            .iter()
            .filter(|m| m.name == DEGRADATION_METRIC.name())
            .collect();
        assert_eq!(ones.len(), 1);
        assert_eq!(ones[0].mean, 1.0);
        let tags: Vec<(&str, &str)> = ones[0]
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.value.as_str()))
            .collect();
        assert_eq!(
            tags,
            vec![
                ("suite", "end_to_end"),
                ("figure", "p95_end_to_end"),
                ("kind", "trend")
            ]
        );
        // The alert node reads them as any other metric.
        let obs = crate::alerts::intake::from_metric_array(&some, std::time::Duration::ZERO);
        assert!(obs.iter().any(|o| o.metric == DEGRADATION_METRIC.name()));
    }
}

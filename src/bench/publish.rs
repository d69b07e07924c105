//! A scored run as ROS 2 messages: one `BenchmarkResult` per suite, and a `MetricArray` of
//! its headline figures and degradations on the collector's metrics topic, so the alert
//! node's rules see them (`word_error_rate`, `detection_map`, `navigation_success_rate`,
//! `benchmark_degradation`).

use crate::collector::pipeline::{scalar_msg, summary_msg};
use crate::core::bench::score::{kpi, SuiteReport};
use crate::core::bench::trend::Degradation;
use crate::core::bench::BenchReport;
use crate::core::stats::Window;
use crate::msg::builtin_interfaces::Time;
use crate::msg::diagnostic_msgs::KeyValue;
use crate::msg::std_msgs::Header;
use crate::msg::{BenchmarkResult, Kpi, MetricArray, MetricSummary};

/// Metric name of a degradation found by the continuous mode (1 per degraded figure;
/// one 0 with no tags when nothing degraded, so an alert on it resolves).
pub const DEGRADATION_METRIC: &str = "benchmark_degradation";

fn tag(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: value.into(),
    }
}

fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The `BenchmarkResult` of one suite.
pub fn suite_result(
    report: &BenchReport,
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
        run_id: report.run_id.clone(),
        suite: suite.suite.as_str().into(),
        scenario: report.meta.scenario.clone(),
        commands_sent: count(suite.commands_sent),
        commands_succeeded: count(suite.commands_succeeded),
        commands_failed: count(suite.commands_failed),
        commands_timed_out: count(suite.commands_timed_out),
        duration: suite.duration,
        throughput: suite.throughput.unwrap_or(f64::NAN),
        latencies: suite
            .latencies
            .iter()
            .map(|l| summary_msg(&l.name, "s", Window::Cumulative, l.summary, vec![]))
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
    let one = |name: &str, unit: &str, value: Option<f64>, tags: Vec<KeyValue>| {
        value
            .filter(|v| v.is_finite())
            .map(|v| scalar_msg(name, unit, Window::Cumulative, Some((1, v)), tags))
    };
    for s in &report.suites {
        let suite = || vec![tag("suite", s.suite.as_str())];
        for (kpi_name, metric, unit) in [
            (kpi::WER, "word_error_rate", "1"),
            (kpi::MAP, "detection_map", "1"),
            (kpi::NAVIGATION_SUCCESS_RATE, "navigation_success_rate", "1"),
            (kpi::SUCCESS_RATE, "benchmark_success_rate", "1"),
            (kpi::UNDERSTANDING_RATE, "benchmark_understanding_rate", "1"),
        ] {
            metrics.extend(one(metric, unit, s.kpi_value(kpi_name), suite()));
        }
        let passed = if s.passed { 1.0 } else { 0.0 };
        metrics.extend(one("benchmark_passed", "1", Some(passed), suite()));
    }
    for d in degradations {
        let tags = vec![
            tag("suite", d.suite.as_str()),
            tag("figure", &d.metric),
            tag("kind", &format!("{:?}", d.kind).to_lowercase()),
        ];
        metrics.extend(one(DEGRADATION_METRIC, "count", Some(1.0), tags));
    }
    if degradations.is_empty() {
        metrics.extend(one(DEGRADATION_METRIC, "count", Some(0.0), vec![]));
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

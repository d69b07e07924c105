//! What the collector publishes, as the metric names alert rules use (the catalogue,
//! [`crate::core::metric`]).
//!
//! - `<ns>/metrics` and `<ns>/topic_health` ([`MetricArray`]): every summary under its own
//!   name (`stage_latency{stage}`, `end_to_end_latency`, `slo_compliance`,
//!   `task_success_rate`, `understanding_rate`, `action_success_rate{topic}`,
//!   `command_rate`, `topic_rate{topic}`, `topic_age{topic}`, and anything else a
//!   publisher adds), plus the aliases `response_time` (= end-to-end latency),
//!   `success_rate` (= task success rate), `throughput` (= command rate, per minute),
//!   `asr_confidence{stage}` (= stage confidence), and `timeout_rate` / `error_rate`
//!   derived from the `commands{outcome}` counts.
//! - `<ns>/resources` ([`ResourceUsage`]): `cpu_usage` (percent), `memory_usage`
//!   (percent), and per GPU (`gpu` tag = NVML index) `gpu_utilization` (percent),
//!   `gpu_memory_usage` (0..1) and `gpu_temperature` (°C).
//!
//! The collector publishes each latency series once per window (cumulative and every
//! sliding window); the shortest sliding window is taken, as the most recent behaviour,
//! and the cumulative one only when there is nothing else. Summaries without samples
//! (`count == 0`) and non-finite values carry no observation. Every series is tagged with
//! the message's `robot_id`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::core::alert::{Labels, Observation, Stats};
use crate::core::metric::{self, Metric, Surface};
use crate::core::timeline::Outcome;
use crate::msg::{MetricArray, MetricSummary, ResourceUsage};

/// Whether metric `name` is one vla_perf's benchmark node publishes (not the collector).
pub fn from_the_benchmark(name: &str) -> bool {
    Metric::parse(name).is_some_and(|m| m.spec().surface == Surface::Benchmark)
}

/// Whether this module produces metric `name` (or alias) from the collector's topics;
/// other names in rules only match if another publisher sends them in a `MetricArray`.
pub fn produced(name: &str) -> bool {
    metric::lookup(name).is_some_and(|n| n.metric.spec().surface != Surface::Benchmark)
}

/// Tags that describe a value rather than identify a series (`slo_compliance{met}` flips
/// with the value); they are dropped so the series, and its alert, stay one.
const VALUE_TAGS: &[(Metric, &str)] = &[(Metric::SloCompliance, "met")];

/// The observations in one metric batch received at `at`.
pub fn from_metric_array(array: &MetricArray, at: Duration) -> Vec<Observation> {
    let mut out = Vec::new();
    let mut outcomes: BTreeMap<String, f64> = BTreeMap::new();
    let mut robot_tags: Labels = Labels::new();
    for ((name, tags), (_, summary)) in shortest_windows(array) {
        let stats = stats_of(summary);
        let metric = Metric::parse(&name);
        if metric == Some(Metric::Commands) {
            if let Some(outcome) = summary.tags.iter().find(|kv| kv.key == "outcome") {
                outcomes.insert(outcome.value.clone(), summary.mean);
                robot_tags = tags
                    .iter()
                    .filter(|(k, _)| k.as_str() != "outcome")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
            }
        }
        for alias in metric.map_or(&[][..], |m| m.spec().aliases) {
            push(
                &mut out,
                alias.name,
                tags.clone(),
                at,
                scaled(stats, alias.scale),
            );
        }
        push(&mut out, &name, tags, at, stats);
    }
    outcome_rates(&mut out, &outcomes, robot_tags, at);
    out
}

/// The summaries of a batch that carry data, one per series: (name, tags without value
/// tags, with the robot id) -> (window, summary), keeping the shortest sliding window.
fn shortest_windows(array: &MetricArray) -> BTreeMap<(String, Labels), (f64, &MetricSummary)> {
    let mut chosen: BTreeMap<(String, Labels), (f64, &MetricSummary)> = BTreeMap::new();
    for summary in &array.metrics {
        if summary.count == 0 || !summary.window.is_finite() || summary.window < 0.0 {
            continue;
        }
        let mut tags: Labels = summary
            .tags
            .iter()
            .filter(|kv| {
                !VALUE_TAGS
                    .iter()
                    .any(|(metric, tag)| metric.name() == summary.name && *tag == kv.key)
            })
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect();
        if !array.robot_id.is_empty() {
            tags.insert("robot_id".to_owned(), array.robot_id.clone());
        }
        let better = |old: f64| match (old > 0.0, summary.window > 0.0) {
            (true, true) => summary.window < old,
            (false, true) => true,
            (_, false) => false,
        };
        match chosen.entry((summary.name.clone(), tags)) {
            std::collections::btree_map::Entry::Vacant(slot) => {
                slot.insert((summary.window, summary));
            }
            std::collections::btree_map::Entry::Occupied(mut slot) => {
                if better(slot.get().0) {
                    slot.insert((summary.window, summary));
                }
            }
        }
    }
    chosen
}

/// The timeout and error rates: the shares of timed-out and failed commands among the
/// counts per outcome, when there are any.
fn outcome_rates(
    out: &mut Vec<Observation>,
    outcomes: &BTreeMap<String, f64>,
    robot_tags: Labels,
    at: Duration,
) {
    let total: f64 = outcomes.values().sum();
    if total > 0.0 && total.is_finite() {
        let share = |outcome: &str| outcomes.get(outcome).copied().unwrap_or(0.0) / total;
        push(
            out,
            Metric::TimeoutRate.name(),
            robot_tags.clone(),
            at,
            Stats::scalar(share(Outcome::TimedOut.as_str())),
        );
        push(
            out,
            Metric::ErrorRate.name(),
            robot_tags,
            at,
            Stats::scalar(share(Outcome::Failed.as_str())),
        );
    }
}

/// The observations in one resource sample received at `at`.
pub fn from_resources(usage: &ResourceUsage, at: Duration) -> Vec<Observation> {
    let mut robot = Labels::new();
    if !usage.robot_id.is_empty() {
        robot.insert("robot_id".to_owned(), usage.robot_id.clone());
    }
    let mut out = Vec::new();
    let scalar = |out: &mut Vec<Observation>, name: &str, tags: &Labels, v: f64| {
        push(out, name, tags.clone(), at, Stats::scalar(v));
    };
    scalar(&mut out, Metric::CpuUsage.name(), &robot, usage.cpu_percent);
    if usage.memory_total_bytes > 0 {
        let percent = usage.memory_used_bytes as f64 / usage.memory_total_bytes as f64 * 100.0;
        scalar(&mut out, Metric::MemoryUsage.name(), &robot, percent);
    }
    for gpu in &usage.gpus {
        let mut tags = robot.clone();
        tags.insert("gpu".to_owned(), gpu.index.to_string());
        scalar(
            &mut out,
            Metric::GpuUtilization.name(),
            &tags,
            gpu.utilization_percent,
        );
        scalar(
            &mut out,
            Metric::GpuTemperature.name(),
            &tags,
            gpu.temperature_celsius,
        );
        if gpu.memory_total_bytes > 0 {
            let ratio = gpu.memory_used_bytes as f64 / gpu.memory_total_bytes as f64;
            scalar(&mut out, Metric::GpuMemoryUsage.name(), &tags, ratio);
        }
    }
    out
}

fn push(out: &mut Vec<Observation>, name: &str, tags: Labels, at: Duration, stats: Stats) {
    if stats.is_finite() {
        out.push(Observation {
            metric: name.to_owned(),
            tags,
            at,
            stats,
        });
    }
}

fn stats_of(s: &MetricSummary) -> Stats {
    Stats {
        mean: s.mean,
        min: s.min,
        max: s.max,
        p50: s.p50,
        p90: s.p90,
        p95: s.p95,
        p99: s.p99,
    }
}

fn scaled(s: Stats, k: f64) -> Stats {
    Stats {
        mean: s.mean * k,
        min: s.min * k,
        max: s.max * k,
        p50: s.p50 * k,
        p90: s.p90 * k,
        p95: s.p95 * k,
        p99: s.p99 * k,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::diagnostic_msgs::KeyValue;
    use crate::msg::GpuUsage;

    fn summary(
        name: &str,
        window: f64,
        count: u64,
        value: f64,
        tags: &[(&str, &str)],
    ) -> MetricSummary {
        MetricSummary {
            name: name.into(),
            unit: "s".into(),
            window,
            count,
            mean: value,
            stddev: 0.0,
            min: value / 2.0,
            max: value * 2.0,
            p50: value,
            p90: value,
            p95: value * 1.5,
            p99: value * 1.9,
            p999: value * 2.0,
            tags: tags
                .iter()
                .map(|(k, v)| KeyValue {
                    key: (*k).into(),
                    value: (*v).into(),
                })
                .collect(),
        }
    }

    fn array(metrics: Vec<MetricSummary>) -> MetricArray {
        MetricArray {
            robot_id: "r1".into(),
            metrics,
            ..MetricArray::default()
        }
    }

    fn find<'a>(obs: &'a [Observation], name: &str) -> Vec<&'a Observation> {
        obs.iter().filter(|o| o.metric == name).collect()
    }

    #[test]
    fn the_shortest_sliding_window_of_a_series_is_taken() {
        let obs = from_metric_array(
            &array(vec![
                summary("stage_latency", 0.0, 100, 9.0, &[("stage", "plan")]),
                summary("stage_latency", 60.0, 10, 5.0, &[("stage", "plan")]),
                summary("stage_latency", 10.0, 3, 2.0, &[("stage", "plan")]),
                summary("stage_latency", 10.0, 0, f64::NAN, &[("stage", "vision")]),
            ]),
            Duration::from_secs(7),
        );
        let latency = find(&obs, "stage_latency");
        assert_eq!(
            latency.len(),
            1,
            "no observation for a series without samples"
        );
        assert_eq!(latency[0].stats.mean, 2.0);
        assert_eq!(latency[0].stats.p95, 3.0);
        assert_eq!(latency[0].at, Duration::from_secs(7));
        assert_eq!(
            latency[0].tags.get("stage").map(String::as_str),
            Some("plan")
        );
        assert_eq!(
            latency[0].tags.get("robot_id").map(String::as_str),
            Some("r1")
        );
    }

    #[test]
    fn cumulative_only_series_and_aliases_are_published_under_both_names() {
        let obs = from_metric_array(
            &array(vec![
                summary("end_to_end_latency", 10.0, 5, 3.0, &[]),
                summary("task_success_rate", 0.0, 20, 0.75, &[]),
                summary("command_rate", 10.0, 1, 0.5, &[]),
                summary("slo_compliance", 10.0, 5, 0.9, &[("met", "false")]),
            ]),
            Duration::ZERO,
        );
        assert_eq!(find(&obs, "response_time")[0].stats.mean, 3.0);
        assert_eq!(find(&obs, "end_to_end_latency")[0].stats.mean, 3.0);
        assert_eq!(find(&obs, "success_rate")[0].stats.mean, 0.75);
        assert_eq!(find(&obs, "throughput")[0].stats.mean, 30.0, "per minute");
        let slo = find(&obs, "slo_compliance");
        assert!(!slo[0].tags.contains_key("met"), "met describes the value");
    }

    #[test]
    fn timeout_and_error_rates_come_from_the_outcome_counts() {
        let count = |outcome, n| summary("commands", 0.0, 1, n, &[("outcome", outcome)]);
        let obs = from_metric_array(
            &array(vec![
                count("succeeded", 6.0),
                count("failed", 2.0),
                count("timed_out", 1.0),
                count("abandoned", 1.0),
            ]),
            Duration::ZERO,
        );
        assert_eq!(find(&obs, "timeout_rate")[0].stats.mean, 0.1);
        assert_eq!(find(&obs, "error_rate")[0].stats.mean, 0.2);
        let none = from_metric_array(&array(vec![count("succeeded", 0.0)]), Duration::ZERO);
        assert!(find(&none, "error_rate").is_empty(), "no commands, no rate");
    }

    #[test]
    fn resources_become_cpu_memory_and_per_gpu_metrics() {
        let usage = ResourceUsage {
            robot_id: "r1".into(),
            cpu_percent: 42.0,
            memory_used_bytes: 3,
            memory_total_bytes: 4,
            gpus: vec![GpuUsage {
                index: 1,
                utilization_percent: 90.0,
                memory_used_bytes: 1,
                memory_total_bytes: 4,
                temperature_celsius: f64::NAN,
                ..GpuUsage::default()
            }],
            ..ResourceUsage::default()
        };
        let obs = from_resources(&usage, Duration::ZERO);
        assert_eq!(find(&obs, "cpu_usage")[0].stats.mean, 42.0);
        assert_eq!(find(&obs, "memory_usage")[0].stats.mean, 75.0);
        let gpu = find(&obs, "gpu_memory_usage");
        assert_eq!(gpu[0].stats.mean, 0.25);
        assert_eq!(gpu[0].tags.get("gpu").map(String::as_str), Some("1"));
        assert!(
            find(&obs, "gpu_temperature").is_empty(),
            "NaN is unreadable, not data"
        );
    }

    #[test]
    fn the_collector_s_metrics_are_produced_and_the_benchmark_s_are_not() {
        assert!(produced("stage_latency") && produced("response_time"));
        assert!(!produced("word_error_rate") && !produced("made_up"));
    }
}
